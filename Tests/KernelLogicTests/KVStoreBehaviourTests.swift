// The key-value store's behaviour over time and under limits, with a fake clock: lazy and active expiry, SCAN
// while keys come and go, glob matching, maxmemory with each eviction policy, the memory estimate, INFO and the
// statistics, and a seeded fuzz of random commands.

import KVStore
import Testing

extension KVStoreTests {
    // MARK: - Expiry

    @Test func keysExpireLazilyJustAfterTheirTime() {
        var server = KVHarness()
        server.send("SET", "k", "v", "PX", "100")
        server.advance(100)
        #expect(server.send("GET", "k") == "$1\r\nv\r\n" && server.send("PTTL", "k") == ":0\r\n")
        server.advance(1)
        #expect(server.send("DBSIZE") == ":1\r\n")                  // not yet noticed
        #expect(server.send("GET", "k") == "$-1\r\n")
        #expect(server.send("DBSIZE") == ":0\r\n" && server.store.statistics.expiredKeys == 1)
    }

    @Test func ttlRoundsToTheNearestSecondAndPersistRemovesTheExpiry() {
        var server = KVHarness()
        server.send("SET", "k", "v", "EX", "10")
        server.advance(1_499)
        #expect(server.send("TTL", "k") == ":9\r\n" && server.send("PTTL", "k") == ":8501\r\n")
        server.advance(2)
        #expect(server.send("TTL", "k") == ":8\r\n")
        #expect(server.send("PERSIST", "k") == ":1\r\n" && server.send("TTL", "k") == ":-1\r\n")
        #expect(server.send("TTL", "missing") == ":-2\r\n")
        server.send("SET", "k", "v", "PXAT", "\(server.clock + 5_000)")
        #expect(server.send("PTTL", "k") == ":5000\r\n")
        server.send("SET", "k", "v", "EXAT", "1")
        #expect(server.send("EXISTS", "k") == ":0\r\n")
    }

    @Test func writesKeepOrDropTheExpiryAsRedisDoes() {
        var server = KVHarness()
        server.send("SET", "k", "1", "EX", "100")
        server.send("INCR", "k")
        server.send("APPEND", "k", "0")
        #expect(server.send("TTL", "k") == ":100\r\n")                // INCR and APPEND keep it
        server.send("SET", "k", "v", "KEEPTTL")
        #expect(server.send("TTL", "k") == ":100\r\n")
        server.send("MSET", "k", "v")
        #expect(server.send("TTL", "k") == ":-1\r\n")                 // SET, MSET, GETSET drop it
    }

    @Test func activeExpiryDeletesKeysNobodyReads() {
        var server = KVHarness()
        for index in 0..<1_000 {
            server.send("SET", "volatile:\(index)", "v", "PX", "\(100 + index % 10)")
            server.send("SET", "stable:\(index)", "v")
        }
        #expect(server.store.activeExpireCycle(now: server.clock) == 0)
        server.advance(200)
        var cycles = 0
        while server.store.keysWithExpiry > 0 && cycles < 100 {
            let deleted = server.store.activeExpireCycle(now: server.clock)
            #expect(deleted <= 16 * 20)
            cycles += 1
        }
        #expect(server.store.keyCount == 1_000 && server.store.keysWithExpiry == 0)
        #expect(server.store.statistics.expiredKeys == 1_000 && cycles > 1)
    }

    @Test func anActiveCycleStopsWhenFewSampledKeysHadExpired() {
        var server = KVHarness()
        for index in 0..<1_000 { server.send("SET", "k\(index)", "v", "PX", index < 20 ? "10" : "100000") }
        server.advance(20)
        let deleted = server.store.activeExpireCycle(now: server.clock)
        #expect(deleted < 20 && server.store.keysWithExpiry > 980)       // one or two loops, not all 16
    }

    // MARK: - SCAN

    @Test func scanReturnsEveryKeyPresentThroughoutExactlyOnceWhileKeysAreAddedAndDeleted() {
        var server = KVHarness()
        for index in 0..<1_000 { server.send("SET", "old:\(index)", "v") }
        var seen: [String: Int] = [:]
        var cursor = "0", added = 0
        repeat {
            let reply = server.send("SCAN", cursor, "COUNT", "7")
            let parts = reply.components(separatedBy: "\r\n")
            cursor = parts[2]
            var index = 4
            while index + 1 < parts.count {
                seen[parts[index + 1], default: 0] += 1
                index += 2
            }
            for _ in 0..<3 {
                server.send("SET", "new:\(added)", "v")
                added += 1
            }
            server.send("DEL", "new:\(added / 2)")
        } while cursor != "0"
        for index in 0..<1_000 { #expect(seen["old:\(index)"] == 1, "old:\(index)") }
        #expect(seen.values.allSatisfy { $0 == 1 })
    }

    @Test func scanDeletesExpiredKeysAndAcceptsRedisCursorSyntax() {
        var server = KVHarness()
        server.send("SET", "a", "1", "PX", "5")
        server.send("SET", "b", "2")
        server.advance(10)
        #expect(server.send("SCAN", "0") == "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n" && server.store.keyCount == 1)
        #expect(server.send("SCAN", "-1") == "*2\r\n$1\r\n0\r\n*0\r\n")
        #expect(server.send("SCAN", "18446744073709551616") == "-ERR invalid cursor\r\n")
        #expect(server.send("SCAN", "0", "COUNT", "0") == "-ERR syntax error\r\n")
    }

    // MARK: - Glob patterns (each pair checked with KEYS against redis-server 7.0.15)

    @Test func keysMatchGlobsExactlyAsRedisStringmatch() {
        let table: [(String, String, Bool)] = [
            ("*", "anything", true), ("h?llo", "hello", true), ("h?llo", "hllo", false), ("h*llo", "hllo", true),
            ("h*llo", "heeeello", true), ("h[ae]llo", "hello", true), ("h[ae]llo", "hillo", false), ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false), ("h[a-b]llo", "hbllo", true), ("h[a-b]llo", "hcllo", false), ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true), ("h\\*llo", "hello", false), ("a[\\]]b", "a]b", true), ("a[\\-]b", "a-b", true),
            ("a[", "a", false), ("a[", "ab", false), ("[", "[", false), ("a[b", "ab", true), ("a[b", "a[", false), ("a[^", "ab", true),
            ("a[-]", "a-", true), ("a[a-]", "a]", true), ("a[a-]", "a^", true), ("a[a-]", "a-", false), ("a\\", "a\\", true),
            ("a\\", "a", false), ("*a*b*c*", "xaybzc", true), ("*a*b*c*", "xaybz", false),
            ("a*a*a*a*a*a*a*a*b", String(repeating: "a", count: 40), false), ("**", "x", true), ("*?", "a", true),
            ("a?*", "a", false), ("key:*", "key:000123", true), ("key:[0-9]*", "key:x1", false), ("[]", "]", false),
            ("[]]", "]", false), ("[!a]", "b", false), ("\\a", "a", true), ("a**", "a", true), ("H*", "hello", false),
            ("[z-a]", "m", true), ("*[", "x[", false), ("x*[ab", "xyz[ab", true),
        ]
        for (pattern, key, matches) in table {
            var server = KVHarness()
            server.send("SET", key, "v")
            #expect(server.send("KEYS", pattern).hasPrefix(matches ? "*1\r\n" : "*0\r\n"), "\(pattern) ~ \(key)")
        }
    }

    // MARK: - maxmemory and eviction

    @Test func noevictionRefusesGrowingWritesButServesReadsAndDeletes() {
        var server = KVHarness(KVConfiguration(maxMemory: 20_000))
        let value = String(repeating: "x", count: 50)
        var stored = 1000
        while server.send("SET", "key:\(stored)", value) == "+OK\r\n" { stored += 1 }   // keys of equal length
        let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        #expect(server.send("SET", "key:0000", value) == oom && server.send("LPUSH", "list:000", value) == oom)
        #expect(stored > 1030 && server.store.usedMemory <= 20_000)
        #expect(server.send("GET", "key:1000") == "$50\r\n\(value)\r\n")
        #expect(server.send("DEL", "key:1000", "key:1001") == ":2\r\n" && server.send("SET", "key:0000", value) == "+OK\r\n")
        #expect(server.send("SET", "huge", String(repeating: "x", count: 30_000)) == oom)
        let statistics = server.store.commandStatistics().first { $0.name.description == "set" }
        #expect(statistics?.rejectedCalls == 3 && server.store.statistics.evictedKeys == 0)
    }

    @Test func allkeysLRUEvictsKeysNotRecentlyUsedAndStaysUnderTheLimit() {
        var server = KVHarness(KVConfiguration(maxMemory: 50_000, evictionPolicy: .allKeysLRU, evictionSamples: 10))
        for index in 0..<20 { server.send("SET", "hot:\(index)", "v") }
        for index in 0..<2_000 {
            server.advance(1)
            server.send("GET", "hot:\(index % 20)")                      // the hot keys stay recently used
            #expect(server.send("SET", "cold:\(index)", String(repeating: "c", count: 40)) == "+OK\r\n")
            #expect(server.store.usedMemory <= 50_000)
        }
        var hotLeft = 0
        for index in 0..<20 where server.send("EXISTS", "hot:\(index)") == ":1\r\n" { hotLeft += 1 }
        #expect(hotLeft >= 15 && server.store.statistics.evictedKeys > 1_500)
    }

    @Test func allkeysRandomEvictsUntilTheWriteFits() {
        var server = KVHarness(KVConfiguration(maxMemory: 20_000, evictionPolicy: .allKeysRandom))
        for index in 0..<1_000 {
            #expect(server.send("RPUSH", "list:\(index % 50)", String(repeating: "e", count: 30)) != "")
            #expect(server.store.usedMemory <= 20_000)
        }
        #expect(server.store.statistics.evictedKeys > 0)
        #expect(server.send("SET", "huge", String(repeating: "x", count: 30_000)).hasPrefix("-OOM"))
    }

    @Test func volatilePoliciesEvictOnlyKeysWithAnExpiry() {
        for policy in [KVEvictionPolicy.volatileLRU, .volatileRandom, .volatileTTL] {
            var server = KVHarness(KVConfiguration(maxMemory: 5_000, evictionPolicy: policy))
            for index in 0..<10 { server.send("SET", "keep:\(index)", "v") }
            var index = 0
            while server.send("SET", "temp:\(index)", String(repeating: "t", count: 30), "EX", "\(100 + index)") == "+OK\r\n" {
                index += 1
                if index == 500 { break }
            }
            for keep in 0..<10 { #expect(server.send("EXISTS", "keep:\(keep)") == ":1\r\n", "\(policy)") }
            #expect(index == 500 && server.store.statistics.evictedKeys > 0, "\(policy)")
            if policy == .volatileTTL { #expect(server.send("EXISTS", "temp:499") == ":1\r\n") }
            server.send("FLUSHALL")
            let refused = (0..<200).first { server.send("SET", "keep:\($0)", "v").hasPrefix("-OOM") }
            #expect(refused != nil && refused! > 10, "\(policy): nothing with an expiry left to evict")
        }
    }

    // MARK: - Memory estimate and statistics

    @Test func theMemoryEstimateFollowsTheDocumentedFiguresAndReturnsToZero() {
        var server = KVHarness()
        server.send("SET", "k", "v")
        #expect(server.store.usedMemory == (188 + 48 + 1) + (48 + 1))       // key entry, key, value
        server.send("EXPIRE", "k", "10")
        #expect(server.store.usedMemory == 286 + 12)
        server.send("RPUSH", "l", "abc")
        #expect(server.store.usedMemory == 298 + (188 + 48 + 1) + 160 + 8 * 8 + (48 + 3))
        server.send("SET", "e", "")
        #expect(server.store.usedMemory == 810 + 188 + 49)                  // an empty string costs nothing
        server.send("APPEND", "e", "xy")
        #expect(server.store.usedMemory == 1047 + 50)
        server.send("SADD", "s", "m")
        server.send("HSET", "h", "f", "value")
        server.send("ZADD", "z", "1", "member")
        server.send("DEL", "k", "l", "s", "h", "z", "e")
        #expect(server.store.usedMemory == 0)
    }

    @Test func infoReportsSectionsInRedisFormat() {
        var server = KVHarness(KVConfiguration(maxMemory: 1_536))
        server.store.server.connectedClients = 3
        server.send("SET", "a", "1", "EX", "100")
        server.send("GET", "a")
        server.send("GET", "b")
        server.advance(90_061_000)
        let info = server.send("INFO")
        #expect(info.hasPrefix("$") && info.contains("\r\n# Server\r\nredis_version:7.0.15\r\n"))
        for line in ["uptime_in_seconds:90061\r\nuptime_in_days:1\r\n", "# Clients\r\nconnected_clients:3\r\n",
                     "used_memory:298\r\nused_memory_human:298B\r\n", "maxmemory:1536\r\nmaxmemory_human:1.50K\r\n",
                     "maxmemory_policy:noeviction\r\n", "total_commands_processed:3\r\n", "keyspace_hits:1\r\nkeyspace_misses:1\r\n",
                     "\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n\r\n"] {
            #expect(info.contains(line), "\(line.debugDescription)")
        }
        #expect(!info.contains("# Commandstats"))
        #expect(server.send("INFO", "commandstats").contains("cmdstat_get:calls=2,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0\r\n"))
        server.store.activeExpireCycle(now: server.clock)                  // the key expired meanwhile
        #expect(server.send("INFO", "KEYSPACE", "nope") == "$12\r\n# Keyspace\r\n\r\n")
        #expect(server.send("INFO", "nope") == "$0\r\n\r\n")
    }

    @Test func statisticsCountCommandsHitsMissesAndErrors() {
        var server = KVHarness()
        server.send("SET", "a", "1")
        server.send("MGET", "a", "b")
        server.send("LPUSH", "a", "x")
        server.send("GET")
        server.send("NOPE")
        let statistics = server.store.statistics
        #expect(statistics.commandsProcessed == 3 && statistics.keyspaceHits == 1 && statistics.keyspaceMisses == 1)
        #expect(statistics.errorReplies == 3)
        let byName = server.store.commandStatistics().map { "\($0.name) \($0.calls) \($0.rejectedCalls) \($0.failedCalls)" }
        #expect(byName == ["get 0 1 0", "lpush 1 0 1", "mget 1 0 0", "set 1 0 0"])
        server.send("CONFIG", "RESETSTAT")
        #expect(server.store.statistics.commandsProcessed == 1 && server.store.commandStatistics().map { "\($0.name)" } == ["config"])
    }

    // MARK: - Fuzz

    @Test func twentyThousandRandomCommandsNeverTrapAndTheMemoryEstimateStaysExact() {
        var random = SplitMix64(seed: 0x4B56_5354_4F52)
        func pick<T>(_ list: [T]) -> T { list[Int(random.next() % UInt64(list.count))] }
        let names = ["GET", "SET", "INCR", "APPEND", "DEL", "EXPIRE", "PEXPIRE", "LPUSH", "RPOP", "LPOP", "LRANGE", "SADD",
                     "SPOP", "SREM", "HSET", "HDEL", "ZADD", "ZPOPMIN", "ZREM", "ZRANGE", "SCAN", "KEYS", "TYPE", "MSET",
                     "PERSIST", "ZINCRBY", "GETSET", "SETNX", "INFO", "TTL"]
        let words = ["k1", "k2", "k3", "0", "1", "-1", "2", "10", "NX", "XX", "GT", "CH", "INCR", "EX", "PX", "GET",
                     "WITHSCORES", "REV", "COUNT", "MATCH", "*", "1.5", "inf", "abc", ""]
        var server = KVHarness(KVConfiguration(maxMemory: 4_000, evictionPolicy: .allKeysLRU))
        for round in 0..<20_000 {
            var command = [pick(names)]
            for _ in 0..<Int(random.next() % 6) { command.append(pick(words)) }
            let reply = server.send(command)
            #expect(reply.first.map { "+-:$*".contains($0) } == true, "\(command)")
            server.advance(random.next() % 3)
            if round % 97 == 0 { server.store.activeExpireCycle(now: server.clock) }
            if round % 1_000 == 999 {                                       // every key is one of `words`
                server.send(["DEL"] + words)
                #expect(server.store.usedMemory == 0 && server.store.keyCount == 0, "round \(round)")
            }
        }
    }
}
