// TCPStack: the connection table of one IPv4 address — demultiplexing, listeners, user calls by handle.
//
// Arriving segments are checked (TCPPacket: lengths and options; TCPRepr: checksum) and looked up by
// (local port, remote address, remote port) in a dictionary. A segment for no connection goes to a
// listener on its port: a SYN opens a connection in SYN-RECEIVED if the listener's backlog has room
// (otherwise it is answered with a SYN cookie, SynCookies.swift — or, with cookies off, dropped and
// counted so the peer retries), an ACK that returns a valid cookie completes a connection, any other ACK is answered with RST,
// anything else dropped — and so is a SYN that arrives while the buffer budget or the image's memory
// is short (`admissionReserve`, counted as memoryRefusals) even after resetting orphans (connections
// the application closed that still wait for the peer, oldest first); with no listener either, the CLOSED-state rules answer with RST (RFC 9293
// 3.10.7.1). A SYN for a connection in TIME-WAIT whose sequence number is above the old RCV.NXT ends
// the TIME-WAIT and opens a new connection (RFC 9293 3.10.7.4 / RFC 6191 without timestamps), so a
// client reconnecting quickly from the same port is not refused.
//
// Connections live in slots addressed by `TCPSocket` handles (slot index + generation, so a stale
// handle is refused instead of reaching another connection). A slot is freed when its connection is
// CLOSED and nobody can still ask about it: the application called `close`/`abort`, or it was never
// accepted. When the table is full, the oldest TIME-WAIT entry the application already closed is
// recycled (Linux's tcp_max_tw_buckets behaviour). Listeners hand out established connections oldest
// first from `accept`, through a per-port accept queue; the backlog counts embryonic and queued ones.
// `poll` visits only connections that something happened to or whose cached timer is due, so
// thousands of idle or TIME-WAIT entries cost a scan of two fields each, not a poll each.

import NetWire

/// A handle to one connection.
public struct TCPSocket: Hashable, Sendable {
    public let index: Int32
    public let generation: UInt32
}

/// What a connection is ready for, for event loops (`select`-style readiness).
public struct TCPReadiness: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `receive` returns data, or the peer has finished (EOF), or an error is pending.
    public static let readable = TCPReadiness(rawValue: 1)
    /// `send` accepts at least one byte.
    public static let writable = TCPReadiness(rawValue: 2)
    /// The peer sent FIN and everything was read, or the connection is gone.
    public static let hangup = TCPReadiness(rawValue: 4)
    /// The connection ended abnormally (reset, refused, timed out).
    public static let error = TCPReadiness(rawValue: 8)
}

public struct TCPStatistics: Equatable, Sendable {
    public var segmentsIn = 0, segmentsOut = 0, malformed = 0, badChecksum = 0
    public var resetsSent = 0, activeOpens = 0, passiveOpens = 0, listenOverflows = 0, timeWaitReused = 0
    public var timeWaitRecycled = 0, closedPortSegments = 0
    /// SYN cookies sent (backlog full), returned and valid, returned and invalid (dropped or reset).
    public var synCookiesSent = 0, synCookiesAccepted = 0, synCookiesRejected = 0
    /// SYNs dropped because the connection-buffer budget or the image's memory was short.
    public var memoryRefusals = 0
    /// Orphans reset to admit a new connection; closes that became resets because data was unread.
    public var orphansReset = 0, closedWithUnreadData = 0
    /// Sums over all connections, past and present (for metrics).
    public var retransmittedSegments = 0, fastRetransmits = 0, timeouts = 0, duplicateAcks = 0
    public var challengeAcks = 0, outOfOrderSegments = 0, windowProbes = 0, keepAliveProbes = 0
    public var connectionsReset = 0, connectionsTimedOut = 0
    public init() {}

    /// Adds what one connection counted between two snapshots.
    mutating func absorb(_ before: TCPConnectionStatistics, _ after: TCPConnectionStatistics) {
        retransmittedSegments += after.retransmittedSegments - before.retransmittedSegments
        fastRetransmits += after.fastRetransmits - before.fastRetransmits
        timeouts += after.timeouts - before.timeouts
        duplicateAcks += after.duplicateAcks - before.duplicateAcks
        challengeAcks += after.challengeAcks - before.challengeAcks
        outOfOrderSegments += after.outOfOrderSegments - before.outOfOrderSegments
        windowProbes += after.windowProbes - before.windowProbes
        keepAliveProbes += after.keepAliveProbes - before.keepAliveProbes
    }

    /// Counts how a connection ended, when it just did.
    mutating func noteEnd(from before: TCPError?, to after: TCPError?) {
        guard before == nil, let after else { return }
        if after == .reset { connectionsReset += 1 }
        if after == .timedOut { connectionsTimedOut += 1 }
    }
}

struct ConnectionKey: Hashable {
    var localPort: UInt16
    var remote: TCPEndpoint
}

struct Slot {
    var connection: TCPConnection?
    var generation: UInt32 = 0
    var listenerPort: UInt16?
    var accepted = false
    var released = false
    var created: UInt64 = 0
    /// Something happened to the connection since it was last polled (a segment, a user call).
    var dirty = true
    /// Its earliest timer, cached so that `poll` skips idle connections without touching them.
    var deadline: UInt64 = 0
    /// In its listener's accept queue.
    var queued = false
}

public struct TCPStack {
    public var localAddress: IPv4Address
    public var configuration: TCPConfiguration
    /// Connections (all states) the table holds at most.
    public var maximumConnections = 4096
    /// A SYN opens a connection only while the buffer budget can still grant this much and the image
    /// has this much memory to spare (an idle connection needs no buffers, but one that talks does).
    public var admissionReserve = 16 * 1024
    public internal(set) var statistics = TCPStatistics()
    var sequenceGenerator: InitialSequenceGenerator
    let synCookies: SynCookies
    /// SYN-ACKs carrying cookies, sent on the next `poll` (stateless: at most 64 wait).
    var cookieReplies: [(remote: TCPEndpoint, header: TCPRepr)] = []
    var slots: [Slot] = []
    var lookup: [ConnectionKey: Int] = [:]
    var listeners: [(port: UInt16, backlog: Int)] = []
    var resets: [(remote: TCPEndpoint, header: TCPRepr)] = []
    var nextEphemeralPort: UInt16 = 49152
    var creations: UInt64 = 0
    var freeSlots: [Int] = []
    /// Per listening port: established connections not yet accepted, oldest first (slot, generation).
    var acceptQueues: [UInt16: [(index: Int, generation: UInt32)]] = [:]
    /// Per listening port: established connections waiting in the accept queue (valid entries only).
    var queuedCounts: [UInt16: Int] = [:]
    /// Per listening port: connections (embryonic or established) not yet accepted, for the backlog.
    var pendingCounts: [UInt16: Int] = [:]

    public init(localAddress: IPv4Address, configuration: TCPConfiguration = TCPConfiguration(),
                secret: (UInt64, UInt64)) {
        self.localAddress = localAddress
        self.configuration = configuration
        sequenceGenerator = InitialSequenceGenerator(key: secret)
        synCookies = SynCookies(key: secret)
        nextEphemeralPort = 49152 &+ UInt16(truncatingIfNeeded: secret.0 % 16384)
    }

    // MARK: User calls

    public mutating func listen(port: UInt16, backlog: Int = 128) throws(TCPError) {
        guard !listeners.contains(where: { $0.port == port }) else { throw .addressInUse }
        listeners.append((port, max(backlog, 1)))
    }

    public mutating func stopListening(port: UInt16) {
        listeners.removeAll { $0.port == port }
        for index in slots.indices where slots[index].listenerPort == port && !slots[index].accepted {
            if slots[index].connection?.abort() == true, let connection = slots[index].connection {
                queueReset(to: connection.remote, TCPRepr(sourcePort: connection.local.port, destinationPort: connection.remote.port,
                                                          sequenceNumber: connection.sendNext.rawValue, flags: .rst, window: 0))
            }
            slots[index].released = true
            freeIfDone(index)
        }
        acceptQueues[port] = nil
    }

    /// The oldest established connection not yet accepted on `port`, if any.
    public mutating func accept(port: UInt16) -> TCPSocket? {
        guard var queue = acceptQueues[port] else { return nil }
        defer { acceptQueues[port] = queue }
        while !queue.isEmpty {
            let entry = queue.removeFirst()
            guard isQueued(entry) else { continue }          // reset or freed since it was queued
            slots[entry.index].queued = false
            slots[entry.index].accepted = true
            pendingCounts[port, default: 1] -= 1
            queuedCounts[port, default: 1] -= 1
            return handle(entry.index)
        }
        return nil
    }

    public func hasPendingConnection(port: UInt16) -> Bool {
        acceptQueues[port]?.contains { isQueued($0) } ?? false
    }

    func isQueued(_ entry: (index: Int, generation: UInt32)) -> Bool {
        slots[entry.index].generation == entry.generation && slots[entry.index].queued && slots[entry.index].connection != nil
    }

    /// Puts a listener's connection that just became established into its accept queue.
    mutating func queueIfEstablished(_ index: Int) {
        guard let port = slots[index].listenerPort, !slots[index].accepted, !slots[index].queued,
              slots[index].connection?.state.isSynchronized == true else { return }
        slots[index].queued = true
        queuedCounts[port, default: 0] += 1
        acceptQueues[port, default: []].append((index, slots[index].generation))
    }

    /// An active open from an ephemeral port; the SYN goes out on the next `poll`.
    public mutating func connect(to remote: TCPEndpoint, now: UInt64) throws(TCPError) -> TCPSocket {
        var port: UInt16? = nil
        for _ in 0..<16384 {
            let candidate = nextEphemeralPort
            nextEphemeralPort = nextEphemeralPort == 65535 ? 49152 : nextEphemeralPort + 1
            if lookup[ConnectionKey(localPort: candidate, remote: remote)] == nil
                && !listeners.contains(where: { $0.port == candidate }) {
                port = candidate
                break
            }
        }
        guard let port else { throw .noPortsAvailable }
        guard hasMemoryForConnection, let index = allocateSlot() else { throw .tableFull }
        let local = TCPEndpoint(localAddress, port)
        let isn = sequenceGenerator.next(local: local, remote: remote, now: now)
        install(TCPConnection.connect(local: local, remote: remote, initialSequence: isn,
                                      configuration: configuration, now: now), at: index, listenerPort: nil)
        slots[index].accepted = true
        statistics.activeOpens += 1
        return handle(index)
    }

    /// Runs `body` on the connection behind `socket`; throws `.invalidState` for a stale handle.
    public mutating func withConnection<R>(_ socket: TCPSocket,
                                           _ body: (inout TCPConnection) throws(TCPError) -> R) throws(TCPError) -> R {
        guard let index = validIndex(socket), var connection = slots[index].connection else { throw .invalidState }
        slots[index].connection = nil
        slots[index].dirty = true
        defer { slots[index].connection = connection }
        return try body(&connection)
    }

    public func connection(_ socket: TCPSocket) -> TCPConnection? {
        validIndex(socket).flatMap { slots[$0].connection }
    }

    public mutating func send(_ socket: TCPSocket, _ bytes: UnsafeRawBufferPointer) throws(TCPError) -> Int {
        try withConnection(socket) { (connection) throws(TCPError) in try connection.send(bytes) }
    }

    /// Reads available bytes; 0 means none now (check `readiness` for hangup or error).
    public mutating func receive(_ socket: TCPSocket, into buffer: UnsafeMutableRawBufferPointer) throws(TCPError) -> Int {
        try withConnection(socket) { (connection) throws(TCPError) in
            let count = connection.receive(into: buffer)
            if count == 0, let error = connection.error { throw error }
            return count
        }
    }

    /// Graceful close; the handle is invalid afterwards. With data still unread it is an abort (RST),
    /// as on Linux (RFC 1122 4.2.2.13, RFC 2525 2.17): the peer learns that its data was not read, and
    /// the connection's memory is back at once. (A server that wants its last answer read drains the
    /// input before closing — lingering close, as StreamServer and nginx do.)
    public mutating func close(_ socket: TCPSocket) {
        guard let index = validIndex(socket) else { return }
        if let connection = slots[index].connection, connection.readableBytes > 0, connection.state.isSynchronized {
            statistics.closedWithUnreadData += 1
            abort(socket)
            return
        }
        slots[index].connection?.close()
        slots[index].released = true
        slots[index].dirty = true
        freeIfDone(index)
    }

    /// Abortive close: RST to the peer; the handle is invalid afterwards.
    public mutating func abort(_ socket: TCPSocket) {
        guard let index = validIndex(socket) else { return }
        reset(at: index)
    }

    /// Aborts the connection in slot `index` (RST if synchronized) and frees the slot.
    mutating func reset(at index: Int) {
        guard var connection = slots[index].connection else { return }
        if connection.abort() {
            queueReset(to: connection.remote, TCPRepr(sourcePort: connection.local.port, destinationPort: connection.remote.port,
                                                      sequenceNumber: connection.sendNext.rawValue, flags: .rst, window: 0))
        }
        slots[index].connection = connection
        slots[index].released = true
        slots[index].dirty = true
        freeIfDone(index)
    }

    public func readiness(_ socket: TCPSocket) -> TCPReadiness {
        // Read in place: `connection(socket)` would copy the whole control block (an event loop asks
        // this for every connection on every wake).
        guard let index = validIndex(socket) else { return [.hangup, .error] }
        return slots[index].connection?.readiness ?? [.hangup, .error]
    }

    /// Connections by state (for metrics and the shell).
    public var connectionCounts: [(state: TCPState, count: Int)] {
        TCPState.allCases.map { state in (state, slots.reduce(0) { $0 + ($1.connection?.state == state ? 1 : 0) }) }
    }

    /// Connections the application closed that are still finishing (FIN-WAIT, CLOSING, LAST-ACK):
    /// Linux's orphans. TIME-WAIT is counted apart.
    public var orphanedConnections: Int {
        slots.reduce(0) { count, slot in
            guard slot.released, let state = slot.connection?.state, state != .closed, state != .timeWait else { return count }
            return count + 1
        }
    }

    /// Buffer memory held by all connections (for metrics and leak tests).
    public var totalBufferMemory: Int { slots.reduce(0) { $0 + ($1.connection?.bufferMemory ?? 0) } }

    // MARK: Network side

    /// Processes one TCP segment (the IPv4 payload) sent from `source` to `destination` (our address).
    public mutating func process(source: IPv4Address, destination: IPv4Address, segment bytes: UnsafeRawBufferPointer,
                                 now: UInt64) {
        statistics.segmentsIn += 1
        guard let packet = try? TCPPacket(checking: bytes) else { statistics.malformed += 1; return }
        guard let header = try? TCPRepr(parsing: packet, source: source, destination: destination) else {
            statistics.badChecksum += 1
            return
        }
        guard !source.isBroadcast && !source.isMulticast && !destination.isBroadcast && !destination.isMulticast else { return }
        let segment = TCPSegment(header: header, payload: packet.payload)
        let remote = TCPEndpoint(source, header.sourcePort)
        let key = ConnectionKey(localPort: header.destinationPort, remote: remote)
        let isNewSyn = header.flags.contains(.syn) && !header.flags.contains(.ack) && !header.flags.contains(.rst)
        if let index = lookup[key], var connection = slots[index].connection {
            let reopens = connection.state == .timeWait && isNewSyn && segment.sequence - connection.receiveNext > 0
                && listeners.contains { $0.port == header.destinationPort }
            if !reopens {
                slots[index].connection = nil
                let before = connection.statistics, errorBefore = connection.error
                let reply = connection.process(segment, now: now)
                statistics.absorb(before, connection.statistics)
                statistics.noteEnd(from: errorBefore, to: connection.error)
                slots[index].connection = connection
                slots[index].dirty = true
                if let reply { queueReset(to: remote, reply) }
                queueIfEstablished(index)
                freeIfDone(index)
                return
            }
            statistics.timeWaitReused += 1
            free(index)
        }
        if let listener = listeners.first(where: { $0.port == header.destinationPort }) {
            if header.flags.contains(.rst) { return }
            if header.flags.contains(.ack) {
                if configuration.synCookies && !header.flags.contains(.syn) && acceptCookie(segment, listener: listener, remote: remote,
                                                                                          destination: destination, now: now) {
                    return
                }
                if let reply = resetReply(to: segment) { queueReset(to: remote, reply) }
                return
            }
            guard isNewSyn else { return }
            while !hasMemoryForConnection && reclaimOrphan() {}
            guard hasMemoryForConnection else {
                statistics.memoryRefusals += 1
                return
            }
            // Two queues, each as long as the backlog (as Linux keeps them): the accept queue of
            // established connections the application has not taken — full, the SYN is dropped, cookies
            // or not, and the peer retries — and the SYN queue of half-open ones — full, SYN cookies.
            let queued = queuedCounts[listener.port, default: 0]
            guard queued < listener.backlog else {
                statistics.listenOverflows += 1
                return
            }
            guard pendingCounts[listener.port, default: 0] - queued < listener.backlog else {
                if configuration.synCookies {
                    sendCookie(answering: segment, local: TCPEndpoint(destination, header.destinationPort), remote: remote, now: now)
                } else {
                    statistics.listenOverflows += 1
                }
                return
            }
            guard let index = allocateSlot() else {
                statistics.listenOverflows += 1
                return
            }
            let local = TCPEndpoint(destination, header.destinationPort)
            let isn = sequenceGenerator.next(local: local, remote: remote, now: now)
            install(TCPConnection.accept(segment, local: local, remote: remote, initialSequence: isn,
                                         configuration: configuration, now: now), at: index, listenerPort: listener.port)
            pendingCounts[listener.port, default: 0] += 1
            statistics.passiveOpens += 1
            return
        }
        statistics.closedPortSegments += 1
        if let reply = resetReply(to: segment) { queueReset(to: remote, reply) }
    }

    /// Runs every connection's timers and output; `transmit(remote, header, data)` sends one segment.
    public mutating func poll(now: UInt64, transmit: (TCPEndpoint, TCPRepr, UnsafeRawBufferPointer) -> Bool) {
        while let reply = cookieReplies.first {
            guard transmit(reply.remote, reply.header, UnsafeRawBufferPointer(start: nil, count: 0)) else { break }
            cookieReplies.removeFirst()
            statistics.segmentsOut += 1
        }
        while let reset = resets.first {
            guard transmit(reset.remote, reset.header, UnsafeRawBufferPointer(start: nil, count: 0)) else { break }
            resets.removeFirst()
            statistics.resetsSent += 1
            statistics.segmentsOut += 1
        }
        // Only connections that something happened to, or whose timer is due, are polled: a table
        // full of idle or TIME-WAIT connections costs a scan of two fields per slot.
        for index in slots.indices {
            let due = slots[index].deadline != 0 && slots[index].deadline <= now
            guard slots[index].dirty || due, var connection = slots[index].connection else { continue }
            slots[index].connection = nil
            let before = connection.statistics, errorBefore = connection.error
            let remote = connection.remote
            var refused = false
            connection.poll(now: now) { header, data in
                let sent = transmit(remote, header, data)
                if !sent { refused = true }
                return sent
            }
            statistics.segmentsOut += connection.statistics.segmentsOut - before.segmentsOut
            statistics.absorb(before, connection.statistics)
            statistics.noteEnd(from: errorBefore, to: connection.error)
            slots[index].deadline = connection.nextDeadline ?? 0
            slots[index].connection = connection
            slots[index].dirty = refused                     // output still owed: try again next poll
            queueIfEstablished(index)
            freeIfDone(index)
        }
    }

    /// The earliest time `poll` has work: a timer, or now when output is still owed.
    public var nextDeadline: UInt64? {
        if !cookieReplies.isEmpty { return 1 }
        var earliest: UInt64? = nil
        for slot in slots where slot.connection != nil {
            let deadline = slot.dirty ? 1 : slot.deadline
            if deadline != 0 { earliest = min(earliest ?? deadline, deadline) }
        }
        return earliest
    }

    /// Resets the oldest orphan — a connection the application closed that still waits for its peer
    /// (FIN-WAIT, CLOSING, LAST-ACK) — so that a new connection can have its slot and memory, as Linux
    /// kills orphans when they hold too much (tcp_out_of_resources). True if one went.
    public mutating func reclaimOrphan() -> Bool {
        var oldest: Int? = nil
        for index in slots.indices where slots[index].released {
            guard let state = slots[index].connection?.state, state != .closed, state != .timeWait else { continue }
            if oldest == nil || slots[index].created < slots[oldest!].created { oldest = index }
        }
        guard let index = oldest else { return false }
        statistics.orphansReset += 1
        reset(at: index)
        return true
    }

    /// Whether a new connection's buffers could be had (the budget and the image both have room).
    public var hasMemoryForConnection: Bool { connectionRoom > 0 }

    /// How many more connections the table can take with the memory it has (Int.max while it can still
    /// grow): free slots and spare capacity, as far as the lookup index has room too. A server watches
    /// this to evict idle connections before SYNs have to be refused.
    public var connectionRoom: Int {
        if let memory = configuration.memory, memory.available < admissionReserve { return 0 }
        guard SystemMemory.available >= admissionReserve else { return 0 }
        var room = freeSlots.count + max(min(slots.capacity, maximumConnections) - slots.count, 0)
        room = min(room, lookup.capacity - lookup.count)
        guard room < 64 else { return room }
        // The table and its index grow by doubling, while the image has the block for it.
        if slots.count < maximumConnections && (slots.count < slots.capacity || slots.canDouble())
            && (lookup.count < lookup.capacity || lookup.canDouble()) {
            return Int.max
        }
        // TIME-WAIT entries the application closed are recycled when the table is full (slot and index).
        return room + slots.reduce(0) { $0 + ($1.released && $1.connection?.state == .timeWait ? 1 : 0) }
    }

    // MARK: Slots

    func handle(_ index: Int) -> TCPSocket { TCPSocket(index: Int32(index), generation: slots[index].generation) }

    func validIndex(_ socket: TCPSocket) -> Int? {
        let index = Int(socket.index)
        guard index >= 0 && index < slots.count && slots[index].generation == socket.generation
                && !slots[index].released && slots[index].connection != nil else { return nil }
        return index
    }

    mutating func allocateSlot() -> Int? {
        if let free = freeSlots.popLast() { return free }
        // The table and its index grow only as far as the image can spare the memory (no panic).
        guard lookup.reserveOneMore() else { return nil }
        if slots.count < maximumConnections && slots.reserveOneMore() {
            slots.append(Slot())
            return slots.count - 1
        }
        var oldest: Int? = nil
        for index in slots.indices where slots[index].released && slots[index].connection?.state == .timeWait {
            if oldest == nil || slots[index].connection!.timeWaitDeadline < slots[oldest!].connection!.timeWaitDeadline {
                oldest = index
            }
        }
        guard let index = oldest else { return nil }
        statistics.timeWaitRecycled += 1
        free(index)
        freeSlots.removeLast()                               // free() listed it; it is taken right away
        return index
    }

    mutating func install(_ connection: TCPConnection, at index: Int, listenerPort: UInt16?) {
        creations += 1
        slots[index] = Slot(connection: connection, generation: slots[index].generation, listenerPort: listenerPort,
                            accepted: false, released: false, created: creations, dirty: true, deadline: 0, queued: false)
        lookup[ConnectionKey(localPort: connection.local.port, remote: connection.remote)] = index
    }

    mutating func freeIfDone(_ index: Int) {
        guard let connection = slots[index].connection, connection.state == .closed else { return }
        if slots[index].released || (slots[index].listenerPort != nil && !slots[index].accepted) { free(index) }
    }

    mutating func free(_ index: Int) {
        if let connection = slots[index].connection {
            lookup[ConnectionKey(localPort: connection.local.port, remote: connection.remote)] = nil
            if let port = slots[index].listenerPort, !slots[index].accepted { pendingCounts[port, default: 1] -= 1 }
            if let port = slots[index].listenerPort, slots[index].queued { queuedCounts[port, default: 1] -= 1 }
            freeSlots.append(index)
        }
        slots[index].connection = nil
        slots[index].queued = false
        slots[index].generation &+= 1
        slots[index].listenerPort = nil
        slots[index].accepted = false
        slots[index].released = false
    }

    /// Answers a SYN with a SYN-ACK whose sequence number is a cookie, keeping nothing (SynCookies.swift).
    mutating func sendCookie(answering syn: TCPSegment, local: TCPEndpoint, remote: TCPEndpoint, now: UInt64) {
        guard cookieReplies.count < 64 else {
            statistics.listenOverflows += 1
            return
        }
        let cookie = synCookies.cookie(local: local, remote: remote, clientSequence: syn.sequence,
                                       offeredSegmentSize: syn.header.options.maximumSegmentSize, now: now)
        var options = TCPOptions()
        options.maximumSegmentSize = UInt16(configuration.maximumSegmentSize)
        let header = TCPRepr(sourcePort: local.port, destinationPort: remote.port, sequenceNumber: cookie.rawValue,
                             acknowledgmentNumber: (syn.sequence + 1).rawValue, flags: [.syn, .ack],
                             window: UInt16(min(configuration.receiveBufferSize, 65535)), options: options)
        cookieReplies.append((remote, header))
        statistics.synCookiesSent += 1
    }

    /// An ACK for a listening port with no connection: when it returns a valid cookie, the connection it
    /// completes is made (ESTABLISHED, queued for accept) and the segment processed. False when it is
    /// not a cookie of ours (the caller answers as for any stray ACK).
    mutating func acceptCookie(_ segment: TCPSegment, listener: (port: UInt16, backlog: Int), remote: TCPEndpoint,
                               destination: IPv4Address, now: UInt64) -> Bool {
        let local = TCPEndpoint(destination, segment.header.destinationPort)
        let cookie = segment.acknowledgment + -1
        guard let segmentSize = synCookies.check(local: local, remote: remote, clientSequence: segment.sequence + -1,
                                                 cookie: cookie, now: now) else {
            statistics.synCookiesRejected += 1
            return false
        }
        guard hasMemoryForConnection else {
            statistics.memoryRefusals += 1
            return true
        }
        // The connection goes to the accept queue, not the SYN queue: only a full accept queue drops the
        // ACK (the peer retransmits), as Linux does.
        guard queuedCounts[listener.port, default: 0] < listener.backlog else {
            statistics.listenOverflows += 1
            return true
        }
        guard let index = allocateSlot() else {
            statistics.listenOverflows += 1
            return true
        }
        var connection = TCPConnection.acceptCookie(segment, local: local, remote: remote, initialSequence: cookie,
                                                    segmentSize: Int(segmentSize), configuration: configuration, now: now)
        let before = connection.statistics
        let reply = connection.process(segment, now: now)
        statistics.absorb(before, connection.statistics)
        install(connection, at: index, listenerPort: listener.port)
        pendingCounts[listener.port, default: 0] += 1
        statistics.passiveOpens += 1
        statistics.synCookiesAccepted += 1
        if let reply { queueReset(to: remote, reply) }
        queueIfEstablished(index)
        freeIfDone(index)
        return true
    }

    mutating func queueReset(to remote: TCPEndpoint, _ header: TCPRepr) {
        guard resets.count < 64 else { return }
        resets.append((remote, header))
    }
}
