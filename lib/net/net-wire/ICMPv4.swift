// ICMP for IPv4 (RFC 792): echo request and echo reply, the messages of `ping`.
//
//     0        8        16                31
//     +--------+--------+-----------------+
//     |  type  |  code  |    checksum     |
//     |   identifier    | sequence number |   (echo; other types use these 4 bytes differently)
//     |   data ...                        |
//     +-----------------------------------+
//
// The view needs the 8-byte header; everything after it is `data`. The message is the whole buffer
// (its length comes from the IPv4 total length), and the checksum covers all of it, header and data
// (RFC 792: "the 16-bit one's complement of the one's complement sum of the ICMP message starting with
// the ICMP Type").
//
// `ICMPv4Repr` represents echo request (type 8) and echo reply (type 0) with code 0; a nonzero code on
// them is `.malformed`, and any other type (destination unreachable, time exceeded, redirect, ...) is
// `.unsupported` for now. The echo data is not part of the representation: a reply copies the
// request's `data` into its own buffer, then `emit` writes the header and the checksum over both.

/// The ICMPv4 message types this library names (IANA "ICMP Type Numbers").
public struct ICMPv4Type: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public static let echoReply = ICMPv4Type(rawValue: 0)
    public static let destinationUnreachable = ICMPv4Type(rawValue: 3)
    public static let redirect = ICMPv4Type(rawValue: 5)
    public static let echoRequest = ICMPv4Type(rawValue: 8)
    public static let timeExceeded = ICMPv4Type(rawValue: 11)
    public static let parameterProblem = ICMPv4Type(rawValue: 12)
}

/// A checked view of an ICMPv4 message.
public struct ICMPv4Packet {
    enum Field {
        static let messageType = 0
        static let code = 1
        static let checksum = 2
        static let identifier = 4
        static let sequenceNumber = 6
        static let data = 8
    }

    public static let headerLength = 8

    /// The whole message.
    public let bytes: UnsafeRawBufferPointer

    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        self.bytes = bytes
    }

    public var messageType: ICMPv4Type { ICMPv4Type(rawValue: bytes[Field.messageType]) }
    public var code: UInt8 { bytes[Field.code] }
    public var checksum: UInt16 { bytes.read16(at: Field.checksum) }
    /// Bytes 4...7, whose meaning depends on the type.
    public var restOfHeader: UInt32 { bytes.read32(at: Field.identifier) }
    /// Echo identifier (bytes 4...5).
    public var identifier: UInt16 { bytes.read16(at: Field.identifier) }
    /// Echo sequence number (bytes 6...7).
    public var sequenceNumber: UInt16 { bytes.read16(at: Field.sequenceNumber) }
    /// Everything after the 8-byte header.
    public var data: UnsafeRawBufferPointer { bytes.slice(Field.data..<bytes.count) }

    /// Whether the checksum over the whole message verifies.
    public func verifyChecksum() -> Bool {
        var sum = InternetChecksum()
        sum.add(bytes)
        return sum.isValid
    }
}

/// An ICMPv4 echo message; its data is carried separately (see the design comment).
public enum ICMPv4Repr: Hashable, Sendable {
    case echoRequest(identifier: UInt16, sequenceNumber: UInt16)
    case echoReply(identifier: UInt16, sequenceNumber: UInt16)

    public static let headerLength = ICMPv4Packet.headerLength

    /// An echo message whose checksum verifies.
    public init(parsing packet: ICMPv4Packet) throws(WireError) {
        guard packet.verifyChecksum() else { throw .badChecksum }
        let type = packet.messageType
        guard type == .echoRequest || type == .echoReply else { throw .unsupported }
        guard packet.code == 0 else { throw .malformed }
        self = type == .echoRequest
            ? .echoRequest(identifier: packet.identifier, sequenceNumber: packet.sequenceNumber)
            : .echoReply(identifier: packet.identifier, sequenceNumber: packet.sequenceNumber)
    }

    /// The reply that answers this message if it is a request (RFC 792: same identifier and sequence
    /// number, and the request's data echoed), nil for a reply.
    public var reply: ICMPv4Repr? {
        guard case .echoRequest(let identifier, let sequenceNumber) = self else { return nil }
        return .echoReply(identifier: identifier, sequenceNumber: sequenceNumber)
    }

    /// Writes the header into the first 8 bytes of `buffer`, which is the whole message with its data
    /// already in place after the header, and the checksum over all of it.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.headerLength, "ICMPv4Repr.emit: buffer too small")
        typealias Field = ICMPv4Packet.Field
        switch self {
        case .echoRequest(let identifier, let sequenceNumber):
            buffer[Field.messageType] = ICMPv4Type.echoRequest.rawValue
            buffer.write16(identifier, at: Field.identifier)
            buffer.write16(sequenceNumber, at: Field.sequenceNumber)
        case .echoReply(let identifier, let sequenceNumber):
            buffer[Field.messageType] = ICMPv4Type.echoReply.rawValue
            buffer.write16(identifier, at: Field.identifier)
            buffer.write16(sequenceNumber, at: Field.sequenceNumber)
        }
        buffer[Field.code] = 0
        buffer.write16(0, at: Field.checksum)
        buffer.write16(InternetChecksum.checksum(buffer.readOnly(0..<buffer.count)), at: Field.checksum)
    }
}

/// An ICMPv4 destination-unreachable error (RFC 792), for sending only: type 3, `code` (3 = port
/// unreachable), four unused bytes, then the offending datagram's IP header and first 8 data bytes,
/// which the caller places after the 8-byte header before calling `emit`.
public struct ICMPv4DestinationUnreachable: Hashable, Sendable {
    public static let portUnreachable: UInt8 = 3
    public var code: UInt8

    public init(code: UInt8) { self.code = code }

    /// Writes the header into the first 8 bytes of `buffer` (the whole message) and the checksum.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= ICMPv4Packet.headerLength, "ICMPv4DestinationUnreachable.emit: buffer too small")
        typealias Field = ICMPv4Packet.Field
        buffer[Field.messageType] = ICMPv4Type.destinationUnreachable.rawValue
        buffer[Field.code] = code
        buffer.write16(0, at: Field.checksum)
        buffer.write16(0, at: Field.identifier)
        buffer.write16(0, at: Field.sequenceNumber)
        buffer.write16(InternetChecksum.checksum(buffer.readOnly(0..<buffer.count)), at: Field.checksum)
    }
}
