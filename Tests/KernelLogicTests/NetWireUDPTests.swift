// NetWire's UDP (RFC 768): the DNS query fixture, the length checks, the checksum over the IPv4
// pseudo-header, and the zero checksum meaning "none".

import NetWire
import Testing

func parseUDP(_ bytes: [UInt8], source: IPv4Address = Fixture.guestIP,
              destination: IPv4Address = Fixture.dnsIP) -> Result<UDPRepr, WireError> {
    wire(bytes) { buffer throws(WireError) in
        try UDPRepr(parsing: try UDPPacket(checking: buffer), source: source, destination: destination)
    }
}

@Suite struct NetWireUDPTests {
    static let query = Fixture.transport(Fixture.udpDNSQuery)
    static let dnsMessage = Array(query[8...])

    @Test func rfc768DNSQueryFields() throws {
        #expect(parseUDP(Self.query) == .success(UDPRepr(sourcePort: 45071, destinationPort: 53)))
        let payload = try wire(Self.query) { buffer throws(WireError) in
            let udp = try UDPPacket(checking: buffer)
            #expect(udp.length == 37 && udp.checksum == 0x4db5)
            #expect(udp.verifyChecksum(source: Fixture.guestIP, destination: Fixture.dnsIP))
            return Array(udp.payload)
        }.get()
        #expect(payload.count == 29 && payload[12] == 7 && payload[13] == UInt8(ascii: "e"))
    }

    @Test func rfc768EmitRebuildsTheQueryWithItsChecksum() {
        let repr = UDPRepr(sourcePort: 45071, destinationPort: 53)
        let datagram = emitted(8 + Self.dnsMessage.count, payload: Self.dnsMessage, at: 8) { buffer in
            repr.emit(into: buffer, source: Fixture.guestIP, destination: Fixture.dnsIP)
        }
        #expect(datagram == Self.query)
    }

    @Test func rfc768ChecksumCoversThePseudoHeader() {
        #expect(parseUDP(Self.query, destination: Fixture.gatewayIP) == .failure(.badChecksum))
        #expect(parseUDP(Self.query, source: Fixture.dnsIP, destination: Fixture.guestIP) == .success(
            UDPRepr(sourcePort: 45071, destinationPort: 53)))         // the sum does not see the order
        var corrupted = Self.query
        corrupted[corrupted.count - 1] ^= 0x01
        #expect(parseUDP(corrupted) == .failure(.badChecksum))
        corrupted = Self.query
        corrupted[0] ^= 0x40
        #expect(parseUDP(corrupted) == .failure(.badChecksum))
    }

    @Test func rfc768ZeroChecksumMeansNoneWasComputed() {
        var datagram = Self.query
        datagram[6] = 0
        datagram[7] = 0
        datagram[20] ^= 0xff                                      // not checked without a checksum
        #expect(parseUDP(datagram, destination: Fixture.gatewayIP) == .success(
            UDPRepr(sourcePort: 45071, destinationPort: 53)))
        let unchecked = emitted(8 + Self.dnsMessage.count, payload: Self.dnsMessage, at: 8) { buffer in
            UDPRepr(sourcePort: 1, destinationPort: 2).emit(into: buffer, source: Fixture.guestIP,
                                                            destination: Fixture.dnsIP, checksum: false)
        }
        #expect(unchecked[6] == 0 && unchecked[7] == 0)
    }

    @Test func rfc768ComputedZeroChecksumIsSentAsAllOnes() throws {
        // Choose the last data word (offset 12, word-aligned) so that everything sums to 0xffff: the
        // checksum then computes to 0.
        var data: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0, 0]
        let repr = UDPRepr(sourcePort: 7, destinationPort: 7)
        let first = emitted(8 + data.count, payload: data, at: 8) { buffer in
            repr.emit(into: buffer, source: Fixture.guestIP, destination: Fixture.dnsIP)
        }
        let checksum = UInt16(first[6]) << 8 | UInt16(first[7])
        data[4] = UInt8(checksum >> 8)
        data[5] = UInt8(checksum & 0xff)
        let datagram = emitted(8 + data.count, payload: data, at: 8) { buffer in
            repr.emit(into: buffer, source: Fixture.guestIP, destination: Fixture.dnsIP)
        }
        #expect(datagram[6] == 0xff && datagram[7] == 0xff)
        #expect(parseUDP(datagram) == .success(repr))
        #expect(parseUDP(datagram, destination: Fixture.gatewayIP) == .failure(.badChecksum))
    }

    @Test func rfc768LengthBelowTheHeaderIsMalformed() {
        for length: UInt8 in [0, 1, 7] {
            var datagram = Self.query
            datagram[4] = 0
            datagram[5] = length
            #expect(parseUDP(datagram) == .failure(.malformed), "length \(length)")
        }
    }

    @Test func rfc768LengthBeyondTheBufferIsTruncated() {
        for length in 0..<Self.query.count {
            #expect(parseUDP(Array(Self.query[..<length])) == .failure(.truncated), "\(length) bytes")
        }
        var datagram = Self.query
        datagram[4] = 0xff
        #expect(parseUDP(datagram) == .failure(.truncated))
    }

    @Test func bytesAfterTheUDPLengthAreIgnored() throws {
        let padded = Self.query + [0xde, 0xad]
        #expect(parseUDP(padded) == parseUDP(Self.query))
        #expect(wire(padded) { buffer throws(WireError) in try UDPPacket(checking: buffer).payload.count }
                == .success(29))
    }
}
