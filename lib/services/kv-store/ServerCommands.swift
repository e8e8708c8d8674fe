// Connection and server commands: PING ECHO SELECT FLUSHDB FLUSHALL CONFIG CLIENT COMMAND (INFO is in
// Info.swift; QUIT, DBSIZE and ECHO are one line each in the dispatch).
//
// There is one database: SELECT 0 succeeds, any other index is "ERR DB index is out of range", and CONFIG
// GET databases says 1. CONFIG knows the parameters clients probe: GET matches them with a glob in any
// case; SET changes maxmemory (Redis's memory syntax: 100, 1k, 1kb, 1m, 1mb, 1g, 1gb), maxmemory-policy
// and maxmemory-samples, and accepts save "" and appendonly no, which describe this server as it is.
// CLIENT answers for the connection that asks (CLIENT LIST and KILL need all connections: the server's).
// COMMAND DOCS answers an empty map, which redis-cli 7 accepts (it then shows no hints).

import RESP

extension KVStore {
    mutating func pingCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count <= 2 else { throw .wrongArity("ping") }
        if a.count == 2 { RESPReply.bulkString(a[1], into: &reply) } else { RESPReply.simpleString("PONG", into: &reply) }
    }

    mutating func selectCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard let index = RESPInteger.parse(a[1]), index >= Int64(Int32.min), index <= Int64(Int32.max) else {
            throw .notInteger
        }
        guard index == 0 else { throw .message("ERR DB index is out of range") }
        RESPReply.ok(into: &reply)
    }

    mutating func flushCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        guard a.count <= 2 else { throw .syntax }
        if a.count == 2 && !ASCIIBytes.equalsIgnoringCase(a[1], "sync") && !ASCIIBytes.equalsIgnoringCase(a[1], "async") {
            throw .syntax
        }
        keyspace.removeAll()
        RESPReply.ok(into: &reply)
    }

    // MARK: - CONFIG

    /// The parameters CONFIG GET shows, in the order it lists them.
    enum Parameter: CaseIterable {
        case appendonly, databases, maxclients, maxmemory, maxmemoryPolicy, maxmemorySamples, port, save

        var name: StaticString {
            switch self {
            case .appendonly: return "appendonly"
            case .databases: return "databases"
            case .maxclients: return "maxclients"
            case .maxmemory: return "maxmemory"
            case .maxmemoryPolicy: return "maxmemory-policy"
            case .maxmemorySamples: return "maxmemory-samples"
            case .port: return "port"
            case .save: return "save"
            }
        }
    }

    func parameterValue(_ parameter: Parameter, into text: inout [UInt8]) {
        switch parameter {
        case .appendonly: text.appendStatic("no")
        case .databases: text.appendStatic("1")
        case .maxclients: text.appendDecimal(server.maxClients)
        case .maxmemory: text.appendDecimal(configuration.maxMemory)
        case .maxmemoryPolicy: text.appendStatic(configuration.evictionPolicy.name)
        case .maxmemorySamples: text.appendDecimal(configuration.evictionSamples)
        case .port: text.appendDecimal(server.tcpPort)
        case .save: break                                         // no snapshots
        }
    }

    mutating func configCommand(_ a: Arguments, _ reply: inout [UInt8]) throws(CommandError) {
        let sub = a[1]
        if ASCIIBytes.equalsIgnoringCase(sub, "get") {
            guard a.count >= 3 else { throw .wrongArity("config|get") }
            // A name without glob characters is looked up and answered as spelled; a pattern is matched
            // against every parameter (configGetCommand). Each parameter is answered once, in table order.
            var chosen = [[UInt8]?](repeating: nil, count: Parameter.allCases.count)
            for pattern in a.dropFirst(2) {
                let isGlob = pattern.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
                for (index, parameter) in Parameter.allCases.enumerated() where chosen[index] == nil {
                    let name = parameter.name.withUTF8Buffer { Array($0) }
                    if isGlob && Glob.matches(Array(pattern), name, ignoringCase: true) {
                        chosen[index] = name
                    } else if !isGlob && ASCIIBytes.equalsIgnoringCase(pattern, parameter.name) {
                        chosen[index] = Array(pattern)
                    }
                }
            }
            RESPReply.arrayHeader(chosen.compactMap { $0 }.count * 2, into: &reply)
            for (index, parameter) in Parameter.allCases.enumerated() {
                guard let name = chosen[index] else { continue }
                var value: [UInt8] = []
                parameterValue(parameter, into: &value)
                RESPReply.bulkString(name, into: &reply)
                RESPReply.bulkString(value, into: &reply)
            }
        } else if ASCIIBytes.equalsIgnoringCase(sub, "set") {
            guard a.count >= 4 else { throw .wrongArity("config|set") }
            guard a.count % 2 == 0 else { throw .syntax }
            var updated = configuration
            var index = 2
            while index < a.count {
                try Self.setParameter(a[index], a[index + 1], in: &updated)
                index += 2
            }
            configuration = updated
            RESPReply.ok(into: &reply)
        } else if ASCIIBytes.equalsIgnoringCase(sub, "resetstat") {
            guard a.count == 2 else { throw .wrongArity("config|resetstat") }
            resetStatistics()
            RESPReply.ok(into: &reply)
        } else if ASCIIBytes.equalsIgnoringCase(sub, "help") {
            Self.help(["CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET <pattern>",
                       "    Return parameters matching the glob-like <pattern> and their values.",
                       "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
                       "RESETSTAT", "    Reset statistics reported by the INFO command.", "HELP",
                       "    Print this help."], &reply)
        } else {
            throw .unknownSubcommand(sub, command: a[0])
        }
    }

    static func setParameter(_ name: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>,
                             in configuration: inout KVConfiguration) throws(CommandError) {
        func failed(_ parameter: StaticString, _ reason: StaticString) -> CommandError {
            var text: [UInt8] = []
            text.appendStatic("ERR CONFIG SET failed (possibly related to argument '")
            text.appendStatic(parameter)
            text.appendStatic("') - ")
            text.appendStatic(reason)
            return .composed(text)
        }
        if ASCIIBytes.equalsIgnoringCase(name, "maxmemory") {
            guard let bytes = memoryValue(value) else { throw failed("maxmemory", "argument must be a memory value") }
            configuration.maxMemory = bytes
        } else if ASCIIBytes.equalsIgnoringCase(name, "maxmemory-policy") {
            guard let policy = KVEvictionPolicy(name: value) else {
                throw failed("maxmemory-policy", "argument(s) must be one of the following: volatile-lru, volatile-random, volatile-ttl, allkeys-lru, allkeys-random, noeviction")
            }
            configuration.evictionPolicy = policy
        } else if ASCIIBytes.equalsIgnoringCase(name, "maxmemory-samples") {
            guard let samples = RESPInteger.parse(value), samples >= 1, samples <= Int64(Int32.max) else {
                throw failed("maxmemory-samples", "argument must be between 1 and 2147483647 inclusive")
            }
            configuration.evictionSamples = Int(samples)
        } else if (ASCIIBytes.equalsIgnoringCase(name, "save") && value.isEmpty)
                    || (ASCIIBytes.equalsIgnoringCase(name, "appendonly") && ASCIIBytes.equalsIgnoringCase(value, "no")) {
            // already so
        } else {
            var text: [UInt8] = []
            text.appendStatic("ERR Unknown option or number of arguments for CONFIG SET - '")
            text.appendCString(name, limit: Int.max)
            text.append(ASCIIBytes.quote)
            throw .composed(text)
        }
    }

    /// Redis's memtoull: decimal digits and an optional unit b, k, kb, m, mb, g, gb (any case).
    static func memoryValue(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        var value = 0
        while index < bytes.endIndex && bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") {
            let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = times10 + Int(bytes[index] - UInt8(ascii: "0"))
            guard value >= 0 else { return nil }
            index += 1
        }
        let unit = bytes[index...]
        let multipliers: [(StaticString, Int)] = [("", 1), ("b", 1), ("k", 1000), ("kb", 1024), ("m", 1_000_000),
                                                  ("mb", 1 << 20), ("g", 1_000_000_000), ("gb", 1 << 30)]
        for (name, multiplier) in multipliers where ASCIIBytes.equalsIgnoringCase(unit, name) {
            let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
            return overflow ? nil : product
        }
        return nil
    }

    static func help(_ lines: [StaticString], _ reply: inout [UInt8]) {
        RESPReply.arrayHeader(lines.count, into: &reply)
        for line in lines { RESPReply.simpleString(line, into: &reply) }
    }

    // MARK: - CLIENT

    mutating func clientCommand(_ a: Arguments, _ client: inout KVClient, _ reply: inout [UInt8]) throws(CommandError) {
        let sub = a[1]
        func arity(_ count: Int, _ name: StaticString) throws(CommandError) {
            if a.count != count { throw .wrongArity(name) }
        }
        if ASCIIBytes.equalsIgnoringCase(sub, "id") {
            try arity(2, "client|id")
            RESPReply.integer(Int64(truncatingIfNeeded: client.id), into: &reply)
        } else if ASCIIBytes.equalsIgnoringCase(sub, "getname") {
            try arity(2, "client|getname")
            if client.name.isEmpty { RESPReply.nullBulkString(into: &reply) } else { RESPReply.bulkString(client.name, into: &reply) }
        } else if ASCIIBytes.equalsIgnoringCase(sub, "setname") {
            try arity(3, "client|setname")
            guard a[2].allSatisfy({ $0 >= UInt8(ascii: "!") && $0 <= UInt8(ascii: "~") }) else {
                throw .message("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            client.name = Array(a[2])
            RESPReply.ok(into: &reply)
        } else if ASCIIBytes.equalsIgnoringCase(sub, "info") {
            try arity(2, "client|info")
            RESPReply.bulkString(clientInfo(client), into: &reply)
        } else if ASCIIBytes.equalsIgnoringCase(sub, "help") {
            Self.help(["CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GETNAME",
                       "    Return the name of the current connection.", "ID", "    Return the ID of the current connection.",
                       "INFO", "    Return information about the current client connection.", "SETNAME <name>",
                       "    Assign the name <name> to the current connection.", "HELP", "    Print this help."], &reply)
        } else {
            throw .unknownSubcommand(sub, command: a[0])
        }
    }

    /// CLIENT INFO's line, with the fields this store knows (Redis has more, about buffers and events).
    func clientInfo(_ client: KVClient) -> [UInt8] {
        var line: [UInt8] = []
        line.appendStatic("id=")
        line.appendDecimal(Int64(truncatingIfNeeded: client.id))
        line.appendStatic(" addr=")
        line.append(contentsOf: client.address)
        line.appendStatic(" laddr=")
        line.append(contentsOf: client.localAddress)
        line.appendStatic(" fd=-1 name=")
        line.append(contentsOf: client.name)
        line.appendStatic(" age=")
        line.appendDecimal(max(0, now - Int64(clamping: client.connectedAt)) / 1000)
        line.appendStatic(" idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd=client|info user=default redir=-1 resp=2\n")
        return line
    }
}
