// RootFileSystemArchive: the manifest's `rootfs:` folder as a cpio "newc" archive, the format of Linux's
// initramfs, so `cpio -t` lists what an image boots with and `cpio -i` unpacks it on the host.
//
// `scan` walks the folder (without following symbolic links) and records every directory, regular
// file and symbolic link with its mode (type and permission bits, set-id and sticky included), size,
// modification time and link target; hard links (one inode under several names) are kept as such,
// the way GNU cpio writes them: the same inode number and link count on every name, the data on the
// last one. What it refuses, each a problem the manifest reports at its `rootfs:` value: a folder that
// is missing, not a folder, or contains the manifest's own folder (its `.tessera/` would be packed into
// itself); devices, FIFOs and sockets (an image's device files come from /dev, not from the host);
// unreadable entries; names longer than 255 bytes or paths longer than 4095; more than
// `maximumTotalBytes` (256 MiB) of file data.
//
// `archive` writes the entries in path order, parents before children, as newc records: the magic
// "070701", thirteen 8-digit hexadecimal fields (inode, mode, uid, gid, nlink, mtime, file size, device
// major/minor, represented device major/minor, name size including its NUL, checksum 0), the name and
// its NUL padded to 4 bytes, the data padded to 4 bytes, and the "TRAILER!!!" record. Owners are
// written as 0 (root): the image runs everything as root, and a build should not depend on who ran it.
// The folder itself becomes the record ".", so the root directory's mode travels too.

import Foundation

public struct RootFileSystemArchive: Hashable, Sendable {
    public static let maximumTotalBytes = 256 << 20

    public enum Kind: Hashable, Sendable { case directory, regular, symbolicLink }

    public struct Entry: Hashable, Sendable {
        /// The path in the archive ("." for the root, "etc/hostname" below it).
        public var path: String
        public var kind: Kind
        /// Type and permission bits (`st_mode`).
        public var mode: UInt32
        public var size: Int
        public var modificationTime: Int
        /// A symbolic link's target.
        public var target: String = ""
        /// The host file (regular files), read when the archive is written.
        public var source: String = ""
        /// For hard links: the host's (device, inode), and how many names in the folder share it.
        public var hostIdentity: String = ""
        public var links: Int = 1
    }

    public var folder: String
    public private(set) var entries: [Entry]

    public var totalBytes: Int { entries.reduce(0) { $0 + ($1.kind == .regular ? $1.size : 0) } }

    /// An archive of no entries (an image that selects `files` without `rootfs:`): just the trailer.
    public static let empty = RootFileSystemArchive(folder: "", entries: [])

    init(folder: String, entries: [Entry]) {
        self.folder = folder
        self.entries = entries
    }

    /// Scans `folder` (`written` is the manifest's spelling, for messages).
    public static func scan(folder: String, as written: String, manifestDirectory: String)
        -> (archive: RootFileSystemArchive, problems: [String]) {
        var problems: [String] = []
        var root = stat()
        guard lstat(folder, &root) == 0 else {
            return (.empty, ["'rootfs' folder '\(written)' does not exist"])
        }
        guard root.st_mode & S_IFMT == S_IFDIR else { return (.empty, ["'rootfs' '\(written)' is not a folder"]) }
        let resolvedFolder = URL(fileURLWithPath: folder).standardizedFileURL.resolvingSymlinksInPath().path
        let resolvedManifest = URL(fileURLWithPath: manifestDirectory).standardizedFileURL.resolvingSymlinksInPath().path
        if resolvedManifest == resolvedFolder || resolvedManifest.hasPrefix(resolvedFolder + "/") {
            problems.append("'rootfs' folder '\(written)' contains the manifest's own folder, whose .tessera/ holds the build outputs; use a subfolder")
            return (.empty, problems)
        }
        var entries = [Entry(path: ".", kind: .directory, mode: UInt32(root.st_mode), size: 0,
                             modificationTime: Int(root.st_mtim.tv_sec))]
        var total = 0
        var identities: [String: Int] = [:]
        func walk(_ host: String, _ relative: String) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: host) else {
                problems.append("'rootfs': cannot read the folder '\(relative.isEmpty ? written : relative)'")
                return
            }
            for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let path = relative.isEmpty ? name : relative + "/" + name
                let hostPath = host + "/" + name
                if name.utf8.count > 255 { problems.append("'rootfs': the name of '\(path)' is longer than 255 bytes"); continue }
                if path.utf8.count > 4095 { problems.append("'rootfs': the path '\(path)' is longer than 4095 bytes"); continue }
                var info = stat()
                guard lstat(hostPath, &info) == 0 else { problems.append("'rootfs': cannot read '\(path)'"); continue }
                var entry = Entry(path: path, kind: .regular, mode: UInt32(info.st_mode), size: 0,
                                  modificationTime: Int(info.st_mtim.tv_sec))
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    entry.kind = .directory
                    entries.append(entry)
                    walk(hostPath, path)
                case S_IFREG:
                    guard access(hostPath, R_OK) == 0 else { problems.append("'rootfs': cannot read '\(path)'"); continue }
                    entry.size = Int(info.st_size)
                    entry.source = hostPath
                    total += entry.size
                    if info.st_nlink > 1 {
                        entry.hostIdentity = "\(info.st_dev):\(info.st_ino)"
                        identities[entry.hostIdentity, default: 0] += 1
                    }
                    entries.append(entry)
                case S_IFLNK:
                    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: hostPath) else {
                        problems.append("'rootfs': cannot read the link '\(path)'")
                        continue
                    }
                    entry.kind = .symbolicLink
                    entry.target = target
                    entry.size = target.utf8.count
                    entries.append(entry)
                default:
                    problems.append("'rootfs': '\(path)' is a device, FIFO or socket; images get their device files from /dev")
                }
            }
        }
        walk(folder, "")
        if total > maximumTotalBytes {
            problems.append("'rootfs' holds \(total) bytes of files, more than the \(maximumTotalBytes >> 20) MiB an image may carry")
        }
        for index in entries.indices where !entries[index].hostIdentity.isEmpty {
            entries[index].links = identities[entries[index].hostIdentity] ?? 1
        }
        return (RootFileSystemArchive(folder: folder, entries: entries), problems)
    }

    /// The archive's bytes. Fails if a file changed size since the scan or cannot be read.
    public func archive() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(totalBytes + entries.count * 160 + 128)
        var inodes: [String: Int] = [:]
        var lastName: [String: Int] = [:]              // hard-link group → index of its last entry
        for (index, entry) in entries.enumerated() where !entry.hostIdentity.isEmpty { lastName[entry.hostIdentity] = index }
        for (index, entry) in entries.enumerated() {
            var inode = index + 1
            if !entry.hostIdentity.isEmpty {
                inode = inodes[entry.hostIdentity] ?? inode
                inodes[entry.hostIdentity] = inode
            }
            var data: [UInt8] = []
            switch entry.kind {
            case .directory: break
            case .symbolicLink: data = Array(entry.target.utf8)
            case .regular:
                // Hard links carry their data once, on the last name (as GNU cpio writes them).
                if entry.hostIdentity.isEmpty || lastName[entry.hostIdentity] == index {
                    guard let bytes = FileManager.default.contents(atPath: entry.source) else {
                        throw ToolError("rootfs: cannot read '\(entry.path)'")
                    }
                    guard bytes.count == entry.size else {
                        throw ToolError("rootfs: '\(entry.path)' changed size during the build (\(entry.size) → \(bytes.count) bytes)")
                    }
                    data = Array(bytes)
                }
            }
            let links = entry.kind == .directory ? 2 : entry.links
            Self.record(into: &out, name: entry.path, inode: inode, mode: entry.mode, links: links,
                        modificationTime: entry.modificationTime, data: data)
        }
        Self.record(into: &out, name: "TRAILER!!!", inode: 0, mode: 0, links: 1, modificationTime: 0, data: [])
        return out
    }

    static func record(into out: inout [UInt8], name: String, inode: Int, mode: UInt32, links: Int,
                       modificationTime: Int, data: [UInt8]) {
        out += Array("070701".utf8)
        let nameBytes = Array(name.utf8)
        for field in [inode, Int(mode), 0, 0, links, max(modificationTime, 0), data.count, 0, 0, 0, 0, nameBytes.count + 1, 0] {
            let digits = String(UInt32(truncatingIfNeeded: field), radix: 16, uppercase: false)
            out += Array((String(repeating: "0", count: 8 - digits.count) + digits).utf8)
        }
        out += nameBytes
        out.append(0)
        while out.count % 4 != 0 { out.append(0) }
        out += data
        while out.count % 4 != 0 { out.append(0) }
    }
}

extension RootFileSystemArchive {
    /// The assembly that builds `archive` into the image: the bytes in a read-only section, and two
    /// functions (Swift cannot name a data symbol) that lib/fs/files calls. With --gc-sections an image
    /// that never unpacks it drops it.
    static func assembly(archive: String) -> String {
        [
            "// Generated by tessera build: the root file system (cpio newc) - do not edit.",
            "    .section .rodata.tessera_rootfs,\"a\",@progbits",
            "    .balign 16",
            "tessera_rootfs_archive:",
            "    .incbin \(quoted(archive))",
            "tessera_rootfs_archive_end:",
            "    .section .text.tessera_rootfs,\"ax\",@progbits",
            "    .globl tessera_rootfs_archive_get",
            "    .type tessera_rootfs_archive_get, @function",
            "tessera_rootfs_archive_get:",
            "    leaq tessera_rootfs_archive(%rip), %rax",
            "    ret",
            "    .size tessera_rootfs_archive_get, . - tessera_rootfs_archive_get",
            "    .globl tessera_rootfs_archive_size_get",
            "    .type tessera_rootfs_archive_size_get, @function",
            "tessera_rootfs_archive_size_get:",
            "    movq $(tessera_rootfs_archive_end - tessera_rootfs_archive), %rax",
            "    ret",
            "    .size tessera_rootfs_archive_size_get, . - tessera_rootfs_archive_size_get",
        ].joined(separator: "\n") + "\n"
    }

    /// An assembler string literal of `path`'s bytes: [A-Za-z0-9/._+-] as themselves, every other byte
    /// `\ooo`, so no file name can end the string or reach the C preprocessor (clang preprocesses .S).
    static func quoted(_ path: String) -> String {
        var text = "\""
        for byte in path.utf8 {
            let plain = (0x61...0x7A).contains(byte) || (0x41...0x5A).contains(byte) || (0x30...0x39).contains(byte)
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
            if plain {
                text.append(Character(Unicode.Scalar(byte)))
            } else {
                let digits = String(byte, radix: 8)
                text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            }
        }
        return text + "\""
    }
}
