// Ext2FileSystem (lib/fs/ext2). Input: a whole disk image, as a hostile `--disk` file would supply it.
//
// The image is mounted (a refusal is fine) and its tree walked through the VFS — at most 8 levels,
// 2000 names, 64 KiB per file, every link read — so every on-disk structure the reader trusts is
// reached: the superblock, group descriptors, inodes, block maps at every indirection, directory
// records. Any error is fine; reading outside the image or crashing is not (the disk's `read` checks
// its range with a precondition).

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

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let ext2 = try? Ext2FileSystem(disk: FuzzDisk(UnsafeRawBufferPointer(start: data, count: size))) else { return 0 }
    let vfs = VirtualFileSystem(root: ext2)
    var budget = 2000
    var buffer = [UInt8](repeating: 0, count: 65536)
    func walk(_ path: String, depth: Int) {
        guard depth < 8, let entries = try? vfs.list(path) else { return }
        for entry in entries {
            budget -= 1
            if budget <= 0 { return }
            let child = (path == "/" ? "" : path) + "/" + entry.nameString
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
    return 0
}
