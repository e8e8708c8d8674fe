// Scores as text, both ways, exactly as Redis 7.0 does it with the C library (Embedded Swift has no strtod
// and no printf):
//
//   - parsing is strtod's decimal syntax with Redis's checks (getDoubleFromObject): an optional sign,
//     digits with an optional point (at least one digit), an optional exponent; or "inf"/"infinity" in any
//     case. The whole argument must be consumed and must not start with whitespace; NaN is refused, and so
//     is a finite number that overflows to infinity or underflows to zero. The result is correctly rounded
//     (to nearest, ties to even). strtod's hexadecimal floats ("0x1p3") are not accepted.
//   - formatting is "%.17g" (addReplyDouble in 7.0: 1.1 is "1.1000000000000001"), except that infinities
//     are "inf" and "-inf" and zero is "0".
//
// Both go through `Decimal`, an exact decimal representation (up to 800 significant digits plus a flag for
// discarded non-zero digits, which is enough to round every double correctly), shifted by powers of two:
// the algorithm of Go's strconv (decimal.go, the slow path of atof and of ftoa), written out plainly.
// Short inputs take a fast path: up to 15 digits and a power of ten up to 22 are both exact doubles, so one
// multiplication or division rounds correctly.

enum DoubleText {
    /// The score in `bytes`, or nil if Redis would answer "value is not a valid float".
    static func parse(_ bytes: ArraySlice<UInt8>) -> Double? {
        var index = bytes.startIndex
        var negative = false
        if index < bytes.endIndex && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        let rest = bytes[index...]
        if ASCIIBytes.equalsIgnoringCase(rest, "inf") || ASCIIBytes.equalsIgnoringCase(rest, "infinity") {
            return negative ? -Double.infinity : Double.infinity
        }
        guard var decimal = Decimal(parsing: rest) else { return nil }
        let nonZero = decimal.digitCount > 0
        let value: Double
        if let fast = decimal.exactDouble() {
            value = fast
        } else {
            guard let slow = decimal.roundedDouble() else { return nil }       // overflow
            value = slow
        }
        if value == 0 && nonZero { return nil }                                // underflow to zero
        return negative ? -value : value
    }

    /// Appends `value` as Redis replies with it.
    static func append(_ value: Double, to text: inout [UInt8]) {
        if value.isInfinite {
            text.appendStatic(value < 0 ? "-inf" : "inf")
            return
        }
        if value.isNaN {
            text.appendStatic("nan")
            return
        }
        if value == 0 {
            text.append(UInt8(ascii: "0"))
            return
        }
        if value < 0 { text.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        if magnitude < 1e17 && Double(Int64(magnitude)) == magnitude {     // (no libm: the kernel has no trunc)
            text.appendDecimal(Int64(magnitude))                 // an integer of at most 17 digits: exact
            return
        }
        var decimal = Decimal(exactly: magnitude)
        decimal.round(toSignificantDigits: 17)
        decimal.appendG(precision: 17, to: &text)
    }
}

/// A non-negative decimal number 0.d1d2d3... × 10^point, without trailing zeros.
struct Decimal {
    static let maxDigits = 800
    /// Bits shifted at once; digit × 2^60 plus the carry stays below 2^64.
    static let maxShift = 60

    var digits: [UInt8] = []                  // 0...9, most significant first
    var point = 0
    var truncated = false                     // non-zero digits were dropped beyond `maxDigits`

    var digitCount: Int { digits.count }

    /// Parses digits, an optional point and an optional exponent; nil unless `bytes` is exactly that.
    init?(parsing bytes: ArraySlice<UInt8>) {
        var index = bytes.startIndex
        var sawDigits = false, sawPoint = false
        var significant = 0                       // significant digits read, kept or not
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: ".") {
                if sawPoint { return nil }
                sawPoint = true
                point = significant
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                sawDigits = true
                if byte == UInt8(ascii: "0") && significant == 0 {
                    point -= 1                    // a leading zero: after the point it moves the point
                } else {
                    significant += 1
                    if digits.count < Self.maxDigits {
                        digits.append(byte - UInt8(ascii: "0"))
                    } else if byte != UInt8(ascii: "0") {
                        truncated = true
                    }
                }
            } else {
                break
            }
            index += 1
        }
        guard sawDigits else { return nil }
        if !sawPoint { point = significant }
        if index < bytes.endIndex && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            var exponentNegative = false
            if index < bytes.endIndex && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < bytes.endIndex else { return nil }
            var exponent = 0
            while index < bytes.endIndex && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                index += 1
            }
            point += exponentNegative ? -exponent : exponent
        }
        guard index == bytes.endIndex else { return nil }
        trimTrailingZeros()
        if digits.isEmpty { point = 0 }
    }

    /// The exact decimal value of a finite, positive double.
    init(exactly value: Double) {
        var mantissa = value.significandBitPattern
        var exponent = Int(value.exponentBitPattern)
        if exponent == 0 { exponent = 1 } else { mantissa |= 1 << 52 }          // subnormal or normal
        exponent -= 1075                                                        // value = mantissa × 2^exponent
        var text: [UInt8] = []
        text.appendDecimal(Int64(mantissa))
        digits = text.map { $0 - UInt8(ascii: "0") }
        point = digits.count
        trimTrailingZeros()
        shift(by: exponent)
    }

    /// Up to 15 digits scaled by at most 10^22: both exact, so one operation rounds correctly.
    func exactDouble() -> Double? {
        guard !truncated, digits.count <= 15 else { return nil }
        if digits.isEmpty { return 0 }
        var mantissa: Double = 0
        for digit in digits { mantissa = mantissa * 10 + Double(digit) }
        let scale = point - digits.count
        guard scale >= -22 && scale <= 22 else { return nil }
        var power: Double = 1
        for _ in 0..<scale.magnitude { power *= 10 }
        return scale < 0 ? mantissa / power : mantissa * power
    }

    /// The double nearest to this number (ties to even); nil if it is beyond the largest double.
    mutating func roundedDouble() -> Double? {
        if digits.isEmpty { return 0 }
        if point > 310 { return nil }
        if point < -330 { return 0 }
        // Scale into [0.5, 1) by powers of two, counting them.
        var exponent = 0
        while point > 0 {
            let bits = min(Self.maxShift, Self.bitsForDigits(point))
            shift(by: -bits)
            exponent += bits
        }
        while point < 0 || (point == 0 && digits[0] < 5) {
            let bits = point < 0 ? min(Self.maxShift, Self.bitsForDigits(-point)) : 1
            shift(by: bits)
            exponent -= bits
        }
        // Now the number is 0.5 <= x < 1, times 2^exponent; a double's significand is in [1, 2).
        exponent -= 1
        let bias = -1022                                   // the smallest normal exponent
        if exponent < bias {
            shift(by: -(bias - exponent))                  // subnormal: fewer significant bits
            exponent = bias
        }
        if exponent > 1023 { return nil }
        shift(by: 53)
        var mantissa = roundedInteger()
        if mantissa == 1 << 53 {                           // rounding carried into a new bit
            mantissa >>= 1
            exponent += 1
            if exponent > 1023 { return nil }
        }
        if mantissa & (1 << 52) == 0 {                     // subnormal
            return Double(sign: .plus, exponentBitPattern: 0, significandBitPattern: mantissa)
        }
        return Double(sign: .plus, exponentBitPattern: UInt(exponent + 1023),
                      significandBitPattern: mantissa & ((1 << 52) - 1))
    }

    /// The most bits that move a number below 10^-digits no further than 1, or one above 10^(digits-1)
    /// no further down than 0.1: floor(digits × log2(10)), at least 1 and at most `maxShift`.
    static func bitsForDigits(_ digits: Int) -> Int { max(1, min(maxShift, digits * 33_219 / 10_000)) }

    /// The integer part, rounded half to even by the digits after the point.
    func roundedInteger() -> UInt64 {
        var value: UInt64 = 0
        var index = 0
        while index < point {
            value = value * 10 + (index < digits.count ? UInt64(digits[index]) : 0)
            index += 1
        }
        return shouldRoundUp(at: point) ? value + 1 : value
    }

    func shouldRoundUp(at count: Int) -> Bool {
        guard count >= 0 && count < digits.count else { return false }
        if digits[count] == 5 && count + 1 == digits.count {          // exactly half
            if truncated { return true }
            return count > 0 && digits[count - 1] % 2 == 1
        }
        return digits[count] >= 5
    }

    /// Rounds to `count` significant digits, half to even.
    mutating func round(toSignificantDigits count: Int) {
        guard count < digits.count else { return }
        if shouldRoundUp(at: count) {
            var index = count - 1
            while index >= 0 && digits[index] == 9 { index -= 1 }
            if index < 0 {
                digits = [1]
                point += 1
            } else {
                digits[index] += 1
                digits.removeLast(digits.count - index - 1)
            }
        } else {
            digits.removeLast(digits.count - count)
            trimTrailingZeros()
        }
        truncated = false
    }

    /// Multiplies by 2^bits (or divides, for negative `bits`), exactly but for the digit limit.
    mutating func shift(by bits: Int) {
        var remaining = bits
        while remaining != 0 && !digits.isEmpty {
            let step = max(-Self.maxShift, min(Self.maxShift, remaining))
            if step > 0 { shiftLeft(UInt64(step)) } else { shiftRight(UInt64(-step)) }
            remaining -= step
        }
    }

    private mutating func shiftLeft(_ bits: UInt64) {
        var reversed: [UInt8] = []
        var carry: UInt64 = 0
        for digit in digits.reversed() {
            let value = UInt64(digit) << bits + carry
            reversed.append(UInt8(value % 10))
            carry = value / 10
        }
        while carry > 0 {
            reversed.append(UInt8(carry % 10))
            carry /= 10
        }
        point += reversed.count - digits.count
        digits = Array(reversed.reversed())
        if digits.count > Self.maxDigits {
            if digits[Self.maxDigits...].contains(where: { $0 != 0 }) { truncated = true }
            digits.removeLast(digits.count - Self.maxDigits)
        }
        trimTrailingZeros()
    }

    private mutating func shiftRight(_ bits: UInt64) {
        let mask: UInt64 = (1 << bits) - 1
        var read = 0
        var value: UInt64 = 0
        while value >> bits == 0 {                        // enough leading digits for the first output digit
            value = value * 10 + (read < digits.count ? UInt64(digits[read]) : 0)
            read += 1
        }
        point -= read - 1
        var result: [UInt8] = []
        while read < digits.count {
            result.append(UInt8(value >> bits))
            value = (value & mask) * 10 + UInt64(digits[read])
            read += 1
        }
        while value > 0 {
            if result.count < Self.maxDigits {
                result.append(UInt8(value >> bits))
            } else if value >> bits > 0 {
                truncated = true
            }
            value = (value & mask) * 10
        }
        digits = result
        trimTrailingZeros()
    }

    private mutating func trimTrailingZeros() {
        while let last = digits.last, last == 0 { digits.removeLast() }
    }

    /// printf's "%.<precision>g" of this number, already rounded to `precision` significant digits.
    func appendG(precision: Int, to text: inout [UInt8]) {
        let exponent = point - 1                          // of the first digit
        func digit(_ index: Int) -> UInt8 { UInt8(ascii: "0") + (index < digits.count ? digits[index] : 0) }
        if exponent < -4 || exponent >= precision {
            text.append(digit(0))
            if digits.count > 1 {
                text.append(UInt8(ascii: "."))
                for index in 1..<digits.count { text.append(digit(index)) }
            }
            text.append(UInt8(ascii: "e"))
            text.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            if exponent.magnitude < 10 { text.append(UInt8(ascii: "0")) }
            text.appendDecimal(Int64(exponent.magnitude))
        } else if exponent >= 0 {
            for index in 0...exponent { text.append(digit(index)) }
            if digits.count > exponent + 1 {
                text.append(UInt8(ascii: "."))
                for index in (exponent + 1)..<digits.count { text.append(digit(index)) }
            }
        } else {
            text.append(UInt8(ascii: "0"))
            text.append(UInt8(ascii: "."))
            for _ in 0..<(-exponent - 1) { text.append(UInt8(ascii: "0")) }
            for index in 0..<digits.count { text.append(digit(index)) }
        }
    }
}
