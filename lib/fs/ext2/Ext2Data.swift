// Ext2Data: writing file data — finding or allocating the block behind a logical block (through the
// indirect, double and triple indirect blocks, allocating those too), writing byte ranges, truncating
// with block reclaim.
//
// A write allocates only the blocks it touches, so a write past the end leaves a hole that reads as
// zeros and takes no space (a sparse file, as on Linux). A new block is written whole (the bytes the
// write does not cover are zeros), an existing one is read, patched and written back. i_blocks counts
// every block the file holds, indirect ones included, in 512-byte sectors, as e2fsck checks it. A file
// that grows past 2 GiB sets the LARGE_FILE feature. Running out of space part-way through a write
// keeps what was written (a short count); with nothing written it is ENOSPC.
//
// Truncation frees every block at or past the new end, then every indirect block left with no
// pointers, clearing each pointer before freeing what it pointed to; the tail of a last partial block is
// zeroed so that growing the file again reads zeros there.

import VFS

extension Ext2FileSystem {
    var pointersPerBlock: UInt64 { UInt64(superblock.blockSize / 4) }
    var sectorsPerBlock: UInt32 { UInt32(superblock.blockSize / 512) }

    /// The largest file the pointer tree can address (Linux also caps it below 2^32 sectors).
    var maximumFileSize: UInt64 {
        let per = pointersPerBlock
        let blocks = 12 + per + per * per + per * per * per
        return min(blocks * UInt64(superblock.blockSize), (UInt64(UInt32.max) * 512) - UInt64(superblock.blockSize))
    }

    /// The disk block behind logical block `logical`, allocating it (and the indirect blocks on the way)
    /// when `allocate` is set; 0 for a hole otherwise. `fresh` says the data block was just allocated.
    func blockFor(_ inode: inout Inode, _ logical: UInt64, allocate: Bool, goal: UInt32) throws(FileError) -> (block: UInt32, fresh: Bool) {
        let per = pointersPerBlock
        var rest = logical
        if rest < 12 {
            let block = inode.blocks[Int(rest)]
            guard block < superblock.blocksCount else { throw .corrupted }
            if block != 0 || !allocate { return (block, false) }
            let new = try allocateBlock(near: goal)
            inode.blocks[Int(rest)] = new
            inode.sectors += sectorsPerBlock
            return (new, true)
        }
        rest -= 12
        var slot: Int
        var indices: [UInt64]
        if rest < per {
            slot = 12; indices = [rest]
        } else if rest - per < per * per {
            rest -= per
            slot = 13; indices = [rest / per, rest % per]
        } else {
            rest -= per + per * per
            guard rest < per * per * per else { throw .fileTooBig }
            slot = 14; indices = [rest / (per * per), (rest / per) % per, rest % per]
        }
        var top = inode.blocks[slot]
        guard top < superblock.blocksCount else { throw .corrupted }
        if top == 0 {
            guard allocate else { return (0, false) }
            top = try allocateZeroedBlock(near: goal)
            inode.blocks[slot] = top
            inode.sectors += sectorsPerBlock
        }
        var current = top
        for (depth, index) in indices.enumerated() {
            var table = try readBlock(current)
            let next = table.u32(Int(index) * 4)
            guard next < superblock.blocksCount else { throw .corrupted }
            if next != 0 { 
                if depth == indices.count - 1 { return (next, false) }
                current = next
                continue
            }
            guard allocate else { return (0, false) }
            let last = depth == indices.count - 1
            let new = last ? try allocateBlock(near: goal) : try allocateZeroedBlock(near: goal)
            inode.sectors += sectorsPerBlock
            table.put32(Int(index) * 4, new)
            try writeBlock(current, table)
            if last { return (new, true) }
            current = new
        }
        return (current, false)
    }

    /// The goal for a file's next block: after its previous block, else the start of its group.
    func goal(for node: NodeID, _ inode: inout Inode, before logical: UInt64) -> UInt32 {
        if logical > 0, let previous = try? blockFor(&inode, logical - 1, allocate: false, goal: 0).block, previous != 0 {
            return previous + 1
        }
        let group = UInt32(node - 1) / superblock.inodesPerGroup
        return superblock.firstDataBlock + group * superblock.blocksPerGroup
    }

    /// Writes `bytes` at `offset` of the inode's data, growing it; returns the count written.
    func writeData(_ node: NodeID, _ inode: inout Inode, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        guard bytes.count > 0 else { return 0 }
        guard offset < maximumFileSize else { throw .fileTooBig }
        let count = Int(min(UInt64(bytes.count), maximumFileSize - offset))
        let size = superblock.blockSize
        var done = 0
        var failure: FileError? = nil
        var nextGoal: UInt32 = 0
        while done < count {
            let position = offset + UInt64(done)
            let logical = position / UInt64(size)
            let within = Int(position % UInt64(size))
            let chunk = min(size - within, count - done)
            if nextGoal == 0 { nextGoal = goal(for: node, &inode, before: logical) }
            let found: (block: UInt32, fresh: Bool)
            do throws(FileError) {
                found = try blockFor(&inode, logical, allocate: true, goal: nextGoal)
            } catch {
                failure = error
                break
            }
            nextGoal = found.block + 1
            let source = UnsafeRawBufferPointer(rebasing: bytes[done ..< done + chunk])
            if found.fresh && chunk < size {
                var block = [UInt8](repeating: 0, count: size)
                block.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: within).copyMemory(from: source.baseAddress!, byteCount: chunk) }
                try writeBlock(found.block, block)
            } else {
                guard disk.write(at: UInt64(found.block) * UInt64(size) + UInt64(within), from: source) else { throw .io }
            }
            done += chunk
        }
        if done > 0 { inode.size = max(inode.size, offset + UInt64(done)) }
        try sizeChanged(node, &inode)
        if done == 0, let failure { throw failure }
        return done
    }

    /// Frees every data block at logical `first` and beyond, and the indirect blocks left empty.
    func freeData(_ inode: inout Inode, from first: UInt64) throws(FileError) {
        let per = pointersPerBlock
        for index in 0 ..< 12 where UInt64(index) >= first && inode.blocks[index] != 0 {
            let block = inode.blocks[index]
            inode.blocks[index] = 0
            try freeBlock(block)
            inode.sectors -= min(inode.sectors, sectorsPerBlock)
        }
        var base: UInt64 = 12
        var span = per
        for slot in 12 ..< 15 {
            let depth = slot - 11
            if inode.blocks[slot] != 0 && first < base + span {
                if try trim(inode.blocks[slot], depth: depth, base: base, keepBelow: first, inode: &inode) {
                    inode.blocks[slot] = 0
                }
            }
            base += span
            span *= per
        }
    }

    /// Frees the blocks under indirect block `block` (covering logical `base` onward, `depth` levels)
    /// whose logical index is `keepBelow` or more; true when `block` itself was freed.
    func trim(_ block: UInt32, depth: Int, base: UInt64, keepBelow: UInt64, inode: inout Inode) throws(FileError) -> Bool {
        var childSpan: UInt64 = 1
        for _ in 1 ..< depth { childSpan *= pointersPerBlock }
        var table = try readBlock(block)
        var changed = false
        for index in 0 ..< Int(pointersPerBlock) {
            let child = table.u32(index * 4)
            guard child != 0 else { continue }
            guard child < superblock.blocksCount else { throw .corrupted }
            let childBase = base + UInt64(index) * childSpan
            guard childBase + childSpan > keepBelow else { continue }
            let freed: Bool
            if depth == 1 {
                freed = true
            } else {
                freed = try trim(child, depth: depth - 1, base: childBase, keepBelow: keepBelow, inode: &inode)
            }
            if freed {
                table.put32(index * 4, 0)
                changed = true
                if depth == 1 {
                    try freeBlock(child)
                    inode.sectors -= min(inode.sectors, sectorsPerBlock)
                }
            }
        }
        if table.allSatisfy({ $0 == 0 }) {
            try freeBlock(block)
            inode.sectors -= min(inode.sectors, sectorsPerBlock)
            return true
        }
        if changed { try writeBlock(block, table) }
        return false
    }

    /// Sets the size of a regular file: blocks past the end are freed, a partial last block's tail zeroed.
    func resize(_ node: NodeID, _ inode: inout Inode, to size: UInt64) throws(FileError) {
        guard size <= maximumFileSize else { throw .fileTooBig }
        let blockSize = UInt64(superblock.blockSize)
        if size < inode.size {
            try freeData(&inode, from: (size + blockSize - 1) / blockSize)
            if size % blockSize != 0 {
                let block = try blockFor(&inode, size / blockSize, allocate: false, goal: 0).block
                if block != 0 {
                    let zeros = [UInt8](repeating: 0, count: Int(blockSize - size % blockSize))
                    try writeBytes(zeros, at: UInt64(block) * blockSize + size % blockSize)
                }
            }
        }
        inode.size = size
        try sizeChanged(node, &inode)
    }

    /// After a write or truncation: LARGE_FILE set when the file passed 2 GiB, times, the inode written.
    func sizeChanged(_ node: NodeID, _ inode: inout Inode) throws(FileError) {
        if inode.size > 0x7FFF_FFFF && superblock.readOnlyCompatible & Superblock.largeFile == 0 {
            superblock.readOnlyCompatible |= Superblock.largeFile
            try writeSuperblock(state: nil)
        }
        let now = clock()
        inode.modificationTime = now
        inode.changeTime = now
        try writeInode(node, inode)
    }

    // MARK: FileSystem: data

    public func write(_ node: NodeID, at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        guard !isReadOnly else { throw .readOnly }
        guard offset >= 0 else { throw .invalid }
        var inode = try self.inode(node)
        let type = FileType(mode: inode.mode)
        guard type != .directory else { throw .isDirectory }
        guard type == .regular else { throw .invalid }
        return try writeData(node, &inode, at: UInt64(offset), bytes)
    }

    public func truncate(_ node: NodeID, to size: Int64) throws(FileError) {
        guard !isReadOnly else { throw .readOnly }
        guard size >= 0 else { throw .invalid }
        var inode = try self.inode(node)
        let type = FileType(mode: inode.mode)
        guard type != .directory else { throw .isDirectory }
        guard type == .regular else { throw .invalid }
        try resize(node, &inode, to: UInt64(size))
    }
}
