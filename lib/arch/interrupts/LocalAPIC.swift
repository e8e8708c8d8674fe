// LocalAPIC: the CPU's own interrupt controller, in x2APIC mode when the CPU has it, else xAPIC.
//
// Registers are named by their xAPIC MMIO offset (from the base in IA32_APIC_BASE, normally
// 0xFEE00000, identity-mapped by boot.S). In x2APIC mode the same register is MSR 0x800 + offset/16;
// `read`/`write` hide the difference. The local APIC delivers the timer, inter-processor and
// error interrupts and receives end-of-interrupt writes for everything the I/O APIC routes to it.

import ArchX86

public enum LocalAPIC {
    static let baseMSR: UInt32 = 0x1B
    // Register offsets (Intel SDM vol. 3, table 11-1).
    static let id = 0x020, version = 0x030, taskPriority = 0x080, eoi = 0x0B0
    static let spuriousVector = 0x0F0, errorStatus = 0x280
    static let timerLVT = 0x320, lint0LVT = 0x350, lint1LVT = 0x360, errorLVT = 0x370
    static let timerInitialCount = 0x380, timerCurrentCount = 0x390, timerDivide = 0x3E0

    nonisolated(unsafe) static var x2APIC = false
    nonisolated(unsafe) static var base: UInt = 0xFEE0_0000

    /// "x2APIC" or "xAPIC", for boot reports.
    public static var modeName: StaticString { x2APIC ? "x2APIC" : "xAPIC" }

    /// Enables the local APIC with `spurious` as its spurious vector and `error` for errors; masks
    /// LINT0/LINT1 (the legacy PIC's path) and accepts every priority.
    static func enable(spurious: UInt8, error: UInt8) {
        var apicBase = CPU.readMSR(baseMSR)
        x2APIC = CPU.cpuid(1).ecx & (1 << 21) != 0
        apicBase |= 1 << 11                                 // global enable
        if x2APIC { apicBase |= 1 << 10 }
        CPU.writeMSR(baseMSR, apicBase)
        base = UInt(apicBase & 0xF_FFFF_F000)

        write(taskPriority, 0)
        write(lint0LVT, 1 << 16)                            // masked
        write(lint1LVT, 1 << 16)
        write(errorLVT, UInt32(error))
        write(errorStatus, 0)
        write(spuriousVector, (1 << 8) | UInt32(spurious))  // software enable
    }

    public static func endOfInterrupt() { write(eoi, 0) }

    /// This CPU's APIC ID.
    public static var apicID: UInt32 { x2APIC ? read(id) : read(id) >> 24 }

    static func read(_ register: Int) -> UInt32 {
        if x2APIC { return UInt32(truncatingIfNeeded: CPU.readMSR(0x800 + UInt32(register >> 4))) }
        return CPU.mmioRead32(base + UInt(register))
    }

    static func write(_ register: Int, _ value: UInt32) {
        if x2APIC {
            CPU.writeMSR(0x800 + UInt32(register >> 4), UInt64(value))
        } else {
            CPU.mmioWrite32(base + UInt(register), value)
        }
    }

    // MARK: Timer

    /// True when the timer can fire at a TSC value (TSC-deadline mode, CPUID.1:ECX bit 24).
    public static var hasTSCDeadline: Bool { CPU.cpuid(1).ecx & (1 << 24) != 0 }

    /// Programs the timer LVT: `vector`, masked or not, in TSC-deadline or one-shot mode.
    public static func configureTimer(vector: UInt8, tscDeadline: Bool) {
        write(timerDivide, 0b1011)                          // divide by 1
        write(timerLVT, UInt32(vector) | (tscDeadline ? 2 << 17 : 0))
    }

    /// TSC-deadline mode: fire when the TSC reaches `tsc` (0 disarms).
    public static func armDeadline(tsc: UInt64) { CPU.writeMSR(0x6E0, tsc) }

    /// One-shot mode: fire after `count` timer ticks (0 disarms).
    public static func armOneShot(count: UInt32) { write(timerInitialCount, count) }

    public static var timerCurrentValue: UInt32 { read(timerCurrentCount) }
}
