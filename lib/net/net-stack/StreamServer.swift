// StreamServer: an event loop that serves many TCP connections from one thread.
//
// The server owns the listener and every connection's buffers; a protocol is a `StreamHandler`, one
// value per connection, that turns received bytes into replies. Each turn of the loop polls the
// listener and the connections (a connection waits for "readable" while it has nothing to send and
// for "writable" while it does), reads what arrived into the connection's inbox and hands it to the
// handler — which consumes complete requests from the front and appends replies to the outbox —
// writes as much of the outbox as the send buffer takes, and then accepts. Reading pauses while
// replies are pending, so a client that pipelines without reading cannot make the server buffer
// without bound.
//
// Replies are chunks: bytes the outbox owns, or a view of memory that outlives the connection (an
// embedded file), sent without copying until TCP takes it.
//
// No client can exhaust the server (slowloris, idle floods, huge partial requests):
//   - `requestTimeout`: a request that is still incomplete this long after its first byte closes the
//     connection (the handler may first append a reply: `requestTimedOut`, HTTP's 408), however
//     slowly its bytes keep coming — nginx's client_header_timeout;
//   - `idleTimeout`: a connection that neither sends a byte nor takes one of its replies for this long
//     is closed (reset if replies were still pending: a client that never reads cannot pin them);
//   - `maximumInbox`: an incomplete request larger than this closes the connection (`inboxOverflow`);
//   - admission: at `maximumConnections` (if `evictWhenFull`), or when the image's memory runs short
//     (`memoryReserve`), a new connection first evicts the connection idle longest if that one was
//     idle for at least `evictIdleAfter` (reset, counted) — so a flood of slow or idle clients cannot
//     lock real clients out; a full server that cannot evict sends `refusal` and closes, a short one
//     still admits while `minimumMemory` is left; under memory pressure the server evicts so
//     on its own, before the TCP stack would have to drop SYNs;
//   - the inbox grows only while the image can spare the memory: a connection whose request would
//     need more is closed (counted as closedMemory), not the image.
// Each connection costs its control block and handler while idle: TCP buffers and the inbox are
// allocated as bytes arrive and returned when they empty.

import Clock
import NetTCP

/// One reply chunk.
public enum OutboxChunk {
    case owned([UInt8])
    /// Memory that stays valid for the whole run (e.g. embedded files).
    case borrowed(UnsafeRawBufferPointer)

    var count: Int {
        switch self {
        case .owned(let bytes): return bytes.count
        case .borrowed(let bytes): return bytes.count
        }
    }
}

/// What a connection has to send.
public struct Outbox {
    var chunks: [OutboxChunk] = []
    /// Bytes of the first chunk already written.
    var written = 0
    /// Owned bytes collected before they become a chunk (small replies coalesce into one write).
    public var pending: [UInt8] = []

    public init() {}

    public var isEmpty: Bool { chunks.isEmpty && pending.isEmpty }

    /// Appends bytes that outlive the connection, after what is pending.
    public mutating func append(borrowing bytes: UnsafeRawBufferPointer) {
        flushPending()
        if !bytes.isEmpty { chunks.append(.borrowed(bytes)) }
    }

    mutating func flushPending() {
        guard !pending.isEmpty else { return }
        chunks.append(.owned(pending))
        pending = []
    }
}

/// A protocol spoken on one connection.
public protocol StreamHandler {
    /// Consumes complete requests from the front of `inbox` and appends their replies to `outbox`.
    /// Returns true when the connection should close once the outbox is written.
    mutating func received(_ inbox: inout [UInt8], outbox: inout Outbox, now: UInt64) -> Bool
    /// The inbox passed the limit without a complete request: append a last reply (or nothing).
    mutating func inboxOverflow(outbox: inout Outbox)
    /// A request stayed incomplete past `requestTimeout`: append a last reply (or nothing).
    mutating func requestTimedOut(outbox: inout Outbox)
    /// Called when the connection is closed, for whatever reason.
    mutating func closed()
}

extension StreamHandler {
    public mutating func inboxOverflow(outbox: inout Outbox) {}
    public mutating func requestTimedOut(outbox: inout Outbox) {}
    public mutating func closed() {}
}

public struct StreamServerConfiguration {
    public var port: UInt16
    public var backlog = 128
    public var maximumConnections = 1024
    /// Sent to a connection refused for being over the limit.
    public var refusal: [UInt8] = []
    /// A connection with no request pending is closed after this long without a byte (nil: never).
    public var idleTimeout: UInt64? = 30_000_000_000
    /// A request still incomplete this long after its first byte closes the connection (nil: never).
    public var requestTimeout: UInt64? = nil
    /// When the server is full, a newcomer evicts the connection idle longest if that one has been
    /// idle at least this long (nil: never evict, refuse the newcomer).
    public var evictIdleAfter: UInt64? = nil
    /// Whether reaching `maximumConnections` evicts (false: only memory pressure does, and a full
    /// server refuses newcomers — Redis's maxclients behaviour).
    public var evictWhenFull = true
    public var maximumInbox = 64 * 1024
    /// New connections are admitted (or make room by eviction) only while the image could still
    /// allocate this much; inboxes grow only while they leave it free.
    /// (Above NetworkMemory's headroom for buffers, 24 KiB, and the TCP stack's admission, 16 KiB:
    /// evicting starts before buffers or SYNs are refused.)
    public var memoryReserve = 64 * 1024
    /// Below this the server admits nobody without evicting first.
    public var minimumMemory = 32 * 1024
    /// How often `tick` runs at least (it also runs after every wake-up).
    public var tickInterval: UInt64 = 100_000_000

    public init(port: UInt16) {
        self.port = port
    }
}

public struct StreamServerStatistics {
    public var accepted = 0, refused = 0, closedIdle = 0, closedOverflow = 0, failed = 0
    /// Closed because a request stayed incomplete past the request timeout.
    public var closedRequestTimeout = 0
    /// Idle connections reset to make room for a newcomer.
    public var evicted = 0
    /// Closed because their inbox could not grow (the image was short of memory).
    public var closedMemory = 0
    public var open = 0
    /// Bytes held by all inboxes (capacity) now.
    public var inboxBytes = 0
}

public final class StreamServer<I: NetworkedImage, Handler: StreamHandler> {
    struct Connection {
        let stream: TCPStream<I>
        var handler: Handler
        var inbox: [UInt8] = []
        var outbox = Outbox()
        var closeAfterWrite = false
        var peerFinished = false
        var lastActivity: UInt64
        /// When the first byte of the request still incomplete in the inbox arrived.
        var requestStarted: UInt64?
        /// Close with RST (evicted, or a request that timed out) rather than FIN.
        var reset = false
    }

    public let configuration: StreamServerConfiguration
    public private(set) var statistics = StreamServerStatistics()
    let stack: NetworkStack<I>
    let listener: TCPListener<I>
    let makeHandler: (TCPEndpoint) -> Handler
    var connections: [Connection] = []
    /// The poll set, one entry per connection after the listener's (kept to avoid reallocating).
    var pollEntries: [PollEntry] = []
    /// Room for this many new TCP connections is kept by evicting idle ones under memory pressure.
    static var spareConnections: Int { 8 }
    /// An inbox grows only while this much stays free beyond it (what TCP needs to admit a SYN).
    static var inboxHeadroom: Int { 16 * 1024 }

    /// Listens on `configuration.port`; `makeHandler` creates the handler of each new connection.
    public init(_ configuration: StreamServerConfiguration, handler makeHandler: @escaping (TCPEndpoint) -> Handler) throws(SocketError) {
        guard let stack = NetworkStack<I>.shared else { throw .networkDown }
        self.stack = stack
        self.configuration = configuration
        self.makeHandler = makeHandler
        listener = try TCPListener<I>.listen(port: configuration.port, backlog: configuration.backlog)
    }

    /// Serves forever; `tick(now)` runs after every wake-up and at least every `tickInterval`.
    public func run(tick: (UInt64) -> Void = { _ in }) -> Never {
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            pollEntries.removeAll(keepingCapacity: true)
            pollEntries.append(PollEntry(.listener(port: configuration.port)))
            for connection in connections {
                pollEntries.append(PollEntry(.stream(connection.stream.socket),
                                         interest: connection.outbox.isEmpty ? .readable : .writable))
            }
            _ = stack.poll(&pollEntries, timeout: configuration.tickInterval)
            let now = Clock.now()
            var index = 0
            var entry = 1
            var inboxBytes = 0
            while index < connections.count {
                let ready = entry < pollEntries.count && !pollEntries[entry].ready.isEmpty
                entry += 1
                if service(&connections[index], ready: ready, scratch: &scratch, now: now) {
                    inboxBytes += connections[index].inbox.capacity
                    index += 1
                } else {
                    drop(at: index)
                }
            }
            statistics.inboxBytes = inboxBytes
            // Memory pressure: make room before the network stack has to refuse SYNs (a refused SYN
            // costs a real client a second-long retransmission).
            while (SystemMemory.available < configuration.memoryReserve || stack.connectionRoom < Self.spareConnections)
                    && evictIdlest(now: now) {}
            if !pollEntries[0].ready.isEmpty { acceptAll(now: now) }
            statistics.open = connections.count
            tick(now)
        }
    }

    func drop(at index: Int) {
        connections[index].handler.closed()
        if connections[index].reset { connections[index].stream.abort() } else { Self.closeLingering(connections[index].stream) }
        connections.remove(at: index)
    }

    /// Closes after discarding what the client sent and nobody read (a pipelined request after a
    /// `Connection: close`, say): closing with unread data resets the connection (Linux does the
    /// same), and a reset can destroy the last answer before the client read it. Later data is
    /// acknowledged and dropped by TCP.
    static func closeLingering(_ stream: TCPStream<I>) {
        var discard: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &discard) { buffer in
            while let count = try? stream.tryRead(into: buffer), count > 0 {}
        }
        stream.close()
    }

    func acceptAll(now: UInt64) {
        while let stream = listener.tryAccept() {
            let available = SystemMemory.available
            let full = connections.count >= configuration.maximumConnections
            // Full: evict or refuse. Short of memory: evict if someone is idle enough, else admit
            // while the newcomer's own state still fits (`minimumMemory`).
            let admitted = full ? configuration.evictWhenFull && evictIdlest(now: now)
                : available >= configuration.memoryReserve || evictIdlest(now: now)
                    || available >= configuration.minimumMemory
            guard admitted, connections.reserveOneMore(), pollEntries.reserveFallibly(connections.count + 2) else {
                statistics.refused += 1
                if full && !configuration.refusal.isEmpty {
                    // At the limit: say so, as Redis and nginx do.
                    _ = configuration.refusal.withUnsafeBytes { try? stream.tryWrite($0) }
                    Self.closeLingering(stream)
                } else {
                    stream.abort()                  // short of memory: give the connection's memory back now
                }
                continue
            }
            statistics.accepted += 1
            let client = stream.remote ?? TCPEndpoint(.unspecified, 0)
            connections.append(Connection(stream: stream, handler: makeHandler(client), lastActivity: now))
        }
    }

    /// Resets the connection idle longest, if it has been idle for `evictIdleAfter`. True if one went.
    func evictIdlest(now: UInt64) -> Bool {
        guard let threshold = configuration.evictIdleAfter, !connections.isEmpty else { return false }
        var idlest = 0
        for index in connections.indices where connections[index].lastActivity < connections[idlest].lastActivity {
            idlest = index
        }
        guard now - connections[idlest].lastActivity >= threshold else { return false }
        statistics.evicted += 1
        connections[idlest].reset = true
        drop(at: idlest)
        return true
    }

    /// Reads, answers, writes. False when the connection is done.
    func service(_ connection: inout Connection, ready: Bool, scratch: inout [UInt8], now: UInt64) -> Bool {
        if ready || !connection.outbox.isEmpty {
            while connection.outbox.isEmpty && !connection.closeAfterWrite && !connection.peerFinished {
                let result = scratch.withUnsafeMutableBytes { buffer in
                    Result { () throws(SocketError) in try connection.stream.tryRead(into: buffer) }
                }
                guard case .success(let count) = result else {
                    statistics.failed += 1
                    return false
                }
                guard let count else { break }
                connection.lastActivity = now
                if count == 0 {
                    connection.peerFinished = true
                    break
                }
                guard reserveInbox(&connection.inbox, adding: count) else {
                    statistics.closedMemory += 1
                    connection.reset = true
                    return false
                }
                connection.inbox.append(contentsOf: scratch[0..<count])
                let held = connection.inbox.count
                if connection.handler.received(&connection.inbox, outbox: &connection.outbox, now: now) {
                    connection.closeAfterWrite = true
                }
                if connection.inbox.isEmpty {
                    connection.requestStarted = nil
                    if connection.inbox.capacity > 4096 { connection.inbox = [] }   // give a big request's room back
                } else if connection.requestStarted == nil || connection.inbox.count < held {
                    connection.requestStarted = now                 // a new request began in this read
                }
                if connection.inbox.count > configuration.maximumInbox && connection.outbox.isEmpty {
                    statistics.closedOverflow += 1
                    connection.handler.inboxOverflow(outbox: &connection.outbox)
                    connection.closeAfterWrite = true
                }
            }
            guard write(&connection, now: now) else {
                statistics.failed += 1
                return false
            }
        }
        if connection.outbox.isEmpty && (connection.closeAfterWrite || connection.peerFinished) { return false }
        if let timeout = configuration.requestTimeout, let started = connection.requestStarted,
           now - started > timeout, !connection.closeAfterWrite {
            statistics.closedRequestTimeout += 1
            connection.inbox = []
            connection.requestStarted = nil
            connection.handler.requestTimedOut(outbox: &connection.outbox)
            connection.closeAfterWrite = true
            guard !connection.outbox.isEmpty, write(&connection, now: now) else {
                connection.reset = true
                return false
            }
            return !connection.outbox.isEmpty
        }
        if let timeout = configuration.idleTimeout, now - connection.lastActivity > timeout {
            // Silent for too long: waiting for a request, or not reading its replies (reset then,
            // nothing more would be delivered).
            statistics.closedIdle += 1
            connection.reset = !connection.outbox.isEmpty
            return false
        }
        return true
    }

    /// Makes room for `count` more bytes in `inbox` if the image can spare it (doubling, as arrays do).
    func reserveInbox(_ inbox: inout [UInt8], adding count: Int) -> Bool {
        let needed = inbox.count + count
        guard needed > inbox.capacity else { return true }
        let capacity = max(needed, inbox.capacity * 2, 256)
        guard SystemMemory.available >= capacity + Self.inboxHeadroom else { return false }
        inbox.reserveCapacity(capacity)
        return true
    }

    /// Writes the outbox as far as the send buffer allows (progress counts as activity). False when the
    /// connection failed.
    func write(_ connection: inout Connection, now: UInt64) -> Bool {
        connection.outbox.flushPending()
        while let chunk = connection.outbox.chunks.first {
            let offset = connection.outbox.written
            let result: Result<Int, SocketError>
            switch chunk {
            case .owned(let bytes):
                result = bytes.withUnsafeBytes { all in
                    Result { () throws(SocketError) in try connection.stream.tryWrite(UnsafeRawBufferPointer(rebasing: all[offset...])) }
                }
            case .borrowed(let bytes):
                result = Result { () throws(SocketError) in try connection.stream.tryWrite(UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
            }
            guard case .success(let count) = result else { return false }
            if count == 0 { break }
            connection.lastActivity = now
            connection.outbox.written += count
            if connection.outbox.written == chunk.count {
                connection.outbox.chunks.removeFirst()
                connection.outbox.written = 0
            }
        }
        return true
    }
}
