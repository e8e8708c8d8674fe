// The reply writer: RESP2 values appended to a [UInt8] the caller owns and reuses, so that writing a reply
// allocates only when the buffer has to grow.
//
//     +OK\r\n                      simple string (status)           simpleString, ok
//     -ERR message\r\n             error                            error
//     :1000\r\n                    integer                          integer
//     $5\r\nhello\r\n              bulk string, binary-safe         bulkString
//     $-1\r\n                      null bulk string (no value)      nullBulkString
//     *3\r\n ...                   array header, then the elements  arrayHeader
//     *-1\r\n                      null array                       nullArray
//
// Simple strings and errors are one line: a CR or LF in them would end the reply early and desynchronise
// the client, so both are written as spaces (Redis does the same to error messages it formats). The
// first word of an error message is its type by convention ("ERR", "WRONGTYPE", "OOM").

/// Writers for each RESP2 reply type.
public enum RESPReply {
    public static func simpleString(_ text: StaticString, into reply: inout [UInt8]) {
        staticLine(ASCII.plus, text, into: &reply)
    }

    public static func simpleString(_ text: [UInt8], into reply: inout [UInt8]) {
        reply.append(ASCII.plus)
        appendLine(text[...], into: &reply)
    }

    /// "+OK\r\n".
    public static func ok(into reply: inout [UInt8]) {
        simpleString("OK", into: &reply)
    }

    /// An error reply; `message` is without the '-': "ERR syntax error".
    public static func error(_ message: StaticString, into reply: inout [UInt8]) {
        staticLine(ASCII.minus, message, into: &reply)
    }

    /// `prefix`, the text, CRLF: a simple string or an error whose text is known at compile time.
    static func staticLine(_ prefix: UInt8, _ text: StaticString, into reply: inout [UInt8]) {
        reply.append(prefix)
        reply.appendStatic(text)
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }

    public static func error(_ message: [UInt8], into reply: inout [UInt8]) {
        reply.append(ASCII.minus)
        appendLine(message[...], into: &reply)
    }

    public static func integer(_ value: Int64, into reply: inout [UInt8]) {
        reply.append(ASCII.colon)
        reply.appendDecimal(value)
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }

    public static func bulkString(_ bytes: ArraySlice<UInt8>, into reply: inout [UInt8]) {
        bulkHeader(bytes.count, into: &reply)
        reply.append(contentsOf: bytes)
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }

    public static func bulkString(_ bytes: [UInt8], into reply: inout [UInt8]) {
        bulkString(bytes[...], into: &reply)
    }

    public static func bulkString(_ bytes: UnsafeRawBufferPointer, into reply: inout [UInt8]) {
        bulkHeader(bytes.count, into: &reply)
        reply.append(contentsOf: bytes)
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }

    public static func bulkString(_ text: StaticString, into reply: inout [UInt8]) {
        text.withUTF8Buffer { bulkString(UnsafeRawBufferPointer($0), into: &reply) }
    }

    /// A bulk string holding the decimal digits of `value` (how Redis returns numbers as strings).
    public static func bulkDecimal(_ value: Int64, into reply: inout [UInt8]) {
        var digits: [UInt8] = []
        digits.appendDecimal(value)
        bulkString(digits, into: &reply)
    }

    /// "$-1\r\n": no value (GET of a missing key).
    public static func nullBulkString(into reply: inout [UInt8]) {
        reply.append(ASCII.dollar)
        reply.append(ASCII.minus)
        reply.append(ASCII.zero + 1)
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }

    /// "*<count>\r\n"; the caller writes `count` values after it.
    public static func arrayHeader(_ count: Int, into reply: inout [UInt8]) {
        reply.append(ASCII.asterisk)
        reply.appendDecimal(Int64(count))
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }

    /// "*-1\r\n": no array (LPOP with a count on a missing key).
    public static func nullArray(into reply: inout [UInt8]) {
        arrayHeader(-1, into: &reply)
    }

    static func bulkHeader(_ count: Int, into reply: inout [UInt8]) {
        reply.append(ASCII.dollar)
        reply.appendDecimal(Int64(count))
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }

    /// `text` with CR and LF written as spaces, then CRLF.
    static func appendLine(_ text: ArraySlice<UInt8>, into reply: inout [UInt8]) {
        for byte in text {
            reply.append(byte == ASCII.carriageReturn || byte == ASCII.lineFeed ? ASCII.space : byte)
        }
        reply.append(ASCII.carriageReturn)
        reply.append(ASCII.lineFeed)
    }
}
