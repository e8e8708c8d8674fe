// The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones' complement sum of the data
// taken as big-endian 16-bit words, an odd final byte padded with a zero byte.
//
// `InternetChecksum` accumulates incrementally, so a checksum can span pieces that are not contiguous in
// memory: the IPv4 pseudo-header (built from values, never from a buffer), a header, then a payload.
// The running sum is a plain 64-bit integer of 16-bit words, folded (end-around carry, RFC 1071
// section 2(C)) only when the result is read: 2^48 words would be needed to overflow it.
//
// Pieces may have odd lengths. Byte order independence (RFC 1071 section 2(B)) makes that easy: after
// an odd number of bytes the next byte is the low half of a word, and a whole word added at that odd
// position contributes its byte-swapped value. The sum is therefore the same however the data is split.
//
// Two ways to use the result:
//   - to fill a checksum field: add the data with the field set to zero, store `checksum`;
//   - to verify: add the data including the stored field; it verifies when `isValid` (the folded sum
//     is 0xFFFF, i.e. its complement is zero).
// A computed checksum is 0x0000 exactly when the data sums to 0xFFFF. UDP reserves a transmitted 0 for
// "no checksum" and sends that case as 0xFFFF, its other ones' complement zero (RFC 768); `UDPRepr.emit`
// does so.

/// A running Internet checksum (RFC 1071).
public struct InternetChecksum: Hashable, Sendable {
    /// The sum of the 16-bit words added so far, not yet folded.
    var sum: UInt64 = 0
    /// Whether an odd number of bytes has been added: the next byte is the low half of a word.
    var odd = false

    public init() {}

    /// The checksum of `bytes` alone: the value to store in a checksum field.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(bytes)
        return checksum.checksum
    }

    /// Adds bytes that follow whatever was added before.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var index = 0
        if odd && count > 0 {
            sum &+= UInt64(bytes[0])
            index = 1
            odd = false
        }
        while index + 1 < count {
            sum &+= UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < count {
            sum &+= UInt64(bytes[index]) << 8
            odd = true
        }
    }

    /// Adds a big-endian 16-bit word, as if its two bytes followed the data added so far.
    public mutating func add(_ word: UInt16) {
        sum &+= UInt64(odd ? word.byteSwapped : word)
    }

    /// Adds a big-endian 32-bit value as two words.
    public mutating func add(_ value: UInt32) {
        add(UInt16(truncatingIfNeeded: value >> 16))
        add(UInt16(truncatingIfNeeded: value))
    }

    /// Adds the IPv4 pseudo-header that TCP (RFC 9293 section 3.1) and UDP (RFC 768) checksums cover:
    /// source, destination, a zero byte, the protocol, and the TCP or UDP length (header and data).
    public mutating func addPseudoHeader(source: IPv4Address, destination: IPv4Address,
                                         protocol number: IPProtocol, length: UInt16) {
        add(source.rawValue)
        add(destination.rawValue)
        add(UInt16(number.rawValue))
        add(length)
    }

    /// The ones' complement sum, folded to 16 bits with end-around carry (RFC 1071 section 2(C)).
    public var folded: UInt16 {
        var value = sum
        while value > 0xFFFF { value = (value & 0xFFFF) + (value >> 16) }
        return UInt16(value)
    }

    /// The value to store in a checksum field: the complement of the folded sum.
    public var checksum: UInt16 { ~folded }

    /// Whether data added together with its stored checksum verifies.
    public var isValid: Bool { folded == 0xFFFF }
}
