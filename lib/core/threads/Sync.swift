// Sync: wait queues and the primitives built on them — Mutex, Semaphore, Condition, Event.
//
// A WaitQueue is a FIFO of blocked thread IDs; `wait` blocks the running thread on it (optionally until
// a deadline), `wakeOne`/`wakeAll` make waiters ready. Everything runs with interrupts disabled, which
// is the whole critical section on one CPU. Waking never allocates, so `Event.signal` and
// `Semaphore.signal` may be called from interrupt handlers (device drivers signal "data arrived").
// The primitives are classes: they have identity, and threads share them by reference.

import ArchX86
import Clock
import SchedulerAPI

struct WaitQueue {
    var waiters: [ThreadID] = []

    /// Blocks the running thread (interrupts disabled). False if `deadline` passed first.
    mutating func wait<I: ThreadedImage>(_ image: I.Type, reason: StaticString, deadline: UInt64) -> Bool {
        let me = ThreadSystem<I>.current
        waiters.append(me)
        let woken = ThreadSystem<I>.block(reason: reason, deadline: deadline)
        if !woken, let position = waiters.firstIndex(of: me) { waiters.remove(at: position) }
        return woken
    }

    mutating func wakeOne<I: ThreadedImage>(_ image: I.Type) -> Bool {
        guard !waiters.isEmpty else { return false }
        ThreadSystem<I>.makeReady(waiters.removeFirst())
        return true
    }

    mutating func wakeAll<I: ThreadedImage>(_ image: I.Type) {
        while wakeOne(image) {}
    }
}

/// The absolute deadline (monotonic ns) for a timeout in nanoseconds from now; 0 for nil (wait
/// forever), the convention of every wait in this library and of the socket calls built on it.
public func deadline(after timeout: UInt64?) -> UInt64 {
    guard let timeout else { return 0 }
    return Clock.now() &+ max(timeout, 1)
}

public final class Mutex<I: ThreadedImage> {
    var locked = false
    var owner: ThreadID? = nil
    var queue = WaitQueue()

    public init() {}

    public func lock() {
        CPU.withInterruptsDisabled {
            while locked { _ = queue.wait(I.self, reason: "mutex", deadline: 0) }
            locked = true
            owner = ThreadSystem<I>.current
        }
    }

    public func unlock() {
        CPU.withInterruptsDisabled {
            precondition(owner == ThreadSystem<I>.current, "mutex unlocked by a thread that does not hold it")
            locked = false
            owner = nil
            _ = queue.wakeOne(I.self)
        }
    }

    public func withLock<R>(_ body: () -> R) -> R {
        lock()
        defer { unlock() }
        return body()
    }
}

public final class Semaphore<I: ThreadedImage> {
    var count: Int
    var queue = WaitQueue()

    public init(count: Int = 0) { self.count = count }

    /// Takes one unit, waiting up to `timeout` ns (nil: forever). False on timeout.
    @discardableResult
    public func wait(timeout: UInt64? = nil) -> Bool {
        CPU.withInterruptsDisabled {
            let end = deadline(after: timeout)
            while count == 0 {
                if !queue.wait(I.self, reason: "semaphore", deadline: end) { return false }
            }
            count -= 1
            return true
        }
    }

    /// Adds one unit and wakes a waiter. Safe in interrupt handlers.
    public func signal() {
        CPU.withInterruptsDisabled {
            count += 1
            _ = queue.wakeOne(I.self)
        }
    }
}

public final class Condition<I: ThreadedImage> {
    var queue = WaitQueue()

    public init() {}

    /// Releases `mutex`, waits for a signal (or `timeout` ns), re-acquires `mutex`. False on timeout.
    @discardableResult
    public func wait(_ mutex: Mutex<I>, timeout: UInt64? = nil) -> Bool {
        let end = deadline(after: timeout)
        let woken = CPU.withInterruptsDisabled {
            mutex.unlock()
            return queue.wait(I.self, reason: "condition", deadline: end)
        }
        mutex.lock()
        return woken
    }

    public func signal() { CPU.withInterruptsDisabled { _ = queue.wakeOne(I.self) } }
    public func broadcast() { CPU.withInterruptsDisabled { queue.wakeAll(I.self) } }
}

/// A flag that threads wait for and interrupt handlers (or threads) set.
public final class Event<I: ThreadedImage> {
    var isSet = false
    var queue = WaitQueue()
    let autoReset: Bool

    /// `autoReset`: a wait that returns clears the flag again (one waiter per signal).
    public init(autoReset: Bool = true) { self.autoReset = autoReset }

    /// Waits until the event is set (or `timeout` ns pass). False on timeout.
    @discardableResult
    public func wait(timeout: UInt64? = nil) -> Bool {
        CPU.withInterruptsDisabled {
            let end = deadline(after: timeout)
            while !isSet {
                if !queue.wait(I.self, reason: "event", deadline: end) { return false }
            }
            if autoReset { isSet = false }
            return true
        }
    }

    /// Sets the event and wakes its waiters. Safe in interrupt handlers.
    public func signal() {
        CPU.withInterruptsDisabled {
            isSet = true
            if autoReset { _ = queue.wakeOne(I.self) } else { queue.wakeAll(I.self) }
        }
    }

    public func reset() { CPU.withInterruptsDisabled { isSet = false } }
}
