// NetWire: packet formats as typed, zero-copy views over untrusted bytes, plus the parsed values
// ("representations") that the rest of the network stack works with. It is pure logic over bytes: no
// Foundation, no classes, no existentials, no heap allocation while parsing; it runs in the guest and in
// host unit tests alike.
//
// Each protocol has three parts, in the manner of smoltcp's `wire` layer:
//
//     XPacket  a view over an `UnsafeRawBufferPointer` (EthernetFrame, ARPPacket, IPv4Packet,
//              ICMPv4Packet, UDPPacket, TCPPacket). The only public initializer is the checked one,
//              `init(checking:) throws(WireError)`: it validates every length the view relies on (fixed
//              header size, length fields against each other and against the buffer, TCP option
//              lengths) before any field is read, so every accessor afterwards reads in bounds. Fields
//              are read big-endian at the named offsets of the file's `Field` enum. `payload` is a
//              slice of the same memory, never a copy. The view does not own the bytes: they must
//              stay valid while the view is used.
//     XRepr    plain values (EthernetRepr, ARPRepr, IPv4Repr, ICMPv4Repr, UDPRepr, TCPRepr), parsed
//              from a checked view by `init(parsing:)`, which also verifies checksums and rejects what
//              the representation cannot express. Everything above the wire layer uses these.
//     emit     `XRepr.emit(into:)` writes the header into an `UnsafeMutableRawBufferPointer` and fills
//              in the checksum. It trusts the representation and never re-validates; it traps
//              (precondition) only when the buffer cannot hold what it must write or a length does not
//              fit its 16-bit field; other out-of-range values are debug assertions. For ICMP, UDP
//              and TCP the buffer is the whole message and the payload must already be in place after
//              the header (zero-copy transmit: the payload is written first, then the header).
//
// Errors are one small enum, `WireError`. The rule for the two length errors: a buffer shorter than a
// fixed header or than a length field claims is `.truncated`; a length field that contradicts the
// format itself (IHL < 5, total length < header, UDP length < 8, TCP data offset < 5, an option length
// that is too small, wrong for its kind or runs past the header) is `.malformed`.
//
// Not supported (yet), with the RFCs that define them:
//   - 802.1Q VLAN tags and IEEE 802.3 length/LLC frames (EtherType < 0x0600 is `.unsupported`);
//   - ARP for anything but IPv4 over Ethernet (RFC 826 allows other hardware and protocol types);
//   - IPv4 options (RFC 791 section 3.1) are length-checked and exposed as raw bytes, not interpreted,
//     and `IPv4Repr` drops them; fragments are exposed (RFC 791 fields) but reassembly is not here;
//   - ICMPv4 messages other than echo request and reply (RFC 792) are `.unsupported` in `ICMPv4Repr`;
//   - TCP SACK blocks (RFC 2018, kind 5) and other unknown TCP options are length-checked and skipped;
//   - IPv6, and checksum offload (checksums are always computed and verified in software).

/// Why a buffer was rejected.
public enum WireError: Error, Hashable {
    /// The buffer ends before a fixed header, or before the length a header field claims.
    case truncated
    /// A field contradicts the format (a length field that is too small, an option of a wrong length).
    case malformed
    /// The Internet checksum does not verify.
    case badChecksum
    /// Well formed, but not something this library represents (e.g. ARP for IPv6, an ICMP redirect).
    case unsupported
}

// MARK: - Big-endian field access

extension UnsafeRawBufferPointer {
    /// The big-endian 16-bit value at `offset`. Callers read only inside lengths their view validated.
    @inline(__always)
    func read16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// The big-endian 32-bit value at `offset`.
    @inline(__always)
    func read32(at offset: Int) -> UInt32 {
        UInt32(read16(at: offset)) << 16 | UInt32(read16(at: offset + 2))
    }

    /// The bytes in `range`, as a view of the same memory.
    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func write16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always)
    func write32(_ value: UInt32, at offset: Int) {
        write16(UInt16(truncatingIfNeeded: value >> 16), at: offset)
        write16(UInt16(truncatingIfNeeded: value), at: offset + 2)
    }

    /// The bytes in `range`, read-only, for checksumming what was just written.
    @inline(__always)
    func readOnly(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

// MARK: - Formatting helpers (used by the address types' descriptions; they allocate, parsing does not)

enum ASCII {
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let dot = UInt8(ascii: ".")
    static let colon = UInt8(ascii: ":")
    static let hyphen = UInt8(ascii: "-")

    /// The lowercase hex digit of `nibble` (0...15).
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? zero + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// The value of a hex digit in either case, or nil.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case zero...nine: return byte - zero
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Appends `value` in decimal without leading zeros.
    static func appendDecimal(_ value: UInt8, to text: inout [UInt8]) {
        if value >= 100 { text.append(zero + value / 100) }
        if value >= 10 { text.append(zero + value / 10 % 10) }
        text.append(zero + value % 10)
    }
}
