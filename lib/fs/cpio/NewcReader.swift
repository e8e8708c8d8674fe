// NewcReader: the records of a cpio "newc" archive (magic 070701, or 070702 with checksums), checked.
//
// A record is the 6-byte magic, thirteen 8-digit hexadecimal fields (inode, mode, uid, gid, nlink,
// mtime, file size, device major/minor, represented device major/minor, name size including its NUL,
// checksum), the name padded to a multiple of 4 counting the 110-byte header, then the data padded to
// 4. The archive ends at the record named "TRAILER!!!". Every length is checked against what is left
// before it is used, so a truncated or hostile archive is an error naming the record and its offset,
// never a read past the end; the reader copies nothing (names and data are slices of the archive).
// Linux's initramfs also accepts several archives back to back and zero padding between them; so does
// `next`, which skips NUL bytes at 4-byte boundaries before a magic.

public struct NewcRecord {
    public var inode: UInt32
    public var mode: UInt32
    public var userID: UInt32
    public var groupID: UInt32
    public var links: UInt32
    public var modificationTime: UInt32
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var representedMajor: UInt32
    public var representedMinor: UInt32
    /// The name's bytes, without the NUL.
    public var name: UnsafeRawBufferPointer
    public var data: UnsafeRawBufferPointer
    /// Where the record starts in the archive.
    public var offset: Int

    public var nameBytes: [UInt8] { Array(name) }
}

public struct NewcError: Error, Equatable {
    public let offset: Int
    public let reason: String

    public var message: String { "cpio: at byte " + String(offset) + ": " + reason }
}

public struct NewcReader {
    public static let headerSize = 110
    let archive: UnsafeRawBufferPointer
    public private(set) var position = 0
    public private(set) var finished = false

    public init(_ archive: UnsafeRawBufferPointer) {
        self.archive = archive
    }

    /// The next record, nil after the trailer (or at the end of an archive of only padding).
    public mutating func next() throws(NewcError) -> NewcRecord? {
        guard !finished else { return nil }
        // Zero padding between archives (as the kernel skips it), 4 bytes at a time.
        while position + 4 <= archive.count, archive[position] == 0, archive[position + 1] == 0,
              archive[position + 2] == 0, archive[position + 3] == 0 {
            position += 4
        }
        if position == archive.count {
            finished = true
            return nil
        }
        let start = position
        guard archive.count - start >= Self.headerSize else { throw NewcError(offset: start, reason: "truncated header") }
        let magic = Array(archive[start ..< start + 6])
        guard magic == Array("070701".utf8) || magic == Array("070702".utf8) else {
            throw NewcError(offset: start, reason: "not a newc record (magic is not 070701 or 070702)")
        }
        var fields: [UInt32] = []
        for index in 0 ..< 13 {
            var value: UInt32 = 0
            for digit in archive[start + 6 + index * 8 ..< start + 14 + index * 8] {
                let nibble: UInt8
                switch digit {
                case UInt8(ascii: "0") ... UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
                case UInt8(ascii: "a") ... UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A") ... UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
                default: throw NewcError(offset: start, reason: "a header field is not hexadecimal")
                }
                value = value << 4 | UInt32(nibble)
            }
            fields.append(value)
        }
        let nameSize = Int(fields[11]), fileSize = Int(fields[6])
        guard nameSize >= 1, nameSize <= 4096 else { throw NewcError(offset: start, reason: "name size \(nameSize) is not 1-4096") }
        let nameStart = start + Self.headerSize
        guard archive.count - nameStart >= nameSize else { throw NewcError(offset: start, reason: "truncated name") }
        guard archive[nameStart + nameSize - 1] == 0 else { throw NewcError(offset: start, reason: "the name does not end with NUL") }
        let dataStart = Self.aligned(nameStart + nameSize)
        guard dataStart <= archive.count, archive.count - dataStart >= fileSize else {
            throw NewcError(offset: start, reason: "truncated data (\(fileSize) bytes announced)")
        }
        let name = UnsafeRawBufferPointer(rebasing: archive[nameStart ..< nameStart + nameSize - 1])
        let data = UnsafeRawBufferPointer(rebasing: archive[dataStart ..< dataStart + fileSize])
        position = min(Self.aligned(dataStart + fileSize), archive.count)
        if name.elementsEqual("TRAILER!!!".utf8) {
            finished = true
            return nil
        }
        return NewcRecord(inode: fields[0], mode: fields[1], userID: fields[2], groupID: fields[3], links: fields[4],
                          modificationTime: fields[5], deviceMajor: fields[7], deviceMinor: fields[8],
                          representedMajor: fields[9], representedMinor: fields[10], name: name, data: data, offset: start)
    }

    static func aligned(_ value: Int) -> Int { (value + 3) & ~3 }
}
