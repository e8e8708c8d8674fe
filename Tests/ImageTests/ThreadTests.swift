// Threads and schedulers in real images: the same app, two schedulers chosen only by the manifest.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite
    struct ThreadTests {
        static func threadsApp(scheduler: String) throws -> URL {
            let manifest = try String(contentsOf: ImageHarness.example("threads").appendingPathComponent("tessera.yaml"),
                                      encoding: .utf8)
                .replacingOccurrences(of: "scheduler: sched-cooperative", with: "scheduler: \(scheduler)")
            return try ImageHarness.copy(ImageHarness.example("threads"), manifest: manifest)
        }

        static func lateness(_ boot: ImageHarness.Boot) -> [Int] {
            boot.lines.filter { $0.hasPrefix("sleeper: tick ") }.compactMap { line in
                line.split(separator: " ").last.flatMap { Int($0) }
            }
        }

        @Test(arguments: ["sched-cooperative", "sched-preemptive"])
        func producerConsumerCompletesAndEveryThreadJoins(scheduler: String) throws {
            let app = try Self.threadsApp(scheduler: scheduler)
            defer { try? FileManager.default.removeItem(at: app) }
            let boot = try ImageHarness.boot(try ImageHarness.build(app))
            #expect(boot.result.exitCode == 0, "console:\n\(boot.output)")
            #expect(boot.lines.contains("threads: scheduler \(scheduler.dropFirst("sched-".count))"))
            #expect(boot.lines.contains("consumer: received 2000 items, in order: true"))
            #expect(boot.lines.contains("producer: sent 2000 items"))
            #expect(boot.lines.contains("busy: spun 300 ms"))
            #expect(Self.lateness(boot).count == 5)
            #expect(boot.lines.contains { $0.hasPrefix("threads: all joined, ") })
        }

        @Test func underPreemptionABusyThreadDoesNotDelayTheSleeper() throws {
            let app = try Self.threadsApp(scheduler: "sched-preemptive")
            defer { try? FileManager.default.removeItem(at: app) }
            let late = Self.lateness(try ImageHarness.boot(try ImageHarness.build(app)))
            #expect(late.count == 5)
            // The busy thread spins for 300 ms (cooperative: the first tick is >= 200 ms late); here a
            // woken sleeper preempts it at once. The bound leaves room for a loaded 2-core host.
            for microseconds in late { #expect(microseconds >= 0 && microseconds < 100_000, "late by \(microseconds) µs") }
        }

        @Test func cooperativeSchedulingLetsTheBusyThreadHoldTheCPU() throws {
            // Documented behaviour: a thread that never yields keeps the CPU; the sleeper's first tick
            // comes only after the 300 ms spin ends.
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("threads")))
            let late = Self.lateness(boot)
            #expect(late.count == 5)
            #expect((late.first ?? 0) >= 150_000, "first tick late by \(late.first ?? 0) µs")
            let busyLine = try #require(boot.lines.firstIndex(of: "busy: spun 300 ms"))
            let firstTick = try #require(boot.lines.firstIndex { $0.hasPrefix("sleeper: tick 1 ") })
            #expect(busyLine < firstTick)
        }

        @Test func preemptedThreadsKeepTheirSSEState() throws {
            // Without fxsave/fxrstor around traps this app's results differ (checked by removing them).
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("fpu")))
            #expect(boot.result.exitCode == 0)
            let line = try #require(boot.lines.first { $0.hasPrefix("fpu: 3 threads, ") })
            #expect(line.hasSuffix("results identical: true"))
            let switches = try #require(Int(line.split(separator: " ")[3]))
            #expect(switches >= 20, "only \(switches) switches: the threads were hardly preempted")
        }

        @Test func stackOverflowIsACrashReportNamingTheThread() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("overflow")))
            #expect(boot.result.exitCode == 139)
            #expect(boot.lines.contains("  thread: 'deep' (id 1)"))
            #expect(boot.lines.contains("  stack overflow: thread 'deep' ran past the end of its 16 KiB stack into its guard page"))
            #expect(boot.lines.contains { $0.hasPrefix("  #0 0x") && $0.contains("recurse") })
        }
    }

    @Suite
    struct TimerTests {
        @Test func periodicOneShotAndCancelledTimersAndWaitTimeouts() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("timers")))
            #expect(boot.result.exitCode == 0)
            let periodic = try #require(boot.lines.first { $0.hasPrefix("timers: 5 periodic ticks in ") })
            let milliseconds = try #require(Int(periodic.split(separator: " ")[5]))
            #expect(milliseconds >= 250 && milliseconds < 300, "\(periodic)")
            #expect(boot.lines.contains("timers: cancelled true"))
            #expect(boot.lines.contains("timers: ticks after cancel 0"))
            let timeout = try #require(boot.lines.first { $0.hasPrefix("timers: semaphore timed out true after ") })
            let waited = try #require(Int(timeout.split(separator: " ")[6]))
            #expect(waited >= 80 && waited < 100, "\(timeout)")
            #expect(boot.lines.contains("timers: one-shot fired true, cancel after firing false"))
        }
    }
}
