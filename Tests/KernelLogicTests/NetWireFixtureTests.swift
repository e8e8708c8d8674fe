// NetWire fixtures and the tests that run over all of them.
//
// The fixtures are the frames a Tessera guest (10.0.2.15, MAC 52:54:00:12:34:56) exchanges with QEMU's
// user-mode network (slirp: gateway 10.0.2.2 at 52:55:0a:00:02:02, DNS 10.0.2.3 at 52:55:0a:00:02:03;
// slirp answers ARP for 10.0.2.x with 52:55 followed by the address). They were written byte by byte
// with Python's struct module in the layout Linux and slirp produce, checksums computed by an
// independent RFC 1071 sum, never by NetWire:
//
//     arpRequest       who-has 10.0.2.2 tell 10.0.2.15, broadcast, 42 bytes (virtio adds no padding)
//     arpReply         10.0.2.2 is-at 52:55:0a:00:02:02, zero-padded to 64 bytes as slirp sends it
//     icmpEchoRequest  Linux ping: id 7, seq 1, 56 data bytes (a timeval, then 0x10...0x37), DF, TTL 64
//     icmpEchoReply    slirp's reply: same ICMP data, TTL 255, a new IP identification
//     udpDNSQuery      A? example.com to 10.0.2.3:53, RD set; 29 bytes of DNS, so an odd UDP length
//     tcpSYN           Linux connect to 10.0.2.2:8080: MSS 1460, SACK-permitted, timestamps, NOP,
//                      window scale 7; window 64240
//     tcpSYNACK        slirp's answer: MSS 1460 only, window 65535, no DF
//     tcpData          PSH|ACK carrying "GET /a HTTP/1.0\r\n\r\n" (19 bytes, odd), no options
//
// `parseFrame` walks a frame from Ethernet down to its transport header through the checked views and
// representations; `emitFrame` builds a frame back from the representations. The tests here check, for
// every fixture, that re-emission is byte for byte, that every shorter prefix is rejected, and that
// emitting and parsing again gives the same representations.

import NetWire
import Testing

enum Fixture {
    static let guestMAC = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
    static let gatewayMAC = MACAddress(0x52, 0x55, 0x0a, 0x00, 0x02, 0x02)
    static let dnsMAC = MACAddress(0x52, 0x55, 0x0a, 0x00, 0x02, 0x03)
    static let guestIP = IPv4Address(10, 0, 2, 15)
    static let gatewayIP = IPv4Address(10, 0, 2, 2)
    static let dnsIP = IPv4Address(10, 0, 2, 3)

    /// 42 bytes
    static let arpRequest: [UInt8] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00, 0x01,
        0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x0f,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02,
    ]

    /// 64 bytes
    static let arpReply: [UInt8] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x06, 0x00, 0x01,
        0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00, 0x02, 0x02,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]

    /// 98 bytes
    static let icmpEchoRequest: [UInt8] = [
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x54, 0x3c, 0x5e, 0x40, 0x00, 0x40, 0x01, 0xe6, 0x3a, 0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00,
        0x02, 0x02, 0x08, 0x00, 0x10, 0x43, 0x00, 0x07, 0x00, 0x01, 0x80, 0x99, 0x66, 0x66, 0x00, 0x00,
        0x00, 0x00, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
        0x36, 0x37,
    ]

    /// 98 bytes
    static let icmpEchoReply: [UInt8] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x54, 0x00, 0xc9, 0x40, 0x00, 0xff, 0x01, 0x62, 0xcf, 0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00,
        0x02, 0x0f, 0x00, 0x00, 0x18, 0x43, 0x00, 0x07, 0x00, 0x01, 0x80, 0x99, 0x66, 0x66, 0x00, 0x00,
        0x00, 0x00, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
        0x36, 0x37,
    ]

    /// 71 bytes
    static let udpDNSQuery: [UInt8] = [
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x03, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x39, 0x8a, 0x1f, 0x40, 0x00, 0x40, 0x11, 0x98, 0x83, 0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00,
        0x02, 0x03, 0xb0, 0x0f, 0x00, 0x35, 0x00, 0x25, 0x4d, 0xb5, 0x1a, 0x2b, 0x01, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63,
        0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ]

    /// 74 bytes
    static let tcpSYN: [UInt8] = [
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x3c, 0x9c, 0x3a, 0x40, 0x00, 0x40, 0x06, 0x86, 0x71, 0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00,
        0x02, 0x02, 0xc8, 0x22, 0x1f, 0x90, 0x5b, 0x2c, 0x7d, 0x01, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
        0xfa, 0xf0, 0xab, 0xd1, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x9f, 0x3c,
        0x2a, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ]

    /// 58 bytes
    static let tcpSYNACK: [UInt8] = [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x2c, 0x00, 0x10, 0x00, 0x00, 0x40, 0x06, 0x62, 0xac, 0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00,
        0x02, 0x0f, 0x1f, 0x90, 0xc8, 0x22, 0x00, 0xfa, 0x00, 0x01, 0x5b, 0x2c, 0x7d, 0x02, 0x60, 0x12,
        0xff, 0xff, 0xbf, 0x29, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
    ]

    /// 73 bytes
    static let tcpData: [UInt8] = [
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x00, 0x45, 0x00,
        0x00, 0x3b, 0x9c, 0x3b, 0x40, 0x00, 0x40, 0x06, 0x86, 0x71, 0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00,
        0x02, 0x02, 0xc8, 0x22, 0x1f, 0x90, 0x5b, 0x2c, 0x7d, 0x02, 0x00, 0xfa, 0x00, 0x02, 0x50, 0x18,
        0xfa, 0xf0, 0xd6, 0xff, 0x00, 0x00, 0x47, 0x45, 0x54, 0x20, 0x2f, 0x61, 0x20, 0x48, 0x54, 0x54,
        0x50, 0x2f, 0x31, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a,
    ]

    /// Every fixture with the length of the frame proper (the ARP reply's padding excluded).
    static let all: [(name: String, bytes: [UInt8], length: Int)] = [
        ("arpRequest", arpRequest, 42), ("arpReply", arpReply, 42),
        ("icmpEchoRequest", icmpEchoRequest, 98), ("icmpEchoReply", icmpEchoReply, 98),
        ("udpDNSQuery", udpDNSQuery, 71), ("tcpSYN", tcpSYN, 74), ("tcpSYNACK", tcpSYNACK, 58),
        ("tcpData", tcpData, 73),
    ]

    /// The IPv4 packet inside an IPv4 fixture frame.
    static func ipv4Packet(_ frame: [UInt8]) -> [UInt8] {
        let totalLength = Int(frame[16]) << 8 | Int(frame[17])
        return Array(frame[14..<14 + totalLength])
    }

    /// The ICMP, UDP or TCP message inside an IPv4 fixture frame (the fixtures have no IP options).
    static func transport(_ frame: [UInt8]) -> [UInt8] {
        Array(ipv4Packet(frame).dropFirst(20))
    }
}

// MARK: - Helpers

/// Runs `parse` over `bytes` and returns its value or the error it threw.
func wire<T>(_ bytes: [UInt8], _ parse: (UnsafeRawBufferPointer) throws(WireError) -> T) -> Result<T, WireError> {
    bytes.withUnsafeBytes { buffer in
        do throws(WireError) {
            return .success(try parse(buffer))
        } catch {
            return .failure(error)
        }
    }
}

/// Runs `emit` over a zeroed buffer of `count` bytes and returns the bytes.
func emitted(_ count: Int, _ emit: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { emit($0) }
    return bytes
}

/// `bytes` with `payload` copied in at `offset`, then `emit` run over the whole: how a sender builds
/// a message in place.
func emitted(_ count: Int, payload: [UInt8], at offset: Int,
             _ emit: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.replaceSubrange(offset..<offset + payload.count, with: payload)
    bytes.withUnsafeMutableBytes { emit($0) }
    return bytes
}

/// A frame parsed down to its transport header, with the transport payload copied out.
struct ParsedFrame: Equatable {
    enum Network: Equatable {
        case arp(ARPRepr)
        case ipv4(IPv4Repr, Transport)
    }

    enum Transport: Equatable {
        case icmp(ICMPv4Repr)
        case udp(UDPRepr)
        case tcp(TCPRepr)

        var headerLength: Int {
            switch self {
            case .icmp: return ICMPv4Repr.headerLength
            case .udp: return UDPRepr.headerLength
            case .tcp(let tcp): return tcp.headerLength
            }
        }
    }

    var ethernet: EthernetRepr
    var network: Network
    /// ICMP echo data, UDP or TCP payload; empty for ARP.
    var payload: [UInt8]

    /// The same frame as `emitFrame` writes it: IPv4 options and unknown TCP options dropped, so the
    /// IPv4 payload length is the transport header plus the payload.
    var normalized: ParsedFrame {
        guard case .ipv4(var ip, let transport) = network else { return self }
        ip.payloadLength = transport.headerLength + payload.count
        return ParsedFrame(ethernet: ethernet, network: .ipv4(ip, transport), payload: payload)
    }
}

/// Parses a whole frame through the checked views; fragments and other protocols are `.unsupported`.
func parseFrame(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> ParsedFrame {
    let frame = try EthernetFrame(checking: bytes)
    let ethernet = try EthernetRepr(parsing: frame)
    switch ethernet.etherType {
    case .arp:
        let arp = try ARPRepr(parsing: try ARPPacket(checking: frame.payload))
        return ParsedFrame(ethernet: ethernet, network: .arp(arp), payload: [])
    case .ipv4:
        let packet = try IPv4Packet(checking: frame.payload)
        let ip = try IPv4Repr(parsing: packet)
        guard !packet.isFragment else { throw .unsupported }
        switch ip.protocol {
        case .icmp:
            let icmp = try ICMPv4Packet(checking: packet.payload)
            let repr = try ICMPv4Repr(parsing: icmp)
            return ParsedFrame(ethernet: ethernet, network: .ipv4(ip, .icmp(repr)), payload: Array(icmp.data))
        case .udp:
            let udp = try UDPPacket(checking: packet.payload)
            let repr = try UDPRepr(parsing: udp, source: ip.source, destination: ip.destination)
            return ParsedFrame(ethernet: ethernet, network: .ipv4(ip, .udp(repr)), payload: Array(udp.payload))
        case .tcp:
            let tcp = try TCPPacket(checking: packet.payload)
            let repr = try TCPRepr(parsing: tcp, source: ip.source, destination: ip.destination)
            return ParsedFrame(ethernet: ethernet, network: .ipv4(ip, .tcp(repr)), payload: Array(tcp.payload))
        default:
            throw .unsupported
        }
    default:
        throw .unsupported
    }
}

func parseFrame(_ bytes: [UInt8]) -> Result<ParsedFrame, WireError> {
    wire(bytes) { buffer throws(WireError) in try parseFrame(buffer) }
}

/// Builds a frame from representations the way a sender would: payload first, then the headers from
/// the inside out, each emit computing its checksum over what is already in place.
func emitFrame(_ parsed: ParsedFrame) -> [UInt8] {
    let ethernetLength = EthernetRepr.headerLength
    switch parsed.network {
    case .arp(let arp):
        return emitted(ethernetLength + ARPRepr.length) { buffer in
            parsed.ethernet.emit(into: buffer)
            arp.emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[ethernetLength...]))
        }
    case .ipv4(var ip, let transport):
        ip.payloadLength = transport.headerLength + parsed.payload.count
        let transportStart = ethernetLength + IPv4Repr.headerLength
        let count = transportStart + ip.payloadLength
        return emitted(count, payload: parsed.payload, at: transportStart + transport.headerLength) { buffer in
            let message = UnsafeMutableRawBufferPointer(rebasing: buffer[transportStart...])
            switch transport {
            case .icmp(let icmp): icmp.emit(into: message)
            case .udp(let udp): udp.emit(into: message, source: ip.source, destination: ip.destination)
            case .tcp(let tcp): tcp.emit(into: message, source: ip.source, destination: ip.destination)
            }
            ip.emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[ethernetLength...]))
            parsed.ethernet.emit(into: buffer)
        }
    }
}

/// A compact hex string for failure messages.
func hex(_ bytes: [UInt8]) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}

// MARK: - Tests over every fixture

@Suite struct NetWireFixtureTests {
    @Test(arguments: Fixture.all.map(\.name))
    func everyFixtureParsesAndReEmitsByteForByte(name: String) throws {
        let fixture = try #require(Fixture.all.first { $0.name == name })
        let parsed = try parseFrame(fixture.bytes).get()
        let bytes = emitFrame(parsed)
        #expect(bytes == Array(fixture.bytes[..<fixture.length]), "\(name): \(hex(bytes))")
    }

    @Test(arguments: Fixture.all.map(\.name))
    func everyTruncationOfEveryFixtureIsRejected(name: String) throws {
        let fixture = try #require(Fixture.all.first { $0.name == name })
        for length in 0..<fixture.length {
            let result = parseFrame(Array(fixture.bytes[..<length]))
            #expect(result == .failure(.truncated), "\(name) cut to \(length) bytes")
        }
        for length in fixture.length...fixture.bytes.count {   // the ARP reply's padding is optional
            #expect(parseFrame(Array(fixture.bytes[..<length])) == parseFrame(fixture.bytes))
        }
    }

    @Test(arguments: Fixture.all.map(\.name))
    func emitThenParseGivesTheSameRepresentation(name: String) throws {
        let fixture = try #require(Fixture.all.first { $0.name == name })
        let parsed = try parseFrame(fixture.bytes).get()
        #expect(parseFrame(emitFrame(parsed)) == .success(parsed))
    }

    @Test(arguments: Fixture.all.map(\.name))
    func everySingleBitFlipInAChecksummedRegionIsRejected(name: String) throws {
        // The IPv4 header checksum and the ICMP, UDP and TCP checksums together cover every byte after
        // the Ethernet header, and a ones' complement sum changes with any single-bit change (RFC 1071).
        // A flip may also break a length or a version first; either way the frame must not parse.
        let fixture = try #require(Fixture.all.first { $0.name == name })
        guard fixture.bytes[12] == 0x08 && fixture.bytes[13] == 0x00 else { return }     // IPv4 only
        for index in 14..<fixture.length {
            for bit in 0..<8 {
                var bytes = fixture.bytes
                bytes[index] ^= 1 << bit
                #expect((try? parseFrame(bytes).get()) == nil, "\(name): byte \(index) bit \(bit)")
            }
        }
    }
}
