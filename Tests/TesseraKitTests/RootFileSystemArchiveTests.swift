// The `rootfs:` archive against GNU cpio: `cpio -t` lists exactly the folder's entries, and `cpio -i`
// unpacks the same tree (types, modes with set-id and sticky bits, contents, link targets, hard
// links); what cannot go in an image (FIFOs, the manifest's own folder) is refused at load.

import Foundation
import Testing
@testable import TesseraKit

@Suite struct RootFileSystemArchiveTests {
    func shell(_ command: String) throws -> (status: Int32, output: String) {
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

    func makeTree() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-rootfs-\(UUID().uuidString)")
        let fm = FileManager.default
        try fm.createDirectory(at: folder.appendingPathComponent("etc/ssl"), withIntermediateDirectories: true)
        try fm.createDirectory(at: folder.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try Data("tessera\n".utf8).write(to: folder.appendingPathComponent("etc/hostname"))
        try Data().write(to: folder.appendingPathComponent("etc/empty"))
        try Data((0..<70_001).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: folder.appendingPathComponent("bin/tool"))
        chmod(folder.appendingPathComponent("bin/tool").path, 0o4755)
        chmod(folder.appendingPathComponent("etc/ssl").path, 0o1700)
        symlink("tool", folder.appendingPathComponent("bin/alias").path)
        link(folder.appendingPathComponent("bin/tool").path, folder.appendingPathComponent("bin/same").path)
        return folder
    }

    @Test func cpioListsAndUnpacksTheSameTree() throws {
        let folder = try makeTree()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-rootfs-out-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: scratch) }
        let scan = RootFileSystemArchive.scan(folder: folder.path, as: "root", manifestDirectory: "/nonexistent-manifest-dir")
        #expect(scan.problems.isEmpty, "\(scan.problems)")
        let archivePath = folder.path + ".cpio"
        defer { try? FileManager.default.removeItem(atPath: archivePath) }
        try Data(try scan.archive.archive()).write(to: URL(fileURLWithPath: archivePath))
        let listing = try shell("cpio -t --quiet < '\(archivePath)'")
        #expect(listing.status == 0, "\(listing.output)")
        let hostNames = try shell("cd '\(folder.path)' && find . | LC_ALL=C sort")
        let expected = hostNames.output.split(separator: "\n").map { $0 == "." ? "." : String($0.dropFirst(2)) }.sorted()
        #expect(listing.output.split(separator: "\n").map(String.init).sorted() == expected)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let unpack = try shell("cd '\(scratch.path)' && cpio -idmu --quiet < '\(archivePath)'")
        #expect(unpack.status == 0, "\(unpack.output)")
        let compare = try shell("cd '\(folder.path)' && find . -printf '%p %M %s %l\\n' | LC_ALL=C sort > /tmp/tessera-a.$$ && "
                                + "cd '\(scratch.path)' && find . -printf '%p %M %s %l\\n' | LC_ALL=C sort > /tmp/tessera-b.$$ && "
                                + "diff /tmp/tessera-a.$$ /tmp/tessera-b.$$; status=$?; rm -f /tmp/tessera-a.$$ /tmp/tessera-b.$$; exit $status")
        #expect(compare.status == 0, "\(compare.output)")
        #expect(try shell("cmp '\(folder.path)/bin/tool' '\(scratch.path)/bin/tool'").status == 0)
        let inodes = try shell("stat -c %i '\(scratch.path)/bin/tool' '\(scratch.path)/bin/same'").output.split(separator: "\n")
        #expect(inodes.count == 2 && inodes[0] == inodes[1], "hard links unpack as one file")
    }

    @Test func fifosAndTheManifestsOwnFolderAreRefused() throws {
        let folder = try makeTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        mkfifo(folder.appendingPathComponent("pipe").path, 0o644)
        let fifo = RootFileSystemArchive.scan(folder: folder.path, as: "root", manifestDirectory: "/nonexistent-manifest-dir")
        #expect(fifo.problems == ["'rootfs': 'pipe' is a device, FIFO or socket; images get their device files from /dev"])
        let own = RootFileSystemArchive.scan(folder: folder.path, as: ".", manifestDirectory: folder.appendingPathComponent("bin").path)
        #expect(own.problems.first?.contains("contains the manifest's own folder") == true)
        let missing = RootFileSystemArchive.scan(folder: folder.path + "-missing", as: "nope", manifestDirectory: "/x")
        #expect(missing.problems == ["'rootfs' folder 'nope' does not exist"])
    }

    @Test func anEmptyArchiveIsJustTheTrailer() throws {
        let bytes = try RootFileSystemArchive.empty.archive()
        #expect(bytes.count == 124)
        #expect(String(decoding: bytes[110..<120], as: UTF8.self) == "TRAILER!!!")
    }

    @Test func aTreeAbove256MiBIsRefusedAtLoad() throws {
        let folder = try makeTree()
        defer { try? FileManager.default.removeItem(at: folder) }
        let big = folder.appendingPathComponent("big.bin")
        FileManager.default.createFile(atPath: big.path, contents: nil)
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: UInt64(RootFileSystemArchive.maximumTotalBytes))     // sparse: no disk used
        try handle.close()
        let scan = RootFileSystemArchive.scan(folder: folder.path, as: "root", manifestDirectory: "/nonexistent-manifest-dir")
        #expect(scan.problems.count == 1 && scan.problems[0].hasPrefix("'rootfs' holds ")
                && scan.problems[0].hasSuffix(" bytes of files, more than the 256 MiB an image may carry"), "\(scan.problems)")
    }

    @Test func hostPathsReachTheAssemblerEscaped() {
        let text = RootFileSystemArchive.assembly(archive: "/tmp/we\"ird */ dir\\\n$\u{E9}/rootfs.cpio")
        #expect(text.contains(#".incbin "/tmp/we\042ird\040\052/\040dir\134\012\044\303\251/rootfs.cpio""#))
        let incbins = text.split(separator: "\n").filter { $0.contains(".incbin") }
        #expect(incbins.count == 1 && incbins[0].filter { $0 == "\"" }.count == 2)
    }
}

/// `files:` (read-only files embedded beside the root file system) was folded into `rootfs:`; a
/// manifest that still has it gets a located error that says what to write instead.
@Suite struct RetiredFilesKeyTests {
    @Test func theFilesKeyIsALocatedErrorThatNamesTheReplacement() throws {
        let fixture = try Fixture()
        try fixture.write("app/www/index.html", "<p>hi</p>")
        let path = try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\nfiles: www\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect((error.line, error.column) == (3, 8))
        #expect(error.message.hasPrefix("'files' was retired: put the folder in the root file system instead "
                                        + "(e.g. 'rootfs: root' with the files under root/www/)"), "\(error.message)")
    }
}
