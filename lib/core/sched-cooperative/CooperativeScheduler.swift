// The cooperative scheduler: one FIFO ready queue, plain round-robin, never preempts.
//
// Like Unikraft's ukschedcoop, a thread runs until it yields, blocks or exits, and the ready queue is
// strictly first in, first out: `add` and `yielded` append at the tail, `next()` takes the head. Priorities
// are accepted (the API passes them) and ignored: a high-priority thread woken behind three others waits
// for all three. So among threads that keep yielding, each of N ready threads gets the CPU within N picks,
// and no thread can starve another that is ready, as long as every running thread eventually yields.
//
// The queue is intrusive: a table indexed by thread number holds each thread's links and whether it is
// ready, so add, remove (even from the middle of the queue), yielded and next are O(1) and allocation-free
// once the table has grown to the highest thread number (or `reserveCapacity(threads:)` was called).
//
//     links[t]   next and prev thread numbers in the ready queue (-1 for none) and the ready bit
//     head/tail  the queue's ends
//     running    the thread `next()` returned last, until it is given back or removed; kept for reports
//                (`running`), never used for a decision
//
// `tick` always returns false and `timeSlice` is 0: the kernel arms no periodic tick for this scheduler.

import SchedulerAPI

public struct CooperativeScheduler: Scheduler {
    public static var name: StaticString { "cooperative" }
    public static var isPreemptive: Bool { false }

    struct Links {
        var next: Int32 = -1
        var prev: Int32 = -1
        var isReady = false
    }

    var links: [Links] = []
    var head: Int32 = -1
    var tail: Int32 = -1
    var current: Int32 = -1

    public private(set) var readyCount = 0
    /// Threads `next()` has handed out.
    public private(set) var picks = 0

    public init() {}

    /// A scheduler whose table has room for threads 0 ..< threads before it allocates.
    public init(capacity threads: Int) {
        reserveCapacity(threads: threads)
    }

    public mutating func reserveCapacity(threads: Int) {
        links.reserveCapacity(threads)
    }

    public var timeSlice: UInt64 { 0 }

    /// The thread `next()` returned last, while it has not been given back or removed.
    public var running: ThreadID? { current < 0 ? nil : ThreadID(UInt32(current)) }

    public func isReady(_ thread: ThreadID) -> Bool {
        thread.index < links.count && links[thread.index].isReady
    }

    /// The ready queue from head to tail (allocates; for reports and tests).
    public var readyThreads: [ThreadID] {
        var threads: [ThreadID] = []
        var index = head
        while index >= 0 {
            threads.append(ThreadID(UInt32(index)))
            index = links[Int(index)].next
        }
        return threads
    }

    /// Appends `thread` to the ready queue; `priority` is ignored (plain round-robin).
    public mutating func add(_ thread: ThreadID, priority: Priority) {
        makeReady(thread)
    }

    public mutating func yielded(_ thread: ThreadID) {
        makeReady(thread)
    }

    public mutating func remove(_ thread: ThreadID) {
        let index = thread.index
        guard index < links.count else { return }
        if current == Int32(index) { current = -1 }
        if links[index].isReady { unlink(index) }
    }

    public mutating func next() -> ThreadID? {
        guard head >= 0 else {
            current = -1
            return nil
        }
        let index = Int(head)
        unlink(index)
        current = Int32(index)
        picks += 1
        return ThreadID(UInt32(index))
    }

    public mutating func tick(running: ThreadID, now: UInt64) -> Bool { false }

    // MARK: - The intrusive queue

    mutating func makeReady(_ thread: ThreadID) {
        precondition(thread.rawValue < UInt32(Int32.max), "scheduler: thread number out of range")
        let index = thread.index
        while links.count <= index { links.append(Links()) }
        guard !links[index].isReady else { return }
        if current == Int32(index) { current = -1 }
        links[index] = Links(next: -1, prev: tail, isReady: true)
        if tail >= 0 { links[Int(tail)].next = Int32(index) } else { head = Int32(index) }
        tail = Int32(index)
        readyCount += 1
    }

    mutating func unlink(_ index: Int) {
        let entry = links[index]
        if entry.prev >= 0 { links[Int(entry.prev)].next = entry.next } else { head = entry.next }
        if entry.next >= 0 { links[Int(entry.next)].prev = entry.prev } else { tail = entry.prev }
        links[index] = Links()
        readyCount -= 1
    }
}
