// Ext2FileSystem (lib/fs/ext2). Input: a whole disk image, as a hostile `--disk` file would supply it.
//
// The image is mounted (a refusal is fine) and its tree walked through the VFS — at most 8 levels,
// 2000 names, 64 KiB per file, every link read — so every on-disk structure the reader trusts is
// reached: the superblock, group descriptors, inodes, block maps at every indirection, directory
// records. Then a copy is mounted writable (when its superblock says clean) and changed: files
// created, written past the direct blocks, truncated, renamed over names the disk already had,
// unlinked and removed, so the writer meets hostile bitmaps, counts, link counts and directory
// records too. Any error is fine; reading or writing outside the image or crashing is not.

import Ext2
import VFS

final class FuzzDisk: Ext2Disk {
    let bytes: UnsafeRawBufferPointer
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    var byteCount: UInt64 { UInt64(bytes.count) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard offset <= UInt64(bytes.count), UInt64(buffer.count) <= UInt64(bytes.count) - offset else { return false }
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[Int(offset) ..< Int(offset) + buffer.count]))
        return true
    }
}

/// A writable copy of the input.
final class FuzzWritableDisk: Ext2Disk {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var byteCount: UInt64 { UInt64(bytes.count) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard offset <= UInt64(bytes.count), UInt64(buffer.count) <= UInt64(bytes.count) - offset else { return false }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset) ..< Int(offset) + buffer.count])) }
        return true
    }
    func write(at offset: UInt64, from source: UnsafeRawBufferPointer) -> Bool {
        guard offset <= UInt64(bytes.count), UInt64(source.count) <= UInt64(bytes.count) - offset else { return false }
        bytes.withUnsafeMutableBytes { ($0.baseAddress! + Int(offset)).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        return true
    }
}

/// Changes a writable mount in every way the VFS offers, over names the disk had and new ones.
func change(_ vfs: VirtualFileSystem, existing: [String]) {
    let data = [UInt8](repeating: 0xA5, count: 20_000)
    _ = try? vfs.write(data, to: "/fuzz-new")
    _ = try? vfs.makeDirectory("/fuzz-dir", permissions: 0o755)
    _ = try? vfs.symbolicLink(String(repeating: "t", count: 100), at: "/fuzz-dir/slow")
    for (index, path) in existing.prefix(12).enumerated() {
        switch index % 6 {
        case 0: _ = try? vfs.rename("/fuzz-new", to: path)
        case 1: _ = try? vfs.unlink(path)
        case 2: _ = try? vfs.removeDirectory(path)
        case 3: _ = try? vfs.truncate(path, to: 5000)
        case 4: _ = try? vfs.link(path, to: "/fuzz-dir/link\(index)")
        default: _ = try? vfs.rename(path, to: "/fuzz-dir/moved\(index)")
        }
        if let fd = try? vfs.open(Array(path.utf8), [.writeOnly, .append]) {
            _ = data.withUnsafeBytes { try? vfs.write(fd, $0) }
            try? vfs.close(fd)
        }
    }
    _ = try? vfs.truncate("/fuzz-new", to: 0)
    vfs.shutdown()
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let ext2 = try? Ext2FileSystem(disk: FuzzDisk(UnsafeRawBufferPointer(start: data, count: size))) else { return 0 }
    let vfs = VirtualFileSystem(root: ext2)
    var budget = 2000
    var seen: [String] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    func walk(_ path: String, depth: Int) {
        guard depth < 8, let entries = try? vfs.list(path) else { return }
        for entry in entries {
            budget -= 1
            if budget <= 0 { return }
            let child = (path == "/" ? "" : path) + "/" + entry.nameString
            seen.append(child)
            guard let status = try? vfs.status(child, follow: false) else { continue }
            switch status.type {
            case .directory: walk(child, depth: depth + 1)
            case .symbolicLink: _ = try? vfs.readLink(child)
            case .regular:
                if let fd = try? vfs.open(Array(child.utf8), []) {
                    _ = buffer.withUnsafeMutableBytes { try? vfs.read(fd, into: $0) }
                    try? vfs.close(fd)
                }
            default: break
            }
        }
    }
    walk("/", depth: 0)
    let copy = FuzzWritableDisk(Array(UnsafeRawBufferPointer(start: data, count: size)))
    if let writable = try? Ext2FileSystem(disk: copy, writable: true) {
        change(VirtualFileSystem(root: writable), existing: seen)
    }
    return 0
}
