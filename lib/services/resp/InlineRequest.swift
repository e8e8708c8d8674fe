// Inline requests ("SET key value\r\n", what telnet and redis-benchmark's PING_INLINE send) are split into
// words exactly as Redis's sdssplitargs (sds.c) splits them:
//
//   - words are separated by runs of whitespace (space, tab, LF, VT, FF, CR); outside quotes a word ends
//     at a space, tab, LF or CR (so a VT or FF inside a word belongs to it);
//   - "double quotes" may start anywhere in a word and take the escapes \xHH (two hex digits, any case),
//     \n \r \t \b \a, and \<any other byte> for that byte;
//   - 'single quotes' take only \' as an escape; any other backslash is itself;
//   - a closing quote must be followed by whitespace or the end of the line, and an opening quote must be
//     closed, or the whole request is refused ("unbalanced quotes in request");
//   - "" and '' are empty words.
//
// Redis works on a C string, so a NUL byte ends its line early; here NUL is an ordinary byte.

enum InlineRequest {
    /// The words of `line` (without its line end), or nil if its quotes are unbalanced.
    static func split(_ line: UnsafeRawBufferPointer) -> [[UInt8]]? {
        var words: [[UInt8]] = []
        var index = 0
        /// The byte at `position`, nil past the end of the line (where C sees the terminating NUL).
        func byte(at position: Int) -> UInt8? { position < line.count ? line[position] : nil }

        while true {
            while let next = byte(at: index), isSpace(next) { index += 1 }
            guard index < line.count else { return words }

            var word: [UInt8] = []
            var quote: UInt8? = nil                  // the quote we are inside, if any
            var done = false
            while !done {
                let current = byte(at: index)
                if quote == ASCII.doubleQuote {
                    if current == ASCII.backslash, byte(at: index + 1) == UInt8(ascii: "x"),
                       let high = hexValue(byte(at: index + 2)), let low = hexValue(byte(at: index + 3)) {
                        word.append(high << 4 | low)
                        index += 3
                    } else if current == ASCII.backslash, let escaped = byte(at: index + 1) {
                        word.append(unescaped(escaped))
                        index += 1
                    } else if current == ASCII.doubleQuote {
                        if let next = byte(at: index + 1), !isSpace(next) { return nil }
                        done = true
                    } else if let current {
                        word.append(current)
                    } else {
                        return nil                   // the line ended inside the quotes
                    }
                } else if quote == ASCII.quote {
                    if current == ASCII.backslash, byte(at: index + 1) == ASCII.quote {
                        word.append(ASCII.quote)
                        index += 1
                    } else if current == ASCII.quote {
                        if let next = byte(at: index + 1), !isSpace(next) { return nil }
                        done = true
                    } else if let current {
                        word.append(current)
                    } else {
                        return nil
                    }
                } else {
                    switch current {
                    case nil, ASCII.space, ASCII.lineFeed, ASCII.carriageReturn, ASCII.tab: done = true
                    case ASCII.doubleQuote, ASCII.quote: quote = current
                    case let other?: word.append(other)
                    }
                }
                if current != nil { index += 1 }
            }
            words.append(word)
        }
    }

    /// C's isspace in the "C" locale.
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == ASCII.space || (byte >= ASCII.tab && byte <= ASCII.carriageReturn)
    }

    static func hexValue(_ byte: UInt8?) -> UInt8? {
        guard let byte else { return nil }
        switch byte {
        case ASCII.zero...ASCII.nine: return byte - ASCII.zero
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The byte a backslash escape stands for inside double quotes.
    static func unescaped(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): return ASCII.lineFeed
        case UInt8(ascii: "r"): return ASCII.carriageReturn
        case UInt8(ascii: "t"): return ASCII.tab
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "a"): return 0x07
        default: return byte
        }
    }
}
