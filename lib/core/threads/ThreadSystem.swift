// ThreadSystem: creating, switching, blocking, waking and ending threads, generic over the image.
//
// Switching: the running thread calls `switchAway()` with interrupts disabled after telling the
// scheduler what it is doing (yielded, blocked, sleeping, finished). `switchAway` asks the scheduler
// for the next thread and switches stacks (tessera_context_switch); if nothing is ready it halts
// (`sti; hlt`) on the current stack until an interrupt makes something ready — so an idle guest costs
// the host nothing. Timers: sleeping and timed waits are entries in one timer queue; the local APIC
// timer is armed for the earliest one (and, with a preemptive scheduler, for the end of the time slice
// when another thread is ready). The timer interrupt wakes expired sleepers and, if the scheduler says
// so, sets tessera_preempt_pending: traps.S then moves the interrupted thread's trap frame onto its own
// stack and calls `preempt`, which switches like a yield.
// On a platform without interrupts (Tessera's KVM monitor) the idle path asks the platform to wait for
// device events until the next deadline and then does the timer's work itself; threads switch only
// when they block, sleep or yield there (a preemptive scheduler cannot preempt without a timer).

import ArchX86
import Clock
import Interrupts
import Kernel
import PageAllocator
import PlatformAPI
import SchedulerAPI
import TimerQueue

@_extern(c, "tessera_context_switch") func _contextSwitch(_ save: UnsafeMutablePointer<UInt64>, _ to: UInt64)
@_extern(c, "tessera_thread_trampoline_address") func _threadTrampolineAddress() -> UInt64
@_extern(c, "tessera_request_preempt") func _requestPreempt()

/// What the threads library needs from an image besides the kernel's signature: the scheduler.
public protocol ThreadedImage: Image {
    associatedtype Scheduler: SchedulerAPI.Scheduler
    static func withScheduler<R>(_ body: (inout Scheduler) -> R) -> R
}

public enum ThreadSystem<I: ThreadedImage> {
    public static var capacity: Int { 64 }
    public static var defaultStackSize: Int { 64 * 1024 }

    /// Makes the boot flow thread 0, "main", and takes over the timer interrupt with `timerHandler`
    /// (a C function from the wiring file that calls `timerInterrupt`).
    public static func initialize(timerHandler: InterruptHandler) {
        table = Array(repeating: ThreadControl(), count: capacity)
        savedStacks = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        sleepers.reserveCapacity(capacity)
        table[0].state = .running
        table[0].name = "main"
        currentIndex = 0
        I.withScheduler {
            $0.add(ThreadID(0), priority: .normal)
            _ = $0.next()
        }
        Interrupts.register(vector: Interrupts.timerVector, timerHandler)
    }

    static var current: ThreadID { ThreadID(UInt32(currentIndex)) }

    // MARK: Creating and ending

    public static func spawn(name: String, stackSize: Int, priority: Priority,
                             _ body: @escaping () -> Void) -> ThreadHandle? {
        CPU.withInterruptsDisabled {
            reapFinished()
            guard let index = table.indices.first(where: { table[$0].state == .unused }) else { return nil }
            let pages = (stackSize + 4095) / 4096 + 1                       // + the guard page
            guard let base = physicalPages.allocate(pages: pages) else { return nil }
            guard Paging.unmap(page: base, newPage: { physicalPages.allocate(pages: 1) }) else {
                physicalPages.free(base, pages: pages)
                return nil
            }
            // The first switch to this thread "returns" into the trampoline with %r12 = its index.
            let top = base + UInt(pages) * 4096
            let frame = UnsafeMutablePointer<UInt64>(bitPattern: top - 64)!
            frame[0] = 0x037F << 32 | 0x1F80           // MXCSR (default), x87 control word (default)
            frame[1] = 0; frame[2] = 0; frame[3] = 0      // r15, r14, r13
            frame[4] = UInt64(index)                      // r12: the argument
            frame[5] = 0; frame[6] = 0                    // rbx, rbp
            frame[7] = _threadTrampolineAddress()
            savedStacks[index] = UInt64(top - 64)
            var control = ThreadControl()
            control.state = .ready
            control.name = name
            control.priority = priority
            control.stackBase = base
            control.stackPages = pages
            control.body = body
            control.generation = table[index].generation &+ 1
            table[index] = control
            let id = ThreadID(UInt32(index))
            I.withScheduler { $0.add(id, priority: priority) }
            rearmTimer()
            return ThreadHandle(id: id, generation: control.generation)
        }
    }

    /// The first code a new thread runs (from the trampoline, interrupts enabled).
    public static func threadStart(_ argument: UInt) {
        CPU.enableInterrupts()                          // a new thread starts with interrupts on
        let index = Int(argument)
        if let body = table[index].body { body() }
        exitCurrent()
    }

    /// Ends the running thread: wakes its joiner and switches away for good.
    static func exitCurrent() -> Never {
        _ = CPU.disableInterrupts()
        table[currentIndex].state = .finished
        table[currentIndex].body = nil
        I.withScheduler { $0.remove(current) }
        if let joiner = table[currentIndex].joiner { makeReady(joiner) }
        switchAway()
        fatalError("a finished thread was resumed")
    }

    /// Waits until `handle`'s thread has finished, then frees its stack.
    public static func join(_ handle: ThreadHandle) {
        let wereEnabled = CPU.disableInterrupts()
        defer { CPU.restoreInterrupts(wereEnabled) }
        let index = handle.id.index
        guard table[index].generation == handle.generation else { return }      // already reaped
        if table[index].state != .finished {
            table[index].joiner = current
            block(reason: "join")
        }
        release(index)
    }

    static func release(_ index: Int) {
        guard table[index].state == .finished else { return }
        let base = table[index].stackBase
        _ = Paging.remap(page: base, newPage: { physicalPages.allocate(pages: 1) })
        physicalPages.free(base, pages: table[index].stackPages)
        table[index].state = .unused
    }

    /// Frees finished threads that nobody will join (their joiner field is empty).
    static func reapFinished() {
        for index in table.indices where table[index].state == .finished && table[index].joiner == nil
            && index != currentIndex {
            release(index)
        }
    }

    // MARK: Switching

    /// Gives the CPU to the next ready thread (if any) and comes back when this one is scheduled.
    public static func yield() {
        let wereEnabled = CPU.disableInterrupts()
        table[currentIndex].state = .ready
        I.withScheduler { $0.yielded(current) }
        switchAway()
        CPU.restoreInterrupts(wereEnabled)
    }

    /// Interrupts disabled; the running thread has already told the scheduler what it does.
    static func switchAway() {
        while true {
            if !I.Platform.ownsCPU { serviceWithoutInterrupts() }
            if let next = I.withScheduler({ $0.next() }) {
                let from = currentIndex, to = next.index
                table[to].state = .running
                if I.Scheduler.isPreemptive {
                    // Tickless: the slice starts now, at the switch, not at the next timer tick.
                    _ = I.withScheduler { $0.tick(running: next, now: Clock.now()) }
                }
                if to == from { return }
                table[to].switchesIn &+= 1
                contextSwitches &+= 1
                currentIndex = to
                _contextSwitch(savedStacks + from, savedStacks[to])
                return                                  // resumed: currentIndex is this thread again
            }
            idle()
        }
    }

    /// Without interrupts, every scheduling point does what the timer and device interrupts do
    /// elsewhere: expired sleepers and timers are woken, and — at most once a millisecond, since it is a
    /// VM exit — the platform is asked (without waiting) for device events. Otherwise a thread that
    /// only yields would keep sleepers asleep and frames unread for as long as it runs.
    static func serviceWithoutInterrupts() {
        let now = Clock.now()
        if now &- lastDevicePoll >= 1_000_000 {
            lastDevicePoll = now
            I.Platform.idle(timeoutNanoseconds: 0)
        }
        if let deadline = sleepers.nextDeadline, deadline <= now { timerInterrupt() }
    }

    /// Nothing is ready: wait for an interrupt (sti; hlt), or — on a platform without interrupts —
    /// let the platform wait for device events until the next sleeper's deadline, then do the timer
    /// interrupt's work (wake expired sleepers) by hand.
    static func idle() {
        if I.Platform.ownsCPU {
            CPU.waitForInterrupt()
            return
        }
        let now = Clock.now()
        let deadline = sleepers.nextDeadline ?? .max
        if deadline > now { I.Platform.idle(timeoutNanoseconds: deadline == .max ? .max : deadline - now) }
        lastDevicePoll = Clock.now()
        timerInterrupt()
    }

    /// Blocks the running thread until `wake` (interrupts disabled by the caller).
    /// Returns false when `deadline` (monotonic ns, 0 = none) passed first.
    @discardableResult
    static func block(reason: StaticString, deadline: UInt64 = 0) -> Bool {
        let index = currentIndex
        table[index].state = deadline == 0 ? .blocked : .sleeping
        table[index].waitReason = reason
        table[index].timedOut = false
        if deadline != 0 {
            table[index].wakeAt = deadline
            table[index].timer = sleepers.schedule(at: deadline, .thread(current))
            rearmTimer()
        }
        I.withScheduler { $0.remove(current) }
        switchAway()
        table[index].waitReason = ""
        table[index].wakeAt = 0
        return !table[index].timedOut
    }

    /// Makes a blocked or sleeping thread ready (interrupts disabled). Safe from interrupt handlers.
    static func makeReady(_ id: ThreadID) {
        let index = id.index
        guard table[index].state == .blocked || table[index].state == .sleeping else { return }
        if let timer = table[index].timer {
            _ = sleepers.cancel(timer)
            table[index].timer = nil
        }
        table[index].state = .ready
        I.withScheduler { $0.add(id, priority: table[index].priority) }
    }

    /// Sleeps for `nanoseconds`.
    public static func sleep(nanoseconds: UInt64) {
        let wereEnabled = CPU.disableInterrupts()
        block(reason: "sleep", deadline: Clock.now() &+ max(nanoseconds, 1))
        CPU.restoreInterrupts(wereEnabled)
    }

    // MARK: Timer and preemption

    public static func timerInterrupt() {
        Clock.noteTimerInterrupt()
        let now = Clock.now()
        var wokeThread = false
        while let expiry = sleepers.popExpired(now: now) {
            switch expiry.payload {
            case .thread(let id):
                table[id.index].timer = nil
                table[id.index].timedOut = true
                makeReady(id)
                wokeThread = true
            case .callback(let function, let context):
                function(context)                       // periodic timers were re-armed by the queue
            }
        }
        // Preempt when the slice is used up, or — with a preemptive scheduler — when a sleeper woke:
        // it should not wait for the rest of a busy thread's slice (wake-up preemption).
        if table[currentIndex].state == .running,
           I.withScheduler({ $0.tick(running: current, now: now) }) || (wokeThread && I.Scheduler.isPreemptive) {
            _requestPreempt()
        }
        rearmTimer()
    }

    /// Starts a timer that calls `function(context)` from the timer interrupt after `delay` ns, and
    /// then every `period` ns if `period` > 0. Returns its ID for `cancelTimer`.
    public static func startTimer(after delay: UInt64, period: UInt64 = 0, context: UnsafeMutableRawPointer? = nil,
                                  _ function: TimerCallback) -> TimerID {
        CPU.withInterruptsDisabled {
            let id = sleepers.schedule(at: Clock.now() &+ delay, period: period, .callback(function, context))
            rearmTimer()
            return id
        }
    }

    /// Stops a timer; false if it had already fired (one-shot) or was cancelled.
    @discardableResult
    public static func cancelTimer(_ id: TimerID) -> Bool {
        CPU.withInterruptsDisabled { sleepers.cancel(id) != nil }
    }

    /// Called by traps.S on the preempted thread's own stack, interrupts disabled. A thread in the
    /// middle of a console line keeps the CPU until its newline (the next timer tick preempts it), so
    /// lines from different threads do not interleave — for up to three ticks.
    public static func preempt() {
        guard table[currentIndex].state == .running else { return }
        // At most three ticks: a thread that left a line unfinished and went to sleep must not turn
        // preemption off for everyone.
        if consoleLineOpen && deferredPreemptions < 3 {
            deferredPreemptions += 1
            return
        }
        deferredPreemptions = 0
        table[currentIndex].state = .ready
        I.withScheduler { $0.yielded(current) }
        switchAway()
    }

    /// Arms the timer for the earliest sleeper and, when preemptive with others ready, the slice end.
    static func rearmTimer() {
        var deadline = sleepers.nextDeadline ?? .max
        let slice = I.withScheduler { $0.readyCount > 0 ? $0.timeSlice : 0 }
        if I.Scheduler.isPreemptive && slice > 0 { deadline = min(deadline, Clock.now() &+ slice) }
        if deadline != .max { Clock.armTimer(at: deadline) }
    }
}

/// When the scheduler last asked a platform without interrupts for device events (monotonic ns).
nonisolated(unsafe) var lastDevicePoll: UInt64 = 0
/// Preemptions deferred in a row because a console line was unfinished.
nonisolated(unsafe) var deferredPreemptions = 0

