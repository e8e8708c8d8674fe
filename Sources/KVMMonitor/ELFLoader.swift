// ELFLoader: reads a guest kernel (a static ELF64 x86-64 executable) and copies it into guest memory.
//
// Written from the ELF64 specification. Loading is two steps. `parse` reads the file header and the
// program header table and validates everything before any byte reaches the guest: the file must be a
// little-endian ELFCLASS64 ET_EXEC for EM_X86_64, statically linked (no PT_INTERP, no PT_DYNAMIC), with
// 1 ... 16 non-empty PT_LOAD segments. Each segment must be identity mapped (p_vaddr == p_paddr, as the
// guest runs with guest-virtual = guest-physical), have p_filesz <= p_memsz, take its bytes from inside
// the file, lie at or above `HypercallABI.kernelBase` and inside guest memory without wrapping, not be
// both writable and executable, and not overlap another segment; the entry point must lie in an
// executable segment. Every read of the file is bounds-checked first (offset + count computed without
// overflow) and uses `loadUnaligned`, so a hostile file can only be refused. Segment indices in errors
// are program header indices (as `readelf -l` numbers them); addresses are printed in hex.
// `load` then copies each segment's file bytes with `GuestMemory.write` and zero-fills the rest of its
// memory size (.bss); `GuestMemory` checks each range again. Other program header types (PT_NOTE,
// PT_GNU_STACK, ...) are ignored; section headers are never read.

#if canImport(Glibc)
import Glibc
#endif
import HypercallABI

/// errno's text, for messages.
func systemError(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// One PT_LOAD segment: `fileSize` bytes from `fileOffset` go to guest-physical `address`, followed by
/// `memorySize - fileSize` zero bytes.
public struct LoadableSegment: Equatable {
    public var fileOffset, address, fileSize, memorySize: UInt64
    public var readable, writable, executable: Bool
}

/// A validated guest kernel: where to start it, what to load, and the first page above it.
public struct ELFImage {
    public var entry: UInt64
    public var segments: [LoadableSegment]
    /// The highest segment end, rounded up to 4096 (BootInfo.kernelEnd).
    public var end: UInt64
}

/// Why a guest kernel file was refused.
public enum ELFLoadError: Error, Equatable, CustomStringConvertible {
    case notELF
    case unsupportedClass
    case unsupportedMachine(machine: UInt16)
    case notExecutable(type: UInt16)
    case truncated(String)
    case dynamicallyLinked
    case noLoadableSegments
    case tooManySegments(count: Int)
    case virtualNotPhysical(index: Int, virtual: UInt64, physical: UInt64)
    case fileSizeOverMemorySize(index: Int, fileSize: UInt64, memorySize: UInt64)
    case segmentBelowKernelBase(index: Int, address: UInt64)
    case segmentWraps(index: Int, address: UInt64, size: UInt64)
    case segmentOutsideMemory(index: Int, address: UInt64, end: UInt64, memorySize: UInt64)
    case writableAndExecutable(index: Int, address: UInt64)
    case overlapping(index: Int, otherIndex: Int, range: Range<UInt64>, otherRange: Range<UInt64>)
    case entryNotExecutable(entry: UInt64)

    public var description: String {
        switch self {
        case .notELF: return "not an ELF file (bad magic number)"
        case .unsupportedClass: return "not a 64-bit little-endian ELF file (ELFCLASS64, ELFDATA2LSB)"
        case let .unsupportedMachine(machine): return "not an x86-64 executable (e_machine is \(machine), not 62)"
        case let .notExecutable(type):
            return "not a static executable (e_type is \(type), not ET_EXEC = 2; position-independent kernels are not supported)"
        case let .truncated(what): return "the file is truncated: \(what)"
        case .dynamicallyLinked: return "dynamically linked (PT_INTERP or PT_DYNAMIC present); guests must be static"
        case .noLoadableSegments: return "no loadable (PT_LOAD) segments"
        case let .tooManySegments(count): return "\(count) PT_LOAD segments, more than the 16 allowed"
        case let .virtualNotPhysical(index, virtual, physical):
            return "segment \(index) has virtual address \(hex(virtual)) but physical address \(hex(physical)); guests are identity mapped"
        case let .fileSizeOverMemorySize(index, fileSize, memorySize):
            return "segment \(index) has a file size (\(hex(fileSize))) over its memory size (\(hex(memorySize)))"
        case let .segmentBelowKernelBase(index, address):
            return "segment \(index) at \(hex(address)) is below the kernel base \(hex(HypercallABI.kernelBase))"
        case let .segmentWraps(index, address, size):
            return "segment \(index) at \(hex(address)) + \(hex(size)) bytes wraps around the address space"
        case let .segmentOutsideMemory(index, address, end, memorySize):
            return "segment \(index) at \(hex(address))-\(hex(end)) does not fit in guest memory (\(hex(memorySize)) bytes)"
        case let .writableAndExecutable(index, address):
            return "segment \(index) at \(hex(address)) is both writable and executable (W^X)"
        case let .overlapping(index, otherIndex, range, otherRange):
            return "segments \(index) and \(otherIndex) overlap (\(hex(range.lowerBound))-\(hex(range.upperBound)) and "
                + "\(hex(otherRange.lowerBound))-\(hex(otherRange.upperBound)))"
        case let .entryNotExecutable(entry): return "the entry point \(hex(entry)) is not inside an executable segment"
        }
    }
}

/// A file that could not be read at all (before any ELF check).
public struct ELFReadError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot read \(path): \(reason)" }
}

extension ELFImage {
    static let headerSize: UInt64 = 64, programHeaderSize: UInt64 = 56, maximumLoadSegments = 16
    static let ptLoad: UInt32 = 1, ptDynamic: UInt32 = 2, ptInterp: UInt32 = 3
    static let pageSize: UInt64 = 4096

    /// Validates `file` as a guest kernel for a guest of `memorySize` bytes.
    public static func parse(_ file: UnsafeRawBufferPointer, memorySize: UInt64) throws(ELFLoadError) -> ELFImage {
        func read<T: FixedWidthInteger>(_ offset: UInt64, _: T.Type) -> T {   // callers check the bounds
            file.loadUnaligned(fromByteOffset: Int(offset), as: T.self)
        }
        let fileSize = UInt64(file.count)
        guard fileSize >= 4, file[0] == 0x7F, file[1] == 0x45, file[2] == 0x4C, file[3] == 0x46 else { throw .notELF }
        guard fileSize >= headerSize else { throw .truncated("the ELF header needs 64 bytes, the file has \(fileSize)") }
        guard file[4] == 2, file[5] == 1 else { throw .unsupportedClass }          // EI_CLASS, EI_DATA
        let type = read(16, UInt16.self), machine = read(18, UInt16.self)
        guard machine == 62 else { throw .unsupportedMachine(machine: machine) }
        guard type == 2 else { throw .notExecutable(type: type) }
        let entry = read(24, UInt64.self), tableOffset = read(32, UInt64.self)
        let entrySize = UInt64(read(54, UInt16.self)), count = UInt64(read(56, UInt16.self))
        guard count > 0 else { throw .noLoadableSegments }
        guard entrySize >= programHeaderSize else {
            throw .truncated("program header entries are \(entrySize) bytes, under the 56 of ELF64")
        }
        let (tableSize, o1) = count.multipliedReportingOverflow(by: entrySize)
        let (tableEnd, o2) = tableOffset.addingReportingOverflow(tableSize)
        guard !o1, !o2, tableEnd <= fileSize else {
            throw .truncated("the program header table (\(count) × \(entrySize) bytes at \(hex(tableOffset))) "
                + "is past the end of the \(fileSize)-byte file")
        }

        var segments: [LoadableSegment] = [], indices: [Int] = [], loadCount = 0
        for index in 0..<Int(count) {
            let header = tableOffset + UInt64(index) * entrySize
            let kind = read(header, UInt32.self), flags = read(header + 4, UInt32.self)
            if kind == ptInterp || kind == ptDynamic { throw .dynamicallyLinked }
            guard kind == ptLoad else { continue }
            loadCount += 1
            if loadCount > maximumLoadSegments { throw .tooManySegments(count: loadCount) }
            let offset = read(header + 8, UInt64.self), virtual = read(header + 16, UInt64.self)
            let address = read(header + 24, UInt64.self)
            let size = read(header + 32, UInt64.self), memSize = read(header + 40, UInt64.self)
            guard size <= memSize else {
                throw .fileSizeOverMemorySize(index: index, fileSize: size, memorySize: memSize)
            }
            if memSize == 0 { continue }
            guard virtual == address else {
                throw .virtualNotPhysical(index: index, virtual: virtual, physical: address)
            }
            let (fileEnd, o3) = offset.addingReportingOverflow(size)
            guard !o3, fileEnd <= fileSize else {
                throw .truncated("segment \(index)'s \(size) bytes at file offset \(hex(offset)) "
                    + "are past the end of the \(fileSize)-byte file")
            }
            guard address >= HypercallABI.kernelBase else {
                throw .segmentBelowKernelBase(index: index, address: address)
            }
            let (end, o4) = address.addingReportingOverflow(memSize)
            guard !o4 else { throw .segmentWraps(index: index, address: address, size: memSize) }
            guard end <= memorySize else {
                throw .segmentOutsideMemory(index: index, address: address, end: end, memorySize: memorySize)
            }
            let segment = LoadableSegment(fileOffset: offset, address: address, fileSize: size, memorySize: memSize,
                                          readable: flags & 4 != 0, writable: flags & 2 != 0, executable: flags & 1 != 0)
            guard !(segment.writable && segment.executable) else {
                throw .writableAndExecutable(index: index, address: address)
            }
            segments.append(segment)
            indices.append(index)
        }
        guard !segments.isEmpty else { throw .noLoadableSegments }

        // At most 16 segments: compare every pair, reporting the first in program header order.
        let ranges = segments.map { $0.address ..< $0.address + $0.memorySize }
        for i in ranges.indices {
            for j in ranges.indices where j > i && ranges[i].overlaps(ranges[j]) {
                throw .overlapping(index: indices[i], otherIndex: indices[j], range: ranges[i], otherRange: ranges[j])
            }
        }
        guard segments.contains(where: { $0.executable && ($0.address ..< $0.address + $0.memorySize).contains(entry) })
        else { throw .entryNotExecutable(entry: entry) }

        let highest = ranges.map(\.upperBound).max()!
        let (rounded, o5) = highest.addingReportingOverflow(pageSize - 1)
        if o5 {   // only possible when memorySize is within a page of 2^64
            let last = ranges.firstIndex { $0.upperBound == highest }!
            throw .segmentWraps(index: indices[last], address: segments[last].address, size: segments[last].memorySize)
        }
        return ELFImage(entry: entry, segments: segments, end: rounded & ~(pageSize - 1))
    }

    /// Reads a file and parses it. Throws `ELFReadError` or `ELFLoadError`.
    public static func parse(contentsOf path: String, memorySize: UInt64) throws -> (ELFImage, [UInt8]) {
        let bytes = try readFile(path)
        let image = try bytes.withUnsafeBytes { try parse($0, memorySize: memorySize) }
        return (image, bytes)
    }

    /// The whole file, read with POSIX calls (the monitor links no Foundation: it starts faster).
    static func readFile(_ path: String) throws(ELFReadError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ELFReadError(path: path, reason: systemError()) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw ELFReadError(path: path, reason: systemError()) }
        guard info.st_size <= 1 << 30 else { throw ELFReadError(path: path, reason: "over 1 GiB: not a Tessera image") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + done, $0.count - done) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw ELFReadError(path: path, reason: result < 0 ? systemError() : "the file got shorter") }
            done += result
        }
        return bytes
    }

    /// Copies the segments into guest memory and zero-fills their .bss. `file` must be the file that
    /// `parse` accepted (the segment file ranges were checked against it).
    public func load(_ file: UnsafeRawBufferPointer, into memory: GuestMemory) throws(GuestAddressProblem) {
        for segment in segments {
            let start = Int(segment.fileOffset), count = Int(segment.fileSize)
            precondition(start <= file.count && count <= file.count - start, "ELF load: not the file that was parsed")
            try memory.write(UnsafeRawBufferPointer(rebasing: file[start ..< start + count]), at: segment.address)
            let zeroes = try memory.bytes(at: segment.address + segment.fileSize,
                                          length: segment.memorySize - segment.fileSize)
            zeroes.initializeMemory(as: UInt8.self, repeating: 0)
        }
    }
}

extension ELFImage {
    /// What the guest may not write (and so neither may hypercalls on its behalf): everything below the
    /// kernel base (the monitor's boot info and tables) and each read-only segment, in whole pages.
    public var readOnlyRanges: [Range<UInt64>] {
        [0 ..< HypercallABI.kernelBase] + segments.filter { !$0.writable }.map {
            ($0.address & ~(Self.pageSize - 1)) ..< (($0.address + $0.memorySize + Self.pageSize - 1) & ~(Self.pageSize - 1))
        }
    }
}
