// NetWire's IPv4 layer (RFC 791): addresses in dotted decimal, the header fields of the fixtures, the
// length checks (IHL, total length against header and buffer), options, fragment fields, and the
// header checksum.

import NetWire
import Testing

/// Parses an IPv4 packet through the view and the representation.
func parseIPv4(_ bytes: [UInt8]) -> Result<IPv4Repr, WireError> {
    wire(bytes) { buffer throws(WireError) in try IPv4Repr(parsing: try IPv4Packet(checking: buffer)) }
}

/// `packet` with its header checksum recomputed (for building headers the view must then accept).
func withIPv4Checksum(_ packet: [UInt8]) -> [UInt8] {
    var bytes = packet
    let headerLength = Int(bytes[0] & 0x0F) * 4
    bytes[10] = 0
    bytes[11] = 0
    let checksum = bytes.withUnsafeBytes { InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: $0[..<headerLength])) }
    bytes[10] = UInt8(checksum >> 8)
    bytes[11] = UInt8(checksum & 0xff)
    return bytes
}

@Suite struct NetWireIPv4Tests {
    // MARK: Addresses

    @Test func ipv4AddressFormatsAsDottedDecimal() {
        #expect(Fixture.guestIP.description == "10.0.2.15")
        #expect(IPv4Address.broadcast.description == "255.255.255.255")
        #expect(IPv4Address.unspecified.description == "0.0.0.0")
        #expect("\(IPv4Address(192, 168, 100, 7))" == "192.168.100.7")
        #expect(Fixture.guestIP.rawValue == 0x0a00_020f)
    }

    @Test func ipv4AddressParsesDottedDecimalStrictly() {
        #expect(IPv4Address("10.0.2.2") == Fixture.gatewayIP)
        #expect(IPv4Address("255.255.255.255") == .broadcast)
        #expect(IPv4Address("0.0.0.0") == .unspecified)
        for bad in ["", "10.0.2", "10.0.2.2.", ".10.0.2.2", "10..0.2", "10.0.2.256", "10.0.2.02", "010.0.2.2",
                    "10.0.2.2 ", "10.0.2.x", "1.2.3.4.5", "10.0.2.1000", "4294967295", "-1.0.0.0", "1e1.0.0.0"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
        for text in ["10.0.2.15", "1.2.3.4", "100.64.0.1", "224.0.0.251"] {
            #expect(IPv4Address(text)?.description == text)
        }
    }

    @Test func ipv4AddressClasses() {
        #expect(IPv4Address(127, 0, 0, 1).isLoopback)
        #expect(IPv4Address(224, 0, 0, 251).isMulticast && !IPv4Address(240, 0, 0, 1).isMulticast)
        #expect(IPv4Address(169, 254, 3, 4).isLinkLocal)
        #expect(IPv4Address.broadcast.isBroadcast && IPv4Address.unspecified.isUnspecified)
        #expect(Fixture.guestIP[0] == 10 && Fixture.guestIP[3] == 15)
        #expect(Fixture.gatewayIP < Fixture.guestIP)
    }

    // MARK: Header fields

    @Test func rfc791HeaderFieldsOfTheEchoRequest() throws {
        let packet = Fixture.ipv4Packet(Fixture.icmpEchoRequest)
        let fields = try wire(packet) { buffer throws(WireError) in
            let ip = try IPv4Packet(checking: buffer)
            #expect(ip.version == 4 && ip.headerLength == 20 && ip.dscp == 0 && ip.ecn == 0)
            #expect(ip.totalLength == 84 && ip.identification == 0x3c5e)
            #expect(ip.dontFragment && !ip.moreFragments && !ip.reservedFlag && ip.fragmentOffset == 0)
            #expect(!ip.isFragment && ip.timeToLive == 64 && ip.protocol == .icmp && ip.checksum == 0xe63a)
            #expect(ip.options.isEmpty && ip.payload.count == 64 && ip.verifyChecksum())
            return (ip.source, ip.destination)
        }.get()
        #expect(fields == (Fixture.guestIP, Fixture.gatewayIP))
        #expect(parseIPv4(packet) == .success(IPv4Repr(
            source: Fixture.guestIP, destination: Fixture.gatewayIP, protocol: .icmp, payloadLength: 64,
            timeToLive: 64, identification: 0x3c5e, dontFragment: true)))
    }

    @Test func rfc791HeaderOfSlirpsSYNACKHasNoDontFragment() throws {
        let ip = try parseIPv4(Fixture.ipv4Packet(Fixture.tcpSYNACK)).get()
        #expect(ip == IPv4Repr(source: Fixture.gatewayIP, destination: Fixture.guestIP, protocol: .tcp,
                               payloadLength: 24, timeToLive: 64, identification: 0x0010))
    }

    // MARK: Lengths

    @Test func rfc791InternetHeaderLengthBelowFiveWordsIsMalformed() {
        for ihl: UInt8 in 0..<5 {
            var packet = Fixture.ipv4Packet(Fixture.tcpSYN)
            packet[0] = 0x40 | ihl
            #expect(parseIPv4(withIPv4Checksum(packet)) == .failure(.malformed), "IHL \(ihl)")
        }
    }

    @Test func versionOtherThanFourIsMalformed() {
        for version: UInt8 in [0, 5, 6, 15] {
            var packet = Fixture.ipv4Packet(Fixture.tcpSYN)
            packet[0] = version << 4 | 5
            #expect(parseIPv4(packet) == .failure(.malformed), "version \(version)")
        }
    }

    @Test func rfc791HeaderLongerThanTheBufferIsTruncated() {
        var packet = Array(Fixture.ipv4Packet(Fixture.tcpSYNACK)[..<24])
        packet[0] = 0x4f                                          // a 60-byte header in 24 bytes
        #expect(parseIPv4(packet) == .failure(.truncated))
    }

    @Test func rfc791TotalLengthBeyondTheBufferIsTruncated() {
        var packet = Fixture.ipv4Packet(Fixture.udpDNSQuery)
        packet[3] += 1                                           // 58 bytes claimed, 57 present
        #expect(parseIPv4(withIPv4Checksum(packet)) == .failure(.truncated))
        packet[2] = 0xff
        #expect(parseIPv4(withIPv4Checksum(packet)) == .failure(.truncated))
    }

    @Test func rfc791TotalLengthShorterThanTheHeaderIsMalformed() {
        for totalLength: UInt8 in [0, 1, 19] {
            var packet = Fixture.ipv4Packet(Fixture.udpDNSQuery)
            packet[2] = 0
            packet[3] = totalLength
            #expect(parseIPv4(withIPv4Checksum(packet)) == .failure(.malformed), "total length \(totalLength)")
        }
        var withOptions = withIPv4Checksum([0x46, 0, 0, 22] + Fixture.ipv4Packet(Fixture.udpDNSQuery)[4..<20]
                                           + [1, 1, 1, 0] + [0, 0])
        #expect(parseIPv4(withOptions) == .failure(.malformed))     // 22 < a 24-byte header
        withOptions[3] = 24
        #expect(parseIPv4(withIPv4Checksum(withOptions)).map(\.payloadLength) == .success(0))
    }

    @Test func bytesAfterTheTotalLengthAreNotPayload() throws {
        let packet = Fixture.ipv4Packet(Fixture.tcpSYNACK)
        let padded = packet + [UInt8](repeating: 0xee, count: 22)    // Ethernet minimum-frame padding
        #expect(parseIPv4(padded) == parseIPv4(packet))
        #expect(wire(padded) { buffer throws(WireError) in try IPv4Packet(checking: buffer).payload.count }
                == .success(24))
    }

    // MARK: Options, fragments, checksum

    @Test func rfc791OptionsAreLengthCheckedExposedAndDropped() throws {
        // IHL 6: NOP NOP NOP EOL after the fixed header; the representation drops them.
        let original = Fixture.ipv4Packet(Fixture.udpDNSQuery)
        var packet = [0x46, 0x00, 0x00, 57 + 4] + original[4..<20] + [0x01, 0x01, 0x01, 0x00] + original[20...]
        packet = withIPv4Checksum(packet)
        let options = try wire(packet) { buffer throws(WireError) in
            let ip = try IPv4Packet(checking: buffer)
            #expect(ip.headerLength == 24 && ip.payload.count == 37 && ip.payload.first == 0xb0)
            return Array(ip.options)
        }.get()
        #expect(options == [0x01, 0x01, 0x01, 0x00])
        let repr = try parseIPv4(packet).get()
        #expect(repr == (try parseIPv4(original).get()))
        let header = emitted(IPv4Repr.headerLength) { repr.emit(into: $0) }
        #expect(header == Array(original[..<20]))
    }

    @Test func rfc791FragmentFieldsAreExposed() throws {
        let fragment = IPv4Repr(source: Fixture.guestIP, destination: Fixture.gatewayIP, protocol: .udp,
                                payloadLength: 1480, identification: 0x1234, moreFragments: true,
                                fragmentOffset: 2960)
        var packet = emitted(20 + 1480) { fragment.emit(into: $0) }
        #expect(packet[6] == 0x21 && packet[7] == 0x72)            // MF, offset 370 * 8 = 2960
        #expect(parseIPv4(packet) == .success(fragment))
        packet[6] |= 0x80                                          // the reserved bit: exposed, ignored
        let flags = try wire(withIPv4Checksum(packet)) { buffer throws(WireError) in
            let ip = try IPv4Packet(checking: buffer)
            return [ip.reservedFlag, ip.dontFragment, ip.moreFragments, ip.isFragment]
        }.get()
        #expect(flags == [true, false, true, true])
        #expect(parseIPv4(withIPv4Checksum(packet)) == .success(fragment))
    }

    @Test func rfc791CorruptedHeaderChecksumIsDetected() {
        var packet = Fixture.ipv4Packet(Fixture.icmpEchoRequest)
        packet[11] ^= 0x01
        #expect(parseIPv4(packet) == .failure(.badChecksum))
        packet = Fixture.ipv4Packet(Fixture.icmpEchoRequest)
        packet[8] = 63                                             // a router decremented TTL without updating
        #expect(parseIPv4(packet) == .failure(.badChecksum))
        packet = Fixture.ipv4Packet(Fixture.icmpEchoRequest)
        packet[30] ^= 0xff                                         // the payload is not covered
        #expect(parseIPv4(packet).map(\.payloadLength) == .success(64))
    }

    @Test func emitComputesTheHeaderChecksumAndParsesBack() {
        let repr = IPv4Repr(source: IPv4Address(192, 168, 0, 1), destination: IPv4Address(192, 168, 0, 199),
                            protocol: .udp, payloadLength: 95, timeToLive: 64, dscp: 46, ecn: 2,
                            identification: 0xbeef, dontFragment: true)
        let packet = emitted(repr.totalLength) { repr.emit(into: $0) }
        #expect(packet[1] == 46 << 2 | 2)
        #expect(parseIPv4(packet) == .success(repr))
        let known = IPv4Repr(source: IPv4Address(192, 168, 0, 1), destination: IPv4Address(192, 168, 0, 199),
                             protocol: .udp, payloadLength: 95, dontFragment: true)
        let header = emitted(20) { known.emit(into: $0) }
        #expect(header[10] == 0xb8 && header[11] == 0x61)         // the header of the checksum tests
    }
}
