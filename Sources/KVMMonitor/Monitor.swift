// Monitor: one guest from image file to exit status.
//
// Setup, in order, every step able to fail with a clear message before the guest runs:
//   1. read and check the ELF image (ELFLoader: segments at or above 1 MiB, inside guest memory,
//      never W+X, not overlapping);
//   2. attach the devices the run asks for (tap, disk) — missing or busy ones stop here;
//   3. create the VM and vCPU, load the segments, write boot info, command line, GDT and page tables;
//   4. drop to the run loop's seccomp filter (unless disabled for debugging) — on the calling thread,
//      which should be the main thread: glibc's malloc may open a /proc file when it trims another
//      thread's arena, which the filter would punish;
//   5. run: each VM exit is a hypercall (handled, then resume) or the end of the guest.
// The end is one of: the guest's halt hypercall (its exit code), a refused hypercall, a crash (a triple
// fault: the guest runs without exception handlers), or any other VM exit — each named in the message.

#if canImport(Glibc)
import Glibc
#endif
import CKVM
import HypercallABI

public struct MonitorConfiguration {
    public var imagePath: String
    public var memorySize: UInt64
    /// The guest's command line: kernel parameters, `--`, app arguments (already quoted).
    public var commandLine: String
    public var tapName: String?
    public var diskPath: String?
    /// The image's names for its devices (the manifest's `devices:`), used in messages.
    public var netDeviceName = "net"
    public var blockDeviceName = "disk"
    public var seccomp = true
    /// A self-test of confinement: after installing the filter, attempt a forbidden call (openat).
    public var attemptForbiddenCall = false
    public var consoleDescriptor: Int32 = 1
    public var kvmDevice = "/dev/kvm"
    /// Print how long each setup phase took (standard error).
    public var reportTiming = false

    public init(imagePath: String, memorySize: UInt64, commandLine: String = "--") {
        self.imagePath = imagePath
        self.memorySize = memorySize
        self.commandLine = commandLine
    }
}

public enum MonitorResult: Equatable {
    /// The guest called halt.
    case exited(code: UInt8)
    /// The guest broke the ABI or crashed; `report` says how (several lines), `instruction` is where.
    case ended(report: String, instruction: UInt64?)
    /// The monitor itself failed while the guest ran (KVM_RUN refused): exit status 125.
    case failed(String)

    /// The exit status of `tessera run` / `tessera-kvm`: the guest's code, or 139 like a crashed process.
    public var exitStatus: Int32 {
        switch self {
        case let .exited(code): return Int32(code)
        case .ended: return 139
        case .failed: return 125
        }
    }
}

/// Setup phase durations, for `--timing` (written to standard error with write(2): the run is confined).
struct Phases {
    var last: UInt64
    let enabled: Bool
    var lines: [String] = []
    init(start: UInt64, enabled: Bool) {
        last = start
        self.enabled = enabled
    }
    mutating func mark(_ name: String) {
        guard enabled else { return }
        let now = Monitor.monotonicNanoseconds()
        lines.append("tessera-kvm: timing: \((now - last) / 1000) us  \(name)\n")
        last = now
    }
    func report() {
        for line in lines { writeAll(2, line) }
    }
}

public enum Monitor {
    /// Runs one guest to its end and calls `finish` with the result, without returning: once the seccomp
    /// filter is on, even closing the VM's descriptors is forbidden, so `finish` reports (with write(2))
    /// and exits the process, and the kernel cleans up. Throws only for setup failures (the guest never
    /// ran, nothing is confined yet).
    public static func run(_ configuration: MonitorConfiguration, finish: (MonitorResult) -> Never) throws -> Never {
        let startNanoseconds = monotonicNanoseconds()
        // A console reader that went away (`tessera-kvm ... | head -1`) must not kill the monitor:
        // writes then fail with EPIPE, the output is dropped and the guest runs on.
        signal(SIGPIPE, SIG_IGN)
        var phases = Phases(start: startNanoseconds, enabled: configuration.reportTiming)
        let (image, file) = try ELFImage.parse(contentsOf: configuration.imagePath, memorySize: configuration.memorySize)
        let tap: TapDevice?, disk: DiskFile?
        do {
            tap = try configuration.tapName.map { try TapDevice(name: $0) }
        } catch {
            throw MonitorError("network device '\(configuration.netDeviceName)': \(error)")
        }
        do {
            disk = try configuration.diskPath.map { try DiskFile(path: $0) }
        } catch {
            throw MonitorError("block device '\(configuration.blockDeviceName)': \(error)")
        }

        phases.mark("image read and checked, devices attached")
        let machine = try VirtualMachine(memorySize: configuration.memorySize, device: configuration.kvmDevice)
        let layout = try BootLayout(memorySize: configuration.memorySize, image: image,
                                    commandLine: Array(configuration.commandLine.utf8),
                                    tscFrequency: machine.tscFrequency,
                                    netMTU: tap?.mtu ?? 0, netMAC: tap?.mac ?? 0,
                                    blockSectors: disk?.sectorCount ?? 0, startNanoseconds: startNanoseconds)
        phases.mark("VM and vCPU created")
        try file.withUnsafeBytes { try image.load($0, into: machine.memory) }
        try layout.write(into: machine.memory)
        try machine.prepareVCPU(entry: image.entry)
        phases.mark("guest memory loaded, vCPU registers set")
        let handler = HypercallHandler(memory: machine.memory.protecting(image.readOnlyRanges), consoleDescriptor: configuration.consoleDescriptor,
                                       tap: tap, disk: disk)

        if configuration.seccomp {
            try Seccomp.install(Seccomp.runLoopPolicy(ioctlRequests: Seccomp.runLoopIoctlRequests))
        }
        if configuration.attemptForbiddenCall {
            // Reaching the next line means the filter did not stop openat(2).
            let descriptor = open("/dev/null", O_RDONLY)
            throw MonitorError("confinement self-test: openat(2) was allowed after setup (descriptor \(descriptor))")
        }
        phases.mark("seccomp filter installed")
        // From here a thrown error would release the VM and devices, whose close(2) the filter forbids:
        // failures end through `finish` like the guest does, with everything still open.
        let result: MonitorResult
        do {
            result = try runLoop(machine, handler)
        } catch {
            result = .failed("\(error)")
        }
        phases.mark("guest ran to its end")
        phases.report()
        finish(result)
    }

    static func runLoop(_ machine: VirtualMachine, _ handler: HypercallHandler) throws -> MonitorResult {
        while true {
            let exit = try machine.runUntilExit()
            switch exit {
            case let .io(port, size, isOut, count, value):
                do {
                    if case let .halt(code) = try handler.handle(port: port, size: size, isOut: isOut,
                                                                 count: count, value: value) {
                        return .exited(code: code)
                    }
                } catch {
                    return ended(machine, "the guest ended: \(error)")
                }
            case let .mmio(address, isWrite):
                return ended(machine, "the guest ended: \(isWrite ? "write to" : "read from") guest-physical \(hex(address)), outside its \(machine.memory.size) bytes of memory")
            case .halt:
                return ended(machine, "the guest ended: it executed hlt (use the halt hypercall)")
            case .shutdown:
                return ended(machine, "the guest crashed: triple fault (a CPU exception in the guest, which runs without exception handlers under the monitor)")
            case let .internalError(suberror):
                return ended(machine, "the guest ended: KVM internal error, suberror \(suberror)\(suberror == 1 ? " (instruction emulation failed)" : "")")
            case let .failEntry(reason):
                return ended(machine, "the guest ended: VM entry failed, hardware reason \(hex(reason))")
            case let .other(reason):
                return ended(machine, "the guest ended: unexpected VM exit \(reason)")
            }
        }
    }

    /// A report: the reason, then the registers that say where the guest was.
    static func ended(_ machine: VirtualMachine, _ reason: String) -> MonitorResult {
        let (regs, sregs) = machine.registers()
        func word(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        }
        var report = """
            \(reason)
              rip \(word(regs.rip))  rsp \(word(regs.rsp))  rflags \(word(regs.rflags))
              rax \(word(regs.rax))  rbx \(word(regs.rbx))  rcx \(word(regs.rcx))  rdx \(word(regs.rdx))
              rsi \(word(regs.rsi))  rdi \(word(regs.rdi))  rbp \(word(regs.rbp))  cr2 \(word(sregs.cr2))
            """
        // A fault at the stack pointer is what running off the end of a stack looks like (thread stacks
        // have no guard page under the monitor, so the overflow ran until it hit read-only memory).
        let distance = sregs.cr2 > regs.rsp ? sregs.cr2 - regs.rsp : regs.rsp - sregs.cr2
        if sregs.cr2 != 0 && distance <= 256 {
            report += "\n  cr2 is at the stack pointer: probably a stack overflow (under the monitor thread stacks"
                + " have no guard page, so memory below the stack was overwritten first)"
        }
        report += "\n  #0 \(word(regs.rip))"
        for (index, address) in backtrace(machine.memory, framePointer: regs.rbp).enumerated() {
            report += "\n  #\(index + 1) \(word(address))"
        }
        return .ended(report: report, instruction: regs.rip)
    }

    /// The return addresses up the guest's frame-pointer chain (the kernel keeps frame pointers):
    /// each frame is [saved rbp, return address] at rbp. Every read is checked like a hypercall's
    /// (a smashed stack ends the walk, never the monitor); the chain must move up the stack, at most
    /// 32 frames.
    static func backtrace(_ memory: GuestMemory, framePointer: UInt64) -> [UInt64] {
        var frames: [UInt64] = []
        var frame = framePointer
        while frames.count < 32, frame != 0 {
            guard let saved = try? memory.load(UInt64.self, at: frame),
                  let returnAddress = try? memory.load(UInt64.self, at: frame &+ 8),
                  returnAddress != 0 else { break }
            frames.append(returnAddress)
            guard saved > frame else { break }
            frame = saved
        }
        return frames
    }

    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

