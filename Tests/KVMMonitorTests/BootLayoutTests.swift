// Tests of BootLayout: the page tables, GDT, TSS, boot-info block and command line the monitor writes
// into guest memory before the first instruction. Guest RAM is host memory (no VM); the page tables are
// checked with a small walker that follows PML4 → PDPT → PD → PT like the CPU does.

import HypercallABI
import Testing
@testable import KVMMonitor

private let mib: UInt64 = 1 << 20
private let gib: UInt64 = 1 << 30

// MARK: - Guest RAM and images

/// Guest RAM backed by a host allocation. Only the first `initialized` bytes are written (zeros, like
/// the monitor's fresh anonymous mapping): the boot layout lives below 1 MiB, so a 1 GiB guest need not
/// touch the rest.
private final class HostRAM {
    let base: UnsafeMutableRawPointer
    let memory: GuestMemory

    init(size: UInt64, initialized: UInt64 = 2 << 20) {
        base = UnsafeMutableRawPointer.allocate(byteCount: Int(size), alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Int(min(size, initialized)))
        memory = GuestMemory(base: base, size: size)
    }

    deinit { base.deallocate() }

    func word(_ address: UInt64) throws -> UInt64 { try memory.load(UInt64.self, at: address) }
    func byte(_ address: UInt64) -> UInt8 { base.load(fromByteOffset: Int(address), as: UInt8.self) }
    func halfword(_ address: UInt64) -> UInt16 { base.loadUnaligned(fromByteOffset: Int(address), as: UInt16.self) }
}

private func segment(_ address: UInt64, _ size: UInt64, writable: Bool = false, executable: Bool = false,
                     fileSize: UInt64? = nil) -> LoadableSegment {
    LoadableSegment(fileOffset: 0x1000, address: address, fileSize: fileSize ?? size, memorySize: size,
                    readable: true, writable: writable, executable: executable)
}

/// An image of `segments`, its end rounded up to a page like the ELF loader's.
private func image(_ segments: [LoadableSegment]) -> ELFImage {
    let end = segments.map { ($0.address + $0.memorySize + 0xFFF) & ~UInt64(0xFFF) }.max() ?? HypercallABI.kernelBase
    return ELFImage(entry: segments.first { $0.executable }?.address ?? HypercallABI.kernelBase,
                    segments: segments, end: end)
}

/// The usual small kernel: text (3 pages, R+X) at 1 MiB, rodata (1 page, R), data + bss (1 page of file
/// bytes, 2 pages in memory, R+W). It ends at 0x10_6000.
private var textSegment: LoadableSegment { segment(0x10_0000, 0x3000, executable: true) }
private var rodataSegment: LoadableSegment { segment(0x10_3000, 0x1000) }
private var dataSegment: LoadableSegment { segment(0x10_4000, 0x2000, writable: true, fileSize: 0x800) }
private var kernel: ELFImage { image([textSegment, rodataSegment, dataSegment]) }

/// Lays out `image` in a fresh guest of `memorySize` bytes and returns the guest.
private func boot(memorySize: UInt64 = 8 * mib, image: ELFImage = kernel, commandLine: [UInt8] = Array("-- 3".utf8),
                  tscFrequency: UInt64 = 2_500_000_000, netMTU: UInt64 = 0, netMAC: UInt64 = 0,
                  blockSectors: UInt64 = 0, startNanoseconds: UInt64 = 0) throws -> HostRAM {
    let ram = HostRAM(size: memorySize)
    let layout = try BootLayout(memorySize: memorySize, image: image, commandLine: commandLine,
                                tscFrequency: tscFrequency, netMTU: netMTU, netMAC: netMAC,
                                blockSectors: blockSectors, startNanoseconds: startNanoseconds)
    try layout.write(into: ram.memory)
    return ram
}

/// The error BootLayout's initializer throws, or nil when it accepts.
private func layoutError(memorySize: UInt64, image: ELFImage = kernel, commandLine: [UInt8] = []) -> BootLayoutError? {
    do {
        _ = try BootLayout(memorySize: memorySize, image: image, commandLine: commandLine, tscFrequency: 0)
        return nil
    } catch {
        return error
    }
}

// MARK: - A page-table walker

/// What the walker finds for one virtual address: the effective permissions over all four levels.
private struct Mapping: Equatable, CustomStringConvertible {
    var physical: UInt64
    var writable: Bool
    var user: Bool
    var executable: Bool
    var pageSize: UInt64

    var description: String {
        "→ 0x\(String(physical, radix: 16)) \(writable ? "W" : "RO") \(user ? "U" : "S") \(executable ? "X" : "NX") \(pageSize >> 10) KiB"
    }
}

private enum Bit {
    static let present: UInt64 = 1
    static let writable: UInt64 = 1 << 1
    static let user: UInt64 = 1 << 2
    static let large: UInt64 = 1 << 7
    static let noExecute: UInt64 = 1 << 63
    static let frame: UInt64 = 0x000F_FFFF_FFFF_F000
}

/// Translates `virtual` through the tables at PML4 0x4000 (the monitor's CR3), or nil when some level's
/// entry is not present. A page is writable / user only if every level says so, executable unless some
/// level sets NX.
private func translate(_ ram: HostRAM, _ virtual: UInt64) throws -> Mapping? {
    var table = PageTableBuilder.pml4
    var writable = true, user = true, executable = true
    for (level, shift) in [UInt64(39), 30, 21, 12].enumerated() {
        let entry = try ram.word(table + ((virtual >> shift) & 0x1FF) * 8)
        guard entry & Bit.present != 0 else { return nil }
        writable = writable && entry & Bit.writable != 0
        user = user && entry & Bit.user != 0
        executable = executable && entry & Bit.noExecute == 0
        if level == 3 || (level >= 1 && entry & Bit.large != 0) {
            let size: UInt64 = 1 << shift
            let frame = entry & Bit.frame & ~(size - 1)
            return Mapping(physical: frame | (virtual & (size - 1)), writable: writable, user: user,
                           executable: executable, pageSize: size)
        }
        table = entry & Bit.frame
    }
    return nil
}

private func mapping(_ address: UInt64, writable: Bool, executable: Bool, pageSize: UInt64 = 4096) -> Mapping {
    Mapping(physical: address, writable: writable, user: true, executable: executable, pageSize: pageSize)
}

// MARK: - Tests

@Suite struct BootLayoutTests {
    // MARK: Page tables

    @Test func pageZeroIsNotMapped() throws {
        let ram = try boot()
        #expect(try translate(ram, 0) == nil)
        #expect(try translate(ram, 0xFFF) == nil)
        #expect(try ram.word(PageTableBuilder.firstDirectory) & Bit.large == 0)   // chunk 0 has a 4 KiB table
    }

    @Test func monitorPagesBelowOneMiBAreUserReadOnlyNoExecute() throws {
        let ram = try boot()
        for address: UInt64 in [0x1000, 0x2000, 0x3000, 0x4000] {
            #expect(try translate(ram, address) == mapping(address, writable: false, executable: false), "page \(address)")
        }
        for address in stride(from: UInt64(0x1000), to: HypercallABI.kernelBase, by: 0x1000) {
            #expect(try translate(ram, address) == mapping(address, writable: false, executable: false), "page \(address)")
        }
    }

    @Test func textPagesAreReadOnlyAndExecutable() throws {
        let ram = try boot()
        for address: UInt64 in [0x10_0000, 0x10_1000, 0x10_2000] {
            #expect(try translate(ram, address) == mapping(address, writable: false, executable: true))
        }
        #expect(try translate(ram, 0x10_2FFF)?.physical == 0x10_2FFF)   // identity map inside the page
    }

    @Test func rodataPagesAreReadOnlyNoExecute() throws {
        let ram = try boot()
        #expect(try translate(ram, 0x10_3000) == mapping(0x10_3000, writable: false, executable: false))
    }

    @Test func dataAndBSSPagesAreWritableNoExecute() throws {
        let ram = try boot()
        #expect(try translate(ram, 0x10_4000) == mapping(0x10_4000, writable: true, executable: false))   // data
        #expect(try translate(ram, 0x10_5000) == mapping(0x10_5000, writable: true, executable: false))   // bss
    }

    @Test func memoryAfterTheKernelIsWritableNoExecute() throws {
        let ram = try boot(memorySize: 8 * mib)
        // The rest of chunk 0: 4 KiB pages of its table.
        #expect(try translate(ram, 0x10_6000) == mapping(0x10_6000, writable: true, executable: false))
        #expect(try translate(ram, 0x1F_F000) == mapping(0x1F_F000, writable: true, executable: false))
        // A later chunk without segments: one 2 MiB page.
        let later = try #require(try translate(ram, 4 * mib + 0x1234))
        #expect(later == Mapping(physical: 4 * mib + 0x1234, writable: true, user: true, executable: false, pageSize: 2 * mib))
        let entry = try ram.word(PageTableBuilder.firstDirectory + 2 * 8)
        #expect(entry & Bit.large != 0)
        #expect(entry & Bit.frame == 4 * mib)
    }

    @Test func aSegmentInALaterChunkGetsItsOwnPageTable() throws {
        // A data segment straddling the 2 MiB boundary and a text segment at 4 MiB.
        let image = image([segment(0x10_0000, 0x1000, executable: true),
                           segment(0x1F_F000, 0x2000, writable: true),
                           segment(0x40_0000, 0x1000, executable: true)])
        let ram = try boot(memorySize: 8 * mib, image: image)
        #expect(try translate(ram, 0x1F_F000) == mapping(0x1F_F000, writable: true, executable: false))
        #expect(try translate(ram, 0x20_0000) == mapping(0x20_0000, writable: true, executable: false))
        #expect(try translate(ram, 0x20_1000) == mapping(0x20_1000, writable: true, executable: false))
        #expect(try translate(ram, 0x40_0000) == mapping(0x40_0000, writable: false, executable: true))
        #expect(try translate(ram, 0x3F_F000) == mapping(0x3F_F000, writable: true, executable: false))
        #expect(try translate(ram, 0x40_1000) == mapping(0x40_1000, writable: true, executable: false))
        #expect(try translate(ram, 0x60_0000)?.pageSize == 2 * mib)    // chunk 3 has no segment
    }

    @Test func theLastPageIsMappedAndNothingBeyondMemoryInTheLastTable() throws {
        // 1.5 MiB: the last (and only) chunk has a 4 KiB table; its entries past the end are empty.
        let size = 0x18_0000 as UInt64
        let ram = try boot(memorySize: size)
        #expect(try translate(ram, size - 0x1000) == mapping(size - 0x1000, writable: true, executable: false))
        let table = try ram.word(PageTableBuilder.firstDirectory) & Bit.frame
        for page in (size / 0x1000)..<512 {
            #expect(try ram.word(table + page * 8) == 0, "page table entry \(page)")
            #expect(try translate(ram, page * 0x1000) == nil)
        }
        for chunk in UInt64(1)..<512 { #expect(try ram.word(PageTableBuilder.firstDirectory + chunk * 8) == 0) }
        for directory in UInt64(1)..<512 { #expect(try ram.word(PageTableBuilder.pdpt + directory * 8) == 0) }
        for slot in UInt64(1)..<512 { #expect(try ram.word(PageTableBuilder.pml4 + slot * 8) == 0) }
    }

    @Test func theLastChunkOfWholeChunkMemoryIsMappedAndTheNextIsNot() throws {
        let ram = try boot(memorySize: 8 * mib)
        #expect(try translate(ram, 8 * mib - 0x1000)?.physical == 8 * mib - 0x1000)
        #expect(try translate(ram, 8 * mib) == nil)
        #expect(try ram.word(PageTableBuilder.firstDirectory + 4 * 8) == 0)
    }

    /// With memory that ends inside a 2 MiB chunk holding no segment (here 3 MiB: chunk 1 is
    /// 2 ... 4 MiB), that chunk gets a 4 KiB table, so 3 ... 4 MiB is not mapped: a guest access there
    /// is a page fault, not an MMIO exit.
    @Test func nothingPastMemoryIsMappedWhenMemoryEndsInsideALargePageChunk() throws {
        let size = 3 * mib
        let ram = try boot(memorySize: size)
        #expect(try translate(ram, size - 0x1000)?.physical == size - 0x1000)
        #expect(try translate(ram, size) == nil)
        #expect(try translate(ram, 4 * mib - 0x1000) == nil)
    }

    @Test func everyMappedPageIsAUserPage() throws {
        let ram = try boot(memorySize: 8 * mib)
        var mapped = 0
        for address in stride(from: UInt64(0x1000), to: 8 * mib, by: 0x1000) {
            let page = try #require(try translate(ram, address), "page \(address) is not mapped")
            #expect(page.user, "page \(address) is a supervisor page")
            #expect(page.physical == address)
            mapped += 1
        }
        #expect(mapped == 2047)
    }

    @Test func thePageTablesFitBelowTheKernel() throws {
        let layout = try BootLayout(memorySize: 4 * gib, image: kernel, commandLine: [], tscFrequency: 0)
        #expect(layout.tables.end <= HypercallABI.kernelBase)
        #expect(layout.tables.entries.allSatisfy { $0.address >= PageTableBuilder.pml4 && $0.address < layout.tables.end })
        #expect(layout.tables.entries.allSatisfy { $0.value & Bit.user != 0 })
    }

    @Test func segmentsSharingAPageGetTheUnionOfTheirPermissions() throws {
        // text and rodata share 0x10_1000 → R+X; rodata and data share 0x10_3000 → R+W, NX.
        let image = image([segment(0x10_0000, 0x1800, executable: true),
                           segment(0x10_1800, 0x2000),
                           segment(0x10_3800, 0x1000, writable: true)])
        let ram = try boot(image: image)
        #expect(try translate(ram, 0x10_1000) == mapping(0x10_1000, writable: false, executable: true))
        #expect(try translate(ram, 0x10_2000) == mapping(0x10_2000, writable: false, executable: false))
        #expect(try translate(ram, 0x10_3000) == mapping(0x10_3000, writable: true, executable: false))
        #expect(try translate(ram, 0x10_4000) == mapping(0x10_4000, writable: true, executable: false))
    }

    @Test func segmentsSharingAPageWritableAndExecutableAreRefused() {
        let image = image([segment(0x10_0000, 0x1800, executable: true), segment(0x10_1800, 0x800, writable: true)])
        guard case let .sharedPageWritableAndExecutable(page) = layoutError(memorySize: 8 * mib, image: image) else {
            Issue.record("W+X shared page accepted")
            return
        }
        #expect(page == 0x10_1000)
        #expect(BootLayoutError.sharedPageWritableAndExecutable(page).description.contains("0x101000"))
    }

    @Test func anImageSpanningTooManyChunksIsRefused() {
        // One page directory leaves 249 tables below 1 MiB; a 600 MiB bss needs 301.
        let image = image([segment(0x10_0000, 0x1000, executable: true), segment(0x10_1000, 600 * mib, writable: true)])
        guard case .tooManyPageTables = layoutError(memorySize: gib, image: image) else {
            Issue.record("expected tooManyPageTables")
            return
        }
    }

    // MARK: Refusals

    @Test(arguments: [2 * mib + 1, 2 * mib + 0x800, 8 * mib - 1])
    func memoryNotAMultipleOf4KiBIsRefused(size: UInt64) {
        guard case let .memoryNotPageAligned(reported) = layoutError(memorySize: size) else {
            Issue.record("\(size) bytes accepted")
            return
        }
        #expect(reported == size)
    }

    @Test func memoryTooSmallForTheImageIsRefused() {
        let needed = kernel.end + 64 * 1024
        guard case let .memoryTooSmall(size, reported) = layoutError(memorySize: needed - 0x1000) else {
            Issue.record("memory smaller than the image accepted")
            return
        }
        #expect(size == needed - 0x1000)
        #expect(reported == needed)
        #expect(layoutError(memorySize: needed) == nil)
        #expect(layoutError(memorySize: 0x10_0000) != nil)     // not even the image's first page
    }

    @Test func memoryOver4GiBIsRefused() {
        guard case let .memoryTooLarge(size) = layoutError(memorySize: 4 * gib + 0x1000) else {
            Issue.record("more than 4 GiB accepted")
            return
        }
        #expect(size == 4 * gib + 0x1000)
        #expect(layoutError(memorySize: 4 * gib) == nil)
    }

    @Test func aCommandLineOf4096BytesIsRefusedAnd4095Accepted() throws {
        guard case let .commandLineTooLong(length) = layoutError(memorySize: 2 * mib, commandLine: Array(repeating: 0x61, count: 4096)) else {
            Issue.record("a 4096-byte command line accepted")
            return
        }
        #expect(length == 4096)
        let line = (0..<4095).map { UInt8(0x21 + $0 % 90) }
        let ram = try boot(memorySize: 2 * mib, commandLine: line)
        #expect(Array(UnsafeRawBufferPointer(start: ram.base + 0x2000, count: 4095)) == line)
        #expect(ram.byte(0x2FFF) == 0)
        #expect(try ram.memory.load(BootInfo.self, at: 0x1000).commandLineLength == 4095)
    }

    // MARK: Boot info, command line, GDT, TSS

    @Test func bootInfoReadsBack() throws {
        let ram = try boot(memorySize: 8 * mib, commandLine: Array("tessera.bootstats -- hello".utf8),
                           tscFrequency: 2_100_000_000, netMTU: 1500, netMAC: 0x5634_1200_0002,
                           blockSectors: 16, startNanoseconds: 123_456_789)
        let info = try ram.memory.load(BootInfo.self, at: HypercallABI.bootInfoAddress)
        #expect(info.magic == HypercallABI.bootInfoMagic)
        #expect(info.version == 1)
        #expect(info.memorySize == 8 * mib)
        #expect(info.kernelEnd == 0x10_6000)
        #expect(info.tscFrequency == 2_100_000_000)
        #expect(info.commandLine == 0x2000)
        #expect(info.commandLineLength == 26)
        #expect(info.netMTU == 1500)
        #expect(info.netMAC == 0x5634_1200_0002)
        #expect(info.blockSectorCount == 16)
        #expect(info.blockSectorSize == 512)
        #expect(info.monitorStartNanoseconds == 123_456_789)
        // The raw layout: "TESSERA1" first, then one little-endian word per field.
        #expect(Array(UnsafeRawBufferPointer(start: ram.base + 0x1000, count: 8)) == Array("TESSERA1".utf8))
        #expect(try ram.word(0x1000 + 2 * 8) == 8 * mib)
        #expect(try ram.word(0x1000 + 6 * 8) == 26)
        #expect(try ram.word(0x1000 + 9 * 8) == 16)
    }

    @Test func bootInfoWithoutDevicesReportsNone() throws {
        let ram = try boot(memorySize: 2 * mib)
        let info = try ram.memory.load(BootInfo.self, at: HypercallABI.bootInfoAddress)
        #expect(info.netMTU == 0)
        #expect(info.netMAC == 0)
        #expect(info.blockSectorCount == 0)
        #expect(info.blockSectorSize == 0)
    }

    @Test func commandLineBytesAreExactlyTheGivenOnes() throws {
        let line: [UInt8] = Array("ip=10.0.0.2/24 -- \"a b\" \\\\ é".utf8) + [0x01, 0xFF, 0x09]
        let ram = try boot(commandLine: line)
        #expect(Array(UnsafeRawBufferPointer(start: ram.base + 0x2000, count: line.count)) == line)
        #expect(ram.byte(0x2000 + UInt64(line.count)) == 0)     // no terminator written, nothing beyond
        #expect(try ram.memory.load(BootInfo.self, at: 0x1000).commandLineLength == UInt64(line.count))
    }

    @Test func anEmptyCommandLineWritesNothing() throws {
        let ram = try boot(commandLine: [])
        #expect(ram.byte(0x2000) == 0)
        #expect(try ram.memory.load(BootInfo.self, at: 0x1000).commandLineLength == 0)
    }

    @Test func gdtUserCodeDescriptorIs64BitRing3() throws {
        let ram = try boot()
        #expect(GuestDescriptors.userCodeSelector == 0x1B)
        let code = try ram.word(GuestDescriptors.gdtAddress + 3 * 8)
        #expect(code >> 47 & 1 == 1)          // present
        #expect(code >> 45 & 3 == 3)          // DPL 3
        #expect(code >> 44 & 1 == 1)          // code/data, not system
        #expect(code >> 43 & 1 == 1)          // executable
        #expect(code >> 53 & 1 == 1)          // L: 64-bit
        #expect(code >> 54 & 1 == 0)          // D must be 0 with L
        let data = try ram.word(GuestDescriptors.gdtAddress + 4 * 8)
        #expect(data >> 47 & 1 == 1 && data >> 45 & 3 == 3 && data >> 43 & 1 == 0 && data >> 41 & 1 == 1)   // writable data, DPL 3
        #expect(try ram.word(GuestDescriptors.gdtAddress) == 0)                      // null descriptor
        #expect(try ram.word(GuestDescriptors.gdtAddress + 1 * 8) >> 45 & 3 == 0)    // ring-0 code
    }

    @Test func gdtTSSDescriptorPointsAtTheTSS() throws {
        let ram = try boot()
        #expect(GuestDescriptors.tssSelector == 0x28)
        let low = try ram.word(GuestDescriptors.gdtAddress + 0x28)
        let high = try ram.word(GuestDescriptors.gdtAddress + 0x30)
        let base = (low >> 16 & 0xFF_FFFF) | (low >> 56 & 0xFF) << 24 | (high & 0xFFFF_FFFF) << 32
        let limit = (low & 0xFFFF) | (low >> 48 & 0xF) << 16
        #expect(base == GuestDescriptors.tssAddress)
        #expect(limit == GuestDescriptors.tssLimit)
        #expect(low >> 40 & 0xF == 0x9)       // 64-bit TSS, available
        #expect(low >> 44 & 1 == 0)           // system descriptor
        #expect(low >> 47 & 1 == 1)           // present
        #expect(low >> 55 & 1 == 0)           // byte granularity
        #expect(high >> 32 == 0)              // upper half reserved
        #expect(UInt64(GuestDescriptors.gdtLimit) + 1 == 7 * 8)
    }

    @Test func tssIOBitmapAllowsTheHypercallPortsAndIsTerminated() throws {
        let ram = try boot()
        let tss = GuestDescriptors.tssAddress
        #expect(tss == 0x3100)
        #expect(ram.halfword(tss + 0x66) == 0x68)
        #expect(GuestDescriptors.tssLimit == 0x68 + 0x100)
        for port in UInt64(0x500)...0x507 {
            #expect(ram.byte(tss + 0x68 + port / 8) >> (port % 8) & 1 == 0, "port \(port)")
        }
        for offset in UInt64(0x68)..<GuestDescriptors.tssLimit { #expect(ram.byte(tss + offset) == 0) }
        #expect(ram.byte(tss + GuestDescriptors.tssLimit) == 0xFF)
        #expect(tss + GuestDescriptors.tssLimit < PageTableBuilder.pml4)    // the TSS stays in the GDT's page
    }

    // MARK: Memory sizes

    @Test(arguments: [2 * mib, 8 * mib, gib + 2 * mib])
    func memorySizesLayOutAndMapTheirLastPage(size: UInt64) throws {
        let ram = try boot(memorySize: size)
        #expect(try translate(ram, 0) == nil)
        #expect(try translate(ram, 0x10_0000) == mapping(0x10_0000, writable: false, executable: true))
        let last = try #require(try translate(ram, size - 0x1000))
        #expect(last.physical == size - 0x1000 && last.writable && !last.executable && last.user)
        #expect(try translate(ram, size) == nil)
        let directories = (size + gib - 1) / gib
        for index in UInt64(0)..<4 {
            let entry = try ram.word(PageTableBuilder.pdpt + index * 8)
            if index < directories {
                #expect(entry & Bit.frame == PageTableBuilder.firstDirectory + index * 0x1000)
                #expect(entry & (Bit.present | Bit.writable | Bit.user) == Bit.present | Bit.writable | Bit.user)
            } else {
                #expect(entry == 0)
            }
        }
        #expect(try ram.memory.load(BootInfo.self, at: 0x1000).memorySize == size)
    }

    @Test func theSecondGiBUsesTheSecondPageDirectory() throws {
        let ram = try boot(memorySize: gib + 2 * mib)
        let entry = try ram.word(PageTableBuilder.firstDirectory + 0x1000)     // directory 1, chunk 0
        #expect(entry & Bit.large != 0 && entry & Bit.frame == gib)
        #expect(try ram.word(PageTableBuilder.firstDirectory + 0x1000 + 8) == 0)
        // Chunk 0's 4 KiB table comes after both directories.
        #expect(try ram.word(PageTableBuilder.firstDirectory) & Bit.frame == PageTableBuilder.firstDirectory + 0x2000)
        #expect(try translate(ram, gib + 0x12_3456)?.physical == gib + 0x12_3456)
        #expect(try translate(ram, gib - 0x1000)?.pageSize == 2 * mib)
    }
}
