// NinePFileIO: the data side of the 9P file system — read, write, truncate, attributes, fsync,
// directory listing, and the open/close notices.
//
// Reads and writes go through the opened fid an open file's node keeps (NinePNodes.swift), or, for a
// call with no open file behind it, through a fid opened for that call and clunked after it. Data
// moves in msize − 24 byte messages; a read stops at the first short answer (the end of the file), a
// write at the first short answer (the disk is full, or a quota), returning what was done. Only regular
// files carry data here: a device node or FIFO on the share reads as empty and refuses writes with
// EINVAL (its data is on the host's device, not ours).
//
// A listing asks Treaddir for as many entries as one message holds, from the server offset the
// cookie stands for, skips `.` and `..`, and gives each entry the cookie of its own server offset
// (see NinePCookies). A server that repeats an offset, or answers for ever, ends the listing rather
// than looping.

import VFS

extension NinePFileSystem {
    /// The node's type, asking the server if it was not yet seen.
    func knownType(_ id: NodeID) throws(FileError) -> FileType {
        if let type = nodes[id]?.type { return type }
        return try status(id).type ?? .regular
    }

    public func read(_ id: NodeID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        guard offset >= 0 else { throw .invalid }
        let type = try knownType(id)
        if type == .directory { throw .isDirectory }
        guard type == .regular, buffer.count > 0 else { return 0 }
        let (fid, temporary) = try ioFid(id, writing: false)
        defer { if temporary { client.clunk(fid) } }
        var done = 0
        while done < buffer.count {
            let wanted = min(buffer.count - done, client.ioChunk)
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[done ..< done + wanted])
            let count = try client.read(fid, at: UInt64(offset) + UInt64(done), into: part)
            done += count
            if count < wanted { break }                         // the end of the file
        }
        return done
    }

    public func write(_ id: NodeID, at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        try writable()
        guard offset >= 0 else { throw .invalid }
        let type = try knownType(id)
        if type == .directory { throw .isDirectory }
        guard type == .regular else { throw .invalid }
        guard bytes.count > 0 else { return 0 }
        let (fid, temporary) = try ioFid(id, writing: true)
        defer { if temporary { client.clunk(fid) } }
        var done = 0
        while done < bytes.count {
            let part = UnsafeRawBufferPointer(rebasing: bytes[done ..< bytes.count])
            let count = try client.write(fid, at: UInt64(offset) + UInt64(done), part)
            if count == 0 { break }
            done += count
            if count < min(part.count, client.ioChunk) { break }
        }
        if done == 0 { throw .noSpace }
        return done
    }

    public func truncate(_ id: NodeID, to size: Int64) throws(FileError) {
        try writable()
        guard size >= 0 else { throw .invalid }
        var changes = NinePSetAttributes()
        changes.size = UInt64(size)
        try client.setAttributes(try anyFid(for: id), changes)
    }

    public func setAttributes(_ id: NodeID, permissions: UInt32?, userID: UInt32?, groupID: UInt32?,
                              accessTime: TimeSpec?, modificationTime: TimeSpec?) throws(FileError) {
        try writable()
        var changes = NinePSetAttributes()
        changes.mode = permissions.map { $0 & 0o7777 }
        changes.userID = userID
        changes.groupID = groupID
        changes.accessTime = accessTime
        changes.modificationTime = modificationTime
        try client.setAttributes(try anyFid(for: id), changes)
    }

    public func sync(_ id: NodeID) throws(FileError) {
        // Tfsync needs an opened fid (diod and QEMU fsync the descriptor behind it); only files and
        // directories are opened on the server.
        let type = try knownType(id)
        guard type == .regular || type == .directory else { return }
        let (fid, temporary) = try ioFid(id, writing: false)
        defer { if temporary { client.clunk(fid) } }
        try client.sync(fid)
    }

    public func readDirectory(_ directory: NodeID, after cookie: UInt64, limit: Int) throws(FileError) -> [DirectoryEntry] {
        guard let node = nodes[directory] else { throw .noEntry }
        guard node.isDirectory else { throw .notDirectory }
        var table = cookieTables[directory] ?? NinePCookies()
        guard limit > 0, var offset = table.serverOffset(after: cookie) else { return [] }
        let (fid, temporary) = try ioFid(directory, writing: false)
        defer { if temporary { client.clunk(fid) } }
        var page: [DirectoryEntry] = []
        var batches = 0
        reading: while batches < 1 << 16 {
            batches += 1
            let batch = try client.readDirectory(fid, at: offset)
            let start = offset
            for entry in batch {
                offset = entry.offset
                if entry.name == [0x2E] || entry.name == [0x2E, 0x2E] { continue }
                page.append(DirectoryEntry(name: entry.name, node: entry.qid.path, type: Self.fileType(of: entry),
                                           cookie: table.cookie(resumingAt: entry.offset)))
                if page.count == limit { break reading }
            }
            if batch.isEmpty || offset == start { break }           // the end, or a server going round
        }
        clock += 1
        table.lastUse = clock
        cookieTables[directory] = table
        trimCookieTables()
        return page
    }

    /// An entry's type from its d_type, or from its qid when the server does not know (DT_UNKNOWN).
    static func fileType(of entry: NinePDirectoryEntry) -> FileType {
        switch entry.type {
        case 1: .fifo
        case 2: .characterDevice
        case 4: .directory
        case 6: .blockDevice
        case 8: .regular
        case 10: .symbolicLink
        case 12: .socket
        default: entry.qid.isDirectory ? .directory : entry.qid.isSymbolicLink ? .symbolicLink : .regular
        }
    }

    // MARK: Open files

    public func retained(_ id: NodeID) {
        guard nodes[id] != nil else { return }
        nodes[id]!.retainCount += 1
        if let pending = pendingCreate, pending.node == id {
            pendingCreate = nil
            if nodes[id]!.openFid == nil {
                nodes[id]!.openFid = pending.fid
                nodes[id]!.openWritable = true
                nodes[id]!.openTried = true
            } else {
                client.clunk(pending.fid)
            }
        }
    }

    public func released(_ id: NodeID) {
        guard let node = nodes[id], node.retainCount > 0 else { return }
        nodes[id]!.retainCount -= 1
        guard node.retainCount == 1 else { return }
        if let fid = node.openFid { client.clunk(fid) }
        nodes[id]!.openFid = nil
        nodes[id]!.openWritable = false
        nodes[id]!.openTried = false
        cookieTables[id] = nil
        if !node.named { forget(id) }
    }

    /// Leaving the tree (or the guest stopping): the cached fids go; the root's and open files' stay,
    /// so the tree keeps working. Writes are already on the server: there is nothing to flush.
    public func unmounted() {
        dropCachedFids()
        if let pending = pendingCreate {
            client.clunk(pending.fid)
            pendingCreate = nil
        }
    }
}
