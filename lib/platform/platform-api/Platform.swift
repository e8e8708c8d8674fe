// The platform API: what the kernel needs from whatever booted it.
//
// A platform library knows one boot protocol and one way to leave (for QEMU: the PVH start info and
// the isa-debug-exit device; for Tessera's own monitor later: its boot-info block and hypercalls). Like
// the console it is a singleton with static operations, bound by the generated wiring.

/// One range of usable RAM.
public struct MemoryRegion {
    public var base: UInt
    public var size: UInt
    public init(base: UInt, size: UInt) {
        self.base = base
        self.size = size
    }
    public var end: UInt { base + size }
}

public protocol Platform {
    /// A short name for reports ("qemu-pvh").
    static var name: StaticString { get }

    /// Reads the boot information. `bootInfo` is what the boot code received (for PVH the physical
    /// address of the start info). Called once, before anything else asks the platform.
    static func initialize(bootInfo: UInt)

    /// Usable RAM, as the platform describes it, in ascending order.
    static func forEachMemoryRegion(_ body: (MemoryRegion) -> Void)

    /// The command line, as bytes (not NUL-terminated), or an empty buffer.
    static var commandLine: UnsafeBufferPointer<UInt8> { get }

    /// Ends the guest. `code` is what `tessera run` exits with (0-255).
    static func exit(code: UInt8) -> Never

    /// True when the kernel runs in ring 0 and installs its own descriptor tables, exception handlers
    /// and null-page guard (QEMU). False under Tessera's KVM monitor, which enters the guest in ring 3
    /// with page 0 unmapped and reports faults itself.
    static var ownsCPU: Bool { get }

    /// Platforms without interrupts (`ownsCPU` false): waits until a device has an event or
    /// `timeoutNanoseconds` pass (UInt64.max: no timeout), then runs the handlers drivers registered
    /// with the platform for the events that happened — what interrupts do elsewhere. The threads
    /// library's idle path and the clock's sleep call it. Platforms with interrupts never get this call.
    static func idle(timeoutNanoseconds: UInt64)

    /// The host's real time in nanoseconds since 1970, when the platform can ask the host (else nil,
    /// and the clock library reads the CMOS RTC).
    static func wallClockNanoseconds() -> UInt64?

    /// The TSC frequency in Hz when the platform states it (the monitor's boot info), else nil and the
    /// clock library asks CPUID or measures.
    static var tscFrequency: UInt64? { get }
}

extension Platform {
    public static var ownsCPU: Bool { true }
    public static func idle(timeoutNanoseconds: UInt64) {}
    public static func wallClockNanoseconds() -> UInt64? { nil }
    public static var tscFrequency: UInt64? { nil }
}
