// KVStore: the command state machine of a Redis-compatible key-value server (Redis 7.0 semantics, RESP2
// replies). The connections, the parsing (the RESP module) and the sending belong to the server; this
// module executes one command at a time against the database and appends its reply. No Foundation, no
// existentials; it runs in the guest and in host tests alike.
//
//     var store = KVStore(configuration: KVConfiguration(maxMemory: 64 << 20, evictionPolicy: .allKeysLRU))
//     var client = KVClient(id: 1, address: Array("10.0.2.2:51234".utf8))          // one per connection
//     switch store.execute(arguments, client: &client, now: milliseconds, reply: &output) {
//     case .continue: break                                  // send `output`, read the next command
//     case .close: break                                     // send `output`, then close (QUIT)
//     }
//     store.activeExpireCycle(now: milliseconds)             // about every 100 ms (Redis's hz 10)
//
// Time is a parameter: `now` is milliseconds on the server's clock (Unix time if it has one; tests use a
// fake clock). Expiry is lazy, on access, plus the active cycle that samples keys with an expiry
// (Expiry.swift). Memory is an estimate (Memory.swift) with a limit and an eviction policy (Eviction.swift).
//
// What `execute` does, in Redis's order (processCommand): an empty command does nothing and replies
// nothing; QUIT replies +OK and asks to close; an unknown name is "ERR unknown command"; a wrong argument
// count is "ERR wrong number of arguments"; a command that may grow memory is refused with an OOM error if
// room cannot be made; then the command runs. Every reply is exactly what redis-server 7.0.15 sends (the host
// tests replay transcripts of it), except on purpose: KEYS, SCAN and SMEMBERS list in slot or insertion order
// where Redis uses hash order, and HGETALL too once a field was deleted; SPOP picks its own random members;
// there is one database; the OOM decision counts the write's own size (Eviction.swift); hexadecimal scores
// ("0x1p3", which strtod takes) are refused and ZRANGE BYSCORE/BYLEX is not implemented; INFO, CONFIG and
// COMMAND INFO show fewer fields (Introspection.swift, ServerCommands.swift).
//
// Commands (by type, with the files that implement them):
//   strings (StringCommands)   GET SET [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL] SETNX SETEX PSETEX GETSET MGET
//                              MSET INCR INCRBY DECR DECRBY APPEND STRLEN
//   keys (KeyCommands)         DEL UNLINK EXISTS TYPE KEYS SCAN [MATCH] [COUNT] [TYPE] EXPIRE PEXPIRE
//                              [NX|XX|GT|LT] TTL PTTL PERSIST
//   lists, sets, hashes        LPUSH RPUSH LPOP RPOP [count] LRANGE LLEN; SADD SREM SPOP [count] SMEMBERS
//   (CollectionCommands)       SCARD SISMEMBER; HSET HMSET HGET HGETALL HDEL HLEN HEXISTS
//   sorted sets                ZADD [NX|XX] [GT|LT] [CH] [INCR] ZINCRBY ZREM ZPOPMIN ZPOPMAX [count]
//   (SortedSetCommands)        ZRANGE start stop [REV] [WITHSCORES] ZSCORE ZCARD
//   server (ServerCommands,    PING ECHO QUIT SELECT 0 DBSIZE FLUSHDB FLUSHALL INFO CONFIG GET|SET|RESETSTAT
//   Introspection)             CLIENT ID|INFO|GETNAME|SETNAME COMMAND [COUNT|DOCS|INFO|LIST]
// Not supported: databases other than 0, transactions, pub/sub, scripting, blocking commands, streams
// (redis-benchmark 7.0's default tests send no XADD), persistence, replication, ACLs, RESP3.

import RESP

typealias Arguments = [ArraySlice<UInt8>]

/// What the server does after sending the reply.
public enum KVOutcome: Hashable, Sendable {
    case `continue`
    /// QUIT: close the connection once the reply is sent.
    case close
}

public struct KVStore {
    public var configuration: KVConfiguration
    /// Kept current by the server (connected clients, connections received); shown by INFO.
    public var server: KVServerInfo
    public internal(set) var statistics = KVStatistics()

    var keyspace = Keyspace()
    var counters: [CommandCounters]
    var random: SplitMix64
    /// The time of the command being executed.
    var now: Int64 = 0
    /// The append-only log (AppendOnly.swift): nil when off; the server drains what is appended.
    public var appendOnlyLog: [UInt8]? = nil
    /// What a command asks to log instead of itself (SPOP's SREM), set while it runs.
    var propagationOverride: [[ArraySlice<UInt8>]]? = nil

    struct CommandCounters {
        var calls: UInt64 = 0
        var rejected: UInt64 = 0
        var failed: UInt64 = 0
    }

    /// `seed` drives the random choices (SPOP, eviction and expiry sampling), so runs repeat exactly.
    public init(configuration: KVConfiguration = KVConfiguration(), server: KVServerInfo = KVServerInfo(),
                seed: UInt64 = 0x5EED_4B56_5354_4F52) {
        self.configuration = configuration
        self.server = server
        self.random = SplitMix64(seed: seed)
        self.counters = [CommandCounters](repeating: CommandCounters(), count: CommandTable.specs.count)
    }

    /// Keys in the database, including expired ones not yet deleted (like DBSIZE).
    public var keyCount: Int { keyspace.count }
    public var keysWithExpiry: Int { keyspace.volatile.count }
    /// The memory estimate of the database in bytes (Memory.swift).
    public var usedMemory: Int { keyspace.memory }

    /// Executes one command and appends its reply to `reply`. `arguments[0]` is the command name.
    public mutating func execute(_ arguments: [ArraySlice<UInt8>], client: inout KVClient, now: UInt64,
                                 reply: inout [UInt8]) -> KVOutcome {
        guard let name = arguments.first else { return .continue }
        self.now = Int64(clamping: now)
        if ASCIIBytes.equalsIgnoringCase(name, "quit") {        // before everything, whatever follows it
            RESPReply.ok(into: &reply)
            return .close
        }
        guard let index = CommandTable.find(name) else {
            refuse(CommandError.unknownCommand(arguments), &reply)
            return .continue
        }
        let spec = CommandTable.specs[index]
        guard spec.accepts(argumentCount: arguments.count) else {
            counters[index].rejected += 1
            refuse(.wrongArity(spec.name), &reply)
            return .continue
        }
        if configuration.maxMemory > 0 {
            let denied = spec.flags.contains(.denyOOM)
            let incoming = denied ? Memory.incoming(arguments, keys: spec.keyCount(argumentCount: arguments.count)) : 0
            if !makeRoom(for: incoming) && denied {
                counters[index].rejected += 1
                refuse(.message("OOM command not allowed when used memory > 'maxmemory'."), &reply)
                return .continue
            }
        }
        let start = reply.count
        propagationOverride = nil
        var failed = false
        do throws(CommandError) {
            try dispatch(spec.command, arguments, &client, &reply)
        } catch {
            reply.removeSubrange(start...)
            error.write(into: &reply)
            failed = true
        }
        if appendOnlyLog != nil && spec.flags.contains(.write) && !failed { logWrite(spec.command, arguments) }
        if configuration.maxMemory > 0 && spec.flags.contains(.write) { _ = makeRoom(for: 0) }   // beyond its estimate
        statistics.commandsProcessed += 1
        counters[index].calls += 1
        if reply.count > start && reply[start] == UInt8(ascii: "-") {
            counters[index].failed += 1
            statistics.errorReplies += 1
        }
        statistics.peakMemory = max(statistics.peakMemory, keyspace.memory)
        return .continue
    }

    private mutating func refuse(_ error: CommandError, _ reply: inout [UInt8]) {
        error.write(into: &reply)
        statistics.errorReplies += 1
    }

    /// Every command that was called or refused, in name order.
    public func commandStatistics() -> [KVCommandStatistics] {
        var list: [KVCommandStatistics] = []
        for (index, counter) in counters.enumerated() where counter.calls + counter.rejected > 0 {
            list.append(KVCommandStatistics(name: CommandTable.specs[index].name, calls: counter.calls,
                                            rejectedCalls: counter.rejected, failedCalls: counter.failed))
        }
        return list
    }

    /// CONFIG RESETSTAT: zeroes the counters (the peak memory becomes the current estimate).
    public mutating func resetStatistics() {
        statistics = KVStatistics()
        statistics.peakMemory = keyspace.memory
        for index in counters.indices { counters[index] = CommandCounters() }
    }

    // MARK: - Lookups

    /// The slot of a live key, or nil; an expired key is deleted on the way. Reads count as keyspace hits
    /// or misses; `touch` records the access for LRU eviction.
    mutating func lookup(_ key: ArraySlice<UInt8>, read: Bool = false, touch: Bool = true) -> Int? {
        guard let slot = keyspace.slot(of: key), !expireIfNeeded(slot) else {
            if read { statistics.keyspaceMisses += 1 }
            return nil
        }
        if read { statistics.keyspaceHits += 1 }
        if touch { keyspace.touch(slot, now: now) }
        return slot
    }

    /// The bytes of the string at `key`, nil if there is none; WRONGTYPE for another type.
    mutating func string(_ key: ArraySlice<UInt8>, read: Bool = true) throws(CommandError) -> [UInt8]? {
        guard let slot = lookup(key, read: read) else { return nil }
        guard case .string(let bytes) = keyspace[slot].value else { throw .wrongType }
        return bytes
    }

    mutating func list(_ key: ArraySlice<UInt8>, read: Bool = false) throws(CommandError) -> (slot: Int, list: ListValue)? {
        guard let slot = lookup(key, read: read) else { return nil }
        guard case .list(let list) = keyspace[slot].value else { throw .wrongType }
        return (slot, list)
    }

    mutating func set(_ key: ArraySlice<UInt8>, read: Bool = false) throws(CommandError) -> (slot: Int, set: SetValue)? {
        guard let slot = lookup(key, read: read) else { return nil }
        guard case .set(let set) = keyspace[slot].value else { throw .wrongType }
        return (slot, set)
    }

    mutating func hash(_ key: ArraySlice<UInt8>, read: Bool = false) throws(CommandError) -> (slot: Int, hash: HashValue)? {
        guard let slot = lookup(key, read: read) else { return nil }
        guard case .hash(let hash) = keyspace[slot].value else { throw .wrongType }
        return (slot, hash)
    }

    mutating func sortedSet(_ key: ArraySlice<UInt8>, read: Bool = false) throws(CommandError)
        -> (slot: Int, sortedSet: SortedSetValue)? {
        guard let slot = lookup(key, read: read) else { return nil }
        guard case .sortedSet(let sortedSet) = keyspace[slot].value else { throw .wrongType }
        return (slot, sortedSet)
    }

    /// Deletes a key whose container has become empty (Redis never keeps empty containers).
    mutating func removeIfEmpty(_ slot: Int, count: Int) {
        if count == 0 { keyspace.remove(at: slot) }
    }

    /// SREM, HDEL and ZREM: removes each named member of the value at `slot` (a missing key has none),
    /// accounts the memory freed, deletes a key left empty and replies how many members went.
    mutating func removeMembers<Value: MemberCollection>(_ found: (Int, Value)?, _ members: ArraySlice<ArraySlice<UInt8>>,
                                                         _ reply: inout [UInt8]) {
        guard let (slot, value) = found else {
            RESPReply.integer(0, into: &reply)
            return
        }
        var removed: Int64 = 0
        let before = value.memory
        for member in members where value.remove(member) { removed += 1 }
        keyspace.account(value.memory - before)
        removeIfEmpty(slot, count: value.count)
        RESPReply.integer(removed, into: &reply)
    }
}

/// A set, hash or sorted set: a collection of members (fields) that commands remove by name.
protocol MemberCollection: AnyObject {
    var count: Int { get }
    var memory: Int { get }
    func remove(_ member: ArraySlice<UInt8>) -> Bool
}

extension SetValue: MemberCollection {}
extension HashValue: MemberCollection {}
extension SortedSetValue: MemberCollection {}

/// SplitMix64 (Steele, Lea, Flood): small, fast, and the same sequence on every run and platform.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<bound (bound > 0); the modulo bias is negligible for the sizes here.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
