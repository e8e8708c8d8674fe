// An ext2 disk made by the host's mke2fs, attached with `--disk` and mounted by ext2-mount over
// virtio-blk and the block cache: read-only (`:ro`) the guest lists the host's tree, reads a 1 MiB
// file with the host's checksum and refuses writes with EROFS; read-write, what the guest writes
// passes `e2fsck -fn` after a clean exit and `debugfs` reads the guest's bytes; and data fsynced before
// the VM is killed with SIGKILL is intact after `e2fsck -p`, while the unchecked disk mounts read-only.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite struct Ext2DiskTests {
        @Test func aHostMadeExt2DiskIsListedAndReadInTheGuest() throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ext2-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("etc"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("bin"), withIntermediateDirectories: true)
            try Data("from-the-host\n".utf8).write(to: folder.appendingPathComponent("etc/hostname"))
            let large = Data((0 ..< (1 << 20)).map { UInt8(truncatingIfNeeded: $0 / 7) })
            try large.write(to: folder.appendingPathComponent("bin/large"))
            let image = folder.path + ".img"
            defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(atPath: image) }
            let made = try runHostTool(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-d", folder.path, image, "4M"])
            try #require(made.status == 0, "\(made.output)")
            let result = try tessera(["run", "Tests/ImageTests/Apps/ext2disk", "--disk", image + ":/mnt:ro"])
            #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stdout.contains("ext2-mount: ext2 (read-only, 1024-byte blocks) mounted at /mnt"), "\(result.stdout)")
            #expect(result.stdout.contains("$ cat /mnt/etc/hostname\nfrom-the-host\n"), "\(result.stdout)")
            #expect(result.stdout.contains("drwx------   2    0    0     12288 lost+found\n"), "\(result.stdout)")
            #expect(result.stdout.contains("-rw-r--r--   1    0    0        14 hostname\n"), "\(result.stdout)")
            #expect(result.stdout.contains("write: /mnt/new: Read-only file system"), "\(result.stdout)")
            // df's used figure is the superblock's: blocks minus free blocks, as dumpe2fs reports them.
            let dump = try runHostTool(["dumpe2fs", "-h", image])
            func field(_ name: String) -> Int? {
                dump.output.split(separator: "\n").first { $0.hasPrefix(name + ":") }.flatMap { Int($0.split(separator: " ").last ?? "") }
            }
            let usedKiB = ((field("Block count") ?? 0) - (field("Free blocks") ?? 0)) * 1024 / 1024
            let dfLine = result.stdout.split(separator: "\n").first { $0.hasPrefix("ext2 ") }.map(String.init) ?? ""
            #expect(dfLine.split(separator: " ").map(String.init).dropFirst().first == "4096" && dfLine.hasSuffix(" /mnt"), "\(dfLine)")
            #expect(dfLine.split(separator: " ").map(String.init).dropFirst(2).first == String(usedKiB), "\(dfLine) vs \(usedKiB) KiB used")
            var hash: UInt32 = 2166136261
            for byte in large { hash = (hash ^ UInt32(byte)) &* 16777619 }
            #expect(result.stdout.contains("ext2disk: /mnt/bin/large 1048576 bytes, fnv \(hash)"), "\(result.stdout)")
        }

        static func pattern(_ count: Int, seed: Int) -> [UInt8] {
            (0 ..< count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 31 &+ ($0 >> 11)) }
        }

        func hostDisk(size: String) throws -> (folder: URL, image: String) {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ext2w-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("etc"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("bin"), withIntermediateDirectories: true)
            try Data("from-the-host\n".utf8).write(to: folder.appendingPathComponent("etc/hostname"))
            try Data(count: 300_000).write(to: folder.appendingPathComponent("bin/large"))
            let image = folder.path + ".img"
            let made = try runHostTool(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "4096", "-d", folder.path, image, size])
            try #require(made.status == 0, "\(made.output)")
            return (folder, image)
        }

        @Test func whatTheGuestWritesPassesE2fsckAndDebugfsReadsIt() throws {
            let (folder, image) = try hostDisk(size: "16M")
            defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(atPath: image) }
            let result = try tessera(["run", "Tests/ImageTests/Apps/ext2write", "--disk", image + ":/data"])
            #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stdout.contains("ext2-mount: ext2 (read-write, 4096-byte blocks) mounted at /data"), "\(result.stdout)")
            #expect(result.stdout.contains("ext2write: done"), "\(result.stdout)")
            let check = try runHostTool(["e2fsck", "-fn", image])
            #expect(check.status == 0, "\(check.output)")
            let cat = try runHostTool(["debugfs", "-R", "cat /guest/hello.txt", image])
            #expect(cat.output.hasSuffix("written by the guest\n"), "\(cat.output)")
            let moved = try runHostTool(["debugfs", "-R", "cat /guest/hostname", image])
            #expect(moved.output.hasSuffix("from-the-host\n"), "\(moved.output)")
            let out = image + ".big"
            defer { try? FileManager.default.removeItem(atPath: out) }
            _ = try runHostTool(["debugfs", "-R", "dump /guest/big \(out)", image])
            let expected = (0 ..< 48).flatMap { Self.pattern(65536, seed: $0) }
            #expect(Array((try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data()) == expected)
            let listing = try runHostTool(["debugfs", "-R", "ls -l /bin", image])
            #expect(!listing.output.contains("large"), "\(listing.output)")
            let link = try runHostTool(["debugfs", "-R", "stat /guest/link", image])
            #expect(link.output.contains("Fast link dest: \"hello.txt\""), "\(link.output)")
        }

        @Test func dataFsyncedBeforeSIGKILLSurvivesE2fsckP() throws {
            let (folder, image) = try hostDisk(size: "32M")
            defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(atPath: image) }
            let killed = try tessera(["run", "Tests/ImageTests/Apps/ext2write", "--disk", image + ":/data", "--", "crash"],
                                     interruptAfter: "ext2write: fsynced", signal: SIGKILL, signalChildren: true)
            #expect(killed.stdout.contains("ext2write: fsynced"), "\(killed.stdout) \(killed.stderr)")
            #expect(killed.status != 0)
            // The disk says it was in use: the guest mounts it read-only and says why.
            let unchecked = try tessera(["run", "Tests/ImageTests/Apps/ext2disk", "--disk", image + ":/mnt"])
            #expect(unchecked.stdout.contains("ext2-mount: mounting read-only: the file system was not cleanly unmounted"), "\(unchecked.stdout)")
            let repair = try runHostTool(["e2fsck", "-p", image])
            #expect(repair.status <= 1, "e2fsck -p: \(repair.output)")
            let check = try runHostTool(["e2fsck", "-fn", image])
            #expect(check.status == 0, "\(check.output)")
            let out = image + ".kept"
            defer { try? FileManager.default.removeItem(atPath: out) }
            _ = try runHostTool(["debugfs", "-R", "dump /kept \(out)", image])
            let expected = Array("fsynced before the kill\n".utf8) + Self.pattern(200_000, seed: 7)
            #expect(Array((try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data()) == expected)
        }
    }
}
