// An ext2 disk made by the host's mke2fs, attached with `--disk` and mounted read-only at /mnt by
// ext2-mount over virtio-blk and the block cache: the guest lists the host's tree, reads a 1 MiB file
// with the host's checksum, and refuses writes with EROFS.

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
            let result = try tessera(["run", "Tests/ImageTests/Apps/ext2disk", "--disk", image])
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
    }
}
