// DeviceFileSystem: /dev — the character devices Linux programs expect, with Linux's device numbers.
//
//     null     1:3   reads end at once, writes succeed and vanish
//     zero     1:5   reads give zeros, writes vanish
//     full     1:7   reads give zeros, writes fail with ENOSPC
//     random   1:8   reads give random bytes (the kernel's generator; they never block, as since Linux 5.6)
//     urandom  1:9   the same
//     tty      5:0   the console
//     console  5:1   reads what was typed (nothing if nothing waits: it never blocks), writes print
//     stdin, stdout, stderr, fd   links to /proc/self/fd/0, 1, 2 and /proc/self/fd, as udev makes them
//
// The tree is fixed: creating, removing or renaming in /dev is EPERM (Linux's devtmpfs would allow
// it; nothing Tessera runs needs it yet). Permission bits can be changed (chmod), as on Linux.
// The console and the random source are closures, so the file system is pure logic and host-tested.

import VFS

public final class DeviceFileSystem: FileSystem {
    public struct Device {
        public let name: [UInt8]
        public let type: FileType
        public let major: UInt64
        public let minor: UInt64
        public var permissions: UInt32
        public let target: [UInt8]
    }

    public let typeName: StaticString = "devtmpfs"
    public let rootNode: NodeID = 1
    public let isReadOnly = false
    public var usage: FileSystemUsage { FileSystemUsage() }

    var devices: [Device]
    let readConsole: (UnsafeMutableRawBufferPointer) -> Int
    let writeConsole: (UnsafeRawBufferPointer) -> Void
    let random: (UnsafeMutableRawBufferPointer) -> Void
    let created: TimeSpec

    /// `readConsole` copies typed bytes into the buffer and returns how many (0: none waiting);
    /// `random` fills a buffer with random bytes.
    public init(readConsole: @escaping (UnsafeMutableRawBufferPointer) -> Int,
                writeConsole: @escaping (UnsafeRawBufferPointer) -> Void,
                random: @escaping (UnsafeMutableRawBufferPointer) -> Void, now: TimeSpec = TimeSpec()) {
        self.readConsole = readConsole
        self.writeConsole = writeConsole
        self.random = random
        created = now
        func character(_ name: String, _ major: UInt64, _ minor: UInt64, _ permissions: UInt32) -> Device {
            Device(name: Array(name.utf8), type: .characterDevice, major: major, minor: minor, permissions: permissions, target: [])
        }
        func link(_ name: String, _ target: String) -> Device {
            Device(name: Array(name.utf8), type: .symbolicLink, major: 0, minor: 0, permissions: 0o777, target: Array(target.utf8))
        }
        devices = [character("null", 1, 3, 0o666), character("zero", 1, 5, 0o666), character("full", 1, 7, 0o666),
                   character("random", 1, 8, 0o666), character("urandom", 1, 9, 0o666), character("tty", 5, 0, 0o666),
                   character("console", 5, 1, 0o600), link("stdin", "/proc/self/fd/0"), link("stdout", "/proc/self/fd/1"),
                   link("stderr", "/proc/self/fd/2"), link("fd", "/proc/self/fd")]
    }

    /// Node 1 is the directory; device `i` is node `i + 2`.
    func device(_ node: NodeID) throws(FileError) -> Int {
        guard node >= 2, Int(node - 2) < devices.count else { throw .noEntry }
        return Int(node - 2)
    }

    public func lookup(_ directory: NodeID, _ name: [UInt8]) throws(FileError) -> NodeID {
        guard directory == rootNode else { throw .notDirectory }
        if name == [0x2E, 0x2E] { return rootNode }
        guard let index = devices.firstIndex(where: { $0.name == name }) else { throw .noEntry }
        return NodeID(index + 2)
    }

    public func status(_ node: NodeID) throws(FileError) -> FileStatus {
        var status = FileStatus()
        status.inode = node
        status.accessTime = created
        status.modificationTime = created
        status.changeTime = created
        if node == rootNode {
            status.mode = FileType.directory.rawValue | 0o755
            status.linkCount = 2
            status.size = Int64(devices.count * 20)
            return status
        }
        let device = devices[try self.device(node)]
        status.mode = device.type.rawValue | device.permissions
        if device.type == .symbolicLink {
            status.size = Int64(device.target.count)
        } else {
            // Linux's dev_t encoding (makedev).
            status.representedDevice = (device.minor & 0xFF) | (device.major & 0xFFF) << 8
            status.blockSize = 4096
        }
        return status
    }

    public func create(_ directory: NodeID, _ name: [UInt8], type: FileType, permissions: UInt32,
                       userID: UInt32, groupID: UInt32) throws(FileError) -> NodeID { throw .notPermitted }
    public func createSymbolicLink(_ directory: NodeID, _ name: [UInt8], target: [UInt8]) throws(FileError) -> NodeID { throw .notPermitted }
    public func link(_ node: NodeID, into directory: NodeID, as name: [UInt8]) throws(FileError) { throw .notPermitted }
    public func unlink(_ directory: NodeID, _ name: [UInt8]) throws(FileError) { throw .notPermitted }
    public func removeDirectory(_ directory: NodeID, _ name: [UInt8]) throws(FileError) { throw .notPermitted }
    public func rename(_ directory: NodeID, _ name: [UInt8], to newDirectory: NodeID, _ newName: [UInt8]) throws(FileError) {
        throw .notPermitted
    }

    public func readSymbolicLink(_ node: NodeID) throws(FileError) -> [UInt8] {
        guard node != rootNode else { throw .invalid }
        let device = devices[try self.device(node)]
        guard device.type == .symbolicLink else { throw .invalid }
        return device.target
    }

    public func read(_ node: NodeID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        guard node != rootNode else { throw .isDirectory }
        switch devices[try device(node)].name {
        case Array("null".utf8): return 0
        case Array("zero".utf8), Array("full".utf8):
            if let base = buffer.baseAddress { base.initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count) }
            return buffer.count
        case Array("random".utf8), Array("urandom".utf8):
            random(buffer)
            return buffer.count
        case Array("console".utf8), Array("tty".utf8): return readConsole(buffer)
        default: throw .invalid
        }
    }

    public func write(_ node: NodeID, at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        guard node != rootNode else { throw .isDirectory }
        switch devices[try device(node)].name {
        case Array("full".utf8): throw .noSpace
        case Array("console".utf8), Array("tty".utf8): writeConsole(bytes)
        default: break                                   // null, zero, random: accepted and dropped
        }
        return bytes.count
    }

    public func truncate(_ node: NodeID, to size: Int64) throws(FileError) {
        guard node != rootNode else { throw .isDirectory }
        // O_TRUNC on a character device is ignored, as on Linux.
    }

    public func setAttributes(_ node: NodeID, permissions: UInt32?, userID: UInt32?, groupID: UInt32?,
                              accessTime: TimeSpec?, modificationTime: TimeSpec?) throws(FileError) {
        guard node != rootNode else { return }
        let index = try device(node)
        if let permissions, devices[index].type != .symbolicLink { devices[index].permissions = permissions & 0o7777 }
    }

    public func readDirectory(_ directory: NodeID, after cookie: UInt64, limit: Int) throws(FileError) -> [DirectoryEntry] {
        guard directory == rootNode else { throw .notDirectory }
        return directoryPage(devices.indices.map { (devices[$0].name, NodeID($0 + 2), devices[$0].type) }, after: cookie, limit: limit)
    }
}
