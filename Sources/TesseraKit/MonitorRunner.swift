// MonitorRunner: `tessera run --platform kvm` — the image runs under `tessera-kvm`, Tessera's own KVM
// monitor, as a child process (like QEMU for the other platforms): the monitor confines itself with
// seccomp once the guest is set up, so the CLI keeps its own freedom (symbolizing a crash report needs
// to open the debug image, which the confined monitor may not).
//
// The guest's console is the monitor's standard output, passed straight through; the monitor's
// standard error is read line by line and each crash-report address line ("  #0 0x…") gets the function
// name from the debug image. The exit status is the monitor's: the guest's code, 139 for a crash or a
// refused hypercall, 125 for a setup failure; 128 + N when the monitor died of signal N (31, SIGSYS,
// means the seccomp filter stopped it). Ctrl-C, SIGTERM and SIGHUP stop the monitor (as QEMU's runner
// does) and tessera exits 128 + that signal.

import Foundation

public enum MonitorRunner {
    /// `tessera-kvm` next to the running `tessera`, else on PATH.
    public static func locate() throws -> URL {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let sibling = here.appendingPathComponent("tessera-kvm")
        if FileManager.default.isExecutableFile(atPath: sibling.path) { return sibling }
        if let found = findExecutable("tessera-kvm") { return found }
        throw ToolError("tessera-kvm (the KVM monitor) is not next to tessera or on PATH; build it with `swift build --product tessera-kvm`")
    }

    /// Runs the monitor to its end (posix_spawn and waitpid: see ChildProcess).
    public static func run(arguments: [String], debugImage: URL) throws -> Int32 {
        let restoreSignals = catchStopSignals()
        defer { restoreSignals() }
        let child = try ChildProcess.spawn(try locate(), arguments, captureOutput: false, captureErrors: true)
        forwardStopSignals(to: child.pid)
        // The monitor's standard error, line by line, with crash-report addresses symbolized.
        let symbolizer = LazySymbolizer(image: debugImage)
        ChildProcess.readLines(child.errors!) { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            FileHandle.standardError.write(Data((symbolizer.symbolize(line: text) + "\n").utf8))
        }
        let exit = child.wait()
        if stopSignal != 0 { return 128 + Int32(stopSignal) }            // Ctrl-C, SIGTERM: stopped on purpose
        switch exit {
        case let .exited(code): return code
        case let .signaled(signal):
            let hint = signal == SIGSYS ? " (SIGSYS: its seccomp filter stopped a system call it does not allow)" : ""
            FileHandle.standardError.write(Data("tessera: the monitor was killed by signal \(signal)\(hint)\n".utf8))
            return 128 + signal
        }
    }
}
