// RamFileSystem: a file system in memory (tmpfs): files, directories, symbolic links and device nodes,
// hard links, sparse writes, and a size limit.
//
// Nodes live in a dictionary by number; a file's bytes are 4 KiB pages allocated on first write
// (FileData: holes cost nothing and read as zeros, a full heap is ENOMEM rather than a panic). The
// size limit counts allocated pages (as tmpfs does), a symbolic link's
// target rounded to 512 bytes, plus 256 bytes per node and per directory entry, so a flood of empty
// files fills it too; a write or create that would pass it fails with ENOSPC and changes nothing.
// Files the root file system brought borrow their bytes from the image (`lend`, copy on write; see
// FileData) and are charged nothing until written; `st_blocks` counts their pages all the same.
//
// A directory keeps its names in a dictionary for lookup and their cookies in an append-only array for
// listing: cookies only grow, a removed name leaves a marked slot that listing skips (compacted when
// those outnumber names), so the array stays sorted and `readDirectory(after:)` is a binary search and
// a walk — stable across creates and unlinks, and linear in the size of the page, not the directory.
//
// Everyone is root: no permission checks (as for uid 0 on Linux). A node unlinked while open stays
// until the last open file releases it.

import VFS

public final class RamFileSystem: FileSystem {
    final class Node {
        var type: FileType
        var permissions: UInt32
        var userID: UInt32 = 0
        var groupID: UInt32 = 0
        var links: UInt32 = 1
        var openCount = 0
        var device: UInt64 = 0
        var accessTime: TimeSpec
        var modificationTime: TimeSpec
        var changeTime: TimeSpec
        var data = FileData()
        /// A symbolic link's target.
        var target: [UInt8] = []
        /// Directories: name → (node, cookie); every name ever created here in cookie order (a removed
        /// one stays, marked, until compaction).
        var names: [[UInt8]: (node: NodeID, cookie: UInt64)] = [:]
        var cookies: [(cookie: UInt64, name: [UInt8], live: Bool)] = []
        var removedCookies = 0
        var nextCookie: UInt64 = 3                     // 1 and 2 are . and ..
        var parent: NodeID = 0

        init(type: FileType, permissions: UInt32, now: TimeSpec) {
            self.type = type
            self.permissions = permissions
            accessTime = now
            modificationTime = now
            changeTime = now
        }
    }

    public let typeName: StaticString = "ramfs"
    public let rootNode: NodeID = 1
    public var isReadOnly = false
    /// The most bytes the file system may hold (0: no limit but the image's memory).
    public var limit: Int64
    public private(set) var usedBytes: Int64 = 0
    var nodes: [NodeID: Node] = [:]
    var nextNode: NodeID = 2
    let clock: () -> TimeSpec
    let pageSource: PageSource

    static let nodeCost: Int64 = 256
    static let entryCost: Int64 = 256

    public init(limit: Int64 = 0, pages: PageSource = .heap, clock: @escaping () -> TimeSpec = { TimeSpec() }) {
        self.limit = limit
        self.clock = clock
        pageSource = pages
        let root = Node(type: .directory, permissions: 0o755, now: clock())
        root.links = 2
        root.parent = 1
        nodes[1] = root
        usedBytes = Self.nodeCost
    }

    deinit {
        for (_, node) in nodes { node.data.release(source: pageSource) }
    }

    public var usage: FileSystemUsage {
        var usage = FileSystemUsage()
        usage.blockSize = 512
        usage.totalBytes = limit
        usage.usedBytes = usedBytes
        usage.usedNodes = Int64(nodes.count)
        return usage
    }

    static func blocks(_ size: Int) -> Int64 { (Int64(size) + 511) / 512 }

    func charge(_ bytes: Int64) throws(FileError) {
        if bytes > 0 && limit > 0 && usedBytes + bytes > limit { throw .noSpace }
        usedBytes += bytes
    }

    func node(_ id: NodeID) throws(FileError) -> Node {
        guard let node = nodes[id] else { throw .noEntry }
        return node
    }

    func directory(_ id: NodeID) throws(FileError) -> Node {
        let node = try node(id)
        guard node.type == .directory else { throw .notDirectory }
        return node
    }

    func writable() throws(FileError) {
        if isReadOnly { throw .readOnly }
    }

    func touch(_ node: Node, modified: Bool = true) {
        let now = clock()
        if modified { node.modificationTime = now }
        node.changeTime = now
    }

    // MARK: Names

    public func lookup(_ directory: NodeID, _ name: [UInt8]) throws(FileError) -> NodeID {
        let parent = try self.directory(directory)
        if name == [0x2E, 0x2E] { return parent.parent }
        guard let entry = parent.names[name] else { throw .noEntry }
        return entry.node
    }

    func insert(_ name: [UInt8], node id: NodeID, into parent: Node) {
        let cookie = parent.nextCookie
        parent.nextCookie += 1
        parent.names[name] = (id, cookie)
        parent.cookies.append((cookie, name, true))
        touch(parent)
    }

    func remove(_ name: [UInt8], from parent: Node) {
        guard let entry = parent.names.removeValue(forKey: name) else { return }
        let index = firstIndex(parent, after: entry.cookie - 1)
        if index < parent.cookies.count && parent.cookies[index].cookie == entry.cookie {
            parent.cookies[index].live = false
            parent.removedCookies += 1
        }
        if parent.removedCookies > 32 && parent.removedCookies > parent.names.count {
            parent.cookies.removeAll { !$0.live }
            parent.removedCookies = 0
        }
        usedBytes -= Self.entryCost
        touch(parent)
    }

    /// The first position in the (sorted) cookie array whose cookie is greater than `cookie`.
    func firstIndex(_ parent: Node, after cookie: UInt64) -> Int {
        var low = 0, high = parent.cookies.count
        while low < high {
            let middle = (low + high) / 2
            if parent.cookies[middle].cookie <= cookie { low = middle + 1 } else { high = middle }
        }
        return low
    }

    public func create(_ directory: NodeID, _ name: [UInt8], type: FileType, permissions: UInt32,
                       userID: UInt32, groupID: UInt32) throws(FileError) -> NodeID {
        try writable()
        let parent = try self.directory(directory)
        guard parent.names[name] == nil else { throw .exists }
        try charge(Self.nodeCost + Self.entryCost)
        let node = Node(type: type, permissions: permissions & 0o7777, now: clock())
        node.userID = userID
        node.groupID = groupID
        let id = nextNode
        nextNode += 1
        if type == .directory {
            node.links = 2
            node.parent = directory
            parent.links += 1
        }
        nodes[id] = node
        insert(name, node: id, into: parent)
        return id
    }

    public func createSymbolicLink(_ directory: NodeID, _ name: [UInt8], target: [UInt8]) throws(FileError) -> NodeID {
        try writable()
        let parent = try self.directory(directory)
        guard parent.names[name] == nil else { throw .exists }
        try charge(Self.nodeCost + Self.entryCost + Self.blocks(target.count) * 512)
        let node = Node(type: .symbolicLink, permissions: 0o777, now: clock())
        node.target = target
        let id = nextNode
        nextNode += 1
        nodes[id] = node
        insert(name, node: id, into: parent)
        return id
    }

    public func link(_ id: NodeID, into directory: NodeID, as name: [UInt8]) throws(FileError) {
        try writable()
        let node = try self.node(id)
        guard node.type != .directory else { throw .notPermitted }
        let parent = try self.directory(directory)
        guard parent.names[name] == nil else { throw .exists }
        guard node.links < 65000 else { throw .tooManyLinks }
        try charge(Self.entryCost)
        node.links += 1
        touch(node, modified: false)
        insert(name, node: id, into: parent)
    }

    public func unlink(_ directory: NodeID, _ name: [UInt8]) throws(FileError) {
        try writable()
        let parent = try self.directory(directory)
        guard let id = parent.names[name]?.node, let node = nodes[id] else { throw .noEntry }
        guard node.type != .directory else { throw .isDirectory }
        remove(name, from: parent)
        node.links -= 1
        touch(node, modified: false)
        dropIfUnused(id, node)
    }

    public func removeDirectory(_ directory: NodeID, _ name: [UInt8]) throws(FileError) {
        try writable()
        let parent = try self.directory(directory)
        guard let id = parent.names[name]?.node, let node = nodes[id] else { throw .noEntry }
        guard node.type == .directory else { throw .notDirectory }
        guard node.names.isEmpty else { throw .notEmpty }
        remove(name, from: parent)
        parent.links -= 1
        node.links = 0
        dropIfUnused(id, node)
    }

    func dropIfUnused(_ id: NodeID, _ node: Node) {
        guard node.links == 0 && node.openCount == 0 else { return }
        usedBytes -= Self.nodeCost + node.data.chargedBytes + Self.blocks(node.target.count) * 512
        node.data.release(source: pageSource)
        nodes[id] = nil
    }

    public func rename(_ directory: NodeID, _ name: [UInt8], to newDirectory: NodeID, _ newName: [UInt8]) throws(FileError) {
        try writable()
        let parent = try self.directory(directory)
        let newParent = try self.directory(newDirectory)
        guard let id = parent.names[name]?.node, let node = nodes[id] else { throw .noEntry }
        if node.type == .directory {
            // Not into itself or its own subtree (rename(2): EINVAL).
            var ancestor = newDirectory
            while true {
                if ancestor == id { throw .invalid }
                if ancestor == rootNode { break }
                ancestor = try self.node(ancestor).parent
            }
        }
        if let existing = newParent.names[newName]?.node {
            if existing == id { return }                       // the same file under both names: nothing to do
            let target = try self.node(existing)
            if node.type == .directory {
                guard target.type == .directory else { throw .notDirectory }
                guard target.names.isEmpty else { throw .notEmpty }
                remove(newName, from: newParent)
                newParent.links -= 1
                target.links = 0
                dropIfUnused(existing, target)
            } else {
                guard target.type != .directory else { throw .isDirectory }
                remove(newName, from: newParent)
                target.links -= 1
                touch(target, modified: false)
                dropIfUnused(existing, target)
            }
        }
        // The entry moves: its charge moves with it.
        remove(name, from: parent)
        usedBytes += Self.entryCost
        insert(newName, node: id, into: newParent)
        if node.type == .directory && directory != newDirectory {
            parent.links -= 1
            newParent.links += 1
            node.parent = newDirectory
        }
        touch(node, modified: false)
    }

    public func readSymbolicLink(_ id: NodeID) throws(FileError) -> [UInt8] {
        let node = try self.node(id)
        guard node.type == .symbolicLink else { throw .invalid }
        return node.target
    }

    // MARK: Data

    public func status(_ id: NodeID) throws(FileError) -> FileStatus {
        let node = try self.node(id)
        var status = FileStatus()
        status.inode = id
        status.mode = node.type.rawValue | node.permissions
        status.linkCount = node.links
        status.userID = node.userID
        status.groupID = node.groupID
        status.representedDevice = node.device
        switch node.type {
        case .directory:
            status.size = 4096
            status.blocks = 8
        case .symbolicLink:
            status.size = Int64(node.target.count)
            status.blocks = 0                               // a short link lives in the inode, as on tmpfs
        default:
            status.size = Int64(node.data.size)
            status.blocks = Int64(node.data.presentPages * (FileData.pageSize / 512))
        }
        status.accessTime = node.accessTime
        status.modificationTime = node.modificationTime
        status.changeTime = node.changeTime
        return status
    }

    public func read(_ id: NodeID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        let node = try self.node(id)
        guard node.type != .directory else { throw .isDirectory }
        guard offset >= 0 else { throw .invalid }
        guard offset < Int64(node.data.size) else { return 0 }
        return node.data.read(at: Int(offset), into: buffer)
    }

    public func write(_ id: NodeID, at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        try writable()
        let node = try self.node(id)
        guard node.type != .directory else { throw .isDirectory }
        guard offset >= 0 else { throw .invalid }
        guard !bytes.isEmpty else { return 0 }
        let (end, overflow) = offset.addingReportingOverflow(Int64(bytes.count))
        guard !overflow, end <= Int64(Int32.max) * 64 else { throw .fileTooBig }
        let needed = Int64(node.data.pagesNeeded(at: Int(offset), count: bytes.count) * FileData.pageSize)
        try charge(needed)
        do {
            try node.data.write(at: Int(offset), bytes, source: pageSource)
        } catch {
            usedBytes -= needed
            throw error
        }
        touch(node)
        return bytes.count
    }

    public func lend(_ id: NodeID, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isReadOnly, let node = nodes[id], node.type == .regular, node.data.size == 0,
              bytes.count <= Int(Int32.max) * 64 else { return false }
        node.data.borrow(bytes)
        return true
    }

    public func lentContents(_ id: NodeID) -> UnsafeRawBufferPointer? {
        guard let node = nodes[id], node.type == .regular else { return nil }
        return node.data.lentContents
    }

    public func truncate(_ id: NodeID, to size: Int64) throws(FileError) {
        try writable()
        let node = try self.node(id)
        guard node.type != .directory else { throw .isDirectory }
        guard node.type == .regular else { throw .invalid }
        guard size >= 0 else { throw .invalid }
        guard size <= Int64(Int32.max) * 64 else { throw .fileTooBig }
        let released = node.data.truncate(to: Int(size), source: pageSource)
        usedBytes -= Int64(released * FileData.pageSize)
        touch(node)
    }

    public func setAttributes(_ id: NodeID, permissions: UInt32?, userID: UInt32?, groupID: UInt32?,
                              accessTime: TimeSpec?, modificationTime: TimeSpec?) throws(FileError) {
        try writable()
        let node = try self.node(id)
        if let permissions { node.permissions = permissions & 0o7777 }
        if let userID { node.userID = userID }
        if let groupID { node.groupID = groupID }
        if let accessTime { node.accessTime = accessTime }
        if let modificationTime { node.modificationTime = modificationTime }
        node.changeTime = clock()
    }

    public func readDirectory(_ directory: NodeID, after cookie: UInt64, limit: Int) throws(FileError) -> [DirectoryEntry] {
        let parent = try self.directory(directory)
        var entries: [DirectoryEntry] = []
        var index = firstIndex(parent, after: cookie)
        while index < parent.cookies.count && entries.count < limit {
            let slot = parent.cookies[index]
            index += 1
            guard slot.live, let entry = parent.names[slot.name], let node = nodes[entry.node] else { continue }
            entries.append(DirectoryEntry(name: slot.name, node: entry.node, type: node.type, cookie: slot.cookie))
        }
        return entries
    }

    public func retained(_ id: NodeID) {
        nodes[id]?.openCount += 1
    }

    public func released(_ id: NodeID) {
        guard let node = nodes[id] else { return }
        node.openCount -= 1
        dropIfUnused(id, node)
    }

    public func setDevice(_ id: NodeID, _ device: UInt64) throws(FileError) {
        try self.node(id).device = device
    }
}
