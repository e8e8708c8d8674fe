// Kernel: the boot sequence and the memory services behind the Swift runtime.
//
// Boot order (each step one call in `start`):
//   1. console up, so that everything after can report;
//   2. GDT/TSS/IDT installed: from here a fault prints a crash report instead of rebooting;
//   3. the platform copies its boot information (memory map, command line) out of loader memory;
//   4. page 0 is unmapped: null dereferences fault from here;
//   (Steps 2 and 4 are the monitor's under platform-kvm: the guest runs in ring 3, see `ownsCPU`.)
//   5. all RAM goes to the page allocator, minus page 0 and the kernel image;
//   6. the command line is parsed into kernel parameters and app arguments (this allocates);
//   7. optional services start through the image's hooks: interrupts, clocks, then threads (the boot
//      flow becomes the main thread), then the shell (a thread of its own, beside the app);
//   8. the app's `main` runs, and its result becomes the guest's exit code.
// The heap starts empty and grows from the page allocator on demand (`allocate`), so an image uses
// only the memory its app touches; when pages run out the kernel panics with the figures.

import AllocatorAPI
import ArchX86
import BootArguments
import ConsoleAPI
import PageAllocator
import PlatformAPI

@_extern(c, "tessera_kernel_bounds") func _kernelBounds(_ out: UnsafeMutablePointer<UInt>)

/// The kernel parameters of this boot (the command line before `--`), for libraries that report or
/// tune themselves at start-up (e.g. `tessera.bootstats`).
nonisolated(unsafe) public var kernelParameters = BootArguments()

/// True while a console line is being written (bytes since the last newline). `print` writes a byte
/// at a time, so a thread preempted in the middle of a line would interleave its line with another
/// thread's ("pconsumer: ...", "roducer: ..." seen in a test); the threads library defers preemption
/// until the line is finished. Set by the wiring's putchar.
nonisolated(unsafe) public var consoleLineOpen = false

/// The end of the highest RAM region the platform described (the crash path's backtrace stays below).
/// Until the memory map is read, the whole first 4 GiB (what the PVH boot code maps).
nonisolated(unsafe) public var memoryEnd: UInt = 0x1_0000_0000

public enum Kernel<I: Image> {
    /// The smallest heap extension, in pages: fewer, larger regions keep allocators efficient.
    static var heapGrowthPages: Int { 16 }

    public static func start(bootInfo: UInt) -> Never {
        I.Console.initialize()
        if I.Platform.ownsCPU { Traps.install() }
        I.Platform.initialize(bootInfo: bootInfo)
        if I.Platform.ownsCPU { CPU.unmapNullPage() }
        addMemory()
        let arguments = BootArguments(parsing: I.Platform.commandLine)
        kernelParameters = arguments
        I.initializeInterrupts()
        I.initializeClock()
        I.initializeThreads()
        I.initializeFiles()
        I.mountVolumes()
        I.mountShares()
        I.startShell()
        if arguments.hasKernelFlag("tessera.bootstats") { reportBootTime() }
        let code = I.App.main(arguments: arguments.application)
        exit(code: code)
    }

    /// Ends the guest with `code` (truncated to 0-255, as a process exit status is), after the file
    /// systems are made durable.
    public static func exit(code: Int32) -> Never {
        I.finishFiles()
        stop(code: code)
    }

    /// Ends the guest at once: the panic and fault paths, where the file systems' state is not trusted.
    static func stop(code: Int32) -> Never {
        I.Platform.exit(code: UInt8(truncatingIfNeeded: code))
    }

    /// The kernel image's bounds in physical memory.
    public static var kernelBounds: (start: UInt, end: UInt) {
        var bounds: (UInt, UInt) = (0, 0)
        withUnsafeMutablePointer(to: &bounds) {
            $0.withMemoryRebound(to: UInt.self, capacity: 2) { _kernelBounds($0) }
        }
        return (bounds.0, bounds.1)
    }

    static func addMemory() {
        let (kernelStart, kernelEnd) = kernelBounds
        var highest: UInt = 0
        I.Platform.forEachMemoryRegion { region in highest = max(highest, region.end) }
        if highest > kernelEnd { memoryEnd = highest }
        I.Platform.forEachMemoryRegion { region in
            var base = max(region.base, 0x1000)
            var end = region.end
            // Leave the kernel image out of the range (it sits at 1 MiB).
            if base >= kernelStart && base < kernelEnd { base = kernelEnd }
            if end > kernelStart && end <= kernelEnd { end = kernelStart }
            guard end > base else { return }
            if base < kernelStart && end > kernelEnd {
                physicalPages.addRange(base: base, size: kernelStart - base)
                physicalPages.addRange(base: kernelEnd, size: end - kernelEnd)
            } else {
                physicalPages.addRange(base: base, size: end - base)
            }
        }
    }

    /// posix_memalign's semantics: 0 and `*result` on success. Out of memory is a panic, not an error
    /// code: the Swift runtime cannot recover from a failed allocation anyway. The heap and the page
    /// allocator are one critical section: with interrupts disabled, so the preemptive scheduler never
    /// switches threads inside the allocator (two threads allocating at once corrupted the TLSF lists).
    public static func allocate(_ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                                alignment: Int, size: Int) -> Int32 {
        guard alignment > 0 && alignment & (alignment - 1) == 0 else { return 22 }   // EINVAL
        let pointer = CPU.withInterruptsDisabled { () -> UnsafeMutableRawPointer? in
            if let pointer = I.withHeap({ $0.allocate(size: size, alignment: alignment) }) { return pointer }
            growHeap(toFit: size, alignment: alignment)
            return I.withHeap { $0.allocate(size: size, alignment: alignment) }
        }
        guard let pointer else { outOfMemory(size: size, alignment: alignment) }
        result.pointee = pointer
        return 0
    }

    /// Memory held back from fallible allocations (`tryAllocate`), so that the rest of the image — whose
    /// Swift allocations cannot fail gracefully — still has room when network buffers ran the heap
    /// low: 1/16 of RAM, at least 64 KiB.
    public static var allocationReserve: Int { max(physicalPages.totalPages * 4096 / 16, 64 * 1024) }

    /// Bytes a fallible allocation could still get: free heap plus free pages, less the reserve.
    public static var availableMemory: Int {
        CPU.withInterruptsDisabled {
            let heapFree = I.withHeap { $0.statistics.freeBytes }
            return max(heapFree + physicalPages.freePages * 4096 - allocationReserve, 0)
        }
    }

    /// Like `allocate`, but returns nil instead of panicking when the memory is not there (or only the
    /// reserve is left): for buffers whose owner can do with less (connection buffers).
    public static func tryAllocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        CPU.withInterruptsDisabled {
            guard size >= 0, size <= availableMemory else { return nil }
            if let pointer = I.withHeap({ $0.allocate(size: size, alignment: alignment) }) { return pointer }
            growHeap(toFit: size, alignment: alignment)
            return I.withHeap { $0.allocate(size: size, alignment: alignment) }
        }
    }

    /// One 4 KiB page straight from the page allocator, for owners that can do without (ramfs file
    /// pages): no heap region per growth, nil while only the reserve is left.
    public static func tryAllocatePage() -> UnsafeMutableRawPointer? {
        CPU.withInterruptsDisabled {
            guard availableMemory >= 4096, let base = physicalPages.allocate(pages: 1) else { return nil }
            return UnsafeMutableRawPointer(bitPattern: base)
        }
    }

    /// Returns a page from `tryAllocatePage`.
    public static func freePage(_ page: UnsafeMutableRawPointer) {
        CPU.withInterruptsDisabled { physicalPages.free(UInt(bitPattern: page), pages: 1) }
    }

    public static func free(_ pointer: UnsafeMutableRawPointer?) {
        CPU.withInterruptsDisabled { I.withHeap { $0.free(pointer) } }
    }

    static func growHeap(toFit size: Int, alignment: Int) {
        // Room for the request, its alignment and the allocator's bookkeeping (TLSF keeps a 4.5 KiB
        // control area at the start of its first region; 8 KiB covers every allocator here).
        let needed = (size + alignment + 8192 + 4095) / 4096
        for attempt in 0..<2 {
            let pages = attempt == 0 ? max(needed, heapGrowthPages) : needed
            if let base = physicalPages.allocate(pages: pages, alignmentPages: 1),
               let start = UnsafeMutableRawPointer(bitPattern: base) {
                if I.withHeap({ $0.addRegion(start, size: pages * 4096) }) { return }
                physicalPages.free(base, pages: pages)
            }
        }
    }

    static func outOfMemory(size: Int, alignment: Int) -> Never {
        typealias Out = Output<I.Console>
        Out.newline()
        Out.text("tessera: panic: out of memory: cannot allocate ")
        Out.bytes(size)
        Out.text(" aligned to ")
        Out.decimal(alignment)
        Out.newline()
        reportMemory()
        stop(code: Panic.exitCode)
    }

    /// The allocator's and the page allocator's figures, one line each.
    public static func reportMemory() {
        typealias Out = Output<I.Console>
        let heap = I.withHeap { $0.statistics }
        Out.text("  heap (")
        Out.text(I.Allocator.name)
        Out.text("): in use ")
        Out.bytes(heap.inUseBytes)
        Out.text(", peak ")
        Out.bytes(heap.peakInUseBytes)
        Out.text(", free ")
        Out.bytes(heap.freeBytes)
        Out.text(", managed ")
        Out.bytes(heap.managedBytes)
        Out.newline()
        Out.text("  pages: ")
        Out.decimal(physicalPages.freePages)
        Out.text(" free of ")
        Out.decimal(physicalPages.totalPages)
        Out.text(" (4 KiB each)")
        Out.newline()
    }

    static func reportBootTime() {
        typealias Out = Output<I.Console>
        let cycles = CPU.timestamp() &- CPU.bootTimestamp
        Out.text("tessera: boot: entry to main ")
        Out.decimal(cycles)
        Out.text(" cycles")
        if let hz = I.Platform.tscFrequency ?? CPU.statedTSCFrequency(), hz > 0 {
            Out.text(", ")
            Out.decimal(cycles &* 1_000_000 / hz)
            Out.text(" us at ")
            Out.decimal(hz / 1_000_000)
            Out.text(" MHz TSC")
        } else {
            Out.text(" (TSC frequency not stated by the CPU)")
        }
        Out.newline()
    }
}
