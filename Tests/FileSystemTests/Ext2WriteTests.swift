// ext2 writing against Linux and e2fsprogs: the differential script of VFSDifferentialTests run on a
// writable ext2 (made by mke2fs) gives the host's results and errno values; afterwards `e2fsck -fn`
// finds no error and the tree read back — by our reader and by `debugfs rdump` — is the host's. Large,
// sparse and triple-indirect files, directories of many blocks, links, devices, truncation, a full disk,
// unlinked open files and the clean-unmount state are checked the same way.

import Ext2
import Foundation
import Glibc
import Testing
import VFS

/// An empty ext2 disk made by mke2fs, mounted writable, saved back to a file for e2fsprogs.
final class Ext2Scratch {
    let path: String
    let disk: FileDisk
    let ext2: Ext2FileSystem

    init(blockSize: Int, size: String = "16M", options: String = "") throws {
        path = NSTemporaryDirectory() + "tessera-ext2-\(getpid())-\(UInt32.random(in: 0 ... .max)).img"
        let made = try run("mke2fs -q -F -t ext2 -b \(blockSize) \(options) '\(path)' \(size)")
        try #require(made.status == 0, "\(made.output)")
        disk = FileDisk(Array(try Data(contentsOf: URL(fileURLWithPath: path))), writable: true)
        ext2 = try Ext2FileSystem(disk: disk, writable: true) { UInt32(time(nil)) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes the disk's bytes to the image file (after `unmounted`, as a clean shutdown would).
    func save() throws { try Data(disk.bytes).write(to: URL(fileURLWithPath: path)) }

    /// `e2fsck -fn`: its exit status and report.
    func check() throws -> (status: Int32, output: String) {
        try save()
        return try run("e2fsck -fn '\(path)' 2>&1")
    }
}

@Suite(.serialized) struct Ext2WriteTests {
    @Test(arguments: [(1, 1024), (2, 4096), (3, 1024), (4, 4096)] as [(UInt64, Int)])
    func randomSequencesOnExt2GiveTheHostsResultsAndE2fsckFindsNoError(seed: UInt64, blockSize: Int) throws {
        let scratch = try Ext2Scratch(blockSize: blockSize)
        let host = HostSandbox()
        let vfs = VFSSandbox(scratch.ext2)
        guard VFSDifferentialTests.runSideBySide(host, vfs, seed: seed, steps: 2000, label: "ext2") else { return }
        #expect(host.tree() == vfs.tree(), "seed \(seed)")
        try? vfs.fileSystem.close(vfs.directory)
        vfs.fileSystem.shutdown()
        let check = try scratch.check()
        #expect(check.status == 0, "\(check.output)")
        // Mounted again (read-only), the disk holds the same tree.
        let again = VFSSandbox(try Ext2FileSystem(disk: FileDisk(scratch.disk.bytes)), existing: true)
        #expect(again.tree() == host.tree())
    }

    /// The man-page cases of the differential suite, on ext2.
    @Test func manPageCasesOnExt2GiveTheHostsErrno() throws {
        for blockSize in [1024, 4096] {
            let scratch = try Ext2Scratch(blockSize: blockSize)
            let host = HostSandbox()
            let vfs = VFSSandbox(scratch.ext2)
            let operations: [FileOperation] = [
                .makeDirectory("d"), .makeDirectory("d/e"), .rename("d", "d/e/f"), .makeDirectory("t"), .open("t/f", [.create, .writeOnly], write: 3),
                .rename("d", "t"), .open("f", [.create, .writeOnly], write: 5), .rename("d", "f"), .rename("f", "d"), .rename("f", "f"),
                .link("f", "g"), .rename("f", "g"), .status("f"), .status("g"), .makeDirectory("u"), .rename("d", "u"), .status("u/e"),
                .rename("u/e", "t/e2"), .removeDirectory("u"), .removeDirectory("t"), .unlink("t/f"), .removeDirectory("t/e2"), .removeDirectory("t"),
                .symbolicLink(target: String(repeating: "long/", count: 30), "slow"), .readLink("slow"), .unlink("slow"), .link("d", "e"),
            ]
            for operation in operations {
                let expected = host.run(operation)
                #expect(vfs.run(operation) == expected, "\(operation): Linux says \(expected)")
            }
            #expect(host.tree() == vfs.tree())
            try? vfs.fileSystem.close(vfs.directory)
            vfs.fileSystem.shutdown()
            let check = try scratch.check()
            #expect(check.status == 0, "\(check.output)")
        }
    }

    @Test(arguments: [1024, 4096])
    func largeSparseAndSpecialFilesReadBackThroughDebugfs(blockSize: Int) throws {
        let scratch = try Ext2Scratch(blockSize: blockSize, size: "48M")
        let vfs = VirtualFileSystem(root: scratch.ext2)
        let initialUse = scratch.ext2.usage.usedBytes
        // 20 MiB in 64 KiB writes: direct, indirect and double-indirect blocks.
        let big = try File("/big", [.writeOnly, .create], in: vfs)
        let pattern = (0 ..< 65536).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        for _ in 0 ..< 320 { try big.write(pattern) }
        try big.close()
        // A sparse file: bytes at 0, 5 MiB and 70 MiB (triple-indirect at 1 KiB blocks); holes read as zeros.
        let sparse = try File("/sparse", [.readWrite, .create], in: vfs)
        for offset in [0, 5 << 20, 70 << 20] as [Int64] {
            _ = try sparse.seek(to: offset)
            try sparse.write("mark@\(offset)")
        }
        _ = try sparse.seek(to: 3 << 20)
        #expect(try sparse.read(upTo: 4) == [0, 0, 0, 0])
        try sparse.close()
        #expect(try vfs.status("/sparse").blocks * 512 < 64 * 1024, "holes take no blocks")
        try vfs.makeDirectory("/dir", permissions: 0o750)
        try vfs.symbolicLink("../big", at: "/dir/fast")
        try vfs.symbolicLink(String(repeating: "x", count: 200), at: "/dir/slow")
        try vfs.link("/big", to: "/dir/hard")
        try vfs.makeNode(Array("/dir/null".utf8), type: .characterDevice, permissions: 0o666, device: 0x0103)
        try vfs.makeNode(Array("/dir/wide".utf8), type: .characterDevice, permissions: 0o600, device: UInt64(300) << 8 | 70 | UInt64(70000 >> 8) << 20)
        vfs.shutdown()
        var check = try scratch.check()
        #expect(check.status == 0, "\(check.output)")

        // debugfs extracts the tree; it is what the guest wrote, byte for byte.
        let out = scratch.path + ".out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let dump = try run("debugfs -R 'rdump / \(out)' '\(scratch.path)' 2>&1")
        #expect(dump.status == 0, "\(dump.output)")
        var mine = try describeVFSTree(vfs)
        var theirs = describeHostTree(URL(fileURLWithPath: out))
        for name in ["/lost+found", "/dir/null", "/dir/wide"] { mine[name] = nil; theirs[name] = nil }
        #expect(mine == theirs)
        let stat = try run("debugfs -R 'stat /dir/null' '\(scratch.path)' 2>/dev/null; debugfs -R 'stat /dir/wide' '\(scratch.path)' 2>/dev/null")
        #expect(stat.output.contains("Device major/minor number: 01:03"), "\(stat.output)")
        #expect(try vfs.status("/dir/wide").representedDevice == UInt64(300) << 8 | 70 | UInt64(70000 >> 8) << 20)
        #expect(try vfs.status("/big").linkCount == 2)

        // Shrinking frees blocks (e2fsck agrees on the counts); deleting everything gives them all back.
        let disk2 = FileDisk(scratch.disk.bytes, writable: true)
        let again = try Ext2FileSystem(disk: disk2, writable: true)
        let vfs2 = VirtualFileSystem(root: again)
        let before = again.usage.usedBytes
        try vfs2.truncate("/big", to: 10 << 20 + 123)
        #expect(again.usage.usedBytes < before - (9 << 20))
        #expect(try Array(vfs2.contents(of: "/big")[(10 << 20) ..< (10 << 20 + 123)]) == Array(pattern[0 ..< 123]))
        try vfs2.truncate("/big", to: 12 << 20)                // grows with a hole: the old tail reads as zeros
        #expect(try vfs2.contents(of: "/big")[10 << 20 + 200] == 0)
        for path in ["/big", "/sparse", "/dir/hard", "/dir/fast", "/dir/slow", "/dir/null", "/dir/wide"] { try vfs2.unlink(path) }
        try vfs2.removeDirectory("/dir")
        #expect(again.usage.usedBytes == initialUse)
        vfs2.shutdown()
        try Data(disk2.bytes).write(to: URL(fileURLWithPath: scratch.path))
        check = try run("e2fsck -fn '\(scratch.path)' 2>&1")
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func aFullDiskIsAShortWriteThenENOSPCAndE2fsckStaysClean() throws {
        let scratch = try Ext2Scratch(blockSize: 1024, size: "2M")
        let vfs = VirtualFileSystem(root: scratch.ext2)
        let file = try File("/fill", [.writeOnly, .create], in: vfs)
        var written = 0
        var failure: FileError? = nil
        let chunk = [UInt8](repeating: 0x5A, count: 100_000)
        while failure == nil && written < 4 << 20 {
            do {
                let count = try chunk.withUnsafeBytes { try vfs.write(file.descriptor, $0) }
                written += count
            } catch {
                failure = error as? FileError
            }
        }
        #expect(failure == .noSpace)
        #expect(written > 1 << 20 && written < 2 << 20)
        #expect(throws: FileError.noSpace) { try vfs.makeDirectory("/more", permissions: 0o755) }
        try file.close()
        #expect(try vfs.status("/fill").size == Int64(written))
        vfs.shutdown()
        let check = try scratch.check()
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func anUnlinkedOpenFileLivesUntilItsLastClose() throws {
        let scratch = try Ext2Scratch(blockSize: 4096)
        let vfs = VirtualFileSystem(root: scratch.ext2)
        let initialUse = scratch.ext2.usage.usedBytes
        let file = try File("/tmpfile", [.readWrite, .create], in: vfs)
        try file.write([UInt8](repeating: 1, count: 100_000))
        try vfs.unlink("/tmpfile")
        #expect(throws: FileError.noEntry) { try vfs.status("/tmpfile") }
        _ = try file.seek(to: 99_999)
        #expect(try file.read(upTo: 10) == [1])
        #expect(scratch.ext2.usage.usedBytes > initialUse)
        try file.close()
        #expect(scratch.ext2.usage.usedBytes == initialUse)
        vfs.shutdown()
        let check = try scratch.check()
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func aDirectoryOfManyBlocksListsEveryNameOnceWhileItChanges() throws {
        let scratch = try Ext2Scratch(blockSize: 1024)
        let vfs = VirtualFileSystem(root: scratch.ext2)
        try vfs.makeDirectory("/many", permissions: 0o755)
        let names = (0 ..< 600).map { "entry-\($0)-" + String(repeating: "n", count: $0 % 40) }
        for name in names { try vfs.write([1], to: "/many/" + name) }
        #expect(try vfs.status("/many").size > 20 * 1024)
        // Remove every third name while listing page by page: the survivors appear exactly once.
        let directory = try vfs.open("/many", [.directory])
        var seen: [String] = []
        var removed = Set<String>()
        while true {
            let page = try vfs.readDirectory(directory, limit: 25)
            if page.isEmpty { break }
            seen += page.map(\.nameString)
            for name in names.enumerated() where name.offset % 3 == 0 && !removed.contains(name.element) && removed.count < (seen.count / 3) {
                try vfs.unlink("/many/" + name.element)
                removed.insert(name.element)
            }
        }
        try vfs.close(directory)
        let survivors = Set(names).subtracting(removed)
        #expect(Set(seen).isSuperset(of: survivors))
        #expect(seen.count == Set(seen).count, "no name twice")
        for name in survivors { try vfs.unlink("/many/" + name) }
        try vfs.removeDirectory("/many")
        vfs.shutdown()
        let check = try scratch.check()
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func aDiskNotCleanlyUnmountedIsRefusedForWritingUntilE2fsckMendsIt() throws {
        let scratch = try Ext2Scratch(blockSize: 1024)
        let vfs = VirtualFileSystem(root: scratch.ext2)
        try vfs.write(Array("kept\n".utf8), to: "/fsynced")
        let file = try File("/fsynced", [.readOnly], in: vfs)
        try file.sync()
        try file.close()
        #expect(scratch.disk.flushes >= 2)
        // The VM "dies" here: no shutdown. The disk says it is in use.
        let crashed = scratch.disk.bytes
        do {
            _ = try Ext2FileSystem(disk: FileDisk(crashed, writable: true), writable: true)
            Issue.record("a disk left mounted was mounted writable again")
        } catch {
            #expect(error.message.contains("not cleanly unmounted"))
        }
        let readOnly = VirtualFileSystem(root: try Ext2FileSystem(disk: FileDisk(crashed)))
        #expect(try readOnly.contents(of: "/fsynced") == Array("kept\n".utf8))
        try Data(crashed).write(to: URL(fileURLWithPath: scratch.path))
        let repair = try run("e2fsck -p '\(scratch.path)' 2>&1")
        #expect(repair.status <= 1, "\(repair.output)")
        let mended = Array(try Data(contentsOf: URL(fileURLWithPath: scratch.path)))
        let writable = VirtualFileSystem(root: try Ext2FileSystem(disk: FileDisk(mended, writable: true), writable: true))
        #expect(try writable.contents(of: "/fsynced") == Array("kept\n".utf8))
    }
}
