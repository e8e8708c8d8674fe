import Kernel
import Metrics
import MetricsExporter
import NetStack

struct MetricsApp: Application {
    static func main(arguments: [String]) -> Int32 {
        let registry = MetricsExporter<TesseraImage>.registry
        guard let echoed = try? registry.counter("metrics_app_echoed_bytes_total", help: "Bytes the app echoed.") else {
            print("metrics-app: cannot register")
            return 2
        }
        guard let _ = try? Network.start(), let listener = try? TCPListener.listen(port: 7) else {
            print("metrics-app: no network")
            return 2
        }
        print("metrics-app: ready")
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            guard let stream = try? listener.accept() else { continue }
            while true {
                let count = buffer.withUnsafeMutableBytes { (try? stream.read(into: $0)) ?? 0 }
                if count == 0 { break }
                if (try? stream.write(Array(buffer[0..<count]))) == nil { break }
                registry.increment(echoed, by: UInt64(count))
            }
            stream.close()
        }
    }
}
