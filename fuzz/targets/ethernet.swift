// EthernetFrame and EthernetRepr (lib/net-wire/Ethernet.swift), and a whole frame walked down through
// ARP or IPv4 to ICMP, UDP or TCP, the way the interface does. Input: a mode byte, then a frame. Mode
// bit 0 set: the IPv4 header checksum and the ICMP, UDP or TCP checksum are repaired where the lengths
// allow, so that frames reach the inner layers.
//
// Checks: the Ethernet header re-emits byte for byte; a frame that parses to the bottom is rebuilt from
// its representations (payload first, then each header inside out, as a sender does) and parses to the
// same representations and payload. IPv4 options and unknown TCP options are not represented, so the
// rebuilt frame's lengths are those of what was kept.

import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    var bytes = Array(input.rest())
    if mode & 1 != 0 { bytes.withUnsafeMutableBytes { repairChecksums($0) } }
    bytes.withUnsafeBytes { check($0) }
    return 0
}

func check(_ bytes: UnsafeRawBufferPointer) {
    guard let frame = try? EthernetFrame(checking: bytes) else { return }
    precondition(frame.payload.count == bytes.count - 14, "Ethernet: payload")
    _ = (frame.destination.isMulticast, frame.source.isLocallyAdministered, frame.etherType.isLength)
    if let repr = try? EthernetRepr(parsing: frame) {
        let header = emitted(EthernetRepr.headerLength) { repr.emit(into: $0) }
        precondition(header.elementsEqual(bytes[0..<14]), "Ethernet: re-emitted header differs")
    }
    guard let parsed = try? parseFrame(bytes) else { return }
    let rebuilt = emitFrame(parsed)
    let again = rebuilt.withUnsafeBytes { try? parseFrame($0) }
    precondition(again == parsed.normalized, "frame: rebuilt frame parses differently")
}

/// A frame parsed to its transport header, with the transport payload copied out.
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
    var payload: [UInt8]

    /// What the rebuilt frame should parse to: the IPv4 payload length is the transport header that
    /// emit writes plus the payload.
    var normalized: ParsedFrame {
        guard case .ipv4(var ip, let transport) = network else { return self }
        ip.payloadLength = transport.headerLength + payload.count
        return ParsedFrame(ethernet: ethernet, network: .ipv4(ip, transport), payload: payload)
    }
}

func parseFrame(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> ParsedFrame {
    let frame = try EthernetFrame(checking: bytes)
    let ethernet = try EthernetRepr(parsing: frame)
    switch ethernet.etherType {
    case .arp:
        return ParsedFrame(ethernet: ethernet, network: .arp(try ARPRepr(parsing: try ARPPacket(checking: frame.payload))),
                           payload: [])
    case .ipv4:
        let packet = try IPv4Packet(checking: frame.payload)
        let ip = try IPv4Repr(parsing: packet)
        guard !packet.isFragment else { throw .unsupported }
        switch ip.protocol {
        case .icmp:
            let icmp = try ICMPv4Packet(checking: packet.payload)
            return ParsedFrame(ethernet: ethernet, network: .ipv4(ip, .icmp(try ICMPv4Repr(parsing: icmp))),
                               payload: Array(icmp.data))
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

/// Builds a frame from representations: payload first, then the headers from the inside out.
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
        return parsed.payload.withUnsafeBytes { payload in
            let payloadStart = transportStart + transport.headerLength
            return emitted(transportStart + ip.payloadLength, payload: payload, at: payloadStart) { buffer in
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
}

/// Repairs the IPv4 header checksum and the ICMP, UDP or TCP checksum of an IPv4 frame, as far as the
/// frame's lengths allow.
func repairChecksums(_ frame: UnsafeMutableRawBufferPointer) {
    guard frame.count >= 34, frame[12] == 0x08, frame[13] == 0x00 else { return }
    let headerLength = Int(frame[14] & 0x0F) * 4
    guard headerLength >= 20, 14 + headerLength <= frame.count else { return }
    repairChecksum(UnsafeMutableRawBufferPointer(rebasing: frame[14..<14 + headerLength]), field: 10)
    let totalLength = Int(frame[16]) << 8 | Int(frame[17])
    guard totalLength >= headerLength, 14 + totalLength <= frame.count else { return }
    let message = UnsafeMutableRawBufferPointer(rebasing: frame[14 + headerLength..<14 + totalLength])
    let source = read32(UnsafeRawBufferPointer(frame), 26), destination = read32(UnsafeRawBufferPointer(frame), 30)
    switch frame[23] {
    case 1 where message.count >= 4:
        repairChecksum(message, field: 2)
    case 17 where message.count >= 8:
        let length = Int(message[4]) << 8 | Int(message[5])
        guard length >= 8, length <= message.count else { return }
        repairChecksum(UnsafeMutableRawBufferPointer(rebasing: message[0..<length]), field: 6,
                       initial: pseudoHeaderSum(source: source, destination: destination, protocol: 17, length: length))
    case 6 where message.count >= 18:
        repairChecksum(message, field: 16,
                       initial: pseudoHeaderSum(source: source, destination: destination, protocol: 6, length: message.count))
    default:
        break
    }
}
