// FileIO: what is done through a descriptor — read(2), write(2), pread/pwrite, lseek(2), fstat,
// ftruncate, fsync, and getdents-style directory listing.
//
// Checks follow Linux: reading a write-only descriptor (or writing a read-only one, or an O_PATH one)
// is EBADF; reading a directory is EISDIR; a negative position is EINVAL; O_APPEND writes at the end
// whatever the offset, and pwrite on an O_APPEND file appends too (Linux's documented deviation from
// POSIX). Offsets move by what was transferred. lseek may go past the end (a later write leaves a
// hole) but not before the start; SEEK_END is from the current size.

extension VirtualFileSystem {
    func readable(_ file: OpenFile) throws(FileError) {
        guard file.flags.canRead, !file.flags.contains(.path) else { throw .badDescriptor }
        if file.type == .directory { throw .isDirectory }
    }

    func writableFile(_ file: OpenFile) throws(FileError) {
        guard file.flags.canWrite, !file.flags.contains(.path) else { throw .badDescriptor }
    }

    /// read(2): up to `buffer.count` bytes from the offset, which advances.
    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            try readable(file)
            let count = try fileSystem(file.location).read(file.location.node, at: file.offset, into: buffer)
            file.offset += Int64(count)
            return count
        }
    }

    /// pread(2): from `offset`, leaving the descriptor's offset alone.
    public func read(_ fd: Int32, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(FileError) -> Int {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            try readable(file)
            if file.type == .fifo || file.type == .socket { throw .illegalSeek }
            guard offset >= 0 else { throw .invalid }
            return try fileSystem(file.location).read(file.location.node, at: offset, into: buffer)
        }
    }

    /// write(2): at the offset (at the end with O_APPEND), which advances.
    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            try writableFile(file)
            let fileSystem = fileSystem(file.location)
            if file.flags.contains(.append) { file.offset = try fileSystem.status(file.location.node).size }
            let count = try fileSystem.write(file.location.node, at: file.offset, bytes)
            file.offset += Int64(count)
            return count
        }
    }

    /// pwrite(2): at `offset` (at the end with O_APPEND, as Linux does), leaving the offset alone.
    public func write(_ fd: Int32, at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(FileError) -> Int {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            try writableFile(file)
            if file.type == .fifo || file.type == .socket { throw .illegalSeek }
            guard offset >= 0 else { throw .invalid }
            let fileSystem = fileSystem(file.location)
            let position = file.flags.contains(.append) ? try fileSystem.status(file.location.node).size : offset
            return try fileSystem.write(file.location.node, at: position, bytes)
        }
    }

    /// lseek(2): the new offset. For a directory only SEEK_SET to a position a listing returned.
    public func seek(_ fd: Int32, to offset: Int64, from origin: SeekOrigin) throws(FileError) -> Int64 {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            if file.type == .fifo || file.type == .socket { throw .illegalSeek }
            if file.flags.contains(.path) { throw .badDescriptor }
            let base: Int64
            switch origin {
            case .start: base = 0
            case .current: base = file.offset
            case .end:
                guard file.type != .directory else { throw .invalid }
                base = try fileSystem(file.location).status(file.location.node).size
            }
            let (position, overflow) = base.addingReportingOverflow(offset)
            guard !overflow else { throw .overflow }
            guard position >= 0 else { throw .invalid }
            file.offset = position
            return position
        }
    }

    /// fstat(2).
    public func status(_ fd: Int32) throws(FileError) -> FileStatus {
        try locked { () throws(FileError) in try status(try descriptor(fd).file.location) }
    }

    /// ftruncate(2): the file must be open for writing (else EINVAL, as Linux says for fds).
    public func truncate(_ fd: Int32, to size: Int64) throws(FileError) {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            if file.flags.contains(.path) { throw .badDescriptor }
            guard file.flags.canWrite, file.type == .regular else { throw .invalid }
            guard size >= 0 else { throw .invalid }
            try writable(file.location)
            try fileSystem(file.location).truncate(file.location.node, to: size)
        }
    }

    /// fsync(2)/fdatasync(2).
    public func sync(_ fd: Int32) throws(FileError) {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            if file.flags.contains(.path) { throw .badDescriptor }
            try fileSystem(file.location).sync(file.location.node)
        }
    }

    /// getdents: up to `limit` entries after the offset (`.` and `..` first), advancing the offset to
    /// the last one's cookie. Empty at the end. ENOTDIR unless `fd` is a directory.
    public func readDirectory(_ fd: Int32, limit: Int = 64) throws(FileError) -> [DirectoryEntry] {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            if file.flags.contains(.path) { throw .badDescriptor }
            guard file.type == .directory else { throw .notDirectory }
            guard limit > 0 else { throw .invalid }
            var entries: [DirectoryEntry] = []
            let location = file.location
            if file.offset < 1 {
                entries.append(DirectoryEntry(name: [0x2E], node: location.node, type: .directory, cookie: 1))
            }
            if file.offset < 2 && entries.count < limit {
                let up = try parent(of: location)
                let node = try fileSystem(up).status(up.node).inode
                entries.append(DirectoryEntry(name: [0x2E, 0x2E], node: node, type: .directory, cookie: 2))
            }
            if entries.count < limit {
                // A mount point lists as the mounted root's node, as stat on it would say.
                var page = try fileSystem(location).readDirectory(location.node, after: UInt64(max(file.offset, 2)),
                                                                  limit: limit - entries.count)
                for index in page.indices {
                    let child = Location(mount: location.mount, node: page[index].node)
                    if let mounted = mountedOn[child] { page[index].node = mounts[mounted]!.fileSystem.rootNode }
                }
                entries += page
            }
            if let last = entries.last { file.offset = Int64(last.cookie) }
            return entries
        }
    }
}
