// TCP headers (RFC 9293 section 3.1).
//
//     0                16                31
//     +-----------------+-----------------+
//     |   source port   |destination port |
//     |          sequence number          |
//     |       acknowledgment number       |
//     |off |rsvd| flags |     window      |
//     |    checksum     | urgent pointer  |
//     |   options (data offset > 5) ...   |
//     |   data ...                        |
//     +-----------------------------------+
//
// The view's buffer is the whole segment: TCP has no length field of its own, the segment length is
// the IPv4 payload length. Checks before any field is read: the 20-byte header present (`.truncated`),
// the segment no longer than 65535 bytes (its length must fit the pseudo-header, `.malformed`), data
// offset >= 5 (`.malformed`), the data offset * 4 header inside the segment (`.truncated`), and the
// options valid (TCPOptions.swift, `.malformed`). A checked TCPPacket therefore has well-formed options.
//
// The checksum covers the IPv4 pseudo-header (source, destination, zero, protocol 6, segment length),
// the header and the data (RFC 9293 section 3.1; there is no "no checksum" value as in UDP).
//
// `TCPRepr` is the header as values, with the options parsed into `TCPOptions`; it holds no judgement
// about flag combinations or sequence numbers, which belong to the TCP state machine above. The data
// is carried separately: the sender writes it at `headerLength` into the segment buffer, then `emit`
// writes the header and the checksum over both.

/// The TCP control bits (RFC 9293 section 3.1, with ECE and CWR from RFC 3168).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

/// A checked view of a TCP segment.
public struct TCPPacket {
    enum Field {
        static let sourcePort = 0
        static let destinationPort = 2
        static let sequenceNumber = 4
        static let acknowledgmentNumber = 8
        static let dataOffset = 12
        static let flags = 13
        static let window = 14
        static let checksum = 16
        static let urgentPointer = 18
        static let options = 20
    }

    public static let minimumHeaderLength = 20

    /// The whole segment, header and data.
    public let bytes: UnsafeRawBufferPointer

    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.minimumHeaderLength else { throw .truncated }
        guard bytes.count <= 0xFFFF else { throw .malformed }
        let headerLength = Int(bytes[Field.dataOffset] >> 4) * 4
        guard headerLength >= Self.minimumHeaderLength else { throw .malformed }
        guard headerLength <= bytes.count else { throw .truncated }
        _ = try TCPOptionList(checking: bytes.slice(Field.options..<headerLength))
        self.bytes = bytes
    }

    public var sourcePort: UInt16 { bytes.read16(at: Field.sourcePort) }
    public var destinationPort: UInt16 { bytes.read16(at: Field.destinationPort) }
    public var sequenceNumber: UInt32 { bytes.read32(at: Field.sequenceNumber) }
    /// Meaningful only when the ACK flag is set.
    public var acknowledgmentNumber: UInt32 { bytes.read32(at: Field.acknowledgmentNumber) }
    /// The header length in bytes (data offset * 4), 20...60.
    public var headerLength: Int { Int(bytes[Field.dataOffset] >> 4) * 4 }
    /// The four reserved bits after the data offset (RFC 9293: must be zero; receivers ignore them).
    public var reserved: UInt8 { bytes[Field.dataOffset] & 0x0F }
    public var flags: TCPFlags { TCPFlags(rawValue: bytes[Field.flags]) }
    public var window: UInt16 { bytes.read16(at: Field.window) }
    public var checksum: UInt16 { bytes.read16(at: Field.checksum) }
    /// Meaningful only when the URG flag is set.
    public var urgentPointer: UInt16 { bytes.read16(at: Field.urgentPointer) }

    /// The options, validated by the checked initializer.
    public var options: TCPOptionList { TCPOptionList(validated: bytes.slice(Field.options..<headerLength)) }
    /// The data after the header.
    public var payload: UnsafeRawBufferPointer { bytes.slice(headerLength..<bytes.count) }

    /// Whether the checksum verifies with the pseudo-header of the carrying IPv4 packet.
    public func verifyChecksum(source: IPv4Address, destination: IPv4Address) -> Bool {
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocol: .tcp,
                            length: UInt16(bytes.count))
        sum.add(bytes)
        return sum.isValid
    }
}

extension TCPOptionList {
    /// An option area that `TCPPacket(checking:)` already validated.
    init(validated bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }
}

/// A TCP header as values.
public struct TCPRepr: Hashable, Sendable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: UInt32
    public var acknowledgmentNumber: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var urgentPointer: UInt16
    public var options: TCPOptions

    public init(sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: UInt32,
                acknowledgmentNumber: UInt32 = 0, flags: TCPFlags, window: UInt16, urgentPointer: UInt16 = 0,
                options: TCPOptions = TCPOptions()) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.urgentPointer = urgentPointer
        self.options = options
    }

    /// The header of a segment whose checksum verifies with the given pseudo-header addresses.
    public init(parsing packet: TCPPacket, source: IPv4Address, destination: IPv4Address) throws(WireError) {
        guard packet.verifyChecksum(source: source, destination: destination) else { throw .badChecksum }
        self.init(sourcePort: packet.sourcePort, destinationPort: packet.destinationPort,
                  sequenceNumber: packet.sequenceNumber, acknowledgmentNumber: packet.acknowledgmentNumber,
                  flags: packet.flags, window: packet.window, urgentPointer: packet.urgentPointer,
                  options: TCPOptions(packet.options))
    }

    /// What `emit` writes before the data: 20 bytes plus the options, 20...40.
    public var headerLength: Int { TCPPacket.minimumHeaderLength + options.encodedLength }

    /// Writes the header into the start of `buffer`, which is the whole segment (headerLength...65535
    /// bytes) with its data already in place at `headerLength`, and the checksum over all of it.
    public func emit(into buffer: UnsafeMutableRawBufferPointer, source: IPv4Address, destination: IPv4Address) {
        let headerLength = headerLength
        precondition(buffer.count >= headerLength && buffer.count <= 0xFFFF,
                     "TCPRepr.emit: segment length out of range")
        typealias Field = TCPPacket.Field
        buffer.write16(sourcePort, at: Field.sourcePort)
        buffer.write16(destinationPort, at: Field.destinationPort)
        buffer.write32(sequenceNumber, at: Field.sequenceNumber)
        buffer.write32(acknowledgmentNumber, at: Field.acknowledgmentNumber)
        buffer[Field.dataOffset] = UInt8(headerLength / 4) << 4
        buffer[Field.flags] = flags.rawValue
        buffer.write16(window, at: Field.window)
        buffer.write16(0, at: Field.checksum)
        buffer.write16(urgentPointer, at: Field.urgentPointer)
        options.emit(into: buffer, at: Field.options)
        var sum = InternetChecksum()
        sum.addPseudoHeader(source: source, destination: destination, protocol: .tcp,
                            length: UInt16(buffer.count))
        sum.add(buffer.readOnly(0..<buffer.count))
        buffer.write16(sum.checksum, at: Field.checksum)
    }
}
