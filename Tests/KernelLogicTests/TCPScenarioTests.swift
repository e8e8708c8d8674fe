// TCP scenarios against a simulated peer (TCPHarness.swift), named for the RFC clause they check:
// handshakes, data both ways, loss, reordering, duplicates, closing from every state, resets.

import NetTCP
import NetWire
import Testing

@Suite struct TCPHandshakeTests {
    @Test func rfc9293_3_5_passiveOpenAnswersSynWithSynAckAndEstablishesOnAck() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        #expect(peer.state(socket) == .established)
        #expect(peer.take().isEmpty, "no segment owed after the handshake")
    }

    @Test func rfc9293_3_7_1_synAckCarriesOurMSSAndWeSendAtMostThePeersMSS() {
        var peer = TCPHarness()
        try! peer.stack.listen(port: 80)
        peer.listening = true
        peer.deliver(flags: .syn, options: TCPOptions(maximumSegmentSize: 536))
        let synAck = peer.take()[0]
        #expect(synAck.header.options.maximumSegmentSize == 1460)
        peer.peerNext += 1
        peer.peerAcknowledged = synAck.sequence &+ 1
        peer.deliver(flags: .ack)
        let socket = peer.stack.accept(port: 80)!
        try! peer.stack.withConnection(socket) { $0.noDelay = true }
        _ = peer.send(socket, pattern(1200))
        let segments = peer.take()
        #expect(segments.map(\.data.count) == [536, 536, 128])
    }

    @Test func rfc9293_3_7_1_withoutMSSOptionTheDefault536IsUsed() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive(options: TCPOptions())
        _ = peer.send(socket, pattern(600))
        #expect(peer.take().first?.data.count == 536)
    }

    @Test func rfc9293_3_5_activeOpenSendsSynAndCompletesOnSynAck() throws {
        var peer = TCPHarness()
        let socket = try peer.stack.connect(to: TCPEndpoint(TCPHarness.peer, 80), now: peer.now)
        peer.poll()
        let syn = peer.take()
        #expect(syn.count == 1 && syn[0].flags == .syn)
        #expect(syn[0].header.options.maximumSegmentSize == 1460)
        peer.peerPort = 80
        peer.peerAcknowledged = syn[0].sequence &+ 1
        peer.deliver(flags: [.syn, .ack], port: syn[0].header.sourcePort, options: TCPOptions(maximumSegmentSize: 1460))
        peer.peerNext += 1
        #expect(peer.state(socket) == .established)
        let ack = peer.take()
        #expect(ack.count == 1 && ack[0].isPureAck && ack[0].acknowledgment == peer.peerNext)
    }

    @Test func rfc9293_3_10_7_3_synSentAnswersAnUnacceptableAckWithReset() throws {
        var peer = TCPHarness()
        let socket = try peer.stack.connect(to: TCPEndpoint(TCPHarness.peer, 80), now: peer.now)
        peer.poll()
        let syn = peer.take()[0]
        peer.peerPort = 80
        peer.deliver(flags: [.syn, .ack], acknowledgment: syn.sequence &+ 100, port: syn.header.sourcePort)
        let reply = peer.take()
        #expect(reply.count == 1 && reply[0].flags == .rst && reply[0].sequence == syn.sequence &+ 100)
        #expect(peer.state(socket) == .synSent)
    }

    @Test func rfc9293_3_10_7_3_resetWithAcceptableAckInSynSentMeansRefused() throws {
        var peer = TCPHarness()
        let socket = try peer.stack.connect(to: TCPEndpoint(TCPHarness.peer, 80), now: peer.now)
        peer.poll()
        let syn = peer.take()[0]
        peer.peerPort = 80
        peer.deliver(flags: [.rst, .ack], sequence: 0, acknowledgment: syn.sequence &+ 1, port: syn.header.sourcePort)
        #expect(peer.state(socket) == .closed)
        #expect(peer.stack.readiness(socket).contains(.error))
        #expect(throws: TCPError.refused) { try peer.stack.receive(socket, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
    }

    @Test func rfc9293_3_5_simultaneousOpenGoesThroughSynReceived() throws {
        var peer = TCPHarness()
        let socket = try peer.stack.connect(to: TCPEndpoint(TCPHarness.peer, 80), now: peer.now)
        peer.poll()
        let syn = peer.take()[0]
        peer.peerPort = 80
        peer.deliver(flags: .syn, port: syn.header.sourcePort, options: TCPOptions(maximumSegmentSize: 1460))
        peer.peerNext += 1
        #expect(peer.state(socket) == .synReceived)
        let synAck = peer.take()
        #expect(synAck.count == 1 && synAck[0].flags == [.syn, .ack] && synAck[0].sequence == syn.sequence)
        peer.deliver(flags: .ack, acknowledgment: syn.sequence &+ 1, port: syn.header.sourcePort)
        #expect(peer.state(socket) == .established)
    }

    @Test func rfc9293_3_10_7_1_closedPortAnswersSynWithResetAck() {
        var peer = TCPHarness()
        peer.deliver(flags: .syn, sequence: 777, port: 81)
        let reply = peer.take()
        #expect(reply.count == 1 && reply[0].flags == [.rst, .ack] && reply[0].acknowledgment == 778 && reply[0].sequence == 0)
        peer.deliver(flags: .ack, acknowledgment: 4242, port: 81)
        let second = peer.take()
        #expect(second.count == 1 && second[0].flags == .rst && second[0].sequence == 4242)
        peer.deliver(flags: .rst, port: 81)
        #expect(peer.take().isEmpty, "a reset is never answered")
    }

    @Test func rfc9293_3_10_7_2_listenerAnswersAckWithResetAndIgnoresReset() {
        var peer = TCPHarness()
        try! peer.stack.listen(port: 80)
        peer.deliver(flags: .ack, acknowledgment: 99)
        #expect(peer.take().map(\.flags) == [.rst])
        peer.deliver(flags: .rst)
        #expect(peer.take().isEmpty)
    }

    @Test func withoutSynCookiesABacklogFullDropsTheSynSoThePeerRetries() {
        var configuration = TCPHarness.plainConfiguration
        configuration.synCookies = false                     // with them (the default): SynCookieTests
        var peer = TCPHarness(configuration: configuration)
        try! peer.stack.listen(port: 80, backlog: 2)
        for port: UInt16 in 1...3 {
            peer.peerPort = 50000 + port
            peer.deliver(flags: .syn)
        }
        #expect(peer.take().count == 2)
        #expect(peer.stack.statistics.listenOverflows == 1)
    }

    @Test func rfc9293_3_10_7_4_lostSynAckIsSentAgainWhenTheSynIsRepeated() {
        var peer = TCPHarness()
        try! peer.stack.listen(port: 80)
        peer.deliver(flags: .syn)
        let first = peer.take()[0]
        peer.deliver(flags: .syn)
        let again = peer.take()
        #expect(again.count == 1 && again[0].flags == [.syn, .ack] && again[0].sequence == first.sequence)
    }

    @Test func rfc9293_3_10_7_4_synAckRetransmittedAfterTimeoutThenGivesUp() {
        var peer = TCPHarness()
        try! peer.stack.listen(port: 80)
        peer.deliver(flags: .syn)
        #expect(peer.take().count == 1)
        var retransmissions = 0
        for _ in 0..<200 {
            peer.advance(milliseconds: 1000)
            retransmissions += peer.take().filter { $0.flags == [.syn, .ack] }.count
        }
        #expect(retransmissions == peer.stack.configuration.synRetries)
        #expect(peer.stack.connectionCounts.allSatisfy { $0.count == 0 }, "the embryonic connection is gone")
    }
}

@Suite struct TCPDataTests {
    @Test func rfc9293_3_10_7_4_dataFromThePeerIsDeliveredInOrderAndAcknowledged() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        peer.peerSends(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(peer.read(socket) == Array("GET / HTTP/1.1\r\n\r\n".utf8))
        peer.advance(milliseconds: 50)
        let acks = peer.take()
        #expect(acks.last?.acknowledgment == peer.peerNext)
    }

    @Test func dataToThePeerIsSegmentedAndFreedWhenAcknowledged() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        let data = pattern(4000)
        #expect(peer.send(socket, data) == 4000)
        let segments = peer.take()
        #expect(segments.map(\.data.count) == [1460, 1460, 1080], "initial window 4380 (RFC 5681 3.1) covers it")
        #expect(segments.flatMap(\.data) == data)
        #expect(segments[0].sequence == iss &+ 1)
        #expect(segments.last!.flags.contains(.psh))
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1 &+ 4000)
        #expect(peer.stack.connection(socket)!.unacknowledgedBytes == 0)
        #expect(peer.stack.connection(socket)!.nextDeadline == nil, "no retransmission timer with nothing in flight")
    }

    @Test func rfc9293_3_10_7_4_sequenceNumbersWrapAround() {
        var peer = TCPHarness()
        peer.peerNext = 0xFFFF_FFF0
        let (socket, _) = peer.establishPassive()
        let data = pattern(100)
        peer.peerSends(data)
        #expect(peer.peerNext == 0x0000_0055)
        #expect(peer.read(socket) == data)
        peer.peerSends(data)
        #expect(peer.read(socket) == data)
    }

    @Test func rfc5681_4_2_outOfOrderSegmentIsAcknowledgedAtOnceAndDeliveredWhenTheHoleFills() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        let first = pattern(1000, seed: 1), second = pattern(1000, seed: 2), third = pattern(500, seed: 3)
        let start = peer.peerNext
        peer.deliver(flags: .ack, sequence: start &+ 1000, data: second)
        let duplicate = peer.take()
        #expect(duplicate.count == 1 && duplicate[0].acknowledgment == start, "duplicate ACK for the hole")
        #expect(peer.read(socket).isEmpty)
        peer.deliver(flags: .ack, sequence: start &+ 2000, data: third)
        #expect(peer.take().first?.acknowledgment == start)
        peer.deliver(flags: .ack, sequence: start, data: first)
        let filled = peer.take()
        #expect(filled.count == 1 && filled[0].acknowledgment == start &+ 2500, "hole filled: ACK at once for all")
        #expect(peer.read(socket) == first + second + third)
    }

    @Test func rfc9293_3_10_7_4_duplicateSegmentIsAcknowledgedAndNotDeliveredTwice() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        let start = peer.peerNext
        peer.peerSends(pattern(300))
        peer.deliver(flags: .ack, sequence: start, data: pattern(300))
        let acks = peer.take()
        #expect(acks.contains { $0.acknowledgment == start &+ 300 })
        #expect(peer.read(socket) == pattern(300))
    }

    @Test func rfc9293_3_10_7_4_partlyOldSegmentDeliversOnlyItsNewBytes() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        let start = peer.peerNext
        let data = pattern(600)
        peer.deliver(flags: .ack, sequence: start, data: Array(data[0..<400]))
        peer.deliver(flags: .ack, sequence: start &+ 200, data: Array(data[200..<600]))
        #expect(peer.read(socket) == data)
    }

    @Test func rfc9293_3_10_7_4_segmentOutsideTheWindowIsAnsweredWithAckAndDropped() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        peer.deliver(flags: .ack, sequence: peer.peerNext &+ 1_000_000, data: pattern(10))
        let reply = peer.take()
        #expect(reply.count == 1 && reply[0].isPureAck && reply[0].acknowledgment == peer.peerNext)
        #expect(peer.read(socket).isEmpty)
    }

    @Test func rfc6298_5_retransmissionAfterTimeoutResendsTheFirstSegmentAndBacksOff() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        _ = peer.send(socket, pattern(1000))
        #expect(peer.take().count == 1)
        // The handshake's round trip (0 ms here) gave RTO = the 200 ms floor.
        peer.advance(milliseconds: 199)
        #expect(peer.take().isEmpty)
        peer.advance(milliseconds: 1)
        let first = peer.take()
        #expect(first.count == 1 && first[0].sequence == iss &+ 1 && first[0].data == pattern(1000))
        peer.advance(milliseconds: 399)
        #expect(peer.take().isEmpty, "backed off to 400 ms (5.5)")
        peer.advance(milliseconds: 1)
        #expect(peer.take().count == 1)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1001)
        #expect(peer.stack.connection(socket)!.unacknowledgedBytes == 0)
        #expect(peer.stack.statistics.retransmittedSegments == 2 && peer.stack.statistics.timeouts == 2,
                "the table sums what its connections counted")
    }

    @Test func rfc9293_3_8_3_connectionTimesOutAfterItsRetries() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        _ = peer.send(socket, pattern(10))
        for _ in 0..<2000 { peer.advance(milliseconds: 1000) }
        #expect(peer.state(socket) == .closed)
        #expect(throws: TCPError.timedOut) { try peer.stack.receive(socket, into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
    }

    @Test func rfc5681_3_2_threeDuplicateAcksTriggerFastRetransmitOfTheMissingSegment() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        // Open the congestion window first so that many segments are in flight.
        _ = peer.send(socket, pattern(20 * 1460))
        var acked = iss &+ 1
        for _ in 0..<6 {
            let flight = peer.take()
            guard let last = flight.last else { break }
            acked = last.sequence &+ UInt32(last.data.count)
            peer.deliver(flags: .ack, acknowledgment: acked)
        }
        _ = peer.send(socket, pattern(8 * 1460, seed: 9))
        let flight = peer.take()
        #expect(flight.count >= 5)
        let lost = flight[0]
        for _ in 0..<2 { peer.deliver(flags: .ack, acknowledgment: lost.sequence) }
        #expect(peer.take().allSatisfy { $0.sequence != lost.sequence })
        peer.deliver(flags: .ack, acknowledgment: lost.sequence)
        let retransmitted = peer.take()
        #expect(retransmitted.first?.sequence == lost.sequence && retransmitted.first?.data == lost.data)
        let connection = peer.stack.connection(socket)!
        #expect(connection.congestion.inRecovery)
        #expect(connection.statistics.fastRetransmits == 1)
        // RFC 6582 3.2 step 5: a partial ACK retransmits the next hole at once.
        peer.deliver(flags: .ack, acknowledgment: flight[1].sequence)
        #expect(peer.take().contains { $0.sequence == flight[1].sequence && $0.data == flight[1].data })
        // A full ACK ends recovery.
        peer.deliver(flags: .ack, acknowledgment: peer.stack.connection(socket)!.statistics.bytesOut > 0
                     ? flight.last!.sequence &+ UInt32(flight.last!.data.count) : 0)
        #expect(!peer.stack.connection(socket)!.congestion.inRecovery)
    }
}

@Suite struct TCPCloseTests {
    @Test func rfc9293_3_6_peerCloseMovesToCloseWaitThenOurCloseToLastAckAndClosed() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        peer.deliver(flags: [.fin, .ack])
        peer.peerNext += 1
        #expect(peer.state(socket) == .closeWait)
        #expect(peer.take().last?.acknowledgment == peer.peerNext, "FIN acknowledged at once")
        #expect(peer.stack.readiness(socket).contains(.hangup))
        peer.stack.close(socket)
        peer.poll()
        let fin = peer.take()
        #expect(fin.count == 1 && fin[0].flags.contains(.fin) && fin[0].sequence == iss &+ 1)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 2)
        #expect(peer.stack.connectionCounts.allSatisfy { $0.count == 0 }, "LAST-ACK → CLOSED frees the slot")
    }

    @Test func rfc9293_3_6_ourCloseGoesThroughFinWaitStatesToTimeWaitAndClosed() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        _ = pattern(100).withUnsafeBytes { try! peer.stack.send(socket, $0) }
        peer.stack.close(socket)
        peer.poll()
        let segments = peer.take()
        #expect(segments.count == 1 && segments[0].flags.contains(.fin) && segments[0].data.count == 100,
                "FIN rides on the last data segment")
        peer.deliver(flags: .ack, acknowledgment: iss &+ 102)
        #expect(state(of: peer) == .finWait2)
        peer.deliver(flags: [.fin, .ack], acknowledgment: iss &+ 102)
        peer.peerNext += 1
        #expect(state(of: peer) == .timeWait)
        #expect(peer.take().last?.acknowledgment == peer.peerNext)
        // A retransmitted FIN in TIME-WAIT is acknowledged again.
        peer.deliver(flags: [.fin, .ack], sequence: peer.peerNext &- 1, acknowledgment: iss &+ 102)
        #expect(peer.take().count == 1)
        peer.advance(milliseconds: 59_999)
        #expect(state(of: peer) == .timeWait)
        peer.advance(milliseconds: 1)
        #expect(peer.stack.connectionCounts.allSatisfy { $0.count == 0 })
    }

    @Test func timeWaitAfterTheApplicationClosedHoldsNoBuffers() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        peer.peerSends(pattern(10))
        #expect(peer.read(socket) == pattern(10))
        #expect(peer.send(socket, pattern(20)) == 20)
        peer.stack.close(socket)
        peer.poll()
        peer.deliver(flags: [.fin, .ack], acknowledgment: iss &+ 22)
        #expect(state(of: peer) == .timeWait)
        #expect(peer.stack.connectionCounts.contains { $0.state == .timeWait && $0.count == 1 })
        #expect(peer.stack.totalBufferMemory == 0, "a table full of TIME-WAIT entries must not hold buffers")
    }

    @Test func rfc9293_3_6_simultaneousCloseGoesThroughClosing() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        peer.stack.close(socket)
        peer.poll()
        #expect(peer.take().first?.flags.contains(.fin) == true)
        peer.deliver(flags: [.fin, .ack], acknowledgment: iss &+ 1)
        peer.peerNext += 1
        #expect(state(of: peer) == .closing)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 2)
        #expect(state(of: peer) == .timeWait)
    }

    @Test func rfc9293_3_6_finWithAckOfOurFinInFinWait1GoesStraightToTimeWait() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        peer.stack.close(socket)
        peer.poll()
        _ = peer.take()
        peer.deliver(flags: [.fin, .ack], acknowledgment: iss &+ 2)
        #expect(state(of: peer) == .timeWait)
    }

    @Test func rfc9293_3_10_7_4_finAheadOfMissingDataWaitsForTheData() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        let start = peer.peerNext
        peer.deliver(flags: [.fin, .ack], sequence: start &+ 100)
        #expect(peer.state(socket) == .established)
        peer.deliver(flags: .ack, sequence: start, data: pattern(100))
        #expect(peer.state(socket) == .closeWait)
        #expect(peer.read(socket) == pattern(100))
        #expect(peer.stack.readiness(socket).contains(.hangup))
    }

    @Test func rfc9293_3_10_7_4_timeWaitIsReopenedByANewSynWithAHigherSequence() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        peer.stack.close(socket)
        peer.poll()
        peer.deliver(flags: [.fin, .ack], acknowledgment: iss &+ 2)
        peer.peerNext += 1
        _ = peer.take()
        peer.peerNext &+= 100_000
        peer.deliver(flags: .syn)
        let reply = peer.take()
        #expect(reply.count == 1 && reply[0].flags == [.syn, .ack])
        #expect(peer.stack.statistics.timeWaitReused == 1)
    }

    @Test func aFullTableRecyclesTheOldestClosedTimeWaitEntry() {
        var peer = TCPHarness()
        peer.stack.maximumConnections = 4
        try! peer.stack.listen(port: 80)
        peer.listening = true
        for round in 0..<10 {
            peer.peerPort = 41000 + UInt16(round)
            peer.peerNext = 1000
            let (socket, iss) = peer.establishPassive()
            peer.stack.close(socket)
            peer.poll()
            peer.deliver(flags: [.fin, .ack], acknowledgment: iss &+ 2)
            _ = peer.take()
        }
        #expect(peer.stack.connectionCounts.first { $0.state == .timeWait }?.count == 4)
        #expect(peer.stack.statistics.timeWaitRecycled == 6)
        // The newest connections are the ones kept; every handle handed out was distinct.
        peer.peerPort = 41100
        peer.peerNext = 1000
        let (socket, _) = peer.establishPassive()
        #expect(peer.state(socket) == .established)
    }

    func state(of peer: TCPHarness) -> TCPState? {
        peer.stack.connectionCounts.first { $0.count > 0 }?.state
    }
}

@Suite struct TCPResetTests {
    /// Brings a connection into `state` and returns it with the peer's view.
    func connection(in state: TCPState) -> (TCPHarness, TCPSocket, UInt32) {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        switch state {
        case .finWait1:
            peer.stack.close(socket)
        case .finWait2:
            peer.stack.close(socket)
            peer.poll()
            peer.deliver(flags: .ack, acknowledgment: iss &+ 2)
        case .closeWait:
            peer.deliver(flags: [.fin, .ack])
            peer.peerNext += 1
        case .lastAck:
            peer.deliver(flags: [.fin, .ack])
            peer.peerNext += 1
            peer.stack.close(socket)
        case .closing:
            peer.stack.close(socket)
            peer.poll()
            peer.deliver(flags: [.fin, .ack], acknowledgment: iss &+ 1)
            peer.peerNext += 1
        default:
            break
        }
        peer.poll()
        _ = peer.take()
        return (peer, socket, iss)
    }

    @Test(arguments: [TCPState.established, .finWait1, .finWait2, .closeWait, .lastAck, .closing])
    func rfc5961_3_2_resetAtExactlyRcvNxtClosesTheConnection(state: TCPState) {
        var (peer, socket, _) = connection(in: state)
        #expect(peer.stack.connectionCounts.contains { $0.state == state && $0.count == 1 })
        peer.deliver(flags: .rst)
        #expect(peer.stack.connectionCounts.allSatisfy { $0.state == .closed || $0.count == 0 })
        if state == .established || state == .closeWait {
            #expect(peer.stack.readiness(socket).contains(.error))
        }
        #expect(peer.take().isEmpty, "a reset is never answered")
    }

    @Test func rfc5961_3_2_resetInsideTheWindowButNotExactGetsAChallengeAck() {
        var (peer, socket, _) = connection(in: .established)
        peer.deliver(flags: .rst, sequence: peer.peerNext &+ 1000)
        #expect(peer.state(socket) == .established)
        let challenge = peer.take()
        #expect(challenge.count == 1 && challenge[0].isPureAck && challenge[0].acknowledgment == peer.peerNext)
    }

    @Test func rfc5961_3_2_resetOutsideTheWindowIsSilentlyDropped() {
        var (peer, socket, _) = connection(in: .established)
        peer.deliver(flags: .rst, sequence: peer.peerNext &+ 10_000_000)
        #expect(peer.state(socket) == .established)
        #expect(peer.take().isEmpty)
    }

    @Test func rfc5961_4_2_synInASynchronizedStateGetsAChallengeAckNotAReset() {
        var (peer, socket, _) = connection(in: .established)
        peer.deliver(flags: .syn, sequence: peer.peerNext &+ 5)
        #expect(peer.state(socket) == .established)
        let challenge = peer.take()
        #expect(challenge.count == 1 && challenge[0].isPureAck)
    }

    @Test func rfc5961_5_2_dataWithAnAckOlderThanTheWindowIsRefusedWithAChallengeAck() {
        var (peer, socket, iss) = connection(in: .established)
        peer.deliver(flags: .ack, acknowledgment: iss &- 200_000, data: pattern(20))
        #expect(peer.take().count == 1)
        #expect(peer.read(socket).isEmpty, "blind data injection refused")
    }

    @Test func rfc5961_5_2_ackForDataNotYetSentIsAnsweredAndDropped() {
        var (peer, socket, iss) = connection(in: .established)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 5000, data: pattern(20))
        #expect(peer.take().count == 1)
        #expect(peer.read(socket).isEmpty)
    }

    @Test func rfc5961_7_challengeAcksAreLimitedPerSecond() {
        var (peer, _, _) = connection(in: .established)
        for offset in 1...30 { peer.deliver(flags: .rst, sequence: peer.peerNext &+ UInt32(offset)) }
        #expect(peer.take().count == 10)
        peer.advance(milliseconds: 1000)
        peer.deliver(flags: .rst, sequence: peer.peerNext &+ 1)
        #expect(peer.take().count == 1)
    }

    @Test func rfc9293_3_10_7_4_resetInSynReceivedRemovesTheEmbryonicConnection() {
        var peer = TCPHarness()
        try! peer.stack.listen(port: 80)
        peer.deliver(flags: .syn)
        _ = peer.take()
        peer.peerNext += 1
        peer.deliver(flags: .rst)
        #expect(peer.stack.accept(port: 80) == nil)
        #expect(peer.stack.connectionCounts.allSatisfy { $0.count == 0 })
    }

    @Test func rfc9293_3_10_7_4_ackOfSomethingElseInSynReceivedIsAnsweredWithReset() {
        var peer = TCPHarness()
        try! peer.stack.listen(port: 80)
        peer.deliver(flags: .syn)
        _ = peer.take()
        peer.peerNext += 1
        peer.deliver(flags: .ack, acknowledgment: 12345)
        let reply = peer.take()
        #expect(reply.count == 1 && reply[0].flags == .rst && reply[0].sequence == 12345)
    }

    @Test func abortSendsResetAndFreesTheConnection() {
        var (peer, socket, _) = connection(in: .established)
        peer.stack.abort(socket)
        peer.poll()
        #expect(peer.take().map(\.flags) == [.rst])
        #expect(peer.stack.connectionCounts.allSatisfy { $0.count == 0 })
    }
}
