// Tests of the cooperative scheduler: FIFO round-robin, priorities ignored, never preempting, the
// contract for add/remove/yielded of ready and running threads, and a random run against a plain queue.

import Testing
import SchedulerAPI
import SchedCooperative

/// Thread numbers, for brevity.
func threadIDs(_ numbers: [UInt32]) -> [ThreadID] { numbers.map(ThreadID.init) }

@Suite struct CooperativeSchedulerTests {
    @Test func describesItselfAsCooperative() {
        let scheduler = CooperativeScheduler()
        #expect(CooperativeScheduler.name.description == "cooperative")
        #expect(!CooperativeScheduler.isPreemptive)
        #expect(scheduler.timeSlice == 0)
        #expect(scheduler.readyCount == 0)
    }

    @Test func anEmptySchedulerHasNothingToRun() {
        var scheduler = CooperativeScheduler()
        #expect(scheduler.next() == nil)
        #expect(scheduler.running == nil)
    }

    @Test func threadsRunInTheOrderTheyBecameRunnable() {
        var scheduler = CooperativeScheduler()
        for number: UInt32 in [3, 1, 2] { scheduler.add(ThreadID(number), priority: .normal) }
        #expect(scheduler.readyCount == 3)
        #expect(scheduler.readyThreads == threadIDs([3, 1, 2]))
        #expect(scheduler.next() == ThreadID(3))
        #expect(scheduler.running == ThreadID(3))
        #expect(scheduler.readyCount == 2)
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.next() == ThreadID(2))
        #expect(scheduler.next() == nil)
    }

    @Test func yieldedThreadGoesBehindEveryReadyThread() {
        var scheduler = CooperativeScheduler()
        for number: UInt32 in 0..<3 { scheduler.add(ThreadID(number), priority: .normal) }
        var order: [ThreadID] = []
        for _ in 0..<9 {
            let thread = scheduler.next()!
            order.append(thread)
            scheduler.yielded(thread)
        }
        #expect(order == threadIDs([0, 1, 2, 0, 1, 2, 0, 1, 2]))
    }

    @Test func aLoneThreadThatYieldsRunsAgain() {
        var scheduler = CooperativeScheduler()
        scheduler.add(ThreadID(5), priority: .low)
        #expect(scheduler.next() == ThreadID(5))
        scheduler.yielded(ThreadID(5))
        #expect(scheduler.next() == ThreadID(5))
    }

    @Test func everyOneOfNYieldingThreadsRunsWithinNPicks() {
        var scheduler = CooperativeScheduler()
        let count = 17
        for number in 0..<count { scheduler.add(ThreadID(UInt32(number)), priority: .normal) }
        for _ in 0..<10 {
            var seen = Set<ThreadID>()
            for _ in 0..<count {
                let thread = scheduler.next()!
                seen.insert(thread)
                scheduler.yielded(thread)
            }
            #expect(seen.count == count)
        }
    }

    @Test func prioritiesAreIgnored() {
        var scheduler = CooperativeScheduler()
        scheduler.add(ThreadID(1), priority: .low)
        scheduler.add(ThreadID(2), priority: .normal)
        scheduler.add(ThreadID(3), priority: .high)
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.next() == ThreadID(2))
        #expect(scheduler.next() == ThreadID(3))
    }

    @Test func tickNeverPreempts() {
        var scheduler = CooperativeScheduler()
        scheduler.add(ThreadID(1), priority: .low)
        scheduler.add(ThreadID(2), priority: .high)
        let running = scheduler.next()!
        for now in stride(from: UInt64(0), to: 10_000_000_000, by: 1_000_000) {
            #expect(scheduler.tick(running: running, now: now) == false)
        }
        #expect(scheduler.readyCount == 1)
    }

    @Test func removedReadyThreadIsNeverPicked() {
        var scheduler = CooperativeScheduler()
        for number: UInt32 in 0..<4 { scheduler.add(ThreadID(number), priority: .normal) }
        scheduler.remove(ThreadID(2))      // middle
        scheduler.remove(ThreadID(0))      // head
        scheduler.remove(ThreadID(3))      // tail
        scheduler.remove(ThreadID(3))      // again: ignored
        scheduler.remove(ThreadID(99))     // never seen: ignored
        #expect(scheduler.readyCount == 1)
        #expect(!scheduler.isReady(ThreadID(2)))
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.next() == nil)
    }

    @Test func blockedRunningThreadIsForgottenUntilReAdded() {
        var scheduler = CooperativeScheduler()
        scheduler.add(ThreadID(1), priority: .normal)
        scheduler.add(ThreadID(2), priority: .normal)
        #expect(scheduler.next() == ThreadID(1))
        scheduler.remove(ThreadID(1))      // blocks
        #expect(scheduler.running == nil)
        #expect(scheduler.next() == ThreadID(2))
        scheduler.add(ThreadID(1), priority: .normal)   // woken
        scheduler.yielded(ThreadID(2))
        #expect(scheduler.next() == ThreadID(1))
        #expect(scheduler.next() == ThreadID(2))
    }

    @Test func addingAReadyThreadAgainKeepsItsPlace() {
        var scheduler = CooperativeScheduler()
        scheduler.add(ThreadID(1), priority: .normal)
        scheduler.add(ThreadID(2), priority: .normal)
        scheduler.add(ThreadID(1), priority: .high)
        scheduler.yielded(ThreadID(1))
        #expect(scheduler.readyCount == 2)
        #expect(scheduler.readyThreads == threadIDs([1, 2]))
    }

    @Test func addingTheRunningThreadGivesItBack() {
        var scheduler = CooperativeScheduler()
        scheduler.add(ThreadID(1), priority: .normal)
        scheduler.add(ThreadID(2), priority: .normal)
        #expect(scheduler.next() == ThreadID(1))
        scheduler.add(ThreadID(1), priority: .high)
        #expect(scheduler.running == nil)
        #expect(scheduler.readyThreads == threadIDs([2, 1]))
    }

    @Test func randomOperationsMatchAPlainQueue() {
        var scheduler = CooperativeScheduler(capacity: 64)
        var model: [ThreadID] = []
        var running: ThreadID?
        var generator = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let thread = ThreadID(UInt32(generator.next() % 64))
            switch generator.next() % 5 {
            case 0:
                scheduler.add(thread, priority: .normal)
                if !model.contains(thread) { model.append(thread) }
                if running == thread { running = nil }
            case 1:
                scheduler.remove(thread)
                model.removeAll { $0 == thread }
                if running == thread { running = nil }
            case 2:
                if let current = running {
                    scheduler.yielded(current)
                    model.append(current)
                }
                running = model.isEmpty ? nil : model.removeFirst()
                #expect(scheduler.next() == running)
            case 3:
                if let current = running { scheduler.remove(current) }
                running = model.isEmpty ? nil : model.removeFirst()
                #expect(scheduler.next() == running)
            default:
                if let current = running { #expect(scheduler.tick(running: current, now: generator.next()) == false) }
            }
            #expect(scheduler.readyThreads == model)
            #expect(scheduler.readyCount == model.count)
            #expect(scheduler.running == running)
        }
    }
}
