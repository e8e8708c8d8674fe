// The metrics exporter in a booted image: /metrics scraped with curl and checked with Debian's
// promtool, built-in series moving with real traffic, the app's own series, errors for other paths.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite struct MetricsExporterTests {
        @Test func metricsAreServedValidatedByPromtoolAndMoveWithTraffic() throws {
            #expect(hostToolExists("promtool"), "install Debian's prometheus package (promtool)")
            let image = try RunningImage(try ImageHarness.build(ImageHarness.testApp("metrics")), guestPort: 7,
                                         ready: "metrics-app: ready", alsoForward: [9100])
            defer { image.stop() }
            #expect(image.lines.contains("metrics: serving /metrics on port 9100"))
            let url = "http://127.0.0.1:\(image.extraPorts[9100]!)/metrics"
            let first = try runHostTool(["curl", "-sS", "--max-time", "20", url])
            #expect(first.status == 0)
            let check = try runHostTool(["sh", "-c", "curl -sS --max-time 20 \(url) | promtool check metrics"])
            #expect(check.status == 0 && check.output.isEmpty, "promtool: \(check.output)")

            // Traffic: 10 000 bytes echoed over TCP.
            let client = try RawClient(port: image.hostPort)
            client.send([UInt8](repeating: 0x61, count: 10_000))
            #expect(client.receive(limit: 10_000).count == 10_000)
            client.close()
            Thread.sleep(forTimeInterval: 0.3)
            let second = try runHostTool(["curl", "-sS", "--max-time", "20", url])
            func value(_ series: String, in text: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                    .flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(value("metrics_app_echoed_bytes_total", in: second.output) == 10_000)
            let framesBefore = value("tessera_net_frames_total{direction=\"rx\"}", in: first.output) ?? 0
            let framesAfter = value("tessera_net_frames_total{direction=\"rx\"}", in: second.output) ?? 0
            #expect(framesAfter > framesBefore + 5, "frames received grew with the traffic")
            #expect((value("tessera_tcp_segments_total{direction=\"rx\"}", in: second.output) ?? 0) > 5)
            #expect((value("tessera_uptime_seconds", in: second.output) ?? 0) > (value("tessera_uptime_seconds", in: first.output) ?? 0))
            #expect((value("tessera_heap_bytes{state=\"in_use\"}", in: second.output) ?? 0) > 0)
            // A gauge the files library published through the kernel: the root ramfs's bytes.
            let used = value("tessera_filesystem_bytes{state=\"used\"}", in: second.output) ?? 0
            let limit = value("tessera_filesystem_bytes{state=\"limit\"}", in: second.output) ?? 0
            #expect(used > 0 && limit > used, "\(second.output)")
            #expect(second.output.contains("tessera_interrupts_total{vector=\"0xec\"}"), "the timer vector is counted")

            let missing = try runHostTool(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url.replacingOccurrences(of: "/metrics", with: "/other")])
            #expect(missing.output == "404")
            let post = try runHostTool(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "x", url])
            #expect(post.output == "405")
            let head = try runHostTool(["curl", "-sS", "-I", "--max-time", "20", url])
            #expect(head.output.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"))
        }
    }
}
