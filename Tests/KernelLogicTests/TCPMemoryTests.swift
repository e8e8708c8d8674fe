// The memory side of TCP (issue "Hardening", item 0): rings that hold storage only while they hold
// bytes, a budget that refuses instead of panicking, a receive window that shrinks to the storage there
// is, SYNs refused when memory is short (after orphans are reset to make room), closes with unread data
// that reset (RFC 1122 4.2.2.13, as Linux does), and orphaned FIN-WAIT-2 connections that time out.

import NetTCP
import NetWire
import Testing

struct TCPMemoryTests {
    // MARK: ByteRing and NetworkMemory

    @Test func anIdleRingHoldsNoStorageAndGrowsByDoublingFromTheMinimum() {
        let memory = NetworkMemory(limit: 1 << 20)
        var ring = ByteRing(capacity: 8192, memory: memory)
        #expect(ring.allocatedBytes == 0 && memory.used == 0)
        pattern(100).withUnsafeBytes { _ = ring.append($0) }
        #expect(ring.allocatedBytes == 512 && memory.used == 512)
        pattern(900, seed: 1).withUnsafeBytes { _ = ring.append($0) }
        #expect(ring.allocatedBytes == 1024)
        pattern(3000, seed: 2).withUnsafeBytes { _ = ring.append($0) }
        #expect(ring.allocatedBytes == 4096 && memory.used == 4096, "only the grown storage stays charged")
        var out = [UInt8](repeating: 0, count: 4000)
        #expect(out.withUnsafeMutableBytes { ring.read(into: $0) } == 4000)
        #expect(out == pattern(100) + pattern(900, seed: 1) + pattern(3000, seed: 2))
        ring.releaseStorage()
        #expect(ring.allocatedBytes == 0 && memory.used == 0 && memory.peak == 4096 + 1024)
    }

    @Test func growthKeepsBytesInOrderAcrossTheWrap() {
        var ring = ByteRing(capacity: 4096, memory: NetworkMemory(limit: 1 << 20))
        pattern(400).withUnsafeBytes { _ = ring.append($0) }
        var sink = [UInt8](repeating: 0, count: 300)
        _ = sink.withUnsafeMutableBytes { ring.read(into: $0) }             // head at 300 of 512
        pattern(300, seed: 3).withUnsafeBytes { _ = ring.append($0) }       // wraps in the 512 bytes
        pattern(600, seed: 4).withUnsafeBytes { _ = ring.append($0) }       // grows: linearized
        var out = [UInt8](repeating: 0, count: 1000)
        #expect(out.withUnsafeMutableBytes { ring.read(into: $0) } == 1000)
        #expect(out == Array(pattern(400)[300...]) + pattern(300, seed: 3) + pattern(600, seed: 4))
    }

    @Test func aSpentBudgetRefusesGrowthAndCountsItWithoutLosingBytes() {
        let memory = NetworkMemory(limit: 1024)
        var first = ByteRing(capacity: 4096, memory: memory)
        var second = ByteRing(capacity: 4096, memory: memory)
        #expect(pattern(1024).withUnsafeBytes { first.append($0) } == 1024)
        #expect(memory.available == 0)
        #expect(pattern(10).withUnsafeBytes { second.append($0) } == 0, "no storage: nothing taken")
        #expect(second.placeableBytes == 0 && memory.refusals == 1)
        #expect(pattern(10).withUnsafeBytes { first.append($0) } == 0, "a full ring cannot double either")
        first = ByteRing(capacity: 4096, memory: memory)                    // the old storage goes back
        #expect(memory.used == 0)
        #expect(pattern(10).withUnsafeBytes { second.append($0) } == 10)
    }

    @Test func copiedRingsShareStorageUntilOneWrites() {
        let memory = NetworkMemory(limit: 1 << 20)
        var ring = ByteRing(capacity: 1024, memory: memory)
        pattern(50).withUnsafeBytes { _ = ring.append($0) }
        var copy = ring
        #expect(memory.used == 512)
        pattern(5, seed: 9).withUnsafeBytes { _ = copy.append($0) }
        #expect(memory.used == 1024 && ring.count == 50 && copy.count == 55)
    }

    // MARK: The connection under a budget

    static func budgeted(_ limit: Int) -> (TCPHarness, NetworkMemory) {
        var configuration = TCPHarness.plainConfiguration
        let memory = NetworkMemory(limit: limit)
        memory.headroom = 0
        configuration.memory = memory
        var harness = TCPHarness(configuration: configuration)
        harness.stack.admissionReserve = 0
        return (harness, memory)
    }

    @Test func anEstablishedIdleConnectionHoldsNoBufferMemory() {
        var (peer, memory) = Self.budgeted(1 << 20)
        let (socket, _) = peer.establishPassive()
        #expect(memory.used == 0 && peer.stack.totalBufferMemory == 0)
        peer.peerSends(pattern(100))
        #expect(memory.used == 512)
        #expect(peer.read(socket) == pattern(100))
        #expect(memory.used == 0, "the receive ring gives its storage back when read empty")
        _ = peer.send(socket, pattern(200))
        #expect(memory.used == 512)
        peer.deliver(flags: .ack, acknowledgment: peer.take().last!.sequence &+ 200)
        #expect(memory.used == 0, "the send ring gives its storage back when everything is acknowledged")
    }

    @Test func theReceiveWindowShrinksToTheStorageTheBudgetAllowsAndTheRestIsNotAcknowledged() {
        var (peer, memory) = Self.budgeted(1024)
        let (socket, _) = peer.establishPassive()
        _ = peer.take()
        peer.deliver(flags: [.ack, .psh], data: pattern(1400))
        peer.advance(milliseconds: 500)
        let ack = peer.take().last
        #expect(ack?.acknowledgment == peer.peerNext &+ 1024, "only what could be stored is acknowledged")
        #expect(ack.map { Int($0.header.window) } == 0, "and the window says there is no more room")
        #expect(memory.used == 1024)
        #expect(peer.read(socket) == Array(pattern(1400)[..<1024]))
        #expect(memory.used == 0)
    }

    @Test func aSynIsRefusedAndCountedWhenMemoryIsShortAndAnsweredWhenItIsBack() {
        var (peer, memory) = Self.budgeted(1 << 20)
        peer.stack.admissionReserve = 16 * 1024
        memory.limit = 8 * 1024
        try! peer.stack.listen(port: 80)
        peer.listening = true
        peer.deliver(flags: .syn, options: TCPOptions(maximumSegmentSize: 1460))
        #expect(peer.take().isEmpty, "no SYN-ACK: the peer retransmits its SYN")
        #expect(peer.stack.statistics.memoryRefusals == 1)
        memory.limit = 1 << 20
        peer.deliver(flags: .syn, options: TCPOptions(maximumSegmentSize: 1460))
        #expect(peer.take().first?.flags == [.syn, .ack])
    }

    @Test func anOrphanHoldingMemoryIsResetToAdmitANewConnection() {
        var (peer, memory) = Self.budgeted(1 << 20)
        let (socket, iss) = peer.establishPassive(window: 0)                // the peer never opens its window
        #expect(peer.send(socket, pattern(4000)) == 4000)
        peer.stack.close(socket)                                            // an orphan with 4000 bytes unsent
        peer.poll()
        _ = peer.take()
        #expect(peer.stack.orphanedConnections == 1 && memory.used == 4096)
        peer.stack.admissionReserve = 16 * 1024
        memory.limit = 4096 + 16 * 1024 - 1
        peer.peerPort += 1
        peer.deliver(flags: .syn, options: TCPOptions(maximumSegmentSize: 1460))
        let sent = peer.take()
        #expect(sent.contains { $0.flags == .rst && $0.header.destinationPort == TCPHarness.peerPort && $0.sequence == iss &+ 1 },
                "the orphan is reset: \(sent)")
        #expect(sent.contains { $0.flags == [.syn, .ack] && $0.header.destinationPort == TCPHarness.peerPort + 1 })
        #expect(peer.stack.statistics.orphansReset == 1 && peer.stack.orphanedConnections == 0 && memory.used == 0)
    }

    // MARK: Closing

    @Test func rfc1122_4_2_2_13_closeWithUnreadDataSendsResetAndFreesTheConnection() {
        var (peer, memory) = Self.budgeted(1 << 20)
        let (socket, iss) = peer.establishPassive()
        peer.peerSends(pattern(10))
        _ = peer.take()
        peer.stack.close(socket)
        peer.poll()
        let sent = peer.take()
        #expect(sent.count == 1 && sent.first?.flags == .rst && sent.first?.sequence == iss &+ 1, "\(sent)")
        #expect(peer.stack.connectionCounts.allSatisfy { $0.count == 0 } && memory.used == 0)
        #expect(peer.stack.statistics.closedWithUnreadData == 1)
    }

    @Test func closeAfterReadingEverythingSendsFin() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        peer.peerSends(pattern(10))
        _ = peer.read(socket)
        _ = peer.take()
        peer.stack.close(socket)
        peer.poll()
        #expect(peer.take().first?.flags.contains(.fin) == true)
    }

    @Test func anOrphanInFinWait2EndsAfterTheFinWait2Timeout() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        peer.stack.close(socket)
        peer.poll()
        #expect(peer.take().first?.flags.contains(.fin) == true)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 2)                 // our FIN acknowledged; no FIN back
        #expect(peer.stack.connectionCounts.contains { $0.state == .finWait2 && $0.count == 1 })
        #expect(peer.stack.orphanedConnections == 1)
        peer.advance(milliseconds: 59_000)
        #expect(peer.stack.orphanedConnections == 1)
        peer.advance(milliseconds: 1_000)
        #expect(peer.stack.connectionCounts.allSatisfy { $0.count == 0 }, "the slot is free again")
    }
}
