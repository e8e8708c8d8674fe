// Clock: monotonic time, wall time, and the timer interrupt.
//
// Monotonic time is the TSC, scaled to nanoseconds since `initialize`. Its frequency comes from the
// platform when it states it (Tessera's KVM monitor, in its boot info), else from the first source that
// states it: CPUID leaf 0x15 (crystal ratio), the hypervisor leaf 0x40000010, or —
// when neither does (QEMU's TCG) — a 10 ms measurement against the PIT's channel 2; CPUID 0x16's base
// frequency is the last resort. The method is kept for the boot report (`calibrationMethod`).
// Wall time is the CMOS RTC read once at initialize (UTC, one-second resolution) plus monotonic time.
// The timer is the local APIC timer, in TSC-deadline mode when the CPU has it (the deadline is a TSC
// value: no conversion, no drift) or else one-shot mode with a tick rate measured against the TSC.
// `sleep(nanoseconds:)` arms the timer and halts until the deadline, so an idle guest costs the host
// nothing; the threads library replaces that loop with its scheduler's idle path.

import ArchX86
import Interrupts
import Kernel

public enum Clock {
    public enum CalibrationMethod {
        case platform, cpuidCrystal, hypervisorLeaf, pit, wallClock, cpuidBaseFrequency, assumed
        public var name: StaticString {
            switch self {
            case .platform: return "the platform's boot information"
            case .cpuidCrystal: return "CPUID 0x15"
            case .hypervisorLeaf: return "hypervisor CPUID 0x40000010"
            case .pit: return "PIT channel 2 (10 ms)"
            case .wallClock: return "the platform's wall clock (10 ms)"
            case .cpuidBaseFrequency: return "CPUID 0x16 base frequency"
            case .assumed: return "assumed 1 GHz (no source found)"
            }
        }
    }

    nonisolated(unsafe) static var scale = TimeScale(frequency: 1_000_000_000)
    nonisolated(unsafe) static var startTSC: UInt64 = 0
    nonisolated(unsafe) static var bootWallSeconds: Int64 = 0
    nonisolated(unsafe) public private(set) static var calibrationMethod = CalibrationMethod.assumed
    nonisolated(unsafe) public private(set) static var usesTSCDeadline = false
    nonisolated(unsafe) static var apicTicksPerMillisecond: UInt64 = 0
    nonisolated(unsafe) public private(set) static var timerInterrupts: UInt64 = 0

    /// Without a timer (`idle` given: the platform has no interrupts) the clock reads the TSC only,
    /// takes wall time from `wallClock`, and sleeps through `idle(timeout)` instead of a timer and hlt.
    nonisolated(unsafe) static var idle: (@convention(c) (UInt64) -> Void)?

    public static func initialize(tscFrequency: UInt64? = nil, wallClock: UInt64? = nil,
                                  idle: (@convention(c) (UInt64) -> Void)? = nil,
                                  readWallClock: (@convention(c) () -> UInt64)? = nil) {
        startTSC = CPU.timestamp()
        let (frequency, method): (UInt64, CalibrationMethod)
        if let tscFrequency {
            (frequency, method) = (tscFrequency, .platform)
        } else if idle != nil {
            // No PIT to measure against (its ports are not there): what CPUID states, else 10 ms of
            // the platform's wall clock.
            (frequency, method) = measureAgainstWallClock(readWallClock) ?? CPU.statedTSCFrequency().map { ($0, .cpuidBaseFrequency) }
                ?? (1_000_000_000, .assumed)
        } else {
            (frequency, method) = measureTSCFrequency()
        }
        scale = TimeScale(frequency: frequency)
        calibrationMethod = method
        if let wallClock {
            bootWallSeconds = Int64(wallClock / 1_000_000_000)
        } else {
            bootWallSeconds = RTC.readUnixSeconds()
        }
        Self.idle = idle
        if idle != nil {
            if kernelParameters.hasKernelFlag("tessera.bootstats") {
                print("tessera: clock: TSC \(frequency / 1_000_000) MHz from \(method.name); no timer (the platform polls)")
            }
            return
        }
        usesTSCDeadline = LocalAPIC.hasTSCDeadline
        Interrupts.register(vector: Interrupts.timerVector) { _, _ in Clock.timerInterrupts &+= 1 }
        LocalAPIC.configureTimer(vector: Interrupts.timerVector, tscDeadline: usesTSCDeadline)
        if !usesTSCDeadline { apicTicksPerMillisecond = measureAPICTimer() }
        if kernelParameters.hasKernelFlag("tessera.bootstats") {
            print("tessera: clock: TSC \(frequency / 1_000_000) MHz from \(method.name); timer \(usesTSCDeadline ? "TSC-deadline" : "one-shot"); \(LocalAPIC.modeName)")
        }
    }

    /// Counts a timer interrupt (for a library that takes over the timer vector, like threads).
    public static func noteTimerInterrupt() { timerInterrupts &+= 1 }

    /// TSC ticks per second.
    public static var tscFrequency: UInt64 { scale.frequency }

    /// Nanoseconds since the clock started (monotonic, never goes back).
    public static func now() -> UInt64 { scale.nanoseconds(CPU.timestamp() &- startTSC) }

    /// Seconds and nanoseconds since the Unix epoch (UTC).
    public static func wallTime() -> (seconds: Int64, nanoseconds: UInt32) {
        let elapsed = now()
        return (bootWallSeconds + Int64(elapsed / 1_000_000_000), UInt32(elapsed % 1_000_000_000))
    }

    /// Arms the timer interrupt for `deadline` (monotonic ns). A deadline in the past fires at once.
    public static func armTimer(at deadline: UInt64) {
        if idle != nil { return }                           // no timer: the idle path waits with a timeout
        if usesTSCDeadline {
            LocalAPIC.armDeadline(tsc: max(startTSC &+ scale.ticks(deadline), 1))
        } else {
            // One reading of the clock: reading it twice let the deadline pass between the comparison
            // and the subtraction, which trapped on the underflow (found by 50 clients under TCG).
            let current = now()
            let remaining = deadline > current ? deadline - current : 0
            let ticks = remaining / 1_000_000 * apicTicksPerMillisecond
                + remaining % 1_000_000 * apicTicksPerMillisecond / 1_000_000
            LocalAPIC.armOneShot(count: UInt32(clamping: max(ticks, 1)))
        }
    }

    /// Halts until `nanoseconds` have passed (interrupts wake the CPU; it halts again until then).
    public static func sleep(nanoseconds: UInt64) {
        let deadline = now() &+ nanoseconds
        if let idle {
            while case let current = now(), current < deadline { idle(deadline - current) }
            return
        }
        let wereEnabled = CPU.disableInterrupts()
        while now() < deadline {
            armTimer(at: deadline)
            CPU.waitForInterrupt()
        }
        CPU.restoreInterrupts(wereEnabled)
    }

    // MARK: Calibration

    static func measureTSCFrequency() -> (UInt64, CalibrationMethod) {
        if let hz = CPU.crystalTSCFrequency() { return (hz, .cpuidCrystal) }
        if let hz = CPU.hypervisorTSCFrequency() { return (hz, .hypervisorLeaf) }
        // A short first run warms up caches (and, under emulation, translates the loop) so that the
        // 10 ms run that counts measures only time.
        if PIT.measureTSC(milliseconds: 1) != nil, let hz = PIT.measureTSC(milliseconds: 10) { return (hz, .pit) }
        if let hz = CPU.baseFrequency() { return (hz, .cpuidBaseFrequency) }
        return (1_000_000_000, .assumed)
    }

    /// TSC Hz measured over 10 ms of a wall clock (ns), when one is given and moves.
    static func measureAgainstWallClock(_ read: (@convention(c) () -> UInt64)?) -> (UInt64, CalibrationMethod)? {
        guard let read else { return nil }
        let wallStart = read(), tscStart = CPU.timestamp()
        var wall = wallStart
        var spins = 0
        while wall &- wallStart < 10_000_000 && spins < 100_000 {
            wall = read()
            spins += 1
        }
        let elapsed = wall &- wallStart
        guard elapsed >= 1_000_000, elapsed < 1_000_000_000 else { return nil }
        return ((CPU.timestamp() &- tscStart) * 1000 / (elapsed / 1_000_000), .wallClock)
    }

    /// Local APIC timer ticks per millisecond, measured against the (already calibrated) TSC.
    static func measureAPICTimer() -> UInt64 {
        LocalAPIC.armOneShot(count: UInt32.max)
        let start = now()
        while now() - start < 10_000_000 {}
        let elapsed = UInt64(UInt32.max - LocalAPIC.timerCurrentValue)
        LocalAPIC.armOneShot(count: 0)
        return max(elapsed / 10, 1)
    }
}

/// The 8254 PIT's channel 2, gated through port 0x61, used once as a reference clock.
enum PIT {
    static let frequency: UInt64 = 1_193_182

    /// TSC ticks per second, or nil when channel 2 does not count (no PIT on this machine). The
    /// channel counts down from `count` in mode 0; its current value is latched and read until it
    /// reaches zero or wraps, which avoids depending on how the OUT2 bit of port 0x61 is emulated.
    static func measureTSC(milliseconds: UInt64) -> UInt64? {
        let count = frequency * milliseconds / 1000
        let gate = CPU.inb(0x61)
        CPU.outb(0x61, gate & ~0x03)                        // gate off, speaker off
        CPU.outb(0x43, 0xB0)                                // channel 2, lobyte/hibyte, mode 0
        CPU.outb(0x42, UInt8(truncatingIfNeeded: count))
        CPU.outb(0x42, UInt8(truncatingIfNeeded: count >> 8))
        CPU.outb(0x61, (gate & ~0x02) | 0x01)               // gate on: counting starts
        let start = CPU.timestamp()
        var previous = UInt16(truncatingIfNeeded: count)
        var reads = 0
        while true {
            CPU.outb(0x43, 0x80)                            // latch channel 2
            let low = UInt16(CPU.inb(0x42)), high = UInt16(CPU.inb(0x42))
            let current = high << 8 | low
            if current == 0 || current > previous { break }
            if current == previous {
                reads += 1
                if reads > 1_000_000 { CPU.outb(0x61, gate); return nil }   // not counting
            } else {
                reads = 0
            }
            previous = current
        }
        let elapsed = CPU.timestamp() &- start
        CPU.outb(0x61, gate)
        return elapsed * 1000 / milliseconds
    }
}

/// The CMOS real-time clock (ports 0x70/0x71).
enum RTC {
    static func register(_ index: UInt8) -> UInt8 {
        CPU.outb(0x70, index)
        return CPU.inb(0x71)
    }

    /// The RTC's time as Unix seconds; reads until two consecutive reads agree (an update may be in
    /// progress), decoding BCD and 12-hour modes.
    static func readUnixSeconds() -> Int64 {
        var previous: Int64 = -1
        for _ in 0..<8 {
            var spins = 0
            while register(0x0A) & 0x80 != 0 && spins < 100_000 { spins += 1 }
            let status = register(0x0B)
            let binary = status & 0x04 != 0, twentyFourHour = status & 0x02 != 0
            func field(_ index: UInt8) -> Int {
                let raw = register(index)
                return binary ? Int(raw) : CivilTime.fromBCD(raw)
            }
            var hourRaw = register(0x04)
            let pm = hourRaw & 0x80 != 0
            hourRaw &= 0x7F
            var hour = binary ? Int(hourRaw) : CivilTime.fromBCD(hourRaw)
            if !twentyFourHour { hour = hour % 12 + (pm ? 12 : 0) }
            let seconds = CivilTime.unixSeconds(year: 2000 + field(0x09), month: field(0x08), day: field(0x07),
                                                hour: hour, minute: field(0x02), second: field(0x00))
            if seconds == previous { return seconds }
            previous = seconds
        }
        return previous
    }
}
