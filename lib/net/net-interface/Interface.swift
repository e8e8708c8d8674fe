// Interface: one IPv4 interface on one network device — the layer between frames and transport.
//
// `poll(now:)` drains the device and dispatches each frame: ARP requests for our address are answered
// (and teach us the asker's MAC, RFC 826 "merge" rule), ARP replies fill the cache, IPv4 packets for
// us (or broadcast) are checked and handed on: ICMP echo requests are answered here, echo replies are
// recorded for `ping`, UDP goes to bound ports (UDP.swift; unbound ports get ICMP port unreachable),
// TCP segments go to the `tcp` closure given to `poll` (the transport lives in its own library, so
// an image without TCP carries none of it; without a closure they are counted as unhandled). Sending picks the
// next hop (the destination itself on our subnet, else the gateway), resolves it through the ARP cache
// — sending a request and holding up to three packets per destination (16 in all, the oldest dropped)
// until the reply comes, retrying every second and giving up after three requests (RFC 1122 section
// 2.3.2.2: keep at least one packet) —
// and frames the packet. Fragments are refused (counted, dropped): reassembly is not implemented.
// Received frames are handled in the device's buffers (pulled with `takeReceived`); a packet to send
// is built in place in the one transmit scratch frame, which the device copies into its own buffer.
// Only a packet held for ARP resolution gets its own array.

import NetDeviceAPI
import NetWire

public struct InterfaceConfiguration: Equatable, Sendable {
    public var address: IPv4Address
    public var prefixLength: Int
    public var gateway: IPv4Address?

    public init(address: IPv4Address, prefixLength: Int, gateway: IPv4Address?) {
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
    }

    /// QEMU user networking's defaults: 10.0.2.15/24 via 10.0.2.2.
    public static let qemuUser = InterfaceConfiguration(address: IPv4Address(10, 0, 2, 15), prefixLength: 24,
                                                        gateway: IPv4Address(10, 0, 2, 2))

    public func isLocal(_ other: IPv4Address) -> Bool {
        let mask: UInt32 = prefixLength == 0 ? 0 : ~0 << UInt32(32 - prefixLength)
        return address.rawValue & mask == other.rawValue & mask
    }
}

/// Counters for metrics and the shell.
public struct InterfaceStatistics: Equatable {
    public var framesIn = 0, framesOut = 0, malformed = 0, notForUs = 0, fragmentsDropped = 0
    public var arpRequestsAnswered = 0, arpRequestsSent = 0, arpFailures = 0
    public var echoRequestsAnswered = 0, echoRepliesReceived = 0, unhandledProtocol = 0
    public var udpReceived = 0, udpSent = 0, udpNoPort = 0, udpQueueFull = 0, portUnreachableSent = 0
    public var tcpReceived = 0
    /// Dropped for an impossible source (RFC 1812 5.3.7): our own address (LAND), 0.0.0.0, broadcast,
    /// multicast, loopback or class E, or a multicast Ethernet source.
    public var martians = 0
    /// Packets waiting for ARP that were dropped to keep the hold queue bounded.
    public var heldDropped = 0
    public init() {}
}

/// An echo reply that arrived for one of our pings.
public struct EchoReply: Equatable {
    public var from: IPv4Address
    public var identifier: UInt16
    public var sequenceNumber: UInt16
    public var receivedAt: UInt64

    public init(from: IPv4Address, identifier: UInt16, sequenceNumber: UInt16, receivedAt: UInt64) {
        self.from = from
        self.identifier = identifier
        self.sequenceNumber = sequenceNumber
        self.receivedAt = receivedAt
    }
}

public struct Interface<Device: NetDevice> {
    public var device: Device
    public var configuration: InterfaceConfiguration
    public var arp = ARPCache()
    public internal(set) var statistics = InterfaceStatistics()
    /// Echo replies not yet taken by `takeEchoReplies`.
    public private(set) var echoReplies: [EchoReply] = []
    var scratch: [UInt8]
    /// IPv4 packets (header included) waiting for their next hop's MAC, keyed by that hop.
    var held: [(hop: IPv4Address, packet: [UInt8])] = []
    /// Packets held for one unresolved hop, and for all of them.
    static var heldPerHop: Int { 3 }
    static var heldTotal: Int { 16 }
    var udpBindings: [UDPBinding] = []

    public init(device: Device, configuration: InterfaceConfiguration) {
        self.device = device
        self.configuration = configuration
        scratch = [UInt8](repeating: 0, count: EthernetFrame.headerLength + 1500)
    }

    public var macAddress: MACAddress { device.macAddress }

    // MARK: Receiving

    /// Receives a TCP segment: the source and destination addresses and the IPv4 payload.
    public typealias TCPDelivery = (_ source: IPv4Address, _ destination: IPv4Address, _ segment: UnsafeRawBufferPointer) -> Void

    /// Processes every received frame and due ARP retries; returns the frames handled. TCP segments
    /// go to `tcp`, when given.
    @discardableResult
    public mutating func poll(now: UInt64, tcp: TCPDelivery? = nil) -> Int {
        // Frames are pulled one at a time and handled in the device's own buffer (no copy): handling
        // may transmit (ARP and echo replies) while the frame is still lent.
        var handled = 0
        while handled < 64, let frame = device.takeReceived() {
            handle(frame: frame.bytes, now: now, tcp: tcp)
            device.release(frame)
            handled += 1
        }
        let (retry, failed) = arp.requestsDue(now: now)
        for address in retry { sendARPRequest(for: address) }
        for address in failed {
            statistics.arpFailures += 1
            held.removeAll { $0.hop == address }
        }
        return handled
    }

    mutating func handle(frame bytes: UnsafeRawBufferPointer, now: UInt64, tcp: TCPDelivery?) {
        statistics.framesIn += 1
        guard let frame = try? EthernetFrame(checking: bytes) else { statistics.malformed += 1; return }
        guard frame.destination == macAddress || frame.destination.isBroadcast else { statistics.notForUs += 1; return }
        // A group address is never a sender (IEEE 802.3; RFC 1122 3.3.6 drops such packets).
        guard !frame.source.isMulticast else { statistics.martians += 1; return }
        if frame.etherType == .arp {
            handleARP(frame.payload, now: now)
        } else if frame.etherType == .ipv4 {
            handleIPv4(frame.payload, now: now, tcp: tcp)
        } else {
            statistics.unhandledProtocol += 1
        }
    }

    mutating func handleARP(_ bytes: UnsafeRawBufferPointer, now: UInt64) {
        guard let packet = try? ARPPacket(checking: bytes), let arpMessage = try? ARPRepr(parsing: packet) else {
            statistics.malformed += 1
            return
        }
        let forUs = arpMessage.targetProtocolAddress == configuration.address
        // RFC 826: update an existing entry from any packet; add one only if the packet is for us.
        if forUs || arp.lookup(arpMessage.senderProtocolAddress, now: now) != nil {
            arp.learn(arpMessage.senderProtocolAddress, is: arpMessage.senderHardwareAddress, now: now)
            releaseHeld(for: arpMessage.senderProtocolAddress, to: arpMessage.senderHardwareAddress)
        }
        guard forUs, arpMessage.operation == .request else { return }
        let reply = ARPRepr(operation: .reply, senderHardwareAddress: macAddress,
                            senderProtocolAddress: configuration.address,
                            targetHardwareAddress: arpMessage.senderHardwareAddress,
                            targetProtocolAddress: arpMessage.senderProtocolAddress)
        if sendFrame(to: arpMessage.senderHardwareAddress, type: .arp, length: 28, { reply.emit(into: $0) }) {
            statistics.arpRequestsAnswered += 1
        }
    }

    mutating func handleIPv4(_ bytes: UnsafeRawBufferPointer, now: UInt64, tcp: TCPDelivery?) {
        guard let packet = try? IPv4Packet(checking: bytes), let header = try? IPv4Repr(parsing: packet) else {
            statistics.malformed += 1
            return
        }
        // Until it has an address (DHCP), the interface accepts every destination.
        guard header.destination == configuration.address || header.destination.isBroadcast
                || configuration.address.isUnspecified else {
            statistics.notForUs += 1
            return
        }
        guard !isMartian(header.source) else { statistics.martians += 1; return }
        guard !packet.isFragment else { statistics.fragmentsDropped += 1; return }
        if header.protocol == .icmp {
            handleICMP(packet.payload, from: header.source, now: now)
        } else if header.protocol == .udp {
            handleUDP(packet.payload, source: header.source, destination: header.destination,
                      datagram: bytes, headerLength: packet.headerLength, now: now)
        } else if header.protocol == .tcp, let tcp, !header.destination.isBroadcast {
            statistics.tcpReceived += 1
            tcp(header.source, header.destination, packet.payload)
        } else {
            statistics.unhandledProtocol += 1
        }
    }

    /// A source no real peer can have (RFC 1812 5.3.7, RFC 1122 3.2.1.3; Linux's "martian source"):
    /// 0.0.0.0, loopback, multicast, class E and limited broadcast, our subnet's broadcast, and our own
    /// address — a LAND packet, which would otherwise open a connection to ourselves and make us ARP
    /// for our own address.
    func isMartian(_ source: IPv4Address) -> Bool {
        if source.isUnspecified || source.isLoopback || source.isMulticast || source.rawValue >> 28 == 0xF { return true }
        let own = configuration.address
        guard !own.isUnspecified else { return false }
        if source == own { return true }
        let prefix = configuration.prefixLength
        if prefix > 0 && prefix < 31 {
            let host = UInt32.max >> UInt32(prefix)
            if configuration.isLocal(source) && source.rawValue & host == host { return true }
        }
        return false
    }

    mutating func handleICMP(_ bytes: UnsafeRawBufferPointer, from source: IPv4Address, now: UInt64) {
        guard let packet = try? ICMPv4Packet(checking: bytes), let message = try? ICMPv4Repr(parsing: packet) else {
            statistics.malformed += 1
            return
        }
        switch message {
        case .echoRequest:
            guard let reply = message.reply else { return }
            let data = packet.data
            if sendIPv4(to: source, protocol: .icmp, payloadLength: ICMPv4Repr.headerLength + data.count, now: now, { payload in
                UnsafeMutableRawBufferPointer(rebasing: payload[ICMPv4Repr.headerLength...]).copyMemory(from: data)
                reply.emit(into: payload)
            }) {
                statistics.echoRequestsAnswered += 1
            }
        case .echoReply(let identifier, let sequenceNumber):
            statistics.echoRepliesReceived += 1
            echoReplies.append(EchoReply(from: source, identifier: identifier, sequenceNumber: sequenceNumber,
                                         receivedAt: now))
        }
    }

    /// Hands over the echo replies received so far.
    public mutating func takeEchoReplies() -> [EchoReply] {
        defer { echoReplies.removeAll(keepingCapacity: true) }
        return echoReplies
    }

    // MARK: Sending

    /// Sends an ICMP echo request with `dataLength` bytes of pattern data.
    @discardableResult
    public mutating func ping(_ destination: IPv4Address, identifier: UInt16, sequenceNumber: UInt16,
                              dataLength: Int = 56, now: UInt64) -> Bool {
        let request = ICMPv4Repr.echoRequest(identifier: identifier, sequenceNumber: sequenceNumber)
        return sendIPv4(to: destination, protocol: .icmp, payloadLength: ICMPv4Repr.headerLength + dataLength, now: now) { payload in
            for index in ICMPv4Repr.headerLength..<payload.count { payload[index] = UInt8(truncatingIfNeeded: index) }
            request.emit(into: payload)
        }
    }

    /// Builds an IPv4 packet whose payload `fill` writes (given exactly `payloadLength` bytes) and sends
    /// it to the next hop, resolving its MAC first if needed (the packet is then held, at most
    /// `heldPerHop` per hop and `heldTotal` in all, the oldest dropped). False when the packet cannot
    /// go: too large, no route, or the device refused the frame.
    public mutating func sendIPv4(to destination: IPv4Address, protocol: IPProtocol, payloadLength: Int, now: UInt64,
                                  _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        guard IPv4Repr.headerLength + payloadLength <= min(device.mtu, 1500) else { return false }
        let hop: IPv4Address
        if destination.isBroadcast || configuration.isLocal(destination) {
            hop = destination
        } else if let gateway = configuration.gateway {
            hop = gateway
        } else {
            return false
        }
        let header = IPv4Repr(source: configuration.address, destination: destination, protocol: `protocol`,
                              payloadLength: payloadLength)
        let hardware: MACAddress? = destination.isBroadcast ? .broadcast : arp.lookup(hop, now: now)
        if let hardware {
            // The common case: built straight into the transmit frame, no intermediate packet.
            return sendFrame(to: hardware, type: .ipv4, length: header.totalLength) { bytes in
                fill(UnsafeMutableRawBufferPointer(rebasing: bytes[IPv4Repr.headerLength...]))
                header.emit(into: bytes)
            }
        }
        var packet = [UInt8](repeating: 0, count: header.totalLength)
        packet.withUnsafeMutableBytes { bytes in
            fill(UnsafeMutableRawBufferPointer(rebasing: bytes[IPv4Repr.headerLength...]))
            header.emit(into: bytes)
        }
        // Bounded, oldest dropped first (as Linux's neighbour queue): a hop that never answers ARP
        // costs at most `heldPerHop` packets, all hops together `heldTotal`, and the caller is never
        // refused — a refused TCP segment would be retried at once, spinning the network thread and
        // holding up every other connection until ARP gave up (the hardening issue's item 2).
        if held.count(where: { $0.hop == hop }) >= Self.heldPerHop, let oldest = held.firstIndex(where: { $0.hop == hop }) {
            held.remove(at: oldest)
            statistics.heldDropped += 1
        }
        if held.count >= Self.heldTotal {
            held.removeFirst()
            statistics.heldDropped += 1
        }
        held.append((hop, packet))
        if arp.startResolving(hop, now: now) { sendARPRequest(for: hop) }
        return true
    }

    mutating func releaseHeld(for hop: IPv4Address, to hardware: MACAddress) {
        while let index = held.firstIndex(where: { $0.hop == hop }) {
            let packet = held.remove(at: index).packet
            _ = packet.withUnsafeBytes { bytes in
                sendFrame(to: hardware, type: .ipv4, length: bytes.count) { $0.copyMemory(from: bytes) }
            }
        }
    }

    mutating func sendARPRequest(for address: IPv4Address) {
        let request = ARPRepr(operation: .request, senderHardwareAddress: macAddress,
                              senderProtocolAddress: configuration.address, targetHardwareAddress: .zero,
                              targetProtocolAddress: address)
        if sendFrame(to: .broadcast, type: .arp, length: 28, { request.emit(into: $0) }) {
            statistics.arpRequestsSent += 1
        }
    }

    /// Frames `length` payload bytes (written by `fill`) and transmits; pads to the 60-byte minimum.
    mutating func sendFrame(to destination: MACAddress, type: EtherType, length: Int,
                            _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        let total = max(EthernetFrame.headerLength + length, 60)
        guard total <= scratch.count else { return false }
        let ethernet = EthernetRepr(source: macAddress, destination: destination, etherType: type)
        let sent = scratch.withUnsafeMutableBytes { bytes -> Bool in
            let frame = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<total])
            frame.initializeMemory(as: UInt8.self, repeating: 0)            // memset: padding and any byte `fill` skips
            ethernet.emit(into: frame)
            fill(UnsafeMutableRawBufferPointer(rebasing: frame[EthernetFrame.headerLength..<(EthernetFrame.headerLength + length)]))
            return device.transmit(UnsafeRawBufferPointer(frame))
        }
        if sent { statistics.framesOut += 1 }
        return sent
    }
}
