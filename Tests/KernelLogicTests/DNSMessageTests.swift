// DNS queries and responses (RFC 1035 section 4): encoding, compression pointers, errors, hostile input.

import DNSClient
import NetWire
import Testing

/// A response to `query`: header flags, the question copied, then the given answer records.
func response(to query: [UInt8], flags: UInt16 = 0x8180, answers: [[UInt8]]) -> [UInt8] {
    var bytes = query
    bytes[2] = UInt8(flags >> 8); bytes[3] = UInt8(flags & 0xFF)
    bytes[6] = 0; bytes[7] = UInt8(answers.count)
    for answer in answers { bytes += answer }
    return bytes
}

/// An A record whose name is a pointer to the question (offset 12).
func aRecord(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, ttl: UInt32 = 300) -> [UInt8] {
    [0xC0, 12, 0, 1, 0, 1, UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF),
     0, 4, a, b, c, d]
}

func parse(_ bytes: [UInt8], id: UInt16) -> Result<DNSAnswer, DNSError> {
    bytes.withUnsafeBytes { raw in
        do throws(DNSError) { return .success(try DNSMessage.parseResponse(raw, id: id)) } catch { return .failure(error) }
    }
}

@Suite struct DNSMessageTests {
    @Test func rfc1035QueryEncodesLabelsTypeAAndClassIN() throws {
        let query = try DNSMessage.query(id: 0xBEEF, name: "www.example.com.")
        #expect(Array(query[0..<12]) == [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(Array(query[12...]) == [3] + Array("www".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8)
                + [0, 0, 1, 0, 1])
    }

    @Test func rfc1035NamesThatCannotBeEncodedAreRefused() {
        for name in ["", ".", "a..b", String(repeating: "x", count: 64) + ".com",
                     Array(repeating: String(repeating: "y", count: 60), count: 5).joined(separator: ".")] {
            #expect(throws: DNSError.invalidName) { try DNSMessage.query(id: 1, name: name) }
        }
    }

    @Test func rfc1035AnswersWithCompressedNamesYieldEveryARecordAndTheSmallestTTL() throws {
        let query = try DNSMessage.query(id: 7, name: "example.com")
        let cname: [UInt8] = [0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xC0, 12]        // alias: skipped
        let reply = response(to: query, answers: [cname, aRecord(93, 184, 216, 34, ttl: 300), aRecord(93, 184, 216, 35, ttl: 120)])
        #expect(parse(reply, id: 7) == .success(DNSAnswer(addresses: [IPv4Address(93, 184, 216, 34), IPv4Address(93, 184, 216, 35)],
                                                          timeToLive: 120)))
    }

    @Test func responsesForAnotherIDOrQueriesAreNotOurs() throws {
        let query = try DNSMessage.query(id: 7, name: "example.com")
        #expect(parse(response(to: query, answers: [aRecord(1, 2, 3, 4)]), id: 8) == .failure(.notOurs))
        #expect(parse(query, id: 7) == .failure(.notOurs))                               // QR bit clear
    }

    @Test func rcodesAndTruncationAreReported() throws {
        let query = try DNSMessage.query(id: 9, name: "nowhere.invalid")
        #expect(parse(response(to: query, flags: 0x8183, answers: []), id: 9) == .failure(.nameError))
        #expect(parse(response(to: query, flags: 0x8182, answers: []), id: 9) == .failure(.serverError(2)))
        #expect(parse(response(to: query, flags: 0x8380, answers: []), id: 9) == .failure(.truncated))
    }

    @Test func everyTruncationOfAResponseIsRejectedCleanly() throws {
        let reply = response(to: try DNSMessage.query(id: 3, name: "example.com"), answers: [aRecord(1, 2, 3, 4)])
        for length in 0..<reply.count {
            #expect(parse(Array(reply[0..<length]), id: 3) == .failure(.malformed))
        }
        #expect(parse(reply, id: 3) == .success(DNSAnswer(addresses: [IPv4Address(1, 2, 3, 4)], timeToLive: 300)))
    }

    @Test func compressionPointerLoopsAndWildPointersAreMalformed() throws {
        let query = try DNSMessage.query(id: 4, name: "example.com")
        var looping = response(to: query, answers: [aRecord(1, 2, 3, 4)])
        let answerStart = query.count
        looping[answerStart] = 0xC0; looping[answerStart + 1] = UInt8(answerStart)   // points at itself
        #expect(parse(looping, id: 4) == .failure(.malformed))
        var wild = response(to: query, answers: [aRecord(1, 2, 3, 4)])
        wild[answerStart] = 0xFF; wild[answerStart + 1] = 0xFF                          // far past the end
        #expect(parse(wild, id: 4) == .failure(.malformed))
        var badLength = response(to: query, answers: [aRecord(1, 2, 3, 4)])
        badLength[answerStart + 11] = 5                                                 // an A record of 5 bytes
        #expect(parse(badLength, id: 4) == .failure(.malformed))
    }

    @Test func randomBuffersNeverTrap() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let length = Int(state >> 58) + 12
            var bytes = [UInt8](repeating: 0, count: length)
            for index in bytes.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
            }
            bytes[2] |= 0x80                                                            // a response
            _ = parse(bytes, id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
        }
    }
}
