// BuiltinCommands: what every shell can do — threads, mem, irq, uptime, log, metrics, net, halt, exit.
//
// Each command reads the figures its library already keeps (the thread table, the allocator's and
// the page allocator's statistics, the interrupt counters, the clock) and writes them as a small
// table; none of them changes anything except `halt`. `net` only says "no network": the `shell-net`
// library replaces it when the image has a network, and `metrics` prints what the provider given to
// `ShellCommands.setMetricsProvider` writes (a metrics library, or the app, registers one).

import AllocatorAPI
import ArchX86
import Clock
import Interrupts
import Kernel
import PageAllocator
import SchedulerAPI
import ShellCore
import Threads

enum BuiltinCommands<I: ThreadedImage> {
    static func register() {
        ShellCommands.register("threads", summary: "the threads: state, priority, switches, stack, what they wait for") { threads(&$0) }
        ShellCommands.register("mem", summary: "heap and physical page statistics") { memory(&$0) }
        ShellCommands.register("irq", summary: "interrupts taken per vector since boot") { interrupts(&$0) }
        ShellCommands.register("uptime", summary: "time since boot, and the time of day (UTC)") { uptime(&$0) }
        ShellCommands.register("log", summary: "the last lines of console output: log [LINES] (default 20)") { log(&$0) }
        ShellCommands.register("metrics", summary: "the metrics page (Prometheus text format)") { metrics(&$0) }
        ShellCommands.register("net", summary: "network interface and TCP statistics") { $0.line("no network") }
        ShellCommands.register("halt", summary: "end the image: halt [CODE] (exit code, default 0)") { halt(&$0) }
        ShellCommands.register("exit", summary: "end this session (the serial console stays)") { $0.request = .endSession }
    }

    static func threads(_ out: inout CommandInvocation) {
        var infos: [ThreadInfo] = []
        CPU.withInterruptsDisabled { Thread<I>.forEach { infos.append($0) } }
        let now = Clock.now()
        out.write(infos.count)
        out.write(" threads, ")
        out.write(string(Thread<I>.schedulerName))
        out.write(" scheduler, ")
        out.write(Int(truncatingIfNeeded: Thread<I>.contextSwitchCount))
        out.line(" context switches")
        let nameWidth = infos.reduce(4) { max($0, $1.name.utf8.count) } + 2
        out.column("ID", width: 4)
        out.column("NAME", width: nameWidth)
        out.line("STATE     PRIO      SWITCHES  STACK  WAITING")
        for info in infos {
            out.column(Int(info.id.rawValue), width: 2)
            out.write("  ")
            out.column(info.name, width: nameWidth)
            out.column(stateName(info.state), width: 10)
            out.column(priorityName(info.priority), width: 8)
            out.column(Int(truncatingIfNeeded: info.switchesIn), width: 10)
            if info.stackBytes == 0 {
                out.write("   boot")
            } else {
                out.column(info.stackBytes / 1024, width: 6)
                out.write("K")
            }
            if info.waitReason.utf8CodeUnitCount > 0 {
                out.write("  ")
                out.write(string(info.waitReason))
            }
            if info.wakeAt != 0 {
                out.write(info.waitReason.utf8CodeUnitCount > 0 ? ", wakes in " : "  wakes in ")
                out.write(Int(truncatingIfNeeded: info.wakeAt > now ? (info.wakeAt - now) / 1_000_000 : 0))
                out.write(" ms")
            }
            out.line()
        }
    }

    static func memory(_ out: inout CommandInvocation) {
        let heap = CPU.withInterruptsDisabled { I.withHeap { $0.statistics } }
        let (freePages, totalPages) = CPU.withInterruptsDisabled { (physicalPages.freePages, physicalPages.totalPages) }
        out.write("heap (")
        out.write(string(I.Allocator.name))
        out.line("):")
        figure(&out, "  in use   ", bytes: heap.inUseBytes)
        out.write(" in ")
        out.write(heap.liveAllocations)
        out.line(" allocations")
        figure(&out, "  peak     ", bytes: heap.peakInUseBytes)
        out.line()
        figure(&out, "  free     ", bytes: heap.freeBytes)
        out.line()
        figure(&out, "  managed  ", bytes: heap.managedBytes)
        out.line()
        out.write("  allocations since boot ")
        out.write(heap.totalAllocations)
        out.write(", failed ")
        out.write(heap.failedAllocations)
        out.line()
        out.write("pages: ")
        out.write(freePages)
        out.write(" free of ")
        out.write(totalPages)
        figure(&out, " (4 KiB each): ", bytes: freePages * 4096)
        figure(&out, " free of ", bytes: totalPages * 4096)
        out.line()
    }

    static func figure(_ out: inout CommandInvocation, _ label: String, bytes: Int) {
        out.write(label)
        out.write(ShellFormat.bytes(bytes))
    }

    static func interrupts(_ out: inout CommandInvocation) {
        var rows: [(vector: UInt8, count: UInt64)] = []
        Interrupts.forEachCount { rows.append(($0, $1)) }
        out.line("VECTOR  COUNT       SOURCE")
        for row in rows {
            out.column(ShellFormat.hex(UInt64(row.vector)), width: 8)
            out.column(Int(truncatingIfNeeded: row.count), width: 10)
            out.write("  ")
            source(of: row.vector, &out)
            out.line()
        }
        out.write("spurious: ")
        out.write(Int(truncatingIfNeeded: Interrupts.spuriousCount))
        out.line()
    }

    static func source(of vector: UInt8, _ out: inout CommandInvocation) {
        switch vector {
        case Interrupts.timerVector: out.write("local APIC timer")
        case Interrupts.errorVector: out.write("local APIC error")
        case Interrupts.spuriousVector: out.write("local APIC spurious")
        case 0x20..<0x30: out.write("legacy PIC (masked)")
        case Interrupts.firstLineVector..<(Interrupts.firstLineVector + 24):
            out.write("I/O APIC line ")
            out.write(Int(vector - Interrupts.firstLineVector))
        case Interrupts.firstMessageVector...Interrupts.lastMessageVector: out.write("message-signalled (MSI-X)")
        default: break
        }
    }

    static func uptime(_ out: inout CommandInvocation) {
        out.write("up ")
        out.write(ShellFormat.duration(nanoseconds: Clock.now()))
        out.write("; ")
        out.line(ShellFormat.utc(unixSeconds: Clock.wallTime().seconds))
    }

    static func log(_ out: inout CommandInvocation) {
        var count = 20
        if let argument = out.arguments.first {
            guard let parsed = ShellFormat.decimal(argument), parsed > 0 else {
                out.line("log: LINES must be a positive number")
                return
            }
            count = parsed
        }
        let lines = ShellLog.lastLines(count)
        if lines.isEmpty {
            out.line("(no console output yet)")
        } else {
            out.write(lines)
        }
    }

    static func metrics(_ out: inout CommandInvocation) {
        guard let provider = CPU.withInterruptsDisabled({ metricsProvider }) else {
            out.line("metrics library not selected")
            return
        }
        var page: [UInt8] = []
        provider(&page)
        out.write(page)
    }

    static func halt(_ out: inout CommandInvocation) {
        var code: Int32 = 0
        if let argument = out.arguments.first {
            guard let parsed = ShellFormat.decimal(argument), parsed <= 255 else {
                out.line("halt: CODE must be 0-255")
                return
            }
            code = Int32(parsed)
        }
        out.line("halting")
        out.request = .halt(code)
    }

    static func stateName(_ state: ThreadState) -> String {
        switch state {
        case .unused: return "unused"
        case .ready: return "ready"
        case .running: return "running"
        case .blocked: return "blocked"
        case .sleeping: return "sleeping"
        case .finished: return "finished"
        }
    }

    static func priorityName(_ priority: Priority) -> String {
        switch priority {
        case .high: return "high"
        case .normal: return "normal"
        case .low: return "low"
        }
    }
}

func string(_ text: StaticString) -> String {
    text.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
}
