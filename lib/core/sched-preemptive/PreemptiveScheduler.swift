// The preemptive scheduler: strict priority between levels, round-robin within a level, time slices, and
// aging so that a ready thread of low priority never waits forever.
//
// There is one FIFO ready queue per priority level (high, normal, low). `next()` takes the head of the
// highest non-empty queue; `add` and `yielded` append at the tail of the thread's own (base) level, so
// threads of one level take turns. The timer tick preempts: once the running thread has had a full slice
// (`timeSlice`, 10 ms by default), `tick` returns true if a ready thread waits at the running thread's
// base level or above; otherwise the running thread keeps the CPU for another slice. A higher-priority
// thread woken in the middle of a slice therefore waits for the end of that slice, never longer.
//
// Slices. `next()` only records which thread runs (it has no clock); the first `tick` for it starts its
// slice at that tick's `now`. So a thread always gets at least one full slice before preemption (with a
// periodic tick, at most one tick period more; a tickless kernel calls `tick` right after the switch),
// and a thread that yields early starts a fresh slice when it is picked again.
//
// Aging. Strict priority alone lets a busy high-priority thread starve everything below it. So:
//
//     A *pass* happens for a level when the CPU is given to a higher level while that level has ready
//     threads: a `next()` that picks from a higher level, or a `tick` that renews the slice of a running
//     thread whose base level is higher. A thread that has waited through `agingThreshold` (N, default 4)
//     passes in its queue is *promoted*: moved to the tail of the queue one level up. Its count restarts
//     there. A promotion only changes where the thread waits: when it is picked it runs with its base
//     priority (`tick` compares the base level), and when it is given back it rejoins its base level.
//
// Bound: under any load, a ready thread of base level b (0 = high) reaches the top queue after at most
// N * b passes of the levels it waits in, then runs after the threads ahead of it in that queue have had
// their turn. With one high-priority thread that never yields, a low thread therefore runs after at most
// 2N + 1 slices (N passes to normal, N to high, then the slice at whose end it is equal and preempts).
// agingThreshold 0 turns aging off (strict priority; starvation is then possible).
//
// Passes are counted per level, not per thread: each queue keeps its number of passes, and a thread
// records that number when it enters the queue. Queues are FIFO, so the head has waited longest, and
// promotion only ever looks at heads: every operation is O(levels), allocation-free once the per-thread
// table has grown to the highest thread number (or `reserveCapacity(threads:)` was called).

import SchedulerAPI

public struct PreemptiveScheduler: Scheduler {
    public static var name: StaticString { "preemptive" }
    public static var isPreemptive: Bool { true }
    public static var defaultTimeSlice: UInt64 { 10_000_000 }
    public static var defaultAgingThreshold: Int { 4 }

    struct Entry {
        var next: Int32 = -1
        var prev: Int32 = -1
        var isReady = false
        /// The level of the thread's priority (from `add`).
        var base = UInt8(Priority.normal.level)
        /// The level of the queue it waits in (base, or above after promotion).
        var level = UInt8(Priority.normal.level)
        /// Its queue's `passes` when it entered that queue.
        var enteredAt: UInt64 = 0
    }

    struct Queue {
        var head: Int32 = -1
        var tail: Int32 = -1
        var count = 0
        /// Passes this level has had (only counted while it is non-empty).
        var passes: UInt64 = 0
    }

    public let timeSlice: UInt64
    public let agingThreshold: Int

    var entries: [Entry] = []
    var queues = (Queue(), Queue(), Queue())
    var current: Int32 = -1
    /// When the running thread's slice started; nil until the first tick after `next()` picked it.
    var sliceStart: UInt64?

    public private(set) var readyCount = 0
    /// Promotions made by aging.
    public private(set) var promotions = 0
    /// Ticks that asked for preemption.
    public private(set) var preemptions = 0

    public init() {
        self.init(timeSlice: Self.defaultTimeSlice, agingThreshold: Self.defaultAgingThreshold)
    }

    /// `timeSlice` in ns; `agingThreshold` passes before a waiting thread is promoted (0: no aging).
    public init(timeSlice: UInt64, agingThreshold: Int, capacity threads: Int = 0) {
        precondition(agingThreshold >= 0, "scheduler: negative aging threshold")
        self.timeSlice = timeSlice
        self.agingThreshold = agingThreshold
        reserveCapacity(threads: threads)
    }

    public mutating func reserveCapacity(threads: Int) {
        entries.reserveCapacity(threads)
    }

    /// The thread `next()` returned last, while it has not been given back or removed.
    public var running: ThreadID? { current < 0 ? nil : ThreadID(UInt32(current)) }

    public func isReady(_ thread: ThreadID) -> Bool {
        thread.index < entries.count && entries[thread.index].isReady
    }

    /// The priority of the thread's last `add` (.normal if none).
    public func priority(of thread: ThreadID) -> Priority {
        thread.index < entries.count ? Self.priority(entries[thread.index].base) : .normal
    }

    /// The level a ready thread waits at (its priority, or higher after promotion); nil when not ready.
    public func effectivePriority(of thread: ThreadID) -> Priority? {
        isReady(thread) ? Self.priority(entries[thread.index].level) : nil
    }

    /// Ready threads waiting at `priority`'s level.
    public func readyCount(at priority: Priority) -> Int { self[queue: priority.level].count }

    public mutating func add(_ thread: ThreadID, priority: Priority) {
        let index = slot(thread)
        guard !entries[index].isReady else { return }
        entries[index].base = UInt8(priority.level)
        makeReady(index)
    }

    public mutating func yielded(_ thread: ThreadID) {
        let index = slot(thread)
        guard !entries[index].isReady else { return }
        makeReady(index)
    }

    public mutating func remove(_ thread: ThreadID) {
        let index = thread.index
        guard index < entries.count else { return }
        if current == Int32(index) {
            current = -1
            sliceStart = nil
        }
        if entries[index].isReady { unlink(index) }
    }

    public mutating func next() -> ThreadID? {
        for level in 0..<Priority.levels where self[queue: level].count > 0 {
            let index = Int(self[queue: level].head)
            unlink(index)
            current = Int32(index)
            sliceStart = nil
            pass(below: level)
            return ThreadID(UInt32(index))
        }
        current = -1
        sliceStart = nil
        return nil
    }

    public mutating func tick(running: ThreadID, now: UInt64) -> Bool {
        guard current == Int32(truncatingIfNeeded: running.index), let start = sliceStart else {
            // A thread we have not seen tick yet (or one the kernel runs without asking us): start its slice.
            current = Int32(truncatingIfNeeded: running.index)
            sliceStart = now
            return false
        }
        guard now >= start, now - start >= timeSlice else { return false }
        let base = running.index < entries.count ? Int(entries[running.index].base) : Priority.normal.level
        for level in 0...base where self[queue: level].count > 0 {
            preemptions += 1
            return true
        }
        sliceStart = now
        pass(below: base)
        return false
    }

    // MARK: - Queues and aging

    static func priority(_ level: UInt8) -> Priority {
        Priority(level: Int(level)) ?? .normal
    }

    subscript(queue level: Int) -> Queue {
        get {
            switch level {
            case 0: return queues.0
            case 1: return queues.1
            default: return queues.2
            }
        }
        set {
            switch level {
            case 0: queues.0 = newValue
            case 1: queues.1 = newValue
            default: queues.2 = newValue
            }
        }
    }

    mutating func slot(_ thread: ThreadID) -> Int {
        precondition(thread.rawValue < UInt32(Int32.max), "scheduler: thread number out of range")
        while entries.count <= thread.index { entries.append(Entry()) }
        return thread.index
    }

    /// Appends a thread that is not ready to the queue of its base level.
    mutating func makeReady(_ index: Int) {
        if current == Int32(index) {
            current = -1
            sliceStart = nil
        }
        enqueue(index, level: Int(entries[index].base))
        readyCount += 1
    }

    mutating func enqueue(_ index: Int, level: Int) {
        var queue = self[queue: level]
        entries[index].next = -1
        entries[index].prev = queue.tail
        entries[index].isReady = true
        entries[index].level = UInt8(level)
        entries[index].enteredAt = queue.passes
        if queue.tail >= 0 { entries[Int(queue.tail)].next = Int32(index) } else { queue.head = Int32(index) }
        queue.tail = Int32(index)
        queue.count += 1
        self[queue: level] = queue
    }

    /// Takes a ready thread out of its queue (it is then not ready).
    mutating func unlink(_ index: Int) {
        let entry = entries[index]
        let level = Int(entry.level)
        var queue = self[queue: level]
        if entry.prev >= 0 { entries[Int(entry.prev)].next = entry.next } else { queue.head = entry.next }
        if entry.next >= 0 { entries[Int(entry.next)].prev = entry.prev } else { queue.tail = entry.prev }
        queue.count -= 1
        self[queue: level] = queue
        entries[index].next = -1
        entries[index].prev = -1
        entries[index].isReady = false
        entries[index].level = entry.base
        readyCount -= 1
    }

    /// The CPU went to `level`: a pass for every lower level with ready threads, then promotions.
    mutating func pass(below level: Int) {
        guard agingThreshold > 0 else { return }
        var lower = level + 1
        while lower < Priority.levels {
            if self[queue: lower].count > 0 { self[queue: lower].passes += 1 }
            lower += 1
        }
        let threshold = UInt64(agingThreshold)
        for waiting in 1..<Priority.levels {
            while true {
                let queue = self[queue: waiting]
                guard queue.head >= 0, queue.passes - entries[Int(queue.head)].enteredAt >= threshold else { break }
                let index = Int(queue.head)
                unlink(index)
                enqueue(index, level: waiting - 1)
                readyCount += 1
                promotions += 1
            }
        }
    }
}
