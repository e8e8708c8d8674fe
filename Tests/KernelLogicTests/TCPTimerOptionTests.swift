// TCP timers and options against the simulated peer: delayed ACK, Nagle, zero windows and probes,
// keep-alive, window scaling and timestamps (RFC 7323), the RTO estimator (RFC 6298), congestion
// control (RFC 5681), and a mutation fuzz of the whole stack.

import NetTCP
import NetWire
import Testing

@Suite struct TCPAcknowledgmentTests {
    @Test func rfc1122_4_2_3_2_aSingleSegmentIsAcknowledgedAfterTheDelayedAckTimeout() {
        var peer = TCPHarness()
        _ = peer.establishPassive()
        peer.peerSends(pattern(100))
        #expect(peer.take().isEmpty, "ACK delayed")
        peer.advance(milliseconds: 39)
        #expect(peer.take().isEmpty)
        peer.advance(milliseconds: 1)
        let ack = peer.take()
        #expect(ack.count == 1 && ack[0].acknowledgment == peer.peerNext)
    }

    @Test func rfc5681_4_2_everySecondFullSizedSegmentIsAcknowledgedAtOnce() {
        var peer = TCPHarness()
        _ = peer.establishPassive()
        peer.peerSends(pattern(1460))
        #expect(peer.take().isEmpty)
        peer.peerSends(pattern(1460))
        let ack = peer.take()
        #expect(ack.count == 1 && ack[0].acknowledgment == peer.peerNext)
    }

    @Test func rfc1122_4_2_3_4_nagleHoldsASmallSegmentWhileDataIsUnacknowledged() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        _ = peer.send(socket, [1])
        #expect(peer.take().count == 1, "nothing in flight: the small segment goes")
        _ = peer.send(socket, [2])
        _ = peer.send(socket, [3])
        #expect(peer.take().isEmpty, "held while the first is unacknowledged")
        peer.deliver(flags: .ack, acknowledgment: iss &+ 2)
        let next = peer.take()
        #expect(next.count == 1 && next[0].data == [2, 3], "coalesced once acknowledged")
    }

    @Test func noDelaySendsSmallSegmentsAtOnce() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        try! peer.stack.withConnection(socket) { $0.noDelay = true }
        _ = peer.send(socket, [1])
        _ = peer.send(socket, [2])
        #expect(peer.take().map(\.data) == [[1], [2]])
    }
}

@Suite struct TCPWindowTests {
    @Test func rfc9293_3_8_6_1_zeroWindowStopsDataAndProbesUntilItOpens() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive(window: 0)
        _ = peer.send(socket, pattern(500))
        #expect(peer.take().isEmpty, "nothing sent into a zero window")
        peer.advance(milliseconds: 200)
        let probe = peer.take()
        #expect(probe.count == 1 && probe[0].data.isEmpty && probe[0].sequence == iss, "probe with SEQ = SND.UNA - 1")
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1, window: 0)
        peer.advance(milliseconds: 399)
        #expect(peer.take().isEmpty, "persist timer backed off")
        peer.advance(milliseconds: 1)
        #expect(peer.take().count == 1)
        // Never gives up while the peer answers: many probes later the connection is still there.
        for _ in 0..<30 {
            peer.advance(milliseconds: 60_000)
            for probe in peer.take() where probe.data.isEmpty { peer.deliver(flags: .ack, acknowledgment: iss &+ 1, window: 0) }
        }
        #expect(peer.state(socket) == .established)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1, window: 8192)
        #expect(peer.take().flatMap(\.data) == pattern(500))
    }

    @Test func rfc9293_3_8_6_2_2_ourWindowClosesWhenTheAppDoesNotReadAndReopensWithAnUpdate() {
        var configuration = TCPHarness.plainConfiguration
        configuration.receiveBufferSize = 4096
        var peer = TCPHarness(configuration: configuration)
        let (socket, _) = peer.establishPassive()
        peer.peerSends(pattern(1460))
        peer.peerSends(pattern(1460))
        peer.peerSends(pattern(1176))
        peer.advance(milliseconds: 40)
        #expect(peer.take().last?.header.window == 0)
        peer.peerSends(pattern(10))
        #expect(peer.take().last?.acknowledgment == peer.peerNext &- 10, "data beyond a zero window is not taken")
        peer.peerNext &-= 10
        #expect(peer.read(socket).count == 4096)
        let update = peer.take()
        #expect(update.count == 1 && update[0].header.window == 4096, "window update once the app read")
    }

    @Test func rfc7323_2_windowScaleIsNegotiatedAndAppliedToNonSynSegments() {
        var configuration = TCPHarness.plainConfiguration
        configuration.windowScaling = true
        configuration.receiveBufferSize = 256 * 1024
        var peer = TCPHarness(configuration: configuration)
        try! peer.stack.listen(port: 80)
        peer.listening = true
        peer.deliver(flags: .syn, window: 1000, options: TCPOptions(maximumSegmentSize: 1460, windowScale: 4))
        let synAck = peer.take()[0]
        #expect(synAck.header.options.windowScale == 3, "256 KiB needs a shift of 3 to fit 16 bits")
        #expect(synAck.header.window == 65535, "a SYN's window is never scaled")
        peer.peerNext += 1
        peer.peerAcknowledged = synAck.sequence &+ 1
        peer.deliver(flags: .ack, window: 1000)   // 1000 << 4 = 16000 bytes
        let socket = peer.stack.accept(port: 80)!
        try! peer.stack.withConnection(socket) { $0.noDelay = true }
        _ = peer.send(socket, pattern(30_000))
        #expect(peer.take().reduce(0) { $0 + $1.data.count } == 4380, "min(initial cwnd 4380, 16000)")
        peer.peerSends(pattern(100))
        peer.advance(milliseconds: 40)
        #expect(peer.take().last?.header.window == UInt16((256 * 1024 - 100) >> 3))
    }

    @Test func rfc7323_2_withoutThePeersWindowScaleNeitherSideScales() {
        var configuration = TCPHarness.plainConfiguration
        configuration.windowScaling = true
        configuration.receiveBufferSize = 256 * 1024
        var peer = TCPHarness(configuration: configuration)
        try! peer.stack.listen(port: 80)
        peer.deliver(flags: .syn, options: TCPOptions(maximumSegmentSize: 1460))
        let synAck = peer.take()[0]
        #expect(synAck.header.options.windowScale == nil)
    }

    @Test func rfc7323_3_timestampsAreEchoedAndPAWSDropsOldSegments() {
        var configuration = TCPHarness.plainConfiguration
        configuration.timestamps = true
        var peer = TCPHarness(configuration: configuration)
        peer.peerTimestamps = true
        let (socket, _) = peer.establishPassive(options: TCPOptions(maximumSegmentSize: 1460,
                                                                    timestamps: TCPTimestamps(value: 5_000, echoReply: 0)))
        peer.peerTimestampClock = 6_000
        peer.peerSends(pattern(1460))
        peer.peerSends(pattern(1460))
        let ack = peer.take()
        #expect(ack.last?.header.options.timestamps?.echoReply == 6_000)
        // An old timestamp: the segment is dropped and answered with an ACK (RFC 7323 5.3).
        peer.peerTimestampClock = 100
        peer.deliver(flags: .ack, data: pattern(50))
        #expect(peer.take().count == 1)
        #expect(peer.read(socket).count == 2920, "the PAWS-rejected data was not delivered")
        // Once negotiated, a segment without timestamps is dropped (RFC 7323 3.2).
        peer.peerTimestamps = false
        peer.deliver(flags: .ack, data: pattern(50))
        #expect(peer.read(socket).isEmpty)
    }

    @Test func rfc6691_withTimestampsAFullSegmentCarriesMSSMinusTheOptionBytes() {
        var configuration = TCPHarness.plainConfiguration
        configuration.timestamps = true
        var peer = TCPHarness(configuration: configuration)
        peer.peerTimestamps = true
        let (socket, _) = peer.establishPassive(options: TCPOptions(maximumSegmentSize: 1460,
                                                                    timestamps: TCPTimestamps(value: 1, echoReply: 0)))
        _ = peer.send(socket, pattern(3000))
        let segments = peer.take()
        #expect(segments.first?.data.count == 1448)
        #expect(segments.allSatisfy { $0.header.headerLength + $0.data.count <= 1480 }, "every segment fits a 1500-byte MTU")
    }

    @Test func rfc7323_4_roundTripIsMeasuredFromTheEchoedTimestamp() {
        var configuration = TCPHarness.plainConfiguration
        configuration.timestamps = true
        var peer = TCPHarness(configuration: configuration)
        peer.peerTimestamps = true
        let (socket, iss) = peer.establishPassive(options: TCPOptions(maximumSegmentSize: 1460,
                                                                      timestamps: TCPTimestamps(value: 1, echoReply: 0)))
        _ = peer.send(socket, pattern(100))
        let segment = peer.take()[0]
        peer.advance(milliseconds: 30)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 101,
                     options: TCPOptions(timestamps: TCPTimestamps(value: peer.peerTimestampClock,
                                                                   echoReply: segment.header.options.timestamps!.value)))
        // The handshake's ACK gave a first sample of 0 ms (+0.5 ms rounding); this one is 30 ms.
        let srtt = peer.stack.connection(socket)!.retransmissionTimer.smoothedRTT!
        #expect(srtt == (7 * 500_000 + 30_500_000) / 8)
    }
}

@Suite struct TCPKeepAliveTests {
    func keepAliveConfiguration() -> TCPConfiguration {
        var configuration = TCPHarness.plainConfiguration
        configuration.keepAliveIdle = 10_000_000_000
        configuration.keepAliveInterval = 1_000_000_000
        configuration.keepAliveProbes = 3
        return configuration
    }

    @Test func rfc1122_4_2_3_6_idleConnectionIsProbedAndAnAnswerKeepsItAlive() {
        var peer = TCPHarness(configuration: keepAliveConfiguration())
        let (socket, iss) = peer.establishPassive()
        peer.advance(milliseconds: 9_999)
        #expect(peer.take().isEmpty)
        peer.advance(milliseconds: 1)
        let probe = peer.take()
        #expect(probe.count == 1 && probe[0].sequence == iss && probe[0].data.isEmpty)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1)
        for _ in 0..<5 { peer.advance(milliseconds: 1000) }
        #expect(peer.take().isEmpty, "the answer restarted the idle time")
        #expect(peer.state(socket) == .established)
    }

    @Test func rfc1122_4_2_3_6_unansweredProbesTimeTheConnectionOut() {
        var peer = TCPHarness(configuration: keepAliveConfiguration())
        let (socket, _) = peer.establishPassive()
        for _ in 0..<20 { peer.advance(milliseconds: 1000) }
        #expect(peer.take().count == 3)
        #expect(peer.state(socket) == .closed)
        #expect(peer.stack.readiness(socket).contains(.error))
    }
}

@Suite struct TCPEstimatorTests {
    @Test func rfc6298_2_firstSampleSetsSRTTAndVarianceThenSmooths() {
        var timer = RetransmissionTimer()
        #expect(timer.timeout == 1_000_000_000, "2.1: 1 s before any sample")
        timer.sample(100_000_000)
        #expect(timer.smoothedRTT == 100_000_000 && timer.rttVariation == 50_000_000)
        #expect(timer.timeout == 300_000_000, "SRTT + 4 RTTVAR")
        timer.sample(200_000_000)
        #expect(timer.rttVariation == (3 * 50_000_000 + 100_000_000) / 4)
        #expect(timer.smoothedRTT == (7 * 100_000_000 + 200_000_000) / 8)
    }

    @Test func rfc6298_2_4_and_2_5_timeoutIsClampedBetweenFloorAndSixtySeconds() {
        var timer = RetransmissionTimer()
        timer.sample(1_000_000)
        #expect(timer.timeout == RetransmissionTimer.minimum)
        for _ in 0..<40 { timer.expired() }
        #expect(timer.timeout == RetransmissionTimer.maximum)
        timer.sample(1_000_000)
        #expect(timer.backoff == 0, "a new sample undoes the backoff")
    }

    @Test func rfc5681_3_1_slowStartThenCongestionAvoidance() {
        var congestion = CongestionControl(segmentSize: 1000)
        #expect(congestion.window == 4000, "IW = min(4 SMSS, max(2 SMSS, 4380))")
        var sequence = SequenceNumber(0)
        for _ in 0..<4 {
            sequence += 1000
            _ = congestion.newAcknowledgment(acked: 1000, acknowledged: sequence, flight: 0)
        }
        #expect(congestion.window == 8000, "one SMSS per ACK in slow start")
        congestion.timeout(flight: 8000)
        #expect(congestion.window == 1000 && congestion.slowStartThreshold == 4000, "loss window after a timeout")
        for _ in 0..<3 {
            sequence += 1000
            _ = congestion.newAcknowledgment(acked: 1000, acknowledged: sequence, flight: 0)
        }
        #expect(congestion.window == 4000)
        for _ in 0..<4 {
            sequence += 1000
            _ = congestion.newAcknowledgment(acked: 1000, acknowledged: sequence, flight: 0)
        }
        #expect(congestion.window == 5000, "about one SMSS per window of ACKs in congestion avoidance")
    }

    @Test func rfc6582_fastRecoveryInflatesOnDuplicatesAndDeflatesOnFullAck() {
        var congestion = CongestionControl(segmentSize: 1000)
        let highest = SequenceNumber(20_000)
        for _ in 0..<2 { #expect(congestion.duplicateAcknowledgment(highestSent: highest, flight: 10_000) == .none) }
        #expect(congestion.duplicateAcknowledgment(highestSent: highest, flight: 10_000) == .retransmitFirstUnacknowledged)
        #expect(congestion.slowStartThreshold == 5000 && congestion.window == 8000)
        _ = congestion.duplicateAcknowledgment(highestSent: highest, flight: 10_000)
        #expect(congestion.window == 9000)
        #expect(congestion.newAcknowledgment(acked: 2000, acknowledged: SequenceNumber(12_000), flight: 8000)
                == .retransmitFirstUnacknowledged, "partial ACK")
        #expect(congestion.newAcknowledgment(acked: 8000, acknowledged: highest, flight: 0) == .none)
        #expect(!congestion.inRecovery && congestion.window == 1000, "min(ssthresh, FlightSize + SMSS)")
    }

    @Test func sequenceNumbersCompareAcrossTheWrap() {
        let before = SequenceNumber(0xFFFF_FF00), after = SequenceNumber(0x100)
        #expect(before < after && after - before == 0x200 && before - after == -0x200)
        #expect(SequenceNumber(5).isIn(before, length: 0x300))
    }

    @Test func rfc6528_initialSequenceNumbersDifferPerConnectionAndAdvanceWithTime() {
        let generator = InitialSequenceGenerator(key: (1, 2))
        let local = TCPEndpoint(IPv4Address(10, 0, 0, 1), 80)
        let a = generator.next(local: local, remote: TCPEndpoint(IPv4Address(10, 0, 0, 2), 1000), now: 0)
        let b = generator.next(local: local, remote: TCPEndpoint(IPv4Address(10, 0, 0, 2), 1001), now: 0)
        let later = generator.next(local: local, remote: TCPEndpoint(IPv4Address(10, 0, 0, 2), 1000), now: 4_000_000)
        #expect(a != b)
        #expect(later - a == 1000, "4 µs clock")
    }
}

@Suite struct TCPFuzzTests {
    /// Random segments, valid and mutated, at a stack with a listener and live connections: it never
    /// traps, and every segment it sends parses (the harness checks each one).
    @Test func randomSegmentsNeverBreakTheStack() {
        var generator = SplitMix64(seed: 42)
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        _ = peer.send(socket, pattern(3000))
        let flagChoices: [TCPFlags] = [.ack, .syn, .rst, .fin, [.syn, .ack], [.fin, .ack], [.rst, .ack], [], [.syn, .fin, .rst, .ack, .psh, .urg]]
        for round in 0..<20_000 {
            let flags = flagChoices[Int(generator.next() % UInt64(flagChoices.count))]
            let near = generator.next() % 2 == 0
            let sequence = near ? peer.peerNext &+ UInt32(truncatingIfNeeded: generator.next() % 4000) &- 2000
                                : UInt32(truncatingIfNeeded: generator.next())
            let ack = near ? iss &+ UInt32(truncatingIfNeeded: generator.next() % 8000) &- 2000 : UInt32(truncatingIfNeeded: generator.next())
            let length = Int(generator.next() % 1600)
            let options = generator.next() % 3 == 0
                ? TCPOptions(maximumSegmentSize: UInt16(truncatingIfNeeded: generator.next()),
                             windowScale: UInt8(truncatingIfNeeded: generator.next()),
                             timestamps: TCPTimestamps(value: UInt32(truncatingIfNeeded: generator.next()), echoReply: 0))
                : TCPOptions()
            peer.deliver(flags: flags, sequence: sequence, acknowledgment: ack,
                         window: UInt16(truncatingIfNeeded: generator.next()), data: pattern(length, seed: round),
                         port: generator.next() % 4 == 0 ? 81 : 80, options: options)
            if round % 100 == 0 {
                peer.advance(milliseconds: generator.next() % 3000)
                _ = peer.read(socket)
            }
            _ = peer.take()
        }
        // Raw garbage goes through the checked parser.
        for _ in 0..<20_000 {
            let bytes = (0..<Int(generator.next() % 80)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            bytes.withUnsafeBytes { peer.stack.process(source: TCPHarness.peer, destination: TCPHarness.us, segment: $0, now: peer.now) }
        }
        #expect(peer.stack.statistics.malformed + peer.stack.statistics.badChecksum > 0)
    }
}

