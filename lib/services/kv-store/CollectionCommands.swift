// List, set and hash commands (t_list.c, t_set.c, t_hash.c).
//
// A container is created by the first write to a missing key and deleted when its last element goes, so an
// empty list, set or hash never exists (EXISTS says 0, a push starts afresh). Each write reports its change
// of the container's memory estimate to the keyspace (`account`). Count arguments are checked before the key is looked
// up, as in Redis, so "LPOP missing -1" is an error rather than a null.

import RESP

extension KVStore {
    // MARK: - Lists

    mutating func pushCommand(_ a: Arguments, front: Bool, _ reply: inout [UInt8]) throws(CommandError) {
        let list: ListValue
        if let found = try self.list(a[1]) {
            list = found.list
        } else {
            list = ListValue()
            _ = keyspace.insert(a[1], .list(list), now: now)
        }
        let before = list.memory
        for element in a.dropFirst(2) {
            if front { list.pushFront(element) } else { list.pushBack(element) }
        }
        keyspace.account(list.memory - before)
        RESPReply.integer(Int64(list.count), into: &reply)
    }

    mutating func popCommand(_ a: Arguments, front: Bool, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count <= 3 else { throw .wrongArity(front ? "lpop" : "rpop") }
        let count = a.count == 3 ? try Self.positiveCount(a[2]) : nil
        guard let (slot, list) = try self.list(a[1]) else {
            if count == nil { RESPReply.nullBulkString(into: &reply) } else { RESPReply.nullArray(into: &reply) }
            return
        }
        let before = list.memory
        if let count {
            let popped = min(count, list.count)
            RESPReply.arrayHeader(popped, into: &reply)
            for _ in 0..<popped { RESPReply.bulkString((front ? list.popFront() : list.popBack()) ?? [], into: &reply) }
        } else {
            RESPReply.bulkString((front ? list.popFront() : list.popBack()) ?? [], into: &reply)
        }
        keyspace.account(list.memory - before)
        removeIfEmpty(slot, count: list.count)
    }

    /// A count argument that must be a non-negative integer ("value is out of range, must be positive").
    static func positiveCount(_ bytes: ArraySlice<UInt8>) throws(CommandError) -> Int {
        guard let value = RESPInteger.parse(bytes), value >= 0 else { throw .notPositive }
        return Int(clamping: value)
    }

    mutating func lrangeCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard let start = RESPInteger.parse(a[2]), let stop = RESPInteger.parse(a[3]) else { throw .notInteger }
        guard let (_, list) = try self.list(a[1], read: true) else {
            RESPReply.arrayHeader(0, into: &reply)
            return
        }
        guard let range = Self.indexRange(start, stop, count: list.count) else {
            RESPReply.arrayHeader(0, into: &reply)
            return
        }
        RESPReply.arrayHeader(range.count, into: &reply)
        for index in range { RESPReply.bulkString(list[index], into: &reply) }
    }

    /// Redis's start/stop index arithmetic (LRANGE, ZRANGE): negative counts from the end, clamped; nil
    /// when the range is empty.
    static func indexRange(_ start: Int64, _ stop: Int64, count: Int) -> ClosedRange<Int>? {
        let length = Int64(count)
        var start = start < 0 ? length + start : start
        var stop = stop < 0 ? length + stop : stop
        if start < 0 { start = 0 }
        if start > stop || start >= length { return nil }
        if stop >= length { stop = length - 1 }
        return Int(start)...Int(stop)
    }

    mutating func llenCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        RESPReply.integer(Int64(try list(a[1], read: true)?.list.count ?? 0), into: &reply)
    }

    // MARK: - Sets

    mutating func saddCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        let set: SetValue
        if let found = try self.set(a[1]) {
            set = found.set
        } else {
            set = SetValue()
            _ = keyspace.insert(a[1], .set(set), now: now)
        }
        var added: Int64 = 0
        let before = set.memory
        for member in a.dropFirst(2) where set.insert(member) { added += 1 }
        keyspace.account(set.memory - before)
        RESPReply.integer(added, into: &reply)
    }

    mutating func sremCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        removeMembers(try self.set(a[1]), a.dropFirst(2), &reply)
    }

    mutating func spopCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count <= 3 else { throw .syntax }
        let count = a.count == 3 ? try Self.positiveCount(a[2]) : nil
        guard let (slot, set) = try self.set(a[1]) else {
            if count == nil { RESPReply.nullBulkString(into: &reply) } else { RESPReply.arrayHeader(0, into: &reply) }
            return
        }
        let before = set.memory
        // Logged as the SREM of what was popped: a replay must not draw again (AppendOnly.swift).
        var removal: [ArraySlice<UInt8>] = [ArraySlice("SREM".utf8), a[1]]
        if let count {
            let popped = min(count, set.count)
            RESPReply.arrayHeader(popped, into: &reply)
            for _ in 0..<popped {
                let member = set.remove(at: random.below(set.count))
                if appendOnlyLog != nil { removal.append(member[...]) }
                RESPReply.bulkString(member, into: &reply)
            }
        } else {
            let member = set.remove(at: random.below(set.count))
            if appendOnlyLog != nil { removal.append(member[...]) }
            RESPReply.bulkString(member, into: &reply)
        }
        if appendOnlyLog != nil { propagationOverride = removal.count > 2 ? [removal] : [] }
        keyspace.account(set.memory - before)
        removeIfEmpty(slot, count: set.count)
    }

    mutating func smembersCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        let members = try set(a[1], read: true)?.set.members ?? []
        RESPReply.arrayHeader(members.count, into: &reply)
        for member in members { RESPReply.bulkString(member, into: &reply) }
    }

    mutating func scardCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        RESPReply.integer(Int64(try set(a[1], read: true)?.set.count ?? 0), into: &reply)
    }

    mutating func sismemberCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        let isMember = try set(a[1], read: true)?.set.contains(a[2]) ?? false
        RESPReply.integer(isMember ? 1 : 0, into: &reply)
    }

    // MARK: - Hashes

    /// HSET (replies the number of new fields) and HMSET (replies OK).
    mutating func hsetCommand(_ a: Arguments, ok: Bool, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count % 2 == 0 else { throw .wrongArity(ok ? "hmset" : "hset") }
        let hash: HashValue
        if let found = try self.hash(a[1]) {
            hash = found.hash
        } else {
            hash = HashValue()
            _ = keyspace.insert(a[1], .hash(hash), now: now)
        }
        var created: Int64 = 0
        let before = hash.memory
        var index = 2
        while index < a.count {
            if hash.set(a[index], to: a[index + 1]) { created += 1 }
            index += 2
        }
        keyspace.account(hash.memory - before)
        if ok { RESPReply.ok(into: &reply) } else { RESPReply.integer(created, into: &reply) }
    }

    mutating func hgetCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        if let value = try hash(a[1], read: true)?.hash.value(of: a[2]) {
            RESPReply.bulkString(value, into: &reply)
        } else {
            RESPReply.nullBulkString(into: &reply)
        }
    }

    mutating func hgetallCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard let (_, hash) = try self.hash(a[1], read: true) else {
            RESPReply.arrayHeader(0, into: &reply)
            return
        }
        RESPReply.arrayHeader(hash.count * 2, into: &reply)
        for index in 0..<hash.count {
            RESPReply.bulkString(hash.fields[index], into: &reply)
            RESPReply.bulkString(hash.values[index], into: &reply)
        }
    }

    mutating func hdelCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        removeMembers(try self.hash(a[1]), a.dropFirst(2), &reply)
    }

    mutating func hlenCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        RESPReply.integer(Int64(try hash(a[1], read: true)?.hash.count ?? 0), into: &reply)
    }

    mutating func hexistsCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        let exists = try hash(a[1], read: true)?.hash.value(of: a[2]) != nil
        RESPReply.integer(exists ? 1 : 0, into: &reply)
    }
}
