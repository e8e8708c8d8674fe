// Hypervisor: the guest end of the hypercall ABI (HypercallABI.swift), for the platform-kvm libraries.
//
// `call` passes the address of an argument struct on the caller's stack to the monitor with one `outl`
// (physical = virtual: the monitor identity-maps guest memory). The struct is `inout` so the monitor's
// outputs land in the caller's variable; the out instruction is an opaque call, so the compiler reloads
// the struct afterwards.
//
// The console is buffered here, because each hypercall is a VM exit: bytes collect until a newline or a
// full buffer (256 bytes), then go out in one console-write. `exit` flushes, so a panic's last line is
// not lost.

import ArchX86
import HypercallABI

public enum Hypervisor {
    @inline(__always)
    public static func call<Arguments>(_ hypercall: Hypercall, _ arguments: inout Arguments) {
        withUnsafeMutablePointer(to: &arguments) { pointer in
            CPU.outl(HypercallABI.hypercallPortBase + hypercall.rawValue, UInt32(truncatingIfNeeded: UInt(bitPattern: pointer)))
        }
    }

    // MARK: Console

    static let consoleCapacity = 256
    nonisolated(unsafe) static var consoleBuffer = ConsoleBuffer()
    nonisolated(unsafe) static var consoleCount = 0

    public static func writeConsole(_ byte: UInt8) {
        withUnsafeMutableBytes(of: &consoleBuffer) { $0[consoleCount] = byte }
        consoleCount += 1
        if byte == 0x0A || consoleCount == consoleCapacity { flushConsole() }
    }

    public static func writeConsole(_ text: StaticString) {
        text.withUTF8Buffer { for byte in $0 { writeConsole(byte) } }
    }

    public static func flushConsole() {
        guard consoleCount > 0 else { return }
        withUnsafeBytes(of: &consoleBuffer) { bytes in
            var arguments = ConsoleWriteArguments()
            arguments.data = UInt64(UInt(bitPattern: bytes.baseAddress))
            arguments.length = UInt64(consoleCount)
            call(.consoleWrite, &arguments)
        }
        consoleCount = 0
    }

    // MARK: Time

    /// The host's real time, in nanoseconds since 1970.
    public static func wallTimeNanoseconds() -> UInt64 {
        var arguments = WallTimeArguments()
        call(.wallTime, &arguments)
        return arguments.nanoseconds
    }

    /// Waits until a device has input or `timeout` nanoseconds pass; returns the ready mask.
    public static func poll(timeout: UInt64) -> UInt64 {
        flushConsole()
        var arguments = PollArguments()
        arguments.timeout = timeout
        call(.poll, &arguments)
        return arguments.ready
    }
}

/// 256 bytes of static storage for console output.
struct ConsoleBuffer {
    var words: (SIMD32<UInt64>) = .zero
}
