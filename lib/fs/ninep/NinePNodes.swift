// NinePNodes: how a NodeID reaches the server — the node table, the fid cache, walking back to a node,
// and directory cookies.
//
// A node is named by its qid.path. The table keeps, for every node the VFS was handed, the directory
// it was found in and its name there, so the node can be walked to again from the nearest node that
// holds a fid (the root always does): a fid is a cache, never the only way back. Which fids exist:
//
//   - the root's, for the whole session;
//   - at most `fidCacheLimit` walked (unopened) fids of other nodes, least recently used clunked
//     first — every operation touches the nodes it uses, so the two fids one operation needs (rename's
//     two directories, link's file and directory) are the two newest and never the one evicted;
//   - one opened fid per node that open files refer to (`retained`), clunked at the last `released`;
//   - the open fid of the file created last, kept for the open(2) that created it to adopt;
//   - fids a single operation walks or opens for itself, clunked before it returns.
//
// So the fids held never exceed the limit plus the open files, however many names a walk over the
// tree looks up (`fidsInUse` shows it). Entries for directories stay (the VFS may keep any directory
// as its working directory or under a mount, with no call to say it let go); entries for other nodes
// are trimmed past `fileEntryLimit`, oldest first, except those of open files — the VFS uses such a
// node right after looking it up, or through an open file. A walk that ends on a different qid (the
// name was replaced behind our back) makes the node unreachable: ENOENT, as ESTALE would be.
//
// A removed or replaced name leaves its node unnamed; if open files still refer to it, it lives on
// through its opened fid (opened before the name goes, if it was not yet) until the last release.
// Servers that keep paths in fids (diod) lose the fids below a renamed directory, so a directory
// rename clunks every cached fid but the root's; they are walked again from the renamed names.
//
// Cookies: a server's readdir offsets are opaque u64s (ext4 hashes up to 2^63 − 1, tmpfs small
// integers, 0-2 among them), while the VFS needs cookies above 2 that fit an Int64 offset. So each
// directory being listed has a table: the n-th distinct server offset seen gets cookie n + 3, and
// cookie c resumes at the offset it stands for. A table lives while the directory is open, and for
// the four most recently listed directories that are not (the VFS's own walks, like getcwd's).

import VFS

struct NinePNode {
    var parent: NodeID
    var name: [UInt8]
    var isDirectory: Bool
    /// From Tgetattr, once asked.
    var type: FileType? = nil
    /// An unopened fid at the node: the root's, or one in the cache.
    var walkFid: UInt32? = nil
    /// While open files refer to the node: a fid opened for I/O, whether it writes, whether it was tried.
    var openFid: UInt32? = nil
    var openWritable = false
    var openTried = false
    var retainCount = 0
    /// False once its name was removed or replaced: only `openFid` still reaches it.
    var named = true
    var lastUse: UInt64 = 0
}

struct NinePCookies {
    /// Cookie n + 3 resumes at `offsets[n]`.
    var offsets: [UInt64] = []
    var cookies: [UInt64: UInt64] = [:]
    var lastUse: UInt64 = 0

    mutating func cookie(resumingAt offset: UInt64) -> UInt64 {
        if let cookie = cookies[offset] { return cookie }
        let cookie = UInt64(offsets.count) + 3
        offsets.append(offset)
        cookies[offset] = cookie
        return cookie
    }

    /// The server offset to read from after `cookie` (0 for the start; nil for a cookie never given).
    func serverOffset(after cookie: UInt64) -> UInt64? {
        if cookie < 3 { return 0 }
        return cookie - 3 < UInt64(offsets.count) ? offsets[Int(cookie - 3)] : nil
    }
}

extension NinePFileSystem {
    func touch(_ id: NodeID) {
        clock += 1
        nodes[id]?.lastUse = clock
    }

    /// Records that `name` in `directory` is `qid`, with `fid` walked there (nil: none).
    @discardableResult
    func remember(_ qid: NinePQid, in directory: NodeID, _ name: [UInt8], fid: UInt32?) -> NodeID {
        let id = qid.path
        // The root stays where it was attached; an ancestor is never moved below itself (a cycle).
        guard id != rootNode, !isAncestor(id, of: directory) else {
            if let fid { client.clunk(fid) }
            return id
        }
        if var node = nodes[id] {
            if node.parent != directory || node.name != name || fid != nil { dropWalkFid(id); node = nodes[id]! }
            if node.isDirectory != qid.isDirectory { fileEntries += qid.isDirectory ? -1 : 1 }
            node.parent = directory
            node.name = name
            node.isDirectory = qid.isDirectory
            node.named = true
            nodes[id] = node
        } else {
            nodes[id] = NinePNode(parent: directory, name: name, isDirectory: qid.isDirectory)
            if !qid.isDirectory { fileEntries += 1 }
        }
        touch(id)
        if let fid { cacheFid(fid, for: id) }
        trimFiles()
        return id
    }

    /// Removes a node from the table, clunking its fids.
    func forget(_ id: NodeID) {
        guard id != rootNode, let node = nodes[id] else { return }
        dropWalkFid(id)
        if let fid = node.openFid { client.clunk(fid) }
        if let pending = pendingCreate, pending.node == id {
            client.clunk(pending.fid)
            pendingCreate = nil
        }
        if !node.isDirectory { fileEntries -= 1 }
        nodes[id] = nil
        cookieTables[id] = nil
    }

    /// `name` in `directory` no longer names `id` (removed or replaced): an open node lives on unnamed.
    func unname(_ id: NodeID, at directory: NodeID, _ name: [UInt8]) {
        guard let node = nodes[id], node.parent == directory, node.name == name else { return }
        if node.retainCount > 0 {
            dropWalkFid(id)
            nodes[id]!.named = false
        } else {
            forget(id)
        }
    }

    // MARK: Fids

    func cacheFid(_ fid: UInt32, for id: NodeID) {
        nodes[id]!.walkFid = fid
        fidHolders.append(id)
        while fidHolders.count > fidCacheLimit {
            var oldest = 0
            for index in fidHolders.indices
            where (nodes[fidHolders[index]]?.lastUse ?? 0) < (nodes[fidHolders[oldest]]?.lastUse ?? 0) {
                oldest = index
            }
            dropWalkFid(fidHolders[oldest])
        }
    }

    func dropWalkFid(_ id: NodeID) {
        guard id != rootNode, let fid = nodes[id]?.walkFid else { return }
        client.clunk(fid)
        nodes[id]!.walkFid = nil
        if let index = fidHolders.firstIndex(of: id) { fidHolders.remove(at: index) }
    }

    /// Clunks every cached fid but the root's (after a directory rename).
    func dropCachedFids() {
        for id in fidHolders { if let fid = nodes[id]?.walkFid { client.clunk(fid); nodes[id]!.walkFid = nil } }
        fidHolders.removeAll()
    }

    /// An unopened fid at the node: cached, or walked from the nearest node that has one.
    func fid(for id: NodeID) throws(FileError) -> UInt32 {
        guard let node = nodes[id], node.named else { throw .noEntry }
        touch(id)
        if let fid = node.walkFid { return fid }
        var names: [[UInt8]] = []
        var cursor = id
        var start: UInt32? = nil
        while start == nil {
            guard let step = nodes[cursor], step.named else { throw .noEntry }
            start = step.walkFid
            if start != nil { break }
            guard cursor != rootNode, names.count < 4096 else { throw .noEntry }
            names.append(step.name)
            cursor = step.parent
        }
        let (fid, qid) = try client.walk(start!, names.reversed())
        guard qid?.path == id else {
            client.clunk(fid)
            if let parent = nodes[id]?.parent { unname(id, at: parent, nodes[id]!.name) }
            throw .noEntry
        }
        cacheFid(fid, for: id)
        return fid
    }

    /// A fid for Tgetattr and Tsetattr: the walked one, or the open one of an unnamed open node.
    func anyFid(for id: NodeID) throws(FileError) -> UInt32 {
        if let node = nodes[id], !node.named, let fid = node.openFid { return fid }
        return try fid(for: id)
    }

    /// A new fid at the node, opened with `flags`.
    func openFid(_ id: NodeID, flags: UInt32) throws(FileError) -> UInt32 {
        let (fid, _) = try client.walk(try self.fid(for: id), [])
        do throws(FileError) { _ = try client.open(fid, flags: flags) } catch {
            client.clunk(fid)
            throw error
        }
        return fid
    }

    /// Opens the fid an open directory or regular file keeps (read-write if it may, else read-only; none
    /// if neither works). A device node or FIFO is never opened on the server.
    func prepareOpen(_ id: NodeID) {
        guard let node = nodes[id], node.retainCount > 0, node.openFid == nil, !node.openTried else { return }
        nodes[id]!.openTried = true
        if !node.isDirectory && node.type != .regular { return }
        if node.isDirectory {
            nodes[id]!.openFid = try? openFid(id, flags: NineP.readOnly | NineP.directory)
        } else if !isReadOnly, let fid = try? openFid(id, flags: NineP.readWrite) {
            nodes[id]!.openFid = fid
            nodes[id]!.openWritable = true
        } else {
            nodes[id]!.openFid = try? openFid(id, flags: NineP.readOnly)
        }
    }

    /// A fid to read (or write) the node through: the open node's own, or a temporary one to clunk.
    func ioFid(_ id: NodeID, writing: Bool) throws(FileError) -> (fid: UInt32, temporary: Bool) {
        guard let node = nodes[id] else { throw .noEntry }
        prepareOpen(id)
        if let fid = nodes[id]!.openFid, !writing || nodes[id]!.openWritable { return (fid, false) }
        let flags = writing ? NineP.writeOnly : node.isDirectory ? NineP.readOnly | NineP.directory : NineP.readOnly
        return (try openFid(id, flags: flags), true)
    }

    // MARK: Bounds

    /// Forgets the least recently used half of the non-directory entries once past the limit.
    func trimFiles() {
        guard fileEntries > fileEntryLimit else { return }
        var candidates: [(lastUse: UInt64, id: NodeID)] = []
        for (id, node) in nodes where !node.isDirectory && node.retainCount == 0 && id != pendingCreate?.node {
            candidates.append((node.lastUse, id))
        }
        candidates.sort { $0.lastUse < $1.lastUse }
        // The newest few are the current operation's (and the limit is no use past the open files).
        let count = max(0, min(fileEntries - fileEntryLimit / 2, candidates.count - 8))
        for candidate in candidates.prefix(count) { forget(candidate.id) }
    }

    /// Keeps the cookie tables of open directories and of the four most recently listed others.
    func trimCookieTables() {
        var loose = 0
        var oldest: (id: NodeID, lastUse: UInt64)? = nil
        for (id, table) in cookieTables where (nodes[id]?.retainCount ?? 0) == 0 {
            loose += 1
            if oldest == nil || table.lastUse < oldest!.lastUse { oldest = (id, table.lastUse) }
        }
        if loose > 4, let oldest { cookieTables[oldest.id] = nil }
    }

    /// Keeps the fid Tlcreate opened, for the open(2) that created the file (the previous one is clunked).
    func keepCreated(_ id: NodeID, fid: UInt32) {
        if let pending = pendingCreate { client.clunk(pending.fid) }
        pendingCreate = (id, fid)
    }
}
