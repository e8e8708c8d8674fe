// DNSMessage (lib/net/dns-client/DNSMessage.swift): reading responses, and building queries. Input: a DNS
// response; its first two bytes (the ID) are also the ID the parser is told to expect, so responses
// are not all rejected as someone else's.
//
// Checks on a response: an accepted answer has at most as many addresses as the answer count, and a
// TTL of 0 when it has none; the result depends only on the bytes the parser reached, so appending
// bytes to an accepted response changes nothing. Errors that the header decides (not a response,
// truncated, name error, server error) are the same with bytes appended too.
// Checks on a query: the input (up to its first zero byte, at most 300 bytes) used as a name either
// is refused as invalid or encodes to labels of 1-63 bytes, at most 255 in all, type A, class IN;
// that query turned into a response with one compressed A record parses to that record.

import DNSClient
import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let id = size >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : 0
    checkResponse(bytes, id: id)
    checkQuery(bytes, id: id)
    return 0
}

func parse(_ bytes: UnsafeRawBufferPointer, id: UInt16) -> Result<DNSAnswer, DNSError> {
    do throws(DNSError) {
        return .success(try DNSMessage.parseResponse(bytes, id: id))
    } catch {
        return .failure(error)
    }
}

func checkResponse(_ bytes: UnsafeRawBufferPointer, id: UInt16) {
    let result = parse(bytes, id: id)
    if case .success(let answer) = result {
        let answerCount = Int(bytes[6]) << 8 | Int(bytes[7])
        precondition(answer.addresses.count <= answerCount, "DNS: more addresses than answers")
        precondition(!answer.addresses.isEmpty || answer.timeToLive == 0, "DNS: a TTL without addresses")
    }
    if case .failure(.malformed) = result { return }
    let longer = Array(bytes) + [0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 10, 0, 2, 3]
    precondition(longer.withUnsafeBytes { parse($0, id: id) } == result, "DNS: appended bytes changed the answer")
}

func checkQuery(_ bytes: UnsafeRawBufferPointer, id: UInt16) {
    let nameBytes = bytes.prefix(300).prefix { $0 != 0 }
    let name = String(decoding: nameBytes, as: UTF8.self)
    guard var query = try? DNSMessage.query(id: id, name: name) else { return }
    precondition(query[0] == UInt8(id >> 8) && query[1] == UInt8(id & 0xFF) && query[2] == 0x01, "DNS query: header")
    var offset = 12, encoded = 0
    while query[offset] != 0 {
        let length = Int(query[offset])
        precondition(length >= 1 && length <= 63, "DNS query: label length")
        offset += 1 + length
        encoded += 1 + length
    }
    precondition(encoded + 1 <= 255, "DNS query: name too long")
    precondition(Array(query[offset...]) == [0, 0, 1, 0, 1], "DNS query: type and class")

    // The server's answer: QR set, one answer, a pointer to the question's name, type A, class IN.
    query[2] |= 0x80
    query[7] = 1
    query += [0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0E, 0x10, 0x00, 0x04, 192, 0, 2, 1]
    let answer = query.withUnsafeBytes { parse($0, id: id) }
    precondition(answer == .success(DNSAnswer(addresses: [IPv4Address(192, 0, 2, 1)], timeToLive: 3600)),
                 "DNS: the answer to our own query")
}
