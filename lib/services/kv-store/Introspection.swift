// INFO and COMMAND: what the server tells about itself.
//
// INFO writes Redis's format: "# Section\r\n" then "field:value\r\n" lines, sections separated by an empty
// line, as one bulk string. Sections: server, clients, memory, stats, commandstats, keyspace; with no
// argument or "default" all but commandstats, with "all" or "everything" all of them; names in any case,
// unknown ones ignored (Redis does the same). Only fields this server can fill are written:
//
//   server        redis_version:7.0.15 (the version whose behaviour is implemented, so that clients that
//                 check versions enable what works), server_name:tessera, redis_mode, os, arch_bits,
//                 tcp_port, uptime_in_seconds, uptime_in_days, hz, configured_hz
//   clients       connected_clients, maxclients, blocked_clients (from KVServerInfo)
//   memory        used_memory (the estimate, Memory.swift), used_memory_human, used_memory_peak,
//                 used_memory_peak_human, maxmemory, maxmemory_human, maxmemory_policy
//   stats         total_connections_received, total_commands_processed, rejected_connections,
//                 expired_keys, evicted_keys, keyspace_hits, keyspace_misses, total_error_replies
//   commandstats  cmdstat_<name>:calls=,usec=0,usec_per_call=0.00,rejected_calls=,failed_calls= (command
//                 times are not measured: usec fields are kept for parsers and are always zero)
//   keyspace      db0:keys=,expires=,avg_ttl= (avg_ttl exact, in milliseconds; Redis estimates it), only
//                 when the database has keys
//
// COMMAND answers from the command table (Commands.swift) in Redis 7.0's ten-field format: name, arity,
// flags, first key, last key, key step, ACL categories, then empty tips, key specifications and
// subcommands. COMMAND DOCS answers an empty map.

import RESP

extension KVStore {
    struct InfoSections: OptionSet {
        let rawValue: UInt8
        static let server = Self(rawValue: 1), clients = Self(rawValue: 2), memory = Self(rawValue: 4)
        static let stats = Self(rawValue: 8), commandstats = Self(rawValue: 16), keyspace = Self(rawValue: 32)
        static let standard: Self = [.server, .clients, .memory, .stats, .keyspace]
        static let everything: Self = [.standard, .commandstats]
    }

    mutating func infoCommand(_ a: Arguments, _ reply: inout [UInt8]) {
        var sections: InfoSections = a.count == 1 ? .standard : []
        let names: [(StaticString, InfoSections)] = [("server", .server), ("clients", .clients), ("memory", .memory),
                                                     ("stats", .stats), ("commandstats", .commandstats),
                                                     ("keyspace", .keyspace), ("default", .standard),
                                                     ("all", .everything), ("everything", .everything)]
        for argument in a.dropFirst() {
            for (name, section) in names where ASCIIBytes.equalsIgnoringCase(argument, name) { sections.formUnion(section) }
        }
        var text: [UInt8] = []
        if sections.contains(.server) { serverSection(&text) }
        if sections.contains(.clients) {
            Self.section("Clients", &text)
            Self.field("connected_clients", server.connectedClients, &text)
            Self.field("maxclients", server.maxClients, &text)
            Self.field("blocked_clients", 0, &text)
        }
        if sections.contains(.memory) { memorySection(&text) }
        if sections.contains(.stats) {
            Self.section("Stats", &text)
            Self.field("total_connections_received", Int(truncatingIfNeeded: server.totalConnectionsReceived), &text)
            Self.field("total_commands_processed", Int(truncatingIfNeeded: statistics.commandsProcessed), &text)
            Self.field("rejected_connections", Int(truncatingIfNeeded: server.rejectedConnections), &text)
            Self.field("expired_keys", Int(truncatingIfNeeded: statistics.expiredKeys), &text)
            Self.field("evicted_keys", Int(truncatingIfNeeded: statistics.evictedKeys), &text)
            Self.field("keyspace_hits", Int(truncatingIfNeeded: statistics.keyspaceHits), &text)
            Self.field("keyspace_misses", Int(truncatingIfNeeded: statistics.keyspaceMisses), &text)
            Self.field("total_error_replies", Int(truncatingIfNeeded: statistics.errorReplies), &text)
        }
        if sections.contains(.commandstats) { commandstatsSection(&text) }
        if sections.contains(.keyspace) { keyspaceSection(&text) }
        RESPReply.bulkString(text, into: &reply)
    }

    private func serverSection(_ text: inout [UInt8]) {
        let uptime = max(0, now - Int64(clamping: server.startedAt)) / 1000
        Self.section("Server", &text)
        text.appendStatic("redis_version:7.0.15\r\nserver_name:tessera\r\nredis_mode:standalone\r\nos:Tessera x86_64\r\narch_bits:64\r\n")
        Self.field("tcp_port", server.tcpPort, &text)
        Self.field("uptime_in_seconds", Int(uptime), &text)
        Self.field("uptime_in_days", Int(uptime / 86_400), &text)
        text.appendStatic("hz:10\r\nconfigured_hz:10\r\n")
    }

    private func memorySection(_ text: inout [UInt8]) {
        Self.section("Memory", &text)
        let used = keyspace.memory, peak = max(statistics.peakMemory, keyspace.memory)
        Self.field("used_memory", used, &text)
        text.appendStatic("used_memory_human:")
        HumanBytes.append(used, to: &text)
        text.appendStatic("\r\n")
        Self.field("used_memory_peak", peak, &text)
        text.appendStatic("used_memory_peak_human:")
        HumanBytes.append(peak, to: &text)
        text.appendStatic("\r\n")
        Self.field("maxmemory", configuration.maxMemory, &text)
        text.appendStatic("maxmemory_human:")
        HumanBytes.append(configuration.maxMemory, to: &text)
        text.appendStatic("\r\nmaxmemory_policy:")
        text.appendStatic(configuration.evictionPolicy.name)
        text.appendStatic("\r\n")
    }

    private func commandstatsSection(_ text: inout [UInt8]) {
        Self.section("Commandstats", &text)
        for statistics in commandStatistics() {
            text.appendStatic("cmdstat_")
            text.appendStatic(statistics.name)
            text.appendStatic(":calls=")
            text.appendDecimal(Int64(truncatingIfNeeded: statistics.calls))
            text.appendStatic(",usec=0,usec_per_call=0.00,rejected_calls=")
            text.appendDecimal(Int64(truncatingIfNeeded: statistics.rejectedCalls))
            text.appendStatic(",failed_calls=")
            text.appendDecimal(Int64(truncatingIfNeeded: statistics.failedCalls))
            text.appendStatic("\r\n")
        }
    }

    private func keyspaceSection(_ text: inout [UInt8]) {
        Self.section("Keyspace", &text)
        guard keyspace.count > 0 else { return }
        var total = 0.0                                   // a sum of Int64s could overflow
        for slot in keyspace.volatile { total += Double(remainingMilliseconds(slot) ?? 0) }
        let expires = keyspace.volatile.count
        let average = expires == 0 ? 0 : Int64(min(total / Double(expires), 9.0e18))
        text.appendStatic("db0:keys=")
        text.appendDecimal(keyspace.count)
        text.appendStatic(",expires=")
        text.appendDecimal(expires)
        text.appendStatic(",avg_ttl=")
        text.appendDecimal(average)
        text.appendStatic("\r\n")
    }

    /// "# Title\r\n", after an empty line if a section came before.
    static func section(_ title: StaticString, _ text: inout [UInt8]) {
        if !text.isEmpty { text.appendStatic("\r\n") }
        text.appendStatic("# ")
        text.appendStatic(title)
        text.appendStatic("\r\n")
    }

    static func field(_ name: StaticString, _ value: Int, _ text: inout [UInt8]) {
        text.appendStatic(name)
        text.append(ASCIIBytes.colon)
        text.appendDecimal(value)
        text.appendStatic("\r\n")
    }

    // MARK: - COMMAND

    mutating func commandCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count > 1 else {
            Self.writeAllCommandInfo(&reply)
            return
        }
        let sub = a[1]
        if ASCIIBytes.equalsIgnoringCase(sub, "count") {
            guard a.count == 2 else { throw .wrongArity("command|count") }
            RESPReply.integer(Int64(CommandTable.specs.count), into: &reply)
        } else if ASCIIBytes.equalsIgnoringCase(sub, "docs") {
            RESPReply.arrayHeader(0, into: &reply)
        } else if ASCIIBytes.equalsIgnoringCase(sub, "info") {
            guard a.count > 2 else {
                Self.writeAllCommandInfo(&reply)
                return
            }
            RESPReply.arrayHeader(a.count - 2, into: &reply)
            for name in a.dropFirst(2) {
                if let index = CommandTable.find(name) {
                    Self.writeCommandInfo(CommandTable.specs[index], &reply)
                } else {
                    RESPReply.nullBulkString(into: &reply)
                }
            }
        } else if ASCIIBytes.equalsIgnoringCase(sub, "list") {
            guard a.count == 2 else { throw .syntax }
            RESPReply.arrayHeader(CommandTable.specs.count, into: &reply)
            for spec in CommandTable.specs { RESPReply.bulkString(spec.name, into: &reply) }
        } else if ASCIIBytes.equalsIgnoringCase(sub, "help") {
            Self.help(["COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "(no subcommand)",
                       "    Return details about all Redis commands.", "COUNT", "    Return the total number of commands.",
                       "DOCS [<command-name> ...]", "    Return an empty map: no documentation is kept.",
                       "INFO [<command-name> ...]", "    Return details about the given commands, or all of them.",
                       "LIST", "    Return the names of all commands.", "HELP", "    Print this help."], &reply)
        } else {
            throw .unknownSubcommand(sub, command: a[0])
        }
    }

    static func writeAllCommandInfo(_ reply: inout [UInt8]) {
        RESPReply.arrayHeader(CommandTable.specs.count, into: &reply)
        for spec in CommandTable.specs { writeCommandInfo(spec, &reply) }
    }

    static func writeCommandInfo(_ spec: CommandSpec, _ reply: inout [UInt8]) {
        RESPReply.arrayHeader(10, into: &reply)
        RESPReply.bulkString(spec.name, into: &reply)
        RESPReply.integer(Int64(spec.arity), into: &reply)
        writeNames(CommandFlags.names, bits: spec.flags.rawValue, &reply)
        RESPReply.integer(Int64(spec.firstKey), into: &reply)
        RESPReply.integer(Int64(spec.lastKey), into: &reply)
        RESPReply.integer(Int64(spec.keyStep), into: &reply)
        writeNames(CommandCategories.names, bits: spec.categories.rawValue, &reply)
        for _ in 0..<3 { RESPReply.arrayHeader(0, into: &reply) }           // tips, key specs, subcommands
    }

    /// The names of the set bits, as an array of simple strings.
    static func writeNames(_ names: [StaticString], bits: UInt16, _ reply: inout [UInt8]) {
        RESPReply.arrayHeader(bits.nonzeroBitCount, into: &reply)
        for (bit, name) in names.enumerated() where bits & (1 << bit) != 0 {
            RESPReply.simpleString(name, into: &reply)
        }
    }
}
