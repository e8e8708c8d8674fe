// Sockets: the application's TCP calls — listen, accept, connect, read, write, close — in two styles.
//
// Blocking (`accept`, `connect`, `read`, `write`): the calling thread parks on the stack's condition
// until the call can complete or its timeout (nanoseconds, nil = none) passes, then throws
// `.timedOut`. Non-blocking (`tryAccept`, `tryRead`, `tryWrite`) never wait, and `poll` waits for any
// of several sockets to become ready: the building blocks of an event loop that serves many
// connections from one thread (threads are limited to 64 per image).
//
// A stream is a handle (`TCPSocket`) plus the stack; copying it copies the handle, and `close`
// invalidates every copy (later calls throw `.closed`). Errors say what happened: `.reset`,
// `.refused`, `.connectionTimedOut` (retransmissions unanswered) come from TCP; `.closed` is a
// stale handle.

import Clock
import NetInterface
import NetTCP
import Threads

public enum SocketError: Error, Equatable {
    /// The peer reset the connection.
    case reset
    /// Nobody listens at the destination (RST in answer to our SYN).
    case refused
    /// Retransmissions or keep-alive probes went unanswered.
    case connectionTimedOut
    /// The call's own timeout passed.
    case timedOut
    /// The handle was closed, or the call does not fit the connection's state (write after close).
    case closed
    case addressInUse
    case noResources
    case networkDown

    init(_ error: TCPError) {
        switch error {
        case .reset: self = .reset
        case .refused: self = .refused
        case .timedOut: self = .connectionTimedOut
        case .invalidState: self = .closed
        case .addressInUse: self = .addressInUse
        case .noPortsAvailable, .tableFull: self = .noResources
        }
    }
}

public struct TCPListener<I: NetworkedImage> {
    public let port: UInt16
    let stack: NetworkStack<I>

    /// Listens on `port` of the running stack; `backlog` bounds connections not yet accepted.
    public static func listen(port: UInt16, backlog: Int = 128) throws(SocketError) -> TCPListener {
        guard let stack = NetworkStack<I>.shared else { throw .networkDown }
        let failure = stack.lock.withLock { () -> TCPError? in
            do throws(TCPError) {
                try stack.tcp.listen(port: port, backlog: backlog)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw SocketError(failure) }
        return TCPListener(port: port, stack: stack)
    }

    /// The next established connection, waiting up to `timeout` ns.
    public func accept(timeout: UInt64? = nil) throws(SocketError) -> TCPStream<I> {
        let end = deadline(after: timeout)
        let socket = stack.lock.withLock { () -> TCPSocket? in
            var accepted: TCPSocket? = nil
            _ = stack.waitLocked(deadline: end) {
                accepted = stack.tcp.accept(port: port)
                return accepted != nil
            }
            return accepted
        }
        guard let socket else { throw .timedOut }
        return TCPStream(socket: socket, stack: stack)
    }

    /// An established connection if one is waiting, else nil.
    public func tryAccept() -> TCPStream<I>? {
        stack.lock.withLock { stack.tcp.accept(port: port) }.map { TCPStream(socket: $0, stack: stack) }
    }

    public func close() {
        stack.lock.withLock { stack.tcp.stopListening(port: port) }
    }
}

public struct TCPStream<I: NetworkedImage> {
    public let socket: TCPSocket
    let stack: NetworkStack<I>

    /// Opens a connection to `remote`, waiting up to `timeout` ns for the handshake.
    public static func connect(to remote: TCPEndpoint, timeout: UInt64? = nil) throws(SocketError) -> TCPStream {
        guard let stack = NetworkStack<I>.shared else { throw .networkDown }
        let end = deadline(after: timeout)
        let result = stack.lock.withLock { () -> Result<TCPSocket, SocketError> in
            let socket: TCPSocket
            do throws(TCPError) {
                socket = try stack.tcp.connect(to: remote, now: Clock.now())
            } catch {
                return .failure(SocketError(error))
            }
            stack.flush(now: Clock.now())
            let established = stack.waitLocked(deadline: end) {
                guard let connection = stack.tcp.connection(socket) else { return true }
                return connection.state != .synSent && connection.state != .synReceived
            }
            let connection = stack.tcp.connection(socket)
            if established, let connection, connection.state.isSynchronized { return .success(socket) }
            let error = connection?.error.map(SocketError.init) ?? .timedOut
            stack.tcp.abort(socket)
            return .failure(established ? error : .timedOut)
        }
        switch result {
        case .success(let socket): return TCPStream(socket: socket, stack: stack)
        case .failure(let error): throw error
        }
    }

    public var remote: TCPEndpoint? { stack.lock.withLock { stack.tcp.connection(socket)?.remote } }
    public var local: TCPEndpoint? { stack.lock.withLock { stack.tcp.connection(socket)?.local } }
    public var state: TCPState? { stack.lock.withLock { stack.tcp.connection(socket)?.state } }

    /// Disables Nagle's algorithm for this connection.
    public func setNoDelay(_ on: Bool) {
        stack.lock.withLock { _ = try? stack.tcp.withConnection(socket) { $0.noDelay = on } }
    }

    /// Reads what is available, waiting up to `timeout` ns for at least one byte; 0 means the peer
    /// finished sending (end of stream).
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: UInt64? = nil) throws(SocketError) -> Int {
        let end = deadline(after: timeout)
        let result = stack.lock.withLock { () -> Result<Int, SocketError> in
            var outcome: Result<Int, SocketError>? = nil
            _ = stack.waitLocked(deadline: end) {
                outcome = readLocked(into: buffer)
                return outcome != nil
            }
            return outcome ?? .failure(.timedOut)
        }
        return try result.get()
    }

    /// Reads what is available without waiting: nil when nothing is (and the stream is open).
    public func tryRead(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int? {
        try stack.lock.withLock { readLocked(into: buffer) }?.get()
    }

    /// nil: nothing yet; .success(0): end of stream.
    func readLocked(into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, SocketError>? {
        do throws(TCPError) {
            let count = try stack.tcp.receive(socket, into: buffer)
            if count > 0 {
                stack.flush(now: Clock.now())          // a window update, if reading opened the window
                return .success(count)
            }
        } catch {
            return .failure(SocketError(error))
        }
        if stack.tcp.readiness(socket).contains(.hangup) { return .success(0) }
        return nil
    }

    /// Writes all of `bytes`, waiting for send-buffer space as needed (up to `timeout` ns in total).
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: UInt64? = nil) throws(SocketError) {
        let end = deadline(after: timeout)
        let failure = stack.lock.withLock { () -> SocketError? in
            var offset = 0
            var failure: SocketError? = nil
            let finished = stack.waitLocked(deadline: end) {
                switch writeLocked(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                case .success(let count): offset += count
                case .failure(let error): failure = error
                }
                return failure != nil || offset == bytes.count
            }
            return failure ?? (finished ? nil : .timedOut)
        }
        if let failure { throw failure }
    }

    public func write(_ bytes: [UInt8], timeout: UInt64? = nil) throws(SocketError) {
        // withUnsafeBytes rethrows `any Error`; carry the typed error out as a value.
        let failure = bytes.withUnsafeBytes { buffer -> SocketError? in
            do throws(SocketError) { try write(buffer, timeout: timeout) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Queues as much of `bytes` as fits now; returns how many bytes were taken (0 when the send
    /// buffer is full).
    public func tryWrite(_ bytes: UnsafeRawBufferPointer) throws(SocketError) -> Int {
        try stack.lock.withLock { writeLocked(bytes) }.get()
    }

    func writeLocked(_ bytes: UnsafeRawBufferPointer) -> Result<Int, SocketError> {
        guard !bytes.isEmpty else { return .success(0) }
        do throws(TCPError) {
            let count = try stack.tcp.send(socket, bytes)
            if count > 0 { stack.flush(now: Clock.now()) }
            return .success(count)
        } catch {
            return .failure(SocketError(error))
        }
    }

    /// Bytes written but not yet acknowledged by the peer.
    public var unacknowledgedBytes: Int { stack.lock.withLock { stack.tcp.connection(socket)?.unacknowledgedBytes ?? 0 } }

    /// Graceful close: queued data is still delivered, then FIN. The handle becomes invalid.
    public func close() {
        stack.lock.withLock {
            stack.tcp.close(socket)
            stack.flush(now: Clock.now())
        }
    }

    /// Abortive close: RST, queued data discarded. The handle becomes invalid.
    public func abort() {
        stack.lock.withLock {
            stack.tcp.abort(socket)
            stack.flush(now: Clock.now())
        }
    }

    public var readiness: TCPReadiness { stack.lock.withLock { stack.tcp.readiness(socket) } }
}

/// One entry of a `poll`: a listener or a stream, what the caller waits for, and what is ready.
public struct PollEntry {
    public enum Target: Equatable {
        case listener(port: UInt16)
        case stream(TCPSocket)
    }

    public var target: Target
    public var interest: TCPReadiness
    public internal(set) var ready: TCPReadiness = []

    public init(_ target: Target, interest: TCPReadiness = .readable) {
        self.target = target
        self.interest = interest
    }
}

extension NetworkStack {
    /// Waits until at least one entry is ready for something it is interested in (errors and hangups
    /// always count), or `timeout` ns pass. Returns how many entries are ready.
    public func poll(_ entries: inout [PollEntry], timeout: UInt64? = nil) -> Int {
        let end = deadline(after: timeout)
        return lock.withLock {
            var ready = 0
            _ = waitLocked(deadline: end) {
                ready = 0
                for index in entries.indices {
                    var state: TCPReadiness
                    switch entries[index].target {
                    case .listener(let port): state = tcp.hasPendingConnection(port: port) ? .readable : []
                    case .stream(let socket): state = tcp.readiness(socket)
                    }
                    state = state.intersection(entries[index].interest.union([.hangup, .error]))
                    entries[index].ready = state
                    if !state.isEmpty { ready += 1 }
                }
                return ready > 0
            }
            return ready
        }
    }
}

extension SocketError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .reset: return "connection reset"
        case .refused: return "connection refused"
        case .connectionTimedOut: return "connection timed out"
        case .timedOut: return "timed out"
        case .closed: return "socket closed"
        case .addressInUse: return "address in use"
        case .noResources: return "no resources (connection table or ports exhausted)"
        case .networkDown: return "network not started"
        }
    }
}
