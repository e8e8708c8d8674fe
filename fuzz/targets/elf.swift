// The KVM monitor's ELF loader and boot layout (Sources/KVMMonitor). Input: a guest image file.
//
// Checks: parsing never traps, whatever the bytes; an image it accepts obeys every rule the monitor
// promises — each segment at or above 1 MiB, inside guest memory, not wrapping, filesz <= memsz, its
// file range inside the file, no segment both writable and executable, no two overlapping, the entry
// inside an executable segment, `end` page-aligned and above every segment — and then loads into
// guest memory and gets page tables (or a clear BootLayoutError) without trapping. Guest memory is
// 4 MiB; its size for the checks is taken from the first input byte (1-4 MiB) so that out-of-range
// segments are found on both sides of the limit.

import HypercallABI
import KVMMonitor

nonisolated(unsafe) let guestRAM = UnsafeMutableRawPointer.allocate(byteCount: 4 << 20, alignment: 4096)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let file = UnsafeRawBufferPointer(start: data, count: size)
    let memorySize = UInt64(1 + Int(size > 0 ? data[0] % 4 : 3)) << 20
    guard let image = try? ELFImage.parse(file, memorySize: memorySize) else { return 0 }

    precondition(image.entry >= HypercallABI.kernelBase, "ELF: entry below the kernel base")
    precondition(image.end % 4096 == 0 && image.end <= (memorySize + 4095) & ~4095, "ELF: end")
    for (index, segment) in image.segments.enumerated() {
        let (end, wraps) = segment.address.addingReportingOverflow(segment.memorySize)
        precondition(!wraps && segment.address >= HypercallABI.kernelBase && end <= memorySize, "ELF: segment range")
        precondition(!(segment.writable && segment.executable), "ELF: W+X accepted")
        precondition(segment.fileSize <= segment.memorySize, "ELF: filesz > memsz")
        precondition(segment.fileOffset + segment.fileSize <= UInt64(size), "ELF: file range")
        precondition(end <= image.end, "ELF: end below a segment")
        for other in image.segments[(index + 1)...] {
            precondition(other.address >= end || other.address + other.memorySize <= segment.address, "ELF: overlap")
        }
    }
    precondition(image.segments.contains { $0.executable && image.entry >= $0.address && image.entry < $0.address + $0.memorySize },
                 "ELF: entry outside executable segments")

    let memory = GuestMemory(base: guestRAM, size: memorySize)
    do {
        try image.load(file, into: memory)
        let layout = try BootLayout(memorySize: memorySize, image: image, commandLine: Array("-- x".utf8),
                                    tscFrequency: 1_000_000_000)
        try layout.write(into: memory)
    } catch {
        // A clear refusal (memory too small for this image, a shared W+X page) is fine.
    }
    return 0
}
