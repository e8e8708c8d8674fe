// TCP options (RFC 9293 section 3.1 and 3.2): the bytes between the 20-byte fixed header and the data.
//
// An option is either a single kind byte (0 end of option list, 1 no-operation) or kind, length (which
// counts the kind and length bytes) and length - 2 bytes of data. Kinds this library knows:
//
//     kind 2  maximum segment size        length 4    RFC 9293 section 3.7.1
//     kind 3  window scale                length 3    RFC 7323 section 2
//     kind 4  SACK permitted              length 2    RFC 2018
//     kind 5  SACK blocks                 length 2 + 8n, n = 1...4 (checked, then skipped)
//     kind 8  timestamps                  length 10   RFC 7323 section 3
//
// Validation (`TCPOptionList(checking:)`, run by `TCPPacket(checking:)` before the packet is accepted)
// walks the options once: a length byte missing at the end of the area, a length below 2, a length
// running past the header, or a known kind with the wrong length is `.malformed` (RFC 9293 section
// 3.1: a TCP implementation must be prepared for illegal option lengths; rejecting the segment is the
// conservative reading). Unknown kinds with a sane length are skipped, as RFC 9293 requires. Parsing
// stops at end-of-list; whatever follows it is padding and is ignored.
//
// `TCPOptions` is the parsed set that `TCPRepr` carries (the last occurrence of a kind wins, as in
// Linux). It emits in the layout Linux uses for a SYN, so a Linux SYN round-trips byte for byte:
//
//     MSS(4)  [SACK-permitted(2) timestamps(10) | NOP NOP timestamps(10) | NOP NOP SACK-permitted(2)]
//     [NOP window-scale(3)]
//
// which is always a multiple of 4 bytes, at most 20.

/// One TCP option, as found in a validated option area.
public enum TCPOption: Hashable, Sendable {
    case endOfOptionList
    case noOperation
    case maximumSegmentSize(UInt16)
    /// The shift count; RFC 7323 says values above 14 are used as 14, which is left to the TCP layer.
    case windowScale(UInt8)
    case sackPermitted
    case timestamps(value: UInt32, echoReply: UInt32)
    /// A kind this library does not interpret (SACK blocks included); `length` counts kind and length.
    case unknown(kind: UInt8, length: Int)
}

enum TCPOptionKind {
    static let endOfOptionList: UInt8 = 0
    static let noOperation: UInt8 = 1
    static let maximumSegmentSize: UInt8 = 2
    static let windowScale: UInt8 = 3
    static let sackPermitted: UInt8 = 4
    static let sack: UInt8 = 5
    static let timestamps: UInt8 = 8

    /// Whether `length` is legal for `kind`; any length of at least 2 is for unknown kinds.
    static func isValid(length: Int, for kind: UInt8) -> Bool {
        switch kind {
        case maximumSegmentSize: return length == 4
        case windowScale: return length == 3
        case sackPermitted: return length == 2
        case sack: return length >= 10 && length <= 34 && (length - 2) % 8 == 0
        case timestamps: return length == 10
        default: return length >= 2
        }
    }
}

/// A validated TCP option area; iterating it yields each option up to and including end-of-list.
public struct TCPOptionList: Sequence {
    /// The option area as given (0...40 bytes inside a TCP header).
    public let bytes: UnsafeRawBufferPointer

    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        var offset = 0
        while offset < bytes.count {
            let kind = bytes[offset]
            if kind == TCPOptionKind.endOfOptionList { break }
            if kind == TCPOptionKind.noOperation {
                offset += 1
                continue
            }
            guard offset + 1 < bytes.count else { throw .malformed }
            let length = Int(bytes[offset + 1])
            guard TCPOptionKind.isValid(length: length, for: kind), length <= bytes.count - offset else {
                throw .malformed
            }
            offset += length
        }
        self.bytes = bytes
    }

    public struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        public mutating func next() -> TCPOption? {
            guard offset < bytes.count else { return nil }
            let kind = bytes[offset]
            if kind == TCPOptionKind.endOfOptionList {
                offset = bytes.count
                return .endOfOptionList
            }
            if kind == TCPOptionKind.noOperation {
                offset += 1
                return .noOperation
            }
            // The list was validated; the guard only keeps a misuse from reading out of bounds.
            guard offset + 1 < bytes.count else { return nil }
            let length = Int(bytes[offset + 1])
            guard length >= 2, length <= bytes.count - offset else { return nil }
            defer { offset += length }
            let data = offset + 2
            switch kind {
            case TCPOptionKind.maximumSegmentSize where length == 4:
                return .maximumSegmentSize(bytes.read16(at: data))
            case TCPOptionKind.windowScale where length == 3:
                return .windowScale(bytes[data])
            case TCPOptionKind.sackPermitted where length == 2:
                return .sackPermitted
            case TCPOptionKind.timestamps where length == 10:
                return .timestamps(value: bytes.read32(at: data), echoReply: bytes.read32(at: data + 4))
            default:
                return .unknown(kind: kind, length: length)
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes) }
}

/// The TCP timestamps option's two values (RFC 7323 section 3).
public struct TCPTimestamps: Hashable, Sendable {
    public var value: UInt32
    public var echoReply: UInt32

    public init(value: UInt32, echoReply: UInt32) {
        self.value = value
        self.echoReply = echoReply
    }
}

/// The TCP options a segment carries, as values.
public struct TCPOptions: Hashable, Sendable {
    public var maximumSegmentSize: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted: Bool
    public var timestamps: TCPTimestamps?

    public init(maximumSegmentSize: UInt16? = nil, windowScale: UInt8? = nil, sackPermitted: Bool = false,
                timestamps: TCPTimestamps? = nil) {
        self.maximumSegmentSize = maximumSegmentSize
        self.windowScale = windowScale
        self.sackPermitted = sackPermitted
        self.timestamps = timestamps
    }

    /// The options in a validated list; unknown kinds are dropped, the last of a kind wins.
    public init(_ list: TCPOptionList) {
        self.init()
        for option in list {
            switch option {
            case .maximumSegmentSize(let size): maximumSegmentSize = size
            case .windowScale(let shift): windowScale = shift
            case .sackPermitted: sackPermitted = true
            case .timestamps(let value, let echoReply):
                timestamps = TCPTimestamps(value: value, echoReply: echoReply)
            case .endOfOptionList, .noOperation, .unknown: break
            }
        }
    }

    /// Bytes `emit` writes: a multiple of 4, 0...20.
    public var encodedLength: Int {
        var length = maximumSegmentSize == nil ? 0 : 4
        if timestamps != nil { length += 12 } else if sackPermitted { length += 4 }
        if windowScale != nil { length += 4 }
        return length
    }

    /// Writes the options at `offset` in Linux's layout (see the design comment).
    func emit(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        var position = offset
        func put(_ first: UInt8, _ second: UInt8) {
            buffer[position] = first
            buffer[position + 1] = second
            position += 2
        }
        if let size = maximumSegmentSize {
            put(TCPOptionKind.maximumSegmentSize, 4)
            buffer.write16(size, at: position)
            position += 2
        }
        if let timestamps {
            if sackPermitted { put(TCPOptionKind.sackPermitted, 2) } else {
                put(TCPOptionKind.noOperation, TCPOptionKind.noOperation)
            }
            put(TCPOptionKind.timestamps, 10)
            buffer.write32(timestamps.value, at: position)
            buffer.write32(timestamps.echoReply, at: position + 4)
            position += 8
        } else if sackPermitted {
            put(TCPOptionKind.noOperation, TCPOptionKind.noOperation)
            put(TCPOptionKind.sackPermitted, 2)
        }
        if let shift = windowScale {
            put(TCPOptionKind.noOperation, TCPOptionKind.windowScale)
            put(3, shift)
        }
    }
}
