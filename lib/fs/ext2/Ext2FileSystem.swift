// Ext2FileSystem: an ext2 disk as a `FileSystem`, read-only or read-write.
//
// `mount` reads and checks the superblock (magic, revision, block size, per-group counts against one
// bitmap block, the blocks against the disk's size, incompatible features — only FILETYPE is
// understood, so an ext3/ext4 disk with a journal or extents is refused with a clear message) and the
// group descriptors (every bitmap and inode table inside the file system). Node numbers are inode
// numbers; the root is inode 2. An inode's data is found through its 12 direct, one indirect, one
// double and one triple indirect pointer; a zero pointer is a hole and reads as zeros. Every pointer is
// checked against the block count before it is followed, directory records against their block
// (rec_len at least 8 + name_len, 4-aligned, inside the block, name without '/' or NUL, inode in
// range), link targets against 4095 bytes — a corrupt disk gives EUCLEAN ("Structure needs cleaning",
// as Linux's EFSCORRUPTED) for the operation that met it, never a crash or a read outside the disk.
//
// Writing (Ext2Allocation.swift, Ext2Data.swift, Ext2Directories.swift) is allowed only on a disk that
// was cleanly unmounted (s_state VALID, no ERROR bit) and whose read-only-compatible features this
// writer keeps correct; otherwise `init(writable: true)` refuses with the reason and the caller can
// mount read-only. A writable mount clears VALID on the disk at once (so a VM killed before `unmounted`
// leaves a disk that e2fsck checks in full) and sets it again, with the free counts, when unmounted.
// Directory cookies are a record's byte offset + 3 (1 and 2 are . and ..); records never move (a
// removed record merges into the one before it, a new one splits free space after a live one), so a
// cookie stays valid while the directory changes.

import VFS

public final class Ext2FileSystem: FileSystem {
    public let typeName: StaticString = "ext2"
    public let rootNode: NodeID = 2
    public let isReadOnly: Bool
    let disk: any Ext2Disk
    var superblock: Superblock
    /// The group descriptor table as on disk (32 bytes a group); changes are written through.
    var descriptors: [UInt8] = []
    var inodeTables: [UInt32] = []
    var freeBlocks: UInt32
    var freeInodes: UInt32
    /// Seconds since the epoch, for inode times.
    let clock: () -> UInt32
    /// Inodes with no name left that open files still use: freed when released (the orphan list).
    var openCounts: [NodeID: Int] = [:]
    var orphans: Set<NodeID> = []

    public var usage: FileSystemUsage {
        var usage = FileSystemUsage()
        usage.blockSize = superblock.blockSize
        usage.totalBytes = Int64(superblock.blocksCount) * Int64(superblock.blockSize)
        usage.totalNodes = Int64(superblock.inodesCount)
        // The superblock's free counts (as statfs reports them), clamped when a corrupt disk overstates them.
        usage.usedBytes = Int64(superblock.blocksCount - min(freeBlocks, superblock.blocksCount)) * Int64(superblock.blockSize)
        usage.usedNodes = Int64(superblock.inodesCount - min(freeInodes, superblock.inodesCount))
        return usage
    }

    public var blockSize: Int { superblock.blockSize }

    /// Mounts the ext2 on `disk`; `writable` also checks that it may be written and marks it in use.
    public init(disk: any Ext2Disk, writable: Bool = false, clock: @escaping () -> UInt32 = { 0 }) throws(Ext2MountError) {
        self.disk = disk
        self.clock = clock
        isReadOnly = !writable
        var bytes = [UInt8](repeating: 0, count: 1024)
        guard bytes.withUnsafeMutableBytes({ disk.read(at: 1024, into: $0) }) else {
            throw Ext2MountError(message: "cannot read the superblock (the disk is smaller than 2 KiB or failed)")
        }
        superblock = try Superblock(bytes, diskBytes: disk.byteCount)
        freeBlocks = superblock.freeBlocks
        freeInodes = superblock.freeInodes
        let groups = superblock.groupCount
        var table = [UInt8](repeating: 0, count: groups * 32)
        let descriptorOffset = UInt64(superblock.firstDataBlock + 1) * UInt64(superblock.blockSize)
        guard table.withUnsafeMutableBytes({ disk.read(at: descriptorOffset, into: $0) }) else {
            throw Ext2MountError(message: "cannot read the \(groups) group descriptors")
        }
        let tableBlocks = UInt32((Int(superblock.inodesPerGroup) * superblock.inodeSize + superblock.blockSize - 1) / superblock.blockSize)
        for group in 0 ..< groups {
            let start = table.u32(group * 32 + 8)
            guard start >= superblock.firstDataBlock, start < superblock.blocksCount,
                  tableBlocks <= superblock.blocksCount - start else {
                throw Ext2MountError(message: "group \(group)'s inode table (block \(start)) is outside the file system")
            }
            for bitmap in [table.u32(group * 32), table.u32(group * 32 + 4)] {
                guard bitmap >= superblock.firstDataBlock, bitmap < superblock.blocksCount else {
                    throw Ext2MountError(message: "group \(group)'s bitmap (block \(bitmap)) is outside the file system")
                }
            }
            inodeTables.append(start)
        }
        descriptors = table
        if writable { try beginWriting(superblockBytes: bytes) }
    }

    // MARK: Reading the disk

    func readBlock(_ number: UInt32) throws(FileError) -> [UInt8] {
        guard number < superblock.blocksCount else { throw .corrupted }
        var bytes = [UInt8](repeating: 0, count: superblock.blockSize)
        let ok = bytes.withUnsafeMutableBytes { disk.read(at: UInt64(number) * UInt64(superblock.blockSize), into: $0) }
        guard ok else { throw .io }
        return bytes
    }

    /// Inode `node`; ENOENT for one that is free (no links) unless `unlinked` allows it.
    func inode(_ node: NodeID, unlinked: Bool = false) throws(FileError) -> Inode {
        guard node >= 1, node <= UInt64(superblock.inodesCount) else { throw .noEntry }
        let index = UInt32(node - 1)
        let group = Int(index / superblock.inodesPerGroup)
        guard group < inodeTables.count else { throw .corrupted }
        let offset = UInt64(inodeTables[group]) * UInt64(superblock.blockSize)
            + UInt64(index % superblock.inodesPerGroup) * UInt64(superblock.inodeSize)
        var bytes = [UInt8](repeating: 0, count: 128)
        let ok = bytes.withUnsafeMutableBytes { disk.read(at: offset, into: $0) }
        guard ok else { throw .io }
        let inode = Inode(bytes)
        guard inode.links > 0 || unlinked || node == rootNode || orphans.contains(node), FileType(mode: inode.mode) != nil else { throw .noEntry }
        return inode
    }

    /// Where inode `node` lives on the disk.
    func inodeOffset(_ node: NodeID) -> UInt64 {
        let index = UInt32(node - 1)
        return UInt64(inodeTables[Int(index / superblock.inodesPerGroup)]) * UInt64(superblock.blockSize)
            + UInt64(index % superblock.inodesPerGroup) * UInt64(superblock.inodeSize)
    }

    /// The disk block holding logical block `logical` of `inode`, or 0 for a hole.
    func map(_ inode: Inode, _ logical: UInt64) throws(FileError) -> UInt32 {
        let perBlock = UInt64(superblock.blockSize / 4)
        func follow(_ block: UInt32, _ index: UInt64) throws(FileError) -> UInt32 {
            guard block != 0 else { return 0 }
            let bytes = try readBlock(block)
            let next = bytes.u32(Int(index) * 4)
            guard next < superblock.blocksCount else { throw .corrupted }
            return next
        }
        var rest = logical
        if rest < 12 {
            let block = inode.blocks[Int(rest)]
            guard block < superblock.blocksCount else { throw .corrupted }
            return block
        }
        rest -= 12
        if rest < perBlock { return try follow(inode.blocks[12], rest) }
        rest -= perBlock
        if rest < perBlock * perBlock {
            return try follow(try follow(inode.blocks[13], rest / perBlock), rest % perBlock)
        }
        rest -= perBlock * perBlock
        guard rest < perBlock * perBlock * perBlock else { throw .fileTooBig }
        let first = try follow(inode.blocks[14], rest / (perBlock * perBlock))
        return try follow(try follow(first, (rest / perBlock) % perBlock), rest % perBlock)
    }

    /// Reads `count` bytes of the inode's data from `offset` into `out` (holes as zeros).
    func readData(_ inode: Inode, at offset: UInt64, into out: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        guard offset < inode.size, out.count > 0 else { return 0 }
        let count = Int(min(UInt64(out.count), inode.size - offset))
        let size = UInt64(superblock.blockSize)
        var done = 0
        while done < count {
            let position = offset + UInt64(done)
            let within = Int(position % size)
            let chunk = min(superblock.blockSize - within, count - done)
            let block = try map(inode, position / size)
            if block == 0 {
                (out.baseAddress! + done).initializeMemory(as: UInt8.self, repeating: 0, count: chunk)
            } else {
                let bytes = try readBlock(block)
                bytes.withUnsafeBytes { (out.baseAddress! + done).copyMemory(from: $0.baseAddress! + within, byteCount: chunk) }
            }
            done += chunk
        }
        return count
    }

    /// A directory's records: (name, inode, type, byte offset), "." and ".." included.
    func records(_ directory: NodeID) throws(FileError) -> [(name: [UInt8], node: NodeID, offset: UInt64)] {
        let inode = try self.inode(directory)
        guard FileType(mode: inode.mode) == .directory else { throw .notDirectory }
        guard inode.size % UInt64(superblock.blockSize) == 0, inode.size <= 64 << 20 else { throw .corrupted }
        var result: [(name: [UInt8], node: NodeID, offset: UInt64)] = []
        var logical: UInt64 = 0
        while logical * UInt64(superblock.blockSize) < inode.size {
            let block = try map(inode, logical)
            guard block != 0 else { throw .corrupted }                     // directories have no holes
            let bytes = try readBlock(block)
            var position = 0
            while position < bytes.count {
                guard bytes.count - position >= 8 else { throw .corrupted }
                let number = bytes.u32(position)
                let length = Int(bytes.u16(position + 4))
                let nameLength = Int(bytes[position + 6])
                guard length >= 8 + nameLength, length % 4 == 0, length <= bytes.count - position else { throw .corrupted }
                if number != 0 {
                    guard number <= superblock.inodesCount, nameLength > 0 else { throw .corrupted }
                    let name = Array(bytes[(position + 8) ..< (position + 8 + nameLength)])
                    guard !name.contains(0x2F), !name.contains(0) else { throw .corrupted }
                    result.append((name, NodeID(number), logical * UInt64(superblock.blockSize) + UInt64(position)))
                }
                position += length
            }
            logical += 1
        }
        return result
    }

    // MARK: FileSystem

    public func lookup(_ directory: NodeID, _ name: [UInt8]) throws(FileError) -> NodeID {
        guard let record = try records(directory).first(where: { $0.name == name }) else { throw .noEntry }
        return record.node
    }

    public func status(_ node: NodeID) throws(FileError) -> FileStatus {
        let inode = try self.inode(node)
        guard inode.size <= UInt64(Int64.max) else { throw .corrupted }     // a size that no file can have
        var status = FileStatus()
        status.inode = node
        status.mode = inode.mode
        status.linkCount = inode.links
        status.userID = inode.userID
        status.groupID = inode.groupID
        status.size = Int64(inode.size)
        status.blockSize = Int32(superblock.blockSize)
        status.blocks = Int64(inode.sectors)
        status.accessTime = TimeSpec(seconds: Int64(inode.accessTime))
        status.modificationTime = TimeSpec(seconds: Int64(inode.modificationTime))
        status.changeTime = TimeSpec(seconds: Int64(inode.changeTime))
        if let type = FileType(mode: inode.mode), type == .characterDevice || type == .blockDevice {
            // Old and new encodings (Linux's ext2_read_inode): block[0] if set, else block[1].
            let old = inode.blocks[0], new = inode.blocks[1]
            if old != 0 {
                status.representedDevice = UInt64(old >> 8 & 0xFF) << 8 | UInt64(old & 0xFF)
            } else {
                let major = UInt64((new & 0xFFF00) >> 8), minor = UInt64(new & 0xFF | (new >> 12) & 0xFFF00)
                status.representedDevice = (minor & 0xFF) | (major & 0xFFF) << 8 | (minor & ~0xFF) << 12
            }
        }
        return status
    }

    public func readSymbolicLink(_ node: NodeID) throws(FileError) -> [UInt8] {
        let inode = try self.inode(node)
        guard FileType(mode: inode.mode) == .symbolicLink else { throw .invalid }
        guard inode.size > 0, inode.size <= 4095 else { throw .corrupted }
        if isFastLink(inode) {
            // A fast link: the target lives in the block pointers' 60 bytes.
            guard inode.size <= 60 else { throw .corrupted }
            return Array(inode.rawBlockBytes[0 ..< Int(inode.size)])
        }
        var target = [UInt8](repeating: 0, count: Int(inode.size))
        var failure: FileError? = nil
        let count = target.withUnsafeMutableBytes { buffer -> Int in
            do throws(FileError) { return try readData(inode, at: 0, into: buffer) } catch { failure = error; return 0 }
        }
        if let failure { throw failure }
        return Array(target[0 ..< count])
    }

    public func read(_ node: NodeID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        let inode = try self.inode(node)
        let type = FileType(mode: inode.mode)
        guard type != .directory else { throw .isDirectory }
        guard type == .regular else { return 0 }
        guard offset >= 0 else { throw .invalid }
        return try readData(inode, at: UInt64(offset), into: buffer)
    }

    public func readDirectory(_ directory: NodeID, after cookie: UInt64, limit: Int) throws(FileError) -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        for record in try records(directory) where record.offset + 3 > cookie {
            if record.name == [0x2E] || record.name == [0x2E, 0x2E] { continue }
            let type = (try? FileType(mode: inode(record.node).mode) ?? .regular) ?? .regular
            entries.append(DirectoryEntry(name: record.name, node: record.node, type: type, cookie: record.offset + 3))
            if entries.count == limit { break }
        }
        return entries
    }
}
