// httpd: a static HTTP/1.1 server over Tessera's network stack, serving the files embedded from www/.
//
// One thread runs an event loop: it polls the listener and every connection for readiness, accepts,
// reads and answers requests, and writes responses as the send buffers drain (Connection.swift).
// Connections beyond the limit get "503 Service Unavailable" and are closed at once: a clean refusal
// instead of a silent stall. A connection idle for 30 seconds is closed.
//
// The network is configured by DHCP (QEMU user networking hands out 10.0.2.15), or statically with
// `tessera run -e ip=10.77.0.2/24 -e gateway=10.77.0.1` (e.g. on a tap device).

import Clock
import EmbeddedFiles
import HTTP
import Kernel

import NetInterface
import NetStack
import NetTCP
import NetWire

struct HTTPServer: Application {
    static let idleTimeout: UInt64 = 30_000_000_000

    static func main(arguments: [String]) -> Int32 {
        var log = true
        var maximumConnections = 128
        var port: UInt16 = 80
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch argument {
            case "--quiet": log = false
            case "--max-connections": maximumConnections = max(Int(value) ?? 0, 1); index += 1
            case "--port": port = UInt16(value) ?? port; index += 1
            default:
                print("httpd: unknown argument '\(argument)' (use --quiet, --max-connections N, --port N)")
                return 2
            }
            index += 1
        }

        var tcp = TCPConfiguration()
        tcp.receiveBufferSize = 8 * 1024
        tcp.sendBufferSize = 32 * 1024
        let network: Network
        do {
            network = try Network.start(.automatic, tcp: tcp)
        } catch {
            print("httpd: no network: \(error)")
            return 1
        }
        let listener: TCPListener
        do {
            listener = try TCPListener.listen(port: port, backlog: 128)
        } catch {
            print("httpd: cannot listen on port \(port): \(error)")
            return 1
        }
        print("httpd: serving \(EmbeddedFiles.count) files on \(network.configuration.address):\(port), at most \(maximumConnections) connections")

        var connections: [Connection] = []
        var entries: [PollEntry] = []
        var scratch = [UInt8](repeating: 0, count: 8 * 1024)
        var refused = 0
        while true {
            entries.removeAll(keepingCapacity: true)
            entries.append(PollEntry(.listener(port: port)))
            for connection in connections {
                let interest: TCPReadiness = connection.outbox.isEmpty ? .readable : .writable
                entries.append(PollEntry(.stream(connection.stream.socket), interest: interest))
            }
            _ = network.poll(&entries, timeout: 1_000_000_000)
            let now = Clock.now()

            if !entries[0].ready.isEmpty {
                while let stream = listener.tryAccept() {
                    let client = stream.remote ?? TCPEndpoint(.unspecified, 0)
                    var connection = Connection(stream: stream, client: client, now: now)
                    if connections.count >= maximumConnections {
                        refused += 1
                        connection.respondWithError(.serviceUnavailable, request: nil, log: log)
                        _ = connection.send()
                        stream.close()
                        continue
                    }
                    connections.append(connection)
                }
            }

            var index = 0
            while index < connections.count {
                var keep = true
                if index + 1 < entries.count, !entries[index + 1].ready.isEmpty || !connections[index].outbox.isEmpty {
                    keep = connections[index].receive(into: &scratch, log: log) && connections[index].send()
                    connections[index].lastActivity = now
                }
                if keep && connections[index].isFinished { keep = false }
                if keep && now - connections[index].lastActivity > idleTimeout { keep = false }
                if keep {
                    index += 1
                } else {
                    connections[index].stream.close()
                    connections.remove(at: index)
                    entries.remove(at: index + 1)
                }
            }
        }
    }
}
