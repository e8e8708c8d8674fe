// ShellService: the shell of an image — its commands, the console log, and the serial console session.
//
// Selecting the library (`use: [shell]`) is all it takes: the kernel calls the image's `startShell`
// hook after threads are up (this library's wiring fragment binds it), and `start` registers the
// built-in commands, sets up the console log and spawns the "shell" thread, which runs beside the
// app. That thread polls the console for input (`Console.read()` never blocks and the UART raises
// no interrupts yet), sleeping between polls: 1 ms while input flows, 10 ms for two seconds after
// the last key, 50 ms when idle (an idle image then costs the host about 0.1 % of a core more than
// without the shell, under TCG), so it never spins. It stays silent until the first key arrives —
// an image that nobody talks to prints only one line about its shell — and then shows the prompt. Output goes straight to the
// console device, not through `print`, so the shell's own conversation stays out of the log.
//
// The kernel parameter `shell.serial=off` leaves the serial console alone (the commands remain for
// other sessions, such as `shell-net`'s TCP sessions).
//
// Shared state (the command table, the console log, the metrics provider) is module-level, not
// generic, so apps and other libraries reach it without naming the image: `ShellCommands`. Lock
// rule (one CPU): the command table is read and written with interrupts disabled; a session runs a
// line on a copy, so a command registered meanwhile applies from the next line.

import ArchX86
import BootArguments
import Clock
import ConsoleAPI
import Kernel
import ShellCore
import Threads

/// Writes a metrics page (Prometheus text) for the `metrics` command.
public typealias MetricsProvider = (_ page: inout [UInt8]) -> Void

nonisolated(unsafe) var commandTable = CommandTable()
nonisolated(unsafe) var metricsProvider: MetricsProvider? = nil

/// The commands every shell session of this image runs, for apps and libraries to extend.
public enum ShellCommands {
    /// Adds a command, or replaces the one of that name (a library's `net` replaces the default).
    public static func register(_ name: String, summary: String, _ handler: @escaping CommandHandler) {
        CPU.withInterruptsDisabled { commandTable.register(name, summary: summary, handler) }
    }

    @discardableResult
    public static func remove(_ name: String) -> Bool {
        CPU.withInterruptsDisabled { commandTable.remove(name) }
    }

    /// Runs one line as a session would (the output is in the result).
    public static func run(_ line: String) -> CommandInvocation {
        let table = CPU.withInterruptsDisabled { commandTable }
        return table.run(line)
    }

    /// Makes the `metrics` command print what `provider` writes, e.g.
    /// `ShellCommands.setMetricsProvider { registry.scrape(into: &$0) }`.
    public static func setMetricsProvider(_ provider: @escaping MetricsProvider) {
        CPU.withInterruptsDisabled { metricsProvider = provider }
    }
}

public enum ShellService<I: ThreadedImage> {
    public static var prompt: String { "tessera> " }
    /// Bytes of console output kept for `log`.
    public static var logCapacity: Int { 8192 }

    /// Called once by the kernel (the image's `startShell` hook), after threads are up.
    public static func start() {
        ShellLog.start(capacity: logCapacity)
        BuiltinCommands<I>.register()
        I.extendShell()
        guard !kernelParameters.hasKernelFlag("shell.serial=off") else { return }
        guard Thread<I>.spawn(name: "shell", priority: .high, { serialSession() }) != nil else {
            print("tessera: shell: cannot start the shell thread")
            return
        }
        print("tessera: shell on the serial console: type a command and Enter ('help' lists them)")
    }

    /// The serial console's session: runs for the life of the image.
    static func serialSession() {
        var session = ShellSession(prompt: prompt)
        var started = false
        var out: [UInt8] = []
        var lastInput: UInt64 = 0
        while true {
            var received = false
            while let byte = I.Console.read() {
                received = true
                if !started {
                    started = true
                    session.start(into: &out)
                }
                if let request = session.feed(byte, into: &out, run: ShellCommands.run) {
                    write(out)
                    out = []
                    switch request {
                    case .halt(let code):
                        Kernel<I>.exit(code: code)
                    case .endSession:
                        out += Array("the serial console stays open; 'halt' ends the image\n".utf8)
                        session.start(into: &out)
                    }
                }
                if out.count >= 512 { write(out); out = [] }       // a paste: keep the echo flowing
            }
            if !out.isEmpty { write(out); out = [] }
            let now = Clock.now()
            if received { lastInput = now }
            Thread<I>.sleep(milliseconds: received ? 1 : now - lastInput < 2_000_000_000 ? 10 : 50)
        }
    }

    /// To the console device ("\n" becomes CR LF there).
    static func write(_ bytes: [UInt8]) {
        for byte in bytes { I.Console.write(byte) }
    }
}

/// The console log: the last `ShellService.logCapacity` bytes that `print` wrote, fed by the image's
/// `observeConsoleOutput` hook from `tessera_putchar`. Output before the shell started (boot
/// messages of the kernel's own allocation-free writer, panics) is not in it.
public enum ShellLog {
    nonisolated(unsafe) static var ring = LogRing()

    static func start(capacity: Int) {
        ring = LogRing(storage: UnsafeMutablePointer<UInt8>.allocate(capacity: capacity), capacity: capacity)
    }

    /// One byte of console output (every byte `print` writes: keep it cheap).
    public static func record(_ byte: UInt8) { ring.append(byte) }

    /// The last `count` lines, oldest first.
    public static func lastLines(_ count: Int) -> [UInt8] { ring.lastLines(count) }
}
