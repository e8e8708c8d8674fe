// ProcessFileSystem: /proc, as much of it as Linux programs commonly read.
//
//     /proc/meminfo       MemTotal, MemFree, MemAvailable, Buffers, Cached, SwapTotal, SwapFree (kB)
//     /proc/cpuinfo       the lines glibc's get_nprocs and runtimes look for, from `cpuInfo`
//     /proc/uptime        seconds since boot and idle seconds, two decimals, as Linux writes them
//     /proc/self          a link to "1": the image is process 1
//     /proc/1/exe         a link to the program's path
//     /proc/1/cmdline     the arguments, each ending with NUL
//     /proc/1/fd/N        one link per open descriptor, to the file's path
//
// Files are generated when read (stat says size 0, as procfs does) and sliced at the offset, so a
// reader that reads in pieces sees one consistent text per open only if it reads quickly enough —
// the same promise Linux's simple procfs files make. Everything is read-only: writes are EACCES,
// creating or removing EACCES / EPERM as on Linux. The sources are closures, so the file system is
// pure logic and host-tested. `descriptors` is called while the VFS holds its lock, so it must not
// call back into the locking VFS API (the files library passes the VFS's `descriptorPathsLocked`).

import VFS

public struct ProcessSources {
    public var memory: () -> (total: Int, free: Int, available: Int)
    public var uptime: () -> (nanoseconds: UInt64, idleNanoseconds: UInt64)
    public var cpuInfo: () -> [UInt8]
    public var executable: [UInt8]
    public var arguments: [[UInt8]]
    public var descriptors: () -> [(fd: Int32, path: [UInt8])]

    public init(memory: @escaping () -> (total: Int, free: Int, available: Int),
                uptime: @escaping () -> (nanoseconds: UInt64, idleNanoseconds: UInt64),
                cpuInfo: @escaping () -> [UInt8], executable: [UInt8], arguments: [[UInt8]],
                descriptors: @escaping () -> [(fd: Int32, path: [UInt8])]) {
        self.memory = memory
        self.uptime = uptime
        self.cpuInfo = cpuInfo
        self.executable = executable
        self.arguments = arguments
        self.descriptors = descriptors
    }
}

public final class ProcessFileSystem: FileSystem {
    public let typeName: StaticString = "proc"
    public let rootNode: NodeID = 1
    public let isReadOnly = false
    public var usage: FileSystemUsage { FileSystemUsage() }
    let sources: ProcessSources

    // Fixed nodes; descriptor links are `fdBase + fd`.
    static let process: NodeID = 2, meminfo: NodeID = 3, cpuinfo: NodeID = 4, uptime: NodeID = 5
    static let selfLink: NodeID = 6, exe: NodeID = 7, cmdline: NodeID = 8, fdDirectory: NodeID = 9
    static let fdBase: NodeID = 1 << 20

    public init(sources: ProcessSources) {
        self.sources = sources
    }

    /// (name, node, type) of a directory's children.
    func children(_ directory: NodeID) throws(FileError) -> [([UInt8], NodeID, FileType)] {
        switch directory {
        case rootNode:
            return [(Array("1".utf8), Self.process, .directory), (Array("cpuinfo".utf8), Self.cpuinfo, .regular),
                    (Array("meminfo".utf8), Self.meminfo, .regular), (Array("self".utf8), Self.selfLink, .symbolicLink),
                    (Array("uptime".utf8), Self.uptime, .regular)]
        case Self.process:
            return [(Array("cmdline".utf8), Self.cmdline, .regular), (Array("exe".utf8), Self.exe, .symbolicLink),
                    (Array("fd".utf8), Self.fdDirectory, .directory)]
        case Self.fdDirectory:
            return sources.descriptors().map { (decimal(Int($0.fd)), Self.fdBase + NodeID($0.fd), .symbolicLink) }
        default:
            _ = try type(of: directory)
            throw .notDirectory
        }
    }

    func type(of node: NodeID) throws(FileError) -> FileType {
        switch node {
        case rootNode, Self.process, Self.fdDirectory: return .directory
        case Self.meminfo, Self.cpuinfo, Self.uptime, Self.cmdline: return .regular
        case Self.selfLink, Self.exe: return .symbolicLink
        default:
            guard node >= Self.fdBase, sources.descriptors().contains(where: { Self.fdBase + NodeID($0.fd) == node }) else { throw .noEntry }
            return .symbolicLink
        }
    }

    public func lookup(_ directory: NodeID, _ name: [UInt8]) throws(FileError) -> NodeID {
        if name == [0x2E, 0x2E] {
            switch directory {
            case Self.fdDirectory: return Self.process
            default: return rootNode
            }
        }
        guard let child = try children(directory).first(where: { $0.0 == name }) else { throw .noEntry }
        return child.1
    }

    public func status(_ node: NodeID) throws(FileError) -> FileStatus {
        let type = try type(of: node)
        var status = FileStatus()
        status.inode = node
        switch type {
        case .directory:
            status.mode = type.rawValue | 0o555
            status.linkCount = 2
        case .symbolicLink:
            status.mode = type.rawValue | 0o777
            status.size = Int64((try? readSymbolicLink(node))?.count ?? 0)
        default:
            status.mode = type.rawValue | (node == Self.cmdline ? 0o444 : 0o444)
            status.blockSize = 1024
        }
        return status
    }

    public func create(_ directory: NodeID, _ name: [UInt8], type: FileType, permissions: UInt32,
                       userID: UInt32, groupID: UInt32) throws(FileError) -> NodeID { throw .accessDenied }
    public func createSymbolicLink(_ directory: NodeID, _ name: [UInt8], target: [UInt8]) throws(FileError) -> NodeID { throw .accessDenied }
    public func link(_ node: NodeID, into directory: NodeID, as name: [UInt8]) throws(FileError) { throw .accessDenied }
    public func unlink(_ directory: NodeID, _ name: [UInt8]) throws(FileError) { throw .accessDenied }
    public func removeDirectory(_ directory: NodeID, _ name: [UInt8]) throws(FileError) { throw .accessDenied }
    public func rename(_ directory: NodeID, _ name: [UInt8], to newDirectory: NodeID, _ newName: [UInt8]) throws(FileError) {
        throw .accessDenied
    }
    public func truncate(_ node: NodeID, to size: Int64) throws(FileError) { throw .accessDenied }
    public func setAttributes(_ node: NodeID, permissions: UInt32?, userID: UInt32?, groupID: UInt32?,
                              accessTime: TimeSpec?, modificationTime: TimeSpec?) throws(FileError) { throw .notPermitted }

    public func readSymbolicLink(_ node: NodeID) throws(FileError) -> [UInt8] {
        switch node {
        case Self.selfLink: return Array("1".utf8)
        case Self.exe: return sources.executable
        default:
            guard node >= Self.fdBase, let entry = sources.descriptors().first(where: { Self.fdBase + NodeID($0.fd) == node }) else {
                throw .invalid
            }
            return entry.path
        }
    }

    /// The text of a generated file.
    func contents(_ node: NodeID) throws(FileError) -> [UInt8] {
        switch node {
        case Self.meminfo:
            let memory = sources.memory()
            var text: [UInt8] = []
            for (name, value) in [("MemTotal:", memory.total), ("MemFree:", memory.free), ("MemAvailable:", memory.available),
                                  ("Buffers:", 0), ("Cached:", 0), ("SwapCached:", 0), ("SwapTotal:", 0), ("SwapFree:", 0)] {
                text += Array(name.utf8)
                let number = decimal(value / 1024)
                // Linux pads the name and the number to 16 + 8 columns: "MemTotal:        8048576 kB".
                text += [UInt8](repeating: 0x20, count: max(1, 24 - name.utf8.count - number.count)) + number
                text += Array(" kB\n".utf8)
            }
            return text
        case Self.cpuinfo: return sources.cpuInfo()
        case Self.uptime:
            let uptime = sources.uptime()
            return centiseconds(uptime.nanoseconds) + [0x20] + centiseconds(uptime.idleNanoseconds) + [0x0A]
        case Self.cmdline:
            var text: [UInt8] = []
            for argument in sources.arguments { text += argument + [0] }
            return text
        default:
            if try type(of: node) == .directory { throw .isDirectory }
            throw .invalid
        }
    }

    public func read(_ node: NodeID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        let text = try contents(node)
        guard offset < Int64(text.count), buffer.count > 0 else { return 0 }
        let start = Int(offset), count = min(buffer.count, text.count - start)
        text.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
        return count
    }

    public func write(_ node: NodeID, at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        _ = try type(of: node)
        throw .accessDenied
    }

    public func readDirectory(_ directory: NodeID, after cookie: UInt64, limit: Int) throws(FileError) -> [DirectoryEntry] {
        directoryPage(try children(directory).map { ($0.0, $0.1, $0.2) }, after: cookie, limit: limit)
    }
}

func decimal(_ value: Int) -> [UInt8] {
    if value == 0 { return [0x30] }
    var digits: [UInt8] = []
    var rest = value < 0 ? -value : value
    while rest > 0 {
        digits.insert(UInt8(0x30 + rest % 10), at: 0)
        rest /= 10
    }
    return value < 0 ? [0x2D] + digits : digits
}

/// Nanoseconds as seconds with two decimals ("12.34"), as /proc/uptime writes them.
func centiseconds(_ nanoseconds: UInt64) -> [UInt8] {
    let hundredths = nanoseconds / 10_000_000
    let fraction = Int(hundredths % 100)
    return decimal(Int(hundredths / 100)) + [0x2E, UInt8(0x30 + fraction / 10), UInt8(0x30 + fraction % 10)]
}
