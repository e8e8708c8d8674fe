// The VFS and ramfs on their own: descriptors and offsets (read(2), write(2), lseek(2), dup(2),
// O_APPEND), files unlinked while open, directory listings that stay stable while the directory
// changes, mounts (crossing, "..", EXDEV, EBUSY), the symbolic-link limit, getcwd, and ramfs's size
// limit. Data I/O is also compared with a host file byte for byte.

import Foundation
import Glibc
import Testing
import RamFS
import VFS

@Suite struct VFSBehaviourTests {
    func make(limit: Int64 = 0) -> VirtualFileSystem { VirtualFileSystem(root: RamFileSystem(limit: limit)) }

    func read(_ vfs: VirtualFileSystem, _ fd: Int32, _ count: Int) throws -> [UInt8] {
        try File(fileSystem: vfs, descriptor: fd).read(upTo: count)
    }

    @Test func readWriteSeekAndPositionedIOMatchAHostFileByteForByte() throws {
        let vfs = make()
        let path = NSTemporaryDirectory() + "tessera-io-\(getpid())"
        defer { unlink(path) }
        let hostFD = Glibc.open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        defer { Glibc.close(hostFD) }
        let fd = try vfs.open("/data", [.readWrite, .create, .truncate])
        var random = SeededGenerator(state: 42)
        for step in 0 ..< 3000 {
            let choice = Int.random(in: 0 ..< 6, using: &random)
            let offset = Int64.random(in: 0 ... 20_000, using: &random)
            let count = Int.random(in: 0 ... 3000, using: &random)
            let bytes = (0 ..< count).map { _ in UInt8.random(in: 0 ... 255, using: &random) }
            var hostBuffer = [UInt8](repeating: 0, count: count)
            var vfsBuffer = [UInt8](repeating: 0, count: count)
            let host: Int, mine: Int
            switch choice {
            case 0:
                host = Glibc.write(hostFD, bytes, count)
                mine = try bytes.withUnsafeBytes { try vfs.write(fd, $0) }
            case 1:
                host = Glibc.read(hostFD, &hostBuffer, count)
                mine = try vfsBuffer.withUnsafeMutableBytes { try vfs.read(fd, into: $0) }
            case 2:
                host = pwrite(hostFD, bytes, count, off_t(offset))
                mine = try bytes.withUnsafeBytes { try vfs.write(fd, at: offset, $0) }
            case 3:
                host = pread(hostFD, &hostBuffer, count, off_t(offset))
                mine = try vfsBuffer.withUnsafeMutableBytes { try vfs.read(fd, at: offset, into: $0) }
            case 4:
                let origin = SeekOrigin(rawValue: Int32.random(in: 0 ... 2, using: &random))!
                let delta = origin == .start ? offset : offset - 10_000
                host = Int(lseek(hostFD, off_t(delta), origin.rawValue))
                mine = Int((try? vfs.seek(fd, to: delta, from: origin)) ?? -1)
            default:
                let size = Int64(count * 5)
                host = Int(ftruncate(hostFD, off_t(size)))
                try vfs.truncate(fd, to: size)
                mine = 0
            }
            #expect(host == mine, "step \(step) operation \(choice)")
            #expect(hostBuffer == vfsBuffer, "step \(step)")
            if host != mine || hostBuffer != vfsBuffer { return }
        }
        var info = stat()
        fstat(hostFD, &info)
        let status = try vfs.status(fd)
        #expect(status.size == Int64(info.st_size))
        // Like tmpfs: whole 4 KiB pages, and only those written (holes cost nothing).
        #expect(status.blocks % 8 == 0 && status.blocks * 512 <= (status.size + 4095) / 4096 * 4096, "\(status.blocks)")
    }

    @Test func dupSharesTheOffsetAndOAppendWritesAtTheEnd() throws {
        let vfs = make()
        try vfs.write(Array("hello".utf8), to: "/f")
        let fd = try vfs.open("/f", [.readWrite, .append])
        let copy = try vfs.duplicate(fd)
        #expect(copy == fd + 1)
        #expect(try read(vfs, fd, 2) == Array("he".utf8))
        #expect(try read(vfs, copy, 2) == Array("ll".utf8))          // dup(2): one description, one offset
        try File(fileSystem: vfs, descriptor: copy).write(" world")  // O_APPEND: at the end, not at 4
        #expect(try vfs.contents(of: "/f") == Array("hello world".utf8))
        #expect(try vfs.seek(fd, to: 0, from: .current) == 11)
        let target = try vfs.duplicate(fd, to: 9)
        #expect(target == 9)
        try vfs.close(fd)
        try vfs.close(copy)
        #expect(try vfs.seek(9, to: 0, from: .current) == 11)
        #expect(throws: FileError.badDescriptor) { try vfs.close(fd) }
        let readOnly = try vfs.open("/f", [])
        #expect(readOnly == 0)                                        // the lowest free number
        #expect(throws: FileError.badDescriptor) { try File(fileSystem: vfs, descriptor: readOnly).write("x") }
    }

    @Test func aFileUnlinkedWhileOpenLivesUntilItsLastClose() throws {
        let ramfs = RamFileSystem()
        let vfs = VirtualFileSystem(root: ramfs)
        try vfs.write([UInt8](repeating: 7, count: 5000), to: "/gone")
        let before = ramfs.usedBytes
        let fd = try vfs.open("/gone", [])
        try vfs.unlink("/gone")
        #expect(throws: FileError.noEntry) { try vfs.status("/gone") }
        #expect(try vfs.status(fd).linkCount == 0)
        #expect(try read(vfs, fd, 10_000).count == 5000)
        #expect(ramfs.usedBytes == before - 256)                     // only the name is gone
        try vfs.close(fd)
        #expect(ramfs.usedBytes < before - 5000)
    }

    @Test func listingsNeitherRepeatNorSkipSurvivorsWhileTheDirectoryChanges() throws {
        let vfs = make()
        try vfs.makeDirectory("/d")
        for index in 0 ..< 300 { try vfs.write([], to: "/d/f\(index)") }
        let fd = try vfs.open("/d", [.directory])
        var seen: [String] = []
        var removed = Set<String>()
        var round = 0
        while true {
            let page = try vfs.readDirectory(fd, limit: 17)
            if page.isEmpty { break }
            seen += page.map(\.nameString)
            // Between pages: remove some names not yet seen and some seen, add new ones.
            for index in stride(from: round * 7, to: 300, by: 41) where !seen.contains("f\(index)") {
                if (try? vfs.unlink("/d/f\(index)")) != nil { removed.insert("f\(index)") }
            }
            // A name created during the listing may or may not be listed (POSIX); creating one per
            // page forever would keep a reader busy forever, as on Linux, so only the first ten.
            if round < 10 { try vfs.write([], to: "/d/new\(round)") }
            round += 1
        }
        #expect(seen.prefix(2) == [".", ".."])
        #expect(Set(seen).count == seen.count, "a name was listed twice")
        for index in 0 ..< 300 where !removed.contains("f\(index)") {
            #expect(seen.contains("f\(index)"), "f\(index) survived but was skipped")
        }
        // A saved position (telldir) resumes there.
        _ = try vfs.seek(fd, to: 0, from: .start)
        let first = try vfs.readDirectory(fd, limit: 5)
        let mark = try vfs.seek(fd, to: 0, from: .current)
        let next = try vfs.readDirectory(fd, limit: 5)
        _ = try vfs.seek(fd, to: mark, from: .start)
        #expect(try vfs.readDirectory(fd, limit: 5) == next)
        #expect(first.count == 5)
    }

    @Test func mountsAreCrossedBothWaysAndGuardTheirEdges() throws {
        let vfs = make()
        try vfs.makeDirectory("/mnt")
        try vfs.write(Array("under".utf8), to: "/mnt/hidden")
        let inner = RamFileSystem(limit: 64 * 1024)
        try vfs.mount(inner, at: "/mnt")
        #expect(throws: FileError.noEntry) { try vfs.status("/mnt/hidden") }
        try vfs.makeDirectory("/mnt/sub")
        try vfs.write(Array("inside".utf8), to: "/mnt/sub/file")
        #expect(try vfs.contents(of: "/mnt/sub/../../mnt/sub/file") == Array("inside".utf8))
        #expect(try vfs.status("/mnt/..").inode == vfs.status("/").inode)
        #expect(try vfs.status("/mnt").device != vfs.status("/").device)
        try vfs.changeDirectory("/mnt/sub")
        #expect(String(decoding: try vfs.currentDirectory(), as: UTF8.self) == "/mnt/sub")
        #expect(try vfs.contents(of: "../../mnt/sub/file") == Array("inside".utf8))
        #expect(throws: FileError.crossDevice) { try vfs.rename("/mnt/sub/file", to: "/file") }
        #expect(throws: FileError.crossDevice) { try vfs.link("/mnt/sub/file", to: "/file") }
        #expect(throws: FileError.busy) { try vfs.removeDirectory("/mnt") }
        #expect(throws: FileError.busy) { try vfs.rename("/mnt", to: "/elsewhere") }
        #expect(throws: FileError.busy) { try vfs.mount(RamFileSystem(), at: "/mnt") }
        #expect(throws: FileError.busy) { try vfs.unmount("/mnt") }     // the working directory is in it
        try vfs.changeDirectory("/")
        let fd = try vfs.open("/mnt/sub/file", [])
        #expect(throws: FileError.busy) { try vfs.unmount("/mnt") }     // a file is open in it
        try vfs.close(fd)
        #expect(vfs.mountTable.map(\.path) == ["/", "/mnt"])
        try vfs.unmount("/mnt")
        #expect(try vfs.contents(of: "/mnt/hidden") == Array("under".utf8))
    }

    @Test func fortySymbolicLinksResolveAndTheFortyFirstIsELOOP() throws {
        let vfs = make()
        try vfs.write(Array("end".utf8), to: "/l0")
        for index in 1 ... 41 { try vfs.symbolicLink("l\(index - 1)", at: "/l\(index)") }
        #expect(try vfs.contents(of: "/l40") == Array("end".utf8))
        #expect(throws: FileError.loop) { try vfs.contents(of: "/l41") }
        #expect(try vfs.status("/l41", follow: false).type == .symbolicLink)
        #expect(try vfs.readLink("/l41") == "l40")
        #expect(throws: FileError.nameTooLong) { try vfs.status("/" + String(repeating: "n", count: 256)) }
    }

    @Test func ramfsRefusesWhatPassesItsLimitAndChangesNothing() throws {
        let ramfs = RamFileSystem(limit: 16 * 1024)
        let vfs = VirtualFileSystem(root: ramfs)
        try vfs.write([UInt8](repeating: 1, count: 8 * 1024), to: "/a")
        let used = ramfs.usedBytes
        let fd = try vfs.open("/a", [.writeOnly, .append])
        #expect(throws: FileError.noSpace) { try File(fileSystem: vfs, descriptor: fd).write([UInt8](repeating: 2, count: 8 * 1024)) }
        #expect(try vfs.status("/a").size == 8 * 1024)
        #expect(ramfs.usedBytes == used)
        // Growing by truncate makes a hole, which costs nothing (tmpfs); writing into it is charged.
        try vfs.truncate("/a", to: 1 << 20)
        #expect(ramfs.usedBytes == used)
        #expect(throws: FileError.noSpace) { try vfs.writeAt("/a", offset: 512 * 1024, [UInt8](repeating: 4, count: 8 * 1024)) }
        #expect(try vfs.status("/a").size == 1 << 20)
        try vfs.truncate("/a", to: 8 * 1024)
        var created = 0
        while (try? vfs.write([], to: "/empty\(created)")) != nil { created += 1 }
        #expect(created > 0 && created < 40, "empty files count against the limit too")
        #expect(ramfs.usage.usedBytes <= 16 * 1024)
        try vfs.unlink("/a")
        #expect(throws: FileError.noSpace) { try vfs.write([UInt8](repeating: 3, count: 4 * 1024), to: "/b") }  // still open
        try vfs.close(fd)
        try vfs.write([UInt8](repeating: 3, count: 4 * 1024), to: "/b")  // room again
    }

    @Test func holesReadAsZerosAndCostNothingAndAFarWriteCostsOnePage() throws {
        let ramfs = RamFileSystem(limit: 64 * 1024)
        let vfs = VirtualFileSystem(root: ramfs)
        try vfs.write(Array("head".utf8), to: "/sparse")
        let used = ramfs.usedBytes
        try vfs.truncate("/sparse", to: 1 << 30)
        #expect(try vfs.status("/sparse").blocks == 8)
        #expect(ramfs.usedBytes == used)
        #expect(try vfs.readAt("/sparse", offset: 1 << 29, count: 16) == [UInt8](repeating: 0, count: 16))
        // 100 GiB out: one page charged, not a table of twenty-five million.
        try vfs.writeAt("/sparse", offset: 100 << 30, Array("tail".utf8))
        #expect(try vfs.status("/sparse").size == (100 << 30) + 4)
        #expect(try vfs.status("/sparse").blocks == 16)
        #expect(ramfs.usedBytes == used + 4096)
        #expect(try vfs.readAt("/sparse", offset: 100 << 30, count: 8) == Array("tail".utf8))
        // Shrinking releases pages and zeroes the tail of the last one: growing again reads zeros.
        try vfs.truncate("/sparse", to: 2)
        #expect(ramfs.usedBytes == used)
        try vfs.truncate("/sparse", to: 4)
        #expect(try vfs.contents(of: "/sparse") == Array("he".utf8) + [0, 0])
    }

    @Test func aHeapThatRunsOutIsENOMEMAndChangesNothing() throws {
        var budget = 3
        let pages = PageSource(allocate: {
            guard budget > 0 else { return nil }
            budget -= 1
            return UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        }, release: { $0.deallocate(); budget += 1 })
        let ramfs = RamFileSystem(pages: pages)
        let vfs = VirtualFileSystem(root: ramfs)
        try vfs.write([UInt8](repeating: 7, count: 4096), to: "/f")
        let used = ramfs.usedBytes
        #expect(throws: FileError.noMemory) { try vfs.writeAt("/f", offset: 4096, [UInt8](repeating: 8, count: 3 * 4096)) }
        #expect(try vfs.status("/f").size == 4096)
        #expect(ramfs.usedBytes == used)
        #expect(budget == 2)
        try vfs.writeAt("/f", offset: 4096, [UInt8](repeating: 8, count: 2 * 4096))
        #expect(try vfs.contents(of: "/f") == [UInt8](repeating: 7, count: 4096) + [UInt8](repeating: 8, count: 8192))
    }

    @Test func umaskAndPermissionsAndTimesAreKept() throws {
        var now = TimeSpec(seconds: 1_700_000_000, nanoseconds: 5)
        let ramfs = RamFileSystem(clock: { now })
        let vfs = VirtualFileSystem(root: ramfs)
        let fd = try vfs.open("/f", [.create, .writeOnly], permissions: 0o666)
        #expect(try vfs.status(fd).permissions == 0o644)
        #expect(try vfs.status(fd).modificationTime == now)
        now = TimeSpec(seconds: 1_700_000_100, nanoseconds: 7)
        try File(fileSystem: vfs, descriptor: fd).write("x")
        #expect(try vfs.status(fd).modificationTime == now)
        try vfs.setAttributes(Array("/f".utf8), permissions: 0o600, userID: 1000, groupID: 100)
        let status = try vfs.status(fd)
        #expect(status.permissions == 0o600 && status.userID == 1000 && status.groupID == 100)
        #expect(status.mode == 0o100600)
        try vfs.makeDirectory("/d", permissions: 0o777)
        #expect(try vfs.status("/d").mode == 0o40755)
        #expect(try vfs.status("/").linkCount == 3)
    }
}

extension VirtualFileSystem {
    /// pwrite on a fresh descriptor.
    func writeAt(_ path: String, offset: Int64, _ bytes: [UInt8]) throws {
        let fd = try open(Array(path.utf8), [.writeOnly])
        defer { try? close(fd) }
        _ = try bytes.withUnsafeBytes { buffer in try write(fd, at: offset, buffer) }
    }

    /// pread on a fresh descriptor.
    func readAt(_ path: String, offset: Int64, count: Int) throws -> [UInt8] {
        let fd = try open(Array(path.utf8), [])
        defer { try? close(fd) }
        var buffer = [UInt8](repeating: 0xFF, count: count)
        let got = try buffer.withUnsafeMutableBytes { raw in try read(fd, at: offset, into: raw) }
        return Array(buffer[..<got])
    }
}
