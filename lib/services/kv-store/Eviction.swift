// Eviction: keeping the memory estimate under `maxMemory` (Redis's performEvictions and evict.c).
//
// Before each command, when a limit is set, `execute` asks for room for the command's arguments and the keys
// it names (Memory.incoming) if the command may grow memory (flag denyoom: SET, LPUSH, ...), and for no room
// otherwise; after a write it asks again for no room, in case the write grew more than expected (a new list
// or a doubling array costs more than its arguments). While the estimate
// plus that room exceeds the limit, the policy picks a victim and it is deleted (counted in evicted_keys);
// when the policy is noeviction, or has nothing left to pick, the command is refused with
// "OOM command not allowed when used memory > 'maxmemory'." if it may grow memory, and runs otherwise
// (reads and deletions always run, so a full store can be emptied). A write larger than the whole limit
// is refused without evicting anything.
//
// Difference from Redis: Redis checks only that memory is under the limit before a write and lets the
// write itself go over; here the write's own arguments are counted, so one large write cannot overshoot
// the limit by more than the estimate's error. That matters more in a unikernel, whose heap is all there
// is: a store that overshoots does not swap, it panics.
//
// Victims: allkeys-random and volatile-random pick uniformly; allkeys-lru and volatile-lru sample
// `evictionSamples` keys and take the one accessed longest ago; volatile-ttl samples keys with an expiry and
// takes the one that expires soonest. Redis keeps a pool of good candidates across evictions, which makes
// its approximation closer to true LRU; a single sample of 5 is what Redis did before 3.0.

extension KVStore {
    /// Evicts until `incoming` more bytes fit under the limit; false if they do not fit.
    mutating func makeRoom(for incoming: Int) -> Bool {
        let limit = configuration.maxMemory
        guard limit > 0, keyspace.memory + incoming > limit else { return true }
        guard incoming <= limit else { return false }
        while keyspace.memory + incoming > limit {
            guard let victim = evictionVictim() else { return false }
            if appendOnlyLog != nil { logDeletion(of: keyspace[victim].key) }
            keyspace.remove(at: victim)
            statistics.evictedKeys += 1
        }
        return true
    }

    /// The slot the policy evicts next, nil when there is none.
    mutating func evictionVictim() -> Int? {
        let policy = configuration.evictionPolicy
        let candidates = policy.onlyKeysWithExpiry ? keyspace.volatile : keyspace.sampled
        guard policy != .noEviction, !candidates.isEmpty else { return nil }
        switch policy {
        case .allKeysRandom, .volatileRandom:
            return candidates[random.below(candidates.count)]
        case .allKeysLRU, .volatileLRU, .volatileTTL:
            var best = candidates[random.below(candidates.count)]
            for _ in 1..<max(1, configuration.evictionSamples) {
                let slot = candidates[random.below(candidates.count)]
                let entry = keyspace[slot], bestEntry = keyspace[best]
                let better = policy == .volatileTTL ? entry.expiresAt < bestEntry.expiresAt
                                                    : entry.lastAccess < bestEntry.lastAccess
                if better { best = slot }
            }
            return best
        case .noEviction:
            return nil
        }
    }
}
