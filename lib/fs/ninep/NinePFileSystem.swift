// NinePFileSystem: a folder another machine serves over 9P2000.L — QEMU's virtio-9p (`-virtfs
// local,path=...,mount_tag=...,security_model=none|mapped-xattr`), diod — as a `FileSystem`.
//
// Mounting negotiates the version (msize up to 64 KiB of data plus header) and attaches as root
// (uname "root", n_uname 0) to the export `attachName`. Nodes are named by qid.path; how a node gets
// back to the server, and which fids live how long, is NinePNodes.swift. Each operation is the one
// message Linux's v9fs sends for it: lookup is Twalk of one name, status Tgetattr, create Tlcreate /
// Tmkdir / Tmknod, unlink and rmdir Tunlinkat, rename Trenameat, truncate and chmod/chown/utimensat
// Tsetattr, fsync Tfsync, df Tstatfs. Reads and writes move msize − 24 bytes per message; a short
// read is the end of the file. `..` is answered from the table (the root's is itself: the server's
// ".." of the export root is outside it). mknod with a device number re-creates the node with it
// (Tmknod takes major and minor; nothing sets them later), so the node number changes.
//
// Errors are the server's errno (Rlerror), so they are Linux's for the same case. `readOnly` makes the
// VFS refuse changes with EROFS, and the file system refuses them too. The client caches no data and
// no attributes: what the host changes is seen at once, at the price of a round trip per operation.
// Not supported: extended attributes, locks, Tauth; an open file whose name was removed keeps
// reading and writing, but Tgetattr on it depends on the server (diod says ENOENT).

import VFS

public final class NinePFileSystem: FileSystem {
    public let typeName: StaticString = "9p"
    public let rootNode: NodeID
    public let isReadOnly: Bool
    let client: NinePClient

    // The node table and its bounds (NinePNodes.swift). The VFS lock covers all of it.
    var nodes: [NodeID: NinePNode] = [:]
    /// Nodes whose walk fid is in the cache (not the root), at most `fidCacheLimit`.
    var fidHolders: [NodeID] = []
    let fidCacheLimit = 32
    /// Non-directory entries in `nodes`; trimmed past `fileEntryLimit`.
    var fileEntries = 0
    let fileEntryLimit = 1024
    var cookieTables: [NodeID: NinePCookies] = [:]
    var pendingCreate: (node: NodeID, fid: UInt32)? = nil
    /// The last few lookups (nil: not there), so unlink and rename know which node a name was.
    var recentLookups: [(directory: NodeID, name: [UInt8], node: NodeID?)] = []
    var clock: UInt64 = 0

    public init(transport: any NinePTransport, attachName: [UInt8], readOnly: Bool = false) throws(NinePMountError) {
        client = try NinePClient(transport: transport)
        let root: (fid: UInt32, qid: NinePQid)
        do throws(FileError) {
            root = try client.attach(userName: Array("root".utf8), attachName: attachName, userID: 0)
        } catch {
            throw NinePMountError(message: "9p: attaching to \"\(String(decoding: attachName, as: UTF8.self))\" failed: \(error.messageString)")
        }
        guard root.qid.isDirectory else { throw NinePMountError(message: "9p: the attached root is not a directory") }
        rootNode = root.qid.path
        isReadOnly = readOnly
        nodes[rootNode] = NinePNode(parent: rootNode, name: [], isDirectory: true, type: .directory, walkFid: root.fid)
    }

    /// The fids the server holds for this mount (bounded: see NinePNodes.swift).
    public var fidsInUse: Int { client.fidsInUse }

    /// The negotiated msize.
    public var messageSize: Int { client.messageSize }

    public var usage: FileSystemUsage {
        var usage = FileSystemUsage()
        guard let fid = nodes[rootNode]?.walkFid, let statistics = try? client.statistics(fid) else { return usage }
        let blockSize = Int64(statistics.blockSize)
        func bytes(_ blocks: UInt64) -> Int64 {
            let (product, overflow) = Int64(clamping: blocks).multipliedReportingOverflow(by: blockSize)
            return overflow ? Int64.max : product
        }
        usage.blockSize = Int(statistics.blockSize)
        usage.totalBytes = bytes(statistics.blocks)
        usage.usedBytes = bytes(statistics.blocks - min(statistics.freeBlocks, statistics.blocks))
        usage.totalNodes = Int64(clamping: statistics.files)
        usage.usedNodes = Int64(clamping: statistics.files - min(statistics.freeFiles, statistics.files))
        return usage
    }

    func writable() throws(FileError) {
        if isReadOnly { throw .readOnly }
    }

    func directory(_ id: NodeID) throws(FileError) -> UInt32 {
        guard let node = nodes[id] else { throw .noEntry }
        guard node.isDirectory else { throw .notDirectory }
        return try fid(for: id)
    }

    func noteLookup(_ directory: NodeID, _ name: [UInt8], _ node: NodeID?) {
        if recentLookups.count == 4 { recentLookups.removeFirst() }
        recentLookups.append((directory, name, node))
    }

    /// The node `name` names in `directory` (nil: none), from a lookup just made or a new walk.
    func child(_ directory: NodeID, _ name: [UInt8]) -> NodeID? {
        for entry in recentLookups.reversed() where entry.directory == directory && entry.name == name {
            if entry.node == nil || nodes[entry.node!] != nil { return entry.node }
        }
        return try? lookup(directory, name)
    }

    /// Whether `id` is `directory` or above it: found again below, it would make `..` go round for ever
    /// (a bind mount of an ancestor inside the share, or a hostile server) — ELOOP instead.
    func isAncestor(_ id: NodeID, of directory: NodeID) -> Bool {
        var cursor = directory
        for _ in 0 ..< 4096 {
            if cursor == id { return true }
            guard cursor != rootNode, let parent = nodes[cursor]?.parent else { return false }
            cursor = parent
        }
        return true
    }

    // MARK: Names

    public func lookup(_ directory: NodeID, _ name: [UInt8]) throws(FileError) -> NodeID {
        guard let parent = nodes[directory] else { throw .noEntry }
        guard parent.isDirectory else { throw .notDirectory }
        if name == [0x2E, 0x2E] { return parent.parent }
        if name == [0x2E] { return directory }
        let walked: (fid: UInt32, qid: NinePQid?)
        do throws(FileError) { walked = try client.walk(try fid(for: directory), [name]) } catch {
            if error == .noEntry { noteLookup(directory, name, nil) }
            throw error
        }
        guard let qid = walked.qid, !isAncestor(qid.path, of: directory) else {
            client.clunk(walked.fid)
            throw walked.qid == nil ? .noEntry : .loop
        }
        let id = remember(qid, in: directory, name, fid: walked.fid)
        noteLookup(directory, name, id)
        return id
    }

    public func status(_ id: NodeID) throws(FileError) -> FileStatus {
        let attributes = try client.attributes(try anyFid(for: id))
        guard let size = Int64(exactly: attributes.size) else { throw .overflow }
        var status = FileStatus()
        status.inode = id
        status.mode = attributes.mode
        status.linkCount = UInt32(clamping: attributes.linkCount)
        status.userID = attributes.userID
        status.groupID = attributes.groupID
        status.representedDevice = attributes.device
        status.size = size
        status.blockSize = Int32(clamping: attributes.blockSize)
        status.blocks = Int64(clamping: attributes.blocks)
        status.accessTime = attributes.accessTime
        status.modificationTime = attributes.modificationTime
        status.changeTime = attributes.changeTime
        nodes[id]?.type = status.type
        return status
    }

    public func create(_ directory: NodeID, _ name: [UInt8], type: FileType, permissions: UInt32,
                       userID: UInt32, groupID: UInt32) throws(FileError) -> NodeID {
        try writable()
        let directoryFid = try self.directory(directory)
        let mode = permissions & 0o7777
        recentLookups.removeAll()
        let id: NodeID
        switch type {
        case .regular:
            // Tlcreate turns the fid it is given into the new file, opened: a clone of the directory's.
            let (fid, _) = try client.walk(directoryFid, [])
            let qid: NinePQid
            do throws(FileError) {
                qid = try client.create(fid, name, flags: NineP.readWrite | NineP.create | NineP.exclusive, mode: mode, groupID: groupID)
            } catch {
                client.clunk(fid)
                throw error
            }
            id = remember(qid, in: directory, name, fid: nil)
            keepCreated(id, fid: fid)
        case .directory:
            let request = try NinePRequest.mkdir(directoryFid: directoryFid, name: name, mode: mode, groupID: groupID)
            id = remember(try client.make(request, .mkdir), in: directory, name, fid: nil)
        case .symbolicLink:
            throw .invalid
        case .fifo, .characterDevice, .blockDevice, .socket:
            let request = try NinePRequest.mknod(directoryFid: directoryFid, name: name, mode: type.rawValue | mode,
                                                 major: 0, minor: 0, groupID: groupID)
            id = remember(try client.make(request, .mknod), in: directory, name, fid: nil)
        }
        nodes[id]?.type = type
        if userID != 0 {
            var changes = NinePSetAttributes()
            changes.userID = userID
            try client.setAttributes(try fid(for: id), changes)
        }
        return id
    }

    public func createSymbolicLink(_ directory: NodeID, _ name: [UInt8], target: [UInt8]) throws(FileError) -> NodeID {
        try writable()
        let request = try NinePRequest.symlink(directoryFid: try self.directory(directory), name: name, target: target, groupID: 0)
        recentLookups.removeAll()
        let id = remember(try client.make(request, .symlink), in: directory, name, fid: nil)
        nodes[id]?.type = .symbolicLink
        return id
    }

    public func link(_ id: NodeID, into directory: NodeID, as name: [UInt8]) throws(FileError) {
        try writable()
        let fid = try self.fid(for: id)
        try client.link(fid, into: try self.directory(directory), as: name)
        recentLookups.removeAll()
    }

    public func unlink(_ directory: NodeID, _ name: [UInt8]) throws(FileError) {
        try writable()
        let target = child(directory, name)
        if let target { prepareOpen(target) }                   // an open file outlives its name
        try client.remove(in: try self.directory(directory), name, directory: false)
        recentLookups.removeAll()
        if let target { unname(target, at: directory, name) }
    }

    public func removeDirectory(_ directory: NodeID, _ name: [UInt8]) throws(FileError) {
        try writable()
        let target = child(directory, name)
        try client.remove(in: try self.directory(directory), name, directory: true)
        recentLookups.removeAll()
        if let target { unname(target, at: directory, name) }
    }

    public func rename(_ directory: NodeID, _ name: [UInt8], to newDirectory: NodeID, _ newName: [UInt8]) throws(FileError) {
        try writable()
        let source = child(directory, name)
        if let source, isAncestor(source, of: newDirectory) { throw .invalid }   // into itself
        let replaced = child(newDirectory, newName)
        if let replaced, replaced != source { prepareOpen(replaced) }
        let directoryFid = try self.directory(directory)
        try client.rename(in: directoryFid, name, to: try self.directory(newDirectory), newName)
        recentLookups.removeAll()
        if let replaced, replaced != source { unname(replaced, at: newDirectory, newName) }
        guard let source, source != rootNode, nodes[source] != nil else { return }
        dropWalkFid(source)
        nodes[source]!.parent = newDirectory
        nodes[source]!.name = newName
        nodes[source]!.named = true
        if nodes[source]!.isDirectory { dropCachedFids() }      // path-keeping servers lose the fids below it
    }

    public func readSymbolicLink(_ id: NodeID) throws(FileError) -> [UInt8] {
        try client.readLink(try fid(for: id))
    }

    public func setDevice(_ id: NodeID, _ device: UInt64) throws(FileError) {
        try writable()
        guard id != rootNode, let node = nodes[id], node.named else { throw .noEntry }
        let mode = try status(id).mode
        guard let type = FileType(mode: mode), type == .characterDevice || type == .blockDevice else { throw .invalid }
        // glibc's major() and minor() of a dev_t.
        let major = UInt32(truncatingIfNeeded: device >> 8) & 0xFFF | UInt32(truncatingIfNeeded: device >> 32) & ~0xFFF
        let minor = UInt32(truncatingIfNeeded: device) & 0xFF | UInt32(truncatingIfNeeded: device >> 12) & ~0xFF
        let directoryFid = try self.directory(node.parent)
        try client.remove(in: directoryFid, node.name, directory: false)
        forget(id)
        recentLookups.removeAll()
        let request = try NinePRequest.mknod(directoryFid: directoryFid, name: node.name, mode: mode, major: major,
                                             minor: minor, groupID: 0)
        remember(try client.make(request, .mknod), in: node.parent, node.name, fid: nil)
    }
}
