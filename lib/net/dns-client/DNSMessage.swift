// DNSMessage: building A-record queries and reading responses (RFC 1035 section 4), pure logic.
//
// A query is a 12-byte header (ID, flags with RD set, one question) and the question: the name as
// length-prefixed labels (each 1-63 bytes, the whole name at most 255 bytes encoded), type A, class IN.
// A response is untrusted input: every read is bounds-checked, compressed names (RFC 1035 4.1.4) are
// followed at most 16 times, and the answer must match the query's ID and carry the QR bit. A records
// among the answers are collected in order (aliases, CNAME records, are skipped: their targets' A
// records follow in the same answer section). The transport (UDP to port 53, retries) is the caller's.

import NetWire

public enum DNSError: Error, Equatable {
    /// The name cannot be encoded (empty label, label over 63 bytes, name over 255 bytes).
    case invalidName
    case malformed
    /// Not the answer to our query (other ID, or not a response).
    case notOurs
    /// The name does not exist (RCODE 3, NXDOMAIN).
    case nameError
    /// Any other RCODE (2 server failure, 5 refused, ...).
    case serverError(UInt8)
    /// The TC bit: the answer did not fit in UDP (TCP fallback is not implemented).
    case truncated
}

public struct DNSAnswer: Equatable {
    public var addresses: [IPv4Address]
    /// The smallest TTL among the A records, in seconds.
    public var timeToLive: UInt32

    public init(addresses: [IPv4Address], timeToLive: UInt32) {
        self.addresses = addresses
        self.timeToLive = timeToLive
    }
}

public enum DNSMessage {
    public static let port: UInt16 = 53

    /// An A-record query for `name` ("example.com", a trailing dot allowed) with `id`.
    public static func query(id: UInt16, name: String) throws(DNSError) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        var labels = name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.last?.isEmpty == true { labels.removeLast() }
        guard !labels.isEmpty else { throw .invalidName }
        var encoded = 0
        for label in labels {
            guard !label.isEmpty, label.count <= 63 else { throw .invalidName }
            bytes.append(UInt8(label.count))
            bytes += label
            encoded += 1 + label.count
        }
        guard encoded + 1 <= 255 else { throw .invalidName }
        bytes += [0, 0, 1, 0, 1]                                // root, type A, class IN
        return bytes
    }

    /// The addresses in a response to query `id`.
    public static func parseResponse(_ bytes: UnsafeRawBufferPointer, id: UInt16) throws(DNSError) -> DNSAnswer {
        var reader = Reader(bytes: bytes)
        let responseID = try reader.u16()
        let flags = try reader.u16()
        let questions = Int(try reader.u16()), answers = Int(try reader.u16())
        _ = try reader.u16(); _ = try reader.u16()             // authority, additional: not needed
        guard responseID == id, flags & 0x8000 != 0 else { throw .notOurs }
        guard flags & 0x0200 == 0 else { throw .truncated }
        let rcode = UInt8(flags & 0x000F)
        if rcode == 3 { throw .nameError }
        guard rcode == 0 else { throw .serverError(rcode) }
        for _ in 0..<questions {
            try reader.skipName()
            _ = try reader.u16(); _ = try reader.u16()
        }
        var addresses: [IPv4Address] = []
        var timeToLive = UInt32.max
        for _ in 0..<answers {
            try reader.skipName()
            let type = try reader.u16(), recordClass = try reader.u16()
            let ttl = try reader.u32()
            let length = Int(try reader.u16())
            let data = try reader.take(length)
            if type == 1 && recordClass == 1 {
                guard length == 4 else { throw .malformed }
                let at = data.startIndex                        // a slice: indices are offsets in the message
                addresses.append(IPv4Address(data[at], data[at + 1], data[at + 2], data[at + 3]))
                timeToLive = min(timeToLive, ttl)
            }
        }
        return DNSAnswer(addresses: addresses, timeToLive: addresses.isEmpty ? 0 : timeToLive)
    }

    /// A bounds-checked big-endian reader.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func take(_ count: Int) throws(DNSError) -> UnsafeRawBufferPointer.SubSequence {
            guard count >= 0, offset + count <= bytes.count else { throw .malformed }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func u16() throws(DNSError) -> UInt16 {
            let b = try take(2)
            return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
        }

        mutating func u32() throws(DNSError) -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        /// Moves past a name: labels ending in a zero byte, or in a compression pointer (2 bytes).
        /// The pointer's target is checked (in bounds, at most 16 jumps) even though it is not needed.
        mutating func skipName() throws(DNSError) {
            var position = offset, jumps = 0, end: Int? = nil
            while true {
                guard position < bytes.count else { throw .malformed }
                let length = Int(bytes[position])
                if length == 0 {
                    offset = end ?? position + 1
                    return
                }
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw .malformed }
                    if end == nil { end = position + 2 }
                    jumps += 1
                    guard jumps <= 16 else { throw .malformed }
                    position = (length & 0x3F) << 8 | Int(bytes[position + 1])
                    continue
                }
                guard length <= 63 else { throw .malformed }
                position += 1 + length
            }
        }
    }
}
