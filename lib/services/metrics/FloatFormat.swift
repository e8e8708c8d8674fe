// FloatFormat: a Double as the shortest decimal that reads back as the same Double, in ASCII.
//
// Sample values and bucket bounds are written this way, so `le="0.005"` stays "0.005" rather than
// "0.005000000000000000104" and every value survives the round trip through Prometheus' parser
// (Go's strconv.ParseFloat, which rounds correctly). The layout:
//
//     integers below 2^53           decimal digits, no point:         0  1  -42  1048576
//     NaN and the infinities        as Prometheus spells them:        NaN  +Inf  -Inf
//     1e-4 <= |v| < 1e21            plain decimal:                     0.5  0.001  123456789.25  1e20 as 1 and 20 zeros
//     anything smaller or larger    digit, point, digits, e, sign, at least two exponent digits:
//                                                                      1e-09  1.5e-05  5e-324  1.7976931348623157e+308
//
// Negative zero is written "0". The digits come from the free-format algorithm of Steele & White as
// refined by Burger & Dybvig ("Printing Floating-Point Numbers Quickly and Accurately", PLDI 1996),
// in exact integer arithmetic: v = r/s, and the halfway points to v's neighbours are (r - m-)/s and
// (r + m+)/s. Digits are produced most significant first until the digits so far, or the digits so
// far with the last one raised by one, fall strictly between the halfway points (or on one of them
// when v's significand is even, since IEEE round-to-nearest-even then reads the halfway point back as
// v). When both candidates qualify, the nearer one is written, the even one on a tie (as Go and Swift
// do). So the result is the shortest string that round-trips and, among those, the closest to v.
//
// The integers are up to about 1140 bits (2^1074 times a power of ten for the smallest subnormals),
// so they live in a fixed `ScratchInteger` of 40 32-bit limbs on the stack: formatting allocates
// nothing beyond the caller's array growing. Each digit costs at most nine subtractions of ~36 limbs;
// integers, the common case, skip all of this.

extension PrometheusText {
    /// Appends `value` as the shortest decimal that reads back as `value` (the layout is above).
    public static func appendValue(_ value: Double, to bytes: inout [UInt8]) {
        if value.isNaN { bytes.appendASCII("NaN"); return }
        if value.isInfinite { bytes.appendASCII(value < 0 ? "-Inf" : "+Inf"); return }
        if value.magnitude < 9_007_199_254_740_992.0, Double(Int64(value)) == value {
            appendValue(Int64(value), to: &bytes)                   // integral: exact as an Int64
            return
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let (digits, count, exponent) = shortestDigits(value.magnitude)
        appendDecimal(digits: digits, count: count, exponent: exponent, to: &bytes)
    }

    /// The shortest round-trip digits of a positive finite `value`: `digits` holds `count` decimal
    /// digits d1 d2 ... (at most 17) and value ≈ 0.d1d2... × 10^`exponent`.
    static func shortestDigits(_ value: Double) -> (digits: UInt64, count: Int, exponent: Int) {
        let biasedExponent = Int(value.bitPattern >> 52 & 0x7FF)
        let fraction = value.bitPattern & (1 << 52 - 1)
        // value = f × 2^e exactly, with f < 2^53.
        let f = biasedExponent == 0 ? fraction : fraction | 1 << 52
        let e = biasedExponent == 0 ? -1074 : biasedExponent - 1075
        let even = f & 1 == 0                                       // halfway points read back as value
        let lowerGapIsHalf = fraction == 0 && biasedExponent > 1    // a power of two: the neighbour below is nearer

        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 5 * ScratchInteger.capacity) { storage in
            let base = storage.baseAddress!
            var r = ScratchInteger(base), s = ScratchInteger(base + ScratchInteger.capacity)
            var mPlus = ScratchInteger(base + 2 * ScratchInteger.capacity)
            var mMinus = ScratchInteger(base + 3 * ScratchInteger.capacity)
            var sum = ScratchInteger(base + 4 * ScratchInteger.capacity)
            // v = r/s, the gap to the next Double up is 2·m+/s, to the next one down 2·m-/s.
            r.set(f); s.set(1); mPlus.set(1); mMinus.set(1)
            if e >= 0 {
                r.shiftLeft(e + (lowerGapIsHalf ? 2 : 1)); s.set(lowerGapIsHalf ? 4 : 2)
                mPlus.shiftLeft(e + (lowerGapIsHalf ? 1 : 0)); mMinus.shiftLeft(e)
            } else {
                r.shiftLeft(lowerGapIsHalf ? 2 : 1); s.shiftLeft((lowerGapIsHalf ? 2 : 1) - e)
                if lowerGapIsHalf { mPlus.set(2) }
            }

            // Scale by 10^k so that v/10^k < 1: start from an estimate that is never too high
            // (floor(p·log10 2) for v in [2^p, 2^(p+1)), with log10 2 ≈ 78913/2^18) and raise it
            // while the upper halfway point still reaches 1.
            let highestBit = e + (64 - f.leadingZeroBitCount) - 1
            var k = (highestBit * 78913) >> 18
            if k >= 0 { s.multiply(byPowerOfTen: k) } else {
                r.multiply(byPowerOfTen: -k); mPlus.multiply(byPowerOfTen: -k); mMinus.multiply(byPowerOfTen: -k)
            }
            func reachesOne(_ r: ScratchInteger) -> Bool {                    // (r + m+)/s >= 1, or > 1
                sum.set(r); sum.add(mPlus)
                let order = sum.compare(s)
                return even ? order >= 0 : order > 0
            }
            while reachesOne(r) { s.multiply(by: 10); k += 1 }

            var digits: UInt64 = 0, count = 0
            while true {
                r.multiply(by: 10); mPlus.multiply(by: 10); mMinus.multiply(by: 10)
                var digit: UInt64 = 0
                while r.compare(s) >= 0 { r.subtract(s); digit += 1 }
                let lowOrder = r.compare(mMinus)
                let low = even ? lowOrder <= 0 : lowOrder < 0               // digits so far are above the low point
                let high = reachesOne(r)                                    // digits so far + 1 are below the high point
                count += 1
                if !low && !high { digits = digits * 10 + digit; continue }
                if low && high {                                            // both round-trip: the nearer one,
                    sum.set(r); sum.shiftLeft(1)                            // the even one when both are as near
                    let order = sum.compare(s)
                    if order > 0 || (order == 0 && digit & 1 == 1) { digit += 1 }
                } else if high {
                    digit += 1
                }
                return (digits * 10 + digit, count, k)
            }
        }
    }

    /// Writes 0.d1d2...dn × 10^exponent in the layout above.
    static func appendDecimal(digits: UInt64, count: Int, exponent: Int, to bytes: inout [UInt8]) {
        var divisor: UInt64 = 1
        for _ in 1..<count { divisor *= 10 }
        func appendDigits(pointAfter point: Int) {                  // the digits, a point after `point` of them
            var rest = digits, divisor = divisor, written = 0
            while divisor > 0 {
                if written == point { bytes.append(UInt8(ascii: ".")) }
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor; divisor /= 10; written += 1
            }
        }
        let scientific = exponent - 1
        if scientific < -4 || scientific >= 21 {
            appendDigits(pointAfter: 1)
            bytes.append(UInt8(ascii: "e"))
            bytes.append(UInt8(ascii: scientific < 0 ? "-" : "+"))
            if scientific.magnitude < 10 { bytes.append(UInt8(ascii: "0")) }
            appendValue(Int64(scientific.magnitude), to: &bytes)
        } else if exponent <= 0 {                                   // 0.000ddd
            bytes.append(UInt8(ascii: "0")); bytes.append(UInt8(ascii: "."))
            for _ in 0 ..< -exponent { bytes.append(UInt8(ascii: "0")) }
            appendDigits(pointAfter: count)
        } else {                                                    // ddd.ddd or ddd000
            appendDigits(pointAfter: exponent)
            for _ in 0 ..< Swift.max(0, exponent - count) { bytes.append(UInt8(ascii: "0")) }
        }
    }
}

/// An unsigned integer of up to `capacity` 32-bit limbs, least significant first, in storage that the
/// caller owns. Only the operations the digit generator needs; none of them can overflow for a Double.
struct ScratchInteger {
    static let capacity = 40
    let limbs: UnsafeMutablePointer<UInt32>
    /// Limbs in use; the highest is nonzero, and zero has none.
    var count = 0

    init(_ storage: UnsafeMutablePointer<UInt32>) { limbs = storage }

    mutating func set(_ value: UInt64) {
        limbs[0] = UInt32(truncatingIfNeeded: value)
        limbs[1] = UInt32(truncatingIfNeeded: value >> 32)
        count = value >> 32 != 0 ? 2 : value != 0 ? 1 : 0
    }

    mutating func set(_ other: ScratchInteger) {
        limbs.update(from: other.limbs, count: other.count)
        count = other.count
    }

    mutating func shiftLeft(_ bits: Int) {
        guard count > 0 else { return }
        let whole = bits / 32, part = UInt32(bits % 32)
        precondition(count + whole < Self.capacity, "ScratchInteger overflow")
        limbs[count + whole] = 0
        var index = count - 1
        while index >= 0 {                                          // from the top, so nothing is overwritten early
            let limb = UInt64(limbs[index]) << part
            limbs[index + whole + 1] |= UInt32(truncatingIfNeeded: limb >> 32)
            limbs[index + whole] = UInt32(truncatingIfNeeded: limb)
            index -= 1
        }
        for low in 0..<whole { limbs[low] = 0 }
        count += whole + 1
        trim()
    }

    mutating func multiply(by factor: UInt32) {
        var carry: UInt64 = 0
        for index in 0..<count {
            let product = UInt64(limbs[index]) * UInt64(factor) + carry
            limbs[index] = UInt32(truncatingIfNeeded: product)
            carry = product >> 32
        }
        if carry != 0 {
            precondition(count < Self.capacity, "ScratchInteger overflow")
            limbs[count] = UInt32(carry)
            count += 1
        }
    }

    mutating func multiply(byPowerOfTen exponent: Int) {
        var left = exponent
        while left >= 9 { multiply(by: 1_000_000_000); left -= 9 }
        var factor: UInt32 = 1
        for _ in 0..<left { factor *= 10 }
        multiply(by: factor)
    }

    mutating func add(_ other: ScratchInteger) {
        var carry: UInt64 = 0
        for index in 0..<Swift.max(count, other.count) {
            let sum = UInt64(index < count ? limbs[index] : 0) + UInt64(index < other.count ? other.limbs[index] : 0) + carry
            limbs[index] = UInt32(truncatingIfNeeded: sum)
            carry = sum >> 32
        }
        count = Swift.max(count, other.count)
        if carry != 0 {
            precondition(count < Self.capacity, "ScratchInteger overflow")
            limbs[count] = UInt32(carry)
            count += 1
        }
    }

    /// self -= other, where other <= self.
    mutating func subtract(_ other: ScratchInteger) {
        var borrow: UInt64 = 0
        for index in 0..<count {
            let subtrahend = UInt64(index < other.count ? other.limbs[index] : 0) + borrow
            let minuend = UInt64(limbs[index])
            borrow = minuend < subtrahend ? 1 : 0
            limbs[index] = UInt32(truncatingIfNeeded: minuend &+ (borrow << 32) &- subtrahend)
        }
        trim()
    }

    /// -1, 0 or 1 as self is less than, equal to or greater than `other`.
    func compare(_ other: ScratchInteger) -> Int {
        if count != other.count { return count < other.count ? -1 : 1 }
        var index = count - 1
        while index >= 0 {
            if limbs[index] != other.limbs[index] { return limbs[index] < other.limbs[index] ? -1 : 1 }
            index -= 1
        }
        return 0
    }

    private mutating func trim() {
        while count > 0 && limbs[count - 1] == 0 { count -= 1 }
    }
}
