// QEMUPlatform: booting under QEMU through the PVH protocol, and leaving through isa-debug-exit.
//
// PVH (Xen's "direct boot" ABI, which QEMU implements for -kernel ELF files carrying the
// XEN_ELFNOTE_PHYS32_ENTRY note) passes the physical address of an hvm_start_info block:
//     0  u32 magic (0x336EC578)      4  u32 version        8  u32 flags      12 u32 nr_modules
//    16  u64 modlist_paddr          24  u64 cmdline_paddr  32  u64 rsdp_paddr
//    40  u64 memmap_paddr           48  u32 memmap_entries (version >= 1)
// and each memory-map entry is { u64 addr, u64 size, u32 type (1 = RAM), u32 reserved }.
// Everything is copied out during `initialize` (the command line into a 4 KiB static buffer), so the
// kernel may hand the low memory it lived in to the allocators right away.
//
// Exit: the runner attaches isa-debugcon (port 0xE9) to a file and isa-debug-exit (port 0xF4). The
// guest first writes its exit code byte to the debug console — the runner's proof that the guest ended
// on purpose, with every code 0-255 intact — then writes to isa-debug-exit, which makes QEMU exit.

import ArchX86
import PlatformAPI

public enum QEMUPlatform: Platform {
    static let startInfoMagic: UInt32 = 0x336E_C578
    static let maximumRegions = 16

    nonisolated(unsafe) static var regions = RegionList()
    nonisolated(unsafe) static var commandLineCopy = CommandLineBuffer()
    nonisolated(unsafe) static var commandLineLength = 0

    public static var name: StaticString { "qemu-pvh" }

    public static func initialize(bootInfo: UInt) {
        guard let info = UnsafeRawPointer(bitPattern: bootInfo),
              info.loadUnaligned(as: UInt32.self) == startInfoMagic else { return }
        let version = info.loadUnaligned(fromByteOffset: 4, as: UInt32.self)

        let commandLine = UInt(info.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        if let text = UnsafePointer<UInt8>(bitPattern: commandLine) {
            var length = 0
            withUnsafeMutableBytes(of: &commandLineCopy) { copy in
                while length < copy.count && text[length] != 0 {
                    copy[length] = text[length]
                    length += 1
                }
            }
            commandLineLength = length
        }

        guard version >= 1 else { return }
        let map = UInt(info.loadUnaligned(fromByteOffset: 40, as: UInt64.self))
        let count = Int(info.loadUnaligned(fromByteOffset: 48, as: UInt32.self))
        guard let entries = UnsafeRawPointer(bitPattern: map) else { return }
        for index in 0..<min(count, maximumRegions) {
            let entry = entries + index * 24
            let type = entry.loadUnaligned(fromByteOffset: 16, as: UInt32.self)
            guard type == 1 else { continue }
            regions.append(MemoryRegion(base: UInt(entry.loadUnaligned(as: UInt64.self)),
                                        size: UInt(entry.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
        }
    }

    public static func forEachMemoryRegion(_ body: (MemoryRegion) -> Void) {
        regions.forEach(body)
    }

    /// The copy of the command line (at most 4 KiB; longer lines are cut).
    public static var commandLine: UnsafeBufferPointer<UInt8> {
        withUnsafeBytes(of: &commandLineCopy) {
            UnsafeBufferPointer(start: $0.baseAddress!.assumingMemoryBound(to: UInt8.self), count: commandLineLength)
        }
    }

    public static func exit(code: UInt8) -> Never {
        CPU.outb(0xE9, code)                 // the exit record for the runner
        CPU.outl(0xF4, UInt32(code))         // isa-debug-exit: QEMU exits now
        CPU.haltForever()                    // no debug-exit device: stop here
    }
}

/// 4 KiB of static storage for the command line.
struct CommandLineBuffer {
    var words: (SIMD64<UInt64>, SIMD64<UInt64>, SIMD64<UInt64>, SIMD64<UInt64>,
                SIMD64<UInt64>, SIMD64<UInt64>, SIMD64<UInt64>, SIMD64<UInt64>) =
        (.zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero)
}

/// A fixed-capacity list of memory regions (no heap: it is filled before the heap exists).
struct RegionList {
    var storage: (MemoryRegion, MemoryRegion, MemoryRegion, MemoryRegion,
                  MemoryRegion, MemoryRegion, MemoryRegion, MemoryRegion,
                  MemoryRegion, MemoryRegion, MemoryRegion, MemoryRegion,
                  MemoryRegion, MemoryRegion, MemoryRegion, MemoryRegion)
    var count = 0

    init() {
        let empty = MemoryRegion(base: 0, size: 0)
        storage = (empty, empty, empty, empty, empty, empty, empty, empty,
                   empty, empty, empty, empty, empty, empty, empty, empty)
    }

    mutating func append(_ region: MemoryRegion) {
        guard count < 16 else { return }
        withUnsafeMutableBytes(of: &storage) {
            $0.baseAddress!.assumingMemoryBound(to: MemoryRegion.self)[count] = region
        }
        count += 1
    }

    func forEach(_ body: (MemoryRegion) -> Void) {
        var copy = storage
        withUnsafeBytes(of: &copy) {
            let base = $0.baseAddress!.assumingMemoryBound(to: MemoryRegion.self)
            for index in 0..<count { body(base[index]) }
        }
    }
}
