// Retransmission timeout and congestion window: the two estimates a sender keeps about the path.
//
// RetransmissionTimer follows RFC 6298. Before any sample RTO is 1 s (2.1). The first sample R sets
// SRTT = R, RTTVAR = R/2 (2.2); later ones RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R
// (2.3); RTO = SRTT + max(G, 4 RTTVAR) with clock granularity G = 1 ms. The floor is 200 ms, as in
// Linux, not the 1 s that 2.4 suggests: on the LANs and virtual links a unikernel lives on, a 1 s floor
// turns every lost segment into a second of silence (a deliberate, documented deviation). The ceiling
// is 60 s (2.5). Each expiry doubles RTO (5.5, "back off the timer"); a new sample undoes the backoff.
// Samples come from timestamps (RFC 7323 section 4) or from timing one segment that was never
// retransmitted (Karn's algorithm, 3); the caller decides which.
//
// CongestionControl follows RFC 5681 with NewReno fast recovery (RFC 6582). All quantities are bytes.
// Initial window: min(4 * SMSS, max(2 * SMSS, 4380)) (RFC 5681 3.1, from RFC 3390). Slow start below
// ssthresh grows cwnd by min(acked, SMSS) per ACK; congestion avoidance above grows it by about one
// SMSS per RTT (3.1 eq. 3, counted in bytes as RFC 3465 does). Three duplicate ACKs start fast retransmit:
// ssthresh = max(FlightSize / 2, 2 * SMSS), cwnd = ssthresh + 3 * SMSS, recover = highest sequence
// sent (RFC 6582 3.2 step 2); each further duplicate inflates cwnd by SMSS. A partial ACK (below
// recover) retransmits the next hole and deflates cwnd by the amount acked, plus SMSS (step 5); a full
// ACK ends recovery with cwnd = min(ssthresh, FlightSize + SMSS) (step 3, option 1). A timeout sets
// ssthresh as above and cwnd = 1 SMSS (RFC 5681 3.1, eq. 4 and "loss window").

public struct RetransmissionTimer: Sendable {
    public static let initial: UInt64 = 1_000_000_000
    public static let minimum: UInt64 = 200_000_000
    public static let maximum: UInt64 = 60_000_000_000
    static let granularity: UInt64 = 1_000_000

    public private(set) var smoothedRTT: UInt64?
    public private(set) var rttVariation: UInt64 = 0
    /// The timeout without backoff.
    public private(set) var baseTimeout: UInt64 = RetransmissionTimer.initial
    /// Expiries since the last sample (each doubles the timeout).
    public private(set) var backoff = 0

    public init() {}

    /// The current timeout, backoff included, within [minimum, maximum].
    public var timeout: UInt64 {
        let floored = max(baseTimeout, Self.minimum)
        return backoff >= 16 ? Self.maximum : min(floored << UInt64(backoff), Self.maximum)
    }

    /// Feeds one round-trip measurement in nanoseconds.
    public mutating func sample(_ rtt: UInt64) {
        if let srtt = smoothedRTT {
            let difference = srtt > rtt ? srtt - rtt : rtt - srtt
            rttVariation = (3 * rttVariation + difference) / 4
            smoothedRTT = (7 * srtt + rtt) / 8
        } else {
            smoothedRTT = rtt
            rttVariation = rtt / 2
        }
        baseTimeout = smoothedRTT! + max(Self.granularity, 4 * rttVariation)
        backoff = 0
    }

    /// The timer expired: back off.
    public mutating func expired() {
        backoff += 1
    }
}

public struct CongestionControl: Sendable {
    public let segmentSize: Int
    public private(set) var window: Int
    public private(set) var slowStartThreshold = Int(Int32.max)
    public private(set) var duplicateAcks = 0
    /// During fast recovery: the highest sequence number sent when it began (RFC 6582 "recover").
    public private(set) var recoveryPoint: SequenceNumber?
    /// Fractional growth in congestion avoidance, so that small ACKs still add up.
    var avoidanceCredit = 0

    public init(segmentSize: Int) {
        self.segmentSize = segmentSize
        window = min(4 * segmentSize, max(2 * segmentSize, 4380))
    }

    public var inRecovery: Bool { recoveryPoint != nil }

    /// What to do after an ACK.
    public enum Action: Equatable, Sendable {
        case none
        /// Retransmit the first unacknowledged segment now (fast retransmit or a NewReno partial ACK).
        case retransmitFirstUnacknowledged
    }

    /// An ACK that advanced SND.UNA by `acked` bytes to `acknowledged`; `flight` is what remains in
    /// flight after it.
    public mutating func newAcknowledgment(acked: Int, acknowledged: SequenceNumber, flight: Int) -> Action {
        duplicateAcks = 0
        if let recover = recoveryPoint {
            if acknowledged - recover >= 0 {
                window = min(slowStartThreshold, flight + segmentSize)
                recoveryPoint = nil
                return .none
            }
            window = max(window - acked, 0) + segmentSize
            return .retransmitFirstUnacknowledged
        }
        if window < slowStartThreshold {
            window += min(acked, segmentSize)
        } else {
            // Byte counting (RFC 3465 with L = 1): one SMSS per window's worth of acknowledged bytes.
            avoidanceCredit += min(acked, segmentSize)
            if avoidanceCredit >= window {
                avoidanceCredit -= window
                window += segmentSize
            }
        }
        return .none
    }

    /// A duplicate ACK (RFC 5681 section 2 definition, checked by the caller); `highestSent` is
    /// SND.NXT, `flight` the bytes outstanding.
    public mutating func duplicateAcknowledgment(highestSent: SequenceNumber, flight: Int) -> Action {
        duplicateAcks += 1
        if inRecovery {
            window += segmentSize
            return .none
        }
        guard duplicateAcks == 3 else { return .none }
        slowStartThreshold = max(flight / 2, 2 * segmentSize)
        window = slowStartThreshold + 3 * segmentSize
        recoveryPoint = highestSent
        return .retransmitFirstUnacknowledged
    }

    /// The retransmission timer expired with `flight` bytes outstanding.
    public mutating func timeout(flight: Int) {
        slowStartThreshold = max(flight / 2, 2 * segmentSize)
        window = segmentSize
        duplicateAcks = 0
        recoveryPoint = nil
    }

    /// After an idle period longer than RTO the window restarts (RFC 5681 section 4.1).
    public mutating func restartAfterIdle() {
        window = min(window, min(4 * segmentSize, max(2 * segmentSize, 4380)))
    }
}
