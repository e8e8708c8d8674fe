// The network stack's DNS resolver against a tiny DNS server on the host. QEMU user networking maps
// the guest's 10.0.2.2 to the host's loopback, so `-e dns=10.0.2.2:PORT` reaches a server on
// 127.0.0.1:PORT: the test needs no outside network.

import Foundation
import Glibc
import Testing
import TesseraKit

/// Answers A queries (RFC 1035 4.1): "tessera.test" with two addresses, "missing.test" with
/// NXDOMAIN, "silent.test" never; it first sends a reply with a wrong ID, which must be ignored.
final class HostDNSServer: @unchecked Sendable {
    let socket: Int32
    let port: UInt16
    private var running = true
    private let lock = NSLock()
    private(set) var queries: [String] = []

    init() {
        (socket, port) = boundLoopbackSocket(Int32(SOCK_DGRAM.rawValue))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in serve() }
    }

    func stop() {
        lock.withLock { running = false }
    }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 512)
        while lock.withLock({ running }) {
            var peer = sockaddr_in()
            var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socket, &buffer, buffer.count, 0, $0, &peerLength) }
            }
            guard count > 12 else { continue }
            let query = Array(buffer[0..<count])
            var offset = 12, labels: [String] = []
            while offset < query.count, query[offset] != 0 {
                let length = Int(query[offset])
                guard offset + 1 + length <= query.count else { break }
                labels.append(String(decoding: query[(offset + 1)..<(offset + 1 + length)], as: UTF8.self))
                offset += 1 + length
            }
            let questionEnd = offset + 5
            guard questionEnd <= query.count else { continue }
            let name = labels.joined(separator: ".")
            lock.withLock { queries.append(name) }
            if name == "silent.test" { continue }
            func reply(id: [UInt8], rcode: UInt8, addresses: [[UInt8]]) {
                var message = id + [0x81, 0x80 | rcode, 0, 1, 0, UInt8(addresses.count), 0, 0, 0, 0]
                message += query[12..<questionEnd]
                for address in addresses {
                    message += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + address
                }
                _ = withUnsafePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(socket, message, message.count, 0, $0, peerLength)
                    }
                }
            }
            // A spoofed-looking answer first: another ID, a bogus address.
            reply(id: [query[0] ^ 0xFF, query[1]], rcode: 0, addresses: [[6, 6, 6, 6]])
            if name == "tessera.test" {
                reply(id: Array(query[0..<2]), rcode: 0, addresses: [[192, 0, 2, 7], [192, 0, 2, 8]])
            } else {
                reply(id: Array(query[0..<2]), rcode: 3, addresses: [])
            }
        }
        close(socket)
    }
}

extension ImageSuite {
    @Suite struct ResolverTests {
        @Test func rfc1035_aQueriesResolveThroughTheDNSServerGivenOnTheCommandLine() throws {
            let server = HostDNSServer()
            defer { server.stop() }
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("resolve")),
                                             arguments: ["tessera.test", "missing.test", "silent.test", "bad..name"],
                                             kernelParameters: ["dns=10.0.2.2:\(server.port)"], network: true)
            #expect(boot.lines.contains("resolve: tessera.test -> 192.0.2.7 192.0.2.8"), "\(boot.output)")
            #expect(boot.lines.contains("resolve: missing.test failed: notFound"))
            #expect(boot.lines.contains("resolve: silent.test failed: timedOut"))
            #expect(boot.lines.contains("resolve: bad..name failed: invalidName"))
            #expect(boot.result.exitCode == 3)
            #expect(server.queries.filter { $0 == "silent.test" }.count >= 2, "the resolver retried")
        }
    }
}
