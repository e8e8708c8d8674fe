// The image's file tree in a real guest (Apps/vfs: files + shell-files, preemptive scheduler, a
// `rootfs:` folder packed at build time and unpacked into / at boot): four
// threads work on the ramfs at once and every record survives, the size limit (fs.size) ends in
// ENOSPC and unlinking gives the space back exactly, the shell's file commands answer as coreutils
// would, and the ramfs's usage is published as gauges.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite struct FileTreeTests {
        @Test func threadsShareTheRamfsAndItsLimitEndsInENOSPC() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("vfs"))
            let boot = try ImageHarness.boot(product, kernelParameters: ["fs.size=4M"])
            let output = boot.lines.joined(separator: "\n")
            #expect(boot.result.exitCode == 0, "\(output)")
            #expect(boot.lines.contains("vfs: ok"), "\(output)")
            #expect(boot.lines.contains("vfs: 4 threads, 600 appended records intact, 120 names each"), "\(output)")
            #expect(boot.lines.contains { $0.hasPrefix("vfs: full after ") && $0.hasSuffix(": No space left on device") }, "\(output)")
            // The shell's commands, as a user at the console would see them.
            #expect(output.contains("$ cat /tmp/hello\nHello, files\n"), "\(output)")
            #expect(output.contains("drwxr-xr-x   3    0    0      4096 a\n"), "\(output)")
            #expect(output.contains("drwxrwxrwt   6    0    0      4096 tmp\n"), "\(output)")
            // The root file system (Apps/vfs/root, packed as cpio at build time): modes, sizes, links.
            #expect(output.contains("-rwxr-xr-x   1    0    0        20 tool\n"), "\(output)")
            #expect(output.contains("lrwxrwxrwx   1    0    0        15 name -> ../etc/hostname\n"), "\(output)")
            #expect(output.contains("$ cat /etc/hostname /srv/name /srv/www/index.html\ntessera-vfs\ntessera-vfs\n<h1>rootfs</h1>\n"), "\(output)")
            #expect(!output.contains("files: root file system:"), "no archive problems: \(output)")
            // /dev and /proc (devfs, procfs), mounted by files.
            #expect(boot.lines.contains("vfs: fd link /dev/null"), "\(output)")
            #expect(boot.lines.contains("vfs: written to /dev/console"), "\(output)")
            #expect(boot.lines.contains { $0.hasPrefix("vfs: urandom gave 32 bytes") }, "\(output)")
            #expect(output.contains("crw-rw-rw-   1    0    0         0 null\n"), "\(output)")
            #expect(output.contains("lrwxrwxrwx   1    0    0        15 stdout -> /proc/self/fd/1\n"), "\(output)")
            #expect(output.contains("lrwxrwxrwx   1    0    0         4 exe -> /vfs\n"), "\(output)")
            #expect(boot.lines.contains { $0.hasPrefix("MemTotal:") && $0.hasSuffix(" kB") }, "\(output)")
            #expect(boot.lines.contains("processor\t: 0"), "\(output)")
            #expect(output.contains("$ ls /a/b\nc\n"), "\(output)")
            #expect(output.contains("ls: /missing: No such file or directory"), "\(output)")
            #expect(output.contains("Mode: 1777/drwxrwxrwt"), "\(output)")
            let df = try #require(boot.lines.firstIndex(of: "$ df"))
            let row = boot.lines[df + 2].split(separator: " ")
            #expect(row.first == "ramfs" && row.last == "/" && row[1] == "4096", "\(boot.lines[df + 2])")
            #expect(boot.lines.contains("gauge tessera_filesystem_bytes{state=limit} 4194304"), "\(output)")
        }

        @Test func theBuildPacksTheRootfsAsACpioArchiveThatCpioLists() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("vfs"))
            let archive = product.image.deletingLastPathComponent().appendingPathComponent("rootfs.cpio")
            let cpio = Process()
            cpio.executableURL = URL(fileURLWithPath: "/bin/sh")
            cpio.arguments = ["-c", "cpio -t --quiet < '\(archive.path)' | LC_ALL=C sort"]
            let pipe = Pipe()
            cpio.standardOutput = pipe
            try cpio.run()
            let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            cpio.waitUntilExit()
            #expect(listing == ".\nbin\nbin/tool\netc\netc/hostname\nsrv\nsrv/name\nsrv/www\nsrv/www/index.html\n", "\(listing)")
        }

        @Test func aBadSizeIsReportedAndTheDefaultIsHalfTheMemoryLeft() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("vfs"))
            let boot = try ImageHarness.boot(product, kernelParameters: ["fs.size=lots"])
            let output = boot.lines.joined(separator: "\n")
            #expect(boot.lines.contains { $0.hasPrefix("files: fs.size=lots is not a size") }, "\(output)")
            let limitLine = try #require(boot.lines.first { $0.hasPrefix("gauge tessera_filesystem_bytes{state=limit} ") })
            let limit = Int(limitLine.split(separator: " ").last ?? "") ?? 0
            // 8 MiB image: half of what is left after the kernel, heap and reserve — between 2 and 4 MiB.
            #expect(limit > 2 * 1024 * 1024 && limit < 4 * 1024 * 1024, "\(limitLine)")
            #expect(boot.result.exitCode == 0, "\(output)")
        }
    }
}
