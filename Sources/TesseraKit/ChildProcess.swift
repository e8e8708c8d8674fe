// ChildProcess: a VM process (QEMU or tessera-kvm) started with posix_spawn and waited for with waitpid.
//
// Foundation's Process would do, but its `waitUntilExit` polls every 50 ms, which added up to 50 ms to
// every `tessera run` (and to every image test): the monitor runs hello in 2 ms. The child's standard
// input and, unless captured, its standard output and error are tessera's own; a captured stream is
// read line by line (a final line without a newline is delivered too).

import Foundation

struct ChildProcess {
    let pid: pid_t
    /// The read ends of the captured streams.
    let output: Int32?
    let errors: Int32?

    enum Exit {
        case exited(Int32)
        case signaled(Int32)
        /// The exit code, or the signal number (as Foundation's terminationStatus reports it).
        var status: Int32 {
            switch self {
            case let .exited(code), let .signaled(code): return code
            }
        }
    }

    static func spawn(_ executable: URL, _ arguments: [String], captureOutput: Bool, captureErrors: Bool) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var readEnds: [Int32] = []
        var writeEnds: [Int32] = []
        func capture(_ target: Int32) throws -> Int32 {
            var ends: [Int32] = [-1, -1]
            // Both ends close-on-exec, so another child never inherits our write end and keeps the
            // pipe open (the dup2 in this child clears the flag on its copy). pipe2(O_CLOEXEC) would
            // do it atomically but is not visible to Swift; tessera spawns from one thread.
            guard pipe(&ends) == 0 else {
                for end in readEnds + writeEnds { close(end) }
                throw ToolError("cannot create a pipe: \(String(cString: strerror(errno)))")
            }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, ends[1], target)
            posix_spawn_file_actions_addclose(&actions, ends[1])
            readEnds.append(ends[0])
            writeEnds.append(ends[1])
            return ends[0]
        }
        let output = captureOutput ? try capture(1) : nil
        let errors = captureErrors ? try capture(2) : nil
        for end in readEnds { posix_spawn_file_actions_addclose(&actions, end) }
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // waitpid needs SIGCHLD at its default: a parent that set it to SIG_IGN would make the kernel
        // reap the child itself, and its status would be lost.
        signal(SIGCHLD, SIG_DFL)
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable.path, &actions, nil, argv, environ)
        for end in writeEnds { close(end) }
        guard result == 0 else {
            for end in readEnds { close(end) }
            throw ToolError("cannot start \(executable.path): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid, output: output, errors: errors)
    }

    /// Reads `descriptor` to its end, calling `line` for each line (without its newline), then closes it.
    static func readLines(_ descriptor: Int32, _ line: ([UInt8]) -> Void) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var start = pending.count
            pending += buffer[0..<count]
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                line(Array(pending[..<newline]))
                pending.removeSubrange(...newline)
                start = 0
            }
        }
        close(descriptor)
        if !pending.isEmpty { line(pending) }
    }

    func wait() -> Exit {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            // ECHILD (someone else reaped it): report it as a signal death rather than a clean exit.
            guard errno == EINTR else { return .signaled(SIGKILL) }
        }
        let signal = status & 0x7F
        return signal != 0 ? .signaled(signal) : .exited((status >> 8) & 0xFF)
    }
}
