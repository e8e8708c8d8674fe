// ext2 against e2fsprogs: `mke2fs -t ext2 -d FOLDER` builds a disk from a host tree (1 KiB and 4 KiB
// blocks, so direct, indirect and double-indirect blocks, holes, fast and slow links and hard links
// all occur) and the tree read through the VFS equals the host's; debugfs agrees on a file's bytes;
// hostile disks (a bad superblock, random corruption anywhere) are clear errors, never a crash.

import Ext2
import Foundation
import Testing
import VFS

/// A disk image held in memory (read from and saved to a file on the host); counts flushes.
final class FileDisk: Ext2Disk {
    var bytes: [UInt8]
    let writable: Bool
    var flushes = 0
    init(_ bytes: [UInt8], writable: Bool = false) {
        self.bytes = bytes
        self.writable = writable
    }
    var byteCount: UInt64 { UInt64(bytes.count) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard offset <= UInt64(bytes.count), UInt64(buffer.count) <= UInt64(bytes.count) - offset else { return false }
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: buffer.count) }
        return true
    }
    func write(at offset: UInt64, from source: UnsafeRawBufferPointer) -> Bool {
        guard writable, offset <= UInt64(bytes.count), UInt64(source.count) <= UInt64(bytes.count) - offset else { return false }
        bytes.withUnsafeMutableBytes { ($0.baseAddress! + Int(offset)).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        return true
    }
    func flush() -> Bool {
        flushes += 1
        return true
    }
}

func run(_ command: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct Ext2Tests {
    /// The host tree of the CPIO tests plus what ext2 stores differently: a 1 MiB file (indirect and,
    /// at 1 KiB blocks, double-indirect blocks), a sparse file, a slow symbolic link (over 60 bytes).
    func makeTree() throws -> URL {
        let folder = try makeHostTree()
        try Data((0 ..< (1 << 20)).map { UInt8(truncatingIfNeeded: $0 / 7) }).write(to: folder.appendingPathComponent("bin/large"))
        #expect(try run("truncate -s 300K '\(folder.path)/etc/sparse' && printf end >> '\(folder.path)/etc/sparse'").status == 0)
        symlink(String(repeating: "long/", count: 20) + "target", folder.appendingPathComponent("etc/slowlink").path)
        return folder
    }

    func image(of folder: URL, blockSize: Int) throws -> [UInt8] {
        let path = folder.path + "-\(blockSize).img"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let made = try run("mke2fs -q -F -t ext2 -b \(blockSize) -d '\(folder.path)' '\(path)' 8M")
        try #require(made.status == 0, "\(made.output)")
        let check = try run("e2fsck -fn '\(path)'")
        #expect(check.status == 0, "\(check.output)")
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test(arguments: [1024, 4096])
    func aDiskMadeByMke2fsReadsAsTheHostTree(blockSize: Int) throws {
        let folder = try makeTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = try image(of: folder, blockSize: blockSize)
        let ext2 = try Ext2FileSystem(disk: FileDisk(bytes))
        #expect(ext2.blockSize == blockSize)
        let vfs = VirtualFileSystem(root: ext2)
        var mine = try describeVFSTree(vfs)
        mine["/lost+found"] = nil
        #expect(mine == describeHostTree(folder))
        #expect(try vfs.status("/bin/tool").inode == vfs.status("/bin/hardlink").inode)
        #expect(try vfs.status("/etc/sparse").blocks * 512 < 300 * 1024, "the hole takes no blocks")
        #expect(try vfs.readLink("/etc/slowlink").hasSuffix("long/target"))
        // Read-only: every change is EROFS.
        #expect(throws: FileError.readOnly) { try vfs.write([1], to: "/new") }
        #expect(throws: FileError.readOnly) { try vfs.unlink("/etc/hostname") }
        // debugfs agrees on a file's bytes.
        let path = folder.path + "-check.img"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cat = try run("debugfs -R 'cat /etc/hostname' '\(path)' 2>/dev/null")
        #expect(Array(cat.output.utf8) == (try vfs.contents(of: "/etc/hostname")))
    }

    @Test func badSuperblocksAreRefusedWithAReason() throws {
        let folder = try makeTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try image(of: folder, blockSize: 1024)
        func refusal(_ patch: (inout [UInt8]) -> Void) -> String? {
            var bytes = good
            patch(&bytes)
            do { _ = try Ext2FileSystem(disk: FileDisk(bytes)); return nil } catch { return error.message }
        }
        #expect(refusal { $0[1080] = 0 }?.contains("not an ext2 file system") == true)
        #expect(refusal { $0[1024 + 24] = 9 }?.contains("is not 1-64 KiB") == true)
        #expect(refusal { $0[1024 + 96] |= 0x40 }?.contains("incompatible features 0x40") == true)   // extents
        #expect(refusal { $0[1024 + 4 ..< 1024 + 8] = [0xFF, 0xFF, 0xFF, 0x00] }?.contains("do not fit the disk") == true)
        #expect(refusal { $0 = Array($0[0 ..< 1500]) }?.contains("cannot read the superblock") == true)
    }

    /// Lists every directory and reads up to 64 KiB of every file; false at the first error.
    func walk(_ vfs: VirtualFileSystem, _ path: String, depth: Int) -> Bool {
        guard depth < 8, let entries = try? vfs.list(path) else { return false }
        var ok = true
        for entry in entries {
            let child = (path == "/" ? "" : path) + "/" + entry.nameString
            guard let status = try? vfs.status(child, follow: false) else { ok = false; continue }
            switch status.type {
            case .directory: ok = walk(vfs, child, depth: depth + 1) && ok
            case .symbolicLink: ok = (try? vfs.readLink(child)) != nil && ok
            case .regular:
                guard let file = try? File(child, in: vfs) else { ok = false; continue }
                ok = (try? file.read(upTo: 65536)) != nil && ok
                try? file.close()
            default: break
            }
        }
        return ok
    }

    @Test func randomCorruptionIsAnErrorNotACrash() throws {
        let folder = try makeTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = try image(of: folder, blockSize: 1024)
        var generator = SystemRandomNumberGenerator()
        var failures = 0
        for _ in 0 ..< 200 {
            var bytes = good
            // Corrupt metadata-dense areas: the first 300 KiB hold the superblock, descriptors, bitmaps,
            // inode tables and directories.
            for _ in 0 ..< 64 { bytes[Int.random(in: 1024 ..< 300 * 1024, using: &generator)] = UInt8.random(in: 0 ... 255, using: &generator) }
            guard let ext2 = try? Ext2FileSystem(disk: FileDisk(bytes)) else { failures += 1; continue }
            // Walked with bounded reads: a corrupt inode may claim gigabytes of holes, which read as zeros
            // (as on Linux) — reading them all is the reader's choice, not the file system's.
            if !walk(VirtualFileSystem(root: ext2), "/", depth: 0) { failures += 1 }
        }
        #expect(failures < 200, "some corruptions are harmless")
    }
}
