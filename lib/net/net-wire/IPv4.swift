// IPv4 headers (RFC 791 section 3.1).
//
//     0        4        8                16    19                       31
//     +--------+--------+----------------+-----+------------------------+
//     |version |  IHL   |  DSCP  | ECN   |      total length            |
//     |      identification              |flags|   fragment offset      |
//     |  time to live   |    protocol    |      header checksum         |
//     |                        source address                           |
//     |                      destination address                        |
//     |                 options (IHL > 5), up to 40 bytes               |
//     +-----------------------------------------------------------------+
//
// Checks, in order, before any field is read: 20 bytes present (`.truncated`); version 4 and IHL >= 5
// (`.malformed`); the IHL * 4 header present (`.truncated`); total length >= the header (`.malformed`)
// and <= the buffer (`.truncated`). Bytes after the total length (Ethernet padding) are not part of the
// packet: `payload` ends at the total length.
//
// The header checksum covers the header only, options included (RFC 791, computed as in RFC 1071);
// `IPv4Repr(parsing:)` rejects a header whose checksum does not verify. Options are not interpreted
// (see Wire.swift); fragment fields are exposed as they are, for a reassembly layer above this one.
// The reserved flag bit (RFC 791: must be zero) is exposed and ignored, as receivers commonly do.

/// The protocol carried in an IPv4 packet (IANA "Assigned Internet Protocol Numbers").
public struct IPProtocol: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static let icmp = IPProtocol(rawValue: 1)
    public static let tcp = IPProtocol(rawValue: 6)
    public static let udp = IPProtocol(rawValue: 17)
}

/// A checked view of an IPv4 packet.
public struct IPv4Packet {
    enum Field {
        static let versionAndHeaderLength = 0
        static let typeOfService = 1
        static let totalLength = 2
        static let identification = 4
        static let flagsAndFragmentOffset = 6
        static let timeToLive = 8
        static let nextProtocol = 9
        static let checksum = 10
        static let source = 12
        static let destination = 16
        static let options = 20
    }

    public static let minimumHeaderLength = 20

    /// The buffer as given; the packet is its first `totalLength` bytes.
    public let bytes: UnsafeRawBufferPointer

    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.minimumHeaderLength else { throw .truncated }
        let first = bytes[Field.versionAndHeaderLength]
        guard first >> 4 == 4 else { throw .malformed }
        let headerLength = Int(first & 0x0F) * 4
        guard headerLength >= Self.minimumHeaderLength else { throw .malformed }
        guard bytes.count >= headerLength else { throw .truncated }
        let totalLength = Int(bytes.read16(at: Field.totalLength))
        guard totalLength >= headerLength else { throw .malformed }
        guard totalLength <= bytes.count else { throw .truncated }
        self.bytes = bytes
    }

    public var version: UInt8 { bytes[Field.versionAndHeaderLength] >> 4 }
    /// The header length in bytes (IHL * 4), 20...60.
    public var headerLength: Int { Int(bytes[Field.versionAndHeaderLength] & 0x0F) * 4 }
    /// Differentiated services code point (RFC 2474), the top six bits of the old type-of-service byte.
    public var dscp: UInt8 { bytes[Field.typeOfService] >> 2 }
    /// Explicit congestion notification (RFC 3168), the low two bits.
    public var ecn: UInt8 { bytes[Field.typeOfService] & 0x03 }
    /// Header and data, in bytes.
    public var totalLength: Int { Int(bytes.read16(at: Field.totalLength)) }
    public var identification: UInt16 { bytes.read16(at: Field.identification) }
    /// Bit 0 of the flags; RFC 791 says it must be zero.
    public var reservedFlag: Bool { bytes.read16(at: Field.flagsAndFragmentOffset) & 0x8000 != 0 }
    public var dontFragment: Bool { bytes.read16(at: Field.flagsAndFragmentOffset) & 0x4000 != 0 }
    public var moreFragments: Bool { bytes.read16(at: Field.flagsAndFragmentOffset) & 0x2000 != 0 }
    /// The fragment's position in the original datagram, in bytes (the field counts 8-byte units).
    public var fragmentOffset: Int { Int(bytes.read16(at: Field.flagsAndFragmentOffset) & 0x1FFF) * 8 }
    /// Whether this is a fragment of a larger datagram (more fragments follow or it is not the first).
    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }
    public var timeToLive: UInt8 { bytes[Field.timeToLive] }
    public var `protocol`: IPProtocol { IPProtocol(rawValue: bytes[Field.nextProtocol]) }
    public var checksum: UInt16 { bytes.read16(at: Field.checksum) }
    public var source: IPv4Address { IPv4Address(reading: bytes, at: Field.source) }
    public var destination: IPv4Address { IPv4Address(reading: bytes, at: Field.destination) }

    /// The raw options, 0...40 bytes.
    public var options: UnsafeRawBufferPointer { bytes.slice(Field.options..<headerLength) }
    /// The data after the header, up to the total length.
    public var payload: UnsafeRawBufferPointer { bytes.slice(headerLength..<totalLength) }

    /// Whether the header checksum verifies (RFC 791, RFC 1071).
    public func verifyChecksum() -> Bool {
        var sum = InternetChecksum()
        sum.add(bytes.slice(0..<headerLength))
        return sum.isValid
    }
}

/// An IPv4 header as values. Options are not represented: `emit` writes a 20-byte header.
public struct IPv4Repr: Hashable, Sendable {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var `protocol`: IPProtocol
    /// Bytes of data after the header, 0...65515.
    public var payloadLength: Int
    public var timeToLive: UInt8
    /// 0...63.
    public var dscp: UInt8
    /// 0...3.
    public var ecn: UInt8
    public var identification: UInt16
    public var dontFragment: Bool
    public var moreFragments: Bool
    /// In bytes, a multiple of 8 up to 65528.
    public var fragmentOffset: Int

    /// What `emit` writes: no options.
    public static let headerLength = IPv4Packet.minimumHeaderLength

    public init(source: IPv4Address, destination: IPv4Address, protocol: IPProtocol, payloadLength: Int,
                timeToLive: UInt8 = 64, dscp: UInt8 = 0, ecn: UInt8 = 0, identification: UInt16 = 0,
                dontFragment: Bool = false, moreFragments: Bool = false, fragmentOffset: Int = 0) {
        self.source = source
        self.destination = destination
        self.protocol = `protocol`
        self.payloadLength = payloadLength
        self.timeToLive = timeToLive
        self.dscp = dscp
        self.ecn = ecn
        self.identification = identification
        self.dontFragment = dontFragment
        self.moreFragments = moreFragments
        self.fragmentOffset = fragmentOffset
    }

    /// The header of a checked packet whose checksum verifies; options are dropped.
    public init(parsing packet: IPv4Packet) throws(WireError) {
        guard packet.verifyChecksum() else { throw .badChecksum }
        self.init(source: packet.source, destination: packet.destination, protocol: packet.protocol,
                  payloadLength: packet.totalLength - packet.headerLength, timeToLive: packet.timeToLive,
                  dscp: packet.dscp, ecn: packet.ecn, identification: packet.identification,
                  dontFragment: packet.dontFragment, moreFragments: packet.moreFragments,
                  fragmentOffset: packet.fragmentOffset)
    }

    /// Header and payload, in bytes.
    public var totalLength: Int { Self.headerLength + payloadLength }

    /// Writes the 20-byte header, checksum included, at the start of `buffer`; the payload follows it.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.headerLength, "IPv4Repr.emit: buffer too small")
        precondition(payloadLength >= 0 && totalLength <= 0xFFFF, "IPv4Repr.emit: payload length out of range")
        assert(dscp < 64 && ecn < 4, "IPv4Repr.emit: DSCP or ECN out of range")
        assert(fragmentOffset >= 0 && fragmentOffset % 8 == 0 && fragmentOffset <= 0xFFF8,
               "IPv4Repr.emit: fragment offset must be a multiple of 8 up to 65528")
        typealias Field = IPv4Packet.Field
        buffer[Field.versionAndHeaderLength] = 0x40 | UInt8(Self.headerLength / 4)
        buffer[Field.typeOfService] = dscp << 2 | ecn & 0x03
        buffer.write16(UInt16(totalLength), at: Field.totalLength)
        buffer.write16(identification, at: Field.identification)
        var flagsAndOffset = UInt16(truncatingIfNeeded: fragmentOffset / 8) & 0x1FFF
        if dontFragment { flagsAndOffset |= 0x4000 }
        if moreFragments { flagsAndOffset |= 0x2000 }
        buffer.write16(flagsAndOffset, at: Field.flagsAndFragmentOffset)
        buffer[Field.timeToLive] = timeToLive
        buffer[Field.nextProtocol] = `protocol`.rawValue
        buffer.write16(0, at: Field.checksum)
        source.write(to: buffer, at: Field.source)
        destination.write(to: buffer, at: Field.destination)
        buffer.write16(InternetChecksum.checksum(buffer.readOnly(0..<Self.headerLength)), at: Field.checksum)
    }
}
