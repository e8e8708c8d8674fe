// Tests of the monitor's ELF loader: each test writes the exact ELF64 file it needs with `ELFWriter`.

import Foundation
import HypercallABI
import Testing
@testable import KVMMonitor

// MARK: - A small ELF64 writer

private let PF_X: UInt32 = 1, PF_W: UInt32 = 2, PF_R: UInt32 = 4
private let PT_LOAD: UInt32 = 1, PT_DYNAMIC: UInt32 = 2, PT_INTERP: UInt32 = 3, PT_NOTE: UInt32 = 4
private let PT_GNU_STACK: UInt32 = 0x6474_E551

/// One program header and the bytes it loads.
private struct SegmentSpec {
    var type: UInt32 = PT_LOAD
    var flags: UInt32
    var address: UInt64
    var physicalAddress: UInt64? = nil     // default: `address`
    var bytes: [UInt8] = []
    var memorySize: UInt64
    var fileOffset: UInt64? = nil          // default: where the writer puts `bytes`
    var fileSize: UInt64? = nil            // default: bytes.count
}

/// Writes an ELF64 little-endian x86-64 ET_EXEC: the 64-byte header, the program header table right
/// after it, then each segment's bytes in order.
private struct ELFWriter {
    var entry: UInt64 = 0x10_0000
    var type: UInt16 = 2
    var machine: UInt16 = 62
    var segments: [SegmentSpec]

    /// The file, and where each segment's bytes start in it.
    func write() -> (file: [UInt8], offsets: [UInt64]) {
        var file: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { file += $0 } }
        var offsets: [UInt64] = []
        var next = UInt64(64 + 56 * segments.count)
        for segment in segments { offsets.append(next); next += UInt64(segment.bytes.count) }

        file += [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)   // e_ident
        put(type); put(machine); put(UInt32(1)); put(entry)
        put(UInt64(64)); put(UInt64(0)); put(UInt32(0))            // e_phoff, e_shoff, e_flags
        put(UInt16(64)); put(UInt16(56)); put(UInt16(segments.count))  // e_ehsize, e_phentsize, e_phnum
        put(UInt16(64)); put(UInt16(0)); put(UInt16(0))            // e_shentsize, e_shnum, e_shstrndx
        for (segment, offset) in zip(segments, offsets) {
            put(segment.type); put(segment.flags)
            put(segment.fileOffset ?? offset); put(segment.address); put(segment.physicalAddress ?? segment.address)
            put(segment.fileSize ?? UInt64(segment.bytes.count)); put(segment.memorySize); put(UInt64(0x1000))
        }
        for segment in segments { file += segment.bytes }
        return (file, offsets)
    }

    var file: [UInt8] { write().file }
}

/// `file` with a little-endian integer written over the bytes at `offset`.
private func patched<T: FixedWidthInteger>(_ file: [UInt8], at offset: Int, _ value: T) -> [UInt8] {
    var copy = file
    withUnsafeBytes(of: value.littleEndian) { copy.replaceSubrange(offset ..< offset + $0.count, with: $0) }
    return copy
}

private let twoMiB: UInt64 = 2 << 20

private func parse(_ file: [UInt8], memorySize: UInt64 = twoMiB) throws(ELFLoadError) -> ELFImage {
    try file.withUnsafeBytes { bytes in
        Result { () throws(ELFLoadError) in try ELFImage.parse(bytes, memorySize: memorySize) }
    }.get()
}

/// The error `parse` refuses `file` with, or nil when it accepts it.
private func refusal(_ file: [UInt8], memorySize: UInt64 = twoMiB) -> ELFLoadError? {
    do { _ = try parse(file, memorySize: memorySize); return nil } catch { return error }
}

private func pattern(_ count: Int, seed: UInt8) -> [UInt8] { (0 ..< count).map { UInt8(truncatingIfNeeded: $0 &* 7) &+ seed } }

/// A plain text segment at 1 MiB holding the default entry point.
private let text = SegmentSpec(flags: PF_R | PF_X, address: 0x10_0000, bytes: pattern(64, seed: 1), memorySize: 0x1000)

/// The three-segment kernel: text R+X, rodata R, data RW with .bss; plus ignored headers.
private let goodKernel = ELFWriter(entry: 0x10_0010, segments: [
    SegmentSpec(flags: PF_R | PF_X, address: 0x10_0000, bytes: pattern(0x180, seed: 3), memorySize: 0x180),
    SegmentSpec(type: PT_NOTE, flags: PF_R, address: 0, bytes: [1, 2, 3, 4], memorySize: 4),
    SegmentSpec(flags: PF_R, address: 0x10_1000, bytes: pattern(0x40, seed: 9), memorySize: 0x40),
    SegmentSpec(type: PT_GNU_STACK, flags: PF_R | PF_W, address: 0, memorySize: 0),
    SegmentSpec(flags: PF_R | PF_W, address: 0x10_2000, bytes: pattern(0x20, seed: 17), memorySize: 0x1800),
    SegmentSpec(flags: PF_R, address: 0x1F_0000, memorySize: 0),   // empty PT_LOAD: skipped
])

/// The ELF loader: accepted images, then refused segments, then refused files.
@Suite struct ELFLoaderTests {
    // MARK: - Accepted images

    @Test func goodThreeSegmentImageParsesWithEntrySegmentsAndPageRoundedEnd() throws {
        let (file, offsets) = goodKernel.write()
        let image = try parse(file)
        #expect(image.entry == 0x10_0010)
        #expect(image.segments == [
            LoadableSegment(fileOffset: offsets[0], address: 0x10_0000, fileSize: 0x180, memorySize: 0x180,
                            readable: true, writable: false, executable: true),
            LoadableSegment(fileOffset: offsets[2], address: 0x10_1000, fileSize: 0x40, memorySize: 0x40,
                            readable: true, writable: false, executable: false),
            LoadableSegment(fileOffset: offsets[4], address: 0x10_2000, fileSize: 0x20, memorySize: 0x1800,
                            readable: true, writable: true, executable: false),
        ])
        #expect(image.end == 0x10_4000)   // 0x103800 rounded up
    }

    @Test func loadCopiesSegmentBytesAndZeroFillsBSS() throws {
        let file = goodKernel.file
        let image = try parse(file)
        let size = Int(twoMiB)
        let base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { base.deallocate() }
        base.initializeMemory(as: UInt8.self, repeating: 0xAA, count: size)
        let memory = GuestMemory(base: base, size: twoMiB)
        try file.withUnsafeBytes { bytes in try image.load(bytes, into: memory) }

        func guest(_ address: UInt64, _ count: Int) -> [UInt8] {
            [UInt8](UnsafeRawBufferPointer(start: base + Int(address), count: count))
        }
        #expect(guest(0x10_0000, 0x180) == pattern(0x180, seed: 3))
        #expect(guest(0x10_1000, 0x40) == pattern(0x40, seed: 9))
        #expect(guest(0x10_2000, 0x20) == pattern(0x20, seed: 17))
        #expect(guest(0x10_2020, 0x17E0) == [UInt8](repeating: 0, count: 0x17E0))           // .bss
        #expect(guest(0x10_3800, 0x10) == [UInt8](repeating: 0xAA, count: 0x10))            // past the .bss
        #expect(guest(0x10_0180, 0x10) == [UInt8](repeating: 0xAA, count: 0x10))            // past the text
        #expect(guest(0x0F_FFF0, 0x10) == [UInt8](repeating: 0xAA, count: 0x10))            // below 1 MiB
    }

    @Test func touchingSegmentsAreAccepted() throws {
        let image = try parse(ELFWriter(segments: [
            text, SegmentSpec(flags: PF_R | PF_W, address: 0x10_1000, memorySize: 0x1000),
        ]).file)
        #expect(image.segments.count == 2)
        #expect(image.end == 0x10_2000)
    }

    @Test func segmentEndingExactlyAtTheEndOfMemoryIsAccepted() throws {
        let image = try parse(ELFWriter(entry: 0x1F_F000, segments: [
            SegmentSpec(flags: PF_R | PF_X, address: 0x1F_F000, memorySize: 0x1000),
        ]).file)
        #expect(image.end == twoMiB)
    }

    @Test func parseContentsOfReadsTheFileAndReturnsItsBytes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("elf-\(UUID()).elf").path
        let file = goodKernel.file
        try Data(file).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (image, bytes) = try ELFImage.parse(contentsOf: path, memorySize: twoMiB)
        #expect(bytes == file)
        #expect(image.segments.count == 3)
    }

    @Test func parseContentsOfAnUnreadableFileSaysCannotReadWithTheReason() {
        for (path, reason) in [("/nonexistent/tessera-kernel.elf", "No such file or directory"),
                               (FileManager.default.temporaryDirectory.path, "Is a directory")] {
            do {
                _ = try ELFImage.parse(contentsOf: path, memorySize: twoMiB)
                Issue.record("\(path) was accepted")
            } catch {
                #expect("\(error)" == "cannot read \(path): \(reason)")
            }
        }
    }

    // MARK: - Refused segments

    @Test func writableAndExecutableSegmentIsRefused() {
        let error = refusal(ELFWriter(segments: [text, SegmentSpec(flags: PF_R | PF_W | PF_X, address: 0x10_1000, memorySize: 0x10)]).file)
        #expect(error == .writableAndExecutable(index: 1, address: 0x10_1000))
        #expect(error?.description == "segment 1 at 0x101000 is both writable and executable (W^X)")
    }

    @Test func segmentEndingPastMemoryIsRefused() {
        let error = refusal(ELFWriter(segments: [text, SegmentSpec(flags: PF_R, address: 0x1F_F000, memorySize: 0x2000)]).file)
        #expect(error == .segmentOutsideMemory(index: 1, address: 0x1F_F000, end: 0x20_1000, memorySize: twoMiB))
        #expect(error?.description == "segment 1 at 0x1ff000-0x201000 does not fit in guest memory (0x200000 bytes)")
    }

    @Test func segmentStartingPastMemoryIsRefused() {
        let error = refusal(ELFWriter(segments: [text, SegmentSpec(flags: PF_R, address: 0x30_0000, memorySize: 0x10)]).file)
        #expect(error == .segmentOutsideMemory(index: 1, address: 0x30_0000, end: 0x30_0010, memorySize: twoMiB))
    }

    @Test func segmentBelowTheKernelBaseIsRefused() {
        let error = refusal(ELFWriter(segments: [SegmentSpec(flags: PF_R | PF_X, address: 0xF_F000, memorySize: 0x2000)]).file)
        #expect(error == .segmentBelowKernelBase(index: 0, address: 0xF_F000))
        #expect(error?.description == "segment 0 at 0xff000 is below the kernel base 0x100000")
    }

    @Test func segmentWrappingAround2To64IsRefused() {
        let error = refusal(ELFWriter(segments: [text, SegmentSpec(flags: PF_R, address: 0xFFFF_FFFF_FFFF_F000, memorySize: 0x2000)]).file,
                            memorySize: .max)
        #expect(error == .segmentWraps(index: 1, address: 0xFFFF_FFFF_FFFF_F000, size: 0x2000))
        #expect(error?.description.contains("segment 1 at 0xfffffffffffff000") == true)
    }

    @Test func segmentWhosePageRoundedEndWrapsIsRefused() {
        let error = refusal(ELFWriter(segments: [text, SegmentSpec(flags: PF_R, address: 0xFFFF_FFFF_FFFF_F000, memorySize: 0xFFF)]).file,
                            memorySize: .max)
        #expect(error == .segmentWraps(index: 1, address: 0xFFFF_FFFF_FFFF_F000, size: 0xFFF))
    }

    @Test func overlappingSegmentsAreRefused() {
        let error = refusal(ELFWriter(entry: 0x10_0000, segments: [
            text,
            SegmentSpec(flags: PF_R, address: 0x10_1000, memorySize: 0x2000),
            SegmentSpec(flags: PF_R | PF_W, address: 0x10_2000, memorySize: 0x2000),
        ]).file)
        #expect(error == .overlapping(index: 1, otherIndex: 2, range: 0x10_1000 ..< 0x10_3000, otherRange: 0x10_2000 ..< 0x10_4000))
        #expect(error?.description == "segments 1 and 2 overlap (0x101000-0x103000 and 0x102000-0x104000)")
    }

    @Test func segmentInsideAnotherIsRefusedAsOverlapping() {
        let error = refusal(ELFWriter(segments: [
            SegmentSpec(flags: PF_R | PF_X, address: 0x10_0000, memorySize: 0x4000),
            SegmentSpec(flags: PF_R, address: 0x10_1000, memorySize: 0x10),
        ]).file)
        #expect(error == .overlapping(index: 0, otherIndex: 1, range: 0x10_0000 ..< 0x10_4000, otherRange: 0x10_1000 ..< 0x10_1010))
    }

    @Test func fileSizeOverMemorySizeIsRefused() {
        let error = refusal(ELFWriter(segments: [text, SegmentSpec(flags: PF_R, address: 0x10_1000, bytes: pattern(32, seed: 0), memorySize: 16)]).file)
        #expect(error == .fileSizeOverMemorySize(index: 1, fileSize: 32, memorySize: 16))
    }

    @Test func virtualAddressDifferentFromPhysicalIsRefused() {
        let error = refusal(ELFWriter(segments: [
            text, SegmentSpec(flags: PF_R, address: 0xFFFF_8000_0010_1000, physicalAddress: 0x10_1000, memorySize: 0x10),
        ]).file)
        #expect(error == .virtualNotPhysical(index: 1, virtual: 0xFFFF_8000_0010_1000, physical: 0x10_1000))
        #expect(error?.description.contains("segment 1 has virtual address 0xffff800000101000") == true)
    }

    @Test func entryInANonExecutableSegmentIsRefused() {
        let error = refusal(ELFWriter(entry: 0x10_1008, segments: [text, SegmentSpec(flags: PF_R | PF_W, address: 0x10_1000, memorySize: 0x10)]).file)
        #expect(error == .entryNotExecutable(entry: 0x10_1008))
        #expect(error?.description == "the entry point 0x101008 is not inside an executable segment")
    }

    @Test func entryOutsideEverySegmentIsRefused() {
        #expect(refusal(ELFWriter(entry: 0x10_1000, segments: [text]).file) == .entryNotExecutable(entry: 0x10_1000))
    }

    @Test func moreThanSixteenLoadSegmentsAreRefused() {
        let many = (0 ..< 17).map { SegmentSpec(flags: PF_R | PF_X, address: 0x10_0000 + UInt64($0) * 0x1000, memorySize: 0x10) }
        #expect(refusal(ELFWriter(segments: many).file) == .tooManySegments(count: 17))
        #expect(throws: Never.self) { try parse(ELFWriter(segments: Array(many.prefix(16))).file) }
    }

    @Test func noLoadableSegmentsIsRefused() {
        #expect(refusal(ELFWriter(segments: [SegmentSpec(type: PT_NOTE, flags: PF_R, address: 0, bytes: [1], memorySize: 1)]).file)
            == .noLoadableSegments)
        #expect(refusal(ELFWriter(segments: [SegmentSpec(flags: PF_R | PF_X, address: 0x10_0000, memorySize: 0)]).file)
            == .noLoadableSegments)
        #expect(refusal(ELFWriter(segments: []).file) == .noLoadableSegments)
    }

    // MARK: - Refused files

    @Test func programHeaderTablePastTheEndOfTheFileIsRefused() {
        let file = ELFWriter(segments: [text]).file
        let error = refusal(patched(file, at: 32, UInt64(file.count - 20)))   // e_phoff
        guard case .truncated(let what)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(what.contains("program header table"))
    }

    @Test func segmentFileRangePastTheEndOfTheFileIsRefused() {
        let file = ELFWriter(segments: [text, SegmentSpec(flags: PF_R, address: 0x10_1000, memorySize: 0x1000, fileOffset: 0x100, fileSize: 0x800)]).file
        let error = refusal(file)
        guard case .truncated(let what)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(what.contains("segment 1"))
        let wrapping = ELFWriter(segments: [text, SegmentSpec(flags: PF_R, address: 0x10_1000, memorySize: 0x1000,
                                                              fileOffset: .max - 4, fileSize: 0x10)]).file
        guard case .truncated? = refusal(wrapping) else { Issue.record("a wrapping file range was accepted"); return }
    }

    @Test func hugeProgramHeaderCountsAndOffsetsAreRefusedAsTruncated() {
        let file = ELFWriter(segments: [text]).file
        let huge = patched(patched(file, at: 54, UInt16.max), at: 56, UInt16.max)             // e_phentsize, e_phnum
        let wrapping = patched(file, at: 32, UInt64.max - 0x10)                                 // e_phoff + table wraps
        let hugeBoth = patched(patched(huge, at: 32, UInt64(0xFFFF_FFFF_FFFF_0000)), at: 56, UInt16.max)
        for candidate in [huge, wrapping, hugeBoth] {
            guard case .truncated? = refusal(candidate) else { Issue.record("accepted or wrong error: \(String(describing: refusal(candidate)))"); continue }
        }
    }

    @Test func programHeaderEntriesSmallerThan56BytesAreRefused() {
        let error = refusal(patched(ELFWriter(segments: [text]).file, at: 54, UInt16(32)))
        guard case .truncated(let what)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(what.contains("32 bytes"))
    }

    @Test func fileWithoutTheELFMagicIsRefused() {
        #expect(refusal(patched(ELFWriter(segments: [text]).file, at: 0, UInt8(0x7E))) == .notELF)
        #expect(refusal(Array("#!/bin/sh\necho hello\n".utf8)) == .notELF)
        #expect(refusal([0x7F, 0x45]) == .notELF)
        #expect(refusal([]) == .notELF)
    }

    @Test func fileShorterThanTheELFHeaderIsRefusedAsTruncated() {
        guard case .truncated? = refusal(Array(ELFWriter(segments: [text]).file.prefix(40))) else {
            Issue.record("a 40-byte file was not refused as truncated"); return
        }
    }

    @Test func thirtyTwoBitAndBigEndianFilesAreRefused() {
        let file = ELFWriter(segments: [text]).file
        #expect(refusal(patched(file, at: 4, UInt8(1))) == .unsupportedClass)   // ELFCLASS32
        #expect(refusal(patched(file, at: 5, UInt8(2))) == .unsupportedClass)   // ELFDATA2MSB
    }

    @Test func wrongMachineIsRefused() {
        let error = refusal(ELFWriter(machine: 183, segments: [text]).file)   // EM_AARCH64
        #expect(error == .unsupportedMachine(machine: 183))
        #expect(error?.description.contains("183") == true)
    }

    @Test func sharedObjectIsRefused() {
        #expect(refusal(ELFWriter(type: 3, segments: [text]).file) == .notExecutable(type: 3))   // ET_DYN
        #expect(refusal(ELFWriter(type: 1, segments: [text]).file) == .notExecutable(type: 1))   // ET_REL
    }

    @Test func interpreterOrDynamicSectionIsRefused() {
        let interp = SegmentSpec(type: PT_INTERP, flags: PF_R, address: 0x10_2000, bytes: Array("/lib/ld.so\0".utf8), memorySize: 11)
        let dynamic = SegmentSpec(type: PT_DYNAMIC, flags: PF_R | PF_W, address: 0x10_2000, memorySize: 0x10)
        #expect(refusal(ELFWriter(segments: [text, interp]).file) == .dynamicallyLinked)
        #expect(refusal(ELFWriter(segments: [dynamic, text]).file) == .dynamicallyLinked)
    }
}
