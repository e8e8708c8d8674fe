// KVMetrics: the server's own Prometheus series (keys, memory, clients, hits and misses, expired and
// evicted keys, commands by name), filled at scrape time from the store's statistics — compiled only
// when the image selects metrics-exporter, so an image without it carries none of this.

#if canImport(MetricsExporter)
import Kernel
import Metrics
import MetricsExporter

/// The server's own series, filled at scrape time from the store's statistics.
func registerKVMetrics(_ database: Database) {
    let registry = MetricsExporter<TesseraImage>.registry
    do throws(MetricsError) {
        let keys = try registry.gauge("kv_keys", help: "Keys in the database.")
        let memory = try registry.gauge("kv_memory_bytes", help: "The database's memory estimate.")
        let clients = try registry.gauge("kv_connected_clients", help: "Clients connected.")
        let lookups = try registry.counterFamily("kv_keyspace_lookups_total", help: "Key lookups by result.",
                                                 labelNames: ["result"])
        let hits = try registry.counter(lookups, labelValues: ["hit"]), misses = try registry.counter(lookups, labelValues: ["miss"])
        let expired = try registry.counter("kv_expired_keys_total", help: "Keys deleted because they expired.")
        let evicted = try registry.counter("kv_evicted_keys_total", help: "Keys evicted to respect maxmemory.")
        let commands = try registry.counterFamily("kv_commands_total", help: "Commands executed, by name.",
                                                  labelNames: ["command"])
        registry.addCollector { registry in
            let store = database.store
            registry.set(keys, to: Int64(store.keyCount))
            registry.set(memory, to: Int64(store.usedMemory))
            registry.set(clients, to: Int64(store.server.connectedClients))
            registry.set(hits, to: store.statistics.keyspaceHits)
            registry.set(misses, to: store.statistics.keyspaceMisses)
            registry.set(expired, to: store.statistics.expiredKeys)
            registry.set(evicted, to: store.statistics.evictedKeys)
            for command in store.commandStatistics() where command.calls > 0 {
                var name = ""
                command.name.withUTF8Buffer { name = String(decoding: $0, as: UTF8.self) }
                if let series = try? registry.counter(commands, labelValues: [name]) {
                    registry.set(series, to: command.calls)
                }
            }
        }
    } catch {
        print("kv: metrics: \(error.message)")
    }
}
#else
func registerKVMetrics(_ database: Database) {}
#endif
