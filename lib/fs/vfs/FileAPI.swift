// FileAPI: the Swift face of the VFS for native apps — `File` (open, read, write, seek, stat, close)
// and whole-file and listing helpers — over the same descriptors the Linux system-call layer uses.
//
// A `File` is a descriptor and the VFS it belongs to; it is a value, so closing is explicit (`close()`),
// as with a file descriptor. Reads and writes loop until done or the end, so `readAll` and
// `write(_:)` move every byte or throw.

public struct File {
    public let fileSystem: VirtualFileSystem
    public let descriptor: Int32

    /// A `File` for a descriptor opened by other means.
    public init(fileSystem: VirtualFileSystem, descriptor: Int32) {
        self.fileSystem = fileSystem
        self.descriptor = descriptor
    }

    /// Opens `path` (`[.readWrite, .create]` and so on); `permissions` apply when it is created.
    public init(_ path: String, _ flags: OpenFlags = .readOnly, permissions: UInt32 = 0o666,
                in fileSystem: VirtualFileSystem) throws(FileError) {
        self.fileSystem = fileSystem
        descriptor = try fileSystem.open(Array(path.utf8), flags, permissions: permissions)
    }

    /// Up to `count` bytes from the offset; empty at the end.
    public func read(upTo count: Int) throws(FileError) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: FileError? = nil
        let read = bytes.withUnsafeMutableBytes { buffer -> Int in
            do throws(FileError) { return try fileSystem.read(descriptor, into: buffer) } catch { failure = error; return 0 }
        }
        if let failure { throw failure }
        bytes.removeSubrange(read...)
        return bytes
    }

    /// Everything from the offset to the end.
    public func readAll() throws(FileError) -> [UInt8] {
        var result: [UInt8] = []
        while true {
            let chunk = try read(upTo: 16 * 1024)
            if chunk.isEmpty { return result }
            result += chunk
        }
    }

    /// Writes all of `bytes` at the offset (the end, with O_APPEND).
    public func write(_ bytes: [UInt8]) throws(FileError) {
        var done = 0
        while done < bytes.count {
            var failure: FileError? = nil
            let count = bytes.withUnsafeBytes { buffer -> Int in
                do throws(FileError) { return try fileSystem.write(descriptor, UnsafeRawBufferPointer(rebasing: buffer[done...])) }
                catch { failure = error; return 0 }
            }
            if let failure { throw failure }
            guard count > 0 else { throw .noSpace }
            done += count
        }
    }

    public func write(_ text: String) throws(FileError) { try write(Array(text.utf8)) }

    @discardableResult
    public func seek(to offset: Int64, from origin: SeekOrigin = .start) throws(FileError) -> Int64 {
        try fileSystem.seek(descriptor, to: offset, from: origin)
    }

    public func status() throws(FileError) -> FileStatus { try fileSystem.status(descriptor) }
    public func truncate(to size: Int64) throws(FileError) { try fileSystem.truncate(descriptor, to: size) }
    public func sync() throws(FileError) { try fileSystem.sync(descriptor) }
    public func close() throws(FileError) { try fileSystem.close(descriptor) }
}

extension VirtualFileSystem {
    /// The names in a directory, without `.` and `..`, in listing order.
    public func list(_ path: String) throws(FileError) -> [DirectoryEntry] {
        let fd = try open(Array(path.utf8), [.directory])
        defer { try? close(fd) }
        var entries: [DirectoryEntry] = []
        while true {
            let page = try readDirectory(fd, limit: 64)
            if page.isEmpty { return entries }
            entries += page.filter { !Self.isDot($0.name) && !Self.isDotDot($0.name) }
        }
    }

    /// A whole file's bytes.
    public func contents(of path: String) throws(FileError) -> [UInt8] {
        try contents(of: Array(path.utf8))
    }

    /// A whole file's bytes, the path as bytes.
    public func contents(of path: [UInt8]) throws(FileError) -> [UInt8] {
        let file = File(fileSystem: self, descriptor: try open(path, .readOnly))
        defer { try? file.close() }
        return try file.readAll()
    }

    /// `contentsInPlace` with a String path: a file's bytes without a copy, when it still holds what
    /// the image's root file system brought; nil otherwise (read it with `contents(of:)`).
    public func contentsInPlace(_ path: String) throws(FileError) -> UnsafeRawBufferPointer? {
        try contentsInPlace(Array(path.utf8))
    }

    /// Replaces (or creates) a file with `bytes`.
    public func write(_ bytes: [UInt8], to path: String, permissions: UInt32 = 0o666) throws(FileError) {
        let file = try File(path, [.writeOnly, .create, .truncate], permissions: permissions, in: self)
        defer { try? file.close() }
        try file.write(bytes)
    }
}
