// httpd: a static HTTP/1.1 server over Tessera's network stack, serving the files embedded from www/.
//
// One thread serves every connection: the network stack's StreamServer polls the listener and the
// connections, and HTTPHandler (HTTPHandler.swift) answers the requests. Connections beyond the limit
// get "503 Service Unavailable" and are closed at once: a clean refusal instead of a silent stall. A
// connection idle for 30 seconds is closed.
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
        var configuration = StreamServerConfiguration(port: port)
        configuration.maximumConnections = maximumConnections
        configuration.maximumInbox = 16 * 1024
        HTTPResponseHead.writeError(.serviceUnavailable, into: &configuration.refusal)
        let server: StreamServer<TesseraImage, HTTPHandler>
        do {
            server = try StreamServer(configuration) { client in HTTPHandler(client: client, log: log) }
        } catch {
            print("httpd: cannot listen on port \(port): \(error)")
            return 1
        }
        print("httpd: serving \(EmbeddedFiles.count) files on \(network.configuration.address):\(port), at most \(maximumConnections) connections")
        server.run()
    }
}
