// The IPv4 interface against a simulated device: ARP (RFC 826, RFC 1122 2.3.2), ICMP echo (RFC 792),
// next-hop choice and the packet held while a MAC address is being resolved. Time is a fake clock.

import NetDeviceAPI
import NetInterface
import NetWire
import Testing

/// A device whose wire is two arrays: frames the interface sent, frames queued for it to receive.
struct SimulatedDevice: NetDevice {
    static var name: StaticString { "simulated" }
    var macAddress = MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56)
    var mtu = 1500
    var isLinkUp = true
    var statistics = NetDeviceStatistics()
    var sent: [[UInt8]] = []
    var incoming: [[UInt8]] = []

    init?() {}

    mutating func enableInterrupts(context: UnsafeMutableRawPointer?, _ notify: NetDeviceNotify) -> Bool { false }

    mutating func transmit(_ frame: UnsafeRawBufferPointer) -> Bool {
        sent.append(Array(frame))
        return true
    }

    mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        let batch = incoming.prefix(limit)
        incoming.removeFirst(batch.count)
        for frame in batch { frame.withUnsafeBytes(body) }
        return batch.count
    }

    /// Frames lent by `takeReceived` and not yet released (a test can check that none leak).
    var lent = 0

    mutating func takeReceived() -> ReceivedFrame? {
        guard !incoming.isEmpty else { return nil }
        let frame = incoming.removeFirst()
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(frame.count, 1), alignment: 8)
        frame.withUnsafeBytes { copy.copyMemory(from: $0) }
        lent += 1
        return ReceivedFrame(bytes: UnsafeRawBufferPointer(rebasing: copy[0..<frame.count]), token: 0)
    }

    mutating func release(_ frame: ReceivedFrame) {
        lent -= 1
        // Scribble over the buffer before freeing it, so a use after release shows up as garbage.
        if let base = frame.bytes.baseAddress {
            UnsafeMutableRawPointer(mutating: base).initializeMemory(as: UInt8.self, repeating: 0xEE, count: frame.bytes.count)
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}

let gatewayMAC = MACAddress(0x52, 0x55, 0x0A, 0, 2, 2)
let gatewayIP = IPv4Address(10, 0, 2, 2)

func makeInterface() -> Interface<SimulatedDevice> {
    Interface(device: SimulatedDevice()!, configuration: .qemuUser)
}

/// An Ethernet frame carrying `length` bytes written by `fill`.
func frame(from source: MACAddress, to destination: MACAddress, type: EtherType, length: Int,
           _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: max(14 + length, 60))
    bytes.withUnsafeMutableBytes { buffer in
        EthernetRepr(source: source, destination: destination, etherType: type).emit(into: buffer)
        fill(UnsafeMutableRawBufferPointer(rebasing: buffer[14..<(14 + length)]))
    }
    return bytes
}

func arpFrame(_ operation: ARPOperation, from mac: MACAddress, ip: IPv4Address, to targetMAC: MACAddress,
              targetIP: IPv4Address, ethernetDestination: MACAddress) -> [UInt8] {
    frame(from: mac, to: ethernetDestination, type: .arp, length: 28) {
        ARPRepr(operation: operation, senderHardwareAddress: mac, senderProtocolAddress: ip,
                targetHardwareAddress: targetMAC, targetProtocolAddress: targetIP).emit(into: $0)
    }
}

func echoFrame(_ message: ICMPv4Repr, from mac: MACAddress, ip: IPv4Address, to destinationMAC: MACAddress,
               destination: IPv4Address, data: [UInt8]) -> [UInt8] {
    let icmpLength = 8 + data.count
    return frame(from: mac, to: destinationMAC, type: .ipv4, length: 20 + icmpLength) { buffer in
        let payload = UnsafeMutableRawBufferPointer(rebasing: buffer[20...])
        data.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: payload[8...]).copyMemory(from: $0) }
        message.emit(into: payload)
        IPv4Repr(source: ip, destination: destination, protocol: .icmp, payloadLength: icmpLength).emit(into: buffer)
    }
}

func parseARP(_ bytes: [UInt8]) throws -> ARPRepr {
    try bytes.withUnsafeBytes { raw in
        let ethernet = try EthernetFrame(checking: raw)
        return try ARPRepr(parsing: try ARPPacket(checking: ethernet.payload))
    }
}

@Suite struct NetInterfaceTests {
    @Test func rfc826ARequestForOurAddressIsAnsweredAndTeachesUsTheAsker() throws {
        var interface = makeInterface()
        interface.device.incoming.append(arpFrame(.request, from: gatewayMAC, ip: gatewayIP, to: .zero,
                                                  targetIP: IPv4Address(10, 0, 2, 15), ethernetDestination: .broadcast))
        interface.poll(now: 1_000)
        #expect(interface.device.sent.count == 1)
        let reply = try parseARP(interface.device.sent[0])
        #expect(reply.operation == .reply)
        #expect(reply.senderHardwareAddress == interface.macAddress)
        #expect(reply.senderProtocolAddress == IPv4Address(10, 0, 2, 15))
        #expect(reply.targetHardwareAddress == gatewayMAC && reply.targetProtocolAddress == gatewayIP)
        #expect(interface.arp.lookup(gatewayIP, now: 2_000) == gatewayMAC)
        #expect(interface.statistics.arpRequestsAnswered == 1)
        #expect(interface.device.lent == 0, "every frame taken from the device was given back")
    }

    @Test func pollHandlesAtMost64FramesAndReleasesEachOne() {
        var interface = makeInterface()
        for _ in 0..<100 {
            interface.device.incoming.append(arpFrame(.request, from: gatewayMAC, ip: gatewayIP, to: .zero,
                                                      targetIP: IPv4Address(10, 0, 2, 99), ethernetDestination: .broadcast))
        }
        #expect(interface.poll(now: 1_000) == 64)
        #expect(interface.poll(now: 1_000) == 36)
        #expect(interface.device.lent == 0)
    }

    @Test func rfc826RequestsForOtherAddressesAreIgnoredAndNotLearned() {
        var interface = makeInterface()
        interface.device.incoming.append(arpFrame(.request, from: gatewayMAC, ip: gatewayIP, to: .zero,
                                                  targetIP: IPv4Address(10, 0, 2, 99), ethernetDestination: .broadcast))
        interface.poll(now: 1_000)
        #expect(interface.device.sent.isEmpty)
        #expect(interface.arp.lookup(gatewayIP, now: 2_000) == nil)
    }

    @Test func rfc1122PacketToAnUnresolvedHopIsHeldUntilTheARPReply() throws {
        var interface = makeInterface()
        let queued = interface.ping(IPv4Address(8, 8, 8, 8), identifier: 7, sequenceNumber: 1, now: 0)
        #expect(queued)
        // Off-subnet: the ARP request is for the gateway, and the echo waits.
        #expect(interface.device.sent.count == 1)
        let request = try parseARP(interface.device.sent[0])
        #expect(request.operation == .request && request.targetProtocolAddress == gatewayIP)
        interface.device.incoming.append(arpFrame(.reply, from: gatewayMAC, ip: gatewayIP, to: interface.macAddress,
                                                  targetIP: IPv4Address(10, 0, 2, 15), ethernetDestination: interface.macAddress))
        interface.poll(now: 10_000)
        #expect(interface.device.sent.count == 2)
        let echo = interface.device.sent[1]
        #expect(Array(echo[0..<6]) == [0x52, 0x55, 0x0A, 0, 2, 2])      // to the gateway's MAC
        try echo.withUnsafeBytes { raw in
            let ip = try IPv4Packet(checking: EthernetFrame(checking: raw).payload)
            let header = try IPv4Repr(parsing: ip)
            #expect(header.destination == IPv4Address(8, 8, 8, 8))
            #expect(try ICMPv4Repr(parsing: ICMPv4Packet(checking: ip.payload)) == .echoRequest(identifier: 7, sequenceNumber: 1))
        }
    }

    @Test func rfc1122ARPRequestsAreRetriedEverySecondThenGivenUp() {
        var interface = makeInterface()
        let queued = interface.ping(gatewayIP, identifier: 1, sequenceNumber: 1, now: 0)
        #expect(queued)
        interface.poll(now: 500_000_000)                 // too early for a retry
        #expect(interface.statistics.arpRequestsSent == 1)
        interface.poll(now: 1_000_000_000)
        interface.poll(now: 2_000_000_000)
        #expect(interface.statistics.arpRequestsSent == 3)
        interface.poll(now: 3_000_000_000)
        #expect(interface.statistics.arpFailures == 1)
        #expect(interface.statistics.arpRequestsSent == 3)
        // The held packet was dropped: a later reply sends nothing but is learned if asked again.
        #expect(!interface.arp.isResolving(gatewayIP))
    }

    @Test func arpEntriesExpire() {
        var cache = ARPCache(lifetime: 1_000)
        cache.learn(gatewayIP, is: gatewayMAC, now: 0)
        #expect(cache.lookup(gatewayIP, now: 999) == gatewayMAC)
        #expect(cache.lookup(gatewayIP, now: 1_000) == nil)
    }

    @Test func fullCacheReplacesTheEntryClosestToExpiry() {
        var cache = ARPCache(capacity: 2, lifetime: 1_000)
        cache.learn(IPv4Address(10, 0, 0, 1), is: MACAddress(rawValue: 1), now: 0)
        cache.learn(IPv4Address(10, 0, 0, 2), is: MACAddress(rawValue: 2), now: 10)
        cache.learn(IPv4Address(10, 0, 0, 3), is: MACAddress(rawValue: 3), now: 20)
        #expect(cache.lookup(IPv4Address(10, 0, 0, 1), now: 30) == nil)
        #expect(cache.lookup(IPv4Address(10, 0, 0, 3), now: 30) == MACAddress(rawValue: 3))
    }

    @Test func rfc792EchoRequestIsAnsweredWithTheSameIdentifierSequenceAndData() throws {
        var interface = makeInterface()
        let data: [UInt8] = Array(0..<32)
        interface.device.incoming.append(arpFrame(.request, from: gatewayMAC, ip: gatewayIP, to: .zero,
                                                  targetIP: IPv4Address(10, 0, 2, 15), ethernetDestination: .broadcast))
        interface.device.incoming.append(echoFrame(.echoRequest(identifier: 0x1234, sequenceNumber: 9), from: gatewayMAC,
                                                   ip: gatewayIP, to: interface.macAddress,
                                                   destination: IPv4Address(10, 0, 2, 15), data: data))
        interface.poll(now: 5_000)
        #expect(interface.statistics.echoRequestsAnswered == 1)
        let reply = try #require(interface.device.sent.last)
        try reply.withUnsafeBytes { raw in
            let ip = try IPv4Packet(checking: EthernetFrame(checking: raw).payload)
            #expect(try IPv4Repr(parsing: ip).destination == gatewayIP)
            let icmp = try ICMPv4Packet(checking: ip.payload)
            #expect(try ICMPv4Repr(parsing: icmp) == .echoReply(identifier: 0x1234, sequenceNumber: 9))
            #expect(Array(icmp.data) == data)
        }
    }

    @Test func echoRepliesAreRecordedForTheCaller() {
        var interface = makeInterface()
        interface.device.incoming.append(echoFrame(.echoReply(identifier: 5, sequenceNumber: 2), from: gatewayMAC,
                                                   ip: gatewayIP, to: interface.macAddress,
                                                   destination: IPv4Address(10, 0, 2, 15), data: [1, 2, 3]))
        interface.poll(now: 42)
        let first = interface.takeEchoReplies(), second = interface.takeEchoReplies()
        #expect(first == [EchoReply(from: gatewayIP, identifier: 5, sequenceNumber: 2, receivedAt: 42)])
        #expect(second.isEmpty)
    }

    @Test func framesForOtherMACsAndGarbageAreCountedAndDropped() {
        var interface = makeInterface()
        interface.device.incoming.append(echoFrame(.echoRequest(identifier: 1, sequenceNumber: 1), from: gatewayMAC,
                                                   ip: gatewayIP, to: MACAddress(rawValue: 0x99),
                                                   destination: IPv4Address(10, 0, 2, 15), data: []))
        interface.device.incoming.append([1, 2, 3])
        var corrupted = echoFrame(.echoRequest(identifier: 1, sequenceNumber: 1), from: gatewayMAC, ip: gatewayIP,
                                  to: interface.macAddress, destination: IPv4Address(10, 0, 2, 15), data: [7])
        corrupted[24] ^= 0xFF                                    // IPv4 header checksum no longer matches
        interface.device.incoming.append(corrupted)
        interface.poll(now: 1)
        #expect(interface.device.sent.isEmpty)
        #expect(interface.statistics.notForUs == 1)
        #expect(interface.statistics.malformed == 2)
    }
}

func udpFrame(from ip: IPv4Address, port sourcePort: UInt16, to destination: IPv4Address, port destinationPort: UInt16,
              payload: [UInt8], mac: MACAddress, to destinationMAC: MACAddress) -> [UInt8] {
    let udpLength = 8 + payload.count
    return frame(from: mac, to: destinationMAC, type: .ipv4, length: 20 + udpLength) { buffer in
        let datagram = UnsafeMutableRawBufferPointer(rebasing: buffer[20..<(20 + udpLength)])
        payload.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: datagram[8...]).copyMemory(from: $0) }
        UDPRepr(sourcePort: sourcePort, destinationPort: destinationPort).emit(into: datagram, source: ip, destination: destination)
        IPv4Repr(source: ip, destination: destination, protocol: .udp, payloadLength: udpLength).emit(into: buffer)
    }
}

@Suite struct NetInterfaceUDPTests {
    @Test func rfc768DatagramsForABoundPortAreQueuedInOrder() {
        var interface = makeInterface()
        let first = interface.bindUDP(port: 7), again = interface.bindUDP(port: 7)
        #expect(first && !again)
        for text in ["one", "two"] {
            interface.device.incoming.append(udpFrame(from: gatewayIP, port: 40000, to: IPv4Address(10, 0, 2, 15), port: 7,
                                                      payload: Array(text.utf8), mac: gatewayMAC, to: interface.macAddress))
        }
        interface.poll(now: 1)
        let one = interface.receiveUDP(port: 7), two = interface.receiveUDP(port: 7), none = interface.receiveUDP(port: 7)
        #expect(one == Datagram(source: gatewayIP, sourcePort: 40000, destinationPort: 7, payload: Array("one".utf8)))
        #expect(two?.payload == Array("two".utf8))
        #expect(none == nil)
    }

    @Test func datagramsForUnboundPortsOrWithBadChecksumsAreDroppedAndCounted() {
        var interface = makeInterface()
        _ = interface.bindUDP(port: 7)
        interface.device.incoming.append(udpFrame(from: gatewayIP, port: 1, to: IPv4Address(10, 0, 2, 15), port: 9,
                                                  payload: [1], mac: gatewayMAC, to: interface.macAddress))
        var corrupted = udpFrame(from: gatewayIP, port: 1, to: IPv4Address(10, 0, 2, 15), port: 7,
                                 payload: [1, 2, 3], mac: gatewayMAC, to: interface.macAddress)
        corrupted[14 + 20 + 8] ^= 0x55                       // payload changed, checksum not
        interface.device.incoming.append(corrupted)
        interface.poll(now: 1)
        #expect(interface.statistics.udpNoPort == 1)
        #expect(interface.statistics.malformed == 1)
        let queued = interface.receiveUDP(port: 7)
        #expect(queued == nil)
    }

    @Test func rfc1122UnboundPortIsAnsweredWithPortUnreachableQuotingTheDatagram() throws {
        var interface = makeInterface()
        interface.arp.learn(gatewayIP, is: gatewayMAC, now: 0)
        let probe = udpFrame(from: gatewayIP, port: 5000, to: IPv4Address(10, 0, 2, 15), port: 9,
                             payload: Array("are you there?".utf8), mac: gatewayMAC, to: interface.macAddress)
        interface.device.incoming.append(probe)
        interface.poll(now: 1)
        #expect(interface.statistics.portUnreachableSent == 1)
        let reply = try #require(interface.device.sent.last)
        try reply.withUnsafeBytes { raw in
            let ip = try IPv4Packet(checking: EthernetFrame(checking: raw).payload)
            #expect(try IPv4Repr(parsing: ip).destination == gatewayIP)
            let icmp = try ICMPv4Packet(checking: ip.payload)
            #expect(icmp.verifyChecksum())
            #expect(icmp.messageType == .destinationUnreachable && icmp.code == 3)
            #expect(Array(icmp.data) == Array(probe[14..<(14 + 28)]))      // IP header + 8 bytes of UDP
        }
    }

    @Test func rfc1122NoICMPErrorForABroadcastDatagram() {
        var interface = makeInterface()
        interface.arp.learn(gatewayIP, is: gatewayMAC, now: 0)
        interface.device.incoming.append(udpFrame(from: gatewayIP, port: 5000, to: .broadcast, port: 9,
                                                  payload: [1], mac: gatewayMAC, to: .broadcast))
        interface.poll(now: 1)
        #expect(interface.statistics.udpNoPort == 1)
        #expect(interface.statistics.portUnreachableSent == 0)
        #expect(interface.device.sent.isEmpty)
    }

    @Test func queueIsBoundedAndOverflowIsCounted() {
        var interface = makeInterface()
        _ = interface.bindUDP(port: 7)
        for _ in 0..<40 {
            interface.device.incoming.append(udpFrame(from: gatewayIP, port: 1, to: IPv4Address(10, 0, 2, 15), port: 7,
                                                      payload: [0], mac: gatewayMAC, to: interface.macAddress))
        }
        interface.poll(now: 1)
        #expect(interface.statistics.udpReceived == 32)
        #expect(interface.statistics.udpQueueFull == 8)
    }

    @Test func sentDatagramsCarryAValidChecksum() throws {
        var interface = makeInterface()
        interface.arp.learn(gatewayIP, is: gatewayMAC, now: 0)
        let sent = Array("hello".utf8).withUnsafeBytes {
            interface.sendUDP(from: 7, to: gatewayIP, port: 40000, payload: $0, now: 1)
        }
        #expect(sent)
        let frame = try #require(interface.device.sent.first)
        try frame.withUnsafeBytes { raw in
            let ip = try IPv4Packet(checking: EthernetFrame(checking: raw).payload)
            let udp = try UDPPacket(checking: ip.payload)
            #expect(udp.verifyChecksum(source: IPv4Address(10, 0, 2, 15), destination: gatewayIP))
            #expect(udp.sourcePort == 7 && udp.destinationPort == 40000)
            #expect(Array(udp.payload) == Array("hello".utf8))
        }
    }
}
