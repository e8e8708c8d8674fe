// Thread: what an app uses — spawn, join, yield, sleep, the current thread's name — and inspection.
//
// Apps name it through the wiring's `typealias Thread = Threads.Thread<TesseraImage>`, so calls are
// statically dispatched to the image's scheduler.

import Clock
import Kernel
import SchedulerAPI
import ArchX86
import TimerQueue

public enum Thread<I: ThreadedImage> {
    /// Starts `body` in a new thread. Nil when the thread table or memory is full.
    @discardableResult
    public static func spawn(name: String, stackSize: Int = ThreadSystem<I>.defaultStackSize,
                             priority: Priority = .normal, _ body: @escaping () -> Void) -> ThreadHandle? {
        ThreadSystem<I>.spawn(name: name, stackSize: stackSize, priority: priority, body)
    }

    public static func join(_ handle: ThreadHandle) { ThreadSystem<I>.join(handle) }
    public static func yield() { ThreadSystem<I>.yield() }
    public static func sleep(nanoseconds: UInt64) { ThreadSystem<I>.sleep(nanoseconds: nanoseconds) }
    public static func sleep(milliseconds: UInt64) { ThreadSystem<I>.sleep(nanoseconds: milliseconds * 1_000_000) }

    /// The running thread's name.
    public static var currentName: String { table[currentIndex].name }
    public static var currentID: ThreadID { ThreadID(UInt32(currentIndex)) }

    /// Context switches since boot.
    public static var contextSwitchCount: UInt64 { contextSwitches }

    /// The scheduler's name ("cooperative", "preemptive").
    public static var schedulerName: StaticString { I.Scheduler.name }

    /// Every live thread, for shells and metrics.
    public static func forEach(_ body: (ThreadInfo) -> Void) {
        for index in table.indices where table[index].state != .unused {
            let t = table[index]
            body(ThreadInfo(id: ThreadID(UInt32(index)), name: t.name, state: t.state, priority: t.priority,
                            waitReason: t.waitReason, wakeAt: t.wakeAt, switchesIn: t.switchesIn,
                            stackBytes: max(t.stackPages - 1, 0) * 4096))
        }
    }
}

/// Timers for apps: `Timers.start(after:period:context:_:)` and `Timers.cancel(_:)`.
public enum Timers<I: ThreadedImage> {
    @discardableResult
    public static func start(after delay: UInt64, period: UInt64 = 0, context: UnsafeMutableRawPointer? = nil,
                             _ function: TimerCallback) -> TimerID {
        ThreadSystem<I>.startTimer(after: delay, period: period, context: context, function)
    }

    @discardableResult
    public static func cancel(_ id: TimerID) -> Bool { ThreadSystem<I>.cancelTimer(id) }
}

extension ThreadSystem {
    /// Crash-report lines: the running thread, and a stack overflow when the fault hit a guard page.
    public static func reportCrash(faultAddress: UInt64) {
        guard !table.isEmpty else { return }
        typealias Out = Output<I.Console>
        Out.text("  thread: '")
        Out.string(table[currentIndex].name)
        Out.text("' (id ")
        Out.decimal(currentIndex)
        Out.line(")")
        guard faultAddress != 0 else { return }
        for index in table.indices where table[index].stackPages > 0 && table[index].state != .unused {
            let guardPage = UInt64(table[index].stackBase)
            if faultAddress >= guardPage && faultAddress < guardPage + 4096 {
                Out.text("  stack overflow: thread '")
                Out.string(table[index].name)
                Out.text("' ran past the end of its ")
                Out.decimal((table[index].stackPages - 1) * 4)
                Out.line(" KiB stack into its guard page")
            }
        }
    }
}
