// CPU: typed Swift access to the x86-64 instructions implemented in cpu.S.
//
// Swift cannot emit privileged or port-I/O instructions, so each one is a few-instruction assembly
// function declared here with @_extern(c). Everything else in the kernel reaches the hardware through
// these wrappers (or through a platform library built on them), never through its own assembly.

@_extern(c, "tessera_outb") func _outb(_ port: UInt16, _ value: UInt8)
@_extern(c, "tessera_inb") func _inb(_ port: UInt16) -> UInt8
@_extern(c, "tessera_outl") func _outl(_ port: UInt16, _ value: UInt32)
@_extern(c, "tessera_inl") func _inl(_ port: UInt16) -> UInt32
@_extern(c, "tessera_outw") func _outw(_ port: UInt16, _ value: UInt16)
@_extern(c, "tessera_inw") func _inw(_ port: UInt16) -> UInt16
@_extern(c, "tessera_rdtsc") func _rdtsc() -> UInt64
@_extern(c, "tessera_rdrand") func _rdrand(_ out: UnsafeMutablePointer<UInt64>) -> Bool
@_extern(c, "tessera_cpuid") func _cpuid(_ leaf: UInt32, _ subleaf: UInt32, _ out: UnsafeMutablePointer<UInt32>)
@_extern(c, "tessera_read_cr0") func _readCR0() -> UInt64
@_extern(c, "tessera_read_cr2") func _readCR2() -> UInt64
@_extern(c, "tessera_read_cr3") func _readCR3() -> UInt64
@_extern(c, "tessera_read_cr4") func _readCR4() -> UInt64
@_extern(c, "tessera_halt") func _halt()
@_extern(c, "tessera_halt_forever") func _haltForever()
@_extern(c, "tessera_lidt") func _lidt(_ pointer: UnsafeRawPointer)
@_extern(c, "tessera_lgdt") func _lgdt(_ pointer: UnsafeRawPointer)
@_extern(c, "tessera_ltr") func _ltr(_ selector: UInt16)
@_extern(c, "tessera_read_rbp") func _readRBP() -> UInt
@_extern(c, "tessera_unmap_null_page") func _unmapNullPage()
@_extern(c, "tessera_rdmsr") func _rdmsr(_ msr: UInt32) -> UInt64
@_extern(c, "tessera_wrmsr") func _wrmsr(_ msr: UInt32, _ value: UInt64)
@_extern(c, "tessera_interrupts_disable") func _interruptsDisable() -> Bool
@_extern(c, "tessera_interrupts_enable") func _interruptsEnable()
@_extern(c, "tessera_wait_for_interrupt") func _waitForInterrupt()
@_extern(c, "tessera_memory_barrier") func _memoryBarrier()
@_extern(c, "tessera_mmio_read32") func _mmioRead32(_ address: UInt) -> UInt32
@_extern(c, "tessera_mmio_write32") func _mmioWrite32(_ address: UInt, _ value: UInt32)
@_extern(c, "tessera_mmio_read16") func _mmioRead16(_ address: UInt) -> UInt16
@_extern(c, "tessera_mmio_read8") func _mmioRead8(_ address: UInt) -> UInt8
@_extern(c, "tessera_mmio_write16") func _mmioWrite16(_ address: UInt, _ value: UInt16)
@_extern(c, "tessera_mmio_write8") func _mmioWrite8(_ address: UInt, _ value: UInt8)
@_extern(c, "tessera_boot_timestamp") func _bootTimestamp() -> UInt64

/// The result of one CPUID query.
public struct CPUIDResult {
    public var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32
}

public enum CPU {
    @inline(__always) public static func outb(_ port: UInt16, _ value: UInt8) { _outb(port, value) }
    @inline(__always) public static func inb(_ port: UInt16) -> UInt8 { _inb(port) }
    @inline(__always) public static func outl(_ port: UInt16, _ value: UInt32) { _outl(port, value) }
    @inline(__always) public static func inl(_ port: UInt16) -> UInt32 { _inl(port) }
    @inline(__always) public static func outw(_ port: UInt16, _ value: UInt16) { _outw(port, value) }
    @inline(__always) public static func inw(_ port: UInt16) -> UInt16 { _inw(port) }

    /// The time-stamp counter.
    @inline(__always) public static func timestamp() -> UInt64 { _rdtsc() }

    /// The TSC value stamped by boot.S at the very first instruction of the kernel.
    public static var bootTimestamp: UInt64 { _bootTimestamp() }

    public static func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> CPUIDResult {
        var r: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &r) {
            $0.withMemoryRebound(to: UInt32.self, capacity: 4) { _cpuid(leaf, subleaf, $0) }
        }
        return CPUIDResult(eax: r.0, ebx: r.1, ecx: r.2, edx: r.3)
    }

    /// True when the CPU has RDRAND (CPUID.1:ECX bit 30).
    public static var hasRDRAND: Bool { cpuid(1).ecx & (1 << 30) != 0 }

    /// A hardware random number, or nil when RDRAND is absent or keeps failing.
    public static func hardwareRandom() -> UInt64? {
        guard hasRDRAND else { return nil }
        var value: UInt64 = 0
        return _rdrand(&value) ? value : nil
    }

    /// TSC Hz from CPUID leaf 0x15 (crystal clock and TSC/crystal ratio), if the CPU fills it in.
    public static func crystalTSCFrequency() -> UInt64? {
        guard cpuid(0).eax >= 0x15 else { return nil }
        let r = cpuid(0x15)
        guard r.eax != 0 && r.ebx != 0 && r.ecx != 0 else { return nil }
        return UInt64(r.ecx) * UInt64(r.ebx) / UInt64(r.eax)
    }

    /// TSC Hz from the hypervisor leaf 0x40000010 (KVM, VMware), if present.
    public static func hypervisorTSCFrequency() -> UInt64? {
        guard cpuid(1).ecx & (1 << 31) != 0, cpuid(0x4000_0000).eax >= 0x4000_0010 else { return nil }
        let khz = cpuid(0x4000_0010).eax
        return khz == 0 ? nil : UInt64(khz) * 1000
    }

    /// The processor's base frequency from CPUID leaf 0x16 — close to, not defined as, the TSC's.
    public static func baseFrequency() -> UInt64? {
        guard cpuid(0).eax >= 0x16 else { return nil }
        let mhz = cpuid(0x16).eax & 0xFFFF
        return mhz == 0 ? nil : UInt64(mhz) * 1_000_000
    }

    /// The TSC frequency in Hz when the CPU or hypervisor states it, else nil. Measuring it against a
    /// timer belongs to the clock library.
    public static func statedTSCFrequency() -> UInt64? {
        crystalTSCFrequency() ?? hypervisorTSCFrequency() ?? baseFrequency()
    }

    /// Orders memory accesses around shared rings (device DMA): nothing moves across it.
    @inline(__always) public static func memoryBarrier() { _memoryBarrier() }

    /// Device registers (memory-mapped I/O): never merged, reordered or elided by the compiler.
    @inline(__always) public static func mmioRead32(_ address: UInt) -> UInt32 { _mmioRead32(address) }
    @inline(__always) public static func mmioWrite32(_ address: UInt, _ value: UInt32) { _mmioWrite32(address, value) }
    @inline(__always) public static func mmioRead16(_ address: UInt) -> UInt16 { _mmioRead16(address) }
    @inline(__always) public static func mmioRead8(_ address: UInt) -> UInt8 { _mmioRead8(address) }
    @inline(__always) public static func mmioWrite16(_ address: UInt, _ value: UInt16) { _mmioWrite16(address, value) }
    @inline(__always) public static func mmioWrite8(_ address: UInt, _ value: UInt8) { _mmioWrite8(address, value) }

    public static func readMSR(_ msr: UInt32) -> UInt64 { _rdmsr(msr) }
    public static func writeMSR(_ msr: UInt32, _ value: UInt64) { _wrmsr(msr, value) }

    /// True when the kernel runs in ring 3 under Tessera's KVM monitor (set by platform-kvm before
    /// anything else runs). There are no interrupts there and cli/sti/hlt would fault, so the interrupt
    /// controls below do nothing: with one CPU and no interrupts, every critical section is already one.
    nonisolated(unsafe) public static var deprivileged = false

    /// Disables interrupts; returns whether they were enabled (pass it to `restoreInterrupts`).
    @inline(__always) public static func disableInterrupts() -> Bool { deprivileged ? false : _interruptsDisable() }
    @inline(__always) public static func enableInterrupts() { if !deprivileged { _interruptsEnable() } }
    @inline(__always) public static func restoreInterrupts(_ wereEnabled: Bool) {
        if wereEnabled { _interruptsEnable() }
    }
    /// Runs `body` with interrupts disabled (the single-CPU critical section).
    @inline(__always) public static func withInterruptsDisabled<R>(_ body: () -> R) -> R {
        let were = disableInterrupts()
        defer { if were { _interruptsEnable() } }
        return body()
    }
    /// With interrupts disabled: enables them and halts in one step (`sti; hlt`), so an interrupt that
    /// arrives in between still wakes the CPU; returns with interrupts disabled again.
    @inline(__always) public static func waitForInterrupt() { _waitForInterrupt() }

    /// Unmaps page 0, so that null dereferences fault. Call once the boot information is read.
    public static func unmapNullPage() { _unmapNullPage() }

    public static var cr0: UInt64 { _readCR0() }
    /// The faulting address of the last page fault.
    public static var cr2: UInt64 { _readCR2() }
    public static var cr3: UInt64 { _readCR3() }
    public static var cr4: UInt64 { _readCR4() }

    /// Waits for the next interrupt.
    @inline(__always) public static func halt() { _halt() }
    /// Disables interrupts and halts for good.
    public static func haltForever() -> Never {
        _haltForever()
        while true {}                          // not reached: the assembly never returns
    }

    /// The frame pointer of the function that calls this one.
    @inline(never) public static func framePointer() -> UInt { _readRBP() }
}

