// kv: a Redis-compatible key-value server. The command semantics live in the kv-store library (host-
// tested against Redis 7.0), the protocol in resp; this file configures them, serves every client
// from one thread with the network stack's StreamServer (RedisHandler.swift), runs active expiry ten
// times a second (Redis's hz 10), keeps an append-only file when asked (AppendOnlyFile.swift), and publishes the server's own metrics next to the kit's when the
// image selects metrics-exporter (KVMetrics.swift).

import BootArguments
import Clock
import Kernel
import KVStore
import NetStack
import NetTCP

struct KVServer: Application {
    static func main(arguments: [String]) -> Int32 {
        var configuration = KVConfiguration()
        if let text = kernelParameters.kernelValue("kv.maxmemory") {
            guard let bytes = parseBytes(text) else { print("kv: bad kv.maxmemory=\(text)"); return 2 }
            configuration.maxMemory = bytes
        }
        if let text = kernelParameters.kernelValue("kv.policy") {
            guard let policy = KVEvictionPolicy(name: ArraySlice(text.utf8)) else { print("kv: bad kv.policy=\(text)"); return 2 }
            configuration.evictionPolicy = policy
        }
        // Redis's defaults: 10000 clients (fewer when memory runs short: then new clients are refused
        // with Redis's error), and no idle timeout (`timeout 0`).
        var maximumClients = 10000
        if let text = kernelParameters.kernelValue("kv.maxclients") {
            guard let value = Int(text), value > 0 else { print("kv: bad kv.maxclients=\(text)"); return 2 }
            maximumClients = value
        }
        var idleSeconds: UInt64 = 0
        if let text = kernelParameters.kernelValue("kv.timeout") {
            guard let value = UInt64(text) else { print("kv: bad kv.timeout=\(text)"); return 2 }
            idleSeconds = value
        }
        var reportSeconds: UInt64 = 0
        if let text = kernelParameters.kernelValue("kv.report") {
            guard let value = UInt64(text) else { print("kv: bad kv.report=\(text)"); return 2 }
            reportSeconds = value
        }
        var tcp = TCPConfiguration()
        tcp.receiveBufferSize = 16 * 1024
        tcp.sendBufferSize = 32 * 1024
        tcp.noDelay = true
        let network: Network
        do {
            network = try Network.start(.automatic, tcp: tcp)
        } catch {
            print("kv: no network: \(error)")
            return 1
        }
        let database = Database(KVStore(configuration: configuration,
                                        server: KVServerInfo(tcpPort: 6379, startedAt: Database.milliseconds(),
                                                             maxClients: maximumClients),
                                        seed: UInt64.random(in: .min ... .max)))
        let opened = AppendOnlyFile.open(into: &database.store, now: Database.milliseconds())
        if opened.failed { return 1 }
        database.appendOnly = opened.file
        registerKVMetrics(database)
        var serverConfiguration = StreamServerConfiguration(port: 6379)
        serverConfiguration.maximumConnections = maximumClients
        serverConfiguration.idleTimeout = idleSeconds == 0 ? nil : idleSeconds * 1_000_000_000
        // Under memory pressure (a flood of idle or half-sent clients in a small VM) the client idle
        // longest makes room; at maxclients newcomers are refused, as Redis does.
        serverConfiguration.evictIdleAfter = 1_000_000_000
        serverConfiguration.evictWhenFull = false
        serverConfiguration.maximumInbox = 1 << 20
        serverConfiguration.refusal = Array("-ERR max number of clients reached\r\n".utf8)
        let server: StreamServer<TesseraImage, RedisHandler>
        do {
            server = try StreamServer(serverConfiguration) { peer in RedisHandler(database: database, peer: peer) }
        } catch {
            print("kv: cannot listen on port 6379: \(error)")
            return 1
        }
        print("kv: ready on \(network.configuration.address):6379, maxmemory \(configuration.maxMemory) bytes, policy \(configuration.evictionPolicy.name)")
        var nextExpiry: UInt64 = 0
        var nextReport = reportSeconds == 0 ? UInt64.max : Clock.now() + reportSeconds * 1_000_000_000
        server.run { now in
            if now >= nextReport {
                nextReport = now + reportSeconds * 1_000_000_000
                print("kv: report: \(server.report())")
            }
            database.appendOnly?.tick(now: now)
            guard now >= nextExpiry else { return }
            nextExpiry = now + 100_000_000
            _ = database.store.activeExpireCycle(now: Database.milliseconds())
            database.persist()
            database.store.server.rejectedConnections = UInt64(server.statistics.refused)
        }
    }

    /// "8M", "512K", "1048576" → bytes.
    static func parseBytes(_ text: String) -> Int? {
        var digits = text
        var scale = 1
        if let last = digits.last, last == "K" || last == "k" { scale = 1 << 10; digits.removeLast() }
        else if let last = digits.last, last == "M" || last == "m" { scale = 1 << 20; digits.removeLast() }
        else if let last = digits.last, last == "G" || last == "g" { scale = 1 << 30; digits.removeLast() }
        guard let value = Int(digits), value >= 0 else { return nil }
        return value * scale
    }
}
