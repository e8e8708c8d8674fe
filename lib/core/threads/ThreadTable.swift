// ThreadTable: every thread's control block, and the state that is not specific to a scheduler.
//
// A fixed table of `capacity` slots, allocated once at initialization and never resized, so code that
// runs with interrupts disabled (timer handler, context switch) never allocates. Slot 0 is the main
// thread, which adopts the boot stack. Saved stack pointers live in a separate raw buffer because the
// context switch writes them through a pointer that must stay valid while the thread is switched out.
// Locking rule (one CPU): every field is read and written with interrupts disabled.
// For SMP, `current` and the idle path become per-CPU; the table and the timer queue get a spin lock.

import Kernel
import SchedulerAPI
import TimerQueue

public enum ThreadState: Equatable {
    case unused, ready, running, blocked, sleeping, finished
}

struct ThreadControl {
    var state = ThreadState.unused
    var name = ""
    var priority = Priority.normal
    /// Lowest address of the stack allocation (the guard page), its page count (guard included).
    var stackBase: UInt = 0
    var stackPages = 0
    var body: (() -> Void)? = nil
    /// What a blocked thread waits for (for inspection and crash reports).
    var waitReason: StaticString = ""
    /// When a sleeping or timed wait ends (monotonic ns), 0 if none.
    var wakeAt: UInt64 = 0
    var timer: TimerID? = nil
    var timedOut = false
    var joiner: ThreadID? = nil
    var switchesIn: UInt64 = 0
    var generation: UInt32 = 0
}

nonisolated(unsafe) var table: [ThreadControl] = []
nonisolated(unsafe) var savedStacks: UnsafeMutablePointer<UInt64> = UnsafeMutablePointer(bitPattern: 8)!
nonisolated(unsafe) var currentIndex = 0
/// What a timer does when it expires: wake a thread (sleeps, timed waits) or call a function.
enum TimerTarget {
    case thread(ThreadID)
    case callback(TimerCallback, UnsafeMutableRawPointer?)
}

/// A timer function; it runs in the timer interrupt, so it must not block or allocate.
public typealias TimerCallback = @convention(c) (_ context: UnsafeMutableRawPointer?) -> Void

nonisolated(unsafe) var sleepers = TimerQueue<TimerTarget>()
nonisolated(unsafe) var contextSwitches: UInt64 = 0

/// A thread as the app holds it: its slot and the slot's generation (so a stale handle is detected).
public struct ThreadHandle: Equatable {
    public let id: ThreadID
    let generation: UInt32
}

/// One line of inspection data.
public struct ThreadInfo {
    public var id: ThreadID
    public var name: String
    public var state: ThreadState
    public var priority: Priority
    public var waitReason: StaticString
    public var wakeAt: UInt64
    public var switchesIn: UInt64
    public var stackBytes: Int
}
