// FrameRepr: a whole Ethernet frame as values, down to its transport header — for tools that need
// the full picture of one frame at once (tests on captured traffic, fuzz targets, a packet logger).
// The stack itself parses layer by layer and never builds one.
//
// `init(parsing:)` runs the checked views of every layer (Ethernet, then ARP, or IPv4 and one of
// ICMP, UDP, TCP, checksums verified); a fragment or another protocol is `.unsupported`. The transport
// payload is copied out. `emitted()` builds the frame the way a sender does: payload first, then the
// headers from the inside out, each emit computing its checksum over what is already in place. IPv4
// options and unknown TCP options are not kept, so a parsed frame emits as its `normalized` form.

public struct FrameRepr: Equatable {
    public enum Network: Equatable {
        case arp(ARPRepr)
        case ipv4(IPv4Repr, Transport)
    }

    public enum Transport: Equatable {
        case icmp(ICMPv4Repr)
        case udp(UDPRepr)
        case tcp(TCPRepr)

        public var headerLength: Int {
            switch self {
            case .icmp: return ICMPv4Repr.headerLength
            case .udp: return UDPRepr.headerLength
            case .tcp(let tcp): return tcp.headerLength
            }
        }
    }

    public var ethernet: EthernetRepr
    public var network: Network
    /// ICMP echo data, UDP or TCP payload; empty for ARP.
    public var payload: [UInt8]

    public init(ethernet: EthernetRepr, network: Network, payload: [UInt8]) {
        self.ethernet = ethernet
        self.network = network
        self.payload = payload
    }

    /// The frame as `emitted()` writes it: the IPv4 payload length is the transport header plus payload.
    public var normalized: FrameRepr {
        guard case .ipv4(var ip, let transport) = network else { return self }
        ip.payloadLength = transport.headerLength + payload.count
        return FrameRepr(ethernet: ethernet, network: .ipv4(ip, transport), payload: payload)
    }

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        let frame = try EthernetFrame(checking: bytes)
        let ethernet = try EthernetRepr(parsing: frame)
        switch ethernet.etherType {
        case .arp:
            let arp = try ARPRepr(parsing: try ARPPacket(checking: frame.payload))
            self.init(ethernet: ethernet, network: .arp(arp), payload: [])
        case .ipv4:
            let packet = try IPv4Packet(checking: frame.payload)
            let ip = try IPv4Repr(parsing: packet)
            guard !packet.isFragment else { throw .unsupported }
            switch ip.protocol {
            case .icmp:
                let icmp = try ICMPv4Packet(checking: packet.payload)
                self.init(ethernet: ethernet, network: .ipv4(ip, .icmp(try ICMPv4Repr(parsing: icmp))), payload: Array(icmp.data))
            case .udp:
                let udp = try UDPPacket(checking: packet.payload)
                let repr = try UDPRepr(parsing: udp, source: ip.source, destination: ip.destination)
                self.init(ethernet: ethernet, network: .ipv4(ip, .udp(repr)), payload: Array(udp.payload))
            case .tcp:
                let tcp = try TCPPacket(checking: packet.payload)
                let repr = try TCPRepr(parsing: tcp, source: ip.source, destination: ip.destination)
                self.init(ethernet: ethernet, network: .ipv4(ip, .tcp(repr)), payload: Array(tcp.payload))
            default:
                throw .unsupported
            }
        default:
            throw .unsupported
        }
    }

    /// The frame's bytes (see the design comment).
    public func emitted() -> [UInt8] {
        let ethernetLength = EthernetRepr.headerLength
        switch network {
        case .arp(let arp):
            var bytes = [UInt8](repeating: 0, count: ethernetLength + ARPRepr.length)
            bytes.withUnsafeMutableBytes { buffer in
                ethernet.emit(into: buffer)
                arp.emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[ethernetLength...]))
            }
            return bytes
        case .ipv4(var ip, let transport):
            ip.payloadLength = transport.headerLength + payload.count
            let transportStart = ethernetLength + IPv4Repr.headerLength
            let payloadStart = transportStart + transport.headerLength
            var bytes = [UInt8](repeating: 0, count: transportStart + ip.payloadLength)
            bytes.replaceSubrange(payloadStart..<(payloadStart + payload.count), with: payload)
            bytes.withUnsafeMutableBytes { buffer in
                let message = UnsafeMutableRawBufferPointer(rebasing: buffer[transportStart...])
                switch transport {
                case .icmp(let icmp): icmp.emit(into: message)
                case .udp(let udp): udp.emit(into: message, source: ip.source, destination: ip.destination)
                case .tcp(let tcp): tcp.emit(into: message, source: ip.source, destination: ip.destination)
                }
                ip.emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[ethernetLength...]))
                ethernet.emit(into: buffer)
            }
            return bytes
        }
    }
}
