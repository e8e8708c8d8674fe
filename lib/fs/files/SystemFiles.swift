// SystemFiles: /dev and /proc in the image's file tree, from the kernel's sources.
//
// `files` mounts a DeviceFileSystem at /dev (console through the wiring's console closures, random
// bytes from the kernel's generator) and a ProcessFileSystem at /proc (memory from the page allocator
// and the heap, uptime from the monotonic clock, cpuinfo from CPUID and the calibrated TSC, the image
// name as process 1's executable, its arguments, and the VFS's open descriptors). Their mount points
// are created in the ramfs if the root file system has none.

import ArchX86
import BootArguments
import Clock
import DevFS
import Kernel
import ProcFS
import VFS

/// What the wiring hands over for /dev and /proc.
public struct SystemSources {
    public var readConsole: (UnsafeMutableRawBufferPointer) -> Int
    public var writeConsole: (UnsafeRawBufferPointer) -> Void
    public var memory: () -> (total: Int, free: Int, available: Int)
    public var imageName: String

    public init(readConsole: @escaping (UnsafeMutableRawBufferPointer) -> Int, writeConsole: @escaping (UnsafeRawBufferPointer) -> Void,
                memory: @escaping () -> (total: Int, free: Int, available: Int), imageName: String) {
        self.readConsole = readConsole
        self.writeConsole = writeConsole
        self.memory = memory
        self.imageName = imageName
    }
}

enum SystemFiles {
    static func mount(in vfs: VirtualFileSystem, _ sources: SystemSources, now: TimeSpec) {
        let devices = DeviceFileSystem(readConsole: sources.readConsole, writeConsole: sources.writeConsole,
                                       random: { buffer in tesseraRandomBytes(buffer.baseAddress, buffer.count) }, now: now)
        let executable = Array(("/" + sources.imageName).utf8)
        let process = ProcessFileSystem(sources: ProcessSources(
            memory: sources.memory,
            uptime: { (Clock.now(), 0) },
            cpuInfo: cpuInfo,
            executable: executable,
            arguments: [executable] + kernelParameters.application.map { Array($0.utf8) },
            descriptors: { vfs.descriptorPathsHoldingLock() }))    // the image's VFS lives as long as the image
        for (path, fileSystem) in [("/dev", devices as any FileSystem), ("/proc", process as any FileSystem)] {
            do {
                if (try? vfs.status(path)) == nil { try vfs.makeDirectory(path, permissions: 0o755) }
                try vfs.mount(fileSystem, at: path)
            } catch {
                print("files: cannot mount " + path + ": " + error.messageString)
            }
        }
    }

    /// /proc/cpuinfo for the one CPU: the fields programs parse (processor, vendor, model, MHz, flags).
    static func cpuInfo() -> [UInt8] {
        func registers(_ values: [UInt32]) -> [UInt8] {
            var bytes: [UInt8] = []
            for value in values { for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) } }
            return bytes
        }
        let leaf0 = CPU.cpuid(0)
        let vendor = registers([leaf0.ebx, leaf0.edx, leaf0.ecx])
        var model: [UInt8] = []
        if CPU.cpuid(0x8000_0000).eax >= 0x8000_0004 {
            for leaf in UInt32(0x8000_0002)...0x8000_0004 {
                let r = CPU.cpuid(leaf)
                model += registers([r.eax, r.ebx, r.ecx, r.edx])
            }
        }
        while model.last == 0 || model.last == 0x20 { model.removeLast() }
        while model.first == 0x20 { model.removeFirst() }
        let leaf1 = CPU.cpuid(1)
        let family = (leaf1.eax >> 8) & 0xF, modelNumber = (leaf1.eax >> 4) & 0xF | ((leaf1.eax >> 16) & 0xF) << 4
        var flags: [String] = []
        for (bit, name) in [(0, "fpu"), (4, "tsc"), (5, "msr"), (15, "cmov"), (23, "mmx"), (25, "sse"), (26, "sse2")]
        where leaf1.edx & (1 << UInt32(bit)) != 0 { flags.append(name) }
        for (bit, name) in [(0, "pni"), (9, "ssse3"), (19, "sse4_1"), (20, "sse4_2"), (23, "popcnt"), (25, "aes"), (28, "avx"), (30, "rdrand")]
        where leaf1.ecx & (1 << UInt32(bit)) != 0 { flags.append(name) }
        let kilohertz = Clock.tscFrequency / 1000
        var text = "processor\t: 0\nvendor_id\t: " + String(decoding: vendor, as: UTF8.self) + "\n"
        text += "cpu family\t: \(family)\nmodel\t\t: \(modelNumber)\nmodel name\t: " + String(decoding: model, as: UTF8.self) + "\n"
        var fraction = String(kilohertz % 1000)
        while fraction.utf8.count < 3 { fraction = "0" + fraction }
        text += "cpu MHz\t\t: \(kilohertz / 1000)." + fraction + "\n"
        text += "physical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\n"
        text += "flags\t\t: " + flags.joined(separator: " ") + "\n\n"
        return Array(text.utf8)
    }
}
