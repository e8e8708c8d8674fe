// BootLayout: what the monitor writes into guest memory before the first instruction runs.
//
// Low memory (below 1 MiB) belongs to the monitor and is laid out by the ABI:
//     0x1000  BootInfo block                         (read-only to the guest)
//     0x2000  command line, `commandLineLength` bytes (read-only)
//     0x3000  GDT (7 slots) and, at 0x3100, the TSS with its I/O bitmap (read-only)
//     0x4000  PML4, 0x5000 PDPT, 0x6000.. one page directory per GiB, then 4 KiB page tables
// Paging is an identity map. Each 2 MiB chunk that holds page 0 or part of the kernel gets a 4 KiB page
// table, so that page 0 stays unmapped (null dereferences fault), the monitor's pages are read-only, and
// each ELF segment gets exactly its own permissions: text R+X, rodata R, data and bss R+W, never W+X
// (two segments sharing a page get the union, and a union that is W+X is refused). Every other chunk is
// one 2 MiB page, R+W and not executable. All pages are user pages: the guest runs in ring 3.
// The page tables are pure data computed here (`PageTableBuilder`), so tests can walk them.

import HypercallABI

public enum BootLayoutError: Error, CustomStringConvertible {
    case memoryTooSmall(UInt64, needed: UInt64)
    case memoryTooLarge(UInt64)
    case memoryNotPageAligned(UInt64)
    case commandLineTooLong(Int)
    case tooManyPageTables
    case sharedPageWritableAndExecutable(UInt64)
    case guest(GuestAddressProblem)

    public var description: String {
        switch self {
        case let .memoryTooSmall(size, needed):
            return "guest memory of \(size) bytes is too small for this image (it needs at least \(needed))"
        case let .memoryTooLarge(size):
            return "guest memory of \(size) bytes is over the monitor's limit of \(HypercallABI.maximumMemory) bytes"
        case let .memoryNotPageAligned(size): return "guest memory of \(size) bytes is not a multiple of 4 KiB"
        case let .commandLineTooLong(length):
            return "the command line is \(length) bytes; the limit is \(HypercallABI.commandLineCapacity - 1)"
        case .tooManyPageTables: return "the image spans too many 2 MiB chunks for the monitor's page tables"
        case let .sharedPageWritableAndExecutable(page):
            return "segments share the page at \(hex(page)) with write and execute permissions (W^X)"
        case let .guest(problem): return "boot layout: \(problem)"
        }
    }
}

/// Page-table entry bits.
enum PageFlags {
    static let present: UInt64 = 1
    static let writable: UInt64 = 1 << 1
    static let user: UInt64 = 1 << 2
    static let large: UInt64 = 1 << 7
    static let noExecute: UInt64 = 1 << 63
}

/// The page tables of one guest, as (guest address, 64-bit entry) writes.
public struct PageTableBuilder {
    public static let pml4: UInt64 = 0x4000
    public static let pdpt: UInt64 = 0x5000
    public static let firstDirectory: UInt64 = 0x6000
    static let chunk: UInt64 = 2 << 20

    public private(set) var entries: [(address: UInt64, value: UInt64)] = []
    /// The first byte above the tables.
    public private(set) var end: UInt64 = 0

    public init(memorySize: UInt64, segments: [LoadableSegment]) throws(BootLayoutError) {
        let gib: UInt64 = 1 << 30
        let directories = (memorySize + gib - 1) / gib
        var nextTable = Self.firstDirectory + directories * 0x1000
        entries.append((Self.pml4, Self.pdpt | PageFlags.present | PageFlags.writable | PageFlags.user))
        for index in 0..<directories {
            entries.append((Self.pdpt + index * 8,
                            (Self.firstDirectory + index * 0x1000) | PageFlags.present | PageFlags.writable | PageFlags.user))
        }
        let chunks = (memorySize + Self.chunk - 1) / Self.chunk
        for chunkIndex in 0..<chunks {
            let chunkBase = chunkIndex * Self.chunk
            let directoryEntry = Self.firstDirectory + chunkIndex * 8
            // A 4 KiB table for page 0's chunk, for chunks holding part of the image, and for a last
            // chunk that memory ends inside (so nothing past memory is mapped).
            let needsTable = chunkIndex == 0 || chunkBase + Self.chunk > memorySize || segments.contains {
                $0.address < chunkBase + Self.chunk && $0.address + $0.memorySize > chunkBase
            }
            guard needsTable else {
                entries.append((directoryEntry, chunkBase | PageFlags.present | PageFlags.writable | PageFlags.user
                                | PageFlags.large | PageFlags.noExecute))
                continue
            }
            guard nextTable + 0x1000 <= HypercallABI.kernelBase else { throw .tooManyPageTables }
            let table = nextTable
            nextTable += 0x1000
            entries.append((directoryEntry, table | PageFlags.present | PageFlags.writable | PageFlags.user))
            for page in 0..<UInt64(512) {
                let address = chunkBase + page * 0x1000
                guard address < memorySize else { break }
                if let flags = try Self.flags(forPageAt: address, segments: segments) {
                    entries.append((table + page * 8, address | flags))
                }
            }
        }
        end = nextTable
    }

    /// The flags of one 4 KiB page, or nil to leave it unmapped.
    static func flags(forPageAt address: UInt64, segments: [LoadableSegment]) throws(BootLayoutError) -> UInt64? {
        let base = PageFlags.present | PageFlags.user
        if address == 0 { return nil }                                     // null page
        // Below 1 MiB: boot info, command line, GDT/TSS and page tables. Read-only to the guest.
        if address < HypercallABI.kernelBase { return base | PageFlags.noExecute }
        var writable = false, executable = false, covered = false
        for segment in segments where segment.address < address + 0x1000 && segment.address + segment.memorySize > address {
            covered = true
            writable = writable || segment.writable
            executable = executable || segment.executable
        }
        if !covered { return base | PageFlags.writable | PageFlags.noExecute }
        if writable && executable { throw .sharedPageWritableAndExecutable(address) }
        return base | (writable ? PageFlags.writable : 0) | (executable ? 0 : PageFlags.noExecute)
    }
}

/// The GDT: null, ring-0 code and data (unused, for completeness), ring-3 code and data, the TSS.
public enum GuestDescriptors {
    public static let gdtAddress = HypercallABI.pageTablesAddress
    public static let tssAddress = HypercallABI.pageTablesAddress + 0x100
    public static let userCodeSelector: UInt16 = 0x18 | 3
    public static let userDataSelector: UInt16 = 0x20 | 3
    public static let tssSelector: UInt16 = 0x28
    public static let gdtLimit: UInt16 = 7 * 8 - 1

    /// The TSS: 0x68 bytes, then an I/O permission bitmap of `ioBitmapBytes` zero bytes (ports below
    /// 0x800 reach the monitor as I/O exits, so it can name a stray port) and the terminating 0xFF.
    /// PVM checks ring-3 port I/O against this bitmap (it does not honour IOPL); VMX/SVM honour IOPL 3.
    static let ioBitmapBytes: UInt64 = 0x800 / 8
    public static let tssLimit: UInt64 = 0x68 + ioBitmapBytes      // last byte: the 0xFF terminator

    static var entries: [UInt64] {
        let tssLimit = Self.tssLimit
        let tssLow = tssLimit | ((tssAddress & 0xFF_FFFF) << 16) | (0x89 << 40) | (((tssAddress >> 24) & 0xFF) << 56)
        return [0,
                0x00AF_9A00_0000_FFFF,      // 0x08 code, ring 0, 64-bit
                0x00CF_9200_0000_FFFF,      // 0x10 data, ring 0
                0x00AF_FA00_0000_FFFF,      // 0x18 code, ring 3, 64-bit
                0x00CF_F200_0000_FFFF,      // 0x20 data, ring 3
                tssLow, tssAddress >> 32]   // 0x28 64-bit TSS (available)
    }
}

/// Everything the monitor puts in guest memory, and the boot-info block it describes.
public struct BootLayout {
    public var bootInfo = BootInfo()

    public init(memorySize: UInt64, image: ELFImage, commandLine: [UInt8], tscFrequency: UInt64,
                netMTU: UInt64 = 0, netMAC: UInt64 = 0, blockSectors: UInt64 = 0, startNanoseconds: UInt64 = 0)
        throws(BootLayoutError) {
        guard memorySize % 0x1000 == 0 else { throw .memoryNotPageAligned(memorySize) }
        guard memorySize <= HypercallABI.maximumMemory else { throw .memoryTooLarge(memorySize) }
        let needed = image.end + 64 * 1024
        guard memorySize >= needed else { throw .memoryTooSmall(memorySize, needed: needed) }
        guard UInt64(commandLine.count) < HypercallABI.commandLineCapacity else {
            throw .commandLineTooLong(commandLine.count)
        }
        bootInfo.magic = HypercallABI.bootInfoMagic
        bootInfo.version = HypercallABI.version
        bootInfo.memorySize = memorySize
        bootInfo.kernelEnd = image.end
        bootInfo.tscFrequency = tscFrequency
        bootInfo.commandLine = HypercallABI.commandLineAddress
        bootInfo.commandLineLength = UInt64(commandLine.count)
        bootInfo.netMTU = netMTU
        bootInfo.netMAC = netMAC
        bootInfo.blockSectorCount = blockSectors
        bootInfo.blockSectorSize = blockSectors > 0 ? 512 : 0
        bootInfo.monitorStartNanoseconds = startNanoseconds
        self.commandLine = commandLine
        self.tables = try PageTableBuilder(memorySize: memorySize, segments: image.segments)
    }

    let commandLine: [UInt8]
    let tables: PageTableBuilder

    /// Writes boot info, command line, GDT, TSS and page tables. (The ELF loader writes the segments.)
    public func write(into memory: GuestMemory) throws(BootLayoutError) {
        do throws(GuestAddressProblem) {
            try memory.store(bootInfo, at: HypercallABI.bootInfoAddress)
            let text = try memory.bytes(at: HypercallABI.commandLineAddress, length: UInt64(commandLine.count))
            text.copyBytes(from: commandLine)
            let descriptors = GuestDescriptors.entries
            for (index, entry) in descriptors.enumerated() {
                try memory.storeWord(entry, at: GuestDescriptors.gdtAddress + UInt64(index) * 8)
            }
            // TSS: I/O bitmap offset at 0x66, bitmap of zeros (already zero), terminator byte.
            let tss = try memory.bytes(at: GuestDescriptors.tssAddress, length: GuestDescriptors.tssLimit + 1)
            tss.storeBytes(of: UInt16(0x68), toByteOffset: 0x66, as: UInt16.self)
            tss[Int(GuestDescriptors.tssLimit)] = 0xFF
            for entry in tables.entries { try memory.storeWord(entry.value, at: entry.address) }
        } catch {
            throw .guest(error)
        }
    }
}
