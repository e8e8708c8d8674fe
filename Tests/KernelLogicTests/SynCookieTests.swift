// SYN cookies (RFC 4987 3.6; Linux's tcp_syncookies): a listener whose backlog is full of a flood's
// half-open connections still completes real clients' handshakes — statelessly, with the MSS carried
// in the cookie — and forged, stale or mismatched cookies complete nothing.

import NetTCP
import NetWire
import Testing

@Suite struct SynCookieTests {
    /// Fills port 80's backlog (2) with half-open connections from ports 50001-50002.
    func flooded(_ configuration: TCPConfiguration = TCPHarness.plainConfiguration) -> TCPHarness {
        var peer = TCPHarness(configuration: configuration)
        try! peer.stack.listen(port: 80, backlog: 2)
        for port: UInt16 in 1...2 {
            peer.peerPort = 50000 + port
            peer.deliver(flags: .syn)
        }
        _ = peer.take()
        peer.peerPort = TCPHarness.peerPort
        return peer
    }

    @Test func aClientCompletesItsHandshakeThroughAFullBacklog() {
        var peer = flooded()
        peer.deliver(flags: .syn, options: TCPOptions(maximumSegmentSize: 1400, windowScale: 7, sackPermitted: true))
        let synAck = peer.take()
        #expect(synAck.count == 1 && synAck.first?.flags == [.syn, .ack])
        #expect(synAck.first?.acknowledgment == 1_001)
        #expect(synAck.first?.header.options.maximumSegmentSize == 1460)
        #expect(synAck.first?.header.options.windowScale == nil && synAck.first?.header.options.timestamps == nil,
                "a cookie carries no window scale or timestamps, so none is offered")
        #expect(peer.stack.statistics.synCookiesSent == 1 && peer.stack.statistics.listenOverflows == 0)
        // The handshake's ACK carries the request: the connection is made, established, with its data.
        let iss = synAck[0].sequence
        peer.peerNext = 1_001
        peer.peerAcknowledged = iss &+ 1
        peer.peerSends(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(peer.stack.statistics.synCookiesAccepted == 1)
        let socket = peer.stack.accept(port: 80)
        #expect(socket != nil)
        #expect(socket.flatMap { peer.stack.connection($0)?.state } == .established)
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { (try? peer.stack.receive(socket!, into: $0)) ?? 0 }
        #expect(Array(buffer[0 ..< count]) == Array("GET / HTTP/1.1\r\n\r\n".utf8))
        // Its MSS is the cookie's (1400 rounded down to the table's 1220), not our 1460.
        let big = [UInt8](repeating: 0x41, count: 3000)
        _ = peer.send(socket!, big)
        let segments = peer.take().filter { !$0.data.isEmpty }
        #expect(segments.first?.data.count == 1220, "\(segments)")
    }

    @Test func forgedStaleAndMismatchedCookiesCompleteNothing() {
        var peer = flooded()
        peer.deliver(flags: .syn)
        let iss = peer.take()[0].sequence
        // A blind ACK with a guessed number: a reset, no connection.
        peer.peerNext = 1_001
        peer.deliver(flags: .ack, acknowledgment: iss &+ 2)
        #expect(peer.take().map(\.flags) == [.rst])
        // The right cookie from another port, or for another initial sequence number.
        peer.peerPort = 40001
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1)
        peer.peerPort = TCPHarness.peerPort
        peer.deliver(flags: .ack, sequence: 5_001, acknowledgment: iss &+ 1)
        #expect(peer.stack.statistics.synCookiesRejected == 3 && peer.stack.statistics.synCookiesAccepted == 0)
        // The right one, three minutes later: too old.
        peer.now += 180_000_000_000
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1)
        #expect(peer.stack.statistics.synCookiesAccepted == 0 && peer.stack.accept(port: 80) == nil)
        // A cookie a minute old still works (the current or the previous 64-second period; the flood's
        // half-open entries, retried for 63 s, still fill the backlog).
        var later = flooded()
        later.deliver(flags: .syn)
        let fresh = later.take().first { $0.flags == [.syn, .ack] }!.sequence
        later.now += 60_000_000_000
        later.peerNext = 1_001
        later.deliver(flags: .ack, acknowledgment: fresh &+ 1)
        #expect(later.stack.statistics.synCookiesAccepted == 1 && later.stack.accept(port: 80) != nil)
    }

    @Test func aFloodOfThousandsKeepsNoStateAndEveryRealClientGetsIn() {
        var peer = flooded()
        var cookies: [UInt16: UInt32] = [:]
        for index in 0 ..< 3000 {
            peer.peerPort = UInt16(10_000 + index)
            peer.deliver(flags: .syn, sequence: UInt32(index) &* 7919)
            if index % 100 == 0, let synAck = peer.take().last { cookies[peer.peerPort] = synAck.sequence }
        }
        _ = peer.take()
        #expect(peer.stack.statistics.synCookiesSent >= 2900, "at most 64 wait between polls")
        #expect(peer.stack.connectionCounts.reduce(0) { $0 + $1.count } == 2, "only the two half-open entries")
        // Thirty of the senders complete: connections until the accept queue (as long as the backlog) is
        // full; the rest are dropped and their peers retry, as on Linux. The SYN queue is not involved.
        for (port, cookie) in cookies {
            peer.peerPort = port
            let index = UInt32(port - 10_000)
            peer.deliver(flags: .ack, sequence: (index &* 7919) &+ 1, acknowledgment: cookie &+ 1)
        }
        var accepted = 0
        while peer.stack.accept(port: 80) != nil { accepted += 1 }
        #expect(accepted == 2, "the backlog (2) bounds what waits for accept; the rest retry")
        #expect(peer.stack.connectionCounts.first { $0.state == .synReceived }?.count == 2, "the flood's half-open entries stay")
        #expect(peer.stack.statistics.synCookiesAccepted == 2 && peer.stack.statistics.listenOverflows == 28)
    }

    @Test func aFullAcceptQueueDropsTheSynEvenWithCookies() {
        var peer = TCPHarness()
        try! peer.stack.listen(port: 80, backlog: 1)
        peer.peerPort = 50001
        peer.deliver(flags: .syn)
        let iss = peer.take()[0].sequence
        peer.peerNext = 1_001
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1)          // established, not accepted
        peer.peerPort = 50002
        peer.deliver(flags: .syn)
        #expect(peer.take().isEmpty && peer.stack.statistics.listenOverflows == 1 && peer.stack.statistics.synCookiesSent == 0)
    }

    @Test func withCookiesOffAFullBacklogDropsTheSyn() {
        var configuration = TCPHarness.plainConfiguration
        configuration.synCookies = false
        var peer = flooded(configuration)
        peer.deliver(flags: .syn)
        #expect(peer.take().isEmpty && peer.stack.statistics.listenOverflows == 1 && peer.stack.statistics.synCookiesSent == 0)
    }
}
