// MetricsExporter: serves the Prometheus text exposition at /metrics, for any image that selects it.
//
// Selecting the library is all it takes: when the app starts the network (`Network.start`), the
// stack calls the `startMetricsExporter` hook that this library's wiring fragment implements, which
// registers the built-in series (BuiltInSeries.swift) and starts a thread listening on the port of
// the `metrics.port` kernel parameter (default 9100; set it in the manifest's `parameters:` or with
// `tessera run -e metrics.port=N`). Apps add their own series to `MetricsExporter.registry`.
//
// The server is the network stack's StreamServer in a thread of its own, with a handler that parses
// one request with the http library and answers GET or HEAD of /metrics with the scrape, anything else
// with the parser's error status or 404, closing the connection after each response. A client that
// sends nothing for 5 seconds is dropped, and at most 8 are served at once.

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
        var configuration = StreamServerConfiguration(port: port)
        configuration.backlog = 8
        configuration.maximumConnections = 8
        configuration.idleTimeout = 5_000_000_000
        configuration.requestTimeout = 5_000_000_000
        configuration.evictIdleAfter = 1_000_000_000
        configuration.maximumInbox = 8 * 1024
        let server: StreamServer<I, ScrapeHandler>
        do throws(SocketError) {
            server = try StreamServer(configuration) { _ in ScrapeHandler() }
        } catch {
            print("metrics: cannot listen on port \(port): \(error)")
            return
        }
        guard Thread<I>.spawn(name: "metrics", { server.run() }) != nil else {
            print("metrics: no thread for the exporter")
            return
        }
        print("metrics: serving /metrics on port \(port)")
    }
}

/// One scrape per connection: the request parsed by the http library, the answer, then close.
struct ScrapeHandler: StreamHandler {
    nonisolated(unsafe) static var lastPageSize = 0
    static let parser = HTTPRequestParser(limits: HTTPLimits(maxTargetLength: 1024, maxHeaderSectionLength: 8192,
                                                             maxHeaderFields: 64, maxBodyLength: 0))

    mutating func received(_ inbox: inout [UInt8], outbox: inout Outbox, now: UInt64) -> Bool {
        switch Self.parser.parse(inbox) {
        case .needMore:
            return false
        case .error(let error):
            HTTPResponseHead.writeError(error.status, into: &outbox.pending)
        case .request(let request, _):
            respond(to: request, into: &outbox.pending)
        }
        return true
    }

    mutating func inboxOverflow(outbox: inout Outbox) {
        HTTPResponseHead.writeError(.requestHeaderFieldsTooLarge, into: &outbox.pending)
    }

    func respond(to request: HTTPRequest, into page: inout [UInt8]) {
        guard request.path == Array("/metrics".utf8) else {
            HTTPResponseHead.writeError(.notFound, includeBody: request.method == .get, into: &page)
            return
        }
        // The page is built in memory: only when the image can spare twice the last page's size (the
        // body, the response that copies it, and growth), else 503 — a scrape never panics the image.
        let estimate = max(Self.lastPageSize, 16 * 1024) * 3
        guard SystemMemory.available >= estimate + 32 * 1024 else {
            HTTPResponseHead.writeError(.serviceUnavailable, includeBody: request.method == .get, into: &page)
            return
        }
        var body: [UInt8] = []
        body.reserveCapacity(max(Self.lastPageSize + Self.lastPageSize / 4, 16 * 1024))
        sharedRegistry.scrape(into: &body)
        Self.lastPageSize = body.count
        var head: [UInt8] = []
        HTTPResponseHead(status: .ok, contentLength: body.count, contentType: .prometheusText, keepAlive: false)
            .write(into: &head)
        page += head
        if request.method == .get { page += body }
    }
}

nonisolated(unsafe) var started = false
nonisolated(unsafe) let sharedRegistry = MetricsRegistry()
