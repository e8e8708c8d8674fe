// Shared by every fuzz target (scripts/fuzz.sh compiles this file into each one).
//
// A target is one function, `LLVMFuzzerTestOneInput`, that libFuzzer calls with one input at a time.
// It must accept any bytes: `FuzzInput` reads them front to back and gives zeros past the end, so a
// target can carve an input into a few control bytes and a message without length checks of its
// own. Invariants are checked with `precondition`, which stops the process: libFuzzer reports that
// as a crash and saves the input. The targets are built with `-assert-config Debug`, so the standard
// library's bounds checks on unsafe buffers stay on as well: a parser that reads past a slice it was
// given traps even when the bytes behind the slice are still inside libFuzzer's buffer.

/// The fuzzer's bytes, read front to back.
struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: size)
    }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { max(bytes.count - offset, 0) }

    /// The next byte, or 0 past the end.
    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next two bytes, big-endian.
    mutating func u16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }

    /// Up to `count` bytes (fewer at the end), as a view of the input.
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let end = offset + min(max(count, 0), remaining)
        defer { offset = end }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
    }

    /// Everything not read yet.
    mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}

/// A zeroed buffer of `count` bytes with `payload` copied in at `offset`, then `emit` run over the
/// whole: how a sender builds a message in place (payload first, header and checksum last).
func emitted(_ count: Int, payload: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
             at offset: Int = 0, _ emit: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
        if payload.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + payload.count]).copyMemory(from: payload)
        }
        emit(buffer)
    }
    return bytes
}

/// The big-endian 16-bit value at `offset`.
func read16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }

func read16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

/// Whether a checksum an emitter computed agrees with the one a verified message carried. The
/// Internet checksum has two zeros: when the rest of the message sums to 0xFFFF, both 0x0000 and
/// 0xFFFF verify, and an emitter writes 0x0000 (RFC 1071). Any other sum has exactly one checksum.
func checksumsAgree(original: UInt16, emitted: UInt16) -> Bool {
    original == emitted || (original == 0xFFFF && emitted == 0)
}

// MARK: - Checksum repair
//
// Random bytes almost never carry a valid Internet checksum, and a parser that rejects them with
// `.badChecksum` never shows the fuzzer what lies behind the check. Targets therefore repair the
// checksum of about half their inputs (a bit of a control byte decides). The sum here is written
// independently of NetWire's `InternetChecksum` (RFC 1071: big-endian 16-bit words, an odd last byte
// padded with zero, end-around carry), so the two check each other.

/// The ones' complement sum of `bytes` added to `sum`, not yet folded.
func onesComplementSum(_ bytes: UnsafeRawBufferPointer, _ sum: UInt64 = 0) -> UInt64 {
    var sum = sum
    var index = 0
    while index + 1 < bytes.count {
        sum += UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
        index += 2
    }
    if index < bytes.count { sum += UInt64(bytes[index]) << 8 }
    return sum
}

/// The IPv4 pseudo-header of TCP and UDP (source, destination, zero, protocol, length) as a sum.
func pseudoHeaderSum(source: UInt32, destination: UInt32, protocol number: UInt8, length: Int) -> UInt64 {
    UInt64(source >> 16) + UInt64(source & 0xFFFF) + UInt64(destination >> 16) + UInt64(destination & 0xFFFF)
        + UInt64(number) + UInt64(length)
}

/// Whether `bytes` with their stored checksum (plus `initial`) verify: the folded sum is 0xFFFF.
func verifies(_ bytes: UnsafeRawBufferPointer, initial: UInt64 = 0) -> Bool {
    var sum = onesComplementSum(bytes, initial)
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return sum == 0xFFFF
}

/// Stores in the 16-bit field at `field` the checksum that makes `bytes` (plus `initial`, e.g. a
/// pseudo-header) verify. The field must lie inside `bytes`.
func repairChecksum(_ bytes: UnsafeMutableRawBufferPointer, field: Int, initial: UInt64 = 0) {
    bytes[field] = 0
    bytes[field + 1] = 0
    var sum = onesComplementSum(UnsafeRawBufferPointer(bytes), initial)
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    let checksum = ~UInt16(sum)
    bytes[field] = UInt8(checksum >> 8)
    bytes[field + 1] = UInt8(checksum & 0xFF)
}

/// A big-endian 32-bit value from four bytes of `bytes` at `offset`.
func read32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(read16(bytes, offset)) << 16 | UInt32(read16(bytes, offset + 2))
}

func read32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(read16(bytes, offset)) << 16 | UInt32(read16(bytes, offset + 2))
}
