// AppendOnly: the append-only file (AOF) — every change to the dataset, as the commands that make it,
// in RESP, so that replaying the file at boot rebuilds the data (Redis's `appendonly yes`).
//
// The store only produces the bytes: with `appendOnlyLog` set (to an empty array), each write command
// that succeeded is appended to it, and the server drains it to the file — before the replies of the
// same batch are sent when `appendfsync always` asks for it (the server's side: examples/kv). What is
// logged follows Redis's propagation rules, so a replay gives the same data whenever it runs:
//   - a write command is logged as sent, unless its reply is an error (nothing changed then);
//   - relative times become absolute: EXPIRE/PEXPIRE are logged as PEXPIREAT with the computed time,
//     and a command that leaves a key with a time to live (SET EX/PX, SETEX, PSETEX) is followed by
//     `PEXPIREAT key ms` — replayed later, the key expires when it would have;
//   - random choices are logged as their outcome: SPOP as SREM of the members it popped;
//   - keys deleted by expiry (lazily or by the active cycle) or by eviction are logged as DEL.
// Read-only commands are never logged. `replay` executes a log against the store (with logging off),
// stopping at the first incomplete or malformed command, and says how many bytes were whole — the
// server truncates a file that ends in a command cut short by a crash (Redis's aof-load-truncated).

import RESP

extension KVStore {
    /// Appends one command, as a RESP array of bulk strings, to the log.
    mutating func log(_ arguments: [ArraySlice<UInt8>]) {
        guard appendOnlyLog != nil else { return }
        RESPReply.arrayHeader(arguments.count, into: &appendOnlyLog!)
        for argument in arguments { RESPReply.bulkString(argument, into: &appendOnlyLog!) }
    }

    /// Logs a key's deletion by expiry or eviction.
    mutating func logDeletion(of key: [UInt8]) {
        guard appendOnlyLog != nil else { return }
        log([ArraySlice("DEL".utf8), key[...]])
    }

    /// Logs what a successful write command did (see the file's header).
    mutating func logWrite(_ command: Command, _ arguments: [ArraySlice<UInt8>]) {
        if let rewritten = propagationOverride {
            propagationOverride = nil
            for entry in rewritten { log(entry) }
            return
        }
        switch command {
        case .expire, .pexpire, .expireat, .pexpireat:
            guard arguments.count >= 2 else { return }
            if let slot = keyspace.slot(of: arguments[1]) {
                let expiresAt = keyspace[slot].expiresAt
                log([ArraySlice("PEXPIREAT".utf8), arguments[1], ArraySlice(Array(String(expiresAt).utf8))])
            } else {
                log([ArraySlice("DEL".utf8), arguments[1]])        // an expiry in the past deleted it
            }
        case .set, .setex, .psetex:
            log(arguments)
            if arguments.count >= 2, let slot = keyspace.slot(of: arguments[1]), keyspace[slot].expiresAt != 0 {
                log([ArraySlice("PEXPIREAT".utf8), arguments[1], ArraySlice(Array(String(keyspace[slot].expiresAt).utf8))])
            }
        default:
            log(arguments)
        }
    }

    /// Replays a log: every whole command is executed (logging off). Returns the commands executed and
    /// the bytes they took — less than `bytes.count` when the log ends in a partial command (a crash
    /// in the middle of an append: `partialTail`) or holds bytes that are not RESP; `problem` says which.
    public mutating func replay(_ bytes: [UInt8], now: UInt64) -> (commands: Int, validBytes: Int, problem: String?, partialTail: Bool) {
        let saved = appendOnlyLog
        appendOnlyLog = nil
        defer { appendOnlyLog = saved }
        var parser = RESPParser()
        var client = KVClient(id: 0, address: Array("appendonly".utf8))
        var consumed = 0
        var commands = 0
        var reply: [UInt8] = []
        while consumed < bytes.count {
            switch parser.parse(bytes[consumed...]) {
            case .needMore:
                return (commands, consumed, "the file ends in a partial command (\(bytes.count - consumed) bytes)", true)
            case .error:
                return (commands, consumed, "bytes at offset \(consumed) are not a RESP command", false)
            case .command(let arguments, let used):
                reply.removeAll(keepingCapacity: true)
                _ = execute(arguments, client: &client, now: now, reply: &reply)
                consumed += used
                commands += 1
            }
        }
        return (commands, consumed, nil, false)
    }
}
