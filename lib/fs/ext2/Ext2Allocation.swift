// Ext2Allocation: the writer's bookkeeping — the superblock's state and free counts, the group
// descriptors, the block and inode bitmaps, and writing inodes back.
//
// Blocks are allocated near a goal (the block after the file's previous one, else the first block of
// the inode's group), scanning that group's bitmap from the goal and then the following groups, so a
// file written in order lands contiguous. A new directory goes to the group with the most free inodes
// (spreading the tree as Linux's Orlov allocator does at the top), any other inode to its parent's group
// first. Every change is written through to the disk at once — bitmap bit, the group's counts, the
// inode — in the order a crash can least harm (bitmap before the pointer that uses it; the pointer
// cleared before the bit is freed), but nothing is atomic: the superblock stays not-VALID while
// mounted, and after a crash e2fsck -p puts the counts and bitmaps right (docs/files.md). The
// superblock's free counts are written at `sync` and at unmount (Linux keeps them lazily too).

import VFS

extension Ext2FileSystem {
    // MARK: Mount state

    /// Checks that this writer may change the disk and marks it in use (s_state without VALID).
    func beginWriting(superblockBytes: [UInt8]) throws(Ext2MountError) {
        let unknown = superblock.readOnlyCompatible & ~Superblock.writableReadOnlyCompatible
        guard unknown == 0 else {
            throw Ext2MountError(message: "read-only-compatible features 0x" + String(unknown, radix: 16)
                                 + " cannot be kept by this writer; mount it read-only")
        }
        guard superblock.state & 1 == 1, superblock.state & 2 == 0 else {
            throw Ext2MountError(message: "the file system was not cleanly unmounted or has errors (state \(superblock.state)); "
                                 + "run e2fsck -p on it first, or mount it read-only")
        }
        var bytes = superblockBytes
        bytes.put16(58, 0)                                   // not VALID while mounted
        bytes.put16(52, bytes.u16(52) &+ 1)                  // s_mnt_count
        bytes.put32(44, clock())                             // s_mtime
        guard bytes.withUnsafeBytes({ disk.write(at: 1024, from: $0) }), disk.flush() else {
            throw Ext2MountError(message: "the disk cannot be written; mount it read-only")
        }
    }

    /// Writes the superblock's free counts, times, features and `state`.
    func writeSuperblock(state: UInt32?) throws(FileError) {
        var bytes = [UInt8](repeating: 0, count: 1024)
        guard bytes.withUnsafeMutableBytes({ disk.read(at: 1024, into: $0) }) else { throw .io }
        bytes.put32(12, freeBlocks)
        bytes.put32(16, freeInodes)
        bytes.put32(48, clock())                             // s_wtime
        if superblock.revision >= 1 { bytes.put32(100, superblock.readOnlyCompatible) }
        if let state { bytes.put16(58, state) }
        guard bytes.withUnsafeBytes({ disk.write(at: 1024, from: $0) }) else { throw .io }
    }

    /// Everything written so far made durable: the superblock's counts, the cache, the device.
    func syncAll() throws(FileError) {
        guard !isReadOnly else { return }
        try writeSuperblock(state: nil)
        guard disk.flush() else { throw .io }
    }

    /// The last step of a writable mount: counts written, VALID set, everything flushed. Inodes still
    /// open and unlinked are freed first, as their last close would.
    public func unmounted() {
        guard !isReadOnly else { return }
        for node in orphans { try? deleteInode(node) }
        orphans = []
        openCounts = [:]
        try? writeSuperblock(state: 1)
        _ = disk.flush()
    }

    // MARK: Writing raw bytes

    func writeBytes(_ bytes: [UInt8], at offset: UInt64) throws(FileError) {
        guard bytes.withUnsafeBytes({ disk.write(at: offset, from: $0) }) else { throw .io }
    }

    func writeBlock(_ number: UInt32, _ bytes: [UInt8]) throws(FileError) {
        guard number >= superblock.firstDataBlock, number < superblock.blocksCount else { throw .corrupted }
        try writeBytes(bytes, at: UInt64(number) * UInt64(superblock.blockSize))
    }

    func writeInode(_ node: NodeID, _ inode: Inode, fastLink: Bool = false) throws(FileError) {
        try writeBytes(inode.encoded(fastLink: fastLink), at: inodeOffset(node))
    }

    // MARK: Group descriptors

    func descriptorField(_ group: Int, _ offset: Int) -> UInt32 { descriptors.u16(group * 32 + offset) }

    /// Adds `delta` to a 16-bit count of `group` (12: free blocks, 14: free inodes, 16: directories)
    /// and writes the descriptor.
    func adjustDescriptor(_ group: Int, _ offset: Int, by delta: Int) throws(FileError) {
        let value = Int(descriptorField(group, offset)) + delta
        guard value >= 0, value <= 0xFFFF else { throw .corrupted }
        descriptors.put16(group * 32 + offset, UInt32(value))
        let base = UInt64(superblock.firstDataBlock + 1) * UInt64(superblock.blockSize) + UInt64(group * 32)
        try writeBytes(Array(descriptors[(group * 32) ..< (group * 32 + 32)]), at: base)
    }

    func blockBitmap(_ group: Int) -> UInt32 { descriptors.u32(group * 32) }
    func inodeBitmap(_ group: Int) -> UInt32 { descriptors.u32(group * 32 + 4) }

    /// Blocks in `group` (the last group may be short).
    func blocksIn(_ group: Int) -> UInt32 {
        let first = superblock.firstDataBlock + UInt32(group) * superblock.blocksPerGroup
        return min(superblock.blocksPerGroup, superblock.blocksCount - first)
    }

    // MARK: Blocks

    /// A free block, marked used, as near `goal` as the bitmaps allow; ENOSPC when there is none.
    func allocateBlock(near goal: UInt32) throws(FileError) -> UInt32 {
        guard freeBlocks > 0 else { throw .noSpace }
        let groups = superblock.groupCount
        let clampedGoal = goal >= superblock.firstDataBlock && goal < superblock.blocksCount ? goal : superblock.firstDataBlock
        let goalGroup = Int((clampedGoal - superblock.firstDataBlock) / superblock.blocksPerGroup)
        for step in 0 ... groups {
            let group = (goalGroup + step) % groups
            guard descriptorField(group, 12) > 0 else { continue }
            let bitmapBlock = blockBitmap(group)
            var bitmap = try readBlock(bitmapBlock)
            let count = Int(blocksIn(group))
            let start = step == 0 ? Int((clampedGoal - superblock.firstDataBlock) % superblock.blocksPerGroup) : 0
            guard let bit = firstClear(bitmap, from: start, count: count) ?? firstClear(bitmap, from: 0, count: start) else { continue }
            bitmap[bit / 8] |= 1 << UInt8(bit % 8)
            try writeBlock(bitmapBlock, bitmap)
            try adjustDescriptor(group, 12, by: -1)
            freeBlocks -= 1
            let block = superblock.firstDataBlock + UInt32(group) * superblock.blocksPerGroup + UInt32(bit)
            // A block inside the group's own metadata means the bitmap lied: refuse rather than overwrite.
            guard block != bitmapBlock, block != inodeBitmap(group), block >= superblock.firstDataBlock + 1 else { throw .corrupted }
            return block
        }
        throw .noSpace
    }

    func firstClear(_ bitmap: [UInt8], from start: Int, count: Int) -> Int? {
        var bit = start
        while bit < count {
            if bit % 8 == 0 && bitmap[bit / 8] == 0xFF && bit + 8 <= count { bit += 8; continue }
            if bitmap[bit / 8] & (1 << UInt8(bit % 8)) == 0 { return bit }
            bit += 1
        }
        return nil
    }

    /// A new block, allocated and zeroed on the disk.
    func allocateZeroedBlock(near goal: UInt32) throws(FileError) -> UInt32 {
        let block = try allocateBlock(near: goal)
        try writeBlock(block, [UInt8](repeating: 0, count: superblock.blockSize))
        return block
    }

    func freeBlock(_ block: UInt32) throws(FileError) {
        guard block > superblock.firstDataBlock, block < superblock.blocksCount else { throw .corrupted }
        let relative = block - superblock.firstDataBlock
        let group = Int(relative / superblock.blocksPerGroup), bit = Int(relative % superblock.blocksPerGroup)
        let bitmapBlock = blockBitmap(group)
        var bitmap = try readBlock(bitmapBlock)
        guard bitmap[bit / 8] & (1 << UInt8(bit % 8)) != 0 else { throw .corrupted }     // freed twice
        bitmap[bit / 8] &= ~(1 << UInt8(bit % 8))
        try writeBlock(bitmapBlock, bitmap)
        try adjustDescriptor(group, 12, by: 1)
        freeBlocks += 1
    }

    // MARK: Inodes

    /// A free inode number, marked used: a directory in the group with the most free inodes, anything
    /// else in its parent's group first.
    func allocateInode(directory: Bool, parent: NodeID) throws(FileError) -> NodeID {
        guard freeInodes > 0 else { throw .noSpace }
        let groups = superblock.groupCount
        var first = Int(UInt32(parent - 1) / superblock.inodesPerGroup) % groups
        if directory {
            var most: UInt32 = 0
            for group in 0 ..< groups where descriptorField(group, 14) > most {
                most = descriptorField(group, 14)
                first = group
            }
        }
        for step in 0 ..< groups {
            let group = (first + step) % groups
            guard descriptorField(group, 14) > 0 else { continue }
            var bitmap = try readBlock(inodeBitmap(group))
            let lowest = group == 0 ? Int(superblock.firstInode) - 1 : 0
            guard let bit = firstClear(bitmap, from: lowest, count: Int(superblock.inodesPerGroup)) else { continue }
            bitmap[bit / 8] |= 1 << UInt8(bit % 8)
            try writeBlock(inodeBitmap(group), bitmap)
            try adjustDescriptor(group, 14, by: -1)
            if directory { try adjustDescriptor(group, 16, by: 1) }
            freeInodes -= 1
            let node = NodeID(UInt32(group) * superblock.inodesPerGroup + UInt32(bit) + 1)
            guard node <= NodeID(superblock.inodesCount) else { throw .noSpace }
            return node
        }
        throw .noSpace
    }

    /// Frees a nameless inode's blocks, extended-attribute block and number.
    func deleteInode(_ node: NodeID) throws(FileError) {
        var inode = try self.inode(node, unlinked: true)
        let type = FileType(mode: inode.mode)
        if type == .regular || type == .directory || (type == .symbolicLink && !isFastLink(inode)) {
            try freeData(&inode, from: 0)
        }
        if inode.fileACL != 0 { try releaseAttributeBlock(inode.fileACL) }
        inode.fileACL = 0
        inode.links = 0
        inode.size = 0
        inode.sectors = 0
        inode.deletionTime = deletionTime
        try writeInode(node, inode)
        let index = UInt32(node - 1)
        let group = Int(index / superblock.inodesPerGroup), bit = Int(index % superblock.inodesPerGroup)
        var bitmap = try readBlock(inodeBitmap(group))
        guard bitmap[bit / 8] & (1 << UInt8(bit % 8)) != 0 else { throw .corrupted }
        bitmap[bit / 8] &= ~(1 << UInt8(bit % 8))
        try writeBlock(inodeBitmap(group), bitmap)
        try adjustDescriptor(group, 14, by: 1)
        if type == .directory { try adjustDescriptor(group, 16, by: -1) }
        freeInodes += 1
        orphans.remove(node)
    }

    /// Drops one reference to a shared extended-attribute block (h_refcount at byte 4), freeing it at 0.
    func releaseAttributeBlock(_ block: UInt32) throws(FileError) {
        var bytes = try readBlock(block)
        guard bytes.u32(0) == 0xEA02_0000 else { throw .corrupted }
        let references = bytes.u32(4)
        if references <= 1 {
            try freeBlock(block)
        } else {
            bytes.put32(4, references - 1)
            try writeBlock(block, bytes)
        }
    }

    /// Now, for i_dtime — which e2fsck reads as "not deleted" when 0 and as a link of the orphan list
    /// when below the inode count, so a guest without a wall clock uses the disk's own last write time.
    var deletionTime: UInt32 {
        let now = clock()
        return now >= superblock.inodesCount ? now : max(superblock.writeTime, superblock.inodesCount)
    }

    func isFastLink(_ inode: Inode) -> Bool {
        let extendedAttributeSectors = inode.fileACL != 0 ? UInt32(superblock.blockSize / 512) : 0
        return inode.sectors == extendedAttributeSectors
    }

    /// A name went away: free the inode now, or when the last open file lets go of it.
    func dropLink(_ node: NodeID, _ inode: inout Inode) throws(FileError) {
        if inode.links > 0 { inode.links -= 1 }
        inode.changeTime = clock()
        try writeInode(node, inode)
        guard inode.links == 0 else { return }
        if openCounts[node, default: 0] > 0 {
            orphans.insert(node)
        } else {
            try deleteInode(node)
        }
    }

    // MARK: FileSystem: open-file references and sync

    public func retained(_ node: NodeID) { openCounts[node, default: 0] += 1 }

    public func released(_ node: NodeID) {
        let count = openCounts[node, default: 0] - 1
        openCounts[node] = count > 0 ? count : nil
        if count <= 0, orphans.contains(node), !isReadOnly { try? deleteInode(node) }
    }

    public func sync(_ node: NodeID) throws(FileError) { try syncAll() }
}
