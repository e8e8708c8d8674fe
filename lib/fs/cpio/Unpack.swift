// Unpack: a newc archive into a VFS, as Linux unpacks an initramfs into its rootfs.
//
// Each record's name is made relative (leading "/" and "./" dropped, empty and "." components
// ignored; "." alone is the root itself, whose mode and times it sets); a name with a ".." component
// is refused (it would leave the root). Missing parent directories are created (0755); a parent that
// is a symbolic link is refused (ELOOP), so a link the archive made cannot carry a later record
// outside the root. An existing non-directory of the
// same name is replaced; an existing directory keeps its contents and takes the record's mode. Regular
// files, directories, symbolic links (the data is the target), FIFOs, sockets and device nodes are
// created with the record's permission bits (set-id and sticky too — not filtered by the umask),
// owner, group and modification time. Hard links — regular files whose link count is above 1 and
// whose (inode, device) repeats — become links to the first name; data carried by a later name (GNU
// cpio writes it on the last) is written into the shared file.
//
// A record that cannot be applied is reported in `problems` and skipped; a malformed archive stops
// the unpacking at that record (what came before stays). Nothing here trusts the archive: every length
// is checked by NewcReader, and every path goes through the VFS's own checks.

import VFS

public struct UnpackSummary {
    public var entries = 0
    public var bytes = 0
    public var problems: [String] = []
}

public enum CPIOUnpacker {
    /// Unpacks `archive` into `vfs` below `root` (an existing directory path, "/" by default). With
    /// `lending`, the archive outlives the VFS (an image's read-only data): files whose file system
    /// can (ramfs) point into it instead of holding a copy.
    public static func unpack(_ archive: UnsafeRawBufferPointer, into vfs: VirtualFileSystem, at root: [UInt8] = [0x2F],
                              lending: Bool = false) -> UnpackSummary {
        var summary = UnpackSummary()
        var reader = NewcReader(archive)
        var hardLinks: [UInt64: [UInt8]] = [:]
        while true {
            let record: NewcRecord
            do {
                guard let next = try reader.next() else { break }
                record = next
            } catch {
                summary.problems.append(error.message)
                break
            }
            guard let relative = relativePath(record.name) else {
                summary.problems.append("cpio: '" + String(decoding: record.name, as: UTF8.self) + "': the path leaves the root; skipped")
                continue
            }
            let path = relative.isEmpty ? root : join(root, relative)
            do {
                if !relative.isEmpty { try makeParents(root, relative, vfs: vfs) }
                try apply(record, at: path, isRoot: relative.isEmpty, vfs: vfs, hardLinks: &hardLinks, lending: lending)
                summary.entries += 1
                summary.bytes += record.data.count
            } catch {
                summary.problems.append("cpio: '" + String(decoding: record.name, as: UTF8.self) + "': " + error.messageString)
            }
        }
        return summary
    }

    /// The name without leading "/" and "./", split checks done: nil if a component is ".." or empty
    /// (other than a trailing slash), or the name is empty.
    static func relativePath(_ name: UnsafeRawBufferPointer) -> [UInt8]? {
        var components: [[UInt8]] = []
        for component in name.split(separator: 0x2F, omittingEmptySubsequences: true) {
            let bytes = Array(component)
            if bytes == [0x2E] { continue }
            if bytes == [0x2E, 0x2E] { return nil }
            components.append(bytes)
        }
        if components.isEmpty { return name.isEmpty ? nil : [] }
        var path: [UInt8] = []
        for component in components {
            if !path.isEmpty { path.append(0x2F) }
            path += component
        }
        return path
    }

    static func join(_ root: [UInt8], _ relative: [UInt8]) -> [UInt8] {
        root.last == 0x2F ? root + relative : root + [0x2F] + relative
    }

    /// Creates the missing directories between `root` and `relative`'s last component. A component that
    /// exists must be a real directory: a symbolic link there (one the archive itself made, say
    /// `x -> /`, before a record `x/file`) would carry the record outside the root, so it is refused.
    static func makeParents(_ root: [UInt8], _ relative: [UInt8], vfs: VirtualFileSystem) throws(FileError) {
        let components = relative.split(separator: 0x2F)
        var path = root
        for component in components.dropLast() {
            path = join(path, Array(component))
            if let status = try? vfs.status(path, follow: false) {
                if status.type == .symbolicLink { throw .loop }
                if !status.isDirectory { throw .notDirectory }
                continue
            }
            try vfs.makeDirectory(path, permissions: 0o755)
        }
    }

    static func apply(_ record: NewcRecord, at path: [UInt8], isRoot: Bool, vfs: VirtualFileSystem,
                      hardLinks: inout [UInt64: [UInt8]], lending: Bool) throws(FileError) {
        guard let type = FileType(mode: record.mode) else { throw .invalid }
        let permissions = record.mode & 0o7777
        let time = TimeSpec(seconds: Int64(record.modificationTime), nanoseconds: 0)
        if !isRoot {
            if let existing = try? vfs.status(path, follow: false) {
                if existing.isDirectory {
                    if type != .directory { try vfs.removeDirectory(path) }
                } else {
                    try vfs.unlink(path)
                }
            }
        }
        switch type {
        case .directory:
            if !isRoot, (try? vfs.status(path, follow: false)) == nil { try vfs.makeDirectory(path, permissions: 0o700) }
        case .regular:
            let key = UInt64(record.inode) | UInt64(record.deviceMajor & 0xFFF) << 32 | UInt64(record.deviceMinor & 0xFFFFF) << 44
            if record.links > 1, let first = hardLinks[key] {
                try vfs.link(first, to: path)
                if record.data.count > 0 { try write(record.data, to: path, vfs: vfs, lending: lending) }
            } else {
                try write(record.data, to: path, vfs: vfs, lending: lending)
                if record.links > 1 { hardLinks[key] = path }
            }
        case .symbolicLink:
            try vfs.symbolicLink(Array(record.data), at: path)
            try vfs.setAttributes(path, follow: false, userID: record.userID, groupID: record.groupID, modificationTime: time)
            return
        case .fifo, .socket, .characterDevice, .blockDevice:
            let major = UInt64(record.representedMajor), minor = UInt64(record.representedMinor)
            // Linux's dev_t encoding (makedev).
            let device = (minor & 0xFF) | (major & 0xFFF) << 8 | (minor & ~0xFF) << 12 | (major & ~0xFFF) << 32
            _ = try vfs.makeNode(path, type: type, permissions: permissions, device: device)
        }
        try vfs.setAttributes(path, follow: false, permissions: permissions, userID: record.userID, groupID: record.groupID,
                              modificationTime: time)
    }

    static func write(_ data: UnsafeRawBufferPointer, to path: [UInt8], vfs: VirtualFileSystem, lending: Bool) throws(FileError) {
        let fd = try vfs.open(path, [.writeOnly, .create, .truncate], permissions: 0o600)
        defer { try? vfs.close(fd) }
        if lending, try vfs.lend(data, to: path) { return }
        var done = 0
        while done < data.count {
            let count = try vfs.write(fd, UnsafeRawBufferPointer(rebasing: data[done...]))
            guard count > 0 else { throw .io }
            done += count
        }
    }
}
