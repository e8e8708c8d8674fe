// NetWire's link layer: MAC addresses (text form, group and local bits), Ethernet II headers, and ARP
// (RFC 826) for IPv4 over Ethernet, on the slirp fixtures, plus the packets ARPRepr must refuse.

import NetWire
import Testing

@Suite struct NetWireEthernetARPTests {
    // MARK: MAC addresses

    @Test func macAddressFormatsAsLowercaseColonSeparatedHex() {
        #expect(Fixture.gatewayMAC.description == "52:55:0a:00:02:02")
        #expect(MACAddress.broadcast.description == "ff:ff:ff:ff:ff:ff")
        #expect(MACAddress.zero.description == "00:00:00:00:00:00")
        #expect("\(MACAddress(0xde, 0xad, 0xbe, 0xef, 0x00, 0x01))" == "de:ad:be:ef:00:01")
    }

    @Test func macAddressParsesItsTextFormStrictly() {
        #expect(MACAddress("52:55:0a:00:02:02") == Fixture.gatewayMAC)
        #expect(MACAddress("52-54-00-12-34-56") == Fixture.guestMAC)
        #expect(MACAddress("FF:FF:FF:FF:FF:FF") == .broadcast)
        for bad in ["", "52:55:0a:00:02", "52:55:0a:00:02:02:", "52:55:0a:00:02:2", "52:55:0a:00:02:0g",
                    "52:55-0a:00:02:02", "525:5:0a:00:02:02", " 52:55:0a:00:02:02", "52:55:0a:00:02:022"] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
        for address in [Fixture.guestMAC, Fixture.gatewayMAC, .broadcast, .zero] {
            #expect(MACAddress(address.description) == address)
        }
    }

    @Test func macAddressGroupAndLocalBits() {
        #expect(MACAddress.broadcast.isBroadcast && MACAddress.broadcast.isMulticast)
        #expect(MACAddress(0x01, 0x00, 0x5e, 0x00, 0x00, 0x01).isMulticast)       // IPv4 multicast group
        #expect(Fixture.guestMAC.isUnicast && Fixture.guestMAC.isLocallyAdministered)
        #expect(!MACAddress(0x00, 0x1b, 0x21, 0x00, 0x00, 0x01).isLocallyAdministered)
        #expect(Fixture.gatewayMAC[0] == 0x52 && Fixture.gatewayMAC[5] == 0x02)
        #expect(MACAddress(rawValue: 0xFFFF_5255_0a00_0202) == Fixture.gatewayMAC)
    }

    // MARK: Ethernet II

    @Test func ethernetHeaderFieldsOfTheARPRequest() throws {
        let repr = try wire(Fixture.arpRequest) { buffer throws(WireError) in
            try EthernetRepr(parsing: try EthernetFrame(checking: buffer))
        }.get()
        #expect(repr == EthernetRepr(source: Fixture.guestMAC, destination: .broadcast, etherType: .arp))
        #expect(wire(Fixture.arpRequest) { buffer throws(WireError) in
            try EthernetFrame(checking: buffer).payload.count
        } == .success(28))
    }

    @Test func ethernetFrameShorterThanItsHeaderIsTruncated() {
        for length in 0..<14 {
            #expect(wire(Array(Fixture.tcpSYN[..<length])) { buffer throws(WireError) in
                try EthernetFrame(checking: buffer).etherType
            } == .failure(.truncated))
        }
        #expect(wire(Array(Fixture.tcpSYN[..<14])) { buffer throws(WireError) in
            try EthernetFrame(checking: buffer).payload.count
        } == .success(0))
    }

    @Test func ieee8023LengthFieldIsUnsupported() {
        var frame = Fixture.arpRequest
        frame[12] = 0x05
        frame[13] = 0xdc                                         // 1500: an 802.3 length, an LLC frame
        #expect(parseFrame(frame) == .failure(.unsupported))
        frame[12] = 0x06
        frame[13] = 0x00                                         // 0x0600: the first EtherType
        #expect(wire(frame) { buffer throws(WireError) in
            try EthernetRepr(parsing: try EthernetFrame(checking: buffer)).etherType
        } == .success(EtherType(rawValue: 0x0600)))
    }

    // MARK: ARP

    @Test func rfc826RequestFromTheGuestForTheGateway() throws {
        let parsed = try parseFrame(Fixture.arpRequest).get()
        #expect(parsed.network == .arp(ARPRepr(
            operation: .request, senderHardwareAddress: Fixture.guestMAC, senderProtocolAddress: Fixture.guestIP,
            targetHardwareAddress: .zero, targetProtocolAddress: Fixture.gatewayIP)))
    }

    @Test func rfc826ReplyFromSlirpIgnoresTheFramePadding() throws {
        let parsed = try parseFrame(Fixture.arpReply).get()
        #expect(parsed.ethernet == EthernetRepr(source: Fixture.gatewayMAC, destination: Fixture.guestMAC,
                                                etherType: .arp))
        #expect(parsed.network == .arp(ARPRepr(
            operation: .reply, senderHardwareAddress: Fixture.gatewayMAC, senderProtocolAddress: Fixture.gatewayIP,
            targetHardwareAddress: Fixture.guestMAC, targetProtocolAddress: Fixture.guestIP)))
        #expect(wire(Array(Fixture.arpReply[14...])) { buffer throws(WireError) in
            try ARPPacket(checking: buffer).length
        } == .success(28))
    }

    @Test func arpViewExposesTheRawAddressesItsLengthsDeclare() throws {
        let packet = Array(Fixture.arpReply[14...])
        let fields = try wire(packet) { buffer throws(WireError) in
            let arp = try ARPPacket(checking: buffer)
            return [Array(arp.senderHardwareAddress), Array(arp.senderProtocolAddress),
                    Array(arp.targetHardwareAddress), Array(arp.targetProtocolAddress)]
        }.get()
        #expect(fields == [[0x52, 0x55, 0x0a, 0x00, 0x02, 0x02], [10, 0, 2, 2],
                           [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], [10, 0, 2, 15]])
    }

    @Test func rfc826AnsweringTheRequestEmitsSlirpsReply() {
        // The reply swaps sender and target and fills in the resolved hardware address.
        let reply = ARPRepr(operation: .reply, senderHardwareAddress: Fixture.gatewayMAC,
                            senderProtocolAddress: Fixture.gatewayIP, targetHardwareAddress: Fixture.guestMAC,
                            targetProtocolAddress: Fixture.guestIP)
        let frame = emitted(64) { buffer in
            EthernetRepr(source: Fixture.gatewayMAC, destination: Fixture.guestMAC, etherType: .arp)
                .emit(into: buffer)
            reply.emit(into: UnsafeMutableRawBufferPointer(rebasing: buffer[14...]))
        }
        #expect(frame == Fixture.arpReply)
    }

    @Test func arpAddressesRunningPastTheBufferAreTruncated() {
        var packet = Array(Fixture.arpRequest[14...])
        packet[4] = 7                                            // hlen 7: 30 bytes declared, 28 present
        #expect(wire(packet) { buffer throws(WireError) in try ARPPacket(checking: buffer).length }
                == .failure(.truncated))
        packet[4] = 255
        packet[5] = 255
        #expect(wire(packet) { buffer throws(WireError) in try ARPPacket(checking: buffer).length }
                == .failure(.truncated))
    }

    @Test func arpForOtherHardwareOrProtocolTypesIsUnsupported() {
        func parse(_ change: (inout [UInt8]) -> Void) -> Result<ARPRepr, WireError> {
            var packet = Array(Fixture.arpRequest[14...]) + [UInt8](repeating: 0, count: 32)
            change(&packet)
            return wire(packet) { buffer throws(WireError) in try ARPRepr(parsing: try ARPPacket(checking: buffer)) }
        }
        #expect(parse { $0[1] = 6 } == .failure(.unsupported))                  // IEEE 802 networks
        #expect(parse { $0[2] = 0x86; $0[3] = 0xdd; $0[5] = 16 } == .failure(.unsupported))     // IPv6
        #expect(parse { $0[4] = 8 } == .failure(.malformed))                    // Ethernet with 8-byte addresses
        #expect(parse { $0[5] = 16 } == .failure(.malformed))                   // IPv4 with 16-byte addresses
        #expect(parse { $0[7] = 3 } == .failure(.unsupported))                  // RARP request
        #expect(parse { $0[7] = 0 } == .failure(.unsupported))
        #expect(parse { _ in } == .success(ARPRepr(
            operation: .request, senderHardwareAddress: Fixture.guestMAC, senderProtocolAddress: Fixture.guestIP,
            targetHardwareAddress: .zero, targetProtocolAddress: Fixture.gatewayIP)))
    }
}
