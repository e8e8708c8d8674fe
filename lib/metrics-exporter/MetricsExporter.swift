// MetricsExporter: serves the Prometheus text exposition at /metrics, for any image that selects it.
//
// Selecting the library is all it takes: when the app starts the network (`Network.start`), the
// stack calls the `startMetricsExporter` hook that this library's wiring fragment implements, which
// registers the built-in series (BuiltInSeries.swift) and starts a thread listening on the port of
// the `metrics.port` kernel parameter (default 9100; set it in the manifest's `parameters:` or with
// `tessera run -e metrics.port=N`). Apps add their own series to `MetricsExporter.registry`.
//
// The server is deliberately small: one connection at a time (Prometheus scrapes serially), requests
// parsed by the http library, GET or HEAD of /metrics answered with the scrape, anything else with
// the parser's error status or 404, and the connection closed after each response. A client that
// sends nothing for 5 seconds is dropped, so a stuck scraper cannot block the next one.

import BootArguments
import HTTP
import Kernel
import Metrics
import NetStack
import NetTCP
import Threads

public enum MetricsExporter<I: NetworkedImage> {
    public static var defaultPort: UInt16 { 9100 }

    /// The registry the exporter serves; apps register their own series here.
    public static var registry: MetricsRegistry { sharedRegistry }

    /// Registers the built-in series and starts the serving thread; called by the wiring's hook.
    public static func start() {
        guard !started else { return }
        started = true
        var port = defaultPort
        if let text = kernelParameters.kernelValue("metrics.port") {
            guard let parsed = UInt16(text), parsed != 0 else {
                print("metrics: bad metrics.port=\(text); not serving")
                return
            }
            port = parsed
        }
        do throws(MetricsError) {
            try BuiltInSeries<I>.register(in: sharedRegistry)
        } catch {
            print("metrics: cannot register the built-in series: \(error.message)")
            return
        }
        let listener: TCPListener<I>
        do throws(SocketError) {
            listener = try TCPListener<I>.listen(port: port, backlog: 8)
        } catch {
            print("metrics: cannot listen on port \(port): \(error)")
            return
        }
        guard Thread<I>.spawn(name: "metrics", { serve(listener) }) != nil else {
            print("metrics: no thread for the exporter")
            return
        }
        print("metrics: serving /metrics on port \(port)")
    }

    static func serve(_ listener: TCPListener<I>) {
        var request: [UInt8] = []
        var page: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 2048)
        let parser = HTTPRequestParser(limits: HTTPLimits(maxTargetLength: 1024, maxHeaderSectionLength: 8192,
                                                          maxHeaderFields: 64, maxBodyLength: 0))
        while true {
            guard let stream = try? listener.accept() else { continue }
            request.removeAll(keepingCapacity: true)
            page.removeAll(keepingCapacity: true)
            var answered = false
            while !answered {
                let count = scratch.withUnsafeMutableBytes { (try? stream.read(into: $0, timeout: 5_000_000_000)) ?? 0 }
                if count == 0 { break }
                request.append(contentsOf: scratch[0..<count])
                switch parser.parse(request) {
                case .needMore:
                    continue
                case .error(let error):
                    HTTPResponseHead.writeError(error.status, into: &page)
                case .request(let parsed, _):
                    respond(to: parsed, into: &page)
                }
                answered = true
            }
            if answered { try? stream.write(page, timeout: 5_000_000_000) }
            stream.close()
        }
    }

    static func respond(to request: HTTPRequest, into page: inout [UInt8]) {
        guard request.path == Array("/metrics".utf8) else {
            HTTPResponseHead.writeError(.notFound, includeBody: request.method == .get, into: &page)
            return
        }
        var body: [UInt8] = []
        body.reserveCapacity(16 * 1024)
        sharedRegistry.scrape(into: &body)
        var head: [UInt8] = []
        HTTPResponseHead(status: .ok, contentLength: body.count, contentType: .prometheusText, keepAlive: false)
            .write(into: &head)
        page = head
        if request.method == .get { page += body }
    }
}

nonisolated(unsafe) var started = false
nonisolated(unsafe) let sharedRegistry = MetricsRegistry()
