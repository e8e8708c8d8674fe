// Host folders shared with `tessera run -v` (virtio-9p, 9P2000.L served by QEMU) and mounted by
// share-mount: a read-only folder is listed and read with the host's checksum and refuses writes with
// EROFS (QEMU's readonly=on backs it); in a read-write folder the guest's files, directories, renames,
// unlinks and links appear on the host as the guest made them.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite struct ShareTests {
        @Test func aSharedFolderIsReadAndWrittenFromTheGuest() throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-share-\(UUID().uuidString)")
            let site = base.appendingPathComponent("site"), data = base.appendingPathComponent("data")
            try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: base) }
            try Data("<h1>from the host</h1>\n".utf8).write(to: site.appendingPathComponent("index.html"))
            let large = Data((0 ..< 1_500_000).map { UInt8(truncatingIfNeeded: $0 / 3) })
            try large.write(to: site.appendingPathComponent("large"))
            try Data("bye".utf8).write(to: data.appendingPathComponent("remove-me"))
            let result = try tessera(["run", "Tests/ImageTests/Apps/share", "-v", site.path + ":/www:ro", "-v", data.path + ":/data"])
            #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stdout.contains("share-mount: 9p volume 'vol0' (read-only) mounted at /www"), "\(result.stdout)")
            #expect(result.stdout.contains("share-mount: 9p volume 'vol1' (read-write) mounted at /data"), "\(result.stdout)")
            #expect(result.stdout.contains("$ cat /www/index.html\n<h1>from the host</h1>\n"), "\(result.stdout)")
            #expect(result.stdout.contains("-rw-r--r--   1    0    0        23 index.html"), "\(result.stdout)")
            #expect(result.stdout.contains("write: /www/new: Read-only file system"), "\(result.stdout)")
            var hash: UInt32 = 2166136261
            for byte in large { hash = (hash ^ UInt32(byte)) &* 16777619 }
            #expect(result.stdout.contains("share: /www/large 1500000 bytes, fnv \(hash)"), "\(result.stdout)")
            #expect(result.stdout.contains("share: rmdir /data/made: Directory not empty"), "\(result.stdout)")
            #expect(result.stdout.contains("share: done"), "\(result.stdout)")
            let moved = data.appendingPathComponent("made/moved.txt")
            #expect((try? String(contentsOf: moved, encoding: .utf8)) == "written by the guest\n")
            #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("remove-me").path))
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: data.appendingPathComponent("link").path)) == "made/moved.txt")
            let big = (try? Data(contentsOf: data.appendingPathComponent("made/big"))) ?? Data()
            #expect(big.count == 2_000_000 && big[1_999_999] == 19 && big[100_000] == 1)
            var info = stat()
            stat(data.appendingPathComponent("made").path, &info)
            #expect(info.st_mode & 0o777 == 0o750)
            #expect(!FileManager.default.fileExists(atPath: site.appendingPathComponent("new").path), "the read-only folder is unchanged")
        }

        @Test func volumesAreRefusedWhereTheyCannotWork() throws {
            let missing = try tessera(["run", "Tests/ImageTests/Apps/share", "-v", "/does/not/exist:/www"])
            #expect(missing.status != 0 && missing.stderr.contains("'/does/not/exist' is not a folder on this machine"), "\(missing.stderr)")
            let relative = try tessera(["run", "Tests/ImageTests/Apps/share", "-v", "/tmp:www"])
            #expect(relative.status != 0 && relative.stderr.contains("use HOST_DIR:GUEST_PATH"), "\(relative.stderr)")
            let monitor = try tessera(["run", "Tests/ImageTests/Apps/share", "--platform", "kvm", "-v", "/tmp:/www"])
            #expect(monitor.status != 0 && monitor.stderr.contains("only QEMU provides"), "\(monitor.stderr)")
            let noLibrary = try tessera(["run", "examples/hello", "-v", "/tmp:/www"])
            #expect(noLibrary.status != 0 && noLibrary.stderr.contains("add share-mount to `use:`"), "\(noLibrary.stderr)")
        }

        /// `mounts:` in the manifest: the disk at /data and the app's site/ folder at /www (read-only),
        /// with no mount point on --disk and no -v; a -v for /www replaces the manifest's folder.
        @Test func manifestMountsPlaceTheDiskAndAFolderWithoutOptions() throws {
            let image = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-mounts-\(UUID().uuidString).img").path
            defer { try? FileManager.default.removeItem(atPath: image) }
            #expect(try runHostTool(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", image, "4M"]).status == 0)
            let result = try tessera(["run", "Tests/ImageTests/Apps/mounts", "--disk", image])
            #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stdout.contains("ext2-mount: ext2 (read-write, 1024-byte blocks) mounted at /data"), "\(result.stdout)")
            #expect(result.stdout.contains("share-mount: 9p volume 'vol0' (read-only) mounted at /www"), "\(result.stdout)")
            #expect(result.stdout.contains("$ cat /www/index.html\n<p>from the manifest mount</p>\n"), "\(result.stdout)")
            #expect(result.stdout.contains("write: /www/new: Read-only file system"), "\(result.stdout)")
            #expect(result.stdout.contains("$ cat /data/written\nyes"), "\(result.stdout)")
            #expect(try runHostTool(["e2fsck", "-fn", image]).status == 0)
            // The command line wins: -v for /www replaces the manifest's folder.
            let other = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-mounts-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: other) }
            try Data("<p>from -v</p>\n".utf8).write(to: other.appendingPathComponent("index.html"))
            let replaced = try tessera(["run", "Tests/ImageTests/Apps/mounts", "--disk", image, "-v", other.path + ":/www"])
            #expect(replaced.stdout.contains("$ cat /www/index.html\n<p>from -v</p>\n"), "\(replaced.stdout)")
            #expect(replaced.stdout.contains("share-mount: 9p volume 'vol0' (read-write) mounted at /www"), "\(replaced.stdout)")
        }
    }
}
