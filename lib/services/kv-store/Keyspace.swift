// The keyspace: every key with its value, expiry and last access, laid out for the three ways it is walked.
//
//   - `index` maps a key to its slot: lookups are one dictionary probe;
//   - `slots` holds the entries. A key keeps its slot for as long as it exists (freed slots are reused
//     by new keys), so SCAN's cursor is simply the next slot number: a key present for a whole scan is
//     returned exactly once, whatever is added or deleted meanwhile, and the order is stable. KEYS and
//     SCAN list keys in slot order (Redis lists them in hash order; neither promises an order);
//   - `sampled` lists the occupied slots densely, and `volatile` the slots of keys with an expiry, so that
//     eviction and the active expiry cycle pick uniformly random keys in O(1). Each entry remembers its
//     position in both, and removal moves the last element into the hole.
//
// Expiry times and access times are milliseconds on the caller's clock (see KVStore.swift). A key whose
// expiry time is T exists up to and including T and is gone after it (Redis: expired when now > T).
// Deleting expired keys is the store's job (lazily on access, actively in cycles); the keyspace only
// answers whether a key is past its time.
//
// Memory: `memory` is the estimate of everything here (Memory.swift). Containers change their own share
// in place; whoever changes one reports the difference with `account(_:)`.

struct Entry {
    var key: [UInt8]
    var value: Value
    /// When the key expires; 0 when it does not.
    var expiresAt: Int64 = 0
    var lastAccess: Int64
    /// Positions in `Keyspace.sampled` and (with an expiry) `Keyspace.volatile`.
    var sampleIndex: Int
    var volatileIndex = -1
}

struct Keyspace {
    private var index: [Key: Int] = [:]
    private(set) var slots: [Entry?] = []
    private var freeSlots: [Int] = []
    private(set) var sampled: [Int] = []
    private(set) var volatile: [Int] = []
    private(set) var memory = 0

    var count: Int { index.count }

    func slot(of key: ArraySlice<UInt8>) -> Int? { index[Key(key)] }

    /// The entry in an occupied slot.
    subscript(slot: Int) -> Entry { slots[slot]! }

    func isExpired(_ slot: Int, now: Int64) -> Bool {
        let expiresAt = slots[slot]!.expiresAt
        return expiresAt != 0 && now > expiresAt
    }

    /// Adds a key that is not present; returns its slot.
    mutating func insert(_ key: ArraySlice<UInt8>, _ value: Value, now: Int64) -> Int {
        let owned = Array(key)
        let entry = Entry(key: owned, value: value, lastAccess: now, sampleIndex: sampled.count)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        index[Key(owned[...])] = slot
        sampled.append(slot)
        memory += Memory.key(owned.count) + value.memory
        return slot
    }

    mutating func remove(at slot: Int) {
        setExpiry(at: slot, 0)
        let entry = slots[slot]!
        index[Key(entry.key[...])] = nil
        let moved = sampled.removeLast()
        if entry.sampleIndex < sampled.count {
            sampled[entry.sampleIndex] = moved
            slots[moved]!.sampleIndex = entry.sampleIndex
        }
        slots[slot] = nil
        freeSlots.append(slot)
        memory -= Memory.key(entry.key.count) + entry.value.memory
    }

    mutating func removeAll() {
        self = Keyspace()
    }

    /// Replaces the value (the expiry stays; SET removes it itself).
    mutating func setValue(at slot: Int, _ value: Value) {
        memory += value.memory - slots[slot]!.value.memory
        slots[slot]!.value = value
    }

    /// Appends to a string value without copying it.
    mutating func appendToString(at slot: Int, _ suffix: ArraySlice<UInt8>) -> Int {
        guard case .string(var bytes) = slots[slot]!.value else { return 0 }
        slots[slot]!.value = .string([])               // the entry lets go, so `bytes` is unique
        let before = Memory.string(bytes.count)
        bytes.append(contentsOf: suffix)
        slots[slot]!.value = .string(bytes)
        memory += Memory.string(bytes.count) - before
        return bytes.count
    }

    /// A container in `slot` changed its memory estimate by `delta`.
    mutating func account(_ delta: Int) {
        memory += delta
    }

    /// Sets the expiry time, or removes it with 0.
    mutating func setExpiry(at slot: Int, _ expiresAt: Int64) {
        let position = slots[slot]!.volatileIndex
        if expiresAt != 0 && position < 0 {
            slots[slot]!.volatileIndex = volatile.count
            volatile.append(slot)
            memory += Memory.volatileSlot
        } else if expiresAt == 0 && position >= 0 {
            let moved = volatile.removeLast()
            if position < volatile.count {
                volatile[position] = moved
                slots[moved]!.volatileIndex = position
            }
            slots[slot]!.volatileIndex = -1
            memory -= Memory.volatileSlot
        }
        slots[slot]!.expiresAt = expiresAt
    }

    mutating func touch(_ slot: Int, now: Int64) {
        slots[slot]!.lastAccess = now
    }
}
