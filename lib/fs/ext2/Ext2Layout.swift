// Ext2Layout: the on-disk structures of ext2 that the file system reads, each parsed from bytes and
// checked before anything uses it. Offsets are those of the ext2 documentation ("The Second Extended
// File System", Dave Poirier) and Linux's include/linux/ext2_fs.h; all fields are little-endian.
//
//   superblock (1024 bytes at byte 1024): counts, block size, blocks and inodes per group, magic
//     0xEF53, revision, first inode and inode size (revision 1), feature sets
//   group descriptor (32 bytes each, in the block after the superblock): bitmaps, inode table
//   inode (s_inode_size bytes): mode, uid/gid (with Linux's high halves), size (with the high half
//     for regular files under large_file), times, links, 512-byte block count, flags, 15 block pointers
//   directory entry: inode u32, rec_len u16, name_len u8, file_type u8, name

import VFS

/// Where ext2 reads and writes its bytes: a disk image file on the host, a block cache over a device in a
/// guest. A disk that cannot be written keeps the defaults (writes fail, flush succeeds).
public protocol Ext2Disk: AnyObject {
    var byteCount: UInt64 { get }
    /// Fills `buffer` from `offset`; false when the range is past the end or the device failed.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool
    /// Stores `bytes` at `offset`; false when the range is past the end or the device failed.
    func write(at offset: UInt64, from bytes: UnsafeRawBufferPointer) -> Bool
    /// Makes every write so far durable (the block cache's write-back and the device's FLUSH).
    func flush() -> Bool
}

extension Ext2Disk {
    public func write(at offset: UInt64, from bytes: UnsafeRawBufferPointer) -> Bool { false }
    public func flush() -> Bool { true }
}

public struct Ext2MountError: Error, Equatable {
    public let message: String
}

extension Array where Element == UInt8 {
    func u16(_ offset: Int) -> UInt32 { UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 }
    func u32(_ offset: Int) -> UInt32 { u16(offset) | u16(offset + 2) << 16 }
    mutating func put16(_ offset: Int, _ value: UInt32) {
        self[offset] = UInt8(truncatingIfNeeded: value)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }
    mutating func put32(_ offset: Int, _ value: UInt32) {
        put16(offset, value)
        put16(offset + 2, value >> 16)
    }
}

struct Superblock {
    static let magic: UInt32 = 0xEF53
    /// Incompatible features this reader understands: FILETYPE (directory entries carry the type).
    static let supportedIncompatible: UInt32 = 0x0002
    let inodesCount: UInt32
    let blocksCount: UInt32
    let freeBlocks: UInt32
    let freeInodes: UInt32
    let firstDataBlock: UInt32
    let blockSize: Int
    let blocksPerGroup: UInt32
    let inodesPerGroup: UInt32
    let revision: UInt32
    let firstInode: UInt32
    let inodeSize: Int
    let incompatible: UInt32
    var readOnlyCompatible: UInt32
    /// EXT2_VALID_FS (1): cleanly unmounted; EXT2_ERROR_FS (2): errors were detected.
    let state: UInt32
    /// s_wtime: when the disk was last written (by mke2fs, e2fsck or a mount).
    let writeTime: UInt32

    /// Read-only-compatible features a writer keeps correct: SPARSE_SUPER (backups only in groups 0, 1
    /// and powers of 3, 5, 7 — the bitmaps already mark them), LARGE_FILE (set when a file passes 2 GiB),
    /// BTREE_DIR (never used).
    static let writableReadOnlyCompatible: UInt32 = 0x0007
    static let largeFile: UInt32 = 0x0002

    init(_ bytes: [UInt8], diskBytes: UInt64) throws(Ext2MountError) {
        guard bytes.count >= 1024, bytes.u16(56) == Self.magic else {
            throw Ext2MountError(message: "not an ext2 file system (no 0xEF53 magic at byte 1080)")
        }
        inodesCount = bytes.u32(0)
        blocksCount = bytes.u32(4)
        freeBlocks = bytes.u32(12)
        freeInodes = bytes.u32(16)
        firstDataBlock = bytes.u32(20)
        let logBlockSize = bytes.u32(24)
        guard logBlockSize <= 6 else { throw Ext2MountError(message: "block size 2^(10+\(logBlockSize)) is not 1-64 KiB") }
        blockSize = 1024 << Int(logBlockSize)
        blocksPerGroup = bytes.u32(32)
        inodesPerGroup = bytes.u32(40)
        revision = bytes.u32(76)
        state = bytes.u16(58)
        writeTime = bytes.u32(48)
        if revision == 0 {
            firstInode = 11
            inodeSize = 128
            incompatible = 0
            readOnlyCompatible = 0
        } else {
            firstInode = bytes.u32(84)
            inodeSize = Int(bytes.u16(88))
            incompatible = bytes.u32(96)
            readOnlyCompatible = bytes.u32(100)
        }
        guard revision <= 1 else { throw Ext2MountError(message: "revision \(revision) is not 0 or 1") }
        guard inodeSize >= 128, inodeSize <= blockSize, inodeSize & (inodeSize - 1) == 0 else {
            throw Ext2MountError(message: "inode size \(inodeSize) is not a power of two from 128 to the block size")
        }
        guard blocksPerGroup > 0, blocksPerGroup <= UInt32(8 * blockSize), inodesPerGroup > 0,
              inodesPerGroup <= UInt32(8 * blockSize) else {
            throw Ext2MountError(message: "blocks or inodes per group (\(blocksPerGroup), \(inodesPerGroup)) do not fit one bitmap block")
        }
        guard firstDataBlock == (blockSize == 1024 ? 1 : 0) else {
            throw Ext2MountError(message: "first data block \(firstDataBlock) does not match the block size \(blockSize)")
        }
        guard blocksCount > firstDataBlock, UInt64(blocksCount) * UInt64(blockSize) <= diskBytes else {
            throw Ext2MountError(message: "\(blocksCount) blocks of \(blockSize) bytes do not fit the disk's \(diskBytes) bytes")
        }
        let unknown = incompatible & ~Self.supportedIncompatible
        guard unknown == 0 else {
            let hex = String(unknown, radix: 16)
            throw Ext2MountError(message: "incompatible features 0x" + hex + " are not supported (ext3/ext4 journals, extents, 64bit, flex_bg...)")
        }
        guard inodesCount > 0, inodesCount <= UInt32(groupCount) &* inodesPerGroup else {
            throw Ext2MountError(message: "\(inodesCount) inodes do not fit \(groupCount) groups of \(inodesPerGroup)")
        }
    }

    var groupCount: Int { Int((blocksCount - firstDataBlock + blocksPerGroup - 1) / blocksPerGroup) }
}

struct Inode {
    var mode: UInt32
    var userID: UInt32
    var groupID: UInt32
    var size: UInt64
    var accessTime: UInt32
    var changeTime: UInt32
    var modificationTime: UInt32
    var links: UInt32
    var sectors: UInt32
    var fileACL: UInt32
    var flags: UInt32
    var deletionTime: UInt32
    var blocks: [UInt32]                                // the 15 pointers
    var rawBlockBytes: [UInt8]                          // the same 60 bytes (a fast link's target)
    /// The first 128 bytes as read, so that `encoded` keeps the fields this file system does not use.
    var raw: [UInt8]

    /// EXT2_INDEX_FL: the directory has an htree index, which a writer that does not keep it must clear.
    static let indexFlag: UInt32 = 0x1000

    /// A new, empty inode of `mode`.
    init(mode: UInt32, userID: UInt32, groupID: UInt32, now: UInt32) {
        self.init([UInt8](repeating: 0, count: 128))
        self.mode = mode
        self.userID = userID
        self.groupID = groupID
        accessTime = now
        changeTime = now
        modificationTime = now
    }

    init(_ bytes: [UInt8]) {
        raw = Array(bytes[0 ..< 128])
        flags = bytes.u32(32)
        deletionTime = bytes.u32(20)
        mode = bytes.u16(0)
        userID = bytes.u16(2) | bytes.u16(120) << 16
        groupID = bytes.u16(24) | bytes.u16(122) << 16
        let type = FileType(mode: mode)
        size = UInt64(bytes.u32(4)) | (type == .regular ? UInt64(bytes.u32(108)) << 32 : 0)
        accessTime = bytes.u32(8)
        changeTime = bytes.u32(12)
        modificationTime = bytes.u32(16)
        links = bytes.u16(26)
        sectors = bytes.u32(28)
        fileACL = bytes.u32(104)
        blocks = (0 ..< 15).map { bytes.u32(40 + 4 * $0) }
        rawBlockBytes = Array(bytes[40 ..< 100])
    }

    /// The 128 bytes of the inode; a fast symbolic link's target (`rawBlockBytes`) takes the place of
    /// the block pointers.
    func encoded(fastLink: Bool = false) -> [UInt8] {
        var bytes = raw
        bytes.put16(0, mode)
        bytes.put16(2, userID & 0xFFFF)
        bytes.put16(120, userID >> 16)
        bytes.put16(24, groupID & 0xFFFF)
        bytes.put16(122, groupID >> 16)
        bytes.put32(4, UInt32(truncatingIfNeeded: size))
        bytes.put32(108, FileType(mode: mode) == .regular ? UInt32(truncatingIfNeeded: size >> 32) : bytes.u32(108))
        bytes.put32(8, accessTime)
        bytes.put32(12, changeTime)
        bytes.put32(16, modificationTime)
        bytes.put32(20, deletionTime)
        bytes.put16(26, links)
        bytes.put32(28, sectors)
        bytes.put32(32, flags)
        bytes.put32(104, fileACL)
        if fastLink {
            for index in 0 ..< 60 { bytes[40 + index] = rawBlockBytes[index] }
        } else {
            for index in 0 ..< 15 { bytes.put32(40 + 4 * index, blocks[index]) }
        }
        return bytes
    }
}
