// Timers ordered by deadline: a binary min-heap plus a slot table that turns handles into heap positions.
//
// Time is injected. The queue never reads a clock: deadlines and `now` are monotonic nanoseconds from
// whatever clock the caller uses, compared as plain UInt64 (no wrap-around arithmetic; a 64-bit
// nanosecond clock lasts 584 years). Deadlines that would overflow saturate at UInt64.max instead, and a
// timer at UInt64.max is an ordinary timer that fires only when `now` reaches UInt64.max.
//
//     heap    entries (deadline, sequence, slot), smallest (deadline, sequence) first. The sequence is a
//             counter taken each time a timer is armed, so timers with equal deadlines fire in the
//             order they were armed (FIFO); a re-armed periodic timer goes behind the timers already
//             waiting for its new deadline.
//     slots   one per live timer, reused through a free list: the payload, the period, a generation
//             and the timer's heap position (kept up to date by every heap move), so that `cancel` is
//             O(log n) without searching. A free slot's link is the next free slot instead.
//     TimerID (slot index, generation). Freeing a slot bumps its generation, so the handle of a timer
//             that fired (one-shot), was cancelled, or whose slot was reused matches nothing: a stale
//             handle cancels nothing. Generations are 32 bits; a handle kept across 2^32 reuses of one
//             slot could alias, which the kernel never does.
//
// Expiry. `popExpired(now:)` takes the earliest timer whose deadline is at or before `now`. A one-shot
// timer is removed and its slot freed. A periodic timer (period > 0) stays live under the same handle and
// is re-armed at deadline + period; if the clock jumped past several periods it is re-armed at the first
// deadline + k * period strictly after `now` and the k - 1 skipped firings are reported as missed (a
// periodic timer fires at most once per `now`, so expiring never loops). When that next deadline would
// overflow, it saturates at UInt64.max; when even that is not after `now` (now == UInt64.max) there is no
// future left and the timer ends like a one-shot timer.
//
// Cancelling from a handler: the callback and array forms of `expire` hold the queue while they run, so a
// handler that must cancel (or schedule) uses the pop loop, `while let fired = queue.popExpired(now:)`,
// where the queue is free between firings; cancelling the periodic timer just popped stops it for good.
//
// Cost: schedule, cancel and each expiry are O(log n); nextDeadline, contains and deadline(of:) O(1).
// The two arrays only grow when the number of live timers exceeds every earlier peak, so after warm-up
// (or `reserveCapacity`) nothing allocates, except `expire(now:) -> [Expiry]`, which builds its result.

/// The handle of a scheduled timer. It stays valid while the timer is live (for a periodic timer, across
/// its firings) and matches nothing afterwards.
public struct TimerID: Hashable {
    /// The timer's slot in its queue.
    public let index: UInt32
    /// How many times that slot had been freed when the timer was scheduled.
    public let generation: UInt32

    init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }
}

public struct TimerQueue<Payload> {
    /// One firing, as `popExpired` and `expire(now:)` report it.
    public struct Expiry {
        /// The timer's handle; still live when `nextDeadline` is not nil.
        public let id: TimerID
        public let payload: Payload
        /// The deadline that was reached (for a periodic timer, the firing that is reported).
        public let deadline: UInt64
        /// Periods that passed unfired because the clock jumped past them (0 for one-shot timers).
        public let missedPeriods: UInt64
        /// The deadline a periodic timer was re-armed at, or nil when the timer ended.
        public let nextDeadline: UInt64?
    }

    struct Entry {
        var deadline: UInt64
        var sequence: UInt64
        var slot: UInt32
    }

    struct Slot {
        var payload: Payload?
        var period: UInt64
        var generation: UInt32
        /// The heap position while live, the next free slot while free.
        var link: UInt32
    }

    static var none: UInt32 { UInt32.max }

    var heap: [Entry] = []
    var slots: [Slot] = []
    var freeSlot = TimerQueue.none
    var sequence: UInt64 = 0

    /// Periods skipped by all periodic timers since the queue was made.
    public private(set) var totalMissedPeriods: UInt64 = 0

    public init() {}

    /// A queue with room for `capacity` live timers before it allocates.
    public init(capacity: Int) {
        reserveCapacity(capacity)
    }

    public mutating func reserveCapacity(_ capacity: Int) {
        heap.reserveCapacity(capacity)
        slots.reserveCapacity(capacity)
    }

    /// Live timers.
    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }

    /// The earliest deadline of a live timer, or nil when there is none: when to program the clock event.
    public var nextDeadline: UInt64? { heap.first?.deadline }

    /// Whether `id` names a live timer.
    public func contains(_ id: TimerID) -> Bool { liveSlot(id) != nil }

    /// The deadline a live timer waits for, or nil for a stale handle.
    public func deadline(of id: TimerID) -> UInt64? {
        guard let slot = liveSlot(id) else { return nil }
        return heap[Int(slots[slot].link)].deadline
    }

    /// Arms a timer for `deadline` (ns). `period` 0 makes a one-shot timer, anything else a periodic
    /// timer that fires at deadline, deadline + period, ... until cancelled. A deadline at or before the
    /// next `now` given to `expire` fires then.
    @discardableResult
    public mutating func schedule(at deadline: UInt64, period: UInt64 = 0, _ payload: Payload) -> TimerID {
        let index: Int
        if freeSlot != Self.none {
            index = Int(freeSlot)
            freeSlot = slots[index].link
            slots[index].payload = payload
            slots[index].period = period
        } else {
            precondition(slots.count < Int(Self.none), "timers: too many live timers")
            index = slots.count
            slots.append(Slot(payload: payload, period: period, generation: 0, link: 0))
        }
        heap.append(Entry(deadline: deadline, sequence: takeSequence(), slot: UInt32(index)))
        slots[index].link = UInt32(heap.count - 1)
        siftUp(heap.count - 1)
        return TimerID(index: UInt32(index), generation: slots[index].generation)
    }

    /// Arms a timer `delay` ns after `now`; the deadline saturates at UInt64.max.
    @discardableResult
    public mutating func schedule(after delay: UInt64, now: UInt64, period: UInt64 = 0,
                                  _ payload: Payload) -> TimerID {
        let (deadline, overflow) = now.addingReportingOverflow(delay)
        return schedule(at: overflow ? UInt64.max : deadline, period: period, payload)
    }

    /// Disarms a live timer and returns its payload; a stale handle changes nothing and returns nil.
    @discardableResult
    public mutating func cancel(_ id: TimerID) -> Payload? {
        guard let slot = liveSlot(id) else { return nil }
        remove(at: Int(slots[slot].link))
        return release(slot)
    }

    /// Takes the earliest timer due at `now` (deadline <= now), re-arming it if periodic; nil when no
    /// timer is due. Between calls the queue may be changed freely (see the design comment).
    public mutating func popExpired(now: UInt64) -> Expiry? {
        guard let top = heap.first, top.deadline <= now else { return nil }
        let slot = Int(top.slot)
        let id = TimerID(index: top.slot, generation: slots[slot].generation)
        let period = slots[slot].period
        if period > 0 {
            let missed = (now - top.deadline) / period
            let next = Self.rearmDeadline(top.deadline, period: period, missed: missed)
            if next > now {
                totalMissedPeriods &+= missed
                heap[0].deadline = next
                heap[0].sequence = takeSequence()
                siftDown(0)
                return Expiry(id: id, payload: slots[slot].payload.unsafelyUnwrapped, deadline: top.deadline,
                              missedPeriods: missed, nextDeadline: next)
            }
            totalMissedPeriods &+= missed
            remove(at: 0)
            return Expiry(id: id, payload: release(slot), deadline: top.deadline, missedPeriods: missed,
                          nextDeadline: nil)
        }
        remove(at: 0)
        return Expiry(id: id, payload: release(slot), deadline: top.deadline, missedPeriods: 0, nextDeadline: nil)
    }

    /// Fires every timer due at `now` in deadline order (FIFO among equal deadlines), each at most once,
    /// and returns how many fired. `body` cannot reach the queue; see `popExpired` for handlers that must.
    @discardableResult
    public mutating func expire(now: UInt64, _ body: (TimerID, Payload) -> Void) -> Int {
        var fired = 0
        while let expiry = popExpired(now: now) {
            body(expiry.id, expiry.payload)
            fired += 1
        }
        return fired
    }

    /// The firings due at `now`, in order. Allocates the result; the kernel's hot path uses the pop loop.
    public mutating func expire(now: UInt64) -> [Expiry] {
        var fired: [Expiry] = []
        while let expiry = popExpired(now: now) { fired.append(expiry) }
        return fired
    }

    // MARK: - Internals

    /// deadline + (missed + 1) * period, saturated at UInt64.max.
    static func rearmDeadline(_ deadline: UInt64, period: UInt64, missed: UInt64) -> UInt64 {
        let (steps, stepsOverflow) = missed.addingReportingOverflow(1)
        let (distance, distanceOverflow) = steps.multipliedReportingOverflow(by: period)
        let (next, nextOverflow) = deadline.addingReportingOverflow(distance)
        return stepsOverflow || distanceOverflow || nextOverflow ? UInt64.max : next
    }

    mutating func takeSequence() -> UInt64 {
        defer { sequence &+= 1 }
        return sequence
    }

    func liveSlot(_ id: TimerID) -> Int? {
        let index = Int(id.index)
        guard index < slots.count, slots[index].generation == id.generation, slots[index].payload != nil else {
            return nil
        }
        return index
    }

    /// Frees a slot whose heap entry is already gone and returns its payload.
    mutating func release(_ index: Int) -> Payload {
        let payload = slots[index].payload.unsafelyUnwrapped
        slots[index].payload = nil
        slots[index].generation &+= 1
        slots[index].link = freeSlot
        freeSlot = UInt32(index)
        return payload
    }

    static func before(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence)
    }

    /// Removes the heap entry at `position`, keeping the heap ordered.
    mutating func remove(at position: Int) {
        let last = heap.count - 1
        if position != last {
            heap[position] = heap[last]
            slots[Int(heap[position].slot)].link = UInt32(position)
            heap.removeLast()
            if position > 0 && Self.before(heap[position], heap[(position - 1) / 2]) {
                siftUp(position)
            } else {
                siftDown(position)
            }
        } else {
            heap.removeLast()
        }
    }

    mutating func siftUp(_ start: Int) {
        var position = start
        let entry = heap[position]
        while position > 0 {
            let parent = (position - 1) / 2
            guard Self.before(entry, heap[parent]) else { break }
            move(from: parent, to: position)
            position = parent
        }
        place(entry, at: position)
    }

    mutating func siftDown(_ start: Int) {
        var position = start
        let entry = heap[position]
        let count = heap.count
        while true {
            var child = 2 * position + 1
            guard child < count else { break }
            if child + 1 < count && Self.before(heap[child + 1], heap[child]) { child += 1 }
            guard Self.before(heap[child], entry) else { break }
            move(from: child, to: position)
            position = child
        }
        place(entry, at: position)
    }

    mutating func move(from source: Int, to destination: Int) {
        heap[destination] = heap[source]
        slots[Int(heap[destination].slot)].link = UInt32(destination)
    }

    mutating func place(_ entry: Entry, at position: Int) {
        heap[position] = entry
        slots[Int(entry.slot)].link = UInt32(position)
    }
}
