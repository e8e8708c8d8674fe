// The command table: each command's name, arity, flags, ACL categories and key positions, as Redis 7.0's
// COMMAND INFO reports them, and the dispatch from a command to its handler.
//
// Arity is Redis's: a positive arity is the exact argument count including the name, a negative one the
// minimum. Flags that matter here: `denyOOM` (refused when memory cannot be made under maxmemory) and `write`
// (followed by another eviction pass); the others are reported by COMMAND INFO. The table is sorted by name
// for a binary search that compares the request's name without case and without copying it.

import RESP

enum Command {
    case append, client, command, config, dbsize, decr, decrby, del, echo, exists, expire, expireat, flushall, flushdb
    case get, getset, hdel, hexists, hget, hgetall, hlen, hmset, hset, incr, incrby, info, keys
    case llen, lpop, lpush, lrange, mget, mset, persist, pexpire, pexpireat, ping, psetex, pttl, quit, rpop, rpush
    case sadd, scan, scard, select, set, setex, setnx, sismember, smembers, spop, srem, strlen
    case ttl, type, unlink, zadd, zcard, zincrby, zpopmax, zpopmin, zrange, zrem, zscore
}

struct CommandFlags: OptionSet {
    let rawValue: UInt16
    static let write = Self(rawValue: 1 << 0), readonly = Self(rawValue: 1 << 1), denyOOM = Self(rawValue: 1 << 2)
    static let admin = Self(rawValue: 1 << 3), noscript = Self(rawValue: 1 << 4), loading = Self(rawValue: 1 << 5)
    static let stale = Self(rawValue: 1 << 6), fast = Self(rawValue: 1 << 7), noAuth = Self(rawValue: 1 << 8)
    static let allowBusy = Self(rawValue: 1 << 9)
    /// In the order COMMAND INFO lists them.
    static let names: [StaticString] = ["write", "readonly", "denyoom", "admin", "noscript", "loading", "stale",
                                        "fast", "no_auth", "allow_busy"]
}

struct CommandCategories: OptionSet {
    let rawValue: UInt16
    static let keyspace = Self(rawValue: 1 << 0), read = Self(rawValue: 1 << 1), write = Self(rawValue: 1 << 2)
    static let set = Self(rawValue: 1 << 3), sortedSet = Self(rawValue: 1 << 4), list = Self(rawValue: 1 << 5)
    static let hash = Self(rawValue: 1 << 6), string = Self(rawValue: 1 << 7), fast = Self(rawValue: 1 << 8)
    static let slow = Self(rawValue: 1 << 9), dangerous = Self(rawValue: 1 << 10), connection = Self(rawValue: 1 << 11)
    /// In Redis's ACL category order, which COMMAND INFO follows.
    static let names: [StaticString] = ["@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash",
                                        "@string", "@fast", "@slow", "@dangerous", "@connection"]
}

struct CommandSpec {
    let name: StaticString                   // lowercase
    let command: Command
    let arity: Int
    let flags: CommandFlags
    let categories: CommandCategories
    let firstKey: Int, lastKey: Int, keyStep: Int

    init(_ name: StaticString, _ command: Command, _ arity: Int, _ flags: CommandFlags,
         _ categories: CommandCategories, keys: (Int, Int, Int) = (1, 1, 1)) {
        self.name = name
        self.command = command
        self.arity = arity
        self.flags = flags
        self.categories = categories
        (firstKey, lastKey, keyStep) = keys
    }

    func accepts(argumentCount count: Int) -> Bool { arity > 0 ? count == arity : count >= -arity }

    /// How many keys a call with `count` arguments names (from the key positions, as COMMAND GETKEYS would).
    func keyCount(argumentCount count: Int) -> Int {
        guard firstKey > 0, count > firstKey else { return 0 }
        let last = lastKey < 0 ? count + lastKey : min(lastKey, count - 1)
        return last < firstKey ? 0 : (last - firstKey) / keyStep + 1
    }
}

enum CommandTable {
    static let none = (0, 0, 0), all = (1, -1, 1)
    static let readFast: CommandFlags = [.readonly, .fast], writeFast: CommandFlags = [.write, .fast]
    static let grow: CommandFlags = [.write, .denyOOM, .fast]
    static let connection: CommandFlags = [.loading, .stale, .fast]

    static let specs: [CommandSpec] = [
        CommandSpec("append", .append, 3, grow, [.write, .string, .fast]),
        CommandSpec("client", .client, -2, [], [.slow], keys: none),
        CommandSpec("command", .command, -1, [.loading, .stale], [.slow, .connection], keys: none),
        CommandSpec("config", .config, -2, [], [.slow], keys: none),
        CommandSpec("dbsize", .dbsize, 1, readFast, [.keyspace, .read, .fast], keys: none),
        CommandSpec("decr", .decr, 2, grow, [.write, .string, .fast]),
        CommandSpec("decrby", .decrby, 3, grow, [.write, .string, .fast]),
        CommandSpec("del", .del, -2, [.write], [.keyspace, .write, .slow], keys: all),
        CommandSpec("echo", .echo, 2, connection, [.fast, .connection], keys: none),
        CommandSpec("exists", .exists, -2, readFast, [.keyspace, .read, .fast], keys: all),
        CommandSpec("expire", .expire, -3, writeFast, [.keyspace, .write, .fast]),
        CommandSpec("expireat", .expireat, -3, writeFast, [.keyspace, .write, .fast]),
        CommandSpec("flushall", .flushall, -1, [.write], [.keyspace, .write, .slow, .dangerous], keys: none),
        CommandSpec("flushdb", .flushdb, -1, [.write], [.keyspace, .write, .slow, .dangerous], keys: none),
        CommandSpec("get", .get, 2, readFast, [.read, .string, .fast]),
        CommandSpec("getset", .getset, 3, grow, [.write, .string, .fast]),
        CommandSpec("hdel", .hdel, -3, writeFast, [.write, .hash, .fast]),
        CommandSpec("hexists", .hexists, 3, readFast, [.read, .hash, .fast]),
        CommandSpec("hget", .hget, 3, readFast, [.read, .hash, .fast]),
        CommandSpec("hgetall", .hgetall, 2, [.readonly], [.read, .hash, .slow]),
        CommandSpec("hlen", .hlen, 2, readFast, [.read, .hash, .fast]),
        CommandSpec("hmset", .hmset, -4, grow, [.write, .hash, .fast]),
        CommandSpec("hset", .hset, -4, grow, [.write, .hash, .fast]),
        CommandSpec("incr", .incr, 2, grow, [.write, .string, .fast]),
        CommandSpec("incrby", .incrby, 3, grow, [.write, .string, .fast]),
        CommandSpec("info", .info, -1, [.loading, .stale], [.slow, .dangerous], keys: none),
        CommandSpec("keys", .keys, 2, [.readonly], [.keyspace, .read, .slow, .dangerous], keys: none),
        CommandSpec("llen", .llen, 2, readFast, [.read, .list, .fast]),
        CommandSpec("lpop", .lpop, -2, writeFast, [.write, .list, .fast]),
        CommandSpec("lpush", .lpush, -3, grow, [.write, .list, .fast]),
        CommandSpec("lrange", .lrange, 4, [.readonly], [.read, .list, .slow]),
        CommandSpec("mget", .mget, -2, readFast, [.read, .string, .fast], keys: all),
        CommandSpec("mset", .mset, -3, [.write, .denyOOM], [.write, .string, .slow], keys: (1, -1, 2)),
        CommandSpec("persist", .persist, 2, writeFast, [.keyspace, .write, .fast]),
        CommandSpec("pexpire", .pexpire, -3, writeFast, [.keyspace, .write, .fast]),
        CommandSpec("pexpireat", .pexpireat, -3, writeFast, [.keyspace, .write, .fast]),
        CommandSpec("ping", .ping, -1, [.fast], [.fast, .connection], keys: none),
        CommandSpec("psetex", .psetex, 4, [.write, .denyOOM], [.write, .string, .slow]),
        CommandSpec("pttl", .pttl, 2, readFast, [.keyspace, .read, .fast]),
        CommandSpec("quit", .quit, -1, [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy], [.fast, .connection],
                    keys: none),
        CommandSpec("rpop", .rpop, -2, writeFast, [.write, .list, .fast]),
        CommandSpec("rpush", .rpush, -3, grow, [.write, .list, .fast]),
        CommandSpec("sadd", .sadd, -3, grow, [.write, .set, .fast]),
        CommandSpec("scan", .scan, -2, [.readonly], [.keyspace, .read, .slow], keys: none),
        CommandSpec("scard", .scard, 2, readFast, [.read, .set, .fast]),
        CommandSpec("select", .select, 2, connection, [.fast, .connection], keys: none),
        CommandSpec("set", .set, -3, [.write, .denyOOM], [.write, .string, .slow]),
        CommandSpec("setex", .setex, 4, [.write, .denyOOM], [.write, .string, .slow]),
        CommandSpec("setnx", .setnx, 3, grow, [.write, .string, .fast]),
        CommandSpec("sismember", .sismember, 3, readFast, [.read, .set, .fast]),
        CommandSpec("smembers", .smembers, 2, [.readonly], [.read, .set, .slow]),
        CommandSpec("spop", .spop, -2, writeFast, [.write, .set, .fast]),
        CommandSpec("srem", .srem, -3, writeFast, [.write, .set, .fast]),
        CommandSpec("strlen", .strlen, 2, readFast, [.read, .string, .fast]),
        CommandSpec("ttl", .ttl, 2, readFast, [.keyspace, .read, .fast]),
        CommandSpec("type", .type, 2, readFast, [.keyspace, .read, .fast]),
        CommandSpec("unlink", .unlink, -2, writeFast, [.keyspace, .write, .fast], keys: all),
        CommandSpec("zadd", .zadd, -4, grow, [.write, .sortedSet, .fast]),
        CommandSpec("zcard", .zcard, 2, readFast, [.read, .sortedSet, .fast]),
        CommandSpec("zincrby", .zincrby, 4, grow, [.write, .sortedSet, .fast]),
        CommandSpec("zpopmax", .zpopmax, -2, writeFast, [.write, .sortedSet, .fast]),
        CommandSpec("zpopmin", .zpopmin, -2, writeFast, [.write, .sortedSet, .fast]),
        CommandSpec("zrange", .zrange, -4, [.readonly], [.read, .sortedSet, .slow]),
        CommandSpec("zrem", .zrem, -3, writeFast, [.write, .sortedSet, .fast]),
        CommandSpec("zscore", .zscore, 3, readFast, [.read, .sortedSet, .fast]),
    ]

    /// The position in `specs` of the command named `name` (any case).
    static func find(_ name: ArraySlice<UInt8>) -> Int? {
        var low = 0, high = specs.count
        while low < high {
            let middle = (low + high) / 2
            let order = compare(name, specs[middle].name)
            if order == 0 { return middle }
            if order < 0 { high = middle } else { low = middle + 1 }
        }
        return nil
    }

    /// `bytes` lowercased compared with `name`: negative, zero or positive.
    static func compare(_ bytes: ArraySlice<UInt8>, _ name: StaticString) -> Int {
        name.withUTF8Buffer { name in
            var index = 0
            for byte in bytes {
                guard index < name.count else { return 1 }
                let lower = ASCIIBytes.lowercased(byte)
                if lower != name[index] { return lower < name[index] ? -1 : 1 }
                index += 1
            }
            return index == name.count ? 0 : -1
        }
    }
}

extension KVStore {
    mutating func dispatch(_ command: Command, _ a: Arguments, _ client: inout KVClient,
                           _ reply: inout [UInt8]) throws(CommandError) {
        switch command {
        case .append: try appendCommand(a, &reply)
        case .client: try clientCommand(a, &client, &reply)
        case .command: try commandCommand(a, &reply)
        case .config: try configCommand(a, &reply)
        case .dbsize: RESPReply.integer(Int64(keyspace.count), into: &reply)
        case .decr: try incrementCommand(a[1], by: -1, &reply)
        case .decrby: try decrbyCommand(a, &reply)
        case .del, .unlink: delCommand(a, &reply)
        case .echo: RESPReply.bulkString(a[1], into: &reply)
        case .exists: existsCommand(a, &reply)
        case .expire: try expireCommand(a, unit: 1000, &reply)
        case .expireat: try expireCommand(a, unit: 1000, absolute: true, &reply)
        case .flushall, .flushdb: try flushCommand(a, &reply)
        case .get: try getCommand(a, &reply)
        case .getset: try setCommand(a[1], a[2], SetOptions(get: true), &reply)
        case .hdel: try hdelCommand(a, &reply)
        case .hexists: try hexistsCommand(a, &reply)
        case .hget: try hgetCommand(a, &reply)
        case .hgetall: try hgetallCommand(a, &reply)
        case .hlen: try hlenCommand(a, &reply)
        case .hmset, .hset: try hsetCommand(a, ok: command == .hmset, &reply)
        case .incr: try incrementCommand(a[1], by: 1, &reply)
        case .incrby: try incrbyCommand(a, &reply)
        case .info: infoCommand(a, &reply)
        case .keys: keysCommand(a, &reply)
        case .llen: try llenCommand(a, &reply)
        case .lpop, .rpop: try popCommand(a, front: command == .lpop, &reply)
        case .lpush, .rpush: try pushCommand(a, front: command == .lpush, &reply)
        case .lrange: try lrangeCommand(a, &reply)
        case .mget: mgetCommand(a, &reply)
        case .mset: try msetCommand(a, &reply)
        case .persist: persistCommand(a, &reply)
        case .pexpire: try expireCommand(a, unit: 1, &reply)
        case .pexpireat: try expireCommand(a, unit: 1, absolute: true, &reply)
        case .ping: try pingCommand(a, &reply)
        case .pttl, .ttl: ttlCommand(a, milliseconds: command == .pttl, &reply)
        case .quit: RESPReply.ok(into: &reply)
        case .sadd: try saddCommand(a, &reply)
        case .scan: try scanCommand(a, &reply)
        case .scard: try scardCommand(a, &reply)
        case .select: try selectCommand(a, &reply)
        case .set: try setCommand(a, &reply)
        case .setex, .psetex: try setexCommand(a, milliseconds: command == .psetex, &reply)
        case .setnx: try setCommand(a[1], a[2], SetOptions(onlyIfMissing: true, reply: .integer), &reply)
        case .sismember: try sismemberCommand(a, &reply)
        case .smembers: try smembersCommand(a, &reply)
        case .spop: try spopCommand(a, &reply)
        case .srem: try sremCommand(a, &reply)
        case .strlen: try strlenCommand(a, &reply)
        case .type: typeCommand(a, &reply)
        case .zadd: try zaddCommand(a, &reply)
        case .zcard: try zcardCommand(a, &reply)
        case .zincrby: try zincrbyCommand(a, &reply)
        case .zpopmax, .zpopmin: try zpopCommand(a, highest: command == .zpopmax, &reply)
        case .zrange: try zrangeCommand(a, &reply)
        case .zrem: try zremCommand(a, &reply)
        case .zscore: try zscoreCommand(a, &reply)
        }
    }
}
