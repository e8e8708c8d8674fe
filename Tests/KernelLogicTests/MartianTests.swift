// Martian sources (RFC 1812 5.3.7, RFC 1122 3.2.1.3) are dropped before any protocol sees them: a
// LAND packet (source = destination = our address) neither opens a TCP connection nor makes us ARP
// for ourselves, and echo requests from 0.0.0.0, loopback, multicast, class E, limited and subnet
// broadcast, or with a group Ethernet source, are not answered. A normal peer still is.

import NetDeviceAPI
import NetInterface
import NetWire
import Testing

@Suite struct MartianTests {
    static let ourAddress = IPv4Address(10, 0, 2, 15)

    func tcpFrame(from source: IPv4Address, mac: MACAddress = gatewayMAC) -> [UInt8] {
        frame(from: mac, to: SimulatedDevice()!.macAddress, type: .ipv4, length: 40) { buffer in
            // A bare SYN: ports 1234 → 80, data offset 5, flags SYN. The checksum does not matter here:
            // the interface hands segments over unchecked; TCP checks them.
            let tcp = UnsafeMutableRawBufferPointer(rebasing: buffer[20...])
            tcp[0] = 0x04; tcp[1] = 0xD2; tcp[2] = 0; tcp[3] = 80; tcp[12] = 0x50; tcp[13] = 0x02
            IPv4Repr(source: source, destination: Self.ourAddress, protocol: .tcp, payloadLength: 20).emit(into: buffer)
        }
    }

    @Test func aLANDSynReachesNoConnectionAndSendsNothing() {
        var interface = makeInterface()
        interface.device.incoming.append(tcpFrame(from: Self.ourAddress))
        var delivered = 0
        interface.poll(now: 1_000) { _, _, _ in delivered += 1 }
        #expect(delivered == 0)
        #expect(interface.statistics.martians == 1)
        #expect(interface.device.sent.isEmpty, "no ARP for our own address")
        // The same SYN from a real peer is delivered.
        interface.device.incoming.append(tcpFrame(from: gatewayIP))
        interface.poll(now: 2_000) { _, _, _ in delivered += 1 }
        #expect(delivered == 1)
    }

    @Test(arguments: [IPv4Address(0, 0, 0, 0), IPv4Address(127, 0, 0, 1), IPv4Address(224, 0, 0, 1),
                      IPv4Address(240, 0, 0, 1), IPv4Address(255, 255, 255, 255), IPv4Address(10, 0, 2, 255),
                      IPv4Address(10, 0, 2, 15)])
    func echoRequestsFromImpossibleSourcesAreNotAnswered(_ source: IPv4Address) {
        var interface = makeInterface()
        interface.device.incoming.append(echoFrame(.echoRequest(identifier: 1, sequenceNumber: 1), from: gatewayMAC, ip: source,
                                                   to: interface.macAddress, destination: Self.ourAddress, data: [1, 2]))
        interface.poll(now: 1_000)
        #expect(interface.statistics.echoRequestsAnswered == 0)
        #expect(interface.statistics.martians == 1)
        #expect(interface.device.sent.isEmpty)
    }

    @Test func aGroupEthernetSourceIsDroppedAndARealPeerAnswered() {
        var interface = makeInterface()
        interface.device.incoming.append(echoFrame(.echoRequest(identifier: 1, sequenceNumber: 1), from: .broadcast, ip: gatewayIP,
                                                   to: interface.macAddress, destination: Self.ourAddress, data: [1]))
        interface.device.incoming.append(arpFrame(.request, from: gatewayMAC, ip: gatewayIP, to: .zero,
                                                  targetIP: Self.ourAddress, ethernetDestination: .broadcast))
        interface.device.incoming.append(echoFrame(.echoRequest(identifier: 2, sequenceNumber: 1), from: gatewayMAC, ip: gatewayIP,
                                                   to: interface.macAddress, destination: Self.ourAddress, data: [1]))
        interface.poll(now: 1_000)
        #expect(interface.statistics.martians == 1)
        #expect(interface.statistics.echoRequestsAnswered == 1)
    }
}

/// Packets for a hop that does not answer ARP (the hardening issue's item 2): the hold queue takes
/// every packet — a refusal made TCP retry at once and spin — but keeps at most 3 per hop and 16 in
/// all, dropping the oldest, and what is still held goes out in order when the reply comes.
@Suite struct ARPHoldQueueTests {
    @Test func anUnresolvedHopNeverRefusesAndHoldsItsThreeNewestPackets() throws {
        var interface = makeInterface()
        let silent = IPv4Address(10, 0, 2, 77)
        for sequence in 1 ... 5 {
            let accepted = interface.ping(silent, identifier: 9, sequenceNumber: UInt16(sequence), now: UInt64(sequence))
            #expect(accepted)
        }
        #expect(interface.statistics.heldDropped == 2)
        interface.device.sent.removeAll()
        let mac = MACAddress(0x52, 0x54, 0, 0, 0, 0x77)
        interface.device.incoming.append(arpFrame(.reply, from: mac, ip: silent, to: interface.macAddress,
                                                  targetIP: IPv4Address(10, 0, 2, 15), ethernetDestination: interface.macAddress))
        interface.poll(now: 100)
        let sequences = try interface.device.sent.map { sent in
            try sent.withUnsafeBytes { raw -> UInt16 in
                let ip = try IPv4Packet(checking: EthernetFrame(checking: raw).payload)
                guard case .echoRequest(_, let sequence) = try ICMPv4Repr(parsing: ICMPv4Packet(checking: ip.payload)) else { return 0 }
                return sequence
            }
        }
        #expect(sequences == [3, 4, 5])
    }

    @Test func manySilentHopsHoldSixteenPacketsInAll() {
        var interface = makeInterface()
        for host in 100 ..< 120 {
            let accepted = interface.ping(IPv4Address(10, 0, 2, UInt8(host)), identifier: 1, sequenceNumber: 1, now: 1)
            #expect(accepted)
        }
        #expect(interface.statistics.heldDropped == 4)
    }
}
