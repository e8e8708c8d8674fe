// examples/kv booted under QEMU and driven by Debian's redis-tools: scripted redis-cli sessions,
// redis-benchmark (default suite, pipelining, 50 clients), malformed protocol while another client
// keeps working, and /metrics checked with promtool.
//
// redis-benchmark opens its 50 clients at once for every test of its suite. Through QEMU user
// networking those connects arrive in a trickle (the host's SYN retries back off to seconds), so the
// benchmark tests use a tap device when the machine allows one (root and /dev/net/tun, as in CI) and
// otherwise fall back to user networking with fewer clients, saying so.

import Foundation
import Glibc
import Testing
import TesseraKit

extension ImageSuite {
    @Suite struct KVServerTests {
        static let tapAvailable = getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/net/tun") && hostToolExists("ip")

        /// The kv image, on a tap device when possible; returns it with the host and port to reach.
        func startServer(preferTap: Bool = false, parameters: [String] = []) throws -> (RunningImage, host: String, port: UInt16, cleanup: () -> Void) {
            let product = try ImageHarness.build(ImageHarness.example("kv"))
            if preferTap && Self.tapAvailable {
                let tap = try HostTap(tag: "k", octet: 100)
                let image = try RunningImage(product, guestPort: 6379, ready: "kv: ready", tap: tap.name,
                                             kernelParameters: tap.kernelParameters + parameters)
                return (image, tap.guestAddress, 6379, { tap.remove() })
            }
            let image = try RunningImage(product, guestPort: 6379, ready: "kv: ready", kernelParameters: parameters,
                                         alsoForward: [9100])
            return (image, "127.0.0.1", image.hostPort, {})
        }

        func cli(_ host: String, _ port: UInt16, _ arguments: [String]) throws -> String {
            try runHostTool(["redis-cli", "-h", host, "-p", "\(port)"] + arguments, timeout: 30).output
        }

        /// appendfsync always: what the server acknowledged is in the file before the reply, so it survives
        /// SIGKILL of the VM; the next boot replays it (a relative expiry as the absolute time it was).
        @Test func appendOnlyWritesAcknowledgedWithAlwaysSurviveSIGKILL() throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-aof-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let volume = try VolumeSpec.parse(folder.path + ":/data", index: 0, relativeTo: "/")
            let product = try ImageHarness.build(ImageHarness.example("kv"))
            let parameters = ["kv.appendonly=yes", "kv.appendfsync=always"]
            let first = try RunningImage(product, guestPort: 6379, ready: "kv: ready", kernelParameters: parameters, volumes: [volume])
            #expect(first.lines.contains { $0.contains("kv: append-only file /data/appendonly.aof: 0 commands replayed, appendfsync always") },
                    "\(first.lines)")
            #expect(try cli("127.0.0.1", first.hostPort, ["SET", "greeting", "hello"]) == "OK\n")
            #expect(try cli("127.0.0.1", first.hostPort, ["RPUSH", "list", "a", "b", "c"]) == "3\n")
            #expect(try cli("127.0.0.1", first.hostPort, ["SET", "session", "x", "EX", "3600"]) == "OK\n")
            #expect(try cli("127.0.0.1", first.hostPort, ["INCRBY", "counter", "42"]) == "42\n")
            first.kill9()
            let log = (try? String(contentsOf: folder.appendingPathComponent("appendonly.aof"), encoding: .utf8)) ?? ""
            #expect(log.contains("$6\r\nINCRBY\r\n$7\r\ncounter\r\n$2\r\n42\r\n") && log.contains("PEXPIREAT"), "\(log)")
            // A crash in the middle of an append: the partial command is dropped at the next boot.
            let handle = try FileHandle(forWritingTo: folder.appendingPathComponent("appendonly.aof"))
            handle.seekToEndOfFile()
            handle.write(Data("*3\r\n$3\r\nSET\r\n$4\r\nlost".utf8))
            try handle.close()
            let second = try RunningImage(product, guestPort: 6379, ready: "kv: ready", kernelParameters: parameters, volumes: [volume])
            defer { second.stop() }
            #expect(second.lines.contains { $0.contains("the file ends in a partial command") && $0.contains("truncated") }, "\(second.lines)")
            #expect(second.lines.contains { $0.contains("kv: append-only file /data/appendonly.aof: 5 commands replayed") }, "\(second.lines)")
            #expect(try cli("127.0.0.1", second.hostPort, ["GET", "greeting"]) == "hello\n")
            #expect(try cli("127.0.0.1", second.hostPort, ["LRANGE", "list", "0", "-1"]) == "a\nb\nc\n")
            #expect(try cli("127.0.0.1", second.hostPort, ["GET", "counter"]) == "42\n")
            let ttl = Int(try cli("127.0.0.1", second.hostPort, ["TTL", "session"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(ttl > 3000 && ttl <= 3600, "the expiry is the absolute time set before the crash: \(ttl)")
            #expect(try cli("127.0.0.1", second.hostPort, ["EXISTS", "lost"]) == "0\n")
        }

        @Test func redisCliSessionsBehaveAsAgainstRedis() throws {
            #expect(hostToolExists("redis-cli"), "install Debian's redis-tools")
            let (server, host, port, cleanup) = try startServer()
            defer { server.stop(); cleanup() }
            let script = """
                SET greeting hello
                APPEND greeting ", world"
                GET greeting
                INCR visits
                INCRBY visits 41
                INCR greeting
                LPUSH list c b a
                LRANGE list 0 -1
                GET list
                SADD set x y x
                HSET hash field value
                HGET hash field
                ZADD board 3 carol 1 alice 2 bob
                ZRANGE board 0 -1 WITHSCORES
                SET temporary value PX 100000
                TTL temporary
                EXISTS greeting nothing
                TYPE hash
                DBSIZE
                FROBNICATE now
                GET
                SELECT 1
                DEL greeting list
                KEYS *o*
                """
            let output = try runHostTool(["sh", "-c", "printf '%s\\n' \"$0\" | redis-cli --no-raw -h \(host) -p \(port)", script],
                                         timeout: 30).output
            let expected = """
                OK
                (integer) 12
                "hello, world"
                (integer) 1
                (integer) 42
                (error) ERR value is not an integer or out of range
                (integer) 3
                1) "a"
                2) "b"
                3) "c"
                (error) WRONGTYPE Operation against a key holding the wrong kind of value
                (integer) 2
                (integer) 1
                "value"
                (integer) 3
                1) "alice"
                2) "1"
                3) "bob"
                4) "2"
                5) "carol"
                6) "3"
                OK
                (integer) 100
                (integer) 1
                hash
                (integer) 7
                (error) ERR unknown command 'FROBNICATE', with args beginning with: 'now' 
                (error) ERR wrong number of arguments for 'get' command
                (error) ERR DB index is out of range
                (integer) 2
                """
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let expectedLines = expected.split(separator: "\n").map(String.init)
            #expect(Array(lines.prefix(expectedLines.count)) == expectedLines, "\(output)")
            // KEYS order is the server's; compare as a set.
            let keys = Set(lines.dropFirst(expectedLines.count).filter { !$0.isEmpty })
            #expect(keys == ["1) \"board\"", "2) \"temporary\""] || keys == ["1) \"temporary\"", "2) \"board\""], "\(keys)")
            let info = try cli(host, port, ["INFO", "keyspace"])
            #expect(info.contains("db0:keys=5,expires=1"), "\(info)")
        }

        @Test func redisBenchmarkDefaultSuitePipeliningAndFiftyClientsComplete() throws {
            #expect(hostToolExists("redis-benchmark"), "install Debian's redis-tools")
            let (server, host, port, cleanup) = try startServer(preferTap: true)
            defer { server.stop(); cleanup() }
            let clients = Self.tapAvailable ? "50" : "5"
            if !Self.tapAvailable { print("kv benchmark test: no tap device here; using user networking with 5 clients") }
            // The default suite (every test), fewer requests than the 10 000 to keep CI short.
            let suite = try runHostTool(["redis-benchmark", "-h", host, "-p", "\(port)", "-q", "-n", "500", "-c", clients],
                                        timeout: 600)
            let results = suite.output.replacingOccurrences(of: "\r", with: "\n").split(separator: "\n")
                .filter { $0.contains("requests per second") }
            let names = results.map { $0.split(separator: ":").first.map(String.init) ?? "" }
            #expect(names == ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD",
                              "HSET", "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)",
                              "LRANGE_100 (first 100 elements)", "LRANGE_300 (first 300 elements)",
                              "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)", "MSET (10 keys)"],
                    "\(suite.output.suffix(2000))")
            #expect(!suite.output.contains("rror"), "\(suite.output.suffix(2000))")
            let pipelined = try runHostTool(["redis-benchmark", "-h", host, "-p", "\(port)", "-q", "-n", "5000", "-P", "16",
                                             "-c", clients, "-t", "set,get"], timeout: 300)
            let pipelinedResults = pipelined.output.replacingOccurrences(of: "\r", with: "\n").split(separator: "\n")
                .filter { $0.contains("requests per second") }
            #expect(pipelinedResults.count == 2 && !pipelined.output.contains("rror"), "\(pipelined.output.suffix(1000))")
            let dbsize = try cli(host, port, ["DBSIZE"])
            #expect((Int(dbsize.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").last ?? "") ?? 0) > 0)
        }

        @Test func malformedProtocolGetsAnErrorWhileAnotherClientKeepsWorking() throws {
            let (server, _, port, cleanup) = try startServer()
            defer { server.stop(); cleanup() }
            let good = try RawClient(port: port)
            defer { good.close() }
            good.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
            #expect(String(decoding: good.receive(until: { $0.count >= 5 }), as: UTF8.self) == "+OK\r\n")
            for (request, error) in [("*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
                                     ("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
                                     ("*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"),
                                     ("SET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n")] {
                let bad = try RawClient(port: port)
                bad.send(request)
                let reply = String(decoding: bad.receive(), as: UTF8.self)      // until the server closes
                bad.close()
                #expect(reply == error, "\(request.debugDescription) → \(reply.debugDescription)")
            }
            good.send("GET k\r\n")
            #expect(String(decoding: good.receive(until: { $0.count >= 7 }), as: UTF8.self) == "$1\r\nv\r\n")
        }

        @Test func metricsOfTheKVImagePassPromtoolAndCountCommands() throws {
            #expect(hostToolExists("promtool"), "install Debian's prometheus package (promtool)")
            let (server, host, port, cleanup) = try startServer()
            defer { server.stop(); cleanup() }
            for _ in 0..<3 { _ = try cli(host, port, ["SET", "a", "1"]) }
            _ = try cli(host, port, ["GET", "a"])
            _ = try cli(host, port, ["GET", "missing"])
            let url = "http://127.0.0.1:\(server.extraPorts[9100]!)/metrics"
            let page = try runHostTool(["curl", "-sS", "--max-time", "20", url]).output
            #expect(page.contains("kv_commands_total{command=\"set\"} 3"), "\(page.suffix(1500))")
            #expect(page.contains("kv_keyspace_lookups_total{result=\"hit\"} 1"))
            #expect(page.contains("kv_keyspace_lookups_total{result=\"miss\"} 1"))
            #expect(page.contains("kv_keys 1"))
            let check = try runHostTool(["sh", "-c", "curl -sS --max-time 20 \(url) | promtool check metrics"])
            #expect(check.status == 0 && check.output.isEmpty, "promtool: \(check.output)")
        }
    }
}
