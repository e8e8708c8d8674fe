// Resolver: DNS A-record lookups over UDP for apps (RFC 1035 4.2.1), built on the dns-client codec.
//
// `resolve(name)` sends an A query from a fresh ephemeral UDP port to each DNS server in turn and
// waits for the matching answer; it retries up to three rounds, doubling each round's wait (1 s,
// 2 s, 4 s by default, never beyond the caller's timeout). Answers are checked by the codec (ID,
// QR bit, bounds, compression loops); a datagram from elsewhere or for another ID is ignored, so
// off-path spoofing has to guess a random 16-bit ID and the random source port. The servers are
// the `dns=` kernel parameter (`A.B.C.D` or `A.B.C.D:PORT`, repeatable as a comma list), else the
// DHCP lease's. Answers are not cached, and there is no TCP fallback for truncated answers.

import BootArguments
import Clock
import DNSClient
import Kernel
import NetInterface
import NetTCP
import NetWire

public enum ResolveError: Error, Equatable {
    /// No DNS server: none in the DHCP lease and no `dns=` kernel parameter.
    case noServer
    case invalidName
    /// The name does not exist (NXDOMAIN).
    case notFound
    /// The server answered with an error, a malformed or truncated message.
    case serverFailure
    /// No answer in time.
    case timedOut
}

extension NetworkStack {
    /// Where queries go: the `dns=` kernel parameter, else the DHCP lease's servers (port 53).
    public var dnsServers: [TCPEndpoint] {
        if let text = kernelParameters.kernelValue("dns") {
            return text.split(separator: ",").compactMap { item -> TCPEndpoint? in
                let parts = item.split(separator: ":")
                guard let address = IPv4Address(String(parts[0])) else { return nil }
                let port = parts.count > 1 ? UInt16(String(parts[1])) ?? DNSMessage.port : DNSMessage.port
                return TCPEndpoint(address, port)
            }
        }
        return lock.withLock { lease?.dnsServers.map { TCPEndpoint($0, DNSMessage.port) } ?? [] }
    }

    /// The IPv4 addresses of `name`, waiting up to `timeout` nanoseconds in all.
    public func resolve(_ name: String, timeout: UInt64 = 7_000_000_000) throws(ResolveError) -> [IPv4Address] {
        let servers = dnsServers
        guard !servers.isEmpty else { throw .noServer }
        let id = UInt16.random(in: .min ... .max)
        let query: [UInt8]
        do throws(DNSError) {
            query = try DNSMessage.query(id: id, name: name)
        } catch {
            throw .invalidName
        }
        let end = Clock.now() + timeout
        let outcome = lock.withLock { () -> Result<[IPv4Address], ResolveError> in
            var port: UInt16 = 0
            for _ in 0..<64 {
                let candidate = UInt16.random(in: 49152...65535)
                if interface.bindUDP(port: candidate) { port = candidate; break }
            }
            guard port != 0 else { return .failure(.serverFailure) }
            defer { interface.unbindUDP(port: port) }
            var wait: UInt64 = 1_000_000_000
            for _ in 0..<3 {
                for server in servers {
                    let now = Clock.now()
                    guard now < end else { return .failure(.timedOut) }
                    _ = query.withUnsafeBytes {
                        interface.sendUDP(from: port, to: server.address, port: server.port, payload: $0, now: now)
                    }
                    var result: Result<[IPv4Address], ResolveError>? = nil
                    _ = waitLocked(deadline: min(now + wait, end)) {
                        while result == nil, let datagram = interface.receiveUDP(port: port) {
                            guard datagram.source == server.address && datagram.sourcePort == server.port else { continue }
                            result = datagram.payload.withUnsafeBytes { bytes -> Result<[IPv4Address], ResolveError>? in
                                do throws(DNSError) {
                                    return .success(try DNSMessage.parseResponse(bytes, id: id).addresses)
                                } catch {
                                    switch error {
                                    case .notOurs: return nil
                                    case .nameError: return .failure(.notFound)
                                    default: return .failure(.serverFailure)
                                    }
                                }
                            }
                        }
                        return result != nil
                    }
                    if let result { return result }
                }
                wait *= 2
            }
            return .failure(.timedOut)
        }
        return try outcome.get()
    }
}

extension ResolveError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .noServer: return "noServer"
        case .invalidName: return "invalidName"
        case .notFound: return "notFound"
        case .serverFailure: return "serverFailure"
        case .timedOut: return "timedOut"
        }
    }
}
