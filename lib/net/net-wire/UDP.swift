// UDP headers (RFC 768).
//
//     0                16                31
//     +-----------------+-----------------+
//     |   source port   |destination port |
//     |     length      |    checksum     |
//     |   data ...                        |
//     +-----------------------------------+
//
// Checks before any field is read: the 8-byte header present (`.truncated`), the length field at least
// 8 (`.malformed`) and no more than the buffer (`.truncated`). The datagram is the first `length` bytes
// of the buffer; anything after it is ignored.
//
// The checksum covers the IPv4 pseudo-header (source, destination, zero, protocol 17, UDP length), the
// header and the data, padded with a zero byte to an even length (RFC 768, RFC 1071). A transmitted
// checksum of 0 means the sender computed none (RFC 768); such a datagram verifies. A computed checksum
// of 0 is therefore sent as 0xFFFF. The ports are the representation; the data is carried separately:
// the sender writes it after the header first, then `emit` fills in the header and the checksum.

/// A checked view of a UDP datagram.
public struct UDPPacket {
    enum Field {
        static let sourcePort = 0
        static let destinationPort = 2
        static let length = 4
        static let checksum = 6
    }

    public static let headerLength = 8

    /// The buffer as given; the datagram is its first `length` bytes.
    public let bytes: UnsafeRawBufferPointer

    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        let length = Int(bytes.read16(at: Field.length))
        guard length >= Self.headerLength else { throw .malformed }
        guard length <= bytes.count else { throw .truncated }
        self.bytes = bytes
    }

    public var sourcePort: UInt16 { bytes.read16(at: Field.sourcePort) }
    public var destinationPort: UInt16 { bytes.read16(at: Field.destinationPort) }
    /// Header and data, in bytes.
    public var length: Int { Int(bytes.read16(at: Field.length)) }
    /// 0 when the sender computed none.
    public var checksum: UInt16 { bytes.read16(at: Field.checksum) }
    /// The data, up to `length`.
    public var payload: UnsafeRawBufferPointer { bytes.slice(Self.headerLength..<length) }

    /// Whether the checksum verifies with the pseudo-header of the carrying IPv4 packet; a datagram
    /// without a checksum (0) verifies.
    public func verifyChecksum(source: IPv4Address, destination: IPv4Address) -> Bool {
        guard checksum != 0 else { return true }
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocol: .udp, length: UInt16(length))
        sum.add(bytes.slice(0..<length))
        return sum.isValid
    }
}

/// A UDP header as values: the ports. The length comes from the buffer `emit` writes into.
public struct UDPRepr: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    public static let headerLength = UDPPacket.headerLength

    public init(sourcePort: UInt16, destinationPort: UInt16) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// The header of a datagram whose checksum (if any) verifies with the given pseudo-header addresses.
    public init(parsing packet: UDPPacket, source: IPv4Address, destination: IPv4Address) throws(WireError) {
        guard packet.verifyChecksum(source: source, destination: destination) else { throw .badChecksum }
        self.init(sourcePort: packet.sourcePort, destinationPort: packet.destinationPort)
    }

    /// Writes the header into the first 8 bytes of `buffer`, which is the whole datagram (8...65535
    /// bytes) with its data already in place, and the checksum unless `checksum` is false (then 0).
    public func emit(into buffer: UnsafeMutableRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                     checksum: Bool = true) {
        precondition(buffer.count >= Self.headerLength && buffer.count <= 0xFFFF,
                     "UDPRepr.emit: datagram length out of range")
        typealias Field = UDPPacket.Field
        let length = UInt16(buffer.count)
        buffer.write16(sourcePort, at: Field.sourcePort)
        buffer.write16(destinationPort, at: Field.destinationPort)
        buffer.write16(length, at: Field.length)
        buffer.write16(0, at: Field.checksum)
        guard checksum else { return }
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocol: .udp, length: length)
        sum.add(buffer.readOnly(0..<buffer.count))
        let value = sum.checksum
        buffer.write16(value == 0 ? 0xFFFF : value, at: Field.checksum)
    }
}
