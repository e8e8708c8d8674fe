// UDP on the interface: bound ports with bounded receive queues, and sending (RFC 768).
//
// `bindUDP(port:)` opens a port; datagrams that arrive for it are copied into its queue (at most
// `maximumQueuedDatagrams`; more are dropped and counted — UDP promises nothing more). A datagram for
// a port nobody bound is answered with ICMP port unreachable (RFC 1122 section 4.1.3.1), quoting its IP
// header and first 8 bytes — except when it was sent to a broadcast address (section 3.2.2).
// A datagram whose checksum is present and wrong is dropped (a zero checksum means "none", RFC 768).

import NetWire

/// One received datagram, copied out of the device's buffer.
public struct Datagram: Equatable {
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var payload: [UInt8]

    public init(source: IPv4Address, sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8]) {
        self.source = source
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.payload = payload
    }
}

struct UDPBinding {
    var port: UInt16
    var queue: [Datagram] = []
}

extension Interface {
    public static var maximumQueuedDatagrams: Int { 32 }

    /// Opens `port` for receiving. False if it is already bound.
    public mutating func bindUDP(port: UInt16) -> Bool {
        guard !udpBindings.contains(where: { $0.port == port }) else { return false }
        udpBindings.append(UDPBinding(port: port))
        return true
    }

    public mutating func unbindUDP(port: UInt16) {
        udpBindings.removeAll { $0.port == port }
    }

    /// The oldest datagram queued on `port`, if any.
    public mutating func receiveUDP(port: UInt16) -> Datagram? {
        guard let index = udpBindings.firstIndex(where: { $0.port == port }),
              !udpBindings[index].queue.isEmpty else { return nil }
        return udpBindings[index].queue.removeFirst()
    }

    /// Sends `payload` from `sourcePort` to `destination`:`destinationPort`.
    @discardableResult
    public mutating func sendUDP(from sourcePort: UInt16, to destination: IPv4Address, port destinationPort: UInt16,
                                 payload: UnsafeRawBufferPointer, now: UInt64) -> Bool {
        let header = UDPRepr(sourcePort: sourcePort, destinationPort: destinationPort)
        let source = configuration.address
        let sent = sendIPv4(to: destination, protocol: .udp, payloadLength: UDPRepr.headerLength + payload.count,
                            now: now) { datagram in
            UnsafeMutableRawBufferPointer(rebasing: datagram[UDPRepr.headerLength...]).copyMemory(from: payload)
            header.emit(into: datagram, source: source, destination: destination)
        }
        if sent { statistics.udpSent += 1 }
        return sent
    }

    mutating func handleUDP(_ bytes: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                            datagram: UnsafeRawBufferPointer, headerLength: Int, now: UInt64) {
        guard let packet = try? UDPPacket(checking: bytes),
              let header = try? UDPRepr(parsing: packet, source: source, destination: destination) else {
            statistics.malformed += 1
            return
        }
        guard let index = udpBindings.firstIndex(where: { $0.port == header.destinationPort }) else {
            statistics.udpNoPort += 1
            if !destination.isBroadcast && !configuration.address.isUnspecified {
                let quoted = UnsafeRawBufferPointer(rebasing: datagram[0..<min(datagram.count, headerLength + 8)])
                let error = ICMPv4DestinationUnreachable(code: ICMPv4DestinationUnreachable.portUnreachable)
                if sendIPv4(to: source, protocol: .icmp, payloadLength: ICMPv4Repr.headerLength + quoted.count, now: now, { message in
                    UnsafeMutableRawBufferPointer(rebasing: message[ICMPv4Repr.headerLength...]).copyMemory(from: quoted)
                    error.emit(into: message)
                }) {
                    statistics.portUnreachableSent += 1
                }
            }
            return
        }
        guard udpBindings[index].queue.count < Self.maximumQueuedDatagrams else {
            statistics.udpQueueFull += 1
            return
        }
        udpBindings[index].queue.append(Datagram(source: source, sourcePort: header.sourcePort,
                                                 destinationPort: header.destinationPort, payload: Array(packet.payload)))
        statistics.udpReceived += 1
    }
}
