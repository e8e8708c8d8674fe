// Expiry: keys with a time to live, deleted lazily and actively, as Redis does.
//
// Lazily: every lookup of a key past its time deletes it and answers as if it were missing
// (`expireIfNeeded`), so no command ever sees an expired key. KEYS skips such keys without deleting them
// and SCAN deletes them, like Redis; DBSIZE counts them until then.
//
// Actively: keys nobody reads would stay forever, so the server calls `activeExpireCycle(now:)`
// periodically (Redis runs its equivalent 10 times a second). It is Redis's activeExpireCycle without the
// time limit: sample `activeExpireSamples` random keys that have an expiry (20), delete those past their
// time, and sample again while more than a tenth of a sample had expired, at most `activeExpireLoops`
// (16) times. So a cycle costs at most 320 samples, and the share of expired keys still in memory stays
// around a tenth of the keys with an expiry, whatever their number.
//
// Expiry times are absolute milliseconds on the caller's clock. Relative times (EX, PX, EXPIRE, PEXPIRE)
// are added to `now` with Redis's overflow checks ("invalid expire time"); EXAT and PXAT take the time as
// given, which is meaningful when `now` is Unix time.

extension KVStore {
    /// Deletes the key in `slot` if it is past its time; true if it did.
    mutating func expireIfNeeded(_ slot: Int) -> Bool {
        guard keyspace.isExpired(slot, now: now) else { return false }
        if appendOnlyLog != nil { logDeletion(of: keyspace[slot].key) }
        keyspace.remove(at: slot)
        statistics.expiredKeys += 1
        return true
    }

    /// One active expiry cycle; returns how many keys it deleted.
    @discardableResult
    public mutating func activeExpireCycle(now: UInt64) -> Int {
        self.now = Int64(clamping: now)
        let samples = max(1, configuration.activeExpireSamples)
        var deleted = 0
        for _ in 0..<max(1, configuration.activeExpireLoops) {
            guard !keyspace.volatile.isEmpty else { break }
            let sampleCount = min(samples, keyspace.volatile.count)
            var expired = 0
            for _ in 0..<sampleCount {
                guard !keyspace.volatile.isEmpty else { break }
                let slot = keyspace.volatile[random.below(keyspace.volatile.count)]
                if expireIfNeeded(slot) { expired += 1 }
            }
            deleted += expired
            if expired * 10 <= sampleCount { break }            // at most a tenth was stale: done for now
        }
        return deleted
    }

    /// Milliseconds left for the key in `slot`, nil when it has no expiry.
    func remainingMilliseconds(_ slot: Int) -> Int64? {
        let expiresAt = keyspace[slot].expiresAt
        return expiresAt == 0 ? nil : max(0, expiresAt - now)
    }

    /// `amount` in `unit` milliseconds from now, as an absolute time, for SET's EX and PX: positive, and
    /// neither the conversion nor the addition may overflow (getExpireMillisecondsOrReply).
    func expiryTime(_ amount: Int64, unit: Int64, relative: Bool, command: StaticString) throws(CommandError) -> Int64 {
        guard amount > 0, unit == 1 || amount <= Int64.max / 1000 else { throw .invalidExpireTime(command) }
        let milliseconds = amount * unit
        guard relative else { return milliseconds }
        guard milliseconds <= Int64.max - now else { throw .invalidExpireTime(command) }
        return milliseconds + now
    }

    /// The absolute time EXPIRE and PEXPIRE (base `now`) and EXPIREAT and PEXPIREAT (base 0) compute:
    /// any sign, checked for overflow (expireGenericCommand).
    func expireCommandTime(_ amount: Int64, unit: Int64, base: Int64, command: StaticString) throws(CommandError) -> Int64 {
        if unit == 1000 && (amount > Int64.max / 1000 || amount < Int64.min / 1000) {
            throw .invalidExpireTime(command)
        }
        let milliseconds = amount * unit
        guard milliseconds <= Int64.max - base else { throw .invalidExpireTime(command) }
        return milliseconds + base
    }
}
