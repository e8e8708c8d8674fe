// KVMPlatform: booting under Tessera's own KVM monitor, and leaving through its halt hypercall.
//
// The monitor passes a `BootInfo` block (HypercallABI.swift) in %rdi; it stays mapped, read-only, for the
// guest's whole life, so nothing is copied: the command line is read in place. RAM for the kernel's page
// allocator is everything from 1 MiB to the end of guest memory (the kernel leaves its own image out).
// The monitor builds the page tables (page 0 unmapped, W^X segments) and runs the guest in ring 3, so
// the kernel skips its own descriptor tables and null-page guard (`ownsCPU` is false).
//
// A boot-info block with the wrong magic or version means this kernel and the monitor disagree on the
// ABI: the kernel says so on the console and exits with 125.

import ArchX86
import HypercallABI
import PlatformAPI

public enum KVMPlatform: Platform {
    nonisolated(unsafe) public private(set) static var bootInfo = BootInfo()

    public static var name: StaticString { "tessera-kvm" }
    public static var ownsCPU: Bool { false }

    public static func initialize(bootInfo address: UInt) {
        CPU.deprivileged = true                        // ring 3: no cli/sti/hlt from here on
        guard let pointer = UnsafeRawPointer(bitPattern: address) else { abiMismatch() }
        let info = pointer.loadUnaligned(as: BootInfo.self)
        guard info.magic == HypercallABI.bootInfoMagic, info.version == HypercallABI.version else { abiMismatch() }
        bootInfo = info
    }

    static func abiMismatch() -> Never {
        Hypervisor.writeConsole("tessera: platform-kvm: the monitor's boot info is not hypercall ABI version 1\n")
        exit(code: 125)
    }

    public static func forEachMemoryRegion(_ body: (MemoryRegion) -> Void) {
        let base = UInt(HypercallABI.kernelBase)
        let end = UInt(bootInfo.memorySize)
        if end > base { body(MemoryRegion(base: base, size: end - base)) }
    }

    public static var commandLine: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: UnsafePointer<UInt8>(bitPattern: UInt(bootInfo.commandLine)),
                            count: Int(bootInfo.commandLineLength))
    }

    public static func wallClockNanoseconds() -> UInt64? { Hypervisor.wallTimeNanoseconds() }
    public static var tscFrequency: UInt64? { bootInfo.tscFrequency > 0 ? bootInfo.tscFrequency : nil }

    /// The poll hypercall, then the handlers of the devices that became ready.
    public static func idle(timeoutNanoseconds: UInt64) {
        let ready = Hypervisor.poll(timeout: timeoutNanoseconds)
        if ready & PollArguments.netReady != 0, let handler = networkHandler { handler(networkContext) }
    }

    /// The network driver's "frames arrived" handler, called from `idle` (what an interrupt does on
    /// other platforms). One handler: the image has one network device.
    public static func onNetworkReady(context: UnsafeMutableRawPointer?, _ handler: @convention(c) (UnsafeMutableRawPointer?) -> Void) {
        networkHandler = handler
        networkContext = context
    }
    nonisolated(unsafe) static var networkHandler: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    nonisolated(unsafe) static var networkContext: UnsafeMutableRawPointer?

    public static func exit(code: UInt8) -> Never {
        Hypervisor.flushConsole()
        var arguments = HaltArguments()
        arguments.exitCode = UInt64(code)
        Hypervisor.call(.halt, &arguments)
        // The monitor does not resume a halted guest; if it did, stop here for good.
        while true { Hypervisor.call(.halt, &arguments) }
    }
}
