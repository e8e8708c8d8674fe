// Glob patterns for KEYS, SCAN MATCH and CONFIG GET, with the results of Redis's stringmatchlen (util.c, 7.0).
//
//   *        any run of bytes, also none           ?        exactly one byte
//   [abc]    one of the listed bytes               [^abc]   one byte not listed
//   [a-z]    a range, in either order ([z-a])      \x       the byte x itself, inside or outside []
//
// The corner cases follow Redis's C code, which reads the pattern's terminating NUL: an unclosed "[" set ends
// with the pattern (and its last byte is reread as the set's final byte, as in C); "[a-]" is a range from 'a'
// to ']'; a trailing lone "\" matches a "\"; an empty string matches only an empty pattern (KEYS * and
// SCAN MATCH * skip matching altogether, so they do list an empty key). With ignoringCase, ranges are ordered
// before their ends are lowercased, as in C.
//
// Redis matches recursively, trying each position after a `*` for the rest of the pattern. Every other token
// consumes exactly one byte, so it is enough to remember the last `*` and, when the rest fails, retry it one
// byte further on: the same answers in O(pattern × string) steps and constant stack, which matters on a guest
// thread's small stack (a recursion per `*` of a pattern sent by a client could overflow it). Redis gives up
// (no match) beyond 1000 nested `*`; here such patterns are simply matched.

enum Glob {
    static func matches(_ pattern: [UInt8], _ string: [UInt8], ignoringCase: Bool = false) -> Bool {
        guard !string.isEmpty else { return pattern.isEmpty }
        var p = 0, s = 0
        var star = -1, starString = 0          // the last `*` seen and where its run of bytes ends
        while true {
            if p < pattern.count && pattern[p] == UInt8(ascii: "*") {
                while p + 1 < pattern.count && pattern[p + 1] == UInt8(ascii: "*") { p += 1 }
                if p + 1 == pattern.count { return true }
                star = p
                starString = s
                p += 1
                continue
            }
            if p < pattern.count, let next = token(pattern, at: p, matching: string[s], ignoringCase) {
                p = next
                s += 1
                if s == string.count {
                    while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
                    if p == pattern.count { return true }
                } else {
                    continue
                }
            }
            // A mismatch, or the string ended before the pattern: let the last `*` take one more byte. Redis
            // tries the rest of the pattern only against non-empty remainders.
            guard star >= 0, starString + 1 < string.count else { return false }
            starString += 1
            s = starString
            p = star + 1
        }
    }

    /// Whether the one-byte token at `start` (`?`, a `[...]` set, `\x` or a literal) matches `byte`: the
    /// position after the token if so, nil if not.
    private static func token(_ pattern: [UInt8], at start: Int, matching byte: UInt8, _ ignoringCase: Bool) -> Int? {
        func at(_ index: Int) -> UInt8 { index < pattern.count ? pattern[index] : 0 }      // C's NUL past the end
        func fold(_ value: UInt8) -> UInt8 { ignoringCase ? ASCIIBytes.lowercased(value) : value }
        var p = start
        switch pattern[p] {
        case UInt8(ascii: "?"):
            return p + 1
        case UInt8(ascii: "["):
            p += 1
            let not = at(p) == UInt8(ascii: "^")
            if not { p += 1 }
            var matched = false
            while true {
                let remaining = pattern.count - p
                if at(p) == UInt8(ascii: "\\") && remaining >= 2 {
                    p += 1
                    if pattern[p] == byte { matched = true }
                } else if at(p) == UInt8(ascii: "]") {
                    break
                } else if remaining == 0 {
                    p -= 1                                                  // the unclosed set ends here
                    break
                } else if remaining >= 3 && pattern[p + 1] == UInt8(ascii: "-") {
                    var low = pattern[p], high = pattern[p + 2]
                    if low > high { swap(&low, &high) }
                    if fold(byte) >= fold(low) && fold(byte) <= fold(high) { matched = true }
                    p += 2
                } else if fold(pattern[p]) == fold(byte) {
                    matched = true
                }
                p += 1
            }
            return matched != not ? p + 1 : nil
        default:
            if pattern[p] == UInt8(ascii: "\\") && pattern.count - p >= 2 { p += 1 }
            return fold(pattern[p]) == fold(byte) ? p + 1 : nil
        }
    }
}
