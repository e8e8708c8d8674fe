// Math: the C math functions the Swift standard library calls in Embedded builds.
//
// `ceil` is called by Dictionary and Set when they size their hash tables (capacity / max load
// factor, rounded up). The target has no SSE4.1 `roundsd`, and LLVM lowers `Double.rounded(.up)`
// back into a call to `ceil`, so this one is built from a truncating conversion instead: exact for
// every double, NaN and infinities passed through, -0.0 kept for results that round up to zero.

@_cdecl("ceil")
public func tesseraCeil(_ x: Double) -> Double {
    // 2^52 and above (and NaN, infinities) are already integral.
    guard x.magnitude < 4_503_599_627_370_496.0 else { return x }
    let truncated = Double(Int64(x))
    let result = truncated < x ? truncated + 1 : truncated
    return result == 0 && x.sign == .minus ? -0.0 : result
}
