// RedisHandler: one client connection of the key-value server, for the network stack's StreamServer.
//
// Every complete command in the inbox is executed at once, in order, and its reply appended to the
// outbox, so pipelined commands (`redis-benchmark -P 16`) are answered in one write. A protocol error
// is answered with Redis's error text and the connection closed, as Redis does; QUIT closes after +OK.
// The database is shared by every connection (one thread serves them all, so no lock is needed).

import Clock
import Kernel
import KVStore
import NetStack
import NetTCP
import RESP

/// The one database, shared by reference between the connections.
final class Database {
    var store: KVStore
    var nextClientID: UInt64 = 1
    /// The append-only file, when kv.appendonly=yes (AppendOnlyFile.swift).
    var appendOnly: AppendOnlyFile? = nil

    init(_ store: KVStore) {
        self.store = store
    }

    /// Writes what the commands so far logged to the append-only file (and fsyncs under `always`)
    /// before their replies go out. A failed write under `always` stops the server, as Redis does: it
    /// could no longer promise what it acknowledges.
    func persist() {
        guard let file = appendOnly else { return }
        if !file.write(from: &store) && file.policy == .always {
            print("kv: cannot recover from an append-only file write error with appendfsync always; exiting")
            Kernel<TesseraImage>.exit(code: 1)
        }
    }

    /// Milliseconds of Unix time (the wall clock read at boot, advanced by the monotonic clock).
    static func milliseconds() -> UInt64 {
        let time = Clock.wallTime()
        return UInt64(max(time.seconds, 0)) * 1000 + UInt64(time.nanoseconds / 1_000_000)
    }
}

struct RedisHandler: StreamHandler {
    let database: Database
    var client: KVClient
    var parser = RESPParser()

    init(database: Database, peer: TCPEndpoint) {
        self.database = database
        client = KVClient(id: database.nextClientID, address: Array("\(peer)".utf8),
                          connectedAt: Database.milliseconds())
        database.nextClientID += 1
        database.store.server.connectedClients += 1
        database.store.server.totalConnectionsReceived += 1
    }

    mutating func received(_ inbox: inout [UInt8], outbox: inout Outbox, now: UInt64) -> Bool {
        var consumed = 0
        var close = false
        let milliseconds = Database.milliseconds()
        scan: while consumed < inbox.count {
            switch parser.parse(inbox[consumed...]) {
            case .needMore:
                break scan
            case .command(let arguments, let used):
                consumed += used
                if database.store.execute(arguments, client: &client, now: milliseconds, reply: &outbox.pending) == .close {
                    close = true
                    break scan
                }
            case .error(let error):
                error.write(into: &outbox.pending)
                consumed = inbox.count
                close = true
                break scan
            }
        }
        inbox.removeFirst(consumed)
        database.persist()
        return close
    }

    mutating func inboxOverflow(outbox: inout Outbox) {
        RESPReply.error("ERR Protocol error: request too large", into: &outbox.pending)
    }

    mutating func closed() {
        database.store.server.connectedClients -= 1
    }
}
