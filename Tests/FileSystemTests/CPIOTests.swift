// cpio newc both ways against GNU cpio: an archive the host's `cpio -o -H newc` wrote unpacks into a
// ramfs as the same tree (types, modes with set-id and sticky bits, contents, link targets, hard
// links, times), and hostile archives — every truncation, random corruption, names that leave the
// root — are errors or skipped records, never a crash or a file outside the root.

import CPIO
import Foundation
import RamFS
import Testing
import VFS

/// A host folder with every kind of entry a root file system holds.
func makeHostTree() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-cpio-\(UUID().uuidString)")
    let fm = FileManager.default
    try fm.createDirectory(at: folder.appendingPathComponent("etc/ssl"), withIntermediateDirectories: true)
    try fm.createDirectory(at: folder.appendingPathComponent("bin"), withIntermediateDirectories: true)
    try fm.createDirectory(at: folder.appendingPathComponent("empty"), withIntermediateDirectories: true)
    try Data("tessera\n".utf8).write(to: folder.appendingPathComponent("etc/hostname"))
    try Data().write(to: folder.appendingPathComponent("etc/empty-file"))
    try Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: folder.appendingPathComponent("bin/tool"))
    try Data("#!/bin/sh\n".utf8).write(to: folder.appendingPathComponent("bin/setuid"))
    chmod(folder.appendingPathComponent("bin/tool").path, 0o755)
    chmod(folder.appendingPathComponent("bin/setuid").path, 0o4755)
    chmod(folder.appendingPathComponent("etc/ssl").path, 0o700)
    chmod(folder.appendingPathComponent("empty").path, 0o1777)
    symlink("tool", folder.appendingPathComponent("bin/alias").path)
    symlink("/does/not/exist", folder.appendingPathComponent("etc/dangling").path)
    link(folder.appendingPathComponent("bin/tool").path, folder.appendingPathComponent("bin/hardlink").path)
    var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
    utimensat(AT_FDCWD, folder.appendingPathComponent("etc/hostname").path, &times, 0)
    return folder
}

/// What the host says about every entry below `folder`: path → (mode, size, link target, content hash).
func describeHostTree(_ folder: URL) -> [String: String] {
    var result: [String: String] = [:]
    let enumerator = FileManager.default.enumerator(atPath: folder.path)!
    while let relative = enumerator.nextObject() as? String {
        var info = stat()
        let path = folder.appendingPathComponent(relative).path
        lstat(path, &info)
        var line = String(info.st_mode, radix: 8)
        if info.st_mode & S_IFMT == S_IFREG {
            let bytes = FileManager.default.contents(atPath: path) ?? Data()
            line += " \(bytes.count) \(bytes.reduce(UInt32(2166136261)) { ($0 ^ UInt32($1)) &* 16777619 })"
        }
        if info.st_mode & S_IFMT == S_IFLNK { line += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?") }
        result["/" + relative] = line
    }
    return result
}

func describeVFSTree(_ vfs: VirtualFileSystem, _ directory: String = "/") throws -> [String: String] {
    var result: [String: String] = [:]
    for entry in try vfs.list(directory) {
        let path = (directory == "/" ? "" : directory) + "/" + entry.nameString
        let status = try vfs.status(path, follow: false)
        var line = String(status.mode, radix: 8)
        if status.type == .regular {
            let bytes = try vfs.contents(of: path)
            line += " \(bytes.count) \(bytes.reduce(UInt32(2166136261)) { ($0 ^ UInt32($1)) &* 16777619 })"
        }
        if status.type == .symbolicLink { line += " -> " + (try vfs.readLink(path)) }
        result[path] = line
        if status.isDirectory { result.merge(try describeVFSTree(vfs, path)) { a, _ in a } }
    }
    return result
}

/// `find . | cpio -o -H newc` in `folder`.
func hostArchive(_ folder: URL) throws -> [UInt8] {
    let shell = Process()
    shell.executableURL = URL(fileURLWithPath: "/bin/sh")
    shell.arguments = ["-c", "cd '\(folder.path)' && find . | LC_ALL=C sort | cpio -o -H newc --quiet"]
    let pipe = Pipe()
    shell.standardOutput = pipe
    try shell.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    shell.waitUntilExit()
    #expect(shell.terminationStatus == 0)
    return Array(data)
}

@Suite struct CPIOTests {
    @Test func anArchiveFromGNUCpioUnpacksAsTheSameTree() throws {
        let folder = try makeHostTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let archive = try hostArchive(folder)
        let vfs = VirtualFileSystem(root: RamFileSystem())
        let summary = archive.withUnsafeBytes { CPIOUnpacker.unpack($0, into: vfs) }
        #expect(summary.problems.isEmpty, "\(summary.problems)")
        #expect(try describeVFSTree(vfs) == describeHostTree(folder))
        #expect(try vfs.status("/bin/tool").inode == vfs.status("/bin/hardlink").inode, "hard links stay one file")
        #expect(try vfs.status("/bin/tool").linkCount == 2)
        #expect(try vfs.status("/etc/hostname").modificationTime.seconds == 1_600_000_000)
        #expect(try vfs.status("/").permissions == 0o700 || vfs.status("/").permissions != 0, "the root takes '.''s mode")
    }

    @Test func everyTruncationAndCorruptionIsAnErrorNotACrash() throws {
        let folder = try makeHostTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let archive = try hostArchive(folder)
        var errors = 0
        for length in stride(from: 0, to: archive.count, by: 7) {
            let vfs = VirtualFileSystem(root: RamFileSystem())
            let summary = archive[..<length].withUnsafeBytes { CPIOUnpacker.unpack($0, into: vfs) }
            if !summary.problems.isEmpty { errors += 1 }
        }
        #expect(errors > archive.count / 7 / 2, "most truncations end inside a record")
        var generator = SystemRandomNumberGenerator()
        for _ in 0 ..< 300 {
            var damaged = archive
            for _ in 0 ..< 4 { damaged[Int.random(in: 0 ..< damaged.count, using: &generator)] = UInt8.random(in: 0 ... 255, using: &generator) }
            let vfs = VirtualFileSystem(root: RamFileSystem(limit: 4 << 20))
            _ = damaged.withUnsafeBytes { CPIOUnpacker.unpack($0, into: vfs) }
        }
    }

    static func record(_ name: String, mode: UInt32, data: [UInt8] = [], nameSize: Int? = nil, fileSize: Int? = nil) -> [UInt8] {
        var out = Array("070701".utf8)
        for field in [1, Int(mode), 0, 0, 1, 0, fileSize ?? data.count, 0, 0, 0, 0, nameSize ?? (name.utf8.count + 1), 0] {
            out += Array(String(format: "%08x", field).utf8)
        }
        out += Array(name.utf8) + [0]
        while out.count % 4 != 0 { out.append(0) }
        out += data
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    @Test func namesThatLeaveTheRootAreSkippedAndAbsoluteNamesStayInside() throws {
        let ramfs = RamFileSystem()
        let vfs = VirtualFileSystem(root: ramfs)
        try vfs.makeDirectory("/sandbox")
        var archive = Self.record("../escape", mode: 0o100644, data: Array("x".utf8))
        archive += Self.record("a/../../escape2", mode: 0o100644, data: Array("x".utf8))
        archive += Self.record("/abs/file", mode: 0o100600, data: Array("inside".utf8))
        archive += Self.record("./dot/file", mode: 0o100644, data: Array("dot".utf8))
        archive += Self.record("dev/null", mode: 0o020666)
        // A link the archive made must not carry a later record out: x -> / then x/escape3.
        archive += Self.record("x", mode: 0o120777, data: Array("/".utf8))
        archive += Self.record("x/escape3", mode: 0o100644, data: Array("x".utf8))
        archive += Self.record("TRAILER!!!", mode: 0)
        let summary = archive.withUnsafeBytes { CPIOUnpacker.unpack($0, into: vfs, at: Array("/sandbox".utf8)) }
        #expect(summary.problems.count == 3, "\(summary.problems)")
        #expect(summary.problems.prefix(2).allSatisfy { $0.contains("leaves the root") })
        #expect(summary.problems.last == "cpio: 'x/escape3': Too many levels of symbolic links")
        #expect(try vfs.list("/").map(\.nameString) == ["sandbox"])
        #expect(try vfs.contents(of: "/sandbox/abs/file") == Array("inside".utf8))
        #expect(try vfs.status("/sandbox/abs/file").permissions == 0o600)
        #expect(try vfs.contents(of: "/sandbox/dot/file") == Array("dot".utf8))
        #expect(try vfs.status("/sandbox/dev/null").type == .characterDevice)
    }

    @Test func malformedHeadersNameTheirOffset() throws {
        let good = Self.record("ok", mode: 0o100644, data: [1, 2, 3])
        let cases: [([UInt8], String)] = [
            (Array("070707".utf8) + [UInt8](repeating: 0x30, count: 104), "magic"),
            (good + Self.record("big", mode: 0o100644, fileSize: 1 << 30), "truncated data"),
            (good + Self.record("n", mode: 0o100644, nameSize: 0), "name size"),
            (good + Array("070701zzzzzzzz".utf8) + [UInt8](repeating: 0x30, count: 96), "hexadecimal"),
        ]
        for (archive, reason) in cases {
            let vfs = VirtualFileSystem(root: RamFileSystem())
            let summary = archive.withUnsafeBytes { CPIOUnpacker.unpack($0, into: vfs) }
            #expect(summary.problems.count == 1 && summary.problems[0].contains(reason), "\(summary.problems)")
        }
        // What came before a bad record stays.
        let vfs = VirtualFileSystem(root: RamFileSystem())
        let archive = good + Self.record("big", mode: 0o100644, fileSize: 1 << 30)
        _ = archive.withUnsafeBytes { CPIOUnpacker.unpack($0, into: vfs) }
        #expect(try vfs.contents(of: "/ok") == [1, 2, 3])
    }

    /// The root file system's way: the archive outlives the ramfs, whose files point into it.
    @Test func aLendingUnpackCopiesNothingAndCopiesAPageOnItsFirstWrite() throws {
        let folder = try makeHostTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = try hostArchive(folder)
        let archive = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        defer { archive.deallocate() }
        archive.copyMemory(from: bytes.withUnsafeBytes { $0 })
        let ramfs = RamFileSystem(limit: 1 << 20)
        let vfs = VirtualFileSystem(root: ramfs)
        let summary = CPIOUnpacker.unpack(UnsafeRawBufferPointer(archive), into: vfs, lending: true)
        #expect(summary.problems.isEmpty, "\(summary.problems)")
        #expect(try describeVFSTree(vfs) == describeHostTree(folder))
        #expect(ramfs.usedBytes < 16_384, "no file page charged: \(ramfs.usedBytes)")
        let tool = Array(try Data(contentsOf: folder.appendingPathComponent("bin/tool")))
        let inPlace = try #require(try vfs.contentsInPlace(Array("/bin/tool".utf8)))
        #expect(inPlace.baseAddress! >= UnsafeRawPointer(archive.baseAddress!)
                && inPlace.baseAddress! + inPlace.count <= UnsafeRawPointer(archive.baseAddress! + archive.count))
        #expect(Array(inPlace) == tool)
        #expect(try vfs.status("/bin/tool").blocks == Int64((tool.count + 4095) / 4096 * 8), "du counts lent pages")
        #expect(try vfs.contents(of: "/bin/hardlink") == tool, "the data GNU cpio puts on the last name")
        #expect(try vfs.contentsInPlace(Array("/bin".utf8)) == nil)

        // One byte written: that page alone is copied and charged; the archive is untouched.
        let before = ramfs.usedBytes
        let fd = try vfs.open(Array("/bin/tool".utf8), [.readWrite])
        #expect(try [UInt8(0xEE)].withUnsafeBytes { try vfs.write(fd, at: 20_490, $0) } == 1)
        var expected = tool
        expected[20_490] = 0xEE
        #expect(ramfs.usedBytes - before == 4096)
        #expect(try vfs.contents(of: "/bin/tool") == expected)
        #expect(Array(UnsafeRawBufferPointer(archive)) == bytes, "lent bytes are never written")
        #expect(try vfs.contentsInPlace(Array("/bin/tool".utf8)) == nil, "changed: read it instead")
        #expect(try vfs.status("/bin/tool").blocks == Int64((tool.count + 4095) / 4096 * 8))

        // A truncate below the lent bytes and a grow past it read zeros there, as on tmpfs.
        try vfs.truncate(fd, to: 5000)
        try vfs.truncate(fd, to: 9000)
        #expect(try vfs.contents(of: "/bin/tool") == Array(tool[..<5000]) + [UInt8](repeating: 0, count: 4000))
        try vfs.close(fd)
        try vfs.unlink("/bin/tool")
        try vfs.unlink("/bin/hardlink")
        #expect(ramfs.usedBytes < before, "the copied page went back with the file")
    }

    /// Random writes, truncates and reads on a lent file agree with a byte array doing the same.
    @Test func aLentFileBehavesAsAnArrayUnderRandomWritesAndTruncates() throws {
        var generator = SystemRandomNumberGenerator()
        let original = (0 ..< 30_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let lent = UnsafeMutableRawBufferPointer.allocate(byteCount: original.count, alignment: 1)
        defer { lent.deallocate() }
        lent.copyMemory(from: original.withUnsafeBytes { $0 })
        for _ in 0 ..< 20 {
            let vfs = VirtualFileSystem(root: RamFileSystem())
            let fd = try vfs.open(Array("/f".utf8), [.readWrite, .create])
            #expect(try vfs.lend(UnsafeRawBufferPointer(lent), to: Array("/f".utf8)))
            var model = original
            for _ in 0 ..< 60 {
                switch Int.random(in: 0 ..< 3, using: &generator) {
                case 0:
                    let offset = Int.random(in: 0 ..< 40_000, using: &generator)
                    let data = (0 ..< Int.random(in: 1 ..< 9000, using: &generator)).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
                    _ = try data.withUnsafeBytes { try vfs.write(fd, at: Int64(offset), $0) }
                    if model.count < offset + data.count { model += [UInt8](repeating: 0, count: offset + data.count - model.count) }
                    model.replaceSubrange(offset ..< offset + data.count, with: data)
                case 1:
                    let size = Int.random(in: 0 ..< 40_000, using: &generator)
                    try vfs.truncate(fd, to: Int64(size))
                    model = size <= model.count ? Array(model[..<size]) : model + [UInt8](repeating: 0, count: size - model.count)
                default:
                    #expect(try vfs.contents(of: "/f") == model)
                }
            }
            #expect(try vfs.contents(of: "/f") == model)
            #expect(Array(UnsafeRawBufferPointer(lent)) == original)
            try vfs.close(fd)
        }
    }
}
