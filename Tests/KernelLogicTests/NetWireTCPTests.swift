// NetWire's TCP header (RFC 9293 section 3.1): the Linux SYN, slirp's SYN-ACK and a data segment; the
// data offset checks; option parsing (MSS, window scale, SACK-permitted, timestamps, NOP, EOL, unknown
// kinds) and the malformed option lengths that must be rejected; the checksum over the pseudo-header;
// and the option layouts `emit` writes.

import NetWire
import Testing

func parseTCP(_ bytes: [UInt8], source: IPv4Address = Fixture.guestIP,
              destination: IPv4Address = Fixture.gatewayIP) -> Result<TCPRepr, WireError> {
    wire(bytes) { buffer throws(WireError) in
        try TCPRepr(parsing: try TCPPacket(checking: buffer), source: source, destination: destination)
    }
}

/// The options of a segment as the view iterates them.
func tcpOptions(_ bytes: [UInt8]) -> Result<[TCPOption], WireError> {
    wire(bytes) { buffer throws(WireError) in Array(try TCPPacket(checking: buffer).options) }
}

/// A SYN from the guest to the gateway with `options` (padded by the caller to a multiple of 4) and a
/// correct checksum.
func tcpSegment(options: [UInt8], payload: [UInt8] = []) -> [UInt8] {
    precondition(options.count % 4 == 0)
    let headerLength = 20 + options.count
    var bytes: [UInt8] = [0xc8, 0x22, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, UInt8(headerLength / 4) << 4, 0x02,
                          0xfa, 0xf0, 0, 0, 0, 0] + options + payload
    var sum = InternetChecksum()
    sum.addPseudoHeader(source: Fixture.guestIP, destination: Fixture.gatewayIP, protocol: .tcp,
                        length: UInt16(bytes.count))
    bytes.withUnsafeBytes { sum.add($0) }
    bytes[16] = UInt8(sum.checksum >> 8)
    bytes[17] = UInt8(sum.checksum & 0xff)
    return bytes
}

@Suite struct NetWireTCPTests {
    static let syn = Fixture.transport(Fixture.tcpSYN)
    static let synAck = Fixture.transport(Fixture.tcpSYNACK)
    static let data = Fixture.transport(Fixture.tcpData)

    // MARK: Fixtures

    @Test func rfc9293HeaderOfALinuxSYN() throws {
        let repr = try parseTCP(Self.syn).get()
        #expect(repr == TCPRepr(
            sourcePort: 51234, destinationPort: 8080, sequenceNumber: 0x5b2c_7d01, flags: .syn, window: 64240,
            options: TCPOptions(maximumSegmentSize: 1460, windowScale: 7, sackPermitted: true,
                                timestamps: TCPTimestamps(value: 0x9f3c_2a10, echoReply: 0))))
        #expect(repr.headerLength == 40)
        let header = try wire(Self.syn) { buffer throws(WireError) in
            let tcp = try TCPPacket(checking: buffer)
            return [tcp.headerLength, Int(tcp.reserved), Int(tcp.checksum), Int(tcp.urgentPointer), tcp.payload.count]
        }.get()
        #expect(header == [40, 0, 0xabd1, 0, 0])
    }

    @Test func linuxSYNOptionsInTheOrderLinuxWritesThem() {
        #expect(tcpOptions(Self.syn) == .success([
            .maximumSegmentSize(1460), .sackPermitted, .timestamps(value: 0x9f3c_2a10, echoReply: 0),
            .noOperation, .windowScale(7),
        ]))
    }

    @Test func linuxSYNIsEmittedByteForByte() throws {
        let repr = try parseTCP(Self.syn).get()
        let segment = emitted(repr.headerLength) { buffer in
            repr.emit(into: buffer, source: Fixture.guestIP, destination: Fixture.gatewayIP)
        }
        #expect(segment == Self.syn)
    }

    @Test func slirpSYNACKAcknowledgesTheSYNAndCarriesOnlyMSS() throws {
        let synAck = try parseTCP(Self.synAck, source: Fixture.gatewayIP, destination: Fixture.guestIP).get()
        let syn = try parseTCP(Self.syn).get()
        #expect(synAck.flags == [.syn, .ack] && synAck.acknowledgmentNumber == syn.sequenceNumber &+ 1)
        #expect(synAck.options == TCPOptions(maximumSegmentSize: 1460))
        #expect(synAck.window == 65535 && synAck.sequenceNumber == 0x00fa_0001 && synAck.headerLength == 24)
    }

    @Test func dataSegmentCarriesItsPayloadAfterTheHeader() throws {
        let repr = try parseTCP(Self.data).get()
        #expect(repr.flags == [.psh, .ack] && repr.options == TCPOptions() && repr.headerLength == 20)
        let payload = try wire(Self.data) { buffer throws(WireError) in Array(try TCPPacket(checking: buffer).payload) }
            .get()
        #expect(payload == Array("GET /a HTTP/1.0\r\n\r\n".utf8))
        let segment = emitted(20 + payload.count, payload: payload, at: 20) { buffer in
            repr.emit(into: buffer, source: Fixture.guestIP, destination: Fixture.gatewayIP)
        }
        #expect(segment == Self.data)
    }

    // MARK: Lengths

    @Test func rfc9293DataOffsetBelowFiveIsMalformed() {
        for offset: UInt8 in 0..<5 {
            var segment = Self.data
            segment[12] = offset << 4
            #expect(parseTCP(segment) == .failure(.malformed), "data offset \(offset)")
        }
    }

    @Test func rfc9293DataOffsetBeyondTheSegmentIsTruncated() {
        var segment = Self.synAck                                 // 24 bytes
        segment[12] = 7 << 4                                      // a 28-byte header
        #expect(parseTCP(segment) == .failure(.truncated))
        segment[12] = 15 << 4
        #expect(parseTCP(segment + [UInt8](repeating: 1, count: 35)) == .failure(.truncated))
        for length in 0..<20 {
            #expect(parseTCP(Array(Self.data[..<length])) == .failure(.truncated), "\(length) bytes")
        }
    }

    @Test func aShortenedSegmentFailsItsChecksum() {
        // TCP has no length field: a segment cut after its header is a shorter segment, which the
        // checksum (computed over the length in the pseudo-header) rejects.
        for length in 20..<Self.data.count {
            #expect(parseTCP(Array(Self.data[..<length])) == .failure(.badChecksum), "\(length) bytes")
        }
        for length in 20..<Self.syn.count {
            let result = parseTCP(Array(Self.syn[..<length]))
            #expect(result == .failure(.truncated) || result == .failure(.malformed), "\(length) bytes")
        }
    }

    // MARK: Options

    @Test func rfc9293MalformedOptionLengthsAreRejected() {
        let cases: [(String, [UInt8])] = [
            ("length 0", [0x1e, 0x00, 0x00, 0x00]),
            ("length 1", [0x1e, 0x01, 0x00, 0x00]),
            ("running past the header", [0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00]),
            ("unknown kind running past the header", [0x01, 0x01, 0x1e, 0x03]),
            ("no length byte at the end", [0x01, 0x01, 0x01, 0x02]),
            ("MSS of length 3", [0x02, 0x03, 0x05, 0x00]),
            ("MSS of length 6", [0x02, 0x06, 0x05, 0xb4, 0x00, 0x00, 0x00, 0x00]),
            ("window scale of length 4", [0x03, 0x04, 0x07, 0x00]),
            ("window scale of length 2", [0x03, 0x02, 0x01, 0x01]),
            ("SACK-permitted of length 3", [0x04, 0x03, 0x00, 0x00]),
            ("timestamps of length 8", [0x08, 0x08, 0, 0, 0, 0, 0, 0]),
            ("SACK with half a block", [0x05, 0x06, 0, 0, 0, 0, 0, 0]),
            ("SACK of length 2", [0x05, 0x02, 0x00, 0x00]),
        ]
        for (name, options) in cases {
            #expect(parseTCP(tcpSegment(options: options)) == .failure(.malformed), "\(name)")
            #expect(wire(options) { buffer throws(WireError) in try TCPOptionList(checking: buffer).bytes.count }
                    == .failure(.malformed), "\(name)")
        }
    }

    @Test func rfc9293UnknownOptionsAreSkipped() throws {
        // Kind 30 (MPTCP) with 4 data bytes, then SACK blocks: skipped; the MSS after them is read.
        let options: [UInt8] = [0x1e, 0x06, 1, 2, 3, 4, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, 0x02, 0x04, 0x02, 0x18]
        let segment = tcpSegment(options: options)
        #expect(tcpOptions(segment) == .success([
            .unknown(kind: 0x1e, length: 6), .unknown(kind: 5, length: 10), .maximumSegmentSize(536),
        ]))
        #expect(try parseTCP(segment).get().options == TCPOptions(maximumSegmentSize: 536))
    }

    @Test func rfc9293EndOfOptionListEndsParsingAndPaddingIsIgnored() throws {
        let segment = tcpSegment(options: [0x03, 0x03, 0x02, 0x00, 0x02, 0xff, 0xff, 0xff])
        #expect(tcpOptions(segment) == .success([.windowScale(2), .endOfOptionList]))
        #expect(try parseTCP(segment).get().options == TCPOptions(windowScale: 2))
        #expect(tcpOptions(tcpSegment(options: [0x01, 0x01, 0x01, 0x01])) == .success(
            [.noOperation, .noOperation, .noOperation, .noOperation]))
    }

    @Test func theLastOccurrenceOfAnOptionWins() throws {
        let segment = tcpSegment(options: [0x02, 0x04, 0x05, 0xb4, 0x02, 0x04, 0x02, 0x18])
        #expect(try parseTCP(segment).get().options.maximumSegmentSize == 536)
    }

    @Test func everyOptionLayoutRoundTrips() throws {
        for mask in 0..<16 {
            let options = TCPOptions(
                maximumSegmentSize: mask & 1 != 0 ? 1460 : nil, windowScale: mask & 2 != 0 ? 14 : nil,
                sackPermitted: mask & 4 != 0,
                timestamps: mask & 8 != 0 ? TCPTimestamps(value: 0xdead_beef, echoReply: 0x0102_0304) : nil)
            let repr = TCPRepr(sourcePort: 1, destinationPort: 2, sequenceNumber: 3, acknowledgmentNumber: 4,
                               flags: [.syn, .ack, .ece, .cwr], window: 5, urgentPointer: 6, options: options)
            #expect(repr.headerLength % 4 == 0 && repr.headerLength <= 40)
            let segment = emitted(repr.headerLength + 3, payload: [7, 8, 9], at: repr.headerLength) { buffer in
                repr.emit(into: buffer, source: Fixture.guestIP, destination: Fixture.gatewayIP)
            }
            #expect(parseTCP(segment) == .success(repr), "options \(mask)")
        }
    }

    @Test func timestampsWithoutSACKArePrecededByTwoNOPs() {
        let repr = TCPRepr(sourcePort: 1, destinationPort: 2, sequenceNumber: 3, flags: .ack, window: 4,
                           options: TCPOptions(timestamps: TCPTimestamps(value: 1, echoReply: 2)))
        let segment = emitted(repr.headerLength) { buffer in
            repr.emit(into: buffer, source: Fixture.guestIP, destination: Fixture.gatewayIP)
        }
        #expect(Array(segment[20...]) == [0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2])
    }

    // MARK: Checksum

    @Test func rfc9293ChecksumCoversThePseudoHeaderHeaderAndData() {
        #expect(parseTCP(Self.data, destination: Fixture.dnsIP) == .failure(.badChecksum))
        for index in [0, 4, 13, 19, 20, Self.data.count - 1] {
            var segment = Self.data
            segment[index] ^= 0x04
            #expect(parseTCP(segment) == .failure(.badChecksum), "byte \(index)")
        }
        var zero = Self.data                                      // no "no checksum" value in TCP
        zero[16] = 0
        zero[17] = 0
        #expect(parseTCP(zero) == .failure(.badChecksum))
    }
}
