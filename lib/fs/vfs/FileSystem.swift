// FileSystem: the API one mounted file system implements (ramfs, devfs, procfs, ext2, 9p), and the
// values that cross it.
//
// A file system is an object that names its nodes by number (`NodeID`, the inode number) and answers
// node operations; it knows nothing of paths, mounts, descriptors or offsets — the VFS
// (VirtualFileSystem.swift) resolves paths across mounts, follows symbolic links and keeps open-file
// descriptions. Names are bytes, as on Linux (no normalization: two spellings are two names).
// Every operation is called with the VFS's lock held, so an implementation needs no locking of its own.
//
// Directory listings are paged by cookie: `readDirectory(dir, after: cookie)` returns the entries
// whose cookie is greater, in cookie order, and an entry keeps its cookie for as long as it exists, so
// a listing interrupted by creates and unlinks neither repeats nor skips a surviving entry (what
// telldir/seekdir and getdents need). Cookies 1 and 2 are `.` and `..`, which the VFS adds itself.

public typealias NodeID = UInt64

/// The kind of a node: the `S_IFMT` bits of its mode.
public enum FileType: UInt32, Sendable {
    case fifo = 0o010000, characterDevice = 0o020000, directory = 0o040000, blockDevice = 0o060000
    case regular = 0o100000, symbolicLink = 0o120000, socket = 0o140000

    /// The `d_type` value getdents64 reports (DT_REG, DT_DIR, ...).
    public var directoryEntryType: UInt8 { UInt8(rawValue >> 12) }

    public init?(mode: UInt32) { self.init(rawValue: mode & 0o170000) }
}

/// A point in time as `struct timespec` holds it.
public struct TimeSpec: Hashable, Sendable {
    public var seconds: Int64
    public var nanoseconds: Int64
    public init(seconds: Int64 = 0, nanoseconds: Int64 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
    public init(nanosecondsSinceEpoch value: UInt64) {
        seconds = Int64(value / 1_000_000_000)
        nanoseconds = Int64(value % 1_000_000_000)
    }
}

/// The fields of Linux's `struct stat`.
public struct FileStatus: Hashable, Sendable {
    public var device: UInt64 = 0
    public var inode: NodeID = 0
    /// Type and permission bits (`st_mode`).
    public var mode: UInt32 = 0
    public var linkCount: UInt32 = 1
    public var userID: UInt32 = 0
    public var groupID: UInt32 = 0
    /// The device a device node stands for (`st_rdev`).
    public var representedDevice: UInt64 = 0
    public var size: Int64 = 0
    public var blockSize: Int32 = 4096
    /// 512-byte blocks allocated (`st_blocks`).
    public var blocks: Int64 = 0
    public var accessTime = TimeSpec()
    public var modificationTime = TimeSpec()
    public var changeTime = TimeSpec()

    public init() {}

    public var type: FileType? { FileType(mode: mode) }
    public var permissions: UInt32 { mode & 0o7777 }
    public var isDirectory: Bool { type == .directory }
}

/// The page of a fixed listing whose cookies are 3, 4, 5... (the index + 3; 1 and 2 are `.` and `..`):
/// the entries after `cookie`, at most `limit` — for file systems whose directories are generated.
public func directoryPage(_ entries: [(name: [UInt8], node: NodeID, type: FileType)], after cookie: UInt64,
                          limit: Int) -> [DirectoryEntry] {
    var page: [DirectoryEntry] = []
    var index = cookie < 3 ? 0 : Int(cookie - 2)
    while index < entries.count && page.count < limit {
        page.append(DirectoryEntry(name: entries[index].name, node: entries[index].node, type: entries[index].type,
                                   cookie: UInt64(index + 3)))
        index += 1
    }
    return page
}

/// One name in a directory.
public struct DirectoryEntry: Hashable, Sendable {
    public var name: [UInt8]
    public var node: NodeID
    public var type: FileType
    /// Where a listing continues after this entry.
    public var cookie: UInt64

    public init(name: [UInt8], node: NodeID, type: FileType, cookie: UInt64) {
        self.name = name
        self.node = node
        self.type = type
        self.cookie = cookie
    }

    public var nameString: String { String(decoding: name, as: UTF8.self) }
}

/// Totals for statfs and `df`.
public struct FileSystemUsage: Hashable, Sendable {
    public var blockSize = 4096
    public var totalBytes: Int64 = 0
    public var usedBytes: Int64 = 0
    public var totalNodes: Int64 = 0
    public var usedNodes: Int64 = 0
    public init() {}
}

/// A mounted file system's node operations. Errors are the errno Linux gives for the same case.
public protocol FileSystem: AnyObject {
    /// A short type name (`ramfs`, `ext2`), as /proc/mounts shows it.
    var typeName: StaticString { get }
    var rootNode: NodeID { get }
    var isReadOnly: Bool { get }
    var usage: FileSystemUsage { get }

    /// The node `name` names in `directory`; `..` names the parent (the root's is itself). Never `.`.
    func lookup(_ directory: NodeID, _ name: [UInt8]) throws(FileError) -> NodeID
    func status(_ node: NodeID) throws(FileError) -> FileStatus

    /// Creates a node of `type` (regular, directory, or a device/fifo/socket node) named `name`.
    func create(_ directory: NodeID, _ name: [UInt8], type: FileType, permissions: UInt32,
                userID: UInt32, groupID: UInt32) throws(FileError) -> NodeID
    func createSymbolicLink(_ directory: NodeID, _ name: [UInt8], target: [UInt8]) throws(FileError) -> NodeID
    /// A new name for an existing non-directory node.
    func link(_ node: NodeID, into directory: NodeID, as name: [UInt8]) throws(FileError)
    /// Removes a non-directory name (EISDIR for a directory; the node lives on while open).
    func unlink(_ directory: NodeID, _ name: [UInt8]) throws(FileError)
    /// Removes an empty directory.
    func removeDirectory(_ directory: NodeID, _ name: [UInt8]) throws(FileError)
    /// Atomically moves `name` to `newName` in `newDirectory`, replacing a compatible target
    /// (rename(2): a directory only replaces an empty directory, a file only a non-directory).
    func rename(_ directory: NodeID, _ name: [UInt8], to newDirectory: NodeID, _ newName: [UInt8]) throws(FileError)
    func readSymbolicLink(_ node: NodeID) throws(FileError) -> [UInt8]

    /// Reads from `offset` into `buffer`; returns the count (0 at or past the end).
    func read(_ node: NodeID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int
    /// Writes `bytes` at `offset` (a hole before it reads as zeros); returns the count.
    func write(_ node: NodeID, at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int
    func truncate(_ node: NodeID, to size: Int64) throws(FileError)
    /// Changes permission bits, owner and times (nil: unchanged).
    func setAttributes(_ node: NodeID, permissions: UInt32?, userID: UInt32?, groupID: UInt32?,
                       accessTime: TimeSpec?, modificationTime: TimeSpec?) throws(FileError)
    /// Makes the node's data and metadata durable (a no-op in memory).
    func sync(_ node: NodeID) throws(FileError)
    /// Entries after `cookie` (0: from the start), at most `limit`, without `.` and `..`.
    func readDirectory(_ directory: NodeID, after cookie: UInt64, limit: Int) throws(FileError) -> [DirectoryEntry]

    /// Sets the device number a device node stands for (mknod's `dev`, `st_rdev`).
    func setDevice(_ node: NodeID, _ device: UInt64) throws(FileError)

    /// The node stopped being referenced by an open file (a node unlinked while open goes now).
    func released(_ node: NodeID)
    /// An open file refers to the node.
    func retained(_ node: NodeID)
    /// The file system is leaving the tree (unmount, or the guest shutting down): make it durable and
    /// consistent on its medium (ext2 writes its counts and marks itself cleanly unmounted).
    func unmounted()

    /// Makes the empty regular file `node` hold `bytes` without copying them, if this file system can
    /// (ramfs can: the root file system's archive in the image's read-only data). The bytes must
    /// outlive the file system and are never written. False: the caller writes them instead.
    func lend(_ node: NodeID, _ bytes: UnsafeRawBufferPointer) -> Bool
    /// The whole contents of `node` in place, when they are one run of lent bytes still unchanged
    /// (valid as long as the lender: for the root file system, the whole run), else nil.
    func lentContents(_ node: NodeID) -> UnsafeRawBufferPointer?
}

extension FileSystem {
    public func retained(_ node: NodeID) {}
    public func released(_ node: NodeID) {}
    public func unmounted() {}
    public func sync(_ node: NodeID) throws(FileError) {}
    public func setDevice(_ node: NodeID, _ device: UInt64) throws(FileError) { throw .notPermitted }
    public func lend(_ node: NodeID, _ bytes: UnsafeRawBufferPointer) -> Bool { false }
    public func lentContents(_ node: NodeID) -> UnsafeRawBufferPointer? { nil }
}
