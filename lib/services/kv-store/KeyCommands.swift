// Keyspace commands (db.c, expire.c): DEL UNLINK EXISTS TYPE KEYS SCAN EXPIRE PEXPIRE TTL PTTL PERSIST.
//
// SCAN's cursor is a slot number of the keyspace (Keyspace.swift): each call visits slots from the cursor
// on until it has seen COUNT keys (10 by default) or 10 × COUNT slots, then filters them by MATCH pattern,
// TYPE name (any case; an unknown name matches nothing, as in 7.0) and expiry, and returns the next slot
// number, or 0 after the last slot. Every key that exists for a whole iteration is returned exactly once; a
// key added meanwhile is returned at most once. The cursor is parsed like Redis's (strtoul): "" is 0 and
// "-1" is 2^64 - 1, which is past the end.
//
// EXPIRE and PEXPIRE accept negative and zero times, which delete the key at once (the reply is still 1);
// NX, XX, GT and LT compare with the current expiry, a key without one counting as infinitely far away.

import RESP

extension KVStore {
    mutating func delCommand(_ a: Arguments, _ reply: inout [UInt8]) {
        var deleted: Int64 = 0
        for key in a.dropFirst() {
            if let slot = lookup(key, touch: false) {
                keyspace.remove(at: slot)
                deleted += 1
            }
        }
        RESPReply.integer(deleted, into: &reply)
    }

    mutating func existsCommand(_ a: Arguments, _ reply: inout [UInt8]) {
        var count: Int64 = 0
        for key in a.dropFirst() where lookup(key, read: true, touch: false) != nil { count += 1 }
        RESPReply.integer(count, into: &reply)
    }

    mutating func typeCommand(_ a: Arguments, _ reply: inout [UInt8]) {
        let slot = lookup(a[1], read: true, touch: false)
        RESPReply.simpleString(slot.map { keyspace[$0].value.type.name } ?? "none", into: &reply)
    }

    mutating func keysCommand(_ a: Arguments, _ reply: inout [UInt8]) {
        let pattern = Array(a[1])
        let everything = pattern == [UInt8(ascii: "*")]
        var count = 0
        var body: [UInt8] = []
        for case let entry? in keyspace.slots where entry.expiresAt == 0 || now <= entry.expiresAt {
            guard everything || Glob.matches(pattern, entry.key) else { continue }
            RESPReply.bulkString(entry.key, into: &body)
            count += 1
        }
        RESPReply.arrayHeader(count, into: &reply)
        reply.append(contentsOf: body)
    }

    mutating func scanCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard let cursor = Self.scanCursor(a[1]) else { throw .message("ERR invalid cursor") }
        var count = 10
        var pattern: [UInt8]? = nil
        var typeName: ArraySlice<UInt8>? = nil
        var index = 2
        while index < a.count {
            guard index + 1 < a.count else { throw .syntax }
            let option = a[index], value = a[index + 1]
            if ASCIIBytes.equalsIgnoringCase(option, "count") {
                guard let parsed = RESPInteger.parse(value) else { throw .notInteger }
                guard parsed >= 1 else { throw .syntax }
                count = Int(clamping: parsed)
            } else if ASCIIBytes.equalsIgnoringCase(option, "match") {
                pattern = value.count == 1 && value.first == UInt8(ascii: "*") ? nil : Array(value)
            } else if ASCIIBytes.equalsIgnoringCase(option, "type") {
                typeName = value
            } else {
                throw .syntax
            }
            index += 2
        }

        var slot = cursor < UInt64(keyspace.slots.count) ? Int(cursor) : keyspace.slots.count
        var found: [Int] = []
        var visited = 0
        let maxVisits = count > Int.max / 10 ? Int.max : count * 10
        while slot < keyspace.slots.count && found.count < count && visited < maxVisits {
            if keyspace.slots[slot] != nil { found.append(slot) }
            slot += 1
            visited += 1
        }
        let next = slot < keyspace.slots.count ? slot : 0

        var keys: [UInt8] = []
        var returned = 0
        for candidate in found {
            let entry = keyspace[candidate]
            if let pattern, !Glob.matches(pattern, entry.key) { continue }
            if let typeName, !Self.typeNameMatches(typeName, entry.value.type) { continue }
            if expireIfNeeded(candidate) { continue }
            RESPReply.bulkString(entry.key, into: &keys)
            returned += 1
        }
        RESPReply.arrayHeader(2, into: &reply)
        RESPReply.bulkDecimal(Int64(next), into: &reply)
        RESPReply.arrayHeader(returned, into: &reply)
        reply.append(contentsOf: keys)
    }

    /// strtoul as parseScanCursorOrReply uses it: no leading space, optional sign, decimal digits, all bytes
    /// used, no overflow; "-n" wraps around.
    static func scanCursor(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var index = bytes.startIndex
        var negative = false
        if index < bytes.endIndex && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
            guard index < bytes.endIndex else { return nil }      // a sign alone is not a number
        }
        var value: UInt64 = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = sum
            index += 1
        }
        return negative ? 0 &- value : value
    }

    static func typeNameMatches(_ name: ArraySlice<UInt8>, _ type: ValueType) -> Bool {
        ASCIIBytes.equalsIgnoringCase(name, type.name)
    }

    /// EXPIRE, PEXPIRE and (`absolute`) EXPIREAT, PEXPIREAT: Redis's expireGenericCommand.
    mutating func expireCommand(_ a: Arguments, unit: Int64, absolute: Bool = false, _ reply: inout [UInt8]) throws(CommandError) {
        let command: StaticString = absolute ? (unit == 1000 ? "expireat" : "pexpireat") : (unit == 1000 ? "expire" : "pexpire")
        var nx = false, xx = false, gt = false, lt = false
        for option in a.dropFirst(3) {
            if ASCIIBytes.equalsIgnoringCase(option, "nx") { nx = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "xx") { xx = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "gt") { gt = true }
            else if ASCIIBytes.equalsIgnoringCase(option, "lt") { lt = true }
            else {
                var text: [UInt8] = []
                text.appendStatic("ERR Unsupported option ")
                text.appendCString(option, limit: Int.max)
                throw .composed(text)
            }
        }
        if nx && (xx || gt || lt) { throw .message("ERR NX and XX, GT or LT options at the same time are not compatible") }
        if gt && lt { throw .message("ERR GT and LT options at the same time are not compatible") }
        guard let amount = RESPInteger.parse(a[2]) else { throw .notInteger }
        let when = try expireCommandTime(amount, unit: unit, base: absolute ? 0 : now, command: command)
        guard let slot = lookup(a[1]) else {
            RESPReply.integer(0, into: &reply)
            return
        }
        let current = keyspace[slot].expiresAt            // 0: none, which counts as infinitely far
        let refused = (nx && current != 0) || (xx && current == 0) || (gt && (current == 0 || when <= current))
            || (lt && current != 0 && when >= current)
        if refused {
            RESPReply.integer(0, into: &reply)
            return
        }
        if when <= now {
            keyspace.remove(at: slot)                     // already expired: deleted as by DEL
        } else {
            keyspace.setExpiry(at: slot, when)
        }
        RESPReply.integer(1, into: &reply)
    }

    mutating func ttlCommand(_ a: Arguments, milliseconds: Bool, _ reply: inout [UInt8]) {
        guard let slot = lookup(a[1], read: true, touch: false) else {
            RESPReply.integer(-2, into: &reply)
            return
        }
        guard let remaining = remainingMilliseconds(slot) else {
            RESPReply.integer(-1, into: &reply)
            return
        }
        RESPReply.integer(milliseconds ? remaining : (remaining + 500) / 1000, into: &reply)
    }

    mutating func persistCommand(_ a: Arguments, _ reply: inout [UInt8]) {
        guard let slot = lookup(a[1]), keyspace[slot].expiresAt != 0 else {
            RESPReply.integer(0, into: &reply)
            return
        }
        keyspace.setExpiry(at: slot, 0)
        RESPReply.integer(1, into: &reply)
    }
}
