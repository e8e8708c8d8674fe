// PathOperations: the calls that name files by path — stat/lstat, mkdir, rmdir, unlink, rename, link,
// symlink, readlink, truncate, chmod/chown/utimensat, mknod, chdir and getcwd.
//
// Each resolves the parent directory and looks at the last name itself, so the special names get
// Linux's errno: mkdir of "/", "." or ".." is EEXIST; rmdir of "." is EINVAL, of ".." ENOTEMPTY and of
// "/" EBUSY; unlink of any of them EISDIR; rename of any of them EBUSY. A name that is a mount point
// is EBUSY for rmdir, unlink and rename; rename and link between two mounts are EXDEV. The last name
// is never followed by rmdir, unlink, rename, link, readlink or lstat; stat, truncate, chmod, chdir
// follow it. `relativeTo` is the directory descriptor of the *at calls (nil: the working directory).

extension VirtualFileSystem {
    static func isSpecial(_ name: [UInt8]) -> Bool { name.isEmpty || isDot(name) || isDotDot(name) }

    /// The node `name` names in `directory` without entering a mount on it, and whether one is.
    func rawChild(_ directory: Location, _ name: [UInt8]) throws(FileError) -> (Location, mountPoint: Bool) {
        let node = try fileSystem(directory).lookup(directory.node, name)
        let location = Location(mount: directory.mount, node: node)
        return (location, mountedOn[location] != nil)
    }

    /// The checks for the name a non-directory is created under (link, symlink, mknod): EEXIST if it
    /// exists or is special, ENOENT if it does not but ends in `/` (only directories take a slash).
    func checkNewName(_ parent: Location, _ name: [UInt8], trailingSlash: Bool) throws(FileError) {
        if Self.isSpecial(name) { throw .exists }
        if (try? fileSystem(parent).lookup(parent.node, name)) != nil { throw .exists }
        if trailingSlash { throw .noEntry }
    }

    /// stat(2) (`follow`) or lstat(2).
    public func status(_ path: [UInt8], follow: Bool = true, relativeTo directory: Int32? = nil) throws(FileError) -> FileStatus {
        try locked { () throws(FileError) in try status(try resolve(path, follow: follow, from: try base(directory))) }
    }

    public func status(_ path: String, follow: Bool = true) throws(FileError) -> FileStatus {
        try status(Array(path.utf8), follow: follow)
    }

    /// The regular file at `path` (links followed) with its whole contents in place, without a copy,
    /// when its file system holds them so (ramfs files the root file system brought, unchanged): the
    /// bytes stay valid for the whole run, even if the file changes later (they are then its old
    /// contents). nil when the file's bytes must be read instead; errors as stat(2).
    public func contentsInPlace(_ path: [UInt8]) throws(FileError) -> UnsafeRawBufferPointer? {
        try locked { () throws(FileError) -> UnsafeRawBufferPointer? in
            let location = try resolve(path, follow: true)
            guard try status(location).type == .regular else { return nil }
            return fileSystem(location).lentContents(location.node)
        }
    }

    /// Makes the empty regular file at `path` hold `bytes` without copying them, when its file
    /// system can (see `FileSystem.lend`); false otherwise (write them instead). For unpacking an
    /// archive that lives as long as the image.
    public func lend(_ bytes: UnsafeRawBufferPointer, to path: [UInt8]) throws(FileError) -> Bool {
        try locked { () throws(FileError) -> Bool in
            let location = try resolve(path, follow: false)
            let status = try status(location)
            guard status.type == .regular, status.size == 0, !bytes.isEmpty else { return false }
            try writable(location)
            return fileSystem(location).lend(location.node, bytes)
        }
    }

    /// mkdir(2).
    public func makeDirectory(_ path: [UInt8], permissions: UInt32 = 0o777, relativeTo directory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            let (parent, name, _) = try resolveParent(path, from: try base(directory))
            if Self.isSpecial(name) { throw .exists }
            if (try? fileSystem(parent).lookup(parent.node, name)) != nil { throw .exists }
            try writable(parent)
            _ = try fileSystem(parent).create(parent.node, name, type: .directory,
                                              permissions: permissions & 0o1777 & ~umask, userID: 0, groupID: 0)
        }
    }

    public func makeDirectory(_ path: String, permissions: UInt32 = 0o777) throws(FileError) {
        try makeDirectory(Array(path.utf8), permissions: permissions)
    }

    /// mknod(2): a regular file, FIFO, socket or device node (`device` is st_rdev).
    public func makeNode(_ path: [UInt8], type: FileType, permissions: UInt32, device: UInt64 = 0,
                         relativeTo directory: Int32? = nil) throws(FileError) -> Location {
        try locked { () throws(FileError) in
            guard type != .directory, type != .symbolicLink else { throw .invalid }
            let (parent, name, trailingSlash) = try resolveParent(path, from: try base(directory))
            try checkNewName(parent, name, trailingSlash: trailingSlash)
            try writable(parent)
            let node = try fileSystem(parent).create(parent.node, name, type: type, permissions: permissions & ~umask,
                                                     userID: 0, groupID: 0)
            if device != 0 { try fileSystem(parent).setDevice(node, device) }
            return Location(mount: parent.mount, node: node)
        }
    }

    /// rmdir(2).
    public func removeDirectory(_ path: [UInt8], relativeTo directory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            let (parent, name, _) = try resolveParent(path, from: try base(directory))
            if name.isEmpty { throw .busy }
            if Self.isDot(name) { throw .invalid }
            if Self.isDotDot(name) { throw .notEmpty }
            let (target, mountPoint) = try rawChild(parent, name)
            guard try status(target).type == .directory else { throw .notDirectory }
            if mountPoint { throw .busy }
            try writable(parent)
            try fileSystem(parent).removeDirectory(parent.node, name)
        }
    }

    public func removeDirectory(_ path: String) throws(FileError) { try removeDirectory(Array(path.utf8)) }

    /// unlink(2).
    public func unlink(_ path: [UInt8], relativeTo directory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            let (parent, name, trailingSlash) = try resolveParent(path, from: try base(directory))
            if Self.isSpecial(name) { throw .isDirectory }
            let (target, mountPoint) = try rawChild(parent, name)
            let type = try status(target).type
            if type == .directory { throw mountPoint ? .busy : .isDirectory }
            if trailingSlash { throw .notDirectory }
            try writable(parent)
            try fileSystem(parent).unlink(parent.node, name)
        }
    }

    public func unlink(_ path: String) throws(FileError) { try unlink(Array(path.utf8)) }

    /// rename(2)/renameat(2), atomic within one file system.
    public func rename(_ path: [UInt8], to newPath: [UInt8], relativeTo directory: Int32? = nil,
                       newRelativeTo newDirectory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            let (parent, name, slash) = try resolveParent(path, from: try base(directory))
            let (newParent, newName, newSlash) = try resolveParent(newPath, from: try base(newDirectory))
            if parent.mount != newParent.mount { throw .crossDevice }
            if Self.isSpecial(name) || Self.isSpecial(newName) { throw .busy }
            let (source, sourceMounted) = try rawChild(parent, name)
            let sourceIsDirectory = try status(source).type == .directory
            if !sourceIsDirectory && (slash || newSlash) { throw .notDirectory }
            if sourceMounted { throw .busy }
            if let (target, targetMounted) = try? rawChild(newParent, newName) {
                // A target that is an ancestor of the source would lose it (Linux: ENOTEMPTY, checked
                // before the types are compared).
                var cursor = parent
                let fs = fileSystem(parent)
                while true {
                    if cursor == target && target != source { throw .notEmpty }
                    if cursor.node == fs.rootNode { break }
                    cursor = Location(mount: cursor.mount, node: try fs.lookup(cursor.node, [0x2E, 0x2E]))
                }
                if targetMounted { throw .busy }
            }
            try writable(parent)
            try fileSystem(parent).rename(parent.node, name, to: newParent.node, newName)
        }
    }

    public func rename(_ path: String, to newPath: String) throws(FileError) {
        try rename(Array(path.utf8), to: Array(newPath.utf8))
    }

    /// link(2): a new name for an existing file (the old name's last link is not followed).
    public func link(_ path: [UInt8], to newPath: [UInt8], follow: Bool = false, relativeTo directory: Int32? = nil,
                     newRelativeTo newDirectory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            let source = try resolve(path, follow: follow, from: try base(directory))
            let (newParent, newName, newSlash) = try resolveParent(newPath, from: try base(newDirectory))
            try checkNewName(newParent, newName, trailingSlash: newSlash)
            if try status(source).type == .directory { throw .notPermitted }
            if source.mount != newParent.mount { throw .crossDevice }
            try writable(newParent)
            try fileSystem(newParent).link(source.node, into: newParent.node, as: newName)
        }
    }

    public func link(_ path: String, to newPath: String) throws(FileError) { try link(Array(path.utf8), to: Array(newPath.utf8)) }

    /// symlink(2): `path` becomes a symbolic link holding `target` (not checked: it may dangle).
    public func symbolicLink(_ target: [UInt8], at path: [UInt8], relativeTo directory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            guard !target.isEmpty else { throw .noEntry }
            guard target.count <= Self.maximumPathLength else { throw .nameTooLong }
            let (parent, name, trailingSlash) = try resolveParent(path, from: try base(directory))
            try checkNewName(parent, name, trailingSlash: trailingSlash)
            try writable(parent)
            _ = try fileSystem(parent).createSymbolicLink(parent.node, name, target: target)
        }
    }

    public func symbolicLink(_ target: String, at path: String) throws(FileError) {
        try symbolicLink(Array(target.utf8), at: Array(path.utf8))
    }

    /// readlink(2): EINVAL unless the last name is a symbolic link.
    public func readLink(_ path: [UInt8], relativeTo directory: Int32? = nil) throws(FileError) -> [UInt8] {
        try locked { () throws(FileError) in
            let location = try resolve(path, follow: false, from: try base(directory))
            guard try status(location).type == .symbolicLink else { throw .invalid }
            return try fileSystem(location).readSymbolicLink(location.node)
        }
    }

    public func readLink(_ path: String) throws(FileError) -> String {
        String(decoding: try readLink(Array(path.utf8)), as: UTF8.self)
    }

    /// truncate(2).
    public func truncate(_ path: [UInt8], to size: Int64, relativeTo directory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            guard size >= 0 else { throw .invalid }
            let location = try resolve(path, follow: true, from: try base(directory))
            let type = try status(location).type
            if type == .directory { throw .isDirectory }
            guard type == .regular else { throw .invalid }
            try writable(location)
            try fileSystem(location).truncate(location.node, to: size)
        }
    }

    public func truncate(_ path: String, to size: Int64) throws(FileError) { try truncate(Array(path.utf8), to: size) }

    /// chmod(2), chown(2) and utimensat(2) in one: nil leaves a field alone.
    public func setAttributes(_ path: [UInt8], follow: Bool = true, permissions: UInt32? = nil, userID: UInt32? = nil,
                              groupID: UInt32? = nil, accessTime: TimeSpec? = nil, modificationTime: TimeSpec? = nil,
                              relativeTo directory: Int32? = nil) throws(FileError) {
        try locked { () throws(FileError) in
            let location = try resolve(path, follow: follow, from: try base(directory))
            try writable(location)
            try fileSystem(location).setAttributes(location.node, permissions: permissions, userID: userID, groupID: groupID,
                                                   accessTime: accessTime, modificationTime: modificationTime)
        }
    }

    /// chdir(2).
    public func changeDirectory(_ path: [UInt8]) throws(FileError) {
        try locked { () throws(FileError) in
            let location = try resolve(path, follow: true)
            guard try status(location).type == .directory else { throw .notDirectory }
            workingDirectory = location
        }
    }

    public func changeDirectory(_ path: String) throws(FileError) { try changeDirectory(Array(path.utf8)) }

    /// fchdir(2).
    public func changeDirectory(to fd: Int32) throws(FileError) {
        try locked { () throws(FileError) in workingDirectory = try base(fd) }
    }

    /// getcwd(2).
    public func currentDirectory() throws(FileError) -> [UInt8] {
        try locked { () throws(FileError) in try pathLocked(of: workingDirectory) }
    }
}
