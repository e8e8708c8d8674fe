// One script of file operations (Apps/fsdiff/root/script.txt: mkdir, rmdir, unlink, rename, link,
// symlink, readlink, stat, lstat, truncate, write, append, O_EXCL, read, O_DIRECTORY, listing — the
// error cases included) run on the host's Linux and, in one guest, on ramfs (/tmp), on ext2 over
// virtio-blk (--disk) and on 9p over virtio-9p (-v): every result and errno must be the host's. The
// ext2 disk passes e2fsck -fn afterwards and the 9p folder holds what the host's run left. Both the
// virtio-mmio drivers (microvm) and the virtio-pci ones (pc) are exercised.

import Foundation
import Glibc
import Testing
import TesseraKit

extension ImageSuite {
    @Suite struct FileSystemDifferentialTests {
        static let script = try! String(contentsOf: ImageHarness.repository.appendingPathComponent("Tests/ImageTests/Apps/fsdiff/root/script.txt"),
                                        encoding: .utf8).split(separator: "\n").map(String.init)

        static func summary(_ info: stat) -> String {
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR { return "stat 40000 0 0" }
            return "stat " + String(type, radix: 8) + " \(info.st_size) \(info.st_nlink)"
        }

        /// The script's results on the host, in `base`.
        static func hostResults(in base: String) -> [String] {
            script.map { line in
                let words = line.split(separator: " ").map(String.init)
                let path = base + "/" + words[1]
                let second = words.count > 2 ? base + "/" + words[2] : ""
                let number = words.count > 2 ? Int(words[2]) ?? 0 : 0
                func result(_ value: Int32) -> String { value < 0 ? "errno \(errno)" : "ok" }
                switch words[0] {
                case "mkdir": return result(mkdir(path, 0o755))
                case "rmdir": return result(rmdir(path))
                case "unlink": return result(unlink(path))
                case "rename": return result(rename(path, second))
                case "link": return result(link(path, second))
                case "symlink": return result(symlink(words[1], second))
                case "readlink":
                    var buffer = [CChar](repeating: 0, count: 4096)
                    let count = readlink(path, &buffer, 4095)
                    guard count >= 0 else { return "errno \(errno)" }
                    return "text " + String(decoding: buffer[0 ..< count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                case "stat", "lstat":
                    var info = stat()
                    let value = words[0] == "stat" ? stat(path, &info) : lstat(path, &info)
                    return value < 0 ? "errno \(errno)" : summary(info)
                case "truncate": return result(truncate(path, off_t(number)))
                case "write", "append", "excl":
                    let flags = words[0] == "write" ? O_WRONLY | O_CREAT | O_TRUNC : words[0] == "append" ? O_WRONLY | O_APPEND : O_WRONLY | O_CREAT | O_EXCL
                    let fd = open(path, flags, 0o644)
                    guard fd >= 0 else { return "errno \(errno)" }
                    defer { close(fd) }
                    if number > 0 {
                        let bytes = [UInt8](repeating: 0x61, count: number)
                        guard write(fd, bytes, number) == number else { return "errno \(errno)" }
                    }
                    return "ok"
                case "read":
                    let fd = open(path, O_RDONLY)
                    guard fd >= 0 else { return "errno \(errno)" }
                    defer { close(fd) }
                    var all: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 65536)
                    while true {
                        let count = read(fd, &buffer, buffer.count)
                        if count < 0 { return "errno \(errno)" }
                        if count == 0 { break }
                        all += buffer[0 ..< count]
                    }
                    return "read \(all.count) \(all.reduce(0) { $0 &+ Int($1) })"
                case "opendir":
                    let fd = open(path, O_RDONLY | O_DIRECTORY)
                    guard fd >= 0 else { return "errno \(errno)" }
                    close(fd)
                    return "ok"
                case "list":
                    guard let directory = opendir(path) else { return "errno \(errno)" }
                    defer { closedir(directory) }
                    var names: [String] = []
                    while let entry = readdir(directory) {
                        let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                        if name != "." && name != ".." { names.append(name) }
                    }
                    names.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                    return "list " + names.joined(separator: ",")
                default: return "bad op " + words[0]
                }
            }
        }

        /// On microvm (virtio-mmio) and pc (virtio-pci: virtio-blk-pci and virtio-9p-pci).
        @Test(arguments: ["qemu-microvm", "qemu-pc"])
        func oneScriptGivesTheHostsResultsOnRamfsExt2And9p(platform: String) throws {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-fsdiff-\(UUID().uuidString)")
            let hostBase = work.appendingPathComponent("host"), share = work.appendingPathComponent("share")
            try FileManager.default.createDirectory(at: hostBase, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            umask(0o022)
            let expected = Self.hostResults(in: hostBase.path)
            let image = work.appendingPathComponent("disk.img").path
            #expect(try runHostTool(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", image, "16M"]).status == 0)
            let result = try tessera(["run", "Tests/ImageTests/Apps/fsdiff", "--platform", platform, "--disk", image + ":/disk", "-v", share.path + ":/share",
                                      "--", "/tmp/d", "/disk/d", "/share/d"])
            #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
            for base in ["/tmp/d", "/disk/d", "/share/d"] {
                let prefix = "fsdiff " + base + " "
                let actual = result.stdout.split(separator: "\n").filter { $0.hasPrefix(prefix) }
                    .map { String($0.dropFirst(prefix.count).drop { $0 != ":" }.dropFirst(2)) }
                #expect(actual.count == Self.script.count, "\(platform) \(base): \(actual.count) results of \(Self.script.count)")
                for (index, line) in Self.script.enumerated() where index < actual.count && actual[index] != expected[index] {
                    Issue.record("\(platform) \(base) line \(index + 1) `\(line)`: Linux \(expected[index]), guest \(actual[index])")
                }
            }
            let check = try runHostTool(["e2fsck", "-fn", image])
            #expect(check.status == 0, "\(check.output)")
            // The 9p run left on the host what the host's own run left.
            let mine = (try? FileManager.default.contentsOfDirectory(atPath: share.path + "/d").sorted()) ?? ["?"]
            let theirs = (try? FileManager.default.contentsOfDirectory(atPath: hostBase.path).sorted()) ?? ["!"]
            #expect(mine == theirs)
        }
    }
}
