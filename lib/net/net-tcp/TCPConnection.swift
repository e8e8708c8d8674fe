// TCPConnection: one connection's transmission control block and its user calls (RFC 9293 3.3, 3.10).
//
// The connection is a value that knows nothing of devices or clocks: segments come in through
// `process` (TCPInput.swift), segments go out through `poll`, which also runs the timers
// (TCPOutput.swift), and `now` is always a parameter in nanoseconds. That is what lets the scenario
// tests drive it against a simulated peer with a fake clock.
//
// Sequence space. SND.UNA ≤ SND.NXT ≤ SND.MAX (the highest ever sent: after a timeout SND.NXT goes
// back to SND.UNA and the window is sent again, go-back-N). The SYN occupies ISS; data byte k of the
// send buffer has sequence number `sendBufferStart + k`; a queued FIN follows the last byte. The
// receive buffer holds in-order bytes the application has not read; out-of-order data is written
// straight into the same ring past its tail and its ranges remembered, so reordering costs no copies
// beyond the one into the ring. RCV.WND is the ring's free space (scaled down by the window shift).
//
// Buffers hold no storage until bytes arrive (ByteRing grows on demand, charged to the stack's
// NetworkMemory), give it back whenever they empty, and are dropped when the connection reaches
// TIME-WAIT or CLOSED: an idle, slow or TIME-WAIT connection costs only its control block. When the
// budget is spent the receive window shrinks to the storage there is, and data past it is dropped
// unacknowledged (the peer retransmits), instead of the image running out of memory.
//
// Deliberate limits: no urgent data (URG is ignored, RFC 6093 advises against its use), no SACK (not
// offered), no ECN. Data that arrives after the application closed the connection is acknowledged
// and discarded instead of answered with RST (RFC 1122 4.2.2.13 says SHOULD send RST): a server that
// closes after answering a bad request then still gets its answer read by the client.

import NetWire

public enum TCPState: String, Sendable, CaseIterable {
    case closed, listen, synSent, synReceived, established, finWait1, finWait2, closeWait, closing, lastAck, timeWait

    /// States in which both sides' sequence numbers are known (RFC 9293 glossary).
    public var isSynchronized: Bool {
        switch self {
        case .closed, .listen, .synSent, .synReceived: return false
        default: return true
        }
    }
}

public enum TCPError: Error, Hashable, Sendable {
    /// The peer sent RST (in SYN-SENT: connection refused).
    case reset
    case refused
    /// Retransmissions or keep-alive probes went unanswered.
    case timedOut
    /// The call is not valid in the connection's state (e.g. send after close).
    case invalidState
    case addressInUse
    case noPortsAvailable
    case tableFull
}

public struct TCPConfiguration: Sendable {
    public var receiveBufferSize = 32 * 1024
    public var sendBufferSize = 32 * 1024
    /// The largest segment we accept (advertised in the MSS option): interface MTU - 40.
    public var maximumSegmentSize = 1460
    /// Answer SYNs with SYN cookies once a listener's backlog is full (SynCookies.swift), as Linux's
    /// tcp_syncookies=1 does; off, such SYNs are dropped.
    public var synCookies = true
    /// Disables Nagle's algorithm (RFC 896, RFC 1122 4.2.3.4): small segments go out at once.
    public var noDelay = false
    public var timestamps = true
    public var windowScaling = true
    /// RFC 1122 4.2.3.2: less than 0.5 s; Linux uses 40 ms.
    public var delayedAckTimeout: UInt64 = 40_000_000
    /// 2 × MSL. RFC 9293 suggests MSL = 2 min; Linux uses 60 s for the whole TIME-WAIT.
    public var timeWaitDuration: UInt64 = 60_000_000_000
    public var synRetries = 5
    public var dataRetries = 12
    /// Keep-alive (RFC 1122 4.2.3.6): off unless set; idle time before the first probe.
    public var keepAliveIdle: UInt64? = nil
    public var keepAliveInterval: UInt64 = 75_000_000_000
    public var keepAliveProbes = 9
    /// How long a connection the application closed may wait in FIN-WAIT-2 for the peer's FIN before
    /// it is dropped (Linux's tcp_fin_timeout, 60 s): a peer that never closes cannot pin it.
    public var finWait2Timeout: UInt64 = 60_000_000_000
    /// The budget buffer storage is charged to (nil: allocated without a budget, still fallibly).
    public var memory: NetworkMemory? = nil

    public init() {}

    /// The window shift that lets the whole receive buffer be advertised (RFC 7323 2.3, at most 14).
    var receiveWindowShift: UInt8 {
        var shift: UInt8 = 0
        while shift < 14 && receiveBufferSize >> Int(shift) > 0xFFFF { shift += 1 }
        return shift
    }
}

public struct TCPConnection {
    public internal(set) var state: TCPState
    public let local: TCPEndpoint
    public let remote: TCPEndpoint
    public internal(set) var configuration: TCPConfiguration
    /// Why the connection ended, if it ended abnormally.
    public internal(set) var error: TCPError?

    // Send sequence variables (RFC 9293 3.3.1).
    let initialSendSequence: SequenceNumber
    var sendUnacknowledged: SequenceNumber
    var sendNext: SequenceNumber
    var sendMaximum: SequenceNumber
    /// The peer's window in bytes (already scaled).
    var sendWindow = 0
    var sendWindowUpdateSequence = SequenceNumber(0)
    var sendWindowUpdateAcknowledgment = SequenceNumber(0)
    var largestSendWindow = 0
    var sendWindowShift: UInt8 = 0
    var windowScalingEnabled = false
    var sendSegmentSize = 536
    var sendBuffer: ByteRing?
    var sendBufferStart: SequenceNumber
    var finQueued = false
    /// Where the last segment shorter than SMSS ended (Nagle, Minshall's variant).
    var unacknowledgedSmallSegmentEnd: SequenceNumber?

    // Receive sequence variables.
    var initialReceiveSequence = SequenceNumber(0)
    var receiveNext = SequenceNumber(0)
    var receiveWindowShift: UInt8 = 0
    var receiveBuffer: ByteRing?
    /// Out-of-order data already in the ring past its tail, as sorted, disjoint [start, end) ranges.
    var outOfOrder: [(start: SequenceNumber, end: SequenceNumber)] = []
    /// A FIN that arrived ahead of missing data.
    var pendingFin: SequenceNumber?
    public internal(set) var finReceived = false
    /// The window we last advertised, in bytes, and the right edge it promised.
    var advertisedWindow = 0
    var applicationClosed = false

    // RFC 7323 timestamps.
    var timestampsEnabled = false
    var timestampRecent: UInt32 = 0
    var lastAcknowledgmentSent = SequenceNumber(0)

    // Timers: absolute deadlines in nanoseconds, 0 when off.
    var retransmitDeadline: UInt64 = 0
    var delayedAckDeadline: UInt64 = 0
    var persistDeadline: UInt64 = 0
    var persistBackoff = 0
    var keepAliveDeadline: UInt64 = 0
    var keepAliveProbesSent = 0
    var timeWaitDeadline: UInt64 = 0
    /// An orphaned FIN-WAIT-2 ends here (configuration.finWait2Timeout).
    var finWait2Deadline: UInt64 = 0
    var lastReceivedAt: UInt64 = 0
    var lastSentAt: UInt64 = 0

    public internal(set) var retransmissionTimer = RetransmissionTimer()
    public internal(set) var congestion: CongestionControl
    /// The segment being timed for an RTT sample when timestamps are off (Karn: never a retransmission).
    var timedSegment: (sequence: SequenceNumber, sentAt: UInt64)?
    var retransmissions = 0
    var retransmitFirstPending = false

    // Acknowledgment policy.
    var ackNow = false
    var segmentsAwaitingAck = 0
    var keepAliveProbeDue = false
    var windowProbeDue = false
    var challengeWindowStart: UInt64 = 0
    var challengeAcksInWindow = 0

    public internal(set) var statistics = TCPConnectionStatistics()

    init(state: TCPState, local: TCPEndpoint, remote: TCPEndpoint, initialSequence: SequenceNumber,
         configuration: TCPConfiguration, now: UInt64) {
        self.state = state
        self.local = local
        self.remote = remote
        self.configuration = configuration
        initialSendSequence = initialSequence
        sendUnacknowledged = initialSequence
        sendNext = initialSequence
        sendMaximum = initialSequence
        sendBufferStart = initialSequence + 1
        sendBuffer = ByteRing(capacity: configuration.sendBufferSize, memory: configuration.memory)
        receiveBuffer = ByteRing(capacity: configuration.receiveBufferSize, memory: configuration.memory)
        congestion = CongestionControl(segmentSize: 536)
        lastReceivedAt = now
    }

    /// An active open (RFC 9293 3.10.1): the SYN goes out on the next `poll`.
    public static func connect(local: TCPEndpoint, remote: TCPEndpoint, initialSequence: SequenceNumber,
                               configuration: TCPConfiguration, now: UInt64) -> TCPConnection {
        var connection = TCPConnection(state: .synSent, local: local, remote: remote,
                                       initialSequence: initialSequence, configuration: configuration, now: now)
        connection.windowScalingEnabled = configuration.windowScaling
        connection.receiveWindowShift = configuration.windowScaling ? configuration.receiveWindowShift : 0
        return connection
    }

    // MARK: User calls

    /// Bytes the application can read now.
    public var readableBytes: Int { receiveBuffer?.count ?? 0 }
    /// Room for `send` now.
    public var writableBytes: Int {
        guard canSend, let buffer = sendBuffer else { return 0 }
        return max(min(buffer.freeSpace, buffer.placeableBytes - buffer.count), 0)
    }
    /// Whether `send` is allowed at all: before our FIN, in a state that can carry data.
    public var canSend: Bool {
        !finQueued && (state == .established || state == .closeWait || state == .synSent || state == .synReceived)
    }
    /// The peer will send no more: its FIN arrived (or the connection ended) and every byte was read.
    public var isReceiveFinished: Bool {
        readableBytes == 0 && (finReceived || state == .closed || state == .timeWait)
    }
    /// Bytes of buffer storage the connection holds now (0 while idle and once it ended).
    public var bufferMemory: Int { (sendBuffer?.allocatedBytes ?? 0) + (receiveBuffer?.allocatedBytes ?? 0) }
    /// Bytes queued but not yet acknowledged.
    public var unacknowledgedBytes: Int { sendBuffer?.count ?? 0 }

    /// What the connection is ready for (see `TCPReadiness`).
    public var readiness: TCPReadiness {
        var ready: TCPReadiness = []
        let finished = isReceiveFinished
        if readableBytes > 0 || finished || error != nil { ready.insert(.readable) }
        if writableBytes > 0 { ready.insert(.writable) }
        if finished || state == .closed { ready.insert(.hangup) }
        if error != nil { ready.insert(.error) }
        return ready
    }

    /// Queues as much of `bytes` as fits; returns how many were taken.
    public mutating func send(_ bytes: UnsafeRawBufferPointer) throws(TCPError) -> Int {
        if let error { throw error }
        guard canSend else { throw .invalidState }
        return sendBuffer?.append(bytes) ?? 0
    }

    /// Reads up to `buffer.count` bytes; 0 when none are available (see `isReceiveFinished`).
    public mutating func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard var ring = receiveBuffer else { return 0 }
        receiveBuffer = nil
        let count = ring.read(into: buffer)
        // Receiver-side silly window avoidance (RFC 9293 3.8.6.2.2): announce a window that opened by
        // at least min(buffer / 2, MSS).
        let threshold = min(ring.capacity / 2, configuration.maximumSegmentSize)
        if count > 0 && ring.freeSpace - advertisedWindow >= threshold && state.isSynchronized { ackNow = true }
        if ring.isEmpty && outOfOrder.isEmpty { ring.releaseStorage() }
        receiveBuffer = ring
        return count
    }

    /// Graceful close (RFC 9293 3.10.4): our FIN follows the queued data.
    public mutating func close() {
        applicationClosed = true
        if state == .timeWait { receiveBuffer = nil }
        switch state {
        case .closed, .listen, .synSent:
            enterClosed()
        case .synReceived:
            // RFC 9293 3.10.4: the FIN waits for ESTABLISHED. Our SYN may not even have gone out
            // (simultaneous open) and FIN-WAIT-1 would never send it again.
            finQueued = true
        case .established:
            finQueued = true
            state = .finWait1
        case .closeWait:
            finQueued = true
            state = .lastAck
        default:
            break
        }
    }

    /// Abort (RFC 9293 3.10.5): the stack sends RST when this returns true.
    public mutating func abort() -> Bool {
        applicationClosed = true
        let sendReset = state.isSynchronized && state != .timeWait || state == .synReceived
        enterClosed()
        return sendReset
    }

    public var noDelay: Bool {
        get { configuration.noDelay }
        set { configuration.noDelay = newValue }
    }

    // MARK: Internals shared by input and output

    var flightSize: Int { sendMaximum - sendUnacknowledged }
    var finSequence: SequenceNumber? {
        finQueued ? sendBufferStart + (sendBuffer?.count ?? 0) : nil
    }
    var finAcknowledged: Bool {
        guard let fin = finSequence else { return false }
        return sendUnacknowledged - fin > 0
    }
    /// What may arrive now: the free space, less what the memory budget could not store.
    var currentReceiveWindow: Int {
        guard let ring = receiveBuffer else { return 0 }
        return max(min(ring.freeSpace, ring.placeableBytes - ring.count), 0)
    }

    mutating func enterClosed() {
        state = .closed
        releaseBuffers()
        retransmitDeadline = 0
        delayedAckDeadline = 0
        persistDeadline = 0
        keepAliveDeadline = 0
        timeWaitDeadline = 0
        finWait2Deadline = 0
    }

    mutating func enterTimeWait(now: UInt64) {
        state = .timeWait
        timeWaitDeadline = now + configuration.timeWaitDuration
        finWait2Deadline = 0
        retransmitDeadline = 0
        persistDeadline = 0
        keepAliveDeadline = 0
        // The send side is done; unread data stays readable only while the application may read it.
        sendBuffer = nil
        if applicationClosed || readableBytes == 0 { receiveBuffer = nil }
    }

    mutating func releaseBuffers() {
        sendBuffer = nil
        if applicationClosed || readableBytes == 0 { receiveBuffer = nil }
    }
}

/// Per-connection counters.
public struct TCPConnectionStatistics: Equatable, Sendable {
    public var segmentsIn = 0, segmentsOut = 0, bytesIn = 0, bytesOut = 0
    public var retransmittedSegments = 0, fastRetransmits = 0, timeouts = 0, duplicateAcks = 0
    public var challengeAcks = 0, outOfOrderSegments = 0, windowProbes = 0, keepAliveProbes = 0
    public init() {}
}
