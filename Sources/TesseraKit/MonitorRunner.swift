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

    /// Runs the monitor to its end. posix_spawn and waitpid rather than Foundation's Process, whose
    /// `waitUntilExit` polls every 50 ms: that alone was 50 of the 72 ms `tessera run --platform kvm`
    /// took for hello (the monitor itself takes 2 ms).
    public static func run(arguments: [String], debugImage: URL) throws -> Int32 {
        let executable = try locate()
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw ToolError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }

        let restoreSignals = catchStopSignals()
        defer { restoreSignals() }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, environ)
        close(pipeEnds[1])
        guard spawned == 0 else {
            close(pipeEnds[0])
            throw ToolError("cannot start \(executable.path): \(String(cString: strerror(spawned)))")
        }
        forwardStopSignals(to: pid)

        // The monitor's standard error, line by line, with crash-report addresses symbolized.
        let symbolizer = try? Symbolizer(image: debugImage)
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        func emit(_ line: ArraySlice<UInt8>) {
            let text = String(decoding: line, as: UTF8.self)
            let symbolized = symbolizer?.symbolize(line: text) ?? text
            FileHandle.standardError.write(Data((symbolized + "\n").utf8))
        }
        while true {
            let count = buffer.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: 0x0A) {
                emit(pending[..<newline])
                pending.removeSubrange(...newline)
            }
        }
        close(pipeEnds[0])
        if !pending.isEmpty { emit(pending[...]) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if stopSignal != 0 { return 128 + Int32(stopSignal) }            // Ctrl-C, SIGTERM: stopped on purpose
        let signal = status & 0x7F
        if signal != 0 {
            let hint = signal == SIGSYS ? " (SIGSYS: its seccomp filter stopped a system call it does not allow)" : ""
            FileHandle.standardError.write(Data("tessera: the monitor was killed by signal \(signal)\(hint)\n".utf8))
            return 128 + signal
        }
        return (status >> 8) & 0xFF
    }
}
