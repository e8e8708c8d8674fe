// The key-value store against Redis 7.0: replayed transcripts of redis-server 7.0.15 (KVStoreTranscripts.swift)
// must give the same bytes, and the behaviours Redis leaves to timing or hashing are tested on their own with a
// fake clock (here and in KVStoreBehaviourTests.swift).
//
// `KVHarness` plays one connection: `send` executes a command at the harness's clock and returns the reply as
// text; the clock moves only when a test says so (or by `step` after each command, for transcripts).

import Foundation
import KVStore
import RESP
import Testing

struct KVHarness {
    var store: KVStore
    var client = KVClient(id: 7, address: Array("10.0.2.2:51234".utf8), localAddress: Array("10.0.2.15:6379".utf8),
                          connectedAt: 1_800_000_000_000)
    var clock: UInt64 = 1_800_000_000_000
    /// Milliseconds the clock advances after each command; when not zero, an active expiry cycle runs after each
    /// command too, as a server runs one every 100 ms.
    var step: UInt64 = 0
    var lastOutcome = KVOutcome.continue

    init(_ configuration: KVConfiguration = KVConfiguration(), step: UInt64 = 0, seed: UInt64 = 1) {
        store = KVStore(configuration: configuration, server: KVServerInfo(startedAt: 1_800_000_000_000), seed: seed)
        self.step = step
    }

    @discardableResult
    mutating func send(_ words: String...) -> String { send(words) }

    @discardableResult
    mutating func send(_ words: [String]) -> String {
        if words.first == "SLEEP" {                                        // a pause in a transcript
            clock += UInt64(words[1])!
            return "+SLEEP\r\n"
        }
        var reply: [UInt8] = []
        let arguments = words.map { Array($0.utf8)[...] }
        lastOutcome = store.execute(arguments, client: &client, now: clock, reply: &reply)
        clock += step
        if step > 0 { store.activeExpireCycle(now: clock) }
        return String(decoding: reply, as: UTF8.self)
    }

    mutating func advance(_ milliseconds: UInt64) { clock += milliseconds }

    /// The lines of `transcript` this store answers differently.
    mutating func replay(_ transcript: Transcript) -> [String] {
        var mismatches: [String] = []
        for (command, expected) in transcript {
            let reply = send(command)
            if reply != expected {
                mismatches.append("\(command.joined(separator: " ")): \(reply.debugDescription) != \(expected.debugDescription)")
            }
        }
        return mismatches
    }
}

@Suite struct KVStoreTests {
    // MARK: - Redis transcripts

    @Test(arguments: ["strings", "expiry", "collections", "server", "mixed"])
    func repliesAreByteForByteThoseOfRedis7(transcript name: String) {
        var server = KVHarness(step: 150)
        let mismatches = server.replay(RedisTranscripts.named(name))
        #expect(mismatches.isEmpty, Comment(rawValue: "\(name):\n" + mismatches.joined(separator: "\n")))
    }

    // MARK: - Commands Redis answers in hash order or with its own table

    @Test func keysAndScanListKeysInInsertionOrderWhereRedisUsesHashOrder() {
        var server = KVHarness()
        server.send("MSET", "k1", "a", "k2", "b", "x", "c")
        #expect(server.send("KEYS", "*") == "*3\r\n$2\r\nk1\r\n$2\r\nk2\r\n$1\r\nx\r\n")
        #expect(server.send("KEYS", "k?") == "*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n")
        #expect(server.send("SCAN", "0") == "*2\r\n$1\r\n0\r\n*3\r\n$2\r\nk1\r\n$2\r\nk2\r\n$1\r\nx\r\n")
        server.send("SADD", "s", "m")
        #expect(server.send("SCAN", "0", "TYPE", "SET") == "*2\r\n$1\r\n0\r\n*1\r\n$1\r\ns\r\n")
        #expect(server.send("SCAN", "0", "TYPE", "stream") == "*2\r\n$1\r\n0\r\n*0\r\n")
        #expect(server.send("SCAN", "0", "MATCH", "k*", "COUNT", "2") == "*2\r\n$1\r\n2\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n")
        #expect(server.send("SCAN", "") == server.send("SCAN", "0"))
        #expect(server.send("SCAN", "+") == "-ERR invalid cursor\r\n")
    }

    @Test func onlyDatabaseZeroExists() {
        var server = KVHarness()
        #expect(server.send("SELECT", "0") == "+OK\r\n")
        #expect(server.send("SELECT", "1") == "-ERR DB index is out of range\r\n")
        #expect(server.send("SELECT", "99999999999") == "-ERR value is not an integer or out of range\r\n")
        #expect(server.send("CONFIG", "GET", "databases") == "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n")
    }

    @Test func configGetMatchesOurParametersWithGlobsInAnyCase() {
        var server = KVHarness(KVConfiguration(maxMemory: 1 << 20, evictionPolicy: .allKeysLRU))
        #expect(server.send("CONFIG", "GET", "MAXMEM*") == "*6\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n"
                + "$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n$17\r\nmaxmemory-samples\r\n$1\r\n5\r\n")
        #expect(server.send("CONFIG", "GET", "save", "appendonly")
                == "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$4\r\nsave\r\n$0\r\n\r\n")
        #expect(server.send("CONFIG", "SET", "maxmemory-policy", "volatile-ttl", "maxmemory", "2mb") == "+OK\r\n")
        #expect(server.store.configuration == KVConfiguration(maxMemory: 2 << 20, evictionPolicy: .volatileTTL))
        #expect(server.send("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu").hasPrefix(
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of"))
        #expect(server.send("CONFIG", "SET", "save", "") == "+OK\r\n")
        #expect(server.send("CONFIG", "SET", "save", "900 1")
                == "-ERR Unknown option or number of arguments for CONFIG SET - 'save'\r\n")
    }

    @Test func clientNamesIdsAndInfoDescribeTheAskingConnection() {
        var server = KVHarness()
        server.advance(3_000)
        #expect(server.send("CLIENT", "ID") == ":7\r\n")
        #expect(server.send("CLIENT", "GETNAME") == "$-1\r\n")
        #expect(server.send("CLIENT", "SETNAME", "worker-1") == "+OK\r\n")
        #expect(server.client.name == Array("worker-1".utf8))
        #expect(server.send("CLIENT", "INFO") == "$166\r\nid=7 addr=10.0.2.2:51234 laddr=10.0.2.15:6379 fd=-1 name=worker-1 "
                + "age=3 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd=client|info user=default redir=-1 resp=2\n\r\n")
        #expect(server.send("CLIENT", "SETNAME", "bad\u{7F}") == "-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        #expect(server.send("client", "kill", "x") == "-ERR unknown subcommand 'kill'. Try CLIENT HELP.\r\n")
    }

    @Test func commandReportsItsTableInRedis7Format() {
        var server = KVHarness()
        let count = server.send("COMMAND", "COUNT")
        #expect(count == ":65\r\n")
        #expect(server.send("COMMAND", "DOCS") == "*0\r\n")
        #expect(server.send("COMMAND", "INFO", "get", "nope") == "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n"
                + ":1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n$-1\r\n")
        #expect(server.send("COMMAND", "INFO", "MSET").contains(":-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:-1\r\n:2\r\n"))
        #expect(server.send("COMMAND").hasPrefix("*65\r\n*10\r\n$6\r\nappend\r\n"))
        let list = server.send("COMMAND", "LIST")
        #expect(list.hasPrefix("*65\r\n$6\r\nappend\r\n$6\r\nclient\r\n") && list.hasSuffix("$6\r\nzscore\r\n"))
        let names = list.components(separatedBy: "\r\n").enumerated().filter { $0.offset % 2 == 0 && $0.offset > 0 }
            .map(\.element).filter { !$0.isEmpty }
        #expect(names.count == 65 && names == names.sorted())                // the binary search needs the order
        for name in names { #expect(!server.send("COMMAND", "INFO", name.uppercased()).hasSuffix("$-1\r\n"), "\(name)") }
    }

    @Test func quitRepliesOkAndAsksToCloseWhateverFollowsIt() {
        var server = KVHarness()
        #expect(server.send("QUIT", "extra", "args") == "+OK\r\n" && server.lastOutcome == .close)
        #expect(server.send("PING") == "+PONG\r\n" && server.lastOutcome == .continue)
    }

    @Test func anEmptyCommandRepliesNothing() {
        var server = KVHarness()
        #expect(server.send([]) == "" && server.store.statistics.commandsProcessed == 0)
    }

    @Test func unknownCommandsQuoteTheirArgumentsUpTo128Bytes() {
        var server = KVHarness()
        #expect(server.send("FOO", "bar", "baz") == "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n")
        let long = String(repeating: "a", count: 200)
        #expect(server.send("FOO", long, "b") == "-ERR unknown command 'FOO', with args beginning with: '\(String(repeating: "a", count: 128))' \r\n")
        #expect(server.send(String(repeating: "X", count: 130)).hasPrefix("-ERR unknown command '\(String(repeating: "X", count: 128))',"))
        #expect(server.send("FOO", "a\u{0}b", "c\nd") == "-ERR unknown command 'FOO', with args beginning with: 'a' 'c d' \r\n")
    }

    // MARK: - Scores

    @Test func scoresAreWrittenAsRedis7WritesThemWithPercent17g() {
        let cases: [(String, String)] = [
            ("1.1", "1.1000000000000001"), ("2", "2"), ("1e20", "1e+20"), ("0.1", "0.10000000000000001"),
            ("1e-5", "1.0000000000000001e-05"), ("inf", "inf"), ("-inf", "-inf"), ("123456789012345678", "1.2345678901234568e+17"),
            ("1.00000762939453125", "1.0000076293945312"), ("4.9e-324", "4.9406564584124654e-324"), ("-0", "0"),
            ("1e16", "10000000000000000"), ("12345678901234567890", "1.2345678901234567e+19"), ("0.000123", "0.00012300000000000001"),
            ("1e-4", "0.0001"), ("1e17", "1e+17"), ("1.7976931348623158e308", "1.7976931348623157e+308"), ("+Infinity", "inf"),
            (".5", "0.5"), ("5.", "5"), ("-2.5E-3", "-0.0025000000000000001"), ("1.5e3", "1500"),
        ]
        var server = KVHarness()
        for (input, expected) in cases {
            server.send("ZADD", "z", input, "m")
            #expect(server.send("ZSCORE", "z", "m") == "$\(expected.utf8.count)\r\n\(expected)\r\n", "\(input)")
        }
    }

    @Test func scoresMatchTheCLibraryForTenThousandRandomNumbers() {
        var random = SplitMix64(seed: 0x5A53_434F_5245)
        var server = KVHarness()
        for round in 0..<10_000 {
            let bits = random.next()
            var value = Double(bitPattern: bits)
            if !value.isFinite { value = Double(bits % 1_000_000) / 7 }
            let input = round % 2 == 0 ? "\(value)" : String(format: "%.\(bits % 25)e", value)
            let parsed = strtod(input, nil)
            let expected = parsed == 0 ? "0" : String(format: "%.17g", parsed)
            let added = server.send("ZADD", "z", input, "m")
            if parsed != 0 && (parsed.isInfinite || parsed.magnitude < Double.leastNonzeroMagnitude) {
                #expect(added == "-ERR value is not a valid float\r\n", "\(input)")
                continue
            }
            #expect(server.send("ZSCORE", "z", "m") == "$\(expected.utf8.count)\r\n\(expected)\r\n", "\(input)")
        }
    }

    @Test func scoresRedisRefusesAreRefused() {
        var server = KVHarness()
        for input in ["nan", "NaN", " 1", "1 ", "", "abc", "1e400", "-1e400", "1e-400", "1e", "1e+", ".", "1_000", "infinit", "0x1p3"] {
            #expect(server.send("ZADD", "z", input, "m") == "-ERR value is not a valid float\r\n", "\(input.debugDescription)")
        }
        #expect(server.send("ZADD", "z", "0e-400", "m") == ":1\r\n")
        server.send("ZADD", "z", "inf", "m")
        #expect(server.send("ZADD", "z", "INCR", "-inf", "m") == "-ERR resulting score is not a number (NaN)\r\n")
    }
}
