// QEMURunner: boots a built image under QEMU and turns the guest's ending into an exit code.
//
// The guest's console is the first serial port, attached to QEMU's stdio; its output comes back
// through a pipe so that crash-report backtrace lines can be symbolized on the way (the image keeps no
// symbol names; the build keeps an unstripped copy). The guest ends by writing its exit code to the
// debug console (port 0xE9, attached to a private file) and then to isa-debug-exit, so every code
// 0-255 reaches `tessera run` intact and a VM that died without that record (QEMU error, triple fault,
// killed) is reported as such (exit 125), never mistaken for a guest's code.
// Ctrl-C, SIGTERM, SIGHUP: tessera catches them, stops QEMU (SIGTERM) so that no VM is left behind,
// waits for it and exits 128 + the signal number (130 after Ctrl-C).

import BootArguments
import Foundation

public enum Machine: String, CaseIterable, Sendable {
    case microvm = "qemu-microvm"
    case pc = "qemu-pc"
    case q35 = "qemu-q35"

    var qemuMachine: String {
        switch self {
        case .microvm: return "microvm,x-option-roms=off,acpi=off,auto-kernel-cmdline=off"
        case .pc: return "pc"
        case .q35: return "q35"
        }
    }
}

/// `-p HOST:GUEST[/udp|/tcp]`: a host port on 127.0.0.1 forwarded to a guest port (QEMU user
/// networking's hostfwd).
public struct PortForward: Equatable, Sendable {
    public enum Transport: String, Sendable { case tcp, udp }
    public var hostPort: UInt16
    public var guestPort: UInt16
    public var transport: Transport

    public init(hostPort: UInt16, guestPort: UInt16, transport: Transport = .tcp) {
        self.hostPort = hostPort
        self.guestPort = guestPort
        self.transport = transport
    }

    /// Parses "8080:80", "5555:7/udp"; nil for anything else.
    public init?(_ text: String) {
        var spec = Substring(text), transport = Transport.tcp
        if let slash = spec.firstIndex(of: "/") {
            guard let parsed = Transport(rawValue: String(spec[spec.index(after: slash)...]).lowercased()) else { return nil }
            transport = parsed
            spec = spec[..<slash]
        }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let host = UInt16(parts[0]), let guest = UInt16(parts[1]), host > 0, guest > 0 else {
            return nil
        }
        self.init(hostPort: host, guestPort: guest, transport: transport)
    }

    var hostfwd: String { "hostfwd=\(transport.rawValue):127.0.0.1:\(hostPort)-:\(guestPort)" }
}

public enum Accelerator: String, CaseIterable, Sendable {
    case auto, kvm, tcg
}

public struct RunOptions {
    public var image: URL
    public var debugImage: URL?
    public var machine: Machine
    public var memoryBytes: UInt64
    public var kernelParameters: [String] = []
    public var arguments: [String]
    public var accelerator: Accelerator = .auto
    /// Attach a virtio network device on QEMU's user-mode network (10.0.2.0/24, gateway 10.0.2.2).
    public var userNetwork = false
    /// Attach the network device to this host tap interface instead of QEMU user networking (which
    /// needs no privileges but forwards only the `-p` ports). The tap must exist (see docs/network.md).
    public var tapDevice: String? = nil
    /// Host ports forwarded to the guest (needs `userNetwork`).
    public var portForwards: [PortForward] = []
    /// Appended to QEMU's command line as they are (tests add devices with it).
    public var extraQEMUArguments: [String] = []
    /// A raw disk image attached as the virtio-blk device (`--disk`), or nil.
    public var diskFile: String? = nil
    /// `--disk FILE:ro`: QEMU refuses the guest's writes (virtio-blk offers VIRTIO_BLK_F_RO).
    public var diskReadOnly = false
    /// `-v HOST_DIR:GUEST_PATH[:ro]`: host folders shared over virtio-9p.
    public var volumes: [VolumeSpec] = []
    /// Receives each console line (already symbolized); nil prints to stdout.
    public var consoleSink: ((String) -> Void)? = nil
    /// Called with QEMU's process ID once it runs (tests stop a serving image with SIGTERM).
    public var onStart: ((Int32) -> Void)? = nil

    public init(image: URL, debugImage: URL?, machine: Machine, memoryBytes: UInt64, arguments: [String]) {
        self.image = image
        self.debugImage = debugImage
        self.machine = machine
        self.memoryBytes = memoryBytes
        self.arguments = arguments
    }
}

public struct RunResult {
    /// The guest's exit code, or nil when the VM ended without reporting one.
    public var guestExitCode: UInt8?
    public var qemuStatus: Int32
    /// The signal (SIGINT, SIGTERM, SIGHUP) that stopped the run, if any.
    public var interruptedBy: Int32?
    public var accelerator: Accelerator

    public var interrupted: Bool { interruptedBy != nil }

    /// What `tessera run` exits with: the guest's code; 128 + signal when interrupted (130 after
    /// Ctrl-C); 125 when the VM ended without an exit status.
    public var exitCode: Int32 {
        if let code = guestExitCode { return Int32(code) }
        if let signal = interruptedBy { return 128 + signal }
        return 125
    }
}

/// The running VM process (QEMU or tessera-kvm) and the first stop signal received; written by the
/// signal handler.
nonisolated(unsafe) private var childPID: pid_t = 0
nonisolated(unsafe) var stopSignal: sig_atomic_t = 0

private func onStopSignal(_ number: Int32) {
    if stopSignal == 0 { stopSignal = number }
    if childPID > 0 { kill(childPID, SIGTERM) }
}

/// Stop signals stop the VM, never tessera alone. The handler only calls kill(2), which is
/// async-signal-safe; the signals are unblocked explicitly because a parent (a test runner, a
/// supervisor) may have started tessera with them blocked. Returns what restores the defaults.
func catchStopSignals() -> () -> Void {
    let stopSignals = [SIGINT, SIGTERM, SIGHUP]
    stopSignal = 0
    childPID = 0
    var unblock = sigset_t()
    sigemptyset(&unblock)
    for number in stopSignals {
        sigaddset(&unblock, number)
        signal(number, onStopSignal)
    }
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    return {
        for number in stopSignals { signal(number, SIG_DFL) }
        childPID = 0
    }
}

/// The VM process is running: stop signals go to it from now on (and one that came before, now).
func forwardStopSignals(to pid: pid_t) {
    childPID = pid
    if stopSignal != 0 { kill(pid, SIGTERM) }
}

public enum QEMURunner {
    public static let qemuName = "qemu-system-x86_64"

    public static func locateQEMU() throws -> URL {
        if let url = findExecutable(qemuName) { return url }
        throw ToolError("\(qemuName) not found: install QEMU, e.g. `apt-get install qemu-system-x86` on Debian or Ubuntu")
    }

    /// Quotes one word for the guest's command-line parser (BootArguments).
    public static func qemuArguments(_ options: RunOptions, accelerator: Accelerator, exitRecord: URL) -> [String] {
        let kib = max(options.memoryBytes / 1024, 1)
        var arguments = [
            "-M", options.machine.qemuMachine,
            "-m", "\(kib)K",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-chardev", "stdio,id=console,signal=on",
            "-serial", "chardev:console",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-debugcon", "file:\(exitRecord.path)",
            "-kernel", options.image.path,
            "-append", BootArguments.commandLine(kernel: options.kernelParameters, application: options.arguments),
        ]
        if options.userNetwork {
            let netdev = options.tapDevice.map { "tap,id=net0,ifname=\($0),script=no,downscript=no" }
                ?? (["user", "id=net0"] + options.portForwards.map(\.hostfwd)).joined(separator: ",")
            arguments += ["-netdev", netdev]
            if options.machine == .microvm {
                // virtio-mmio, version 2 (modern): what the `virtio-net` library drives.
                arguments += ["-device", "virtio-net-device,netdev=net0", "-global", "virtio-mmio.force-legacy=false"]
            } else {
                // virtio-pci without the legacy interface (device ID 0x1041): what `virtio-net-pci` drives.
                arguments += ["-device", "virtio-net-pci,netdev=net0,disable-legacy=on"]
            }
        }
        if let disk = options.diskFile {
            // Raw, writeback cache: the guest's flush (virtio-blk FLUSH) is what makes data durable.
            arguments += ["-drive", "file=\(disk),if=none,id=disk0,format=raw,cache=writeback" + (options.diskReadOnly ? ",readonly=on" : "")]
            if options.machine == .microvm {
                arguments += ["-device", "virtio-blk-device,drive=disk0", "-global", "virtio-mmio.force-legacy=false"]
            } else {
                arguments += ["-device", "virtio-blk-pci,drive=disk0,disable-legacy=on"]
            }
        }
        for volume in options.volumes {
            arguments += volume.qemuArguments(pci: options.machine != .microvm)
            if options.machine == .microvm { arguments += ["-global", "virtio-mmio.force-legacy=false"] }
        }
        arguments += options.extraQEMUArguments
        switch accelerator {
        case .kvm: arguments += ["-accel", "kvm", "-cpu", "host"]
        default: arguments += ["-accel", "tcg", "-cpu", "max"]
        }
        return arguments
    }

    /// The net-device library that drives the network device `qemuArguments` attaches on `machine`.
    public static func networkLibrary(for machine: Machine) -> String {
        machine == .microvm ? "virtio-net" : "virtio-net-pci"
    }

    /// The smallest guest memory that holds the image (its highest loaded byte, bss included) plus
    /// 16 KiB of heap. Booting with less would load the kernel where there is no RAM and hang.
    public static func minimumMemory(for image: URL) throws -> UInt64 {
        let elf = try ELFFile(contentsOf: image)
        let end = elf.segments.filter(\.isLoad).map { $0.physicalAddress + $0.memorySize }.max() ?? 0
        return (end + 16 * 1024 + 1023) / 1024 * 1024
    }

    public static func run(_ options: RunOptions, notice: (String) -> Void) throws -> RunResult {
        let qemu = try locateQEMU()
        if let tap = options.tapDevice {
            guard options.userNetwork else {
                throw ToolError("--net tap:\(tap) needs a network device in the image: select one in tessera.yaml (libraries: {net-device: virtio-net})")
            }
            guard options.portForwards.isEmpty else {
                throw ToolError("-p forwards ports of QEMU user networking; with --net tap:\(tap) the guest has its own address on the tap's network: connect to it directly")
            }
            guard FileManager.default.fileExists(atPath: "/sys/class/net/\(tap)") else {
                throw ToolError("tap device '\(tap)' does not exist: create it first (ip tuntap add dev \(tap) mode tap; see docs/network.md)")
            }
        }
        if !options.portForwards.isEmpty && !options.userNetwork {
            throw ToolError("-p needs a network device in the image: select one in tessera.yaml (libraries: {net-device: virtio-net})")
        }
        let minimum = try minimumMemory(for: options.image)
        guard options.memoryBytes >= minimum else {
            throw ToolError("guest memory \(options.memoryBytes / 1024)K is too small for this image: it needs at least \(minimum / 1024)K (the kernel is loaded at 1 MiB)")
        }
        var accelerator = options.accelerator
        if accelerator != .tcg {
            switch KVMProbe.probe() {
            case .usable:
                accelerator = .kvm
            case .unusable(let reason):
                if accelerator == .kvm { throw ToolError("KVM requested but not usable: \(reason)") }
                notice("tessera: KVM not usable (\(reason)); using TCG software emulation")
                accelerator = .tcg
            }
        }

        let exitRecord = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-exit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        FileManager.default.createFile(atPath: exitRecord.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: exitRecord) }

        let restoreSignals = catchStopSignals()
        defer { restoreSignals() }
        let child = try ChildProcess.spawn(qemu, qemuArguments(options, accelerator: accelerator, exitRecord: exitRecord),
                                           captureOutput: true, captureErrors: false)
        forwardStopSignals(to: child.pid)
        options.onStart?(child.pid)

        let symbolizer = LazySymbolizer(image: options.debugImage)
        let sink = options.consoleSink ?? { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        ChildProcess.readLines(child.output!) { bytes in
            var line = String(decoding: bytes, as: UTF8.self)
            if line.hasSuffix("\r") { line.removeLast() }
            sink(symbolizer.symbolize(line: line))
        }
        let exit = child.wait()

        let record = (try? Data(contentsOf: exitRecord)) ?? Data()
        return RunResult(guestExitCode: record.last, qemuStatus: exit.status,
                         interruptedBy: stopSignal == 0 ? nil : Int32(stopSignal), accelerator: accelerator)
    }
}
