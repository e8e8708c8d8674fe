// httpd: a static HTTP/1.1 server over Tessera's network stack, serving the file tree's /www: the
// image's own files (rootfs/www, packed into the root file system at build time), or whatever is
// mounted there (a host folder: `-v ./site:/www`); `--root PATH` serves another folder.
//
// One thread serves every connection: the network stack's StreamServer polls the listener and the
// connections, and HTTPHandler (HTTPHandler.swift) answers the requests. Connections beyond the limit
// first evict the connection idle longest (idle at least a second), and otherwise get "503 Service
// Unavailable": slow or idle clients cannot lock real ones out. A request whose head is not complete
// 20 seconds after its first byte gets "408 Request Timeout" (nginx's client_header_timeout), a
// keep-alive connection idle for 30 seconds is closed, and TCP buffers and inboxes are allocated as
// bytes arrive, so a thousand slow clients cost little memory (docs/network.md, "Servers under load").
//
// The network is configured by DHCP (QEMU user networking hands out 10.0.2.15), or statically with
// `tessera run -e ip=10.77.0.2/24 -e gateway=10.77.0.1` (e.g. on a tap device).

import AllocatorAPI
import Clock
import Files
import HTTP
import Kernel
import NetInterface
import NetStack
import NetTCP
import NetWire

struct HTTPServer: Application {
    static func main(arguments: [String]) -> Int32 {
        var log = true
        var maximumConnections = 1024
        var headerTimeout: UInt64 = 20
        var idleTimeout: UInt64 = 30
        var reportSeconds: UInt64 = 0
        var port: UInt16 = 80
        var root = "/www"
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch argument {
            case "--quiet": log = false
            case "--max-connections": maximumConnections = max(Int(value) ?? 0, 1); index += 1
            case "--port": port = UInt16(value) ?? port; index += 1
            case "--header-timeout": headerTimeout = max(UInt64(value) ?? headerTimeout, 1); index += 1
            case "--idle-timeout": idleTimeout = max(UInt64(value) ?? idleTimeout, 1); index += 1
            case "--report": reportSeconds = UInt64(value) ?? 0; index += 1
            case "--root": root = value.hasSuffix("/") && value.count > 1 ? String(value.dropLast()) : value; index += 1
            default:
                print("httpd: unknown argument '\(argument)' (use --quiet, --max-connections N, --port N, --header-timeout S, --idle-timeout S, --report S, --root PATH)")
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
        configuration.requestTimeout = headerTimeout * 1_000_000_000
        configuration.idleTimeout = idleTimeout * 1_000_000_000
        configuration.evictIdleAfter = 1_000_000_000
        HTTPResponseHead.writeError(.serviceUnavailable, into: &configuration.refusal)
        let server: StreamServer<TesseraImage, HTTPHandler>
        do {
            server = try StreamServer(configuration) { client in HTTPHandler(client: client, log: log, root: Array(root.utf8)) }
        } catch {
            print("httpd: cannot listen on port \(port): \(error)")
            return 1
        }
        guard (try? Files.root.status(root))?.isDirectory == true else {
            print("httpd: " + root + " is not a folder (put the site in the image's rootfs" + root
                  + " or share one with tessera run -v HOST_DIR:" + root + ")")
            return 2
        }
        print("httpd: serving the files under \(root) on \(network.configuration.address):\(port), at most \(maximumConnections) connections")
        var nextReport = Clock.now() + reportSeconds * 1_000_000_000
        server.run { now in
            guard reportSeconds > 0, now >= nextReport else { return }
            nextReport = now + reportSeconds * 1_000_000_000
            print("httpd: report: \(server.report())")
        }
    }
}
