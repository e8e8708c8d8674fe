// NinePMessages: the 9P2000.L messages this client sends, and the replies it reads.
//
// Numbers and layouts are those of the Linux kernel's include/net/9p/9p.h and QEMU's hw/9pfs/9p.c
// (the reply to T is T + 1; any request may instead be answered by Rlerror, ecode[4] = a Linux errno).
// Each builder returns finished bytes; each decoder reads one reply's fields through the checked
// reader in NinePWire.swift, and checks what the format bounds: at most 16 qids in Rwalk, Rreaddir's
// entries inside its count, nanoseconds below one second.
//
// Open and create flags are Linux's x86-64 O_* values, which is what 9P2000.L's "dotl" flags are.
// Not used here: Tauth (servers are run without authentication), Tflush (one request at a time),
// Txattrwalk/Txattrcreate, Tlock/Tgetlock (no advisory locks in the VFS).

import VFS

/// T-message types; the R-message is `rawValue + 1`.
public enum NinePMessageType: UInt8, Sendable {
    case statfs = 8, lopen = 12, lcreate = 14, symlink = 16, mknod = 18, rename = 20, readlink = 22
    case getattr = 24, setattr = 26, xattrwalk = 30, readdir = 40, fsync = 50, lock = 52, link = 70
    case mkdir = 72, renameat = 74, unlinkat = 76, version = 100, attach = 104, walk = 110, read = 116
    case write = 118, clunk = 120, remove = 122

    /// Rlerror: the answer to any request that failed.
    public static let errorReply: UInt8 = 7
}

public enum NineP {
    public static let version: [UInt8] = Array("9P2000.L".utf8)
    public static let noFid: UInt32 = 0xFFFF_FFFF
    /// Twalk takes at most this many names (diod drops the connection past it).
    public static let maximumWalkNames = 16
    /// Room for Tread/Twrite/Rread headers: data moves in chunks of msize − this.
    public static let ioHeaderSize = 24
    /// Tgetattr's request mask: every field up to st_blocks.
    public static let getattrBasic: UInt64 = 0x7FF
    public static let readOnly: UInt32 = 0, writeOnly: UInt32 = 1, readWrite: UInt32 = 2
    public static let create: UInt32 = 0o100, exclusive: UInt32 = 0o200, directory: UInt32 = 0o200000
    /// Tunlinkat's flag for rmdir.
    public static let removeDirectory: UInt32 = 0x200
}

/// What Rgetattr says (the fields of GETATTR_BASIC).
public struct NinePAttributes: Hashable, Sendable {
    public var valid: UInt64 = 0
    public var qid = NinePQid(type: 0, version: 0, path: 0)
    public var mode: UInt32 = 0, userID: UInt32 = 0, groupID: UInt32 = 0
    public var linkCount: UInt64 = 0, device: UInt64 = 0, size: UInt64 = 0, blockSize: UInt64 = 0, blocks: UInt64 = 0
    public var accessTime = TimeSpec(), modificationTime = TimeSpec(), changeTime = TimeSpec()
    public init() {}
}

/// What Tsetattr changes: a nil field is left alone.
public struct NinePSetAttributes: Sendable {
    public var mode: UInt32? = nil, userID: UInt32? = nil, groupID: UInt32? = nil, size: UInt64? = nil
    public var accessTime: TimeSpec? = nil, modificationTime: TimeSpec? = nil
    public init() {}
}

/// One Rreaddir entry: `offset` is the server's cookie for the position after it.
public struct NinePDirectoryEntry: Hashable, Sendable {
    public var qid: NinePQid
    public var offset: UInt64
    /// The `d_type` (DT_DIR, DT_REG, ...; 0 when the server does not know).
    public var type: UInt8
    public var name: [UInt8]
}

/// Rstatfs.
public struct NinePFileSystemStatistics: Hashable, Sendable {
    public var type: UInt32 = 0, blockSize: UInt32 = 0
    public var blocks: UInt64 = 0, freeBlocks: UInt64 = 0, availableBlocks: UInt64 = 0
    public var files: UInt64 = 0, freeFiles: UInt64 = 0, fileSystemID: UInt64 = 0
    public var nameLength: UInt32 = 0
}

// MARK: Requests

extension NinePRequest {
    public static func version(messageSize: UInt32) -> [UInt8] {
        var request = NinePRequest(.version, tag: noTag)
        request.u32(messageSize)
        try! request.string(NineP.version)
        return request.finished()
    }

    /// Tattach without authentication (afid NOFID); `userID` is n_uname.
    public static func attach(fid: UInt32, userName: [UInt8], attachName: [UInt8], userID: UInt32) throws(FileError) -> [UInt8] {
        var request = NinePRequest(.attach)
        request.u32(fid); request.u32(NineP.noFid)
        try request.string(userName); try request.string(attachName)
        request.u32(userID)
        return request.finished()
    }

    public static func walk(fid: UInt32, newFid: UInt32, names: ArraySlice<[UInt8]>) throws(FileError) -> [UInt8] {
        guard names.count <= NineP.maximumWalkNames else { throw .invalid }
        var request = NinePRequest(.walk)
        request.u32(fid); request.u32(newFid); request.u16(UInt16(names.count))
        for name in names { try request.string(name) }
        return request.finished()
    }

    /// The many messages whose fields are fid[4] and nothing else, or fid[4] and one u32.
    public static func fid(_ type: NinePMessageType, _ fid: UInt32, _ value: UInt32? = nil) -> [UInt8] {
        var request = NinePRequest(type)
        request.u32(fid)
        if let value { request.u32(value) }
        return request.finished()
    }

    public static func lcreate(fid: UInt32, name: [UInt8], flags: UInt32, mode: UInt32, groupID: UInt32) throws(FileError) -> [UInt8] {
        var request = NinePRequest(.lcreate)
        request.u32(fid); try request.string(name); request.u32(flags); request.u32(mode); request.u32(groupID)
        return request.finished()
    }

    /// Tread and Treaddir: fid[4] offset[8] count[4].
    public static func read(_ type: NinePMessageType, fid: UInt32, offset: UInt64, count: UInt32) -> [UInt8] {
        var request = NinePRequest(type)
        request.u32(fid); request.u64(offset); request.u32(count)
        return request.finished()
    }

    public static func write(fid: UInt32, offset: UInt64, _ data: UnsafeRawBufferPointer) -> [UInt8] {
        var request = NinePRequest(.write)
        request.u32(fid); request.u64(offset); request.u32(UInt32(truncatingIfNeeded: data.count))
        request.data(data)
        return request.finished()
    }

    public static func getattr(fid: UInt32) -> [UInt8] {
        var request = NinePRequest(.getattr)
        request.u32(fid); request.u64(NineP.getattrBasic)
        return request.finished()
    }

    public static func setattr(fid: UInt32, _ changes: NinePSetAttributes) -> [UInt8] {
        // valid bits: MODE 0x1, UID 0x2, GID 0x4, SIZE 0x8, ATIME 0x10, MTIME 0x20, ATIME_SET 0x80, MTIME_SET 0x100.
        var valid: UInt32 = 0
        if changes.mode != nil { valid |= 0x1 }
        if changes.userID != nil { valid |= 0x2 }
        if changes.groupID != nil { valid |= 0x4 }
        if changes.size != nil { valid |= 0x8 }
        if changes.accessTime != nil { valid |= 0x10 | 0x80 }
        if changes.modificationTime != nil { valid |= 0x20 | 0x100 }
        var request = NinePRequest(.setattr)
        request.u32(fid); request.u32(valid)
        request.u32(changes.mode ?? 0); request.u32(changes.userID ?? 0); request.u32(changes.groupID ?? 0)
        request.u64(changes.size ?? 0)
        for time in [changes.accessTime, changes.modificationTime] {
            request.u64(UInt64(bitPattern: time?.seconds ?? 0)); request.u64(UInt64(bitPattern: time?.nanoseconds ?? 0))
        }
        return request.finished()
    }

    public static func mkdir(directoryFid: UInt32, name: [UInt8], mode: UInt32, groupID: UInt32) throws(FileError) -> [UInt8] {
        var request = NinePRequest(.mkdir)
        request.u32(directoryFid); try request.string(name); request.u32(mode); request.u32(groupID)
        return request.finished()
    }

    public static func symlink(directoryFid: UInt32, name: [UInt8], target: [UInt8], groupID: UInt32) throws(FileError) -> [UInt8] {
        var request = NinePRequest(.symlink)
        request.u32(directoryFid); try request.string(name); try request.string(target); request.u32(groupID)
        return request.finished()
    }

    /// Tmknod: `mode` carries the type bits (S_IFCHR, S_IFIFO, ...).
    public static func mknod(directoryFid: UInt32, name: [UInt8], mode: UInt32, major: UInt32, minor: UInt32,
                             groupID: UInt32) throws(FileError) -> [UInt8] {
        var request = NinePRequest(.mknod)
        request.u32(directoryFid); try request.string(name)
        request.u32(mode); request.u32(major); request.u32(minor); request.u32(groupID)
        return request.finished()
    }

    /// Tlink (dfid, fid, name) and Trename (fid, dfid, name): two fids and a name.
    public static func twoFids(_ type: NinePMessageType, _ first: UInt32, _ second: UInt32, name: [UInt8]) throws(FileError) -> [UInt8] {
        var request = NinePRequest(type)
        request.u32(first); request.u32(second); try request.string(name)
        return request.finished()
    }

    public static func renameat(oldDirectoryFid: UInt32, oldName: [UInt8], newDirectoryFid: UInt32, newName: [UInt8]) throws(FileError) -> [UInt8] {
        var request = NinePRequest(.renameat)
        request.u32(oldDirectoryFid); try request.string(oldName); request.u32(newDirectoryFid); try request.string(newName)
        return request.finished()
    }

    public static func unlinkat(directoryFid: UInt32, name: [UInt8], flags: UInt32) throws(FileError) -> [UInt8] {
        var request = NinePRequest(.unlinkat)
        request.u32(directoryFid); try request.string(name); request.u32(flags)
        return request.finished()
    }
}

// MARK: Replies

extension NinePReply {
    /// Rlerror's ecode.
    public mutating func errorCode() throws(FileError) -> UInt32 { try u32() }

    /// Rversion: msize and the version string.
    public mutating func version() throws(FileError) -> (messageSize: UInt32, version: [UInt8]) {
        let size = try u32()
        return (size, try string())
    }

    /// Rwalk: one qid per name walked (at most 16).
    public mutating func walk() throws(FileError) -> [NinePQid] {
        let count = Int(try u16())
        guard count <= NineP.maximumWalkNames else { throw .io }
        var qids: [NinePQid] = []
        for _ in 0 ..< count { qids.append(try qid()) }
        return qids
    }

    /// Rlopen and Rlcreate: qid and iounit.
    public mutating func opened() throws(FileError) -> (qid: NinePQid, ioUnit: UInt32) {
        let qid = try self.qid()
        return (qid, try u32())
    }

    public mutating func attributes() throws(FileError) -> NinePAttributes {
        var attributes = NinePAttributes()
        attributes.valid = try u64()
        attributes.qid = try qid()
        attributes.mode = try u32(); attributes.userID = try u32(); attributes.groupID = try u32()
        attributes.linkCount = try u64(); attributes.device = try u64(); attributes.size = try u64()
        attributes.blockSize = try u64(); attributes.blocks = try u64()
        attributes.accessTime = try time()
        attributes.modificationTime = try time()
        attributes.changeTime = try time()
        return attributes
    }

    mutating func time() throws(FileError) -> TimeSpec {
        let seconds = Int64(bitPattern: try u64())
        let nanoseconds = try u64()
        guard nanoseconds < 1_000_000_000 else { throw .io }
        return TimeSpec(seconds: seconds, nanoseconds: Int64(nanoseconds))
    }

    /// Rreaddir: count[4] and that many bytes of entries qid[13] offset[8] type[1] name[s].
    public mutating func directoryEntries() throws(FileError) -> [NinePDirectoryEntry] {
        let count = Int(try u32())
        guard count <= remaining else { throw .io }
        let end = position + count
        var entries: [NinePDirectoryEntry] = []
        while position < end {
            let qid = try self.qid()
            let offset = try u64()
            let type = try u8()
            let name = try string()
            guard position <= end else { throw .io }                 // an entry past the count
            entries.append(NinePDirectoryEntry(qid: qid, offset: offset, type: type, name: name))
        }
        return entries
    }

    public mutating func statistics() throws(FileError) -> NinePFileSystemStatistics {
        var statistics = NinePFileSystemStatistics()
        statistics.type = try u32(); statistics.blockSize = try u32()
        statistics.blocks = try u64(); statistics.freeBlocks = try u64(); statistics.availableBlocks = try u64()
        statistics.files = try u64(); statistics.freeFiles = try u64(); statistics.fileSystemID = try u64()
        statistics.nameLength = try u32()
        return statistics
    }

    /// Rread's count, then the data is read with `copy`; Rwrite's count.
    public mutating func count() throws(FileError) -> UInt32 { try u32() }

    /// Rreadlink's target; Rattach's, Rmkdir's, Rsymlink's and Rmknod's qid are `qid()`.
    public mutating func target() throws(FileError) -> [UInt8] { try string() }
}
