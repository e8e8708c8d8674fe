// OpenFiles: the descriptor table and open-file descriptions — open(2), read/write and their
// positioned forms, lseek, getdents-style listing, dup, fstat, ftruncate, fsync, close.
//
// An open-file description (`OpenFile`) holds what open(2) created: the location, the access mode and
// status flags, and the offset. Descriptors are small integers that point at descriptions; `dup` makes
// a second descriptor for the same description (shared offset), as on Linux, and only the
// description's last descriptor to close releases the node (a file unlinked while open lives until
// then). Close-on-exec belongs to the descriptor, not the description.
//
// open(2) is resolved here rather than by `resolve`, because the last name may be created: the parent
// is walked, the last name looked up, and a symbolic link at the end followed (its target resolved
// from the link's directory, counting toward the same 40-link limit) unless O_NOFOLLOW (ELOOP) or
// O_CREAT|O_EXCL (EEXIST; the link is never followed) say otherwise. A dangling link with O_CREAT
// creates its target, as Linux does.
//
// A directory's offset is the cookie of the last entry returned: 0 at the start, 1 after `.`, 2 after
// `..`, then the file system's own cookies, so a saved offset (telldir) resumes where it left off.

/// What one open(2) created.
public final class OpenFile {
    public let location: Location
    public internal(set) var flags: OpenFlags
    public internal(set) var offset: Int64 = 0
    /// The absolute path it was opened by, symbolic links resolved (what /proc/self/fd/N shows).
    public internal(set) var path: [UInt8] = []
    /// Descriptors pointing here.
    var references = 1
    let type: FileType

    init(location: Location, flags: OpenFlags, type: FileType) {
        self.location = location
        self.flags = flags
        self.type = type
    }
}

struct Descriptor {
    var file: OpenFile
    var closeOnExec: Bool
}

extension VirtualFileSystem {
    /// The descriptor `fd` names, or EBADF.
    func descriptor(_ fd: Int32) throws(FileError) -> Descriptor {
        guard fd >= 0, Int(fd) < descriptors.count, let descriptor = descriptors[Int(fd)] else { throw .badDescriptor }
        return descriptor
    }

    /// The lowest free descriptor number at or above `minimum` (Linux's rule), or EMFILE.
    func install(_ file: OpenFile, closeOnExec: Bool, minimum: Int = 0) throws(FileError) -> Int32 {
        var index = minimum
        while index < descriptors.count && descriptors[index] != nil { index += 1 }
        guard index < maximumDescriptors else { throw .tooManyOpenFiles }
        while descriptors.count <= index { descriptors.append(nil) }
        descriptors[index] = Descriptor(file: file, closeOnExec: closeOnExec)
        return Int32(index)
    }

    /// The base a relative path starts from: the working directory, or the directory `fd` names
    /// (the *at system calls; nil stands for AT_FDCWD).
    func base(_ fd: Int32?) throws(FileError) -> Location {
        guard let fd else { return workingDirectory }
        let file = try descriptor(fd).file
        guard file.type == .directory else { throw .notDirectory }
        return file.location
    }

    // MARK: open and close

    /// open(2)/openat(2): returns the new descriptor.
    public func open(_ path: [UInt8], _ flags: OpenFlags, permissions: UInt32 = 0o666,
                     relativeTo directory: Int32? = nil) throws(FileError) -> Int32 {
        try locked { () throws(FileError) in
            // Linux 6.4 and later refuse O_CREAT|O_DIRECTORY outright.
            if flags.contains(.create) && flags.contains(.directory) { throw .invalid }
            var path = path
            var start = try base(directory)
            var links = 0
            var location: Location
            var created = false
            var named: (parent: Location, name: [UInt8])? = nil
            while true {
                let (parent, name, trailingSlash) = try resolveParent(path, from: start)
                if name.isEmpty || Self.isDot(name) || Self.isDotDot(name) {
                    // "/", "." or "..": an existing directory.
                    location = name.isEmpty ? parent : try resolve(path, follow: true, from: start)
                    break
                }
                if flags.contains(.create) && trailingSlash { throw .isDirectory }   // O_CREAT never makes a directory
                let existing: Location?
                do throws(FileError) { existing = try child(parent, name) } catch .noEntry { existing = nil }
                guard let existing else {
                    guard flags.contains(.create) else { throw .noEntry }
                    if trailingSlash { throw .isDirectory }
                    try writable(parent)
                    let node = try fileSystem(parent).create(parent.node, name, type: .regular,
                                                             permissions: permissions & ~umask, userID: 0, groupID: 0)
                    location = Location(mount: parent.mount, node: node)
                    created = true
                    named = (parent, name)
                    break
                }
                if flags.contains(.create) && flags.contains(.exclusive) { throw .exists }
                let status = try self.status(existing)
                if status.type == .symbolicLink && (trailingSlash || !flags.contains(.noFollow)) {
                    links += 1
                    guard links <= Self.maximumSymbolicLinks else { throw .loop }
                    let target = try fileSystem(existing).readSymbolicLink(existing.node)
                    guard !target.isEmpty else { throw .noEntry }
                    path = trailingSlash ? target + [0x2F] : target
                    start = parent
                    continue
                }
                if status.type == .symbolicLink && !flags.contains(.path) { throw .loop }   // O_NOFOLLOW
                if trailingSlash && status.type != .directory { throw .notDirectory }
                location = existing
                named = (parent, name)
                break
            }
            let type = try status(location).type ?? .regular
            if flags.contains(.create) && flags.contains(.exclusive) && !created { throw .exists }
            if flags.contains(.create) && type == .directory { throw .isDirectory }
            if flags.contains(.directory) && type != .directory { throw .notDirectory }
            if type == .directory && (flags.canWrite || flags.contains(.truncate)) && !flags.contains(.path) {
                throw .isDirectory
            }
            if flags.canWrite || (flags.contains(.truncate) && type == .regular) { try writable(location) }
            if flags.contains(.truncate) && type == .regular && !created && !flags.contains(.path) {
                try fileSystem(location).truncate(location.node, to: 0)
            }
            let file = OpenFile(location: location, flags: flags, type: type)
            if type == .directory || named == nil {
                file.path = (try? pathLocked(of: location)) ?? []
            } else if let named, let directory = try? pathLocked(of: named.parent) {
                file.path = (directory == [0x2F] ? directory : directory + [0x2F]) + named.name
            }
            let fd = try install(file, closeOnExec: flags.contains(.closeOnExec))
            fileSystem(location).retained(location.node)
            return fd
        }
    }

    /// Every open descriptor and its file's path ("... (deleted)" once unlinked, as Linux shows it),
    /// without taking the lock: for file systems the VFS calls while it holds it (procfs's fd/).
    public func descriptorPathsHoldingLock() -> [(fd: Int32, path: [UInt8])] {
        var result: [(fd: Int32, path: [UInt8])] = []
        for (index, descriptor) in descriptors.enumerated() {
            guard let file = descriptor?.file else { continue }
            var path = file.path
            if file.type != .directory, let status = try? status(file.location), status.linkCount == 0 {
                path += Array(" (deleted)".utf8)
            }
            result.append((Int32(index), path))
        }
        return result
    }

    public func open(_ path: String, _ flags: OpenFlags, permissions: UInt32 = 0o666) throws(FileError) -> Int32 {
        try open(Array(path.utf8), flags, permissions: permissions)
    }

    /// close(2).
    public func close(_ fd: Int32) throws(FileError) {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            descriptors[Int(fd)] = nil
            while let last = descriptors.last, last == nil { descriptors.removeLast() }
            file.references -= 1
            if file.references == 0 { fileSystem(file.location).released(file.location.node) }
        }
    }

    /// dup(2), or with `minimum` fcntl(F_DUPFD): a new descriptor for the same description.
    public func duplicate(_ fd: Int32, minimum: Int32 = 0, closeOnExec: Bool = false) throws(FileError) -> Int32 {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            guard minimum >= 0, Int(minimum) < maximumDescriptors else { throw .invalid }
            let new = try install(file, closeOnExec: closeOnExec, minimum: Int(minimum))
            file.references += 1
            return new
        }
    }

    /// dup2(2)/dup3(2): `target` becomes a descriptor for `fd`'s description (closing what it was).
    public func duplicate(_ fd: Int32, to target: Int32, closeOnExec: Bool = false) throws(FileError) -> Int32 {
        let file = try locked { () throws(FileError) in try descriptor(fd).file }
        guard target >= 0, Int(target) < maximumDescriptors else { throw .badDescriptor }
        if fd == target { return target }
        if (try? descriptor(target)) != nil { try close(target) }
        return try locked { () throws(FileError) in
            guard Int(target) >= descriptors.count || descriptors[Int(target)] == nil else { throw .busy }
            while descriptors.count <= Int(target) { descriptors.append(nil) }
            descriptors[Int(target)] = Descriptor(file: file, closeOnExec: closeOnExec)
            file.references += 1
            return target
        }
    }

    /// Whether `fd` closes on exec (FD_CLOEXEC), and changing it.
    public func closesOnExec(_ fd: Int32) throws(FileError) -> Bool {
        try locked { () throws(FileError) in try descriptor(fd).closeOnExec }
    }

    public func setClosesOnExec(_ fd: Int32, _ value: Bool) throws(FileError) {
        try locked { () throws(FileError) in
            _ = try descriptor(fd)
            descriptors[Int(fd)]!.closeOnExec = value
        }
    }

    /// The description's flags (fcntl F_GETFL) and changing its status flags (F_SETFL: only O_APPEND
    /// and O_NONBLOCK change, as on Linux).
    public func flags(_ fd: Int32) throws(FileError) -> OpenFlags {
        try locked { () throws(FileError) in try descriptor(fd).file.flags }
    }

    public func setStatusFlags(_ fd: Int32, _ flags: OpenFlags) throws(FileError) {
        try locked { () throws(FileError) in
            let file = try descriptor(fd).file
            let changeable: OpenFlags = [.append, .nonBlocking]
            file.flags = file.flags.subtracting(changeable).union(flags.intersection(changeable))
        }
    }

    /// Every open descriptor number, in order.
    public var openDescriptors: [Int32] {
        lockObject?.lock()
        defer { lockObject?.unlock() }
        return descriptors.indices.compactMap { descriptors[$0] == nil ? nil : Int32($0) }
    }
}
