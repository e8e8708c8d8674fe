// The thread scheduler API: which runnable thread gets the CPU next.
//
// A scheduler is pure policy over thread numbers. It owns no stacks, contexts or clocks: the kernel's
// thread layer creates threads, switches contexts and reads the clock, and tells the scheduler what
// happened. The scheduler keeps the *ready set* (runnable threads that are not running) and, for
// preemption, a little memory of the *running* thread (the one `next()` returned last). Implementations
// are selected in the manifest (`scheduler: sched-preemptive`) and bound statically by the generated
// wiring; no existential `any Scheduler` is used.
//
// Every thread is in one of three states as far as the scheduler knows:
//
//     ready         in the ready set: after `add` or `yielded`; counted by `readyCount`
//     running       returned by `next()` and not since given back with `yielded`, `add` or `remove`
//     not runnable  never added, or given to `remove` (blocked, sleeping, exited)
//
// The calls, who makes them and when (all from the kernel, with interrupts disabled or otherwise
// serialised; a scheduler is not thread-safe):
//
//     add(t, priority:)  t became runnable: created, or woken (I/O, mutex, timer). t must not be ready;
//                        if it is, the call is ignored. Adding the running thread gives it back like
//                        `yielded`, with the new priority.
//     remove(t)          t is no longer runnable: the running thread blocked or exited, or a ready thread
//                        was suspended or killed. Removing a thread that is not ready or running is ignored.
//     yielded(t)         the running thread t gives up the CPU but stays runnable (`yield()`, or after
//                        `tick` asked for preemption); it rejoins the ready set with the priority of its
//                        last `add` (.normal if it never had one). Ignored if t is already ready.
//     next()             at every switch point, after the kernel has disposed of the previous thread with
//                        `yielded` or `remove`: picks the thread to run, takes it off the ready set and
//                        records it as running. nil means nothing is ready: the kernel idles (halts until
//                        an interrupt wakes something with `add`, then calls `next()` again).
//     tick(running:now:) from the timer interrupt, with the thread that was interrupted and the monotonic
//                        time in ns. Returns true when that thread should be preempted; the kernel then
//                        calls `yielded(running)` and `next()` on its way out of the interrupt. A
//                        scheduler's first tick for a newly picked thread starts that thread's slice (and
//                        returns false), so a thread always gets at least one full `timeSlice` before
//                        preemption. A tickless kernel, which arms a one-shot timer for the end of the
//                        slice instead of ticking periodically, calls `tick(running: t, now:)` right
//                        after switching to t, so that the slice starts at the switch and not at the
//                        next interrupt. Not called while idle. A cooperative scheduler always returns
//                        false, and the kernel need not call it at all when `isPreemptive` is false.
//
// So a voluntary yield is `yielded(current); current = next()`, a block is `remove(current); current =
// next()`, and a wake-up is `add(t, priority:)` (the woken thread waits for the running one to yield or
// be preempted; a kernel that wants immediate wake-up preemption decides that itself). Thread numbers
// are small and dense (table indices), so implementations may keep per-thread arrays indexed by them.
// Apart from growing such tables to the largest thread number seen, these calls do not allocate.

/// A thread's number: small, dense and reused after the thread exits (after `remove`).
public struct ThreadID: Hashable {
    public let rawValue: UInt32

    public init(_ rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The number as a table index.
    public var index: Int { Int(rawValue) }
}

/// Scheduling priority. Higher priorities run first where the scheduler uses priorities at all.
public enum Priority: UInt8, CaseIterable, Comparable {
    case high = 0
    case normal = 1
    case low = 2

    /// Number of levels.
    public static var levels: Int { 3 }

    /// 0 for the highest priority, `levels - 1` for the lowest.
    public var level: Int { Int(rawValue) }

    public init?(level: Int) {
        guard level >= 0, level < Self.levels else { return nil }
        self.init(rawValue: UInt8(level))
    }

    /// `a < b` when a is the lower priority: `.low < .normal < .high`.
    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue > b.rawValue }
}

public protocol Scheduler {
    /// A short name for reports ("cooperative", "preemptive").
    static var name: StaticString { get }

    /// Whether `tick` can ever return true: the kernel arms a periodic timer tick only if so.
    static var isPreemptive: Bool { get }

    /// A scheduler with nothing ready and nothing running.
    init()

    /// The time a thread may run before `tick` may preempt it, in ns; 0 for a cooperative scheduler.
    var timeSlice: UInt64 { get }

    /// Threads in the ready set (the running thread is not counted).
    var readyCount: Int { get }

    /// Makes `thread` runnable with `priority` (created or woken).
    mutating func add(_ thread: ThreadID, priority: Priority)

    /// Makes `thread` no longer runnable (blocked, sleeping or exited), whether it was ready or running.
    mutating func remove(_ thread: ThreadID)

    /// Takes the thread to run next off the ready set and records it as running; nil when none is ready.
    mutating func next() -> ThreadID?

    /// Puts the running `thread` back into the ready set: it gave up the CPU or was preempted.
    mutating func yielded(_ thread: ThreadID)

    /// The timer tick while `running` runs, at monotonic time `now` (ns). True: preempt it now.
    mutating func tick(running: ThreadID, now: UInt64) -> Bool
}
