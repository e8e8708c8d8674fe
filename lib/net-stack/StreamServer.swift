// StreamServer: an event loop that serves many TCP connections from one thread.
//
// The server owns the listener and every connection's buffers; a protocol is a `StreamHandler`, one
// value per connection, that turns received bytes into replies. Each turn of the loop polls the
// listener and the connections (a connection waits for "readable" while it has nothing to send and
// for "writable" while it does), accepts, reads what arrived into the connection's inbox and hands it
// to the handler — which consumes complete requests from the front and appends replies to the outbox
// — then writes as much of the outbox as the send buffer takes. Reading pauses while replies are
// pending, so a client that pipelines without reading cannot make the server buffer without bound.
//
// Replies are chunks: bytes the outbox owns, or a view of memory that outlives the connection (an
// embedded file), sent without copying until TCP takes it. Connections beyond `maximumConnections`
// are sent `refusal` and closed at once: a clean refusal rather than a silent stall. A connection
// idle for `idleTimeout`, or whose inbox grows past `maximumInbox` without a complete request, is
// closed (the handler may first append an error reply: `inboxOverflow`).

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
    /// Called when the connection is closed, for whatever reason.
    mutating func closed()
}

extension StreamHandler {
    public mutating func inboxOverflow(outbox: inout Outbox) {}
    public mutating func closed() {}
}

public struct StreamServerConfiguration {
    public var port: UInt16
    public var backlog = 128
    public var maximumConnections = 128
    /// Sent to a connection refused for being over the limit.
    public var refusal: [UInt8] = []
    public var idleTimeout: UInt64 = 30_000_000_000
    public var maximumInbox = 64 * 1024
    /// How often `tick` runs at least (it also runs after every wake-up).
    public var tickInterval: UInt64 = 100_000_000

    public init(port: UInt16) {
        self.port = port
    }
}

public struct StreamServerStatistics {
    public var accepted = 0, refused = 0, closedIdle = 0, closedOverflow = 0, failed = 0
    public var open = 0
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
    }

    public let configuration: StreamServerConfiguration
    public private(set) var statistics = StreamServerStatistics()
    let stack: NetworkStack<I>
    let listener: TCPListener<I>
    let makeHandler: (TCPEndpoint) -> Handler
    var connections: [Connection] = []

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
        var entries: [PollEntry] = []
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            entries.removeAll(keepingCapacity: true)
            entries.append(PollEntry(.listener(port: configuration.port)))
            for connection in connections {
                entries.append(PollEntry(.stream(connection.stream.socket),
                                         interest: connection.outbox.isEmpty ? .readable : .writable))
            }
            _ = stack.poll(&entries, timeout: configuration.tickInterval)
            let now = Clock.now()
            if !entries[0].ready.isEmpty { acceptAll(now: now) }
            var index = 0
            var entry = 1
            while index < connections.count {
                let ready = entry < entries.count && !entries[entry].ready.isEmpty
                entry += 1
                if service(&connections[index], ready: ready, scratch: &scratch, now: now) {
                    index += 1
                } else {
                    connections[index].handler.closed()
                    connections[index].stream.close()
                    connections.remove(at: index)
                }
            }
            statistics.open = connections.count
            tick(now)
        }
    }

    func acceptAll(now: UInt64) {
        while let stream = listener.tryAccept() {
            guard connections.count < configuration.maximumConnections else {
                statistics.refused += 1
                if !configuration.refusal.isEmpty { _ = configuration.refusal.withUnsafeBytes { try? stream.tryWrite($0) } }
                stream.close()
                continue
            }
            statistics.accepted += 1
            let client = stream.remote ?? TCPEndpoint(.unspecified, 0)
            connections.append(Connection(stream: stream, handler: makeHandler(client), lastActivity: now))
        }
    }

    /// Reads, answers, writes. False when the connection is done.
    func service(_ connection: inout Connection, ready: Bool, scratch: inout [UInt8], now: UInt64) -> Bool {
        if ready || !connection.outbox.isEmpty {
            connection.lastActivity = now
            while connection.outbox.isEmpty && !connection.closeAfterWrite && !connection.peerFinished {
                let result = scratch.withUnsafeMutableBytes { buffer in
                    Result { () throws(SocketError) in try connection.stream.tryRead(into: buffer) }
                }
                guard case .success(let count) = result else {
                    statistics.failed += 1
                    return false
                }
                guard let count else { break }
                if count == 0 {
                    connection.peerFinished = true
                    break
                }
                connection.inbox.append(contentsOf: scratch[0..<count])
                if connection.handler.received(&connection.inbox, outbox: &connection.outbox, now: now) {
                    connection.closeAfterWrite = true
                }
                if connection.inbox.count > configuration.maximumInbox && connection.outbox.isEmpty {
                    statistics.closedOverflow += 1
                    connection.handler.inboxOverflow(outbox: &connection.outbox)
                    connection.closeAfterWrite = true
                }
            }
            guard write(&connection) else {
                statistics.failed += 1
                return false
            }
        }
        if connection.outbox.isEmpty && (connection.closeAfterWrite || connection.peerFinished) { return false }
        if now - connection.lastActivity > configuration.idleTimeout {
            statistics.closedIdle += 1
            return false
        }
        return true
    }

    /// Writes the outbox as far as the send buffer allows. False when the connection failed.
    func write(_ connection: inout Connection) -> Bool {
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
            connection.outbox.written += count
            if connection.outbox.written == chunk.count {
                connection.outbox.chunks.removeFirst()
                connection.outbox.written = 0
            }
        }
        return true
    }
}
