// Ext2Directories: changing the name space — directory records, create, mkdir, symbolic and hard
// links, unlink, rmdir, rename, attributes.
//
// A directory is a file of blocks, each a chain of records (inode, rec_len, name_len, file_type, name)
// whose rec_lens sum to the block. A new name goes into the first record with room after its own name
// (the record is split: it keeps the bytes it needs, the new one takes the rest) or into a record
// whose inode is 0; with no room anywhere the directory grows by a block holding one record. A removed
// name merges into the record before it in the same block, or, first in its block, keeps its space
// with inode 0 — records never move, so readdir cookies (byte offsets) stay valid. Changing a
// directory clears its htree flag (EXT2_INDEX_FL), as Linux's ext2 does, so that e2fsck and ext3/4
// do not trust an index this writer did not keep.
//
// Link counts follow Linux: a directory has 2 + one per subdirectory (its `..`), at most 32000
// (EMLINK). Operations check everything that can fail before they change anything, and change the
// disk in the order that leaves the least for e2fsck to mend: a new inode is written before the name
// that points to it, a name is removed before its inode is freed.

import VFS

extension Ext2FileSystem {
    static let maximumLinks: UInt32 = 32000

    var hasFileTypes: Bool { superblock.incompatible & 0x0002 != 0 }

    func entryType(_ type: FileType) -> UInt8 {
        guard hasFileTypes else { return 0 }
        switch type {
        case .regular: return 1
        case .directory: return 2
        case .characterDevice: return 3
        case .blockDevice: return 4
        case .fifo: return 5
        case .socket: return 6
        case .symbolicLink: return 7
        }
    }

    static func recordLength(_ nameLength: Int) -> Int { (8 + nameLength + 3) & ~3 }

    /// Adds `name` → `node` to `directory` (the name is known to be absent).
    func insertEntry(_ directory: NodeID, _ name: [UInt8], node: NodeID, type: FileType) throws(FileError) {
        var inode = try self.inode(directory)
        guard FileType(mode: inode.mode) == .directory else { throw .notDirectory }
        guard inode.links > 0 else { throw .noEntry }               // removed while still open
        let size = superblock.blockSize
        let needed = Self.recordLength(name.count)
        func record(_ length: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: 8)
            bytes.put32(0, UInt32(node))
            bytes.put16(4, UInt32(length))
            bytes[6] = UInt8(name.count)
            bytes[7] = entryType(type)
            return bytes + name
        }
        let blocks = inode.size / UInt64(size)
        for logical in 0 ..< blocks {
            let block = try blockFor(&inode, logical, allocate: false, goal: 0).block
            guard block != 0 else { throw .corrupted }
            var bytes = try readBlock(block)
            var position = 0
            while position + 8 <= size {
                let length = Int(bytes.u16(position + 4))
                let used = bytes.u32(position) == 0 ? 0 : Self.recordLength(Int(bytes[position + 6]))
                guard length >= 8, length % 4 == 0, position + length <= size else { throw .corrupted }
                if length - used >= needed {
                    let start = position + used
                    if used > 0 { bytes.put16(position + 4, UInt32(used)) }
                    let new = record(length - used)
                    for index in 0 ..< new.count { bytes[start + index] = new[index] }
                    try writeBlock(block, bytes)
                    try touchDirectory(directory, &inode)
                    return
                }
                position += length
            }
        }
        // No room: one more block, one record spanning it.
        guard inode.size + UInt64(size) <= 64 << 20 else { throw .noSpace }
        let goal = self.goal(for: directory, &inode, before: blocks)
        let block = try blockFor(&inode, blocks, allocate: true, goal: goal).block
        var bytes = [UInt8](repeating: 0, count: size)
        let new = record(size)
        for index in 0 ..< new.count { bytes[index] = new[index] }
        try writeBlock(block, bytes)
        inode.size += UInt64(size)
        try touchDirectory(directory, &inode)
    }

    /// Removes the record of `name` from `directory`; returns the inode it named.
    @discardableResult
    func removeEntry(_ directory: NodeID, _ name: [UInt8]) throws(FileError) -> NodeID {
        try editEntry(directory, name) { (bytes: inout [UInt8], position: Int, previous: Int?) in
            if let previous {
                let merged = bytes.u16(previous + 4) + bytes.u16(position + 4)
                bytes.put16(previous + 4, merged)
            } else {
                bytes.put32(position, 0)
            }
        }
    }

    /// Points the record of `name` in `directory` at `node` instead (rename over an existing name).
    func replaceEntry(_ directory: NodeID, _ name: [UInt8], with node: NodeID, type: FileType) throws(FileError) {
        let kind = entryType(type)
        try editEntry(directory, name) { (bytes: inout [UInt8], position: Int, _: Int?) in
            bytes.put32(position, UInt32(node))
            bytes[position + 7] = kind
        }
    }

    /// Finds `name`'s record, lets `change` edit its block (given the record's and the previous
    /// record's positions), writes the block; returns the inode the record named.
    @discardableResult
    func editEntry(_ directory: NodeID, _ name: [UInt8],
                   _ change: (inout [UInt8], Int, Int?) -> Void) throws(FileError) -> NodeID {
        var inode = try self.inode(directory)
        guard FileType(mode: inode.mode) == .directory else { throw .notDirectory }
        let size = superblock.blockSize
        for logical in 0 ..< inode.size / UInt64(size) {
            let block = try blockFor(&inode, logical, allocate: false, goal: 0).block
            guard block != 0 else { throw .corrupted }
            var bytes = try readBlock(block)
            var position = 0
            var previous: Int? = nil
            while position + 8 <= size {
                let length = Int(bytes.u16(position + 4))
                let nameLength = Int(bytes[position + 6])
                guard length >= 8 + nameLength, length % 4 == 0, position + length <= size else { throw .corrupted }
                let number = bytes.u32(position)
                if number != 0 && nameLength == name.count && Array(bytes[(position + 8) ..< (position + 8 + nameLength)]) == name {
                    change(&bytes, position, previous)
                    try writeBlock(block, bytes)
                    try touchDirectory(directory, &inode)
                    return NodeID(number)
                }
                previous = position
                position += length
            }
        }
        throw .noEntry
    }

    func touchDirectory(_ directory: NodeID, _ inode: inout Inode) throws(FileError) {
        let now = clock()
        inode.modificationTime = now
        inode.changeTime = now
        inode.flags &= ~Inode.indexFlag
        try writeInode(directory, inode)
    }

    func writableDirectory(_ directory: NodeID) throws(FileError) -> Inode {
        guard !isReadOnly else { throw .readOnly }
        let inode = try self.inode(directory)
        guard FileType(mode: inode.mode) == .directory else { throw .notDirectory }
        return inode
    }

    func absent(_ directory: NodeID, _ name: [UInt8]) throws(FileError) {
        do throws(FileError) {
            _ = try lookup(directory, name)
            throw .exists
        } catch .noEntry {
            return
        }
    }

    /// Adds one to a directory's link count (a new subdirectory's `..`), EMLINK past the limit.
    func addLink(_ node: NodeID) throws(FileError) {
        var inode = try self.inode(node)
        guard inode.links < Self.maximumLinks else { throw .tooManyLinks }
        inode.links += 1
        inode.changeTime = clock()
        try writeInode(node, inode)
    }

    // MARK: FileSystem: names

    public func create(_ directory: NodeID, _ name: [UInt8], type: FileType, permissions: UInt32,
                       userID: UInt32, groupID: UInt32) throws(FileError) -> NodeID {
        let parent = try writableDirectory(directory)
        try absent(directory, name)
        if type == .directory { guard parent.links < Self.maximumLinks else { throw .tooManyLinks } }
        let node = try allocateInode(directory: type == .directory, parent: directory)
        var inode = Inode(mode: type.rawValue | (permissions & 0o7777), userID: userID, groupID: groupID, now: clock())
        inode.links = type == .directory ? 2 : 1
        do throws(FileError) {
            if type == .directory {
                let block = try allocateBlock(near: superblock.firstDataBlock + UInt32(node - 1) / superblock.inodesPerGroup * superblock.blocksPerGroup)
                inode.blocks[0] = block
                inode.sectors = sectorsPerBlock
                inode.size = UInt64(superblock.blockSize)
                var bytes = [UInt8](repeating: 0, count: superblock.blockSize)
                bytes.put32(0, UInt32(node)); bytes.put16(4, 12); bytes[6] = 1; bytes[7] = entryType(.directory); bytes[8] = 0x2E
                bytes.put32(12, UInt32(directory)); bytes.put16(16, UInt32(superblock.blockSize - 12)); bytes[18] = 2
                bytes[19] = entryType(.directory); bytes[20] = 0x2E; bytes[21] = 0x2E
                try writeBlock(block, bytes)
            }
            try writeInode(node, inode)
            try insertEntry(directory, name, node: node, type: type)
        } catch {
            inode.links = 0
            try? writeInode(node, inode)
            try? deleteInode(node)
            throw error
        }
        if type == .directory { try addLink(directory) }
        return node
    }

    public func createSymbolicLink(_ directory: NodeID, _ name: [UInt8], target: [UInt8]) throws(FileError) -> NodeID {
        _ = try writableDirectory(directory)
        guard !target.isEmpty else { throw .noEntry }
        guard target.count < superblock.blockSize else { throw .nameTooLong }
        try absent(directory, name)
        let node = try allocateInode(directory: false, parent: directory)
        var inode = Inode(mode: FileType.symbolicLink.rawValue | 0o777, userID: 0, groupID: 0, now: clock())
        inode.links = 1
        inode.size = UInt64(target.count)
        do throws(FileError) {
            if target.count < 60 {
                inode.rawBlockBytes = target + [UInt8](repeating: 0, count: 60 - target.count)
                try writeInode(node, inode, fastLink: true)
            } else {
                let block = try allocateBlock(near: 0)
                inode.blocks[0] = block
                inode.sectors = sectorsPerBlock
                try writeBlock(block, target + [UInt8](repeating: 0, count: superblock.blockSize - target.count))
                try writeInode(node, inode)
            }
            try insertEntry(directory, name, node: node, type: .symbolicLink)
        } catch {
            inode.links = 0
            try? writeInode(node, inode, fastLink: target.count < 60)
            try? deleteInode(node)
            throw error
        }
        return node
    }

    public func link(_ node: NodeID, into directory: NodeID, as name: [UInt8]) throws(FileError) {
        _ = try writableDirectory(directory)
        var inode = try self.inode(node)
        guard let type = FileType(mode: inode.mode), type != .directory else { throw .notPermitted }
        guard inode.links > 0 else { throw .noEntry }
        guard inode.links < Self.maximumLinks else { throw .tooManyLinks }
        try absent(directory, name)
        try insertEntry(directory, name, node: node, type: type)
        inode.links += 1
        inode.changeTime = clock()
        try writeInode(node, inode)
    }

    public func unlink(_ directory: NodeID, _ name: [UInt8]) throws(FileError) {
        _ = try writableDirectory(directory)
        let node = try lookup(directory, name)
        var inode = try self.inode(node)
        guard FileType(mode: inode.mode) != .directory else { throw .isDirectory }
        try removeEntry(directory, name)
        try dropLink(node, &inode)
    }

    /// True when `directory` holds nothing but `.` and `..`.
    func isEmptyDirectory(_ directory: NodeID) throws(FileError) -> Bool {
        try records(directory).allSatisfy { $0.name == [0x2E] || $0.name == [0x2E, 0x2E] }
    }

    public func removeDirectory(_ directory: NodeID, _ name: [UInt8]) throws(FileError) {
        _ = try writableDirectory(directory)
        let node = try lookup(directory, name)
        var inode = try self.inode(node)
        guard FileType(mode: inode.mode) == .directory else { throw .notDirectory }
        guard try isEmptyDirectory(node) else { throw .notEmpty }
        try removeEntry(directory, name)
        try dropParentLink(directory)
        inode.links = 1                                      // its own "." goes with the name
        try dropLink(node, &inode)
    }

    func dropParentLink(_ directory: NodeID) throws(FileError) {
        var parent = try self.inode(directory)
        if parent.links > 2 { parent.links -= 1 }
        parent.changeTime = clock()
        try writeInode(directory, parent)
    }

    public func rename(_ directory: NodeID, _ name: [UInt8], to newDirectory: NodeID, _ newName: [UInt8]) throws(FileError) {
        _ = try writableDirectory(directory)
        _ = try writableDirectory(newDirectory)
        let node = try lookup(directory, name)
        var inode = try self.inode(node)
        guard let type = FileType(mode: inode.mode) else { throw .corrupted }
        if type == .directory {
            // Not into itself or its own subtree (rename(2): EINVAL).
            var ancestor = newDirectory
            var steps = 0
            while true {
                if ancestor == node { throw .invalid }
                if ancestor == rootNode { break }
                ancestor = try lookup(ancestor, [0x2E, 0x2E])
                steps += 1
                guard steps < 4096 else { throw .corrupted }
            }
            if directory != newDirectory {
                guard try self.inode(newDirectory).links < Self.maximumLinks else { throw .tooManyLinks }
            }
        }
        var replaced: NodeID? = nil
        if let existing = try? lookup(newDirectory, newName) {
            if existing == node { return }                   // the same file under both names: nothing to do
            let target = try self.inode(existing)
            if type == .directory {
                guard FileType(mode: target.mode) == .directory else { throw .notDirectory }
                guard try isEmptyDirectory(existing) else { throw .notEmpty }
            } else {
                guard FileType(mode: target.mode) != .directory else { throw .isDirectory }
            }
            replaced = existing
        }
        if let replaced {
            try replaceEntry(newDirectory, newName, with: node, type: type)
            var target = try self.inode(replaced)
            if type == .directory {
                try dropParentLink(newDirectory)
                target.links = 1
            }
            try dropLink(replaced, &target)
        } else {
            try insertEntry(newDirectory, newName, node: node, type: type)
        }
        try removeEntry(directory, name)
        if type == .directory && directory != newDirectory {
            try replaceEntry(node, [0x2E, 0x2E], with: newDirectory, type: .directory)
            try dropParentLink(directory)
            try addLink(newDirectory)
        }
        inode = try self.inode(node)
        inode.changeTime = clock()
        try writeInode(node, inode)
    }

    public func setAttributes(_ node: NodeID, permissions: UInt32?, userID: UInt32?, groupID: UInt32?,
                              accessTime: TimeSpec?, modificationTime: TimeSpec?) throws(FileError) {
        guard !isReadOnly else { throw .readOnly }
        var inode = try self.inode(node)
        if let permissions { inode.mode = (inode.mode & 0o170000) | (permissions & 0o7777) }
        if let userID { inode.userID = userID }
        if let groupID { inode.groupID = groupID }
        if let accessTime { inode.accessTime = UInt32(truncatingIfNeeded: accessTime.seconds) }
        if let modificationTime { inode.modificationTime = UInt32(truncatingIfNeeded: modificationTime.seconds) }
        inode.changeTime = clock()
        try writeInode(node, inode, fastLink: FileType(mode: inode.mode) == .symbolicLink && isFastLink(inode))
    }

    public func setDevice(_ node: NodeID, _ device: UInt64) throws(FileError) {
        guard !isReadOnly else { throw .readOnly }
        var inode = try self.inode(node)
        guard let type = FileType(mode: inode.mode), type == .characterDevice || type == .blockDevice else { throw .invalid }
        // Linux's encodings: the old 16-bit one in block[0] when major and minor fit a byte each,
        // else the new one in block[1].
        let major = UInt32(truncatingIfNeeded: (device >> 8) & 0xFFF), minor = UInt32(truncatingIfNeeded: (device & 0xFF) | ((device >> 12) & 0xFFF00))
        if major < 256 && minor < 256 {
            inode.blocks[0] = major << 8 | minor
            inode.blocks[1] = 0
        } else {
            inode.blocks[0] = 0
            inode.blocks[1] = (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)
        }
        inode.changeTime = clock()
        try writeInode(node, inode)
    }
}
