// String commands (t_string.c): GET SET SETNX SETEX PSETEX GETSET MGET MSET INCR INCRBY DECR DECRBY APPEND
// STRLEN.
//
// Strings are stored as the bytes given; INCR and friends parse them with Redis's integer syntax
// (RESPInteger: no spaces, no '+', no leading zeros, within Int64) and store the decimal result, keeping the
// key's expiry. SET, MSET, SETEX and GETSET replace the value whatever its type and drop the expiry unless
// KEEPTTL is given.
//
// SET's options are read as Redis reads them (parseExtendedStringArgumentsOrReply): NX and XX exclude each
// other, KEEPTTL excludes the expiry options, the four expiry options exclude each other but one may be
// repeated (the last wins), and anything else, or an expiry option without a value, is a syntax error. Then
// the expiry is checked, then GET answers the old value (or WRONGTYPE, and nothing is set), then NX/XX may
// stop the command with a null reply (none when GET already replied).

import RESP

/// A SET, after its options were read.
struct SetOptions {
    enum Reply { case ok, integer }

    /// EX seconds, PX milliseconds, EXAT Unix seconds, PXAT Unix milliseconds.
    enum Expiry {
        case ex, px, exat, pxat

        init?(_ option: ArraySlice<UInt8>) {
            if ASCIIBytes.equalsIgnoringCase(option, "ex") { self = .ex }
            else if ASCIIBytes.equalsIgnoringCase(option, "px") { self = .px }
            else if ASCIIBytes.equalsIgnoringCase(option, "exat") { self = .exat }
            else if ASCIIBytes.equalsIgnoringCase(option, "pxat") { self = .pxat }
            else { return nil }
        }
    }

    var onlyIfMissing = false              // NX
    var onlyIfPresent = false              // XX
    var get = false                        // GET: reply the old value
    var keepTTL = false
    var expiresAt: Int64 = 0               // 0: no expiry
    var reply: Reply = .ok                 // SETNX replies :1 / :0
}

extension KVStore {
    mutating func getCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        if let bytes = try string(a[1]) { RESPReply.bulkString(bytes, into: &reply) } else { RESPReply.nullBulkString(into: &reply) }
    }

    mutating func setCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        var options = SetOptions()
        var expiry: (option: SetOptions.Expiry, amount: ArraySlice<UInt8>)? = nil
        var index = 3
        while index < a.count {
            let option = a[index], hasValue = index + 1 < a.count
            func expiryAllowed(_ kind: SetOptions.Expiry) -> Bool {
                !options.keepTTL && (expiry == nil || expiry?.option == kind) && hasValue
            }
            if ASCIIBytes.equalsIgnoringCase(option, "nx") && !options.onlyIfPresent {
                options.onlyIfMissing = true
            } else if ASCIIBytes.equalsIgnoringCase(option, "xx") && !options.onlyIfMissing {
                options.onlyIfPresent = true
            } else if ASCIIBytes.equalsIgnoringCase(option, "get") {
                options.get = true
            } else if ASCIIBytes.equalsIgnoringCase(option, "keepttl") && expiry == nil {
                options.keepTTL = true
            } else if let kind = SetOptions.Expiry(option), expiryAllowed(kind) {
                expiry = (kind, a[index + 1])
                index += 1
            } else {
                throw .syntax
            }
            index += 1
        }
        if let (kind, amount) = expiry {
            guard let value = RESPInteger.parse(amount) else { throw .notInteger }
            options.expiresAt = try expiryTime(value, unit: kind == .ex || kind == .exat ? 1000 : 1,
                                               relative: kind == .ex || kind == .px, command: "set")
        }
        try setCommand(a[1], a[2], options, &reply)
    }

    /// SETEX key seconds value and PSETEX key milliseconds value.
    mutating func setexCommand(_ a: Arguments, milliseconds: Bool, _ reply: inout [UInt8]) throws(CommandError) {
        guard let amount = RESPInteger.parse(a[2]) else { throw .notInteger }
        let expiresAt = try expiryTime(amount, unit: milliseconds ? 1 : 1000, relative: true,
                                       command: milliseconds ? "psetex" : "setex")
        try setCommand(a[1], a[3], SetOptions(expiresAt: expiresAt), &reply)
    }

    mutating func setCommand(_ key: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>, _ options: SetOptions,
                             _ reply: inout [UInt8]) throws(CommandError) {
        if options.get {
            let old = try string(key)                 // WRONGTYPE stops the command before anything is set
            if let old { RESPReply.bulkString(old, into: &reply) } else { RESPReply.nullBulkString(into: &reply) }
        }
        let slot = lookup(key)
        if (options.onlyIfMissing && slot != nil) || (options.onlyIfPresent && slot == nil) {
            if !options.get {
                if options.reply == .integer { RESPReply.integer(0, into: &reply) } else { RESPReply.nullBulkString(into: &reply) }
            }
            return
        }
        let stored = storeString(key, Array(value), at: slot, keepTTL: options.keepTTL)
        if options.expiresAt != 0 { keyspace.setExpiry(at: stored, options.expiresAt) }
        if !options.get {
            if options.reply == .integer { RESPReply.integer(1, into: &reply) } else { RESPReply.ok(into: &reply) }
        }
    }

    /// Puts a string at `key` (whose live slot, if any, is `slot`); returns the slot.
    mutating func storeString(_ key: ArraySlice<UInt8>, _ bytes: [UInt8], at slot: Int?, keepTTL: Bool = false) -> Int {
        guard let slot else { return keyspace.insert(key, .string(bytes), now: now) }
        keyspace.setValue(at: slot, .string(bytes))
        if !keepTTL { keyspace.setExpiry(at: slot, 0) }
        return slot
    }

    mutating func mgetCommand(_ a: Arguments, _ reply: inout [UInt8]) {
        RESPReply.arrayHeader(a.count - 1, into: &reply)
        for key in a.dropFirst() {
            if let slot = lookup(key, read: true), case .string(let bytes) = keyspace[slot].value {
                RESPReply.bulkString(bytes, into: &reply)
            } else {
                RESPReply.nullBulkString(into: &reply)
            }
        }
    }

    mutating func msetCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count % 2 == 1 else { throw .wrongArity("mset") }
        var index = 1
        while index < a.count {
            _ = storeString(a[index], Array(a[index + 1]), at: lookup(a[index]))
            index += 2
        }
        RESPReply.ok(into: &reply)
    }

    mutating func incrbyCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard let increment = RESPInteger.parse(a[2]) else { throw .notInteger }
        try incrementCommand(a[1], by: increment, &reply)
    }

    mutating func decrbyCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard let decrement = RESPInteger.parse(a[2]) else { throw .notInteger }
        guard decrement != Int64.min else { throw .decrementOverflow }
        try incrementCommand(a[1], by: -decrement, &reply)
    }

    mutating func incrementCommand(_ key: ArraySlice<UInt8>, by increment: Int64, _ reply: inout [UInt8]) throws(CommandError) {
        let slot = lookup(key)
        var value: Int64 = 0
        if let slot {
            guard case .string(let bytes) = keyspace[slot].value else { throw .wrongType }
            guard let parsed = RESPInteger.parse(bytes[...]) else { throw .notInteger }
            value = parsed
        }
        let (sum, overflow) = value.addingReportingOverflow(increment)
        guard !overflow else { throw .overflow }
        var text: [UInt8] = []
        text.appendDecimal(sum)
        _ = storeString(key, text, at: slot, keepTTL: true)
        RESPReply.integer(sum, into: &reply)
    }

    mutating func appendCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard let slot = lookup(a[1]) else {
            _ = keyspace.insert(a[1], .string(Array(a[2])), now: now)
            RESPReply.integer(Int64(a[2].count), into: &reply)
            return
        }
        guard case .string(let bytes) = keyspace[slot].value else { throw .wrongType }
        guard bytes.count + a[2].count <= 512 * 1024 * 1024 else {
            throw .message("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        }
        RESPReply.integer(Int64(keyspace.appendToString(at: slot, a[2])), into: &reply)
    }

    mutating func strlenCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        RESPReply.integer(Int64(try string(a[1])?.count ?? 0), into: &reply)
    }
}
