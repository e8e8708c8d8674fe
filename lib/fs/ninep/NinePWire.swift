// NinePWire: the byte layer of 9P — a T-message built field by field, an R-message read field by field.
//
// Every message is size[4] type[1] tag[2] and then its fields, little-endian; a string is len[2] and
// its bytes (no NUL), a qid is type[1] version[4] path[8]. Building checks only the lengths the format
// cannot hold (a string over 65535 bytes is ENAMETOOLONG). Reading is where untrusted bytes enter:
// `NinePReply` checks the header against the bytes it was given (at least 7, and the size field equal
// to the count) and every later read against what is left, so a short, long or hostile reply is
// `FileError.io` — never a trap, never a read past the end. Bytes after the last field a decoder
// wants are ignored (a newer server may append fields).
//
// The client is strictly sequential (the VFS lock serializes calls), so every request carries the
// same tag, `NinePRequest.tag`, except Tversion, which must carry NOTAG.

import VFS

/// A server's identity for a file: `path` is unique per file (the inode number, for the servers we
/// know), `type` has the directory (0x80) and symbolic-link (0x02) bits.
public struct NinePQid: Hashable, Sendable {
    public var type: UInt8
    public var version: UInt32
    public var path: UInt64

    public init(type: UInt8, version: UInt32, path: UInt64) {
        self.type = type
        self.version = version
        self.path = path
    }

    public var isDirectory: Bool { type & 0x80 != 0 }
    public var isSymbolicLink: Bool { type & 0x02 != 0 }
}

/// A T-message being built.
public struct NinePRequest {
    /// The tag of every request but Tversion.
    public static let tag: UInt16 = 1
    /// Tversion's tag.
    public static let noTag: UInt16 = 0xFFFF

    var bytes: [UInt8]

    public init(_ type: NinePMessageType, tag: UInt16 = NinePRequest.tag) {
        bytes = [0, 0, 0, 0, type.rawValue, UInt8(truncatingIfNeeded: tag), UInt8(truncatingIfNeeded: tag >> 8)]
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { append(UInt64(value), count: 2) }
    mutating func u32(_ value: UInt32) { append(UInt64(value), count: 4) }
    mutating func u64(_ value: UInt64) { append(value, count: 8) }

    private mutating func append(_ value: UInt64, count: Int) {
        for index in 0 ..< count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }

    mutating func string(_ text: [UInt8]) throws(FileError) {
        guard text.count <= 0xFFFF else { throw .nameTooLong }
        u16(UInt16(text.count))
        bytes += text
    }

    /// Raw bytes (Twrite's data; its count is a field the caller writes first).
    mutating func data(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }

    /// The message with its size field filled in.
    public func finished() -> [UInt8] {
        var message = bytes
        let size = UInt32(truncatingIfNeeded: message.count)
        for index in 0 ..< 4 { message[index] = UInt8(truncatingIfNeeded: size >> (8 * UInt32(index))) }
        return message
    }
}

/// An R-message being read; every read is checked against the bytes left.
public struct NinePReply {
    public let type: UInt8
    public let tag: UInt16
    let bytes: [UInt8]
    var position = 7

    /// Checks the header: at least 7 bytes and a size field equal to the count.
    public init(_ bytes: [UInt8]) throws(FileError) {
        guard bytes.count >= 7 else { throw .io }
        let size = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        guard UInt64(size) == UInt64(bytes.count) else { throw .io }
        self.bytes = bytes
        type = bytes[4]
        tag = UInt16(bytes[5]) | UInt16(bytes[6]) << 8
    }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - position }

    /// Claims the next `count` bytes; returns where they start.
    mutating func take(_ count: Int) throws(FileError) -> Int {
        guard count >= 0, count <= remaining else { throw .io }
        let start = position
        position += count
        return start
    }

    mutating func u8() throws(FileError) -> UInt8 { bytes[try take(1)] }
    mutating func u16() throws(FileError) -> UInt16 { UInt16(truncatingIfNeeded: try little(2)) }
    mutating func u32() throws(FileError) -> UInt32 { UInt32(truncatingIfNeeded: try little(4)) }
    mutating func u64() throws(FileError) -> UInt64 { try little(8) }

    private mutating func little(_ count: Int) throws(FileError) -> UInt64 {
        let start = try take(count)
        var value: UInt64 = 0
        for index in 0 ..< count { value |= UInt64(bytes[start + index]) << (8 * UInt64(index)) }
        return value
    }

    mutating func string() throws(FileError) -> [UInt8] {
        let count = Int(try u16())
        let start = try take(count)
        return Array(bytes[start ..< start + count])
    }

    public mutating func qid() throws(FileError) -> NinePQid {
        let type = try u8()
        let version = try u32()
        return NinePQid(type: type, version: version, path: try u64())
    }

    /// Copies the next `count` bytes to `destination` (which must hold them).
    public mutating func copy(_ count: Int, to destination: UnsafeMutableRawBufferPointer) throws(FileError) {
        guard count <= destination.count else { throw .io }
        let start = try take(count)
        guard count > 0, let base = destination.baseAddress else { return }
        bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
    }
}
