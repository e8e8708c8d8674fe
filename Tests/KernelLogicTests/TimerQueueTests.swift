// Tests of the timer queue: deadline order and FIFO among equal deadlines, handles (cancellation, stale
// handles, slot reuse), periodic timers (re-arm, missed periods, cancellation from the pop loop),
// deadlines saturating at UInt64.max, large counts, and a long random run against a simple model driven
// by a fake clock.

import Testing
import TimerQueue

@Suite struct TimerQueueTests {
    @Test func timersExpireInDeadlineOrder() {
        var queue = TimerQueue<Int>()
        let deadlines: [UInt64] = [50, 10, 40, 30, 20, 60, 5]
        for deadline in deadlines { queue.schedule(at: deadline, Int(deadline)) }
        #expect(queue.count == 7)
        #expect(queue.nextDeadline == 5)
        var fired: [Int] = []
        #expect(queue.expire(now: 100) { _, payload in fired.append(payload) } == 7)
        #expect(fired == [5, 10, 20, 30, 40, 50, 60])
        #expect(queue.isEmpty)
        #expect(queue.nextDeadline == nil)
    }

    @Test func onlyTimersAtOrBeforeNowExpire() {
        var queue = TimerQueue<Int>()
        queue.schedule(at: 100, 1)
        queue.schedule(at: 101, 2)
        #expect(queue.expire(now: 99).isEmpty)
        #expect(queue.expire(now: 100).map(\.payload) == [1])
        #expect(queue.nextDeadline == 101)
        #expect(queue.popExpired(now: 100) == nil)
        #expect(queue.popExpired(now: 101)?.payload == 2)
    }

    @Test func equalDeadlinesExpireInSchedulingOrder() {
        var queue = TimerQueue<Int>()
        for payload in 0..<50 { queue.schedule(at: payload % 2 == 0 ? 7 : 3, payload) }
        let fired = queue.expire(now: 7).map(\.payload)
        #expect(fired == Array(stride(from: 1, to: 50, by: 2)) + Array(stride(from: 0, to: 50, by: 2)))
    }

    @Test func scheduleAfterAddsTheDelayToNow() {
        var queue = TimerQueue<Int>()
        let id = queue.schedule(after: 250, now: 1_000, 1)
        #expect(queue.deadline(of: id) == 1_250)
        #expect(queue.expire(now: 1_249).isEmpty)
        #expect(queue.expire(now: 1_250).count == 1)
    }

    @Test func cancelRemovesTheTimerAndReturnsItsPayload() {
        var queue = TimerQueue<Int>()
        let first = queue.schedule(at: 10, 1)
        let second = queue.schedule(at: 20, 2)
        let third = queue.schedule(at: 30, 3)
        #expect(queue.cancel(first) == 1)
        #expect(queue.nextDeadline == 20)
        #expect(!queue.contains(first))
        #expect(queue.contains(second) && queue.contains(third))
        #expect(queue.cancel(third) == 3)
        #expect(queue.expire(now: 100).map(\.payload) == [2])
    }

    @Test func staleHandlesCancelNothing() {
        var queue = TimerQueue<Int>()
        let fired = queue.schedule(at: 10, 1)
        let cancelled = queue.schedule(at: 20, 2)
        #expect(queue.expire(now: 10).count == 1)
        #expect(queue.cancel(fired) == nil)             // a one-shot timer that fired
        #expect(queue.cancel(cancelled) == 2)
        #expect(queue.cancel(cancelled) == nil)         // cancelled twice
        let reused = queue.schedule(at: 30, 3)           // takes a freed slot
        let other = queue.schedule(at: 40, 4)
        #expect(reused.index == cancelled.index || reused.index == fired.index)
        #expect(queue.cancel(fired) == nil)
        #expect(queue.cancel(cancelled) == nil)
        #expect(queue.deadline(of: fired) == nil)
        #expect(queue.count == 2)
        #expect(queue.contains(reused) && queue.contains(other))
        #expect(queue.expire(now: 40).map(\.payload) == [3, 4])
    }

    @Test func periodicTimerRearmsAtDeadlinePlusPeriodUnderTheSameHandle() {
        var queue = TimerQueue<Int>()
        let id = queue.schedule(at: 100, period: 50, 9)
        for expected in stride(from: UInt64(100), through: 400, by: 50) {
            let expiry = queue.popExpired(now: expected)
            #expect(expiry?.id == id)
            #expect(expiry?.deadline == expected)
            #expect(expiry?.nextDeadline == expected + 50)
            #expect(expiry?.missedPeriods == 0)
            #expect(queue.popExpired(now: expected) == nil)   // at most once per `now`
        }
        #expect(queue.deadline(of: id) == 450)
        #expect(queue.totalMissedPeriods == 0)
    }

    @Test func periodicTimerSkipsPeriodsTheClockJumpedPastAndCountsThem() {
        var queue = TimerQueue<Int>()
        let id = queue.schedule(at: 100, period: 10, 1)
        let late = queue.popExpired(now: 135)            // due at 100, 110, 120, 130
        #expect(late?.deadline == 100)
        #expect(late?.missedPeriods == 3)
        #expect(late?.nextDeadline == 140)
        #expect(queue.deadline(of: id) == 140)
        let exact = queue.popExpired(now: 160)           // due at 140, 150, 160: next is 170, not 160
        #expect(exact?.missedPeriods == 2)
        #expect(exact?.nextDeadline == 170)
        #expect(queue.totalMissedPeriods == 5)
    }

    @Test func cancellingAPeriodicTimerFromItsHandlerStopsIt() {
        var queue = TimerQueue<String>()
        let periodic = queue.schedule(at: 10, period: 10, "tick")
        queue.schedule(at: 25, "once")
        var fired: [String] = []
        var now: UInt64 = 0
        while now < 100 {
            now += 5
            while let expiry = queue.popExpired(now: now) {
                fired.append(expiry.payload)
                if expiry.payload == "tick" && expiry.deadline == 30 {
                    #expect(queue.cancel(expiry.id) == "tick")
                }
            }
        }
        #expect(fired == ["tick", "tick", "once", "tick"])
        #expect(!queue.contains(periodic))
        #expect(queue.isEmpty)
    }

    @Test func rearmedPeriodicTimerGoesBehindTimersAlreadyWaitingForItsDeadline() {
        var queue = TimerQueue<Int>()
        queue.schedule(at: 10, period: 10, 1)
        queue.schedule(at: 20, 2)
        #expect(queue.expire(now: 10).map(\.payload) == [1])
        queue.schedule(at: 20, 3)
        #expect(queue.expire(now: 20).map(\.payload) == [2, 1, 3])
    }

    @Test func deadlinesSaturateAtUInt64Max() {
        var queue = TimerQueue<Int>()
        let far = queue.schedule(after: UInt64.max - 5, now: 10, 1)
        #expect(queue.deadline(of: far) == UInt64.max)
        let exact = queue.schedule(after: 5, now: UInt64.max - 5, 2)
        #expect(queue.deadline(of: exact) == UInt64.max)
        #expect(queue.expire(now: UInt64.max - 1).isEmpty)
        #expect(queue.expire(now: UInt64.max).map(\.payload) == [1, 2])
    }

    @Test func periodicTimerNearUInt64MaxParksThereThenEnds() {
        var queue = TimerQueue<Int>()
        let id = queue.schedule(at: UInt64.max - 15, period: 10, 1)
        let first = queue.popExpired(now: UInt64.max - 15)
        #expect(first?.nextDeadline == UInt64.max - 5)
        let second = queue.popExpired(now: UInt64.max - 5)
        #expect(second?.nextDeadline == UInt64.max)       // + 10 would overflow: saturated
        #expect(queue.deadline(of: id) == UInt64.max)
        let last = queue.popExpired(now: UInt64.max)
        #expect(last?.id == id)
        #expect(last?.nextDeadline == nil)                 // no future after UInt64.max
        #expect(!queue.contains(id))
        #expect(queue.popExpired(now: UInt64.max) == nil)

        let huge = queue.schedule(at: 0, period: UInt64.max, 2)   // deadline + period is UInt64.max
        #expect(queue.popExpired(now: 1)?.nextDeadline == UInt64.max)
        let jumped = queue.popExpired(now: UInt64.max)
        #expect(jumped?.id == huge)
        #expect(jumped?.nextDeadline == nil)

        queue.schedule(at: 0, period: 1, 3)                 // periods from 0 to UInt64.max overflow a count
        let overflowing = queue.popExpired(now: UInt64.max)
        #expect(overflowing?.missedPeriods == UInt64.max)
        #expect(overflowing?.nextDeadline == nil)
        #expect(queue.isEmpty)
    }

    @Test func largeCountsStayOrderedAndReuseSlots() {
        var queue = TimerQueue<UInt32>(capacity: 20_000)
        var generator = SplitMix64(seed: 3)
        var ids: [TimerID] = []
        for payload in 0..<20_000 {
            ids.append(queue.schedule(at: generator.next() % 1_000_000, UInt32(payload)))
        }
        for index in stride(from: 0, to: ids.count, by: 3) { #expect(queue.cancel(ids[index]) != nil) }
        #expect(queue.count == 20_000 - 6_667)
        var previous: (UInt64, UInt32) = (0, 0)
        var fired = 0
        while let expiry = queue.popExpired(now: UInt64.max) {
            #expect(expiry.deadline >= previous.0)
            if expiry.deadline == previous.0 && fired > 0 { #expect(expiry.payload > previous.1) }
            previous = (expiry.deadline, expiry.payload)
            fired += 1
        }
        #expect(fired == 20_000 - 6_667)
        for payload in 0..<20_000 {
            let id = queue.schedule(at: UInt64(payload), UInt32(payload))
            #expect(id.index < 20_000)                       // slots are reused, none added
        }
        #expect(queue.expire(now: 19_999) { _, _ in } == 20_000)
    }

    @Test func randomOperationsMatchASimpleModel() {
        struct ModelTimer {
            var id: TimerID
            var deadline: UInt64
            var sequence: Int
            var period: UInt64
            var payload: Int
        }
        var queue = TimerQueue<Int>()
        var model: [ModelTimer] = []
        var stale: [TimerID] = []
        var generator = SplitMix64(seed: 42)
        var now: UInt64 = 1_000
        var sequence = 0
        var payload = 0
        var totalMissed: UInt64 = 0

        for _ in 0..<20_000 {
            switch generator.next() % 10 {
            case 0...3:
                let delay = generator.next() % 500
                let period = generator.next() % 4 == 0 ? 1 + generator.next() % 200 : 0
                payload += 1
                let id = queue.schedule(after: delay, now: now, period: period, payload)
                model.append(ModelTimer(id: id, deadline: now + delay, sequence: sequence, period: period,
                                        payload: payload))
                sequence += 1
            case 4, 5:
                if !model.isEmpty, generator.next() % 4 != 0 {
                    let index = Int(generator.next() % UInt64(model.count))
                    let timer = model.remove(at: index)
                    #expect(queue.cancel(timer.id) == timer.payload)
                    stale.append(timer.id)
                } else if let id = stale.randomElement(using: &generator) {
                    #expect(queue.cancel(id) == nil)
                }
            default:
                now += generator.next() % 300
                var expected: [(payload: Int, deadline: UInt64, missed: UInt64)] = []
                // Each timer fires at most once per `now`, so the firings are the due timers in order.
                let due = model.indices.filter { model[$0].deadline <= now }.sorted {
                    (model[$0].deadline, model[$0].sequence) < (model[$1].deadline, model[$1].sequence)
                }
                for index in due {
                    if model[index].period == 0 {
                        expected.append((model[index].payload, model[index].deadline, 0))
                        stale.append(model[index].id)
                        continue
                    }
                    var next = model[index].deadline + model[index].period
                    var missed: UInt64 = 0
                    while next <= now {
                        next += model[index].period
                        missed += 1
                    }
                    expected.append((model[index].payload, model[index].deadline, missed))
                    totalMissed += missed
                    model[index].deadline = next
                    model[index].sequence = sequence
                    sequence += 1
                }
                model.removeAll { $0.period == 0 && $0.deadline <= now }
                let fired = queue.expire(now: now)
                #expect(fired.map(\.payload) == expected.map(\.payload))
                #expect(fired.map(\.deadline) == expected.map(\.deadline))
                #expect(fired.map(\.missedPeriods) == expected.map(\.missed))
                #expect(queue.totalMissedPeriods == totalMissed)
            }
            #expect(queue.count == model.count)
            #expect(queue.nextDeadline == model.map(\.deadline).min())
        }
        for timer in model { #expect(queue.deadline(of: timer.id) == timer.deadline) }
    }
}
