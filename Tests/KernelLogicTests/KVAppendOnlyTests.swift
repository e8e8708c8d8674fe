// The append-only file: what the store logs replays into the same data (relative expiries made
// absolute, SPOP's random choice and expiry deletions logged as their outcome), failed and read-only
// commands are not logged, a log cut short replays its whole commands, and redis-server 7.0 itself loads
// the log and answers as the store does.

import Foundation
import KVStore
import Testing

@Suite struct KVAppendOnlyTests {
    /// Commands that change every kind of value, with relative and absolute expiries and a random pop.
    static let workload: [[String]] = [
        ["SET", "a", "1"], ["SET", "b", "2", "EX", "100"], ["SET", "c", "3", "PX", "50000"], ["EXPIRE", "a", "1000"],
        ["SADD", "s", "x", "y", "z", "w", "v"], ["SPOP", "s", "2"], ["SPOP", "s"], ["INCR", "n"], ["INCRBY", "n", "41"],
        ["LPUSH", "l", "a", "b", "c"], ["RPOP", "l"], ["HSET", "h", "f", "v", "g", "w"], ["HDEL", "h", "g"],
        ["ZADD", "z", "1", "m", "2.5", "n"], ["ZINCRBY", "z", "3", "m"], ["DEL", "c"], ["APPEND", "a", "-more"],
        ["SETEX", "e", "500", "ex"], ["PSETEX", "p", "700000", "px"], ["PEXPIREAT", "n", "1900000000000"],
        ["EXPIREAT", "l", "1900000000"], ["PERSIST", "a"], ["MSET", "m1", "1", "m2", "2"], ["SET", "short", "1", "PX", "10"],
    ]

    /// Every key with its type, value and expiry, as sorted text.
    static func dump(_ harness: inout KVHarness) -> [String] {
        let keys = harness.send("KEYS", "*").split(separator: "\r\n").filter { !$0.hasPrefix("*") && !$0.hasPrefix("$") }.map(String.init)
        return keys.sorted().map { key in
            let type = harness.send("TYPE", key)
            let value: String
            switch type {
            case "+string\r\n": value = harness.send("GET", key)
            case "+list\r\n": value = harness.send("LRANGE", key, "0", "-1")
            case "+set\r\n": value = harness.send("SMEMBERS", key).split(separator: "\r\n").sorted().joined(separator: ",")
            case "+hash\r\n": value = harness.send("HGETALL", key)
            default: value = harness.send("ZRANGE", key, "0", "-1", "WITHSCORES")
            }
            return "\(key) \(type) \(value) pttl \(harness.send("PTTL", key))"
        }
    }

    func loggedRun() -> (harness: KVHarness, log: [UInt8]) {
        var harness = KVHarness(seed: 42)
        harness.store.appendOnlyLog = []
        for command in Self.workload { harness.send(command) }
        harness.advance(20)
        harness.send("GET", "short")                            // expired: deleted lazily, logged as DEL
        return (harness, harness.store.appendOnlyLog ?? [])
    }

    @Test func aReplayedLogRebuildsTheSameDataAndExpiries() {
        var (original, log) = loggedRun()
        var replayed = KVHarness(seed: 7)                        // another seed: SPOP must not draw again
        replayed.clock = original.clock
        let result = replayed.store.replay(log, now: replayed.clock)
        #expect(result.problem == nil && result.validBytes == log.count)
        #expect(KVAppendOnlyTests.dump(&replayed) == KVAppendOnlyTests.dump(&original))
        let text = String(decoding: log, as: UTF8.self)
        #expect(text.contains("$9\r\nPEXPIREAT\r\n$1\r\na\r\n"), "EXPIRE is logged as an absolute time")
        #expect(!text.contains("$4\r\nSPOP\r\n") && text.contains("$4\r\nSREM\r\n$1\r\ns\r\n"), "SPOP is logged as SREM of what it popped")
        #expect(text.hasSuffix("*2\r\n$3\r\nDEL\r\n$5\r\nshort\r\n"), "a key deleted by expiry is logged as DEL")
        // Replayed a day later, keys whose time has passed are gone, as they would be on a live server.
        var late = KVHarness(seed: 7)
        late.clock = original.clock + 86_400_000
        _ = late.store.replay(log, now: late.clock)
        #expect(late.send("EXISTS", "b") == ":0\r\n" && late.send("EXISTS", "e") == ":0\r\n")
        #expect(late.send("EXISTS", "n") == ":1\r\n" && late.send("EXISTS", "a") == ":1\r\n")
    }

    @Test func failedAndReadOnlyCommandsAreNotLogged() {
        var harness = KVHarness()
        harness.store.appendOnlyLog = []
        harness.send("SET", "k")                                 // wrong arity
        harness.send("INCR", "x"); harness.send("SET", "s", "text"); harness.send("INCR", "s")   // the second INCR fails
        harness.send("GET", "s"); harness.send("EXISTS", "s"); harness.send("PING")
        let text = String(decoding: harness.store.appendOnlyLog ?? [], as: UTF8.self)
        #expect(text == "*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n*3\r\n$3\r\nSET\r\n$1\r\ns\r\n$4\r\ntext\r\n")
    }

    @Test func aLogCutShortReplaysItsWholeCommands() {
        let (_, log) = loggedRun()
        var replayed = KVHarness()
        let cut = Array(log.dropLast(3))
        let result = replayed.store.replay(cut, now: replayed.clock)
        #expect(result.validBytes < cut.count && result.problem?.contains("partial command") == true)
        #expect(result.commands > 10)
        var again = KVHarness()
        #expect(again.store.replay(Array(cut[0 ..< result.validBytes]), now: again.clock).problem == nil)
        var garbage = KVHarness()
        #expect(garbage.store.replay(Array("*1\r\n$4\r\nPING\r\n*zz\r\n".utf8), now: 0).problem?.contains("not a RESP command") == true)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server")))
    func redisServerLoadsTheLogAndAnswersTheSame() throws {
        var (original, log) = loggedRun()
        let directory = NSTemporaryDirectory() + "tessera-aof-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(log).write(to: URL(fileURLWithPath: directory + "/appendonly.aof"))
        let socket = directory + "/redis.sock"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        let configuration = "port 0\nunixsocket \(socket)\ndir \(directory)\nappendonly yes\nappendfilename appendonly.aof\nsave \"\"\ndaemonize no\nlogfile \(directory)/log\n"
        try Data(configuration.utf8).write(to: URL(fileURLWithPath: directory + "/redis.conf"))
        server.arguments = [directory + "/redis.conf"]
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        // SIGKILL, not terminate() + waitUntilExit(): Foundation's wait hung here on Linux.
        defer { kill(server.processIdentifier, SIGKILL) }
        func ask(_ words: [String]) throws -> String {
            let cli = Process()
            cli.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
            cli.arguments = ["-s", socket] + words
            cli.standardInput = FileHandle.nullDevice
            cli.standardError = FileHandle.nullDevice
            let pipe = Pipe()
            cli.standardOutput = pipe
            try cli.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            cli.waitUntilExit()
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var ready = false
        for _ in 0 ..< 100 where !ready {
            if (try? ask(["PING"])) == "PONG" { ready = true } else { usleep(50_000) }
        }
        let serverLog = (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? ""
        try #require(ready, "redis-server did not start: \(serverLog)")
        #expect(try ask(["DBSIZE"]) == String(original.store.keyCount))
        for (key, command) in [("a", "GET"), ("n", "GET"), ("e", "GET"), ("m2", "GET")] {
            let mine = original.send(command, key).split(separator: "\r\n").last.map(String.init) ?? ""
            #expect(try ask([command, key]) == mine, "\(command) \(key)")
        }
        #expect(try ask(["SMEMBERS", "s"]).split(separator: "\n").sorted()
                == original.send("SMEMBERS", "s").split(separator: "\r\n").filter { !$0.hasPrefix("*") && !$0.hasPrefix("$") }.sorted())
        #expect(try ask(["LRANGE", "l", "0", "-1"]) == "c\nb")
        #expect(try ask(["ZSCORE", "z", "m"]) == "4")
        #expect(try ask(["HGETALL", "h"]) == "f\nv")
        #expect(try ask(["EXISTS", "short"]) == "0" && ask(["EXISTS", "c"]) == "0")
        #expect(try ask(["PEXPIRETIME", "n"]) == "1900000000000", "the absolute expiry carried over")
        #expect(try ask(["TTL", "a"]) == "-1")
    }
}
