// The request-target (RFC 9112 section 3.2) and the byte classes of HTTP syntax.
//
// A GET or HEAD target is in origin-form, "/path?query", or in absolute-form, "http://host/path?query"
// (which a server must accept, 3.2.2; the scheme is http or https in any case, the authority is skipped
// and an empty path means "/"). Asterisk-form and authority-form belong to OPTIONS and CONNECT, which
// are refused with 405 before the target is looked at.
//
// Bytes: the request line scanner accepts only RFC 3986 characters in a target (unreserved, reserved
// without "#", and "%"); a fragment is never sent, and quotes, spaces, controls and bytes >= 0x80 must
// arrive percent-encoded. That also keeps access-log lines plain ASCII.
//
// Decoding: the path (up to "?") is percent-decoded; "%" must be followed by two hex digits. The
// decoded path is refused (`.forbiddenPath`) if it holds a NUL byte or a ".." segment, which is checked
// after decoding so that "%2e%2e" and "%2F" cannot smuggle one in. "." segments and empty segments are
// left alone: they cannot leave the root, and a file lookup simply does not find them. The query is not
// decoded; it is handed over as received.

enum RequestTarget {
    /// The decoded path and where the query starts in `raw` (the index after "?"), or why not.
    static func parse(_ raw: UnsafeRawBufferPointer) throws(HTTPRequestError) -> (path: [UInt8], queryStart: Int?) {
        let start = raw.count > 0 && raw[0] == ASCII.slash ? 0 : try afterAuthority(raw)
        var end = start
        while end < raw.count && raw[end] != ASCII.question { end += 1 }
        let queryStart = end < raw.count ? end + 1 : nil
        if start == end { return ([ASCII.slash], queryStart) }     // absolute-form, empty path
        return (try decode(raw, start..<end), queryStart)
    }

    /// In absolute-form, the index where the path starts (or "?" or the end, for an empty path).
    static func afterAuthority(_ raw: UnsafeRawBufferPointer) throws(HTTPRequestError) -> Int {
        var schemeEnd = 0
        while schemeEnd < raw.count && raw[schemeEnd] != ASCII.colon { schemeEnd += 1 }
        let scheme = 0..<schemeEnd
        guard ASCII.equalsIgnoringCase(raw, scheme, "http") || ASCII.equalsIgnoringCase(raw, scheme, "https"),
              schemeEnd + 2 < raw.count, raw[schemeEnd + 1] == ASCII.slash, raw[schemeEnd + 2] == ASCII.slash
        else { throw .malformedTarget }
        var index = schemeEnd + 3
        while index < raw.count && raw[index] != ASCII.slash && raw[index] != ASCII.question { index += 1 }
        guard index > schemeEnd + 3 else { throw .malformedTarget }     // "http:///path": no host
        return index
    }

    /// Percent-decodes `range` of `raw`, which starts with "/", and refuses NUL and ".." segments.
    static func decode(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTPRequestError) -> [UInt8] {
        guard raw[range.lowerBound] == ASCII.slash else { throw .malformedTarget }
        var path: [UInt8] = []
        path.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            var byte = raw[index]
            if byte == ASCII.percent {
                guard index + 2 < range.upperBound, let high = ASCII.hexValue(raw[index + 1]),
                      let low = ASCII.hexValue(raw[index + 2]) else { throw .malformedTarget }
                byte = high << 4 | low
                index += 2
            }
            guard byte != 0 else { throw .forbiddenPath }
            path.append(byte)
            index += 1
        }
        var segmentStart = 0                            // path[0] is "/"
        for end in 1...path.count where end == path.count || path[end] == ASCII.slash {
            if end - segmentStart == 3 && path[segmentStart + 1] == ASCII.dot && path[segmentStart + 2] == ASCII.dot {
                throw .forbiddenPath
            }
            segmentStart = end
        }
        return path
    }
}

/// Byte classes and helpers for HTTP syntax (RFC 9110 section 5.6, RFC 3986 section 2).
enum ASCII {
    static let tab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let percent = UInt8(ascii: "%")
    static let comma = UInt8(ascii: ",")
    static let dot = UInt8(ascii: ".")
    static let slash = UInt8(ascii: "/")
    static let colon = UInt8(ascii: ":")
    static let question = UInt8(ascii: "?")
    static let zero = UInt8(ascii: "0")

    static func isDigit(_ byte: UInt8) -> Bool { byte >= zero && byte <= UInt8(ascii: "9") }

    static func isAlpha(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    /// tchar (RFC 9110 5.6.2): what methods, field names and transfer codings are made of.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        if isAlpha(byte) || isDigit(byte) { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 3986 characters of a request-target: unreserved, reserved except "#", and "%".
    static func isTargetCharacter(_ byte: UInt8) -> Bool {
        if isAlpha(byte) || isDigit(byte) { return true }
        switch byte {
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),            // unreserved
             UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: "@"),                                                                        // gen-delims
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
             UInt8(ascii: "="),                                                                        // sub-delims
             UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }

    /// A Host value's characters (RFC 3986 3.2.2, 3.2.3): reg-name or IP-literal, then ":" port.
    static func isHostCharacter(_ byte: UInt8) -> Bool {
        isTargetCharacter(byte) && byte != slash && byte != question && byte != UInt8(ascii: "@")
    }

    /// field-vchar, SP or HTAB (RFC 9110 5.5): no controls (so no NUL, CR or LF) and no DEL.
    static func isFieldValueCharacter(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= space && byte != 0x7F)
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// The value of a hex digit in either case, or nil.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        if isDigit(byte) { return byte - zero }
        let lower = byte | 0x20
        if lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "f") { return lower - UInt8(ascii: "a") + 10 }
        return nil
    }

    /// Whether `range` of `bytes` (in bounds) is exactly `text`.
    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        compare(bytes, range, text, ignoringCase: false)
    }

    /// Whether `range` of `bytes` (in bounds) is `text`, ASCII letters in any case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        compare(bytes, range, text, ignoringCase: true)
    }

    private static func compare(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString,
                                ignoringCase: Bool) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        return text.withUTF8Buffer { expected in
            for offset in 0..<expected.count {
                var byte = bytes[range.lowerBound + offset], wanted = expected[offset]
                if ignoringCase && isAlpha(byte) { byte |= 0x20 }
                if ignoringCase && isAlpha(wanted) { wanted |= 0x20 }
                if byte != wanted { return false }
            }
            return true
        }
    }
}
