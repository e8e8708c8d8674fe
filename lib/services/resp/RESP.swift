// RESP: the request half and the reply half of the Redis serialization protocol, version 2, as Redis 7.0
// speaks it to clients. The TCP connection belongs to the server; this module turns received bytes into
// commands (arrays of byte strings) and writes replies. No Foundation, no existentials: it runs in the
// guest and in host tests alike.
//
// Receiving. The server appends what it receives to one buffer and calls `RESPParser.parse(_:)` with the
// unconsumed bytes after each append. The answer is one of
//     .needMore                          a valid beginning; receive more and call again with the same bytes
//                                        plus what arrives (the parser remembers how far it got);
//     .command(arguments, consumed:)     one complete command: execute it, drop `consumed` bytes and call
//                                        again at once, since the next pipelined command may be there;
//     .error(error)                      write `error` as the reply (`error.write(into:)`) and close the
//                                        connection after it, as Redis does: nobody knows where the next
//                                        command would start.
// A command with no arguments is possible ("*0\r\n", "*-1\r\n", an empty inline line): Redis consumes it
// and replies nothing, and so should the server.
//
// Two request forms, chosen by the first byte (Redis's processInputBuffer):
//   - multibulk, starting with '*': "*<count>\r\n" then <count> times "$<length>\r\n<bytes>\r\n". A line
//     ends at its first CR, and the byte after it is skipped unchecked, as is the CRLF after bulk bytes
//     (Redis does not check them either). Counts and lengths are Redis's string2ll: an optional '-', no
//     '+', no spaces, no leading zeros. A count of zero or below is a command without arguments; a count
//     above `maxArgumentCount` is "invalid multibulk length"; a negative length, or one above
//     `maxBulkLength`, is "invalid bulk length"; a line that should start with '$' and does not is
//     "expected '$', got 'x'". A '*' or '$' line with no CR in its first `maxInlineLength` bytes is "too
//     big mbulk count string" / "too big bulk count string".
//   - inline, anything else: one line ending in LF (a CR before the LF is dropped), split into words by
//     Redis's sdssplitargs (InlineRequest.swift) with "double" and 'single' quotes. A line with no LF in
//     its first `maxInlineLength` + 1 bytes is "too big inline request"; bad quoting is "unbalanced quotes
//     in request".
// Every decision depends only on the bytes up to the one that decides it, so a request split at any
// points parses as it does in one piece; Redis decides the inline and count-string limits by how much
// happens to be buffered, which can differ by read size.
//
// Ownership: the arguments of a multibulk command are slices of the buffer that was parsed (no copy; they
// keep its storage alive until released: drop them before mutating the buffer, or it is copied); inline
// arguments own their unescaped bytes.
//
// Replies (ReplyWriter.swift) are appended to a [UInt8] the caller owns: simple strings, errors,
// integers, bulk strings, the null bulk string, array headers and the null array.
//
// Not supported: RESP3 (HELLO 3) replies and request types other than arrays of bulk strings (Redis
// accepts only those too); Redis's separate limits for unauthenticated clients.

/// How large a request may be. The defaults are Redis 7.0's.
public struct RESPLimits: Hashable, Sendable {
    /// The largest bulk string in a request (Redis's proto-max-bulk-len, 512 MiB).
    public var maxBulkLength: Int
    /// The largest argument count of a multibulk request (Redis: INT_MAX).
    public var maxArgumentCount: Int
    /// The longest inline request, and the longest '*' or '$' line (Redis's PROTO_INLINE_MAX_SIZE, 64 KiB).
    public var maxInlineLength: Int

    public init(maxBulkLength: Int = 512 * 1024 * 1024, maxArgumentCount: Int = Int(Int32.max),
                maxInlineLength: Int = 64 * 1024) {
        self.maxBulkLength = maxBulkLength
        self.maxArgumentCount = maxArgumentCount
        self.maxInlineLength = maxInlineLength
    }
}

/// A request that cannot be parsed. Each is answered with its error reply and then the connection closes.
public enum RESPProtocolError: Hashable, Sendable, CustomStringConvertible {
    case invalidMultibulkLength
    case invalidBulkLength
    /// A bulk-length line started with this byte instead of '$'.
    case expectedDollar(got: UInt8)
    case tooBigInlineRequest
    case tooBigMultibulkCountString
    case tooBigBulkCountString
    case unbalancedQuotes

    /// The text after "ERR Protocol error: ".
    var reason: StaticString {
        switch self {
        case .invalidMultibulkLength: return "invalid multibulk length"
        case .invalidBulkLength: return "invalid bulk length"
        case .expectedDollar: return "expected '$', got '"
        case .tooBigInlineRequest: return "too big inline request"
        case .tooBigMultibulkCountString: return "too big mbulk count string"
        case .tooBigBulkCountString: return "too big bulk count string"
        case .unbalancedQuotes: return "unbalanced quotes in request"
        }
    }

    /// The error message without the leading '-' and the CRLF: "ERR Protocol error: invalid bulk length".
    public var message: [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendStatic("ERR Protocol error: ")
        bytes.appendStatic(reason)
        if case .expectedDollar(let byte) = self {
            // Redis prints the byte as it is, except that CR and LF become spaces in any error reply.
            bytes.append(byte == ASCII.carriageReturn || byte == ASCII.lineFeed ? ASCII.space : byte)
            bytes.append(ASCII.quote)
        }
        return bytes
    }

    /// Appends the error reply: "-ERR Protocol error: ...\r\n".
    public func write(into reply: inout [UInt8]) {
        RESPReply.error(message, into: &reply)
    }

    public var description: String { String(decoding: message, as: UTF8.self) }
}

/// What one call of `RESPParser.parse` found at the start of the buffer.
public enum RESPParseResult: Equatable {
    case needMore
    /// A complete command, possibly without arguments, and how many bytes it took.
    case command([ArraySlice<UInt8>], consumed: Int)
    case error(RESPProtocolError)
}

/// The bytes the parser and the writer name.
enum ASCII {
    static let carriageReturn: UInt8 = 0x0D
    static let lineFeed: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let quote: UInt8 = 0x27            // '
    static let doubleQuote: UInt8 = 0x22      // "
    static let backslash: UInt8 = 0x5C
    static let asterisk: UInt8 = 0x2A
    static let dollar: UInt8 = 0x24
    static let minus: UInt8 = 0x2D
    static let plus: UInt8 = 0x2B
    static let colon: UInt8 = 0x3A
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39

    static func isDigit(_ byte: UInt8) -> Bool { byte >= zero && byte <= nine }
}

extension Array where Element == UInt8 {
    mutating func appendStatic(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// The decimal digits of `value`, with a '-' if negative.
    mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(ASCII.minus) }
        let magnitude = value.magnitude
        var divisor: UInt64 = 1                     // the place value of the leading digit
        while magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            append(ASCII.zero + UInt8(magnitude / divisor % 10))
            divisor /= 10
        }
    }
}
