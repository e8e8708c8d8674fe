// Random: arc4random_buf for the Swift runtime (hashing seeds, SystemRandomNumberGenerator).
//
// Backed by RDRAND when the CPU has it. Without RDRAND the bytes come from a SplitMix64 generator
// seeded from the TSC: good enough for hash seeds, NOT for cryptography (no entropy source is
// available then; the README says so).

import ArchX86

nonisolated(unsafe) var fallbackState: UInt64 = 0

@_cdecl("arc4random_buf")
public func tesseraRandomBytes(_ buffer: UnsafeMutableRawPointer?, _ count: Int) {
    guard let buffer else { return }
    var offset = 0
    while offset < count {
        var word = CPU.hardwareRandom() ?? fallbackRandom()
        let chunk = min(8, count - offset)
        withUnsafeBytes(of: &word) { bytes in
            for i in 0..<chunk { buffer.storeBytes(of: bytes[i], toByteOffset: offset + i, as: UInt8.self) }
        }
        offset += chunk
    }
}

func fallbackRandom() -> UInt64 {
    if fallbackState == 0 { fallbackState = CPU.timestamp() | 1 }
    fallbackState &+= 0x9E37_79B9_7F4A_7C15
    var z = fallbackState
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
