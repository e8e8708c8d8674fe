// Tests of the preemptive scheduler: round-robin fairness within a level, strict priority between
// levels, aging (no starvation within the documented bound, boosts that end when the thread runs),
// slices (preemption only after a full slice and only for an eligible ready thread), blocking and waking,
// and a long random run of a simulated kernel that checks the wait bound of every ready thread.

import Testing
import SchedulerAPI
import SchedPreemptive

private let slice: UInt64 = 10_000_000
private let millisecond: UInt64 = 1_000_000
/// Ticks a preempted thread runs in the simulated kernel: the slice starts at the first tick after the
/// pick, so a 10 ms slice with a 1 ms tick spans 11 ticks.
private let ticksPerSlice = 11

/// A kernel that follows the scheduler contract: a 1 ms timer tick, preemption when `tick` says so, and
/// explicit yields and blocks.
private struct SimulatedKernel {
    var scheduler: PreemptiveScheduler
    var now: UInt64 = 0
    var running: ThreadID?
    /// Every thread `next()` returned, in order.
    var picks: [ThreadID] = []

    init(_ scheduler: PreemptiveScheduler = PreemptiveScheduler()) {
        self.scheduler = scheduler
    }

    mutating func add(_ thread: UInt32, _ priority: Priority) {
        scheduler.add(ThreadID(thread), priority: priority)
        if running == nil { pick() }
    }

    mutating func pick() {
        running = scheduler.next()
        if let thread = running { picks.append(thread) }
    }

    /// The running thread yields.
    mutating func yield() {
        if let thread = running { scheduler.yielded(thread) }
        pick()
    }

    /// The running thread blocks.
    mutating func block() {
        if let thread = running { scheduler.remove(thread) }
        pick()
    }

    /// One timer tick, 1 ms after the last; returns whether it preempted.
    @discardableResult
    mutating func tick() -> Bool {
        now += millisecond
        guard let thread = running, scheduler.tick(running: thread, now: now) else { return false }
        yield()
        return true
    }

    /// Who ran during each of `count` ticks.
    mutating func run(ticks count: Int) -> [ThreadID?] {
        var timeline: [ThreadID?] = []
        for _ in 0..<count {
            timeline.append(running)
            tick()
        }
        return timeline
    }
}

@Suite struct PreemptiveSchedulerTests {
    @Test func describesItselfAsPreemptiveWithATenMillisecondSlice() {
        let scheduler = PreemptiveScheduler()
        #expect(PreemptiveScheduler.name.description == "preemptive")
        #expect(PreemptiveScheduler.isPreemptive)
        #expect(scheduler.timeSlice == slice)
        #expect(scheduler.agingThreshold == 4)
        #expect(scheduler.readyCount == 0)
    }

    @Test func equalThreadsEachGetTheCPUWithinNPicks() {
        var scheduler = PreemptiveScheduler()
        let count = 9
        for number in 0..<count { scheduler.add(ThreadID(UInt32(number)), priority: .normal) }
        var order: [ThreadID] = []
        for _ in 0..<(count * 20) {
            let thread = scheduler.next()!
            order.append(thread)
            scheduler.yielded(thread)
        }
        for start in 0...(order.count - count) {
            #expect(Set(order[start..<(start + count)]).count == count)
        }
    }

    @Test func equalThreadsThatNeverYieldShareTheCPUSliceBySlice() {
        var kernel = SimulatedKernel()
        for number: UInt32 in 0..<4 { kernel.add(number, .low) }
        _ = kernel.run(ticks: 400)
        #expect(kernel.picks.count >= 36)
        for start in 0...(kernel.picks.count - 4) {
            #expect(Set(kernel.picks[start..<(start + 4)]).count == 4)
        }
    }

    @Test func higherPriorityIsAlwaysPickedFirst() {
        var scheduler = PreemptiveScheduler()
        scheduler.add(ThreadID(1), priority: .low)
        scheduler.add(ThreadID(2), priority: .normal)
        scheduler.add(ThreadID(3), priority: .high)
        scheduler.add(ThreadID(4), priority: .normal)
        #expect(scheduler.readyCount(at: .normal) == 2)
        #expect(scheduler.next() == ThreadID(3))
        scheduler.remove(ThreadID(3))
        #expect(scheduler.next() == ThreadID(2))
        scheduler.remove(ThreadID(2))
        #expect(scheduler.next() == ThreadID(4))
        scheduler.remove(ThreadID(4))
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.next() == nil)
    }

    @Test func strictPriorityHoldsUntilTheAgingBound() {
        var scheduler = PreemptiveScheduler()
        let bound = 2 * scheduler.agingThreshold         // passes from .low to .high
        scheduler.add(ThreadID(1), priority: .high)
        scheduler.add(ThreadID(2), priority: .low)
        var order: [ThreadID] = []
        for _ in 0..<(bound + 1) {
            let thread = scheduler.next()!
            order.append(thread)
            scheduler.yielded(thread)
        }
        #expect(order == Array(repeating: ThreadID(1), count: bound) + [ThreadID(2)])
        #expect(scheduler.promotions == 2)
    }

    @Test func withoutAgingALowPriorityThreadWaitsForever() {
        var scheduler = PreemptiveScheduler(timeSlice: slice, agingThreshold: 0)
        scheduler.add(ThreadID(1), priority: .high)
        scheduler.add(ThreadID(2), priority: .low)
        for _ in 0..<1_000 {
            let thread = scheduler.next()
            #expect(thread == ThreadID(1))
            scheduler.yielded(thread!)
        }
        #expect(scheduler.promotions == 0)
    }

    @Test func lowPriorityRunsWithinTheAgingBoundUnderContinuousHighLoad() throws {
        var kernel = SimulatedKernel()
        let threshold = kernel.scheduler.agingThreshold
        kernel.add(1, .high)                              // never yields
        kernel.add(2, .normal)
        kernel.add(3, .low)
        let timeline = kernel.run(ticks: 1_000)
        // Each waiting thread reaches the high queue within `threshold` passes per level, then gets the
        // next slice end. A slice lasts 11 ticks here: it starts at the first tick after the pick.
        let firstNormal = try #require(timeline.firstIndex(of: ThreadID(2)))
        let firstLow = try #require(timeline.firstIndex(of: ThreadID(3)))
        #expect(firstNormal <= 1 + (threshold + 1) * ticksPerSlice)
        #expect(firstLow <= 1 + (2 * threshold + 2) * ticksPerSlice)
        // Over a long run nobody starves and the high thread still gets most of the CPU.
        for thread: UInt32 in 1...3 {
            var longestWait = 0, wait = 0
            for running in timeline {
                wait = running == ThreadID(thread) ? 0 : wait + 1
                longestWait = max(longestWait, wait)
            }
            #expect(longestWait <= (2 * threshold + 3) * ticksPerSlice)
        }
        #expect(timeline.filter { $0 == ThreadID(1) }.count > timeline.count / 2)
    }

    @Test func lowPriorityRunsWithinTheBoundBehindSeveralHighThreads() throws {
        var kernel = SimulatedKernel()
        let threshold = kernel.scheduler.agingThreshold
        for number: UInt32 in 1...3 { kernel.add(number, .high) }
        kernel.add(9, .low)
        let timeline = kernel.run(ticks: 600)
        let firstLow = try #require(timeline.firstIndex(of: ThreadID(9)))
        #expect(firstLow <= 1 + (2 * threshold + 1 + 3) * ticksPerSlice)
    }

    @Test func aBoostLastsOnlyUntilTheThreadRuns() {
        var scheduler = PreemptiveScheduler(timeSlice: slice, agingThreshold: 2)
        scheduler.add(ThreadID(1), priority: .high)
        scheduler.add(ThreadID(2), priority: .low)
        for _ in 0..<2 { scheduler.yielded(scheduler.next()!) }
        #expect(scheduler.effectivePriority(of: ThreadID(2)) == .normal)
        #expect(scheduler.priority(of: ThreadID(2)) == .low)
        for _ in 0..<2 { scheduler.yielded(scheduler.next()!) }
        #expect(scheduler.effectivePriority(of: ThreadID(2)) == .high)
        #expect(scheduler.next() == ThreadID(2))
        #expect(scheduler.effectivePriority(of: ThreadID(2)) == nil)
        // Running, it competes with its base priority: the high thread preempts it after one slice.
        #expect(scheduler.tick(running: ThreadID(2), now: 0) == false)
        #expect(scheduler.tick(running: ThreadID(2), now: slice) == true)
        scheduler.yielded(ThreadID(2))
        #expect(scheduler.effectivePriority(of: ThreadID(2)) == .low)
        #expect(scheduler.next() == ThreadID(1))
    }

    @Test func preemptsOnlyAfterAFullSlice() {
        var scheduler = PreemptiveScheduler()
        scheduler.add(ThreadID(1), priority: .normal)
        scheduler.add(ThreadID(2), priority: .normal)
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.tick(running: ThreadID(1), now: 1_000) == false)          // starts the slice
        #expect(scheduler.tick(running: ThreadID(1), now: 1_000 + slice / 2) == false)
        #expect(scheduler.tick(running: ThreadID(1), now: 1_000 + slice - 1) == false)
        #expect(scheduler.tick(running: ThreadID(1), now: 1_000 + slice) == true)
        #expect(scheduler.preemptions == 1)
        scheduler.yielded(ThreadID(1))
        #expect(scheduler.next() == ThreadID(2))
    }

    @Test func theFirstTickAfterAPickStartsTheSlice() {
        var scheduler = PreemptiveScheduler()
        scheduler.add(ThreadID(1), priority: .normal)
        scheduler.add(ThreadID(2), priority: .normal)
        #expect(scheduler.tick(running: ThreadID(7), now: 0) == false)             // something else was running
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.tick(running: ThreadID(1), now: 5 * slice) == false)      // long after: still starts
        #expect(scheduler.tick(running: ThreadID(1), now: 6 * slice - 1) == false)
        #expect(scheduler.tick(running: ThreadID(1), now: 6 * slice) == true)
    }

    @Test func aThreadThatYieldedEarlyStartsAFreshSlice() {
        var scheduler = PreemptiveScheduler()
        scheduler.add(ThreadID(1), priority: .normal)
        scheduler.add(ThreadID(2), priority: .normal)
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.tick(running: ThreadID(1), now: 0) == false)
        #expect(scheduler.tick(running: ThreadID(1), now: slice - millisecond) == false)
        scheduler.yielded(ThreadID(1))
        #expect(scheduler.next() == ThreadID(2))
        scheduler.yielded(ThreadID(2))
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.tick(running: ThreadID(1), now: slice) == false)
        #expect(scheduler.tick(running: ThreadID(1), now: 2 * slice - 1) == false)
        #expect(scheduler.tick(running: ThreadID(1), now: 2 * slice) == true)
    }

    @Test func noPreemptionWithoutAnotherEligibleReadyThread() {
        var alone = PreemptiveScheduler()
        alone.add(ThreadID(1), priority: .low)
        #expect(alone.next() == ThreadID(1))
        for step in 0..<100 { #expect(alone.tick(running: ThreadID(1), now: UInt64(step) * slice) == false) }

        var strict = PreemptiveScheduler(timeSlice: slice, agingThreshold: 0)
        strict.add(ThreadID(1), priority: .high)
        strict.add(ThreadID(2), priority: .normal)
        strict.add(ThreadID(3), priority: .low)
        #expect(strict.next() == ThreadID(1))
        for step in 0..<100 { #expect(strict.tick(running: ThreadID(1), now: UInt64(step) * slice) == false) }
        #expect(strict.preemptions == 0)
    }

    @Test func aHigherPriorityThreadWokenMidSliceWaitsForTheSliceEnd() {
        var kernel = SimulatedKernel()
        kernel.add(1, .low)
        #expect(kernel.run(ticks: 3).allSatisfy { $0 == ThreadID(1) })
        kernel.add(2, .high)                              // woken at 3 ms
        #expect(kernel.running == ThreadID(1))
        let timeline = kernel.run(ticks: 12)
        #expect(timeline.prefix(8).allSatisfy { $0 == ThreadID(1) })
        #expect(timeline.firstIndex(of: ThreadID(2)) == 8)  // the slice started at the first tick, 1 ms
    }

    @Test func blockedThreadsAreNeverPicked() {
        var scheduler = PreemptiveScheduler()
        for number: UInt32 in 0..<6 {
            scheduler.add(ThreadID(number), priority: number % 2 == 0 ? .normal : .low)
        }
        scheduler.remove(ThreadID(2))                      // middle of .normal
        scheduler.remove(ThreadID(5))                      // tail of .low
        scheduler.remove(ThreadID(5))                      // again: ignored
        scheduler.remove(ThreadID(42))                     // never seen: ignored
        #expect(scheduler.readyCount == 4)
        #expect(!scheduler.isReady(ThreadID(2)))
        let running = scheduler.next()!
        #expect(running == ThreadID(0))
        scheduler.remove(running)                          // the running thread blocks
        #expect(scheduler.running == nil)
        var picked: [ThreadID] = []
        while let thread = scheduler.next() {
            picked.append(thread)
            scheduler.remove(thread)
        }
        #expect(picked == threadIDs([4, 1, 3]))
        #expect(scheduler.readyCount == 0)
    }

    @Test func aReAddedThreadJoinsTheTailOfItsNewLevel() {
        var scheduler = PreemptiveScheduler()
        scheduler.add(ThreadID(1), priority: .normal)
        scheduler.add(ThreadID(2), priority: .high)
        scheduler.add(ThreadID(3), priority: .high)
        #expect(scheduler.next() == ThreadID(2))
        scheduler.remove(ThreadID(2))                      // blocks
        scheduler.add(ThreadID(1), priority: .high)        // already ready: ignored
        #expect(scheduler.priority(of: ThreadID(1)) == .normal)
        scheduler.add(ThreadID(2), priority: .low)         // wakes with a lower priority
        #expect(scheduler.effectivePriority(of: ThreadID(2)) == .low)
        #expect(scheduler.next() == ThreadID(3))
        scheduler.add(ThreadID(3), priority: .normal)      // the running thread is given back, lowered
        #expect(scheduler.running == nil)
        #expect(scheduler.next() == ThreadID(1))
        scheduler.yielded(ThreadID(1))
        #expect(scheduler.next() == ThreadID(3))
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.next() == ThreadID(2))
    }

    @Test func randomKernelRunKeepsEveryReadyThreadWithinTheWaitBound() {
        // A ready thread waits through at most `threshold` passes and `threads - 1` picks of threads ahead
        // of it at each level it waits in (none of them passes at the top): 2N + 3(T - 1) events.
        let threshold = 3, threadCount = 12
        let bound = 2 * threshold + 3 * (threadCount - 1)
        var kernel = SimulatedKernel(PreemptiveScheduler(timeSlice: slice, agingThreshold: threshold,
                                                         capacity: threadCount))
        var generator = SplitMix64(seed: 99)
        var priorities: [Priority] = []
        for number in 0..<threadCount {
            priorities.append(Priority(level: Int(generator.next() % 3))!)
            kernel.add(UInt32(number), priorities[number])
        }
        var blocked = Set<ThreadID>()
        var waited = [Int](repeating: 0, count: threadCount)   // picks and slice renewals waited through
        var sliceStart: UInt64?                                 // the kernel's view of the running slice
        var longest = 0, blockedButReady = 0, blockedButRunning = 0, countMismatches = 0

        func readyThreads(_ kernel: SimulatedKernel) -> [Int] {
            (0..<threadCount).filter { kernel.scheduler.isReady(ThreadID(UInt32($0))) }
        }

        for _ in 0..<50_000 {
            let picksBefore = kernel.picks.count
            switch generator.next() % 20 {
            case 0:                                                    // the running thread blocks
                if let thread = kernel.running { blocked.insert(thread) }
                kernel.block()
            case 1:                                                    // a blocked thread wakes
                if let thread = blocked.randomElement(using: &generator) {
                    blocked.remove(thread)
                    waited[thread.index] = 0
                    kernel.add(thread.rawValue, priorities[thread.index])
                }
            case 2:
                kernel.yield()
            default:
                let preempted = kernel.tick()
                if !preempted && kernel.running != nil {
                    if let start = sliceStart {
                        if kernel.now - start >= slice {                // a renewed slice
                            sliceStart = kernel.now
                            for index in readyThreads(kernel) { waited[index] += 1 }
                        }
                    } else {
                        sliceStart = kernel.now
                    }
                }
            }
            if kernel.picks.count > picksBefore, let running = kernel.running {
                sliceStart = nil
                waited[running.index] = 0
                for index in readyThreads(kernel) { waited[index] += 1 }
            }
            if kernel.running == nil { sliceStart = nil }
            let ready = readyThreads(kernel)
            for index in ready { longest = max(longest, waited[index]) }
            if ready.contains(where: { blocked.contains(ThreadID(UInt32($0))) }) { blockedButReady += 1 }
            if let running = kernel.running, blocked.contains(running) { blockedButRunning += 1 }
            if ready.count != kernel.scheduler.readyCount
                || ready.count != threadCount - blocked.count - (kernel.running == nil ? 0 : 1) {
                countMismatches += 1
            }
        }
        #expect(longest <= bound)
        #expect(longest > threshold)
        #expect(blockedButReady == 0)
        #expect(blockedButRunning == 0)
        #expect(countMismatches == 0)
        #expect(kernel.scheduler.promotions > 0)
    }
}
