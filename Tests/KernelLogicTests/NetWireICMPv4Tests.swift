// NetWire's ICMPv4 (RFC 792): echo request and reply on the ping fixtures, the checksum over the whole
// message, and the messages the representation refuses.

import NetWire
import Testing

func parseICMPv4(_ bytes: [UInt8]) -> Result<ICMPv4Repr, WireError> {
    wire(bytes) { buffer throws(WireError) in try ICMPv4Repr(parsing: try ICMPv4Packet(checking: buffer)) }
}

/// `message` with its ICMP checksum recomputed.
func withICMPChecksum(_ message: [UInt8]) -> [UInt8] {
    var bytes = message
    bytes[2] = 0
    bytes[3] = 0
    let checksum = bytes.withUnsafeBytes { InternetChecksum.checksum($0) }
    bytes[2] = UInt8(checksum >> 8)
    bytes[3] = UInt8(checksum & 0xff)
    return bytes
}

@Suite struct NetWireICMPv4Tests {
    static let pingData: [UInt8] = Array(Fixture.transport(Fixture.icmpEchoRequest)[8...])

    @Test func rfc792EchoRequestFromLinuxPing() throws {
        let message = Fixture.transport(Fixture.icmpEchoRequest)
        #expect(parseICMPv4(message) == .success(.echoRequest(identifier: 7, sequenceNumber: 1)))
        let data = try wire(message) { buffer throws(WireError) in
            let icmp = try ICMPv4Packet(checking: buffer)
            #expect(icmp.messageType == .echoRequest && icmp.code == 0 && icmp.checksum == 0x1043)
            #expect(icmp.identifier == 7 && icmp.sequenceNumber == 1 && icmp.restOfHeader == 0x0007_0001)
            return Array(icmp.data)
        }.get()
        #expect(data.count == 56 && Array(data[16...]) == Array(0x10...0x37))
    }

    @Test func rfc792EchoReplyEchoesIdentifierSequenceAndData() throws {
        let request = try parseICMPv4(Fixture.transport(Fixture.icmpEchoRequest)).get()
        let reply = try #require(request.reply)
        #expect(reply == .echoReply(identifier: 7, sequenceNumber: 1))
        #expect(reply.reply == nil)
        let message = emitted(8 + Self.pingData.count, payload: Self.pingData, at: 8) { reply.emit(into: $0) }
        #expect(message == Fixture.transport(Fixture.icmpEchoReply))     // slirp's reply, byte for byte
    }

    @Test func rfc792ChecksumCoversTheWholeMessage() {
        var message = Fixture.transport(Fixture.icmpEchoRequest)
        message[message.count - 1] ^= 0x01                        // the last data byte
        #expect(parseICMPv4(message) == .failure(.badChecksum))
        message = Fixture.transport(Fixture.icmpEchoRequest)
        message[6] ^= 0x80                                        // the sequence number
        #expect(parseICMPv4(message) == .failure(.badChecksum))
        message = Fixture.transport(Fixture.icmpEchoRequest)
        #expect(parseICMPv4(message + [0x00, 0x01]) == .failure(.badChecksum))   // data the sender did not sum
    }

    @Test func echoWithOddLengthDataRoundTrips() {
        for count in [0, 1, 3, 57] {
            let data = (0..<count).map { UInt8(truncatingIfNeeded: 0xa5 &+ $0) }
            let repr = ICMPv4Repr.echoRequest(identifier: 0xffff, sequenceNumber: UInt16(count))
            let message = emitted(8 + count, payload: data, at: 8) { repr.emit(into: $0) }
            #expect(parseICMPv4(message) == .success(repr), "\(count) data bytes")
        }
    }

    @Test func messageShorterThanEightBytesIsTruncated() {
        let message = Fixture.transport(Fixture.icmpEchoRequest)
        for length in 0..<8 {
            #expect(parseICMPv4(Array(message[..<length])) == .failure(.truncated))
        }
    }

    @Test func rfc792EchoWithNonZeroCodeIsMalformed() {
        var message = Fixture.transport(Fixture.icmpEchoRequest)
        message[1] = 1
        #expect(parseICMPv4(withICMPChecksum(message)) == .failure(.malformed))
    }

    @Test func otherMessageTypesAreUnsupportedButVisibleInTheView() throws {
        // Destination unreachable, port unreachable, quoting an IP header: a valid message, not an echo.
        let unreachable = withICMPChecksum([3, 3, 0, 0, 0, 0, 0, 0] + Fixture.ipv4Packet(Fixture.udpDNSQuery)[..<28])
        #expect(parseICMPv4(unreachable) == .failure(.unsupported))
        let typeAndCode = try wire(unreachable) { buffer throws(WireError) in
            let icmp = try ICMPv4Packet(checking: buffer)
            return [icmp.messageType.rawValue, icmp.code, UInt8(icmp.data.count)]
        }.get()
        #expect(typeAndCode == [ICMPv4Type.destinationUnreachable.rawValue, 3, 28])
        #expect(parseICMPv4(withICMPChecksum([13, 0, 0, 0, 0, 1, 0, 2])) == .failure(.unsupported))  // timestamp
    }
}
