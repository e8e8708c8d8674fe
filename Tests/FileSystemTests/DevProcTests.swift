// /dev and /proc as Linux programs use them, compared with the host's own where the answer is fixed:
// the device numbers and types of /dev/null, zero, full, random, urandom, tty, console (stat(2) on
// the host), their read/write semantics (ENOSPC from full, zeros, random bytes), the links
// stdin/stdout/stderr/fd; /proc/meminfo's and /proc/uptime's formats, /proc/self -> 1, exe, cmdline,
// and fd/N links that follow open and close (with " (deleted)" after unlink, as Linux shows it).

import DevFS
import Foundation
import ProcFS
import RamFS
import Testing
import VFS

@Suite struct DevProcTests {
    final class Console { var typed: [UInt8] = Array("ls\n".utf8); var printed: [UInt8] = [] }

    func make() throws -> (VirtualFileSystem, Console) {
        let vfs = VirtualFileSystem(root: RamFileSystem())
        let console = Console()
        let devices = DeviceFileSystem(readConsole: { buffer in
            let count = min(buffer.count, console.typed.count)
            for index in 0 ..< count { buffer[index] = console.typed[index] }
            console.typed.removeFirst(count)
            return count
        }, writeConsole: { console.printed += $0 }, random: { buffer in
            for index in buffer.indices { buffer[index] = UInt8.random(in: 0 ... 255) }
        })
        let process = ProcessFileSystem(sources: ProcessSources(
            memory: { (8 << 20, 5 << 20, 4 << 20) }, uptime: { (12_345_678_901, 0) },
            cpuInfo: { Array("processor\t: 0\n".utf8) }, executable: Array("/app".utf8),
            arguments: [Array("/app".utf8), Array("--port".utf8), Array("80".utf8)],
            descriptors: { [unowned vfs] in vfs.descriptorPathsHoldingLock() }))
        try vfs.makeDirectory("/dev")
        try vfs.makeDirectory("/proc")
        try vfs.mount(devices, at: "/dev")
        try vfs.mount(process, at: "/proc")
        return (vfs, console)
    }

    @Test(arguments: ["null", "zero", "full", "random", "urandom", "tty", "console"])
    func deviceNumbersAndTypesMatchTheHosts(_ name: String) throws {
        var host = stat()
        try #require(stat("/dev/" + name, &host) == 0, "the host has /dev/\(name)")
        let (vfs, _) = try make()
        let mine = try vfs.status("/dev/" + name)
        #expect(mine.type == .characterDevice)
        #expect(mine.representedDevice == UInt64(host.st_rdev), "/dev/\(name): \(mine.representedDevice) vs \(host.st_rdev)")
    }

    @Test func devicesReadAndWriteAsOnLinux() throws {
        let (vfs, console) = try make()
        let null = try vfs.open("/dev/null", [.readWrite])
        #expect(try vfs.readAt("/dev/null", offset: 0, count: 16) == [])
        #expect(try [UInt8](repeating: 1, count: 9).withUnsafeBytes { try vfs.write(null, $0) } == 9)
        #expect(try vfs.readAt("/dev/zero", offset: 0, count: 8) == [UInt8](repeating: 0, count: 8))
        #expect(throws: FileError.noSpace) { try vfs.writeAt("/dev/full", offset: 0, [1]) }
        let random = try vfs.readAt("/dev/urandom", offset: 0, count: 64)
        #expect(random.count == 64 && Set(random).count > 16)
        try vfs.writeAt("/dev/console", offset: 0, Array("hello\n".utf8))
        #expect(console.printed == Array("hello\n".utf8))
        #expect(try vfs.readAt("/dev/console", offset: 0, count: 10) == Array("ls\n".utf8))
        #expect(try vfs.readAt("/dev/console", offset: 0, count: 10) == [], "nothing typed: 0, never blocks")
        #expect(try vfs.readLink("/dev/stdout") == "/proc/self/fd/1")
        #expect(throws: FileError.notPermitted) { try vfs.write([], to: "/dev/newfile") }
        #expect(throws: FileError.notPermitted) { try vfs.unlink("/dev/null") }
        #expect(try vfs.list("/dev").map(\.nameString)
                == ["null", "zero", "full", "random", "urandom", "tty", "console", "stdin", "stdout", "stderr", "fd"])
        // O_TRUNC on a device is ignored, as Linux does (shells redirect to /dev/null with it).
        let truncated = try vfs.open("/dev/null", [.writeOnly, .truncate])
        try vfs.close(truncated)
    }

    @Test func procFilesHaveLinuxsFormats() throws {
        let (vfs, _) = try make()
        let meminfo = String(decoding: try vfs.contents(of: "/proc/meminfo"), as: UTF8.self)
        #expect(meminfo.hasPrefix("MemTotal:           8192 kB\nMemFree:            5120 kB\nMemAvailable:       4096 kB\n"), "\(meminfo)")
        // The host's lines have the same columns: name, padding to the 24th column, "kB".
        let hostLine = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8).split(separator: "\n")[0]
        #expect(hostLine.count == meminfo.split(separator: "\n")[0].count, "\(hostLine)")
        #expect(try vfs.contents(of: "/proc/uptime") == Array("12.34 0.00\n".utf8))
        #expect(try vfs.readLink("/proc/self") == "1")
        #expect(try vfs.readLink("/proc/self/exe") == "/app")
        #expect(try vfs.contents(of: "/proc/self/cmdline") == Array("/app\u{0}--port\u{0}80\u{0}".utf8))
        #expect(try vfs.status("/proc/meminfo").size == 0, "procfs files say size 0")
        #expect(throws: FileError.accessDenied) { try vfs.writeAt("/proc/meminfo", offset: 0, [1]) }
    }

    @Test func procSelfFdFollowsOpenAndClose() throws {
        let (vfs, _) = try make()
        try vfs.makeDirectory("/data")
        let a = try vfs.open("/data/a.txt", [.writeOnly, .create])
        try vfs.changeDirectory("/data")
        let b = try vfs.open("b.txt", [.writeOnly, .create])
        let listing = try vfs.list("/proc/self/fd").map(\.nameString)
        #expect(listing.contains(String(a)) && listing.contains(String(b)))
        #expect(try vfs.readLink("/proc/self/fd/\(a)") == "/data/a.txt")
        #expect(try vfs.readLink("/proc/1/fd/\(b)") == "/data/b.txt")
        try vfs.unlink("/data/b.txt")
        #expect(try vfs.readLink("/proc/self/fd/\(b)") == "/data/b.txt (deleted)")
        try vfs.close(a)
        #expect(throws: FileError.noEntry) { try vfs.readLink("/proc/self/fd/\(a)") }
        // Not Linux's "magic" link: opening /proc/self/fd/N follows the path text, so an unlinked
        // file is not reached through it (docs/files.md says so).
        #expect(throws: FileError.noEntry) { try vfs.contents(of: "/proc/self/fd/\(b)") }
    }
}
