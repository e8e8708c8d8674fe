// VirtualFileSystem: the mount table and path resolution over every mounted file system, and the
// operations on names (mkdir, unlink, rename, ...). Open files are in OpenFiles.swift.
//
// A location is (mount, node). Resolution walks a path one component at a time from the root or the
// working directory: `.` stays, `..` asks the file system for the parent — except at the root of a
// mount, where it first steps back to the directory the mount covers (and at the root of everything,
// where it stays) — and a name that is a mount point continues at the mounted root. A symbolic link in
// the middle of a path (or at its end, unless the caller asked not to follow) is replaced by its target,
// spliced in front of the components still to walk; after 40 links the walk fails with ELOOP (Linux's
// MAXSYMLINKS). Names longer than 255 bytes fail with ENAMETOOLONG, paths longer than 4095 too. A path
// that ends in `/` must name a directory.
//
// Operations that create or remove a name resolve the parent and check the last name themselves, with
// the errno Linux gives when it is `.`, `..` or `/` (mkdir("/") is EEXIST, rmdir(".") EINVAL, rename of
// ".." EBUSY, ...). Moving or linking between two mounts fails with EXDEV; removing or renaming a mount
// point with EBUSY.
//
// Everything runs under one lock (`VFSLock`, the kernel's mutex in an image; none in host tests), so
// operations are atomic with respect to each other under the preemptive scheduler.

/// The lock the VFS holds during each operation.
public protocol VFSLock: AnyObject {
    func lock()
    func unlock()
}

public struct Location: Hashable, Sendable {
    public var mount: Int
    public var node: NodeID
}

public final class VirtualFileSystem {
    struct Mount {
        let fileSystem: any FileSystem
        /// The directory this mount covers (nil for the root mount).
        let coveredLocation: Location?
        let path: [UInt8]
        let readOnly: Bool
    }

    public static let maximumSymbolicLinks = 40
    public static let maximumNameLength = 255
    public static let maximumPathLength = 4095

    var mounts: [Mount?] = []
    /// Directory location → the mount on it.
    var mountedOn: [Location: Int] = [:]
    public internal(set) var workingDirectory: Location
    let lockObject: VFSLock?
    var descriptors: [Descriptor?] = []
    public var maximumDescriptors = 1024
    /// The file-mode creation mask (umask(2)); new files get `permissions & ~umask`.
    public var umask: UInt32 = 0o022

    public init(root: any FileSystem, lock: VFSLock? = nil) {
        lockObject = lock
        mounts = [Mount(fileSystem: root, coveredLocation: nil, path: [0x2F], readOnly: root.isReadOnly)]
        workingDirectory = Location(mount: 0, node: root.rootNode)
    }

    @inline(__always)
    func locked<R>(_ body: () throws(FileError) -> R) throws(FileError) -> R {
        lockObject?.lock()
        defer { lockObject?.unlock() }
        return try body()
    }

    var rootLocation: Location { Location(mount: 0, node: mounts[0]!.fileSystem.rootNode) }

    func fileSystem(_ location: Location) -> any FileSystem { mounts[location.mount]!.fileSystem }

    func writable(_ location: Location) throws(FileError) {
        if mounts[location.mount]!.readOnly { throw .readOnly }
    }

    // MARK: Mounts

    /// Mounts `fileSystem` on the directory `path` (EBUSY if something is mounted there already, or if
    /// `path` is the root).
    public func mount(_ fileSystem: any FileSystem, at path: String, readOnly: Bool = false) throws(FileError) {
        try locked { () throws(FileError) in
            let location = try resolve(Array(path.utf8), follow: true)
            guard try status(location).isDirectory else { throw .notDirectory }
            // Mounts do not stack here (Linux lets them): a mount's own root is busy.
            guard mountedOn[location] == nil, location.node != self.fileSystem(location).rootNode else { throw .busy }
            let index = mounts.firstIndex { $0 == nil } ?? mounts.count
            let mount = Mount(fileSystem: fileSystem, coveredLocation: location, path: try pathLocked(of: location),
                              readOnly: readOnly || fileSystem.isReadOnly)
            if index == mounts.count { mounts.append(mount) } else { mounts[index] = mount }
            mountedOn[location] = index
        }
    }

    /// Unmounts what is mounted on `path`: EBUSY while files are open in it or a mount sits inside it.
    public func unmount(_ path: String) throws(FileError) {
        try locked { () throws(FileError) in
            let location = try resolve(Array(path.utf8), follow: true)
            guard location.mount != 0, location.node == fileSystem(location).rootNode,
                  let covered = mounts[location.mount]?.coveredLocation else { throw .invalid }
            if descriptors.contains(where: { $0?.file.location.mount == location.mount }) { throw .busy }
            if mountedOn.keys.contains(where: { $0.mount == location.mount }) { throw .busy }
            if workingDirectory.mount == location.mount { throw .busy }
            let fileSystem = mounts[location.mount]?.fileSystem
            mountedOn[covered] = nil
            mounts[location.mount] = nil
            fileSystem?.unmounted()
        }
    }

    /// The guest is stopping: every file system, the most recent mount first, makes itself durable and
    /// consistent (`unmounted`). The tree stays usable, but nothing written after this is promised.
    public func shutdown() {
        lockObject?.lock()
        defer { lockObject?.unlock() }
        for mount in mounts.reversed() { mount?.fileSystem.unmounted() }
    }

    /// Every mount: where, what type, read-only or not, and its usage (for /proc/mounts and `df`).
    public var mountTable: [(path: String, type: StaticString, readOnly: Bool, usage: FileSystemUsage)] {
        lockObject?.lock()
        defer { lockObject?.unlock() }
        return mounts.compactMap { mount in
            mount.map { (String(decoding: $0.path, as: UTF8.self), $0.fileSystem.typeName, $0.readOnly, $0.fileSystem.usage) }
        }
    }

    // MARK: Resolution

    func status(_ location: Location) throws(FileError) -> FileStatus {
        var status = try fileSystem(location).status(location.node)
        status.device = UInt64(location.mount + 1)
        return status
    }

    /// Splits a path into its components, checking lengths.
    static func components(_ path: [UInt8]) throws(FileError) -> [[UInt8]] {
        guard !path.isEmpty else { throw .noEntry }
        guard path.count <= maximumPathLength else { throw .nameTooLong }
        var parts: [[UInt8]] = []
        for part in path.split(separator: 0x2F, omittingEmptySubsequences: true) {
            guard part.count <= maximumNameLength else { throw .nameTooLong }
            parts.append(Array(part))
        }
        return parts
    }

    static func isDot(_ name: [UInt8]) -> Bool { name == [0x2E] }
    static func isDotDot(_ name: [UInt8]) -> Bool { name == [0x2E, 0x2E] }

    /// The location `..` of `location` names.
    func parent(of location: Location) throws(FileError) -> Location {
        var location = location
        let root = rootLocation
        while location != root, location.node == fileSystem(location).rootNode,
              let covered = mounts[location.mount]?.coveredLocation {
            location = covered                              // up out of the mount, then its parent
        }
        if location == root { return root }
        return Location(mount: location.mount, node: try fileSystem(location).lookup(location.node, [0x2E, 0x2E]))
    }

    /// One step down: the child `name` of the directory `location`, entering a mount on it.
    func child(_ location: Location, _ name: [UInt8]) throws(FileError) -> Location {
        let node = try fileSystem(location).lookup(location.node, name)
        let next = Location(mount: location.mount, node: node)
        if let mounted = mountedOn[next] { return Location(mount: mounted, node: mounts[mounted]!.fileSystem.rootNode) }
        return next
    }

    /// Walks `path` to the location it names.
    func resolve(_ path: [UInt8], follow: Bool, from base: Location? = nil) throws(FileError) -> Location {
        let (location, _) = try walk(path, follow: follow, stopBeforeLast: false, from: base)
        return location
    }

    /// Walks to the directory that holds the last component; returns it, the last name (empty for `/`),
    /// and whether the path ended in `/`.
    func resolveParent(_ path: [UInt8], from base: Location? = nil) throws(FileError)
        -> (directory: Location, name: [UInt8], trailingSlash: Bool) {
        let (location, last) = try walk(path, follow: false, stopBeforeLast: true, from: base)
        return (location, last, path.last == 0x2F)
    }

    func walk(_ path: [UInt8], follow: Bool, stopBeforeLast: Bool, from base: Location?) throws(FileError)
        -> (Location, [UInt8]) {
        var remaining = try Self.components(path)
        remaining.reverse()                                 // a stack: the next component is last
        var location = path.first == 0x2F ? rootLocation : (base ?? workingDirectory)
        let mustBeDirectory = path.last == 0x2F
        var links = 0
        if stopBeforeLast {
            guard let last = remaining.first else { return (location, []) }
            remaining.removeFirst()
            location = try walkComponents(&remaining, from: location, follow: true, mustBeDirectory: true, links: &links)
            guard try status(location).isDirectory else { throw .notDirectory }
            return (location, last)
        }
        location = try walkComponents(&remaining, from: location, follow: follow, mustBeDirectory: mustBeDirectory, links: &links)
        if mustBeDirectory, !(try status(location).isDirectory) { throw .notDirectory }
        return (location, [])
    }

    func walkComponents(_ remaining: inout [[UInt8]], from start: Location, follow: Bool, mustBeDirectory: Bool,
                        links: inout Int) throws(FileError) -> Location {
        var location = start
        while let name = remaining.popLast() {
            if Self.isDot(name) {
                guard try status(location).isDirectory else { throw .notDirectory }
                continue
            }
            if Self.isDotDot(name) {
                guard try status(location).isDirectory else { throw .notDirectory }
                location = try parent(of: location)
                continue
            }
            guard try status(location).isDirectory else { throw .notDirectory }
            let next = try child(location, name)
            let isLast = remaining.isEmpty
            if (!isLast || follow || mustBeDirectory), try status(next).type == .symbolicLink {
                links += 1
                guard links <= Self.maximumSymbolicLinks else { throw .loop }
                let target = try fileSystem(next).readSymbolicLink(next.node)
                guard !target.isEmpty else { throw .noEntry }
                let parts = try Self.components(target)
                remaining.append(contentsOf: parts.reversed())
                if target.first == 0x2F { location = rootLocation }
                if parts.isEmpty { continue }                   // a link to "/"
                continue
            }
            location = next
        }
        return location
    }

    /// The absolute path of a directory location, found by walking `..` and looking up each name.
    func pathLocked(of location: Location) throws(FileError) -> [UInt8] {
        var names: [[UInt8]] = []
        var current = location
        let root = rootLocation
        while current != root {
            let up = try parent(of: current)
            // The name under which `current` (or the mount covering it) appears in `up`.
            var target = current
            while target.node == fileSystem(target).rootNode, let covered = mounts[target.mount]?.coveredLocation {
                target = covered
            }
            var found: [UInt8]? = nil
            var cookie: UInt64 = 0
            search: while true {
                let page = try fileSystem(up).readDirectory(up.node, after: cookie, limit: 64)
                if page.isEmpty { break }
                for entry in page where entry.node == target.node && up.mount == target.mount {
                    found = entry.name
                    break search
                }
                cookie = page.last!.cookie
            }
            guard let name = found else { throw .noEntry }
            names.append(name)
            current = up
        }
        if names.isEmpty { return [0x2F] }
        var path: [UInt8] = []
        for name in names.reversed() { path.append(0x2F); path += name }
        return path
    }
}
