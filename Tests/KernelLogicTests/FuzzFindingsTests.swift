// Regression tests for the bugs the libFuzzer targets found (fuzz/, docs/fuzzing.md), one test each,
// built from the crashing input reduced to its steps.

@testable import NetTCP
import NetWire
import PCILogic
import Testing

@Suite struct FuzzFindingsTests {
    /// fuzz/targets/tcp-stack.swift: out-of-order data written past the receive ring's tail was lost
    /// when the application read the ring empty in between, because `read` moved the head back to 0.
    @Test func outOfOrderDataSurvivesTheApplicationEmptyingTheReceiveRing() {
        var ring = ByteRing(capacity: 16)
        let inOrder: [UInt8] = [0, 1, 2, 3], ahead: [UInt8] = [6, 7], hole: [UInt8] = [4, 5]
        inOrder.withUnsafeBytes { _ = ring.append($0) }                       // in order, unread
        ahead.withUnsafeBytes { ring.write($0, at: ring.count + 2) }          // past a 2-byte hole
        var first = [UInt8](repeating: 0, count: 4)
        #expect(first.withUnsafeMutableBytes { ring.read(into: $0) } == 4 && first == [0, 1, 2, 3])
        hole.withUnsafeBytes { ring.write($0, at: ring.count) }               // the hole is filled
        ring.commit(4)
        var rest = [UInt8](repeating: 0, count: 4)
        #expect(rest.withUnsafeMutableBytes { ring.read(into: $0) } == 4)
        #expect(rest == [4, 5, 6, 7])
    }

    @Test func outOfOrderSegmentReadAcrossAnEmptyRingIsDeliveredIntact() {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        let stream = pattern(300)
        peer.peerSends(Array(stream[0..<100]))
        let ahead = peer.peerNext
        peer.deliver(flags: [.ack, .psh], sequence: ahead &+ 150, data: Array(stream[250..<300]))
        #expect(peer.read(socket) == Array(stream[0..<100]))                  // empties the ring
        peer.peerSends(Array(stream[100..<250]))                              // fills the hole
        #expect(peer.read(socket) == Array(stream[100..<300]))
    }

    /// fuzz/targets/tcp-stack.swift: a FIN at RCV.NXT while out-of-order data beyond it was held left
    /// that data's range behind, starting at the new RCV.NXT. Data past a FIN is dropped (as Linux).
    @Test func finDropsTheOutOfOrderDataBeyondIt() throws {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        peer.deliver(flags: [.ack, .psh], sequence: peer.peerNext &+ 1, data: pattern(20))
        peer.deliver(flags: [.fin, .ack])
        let connection = try #require(peer.stack.connection(socket))
        #expect(connection.state == .closeWait && connection.outOfOrder.isEmpty)
        #expect(connection.readableBytes == 0 && connection.isReceiveFinished)
    }

    /// fuzz/targets/tcp-stack.swift: after the application closed, in-order data is acknowledged and
    /// dropped; RCV.NXT then moved over out-of-order ranges held from before, which stayed listed.
    @Test func dataAfterTheApplicationClosedClearsTheOutOfOrderRanges() throws {
        var peer = TCPHarness()
        let (socket, _) = peer.establishPassive()
        peer.deliver(flags: [.ack, .psh], sequence: peer.peerNext &+ 10, data: pattern(20))
        peer.stack.close(socket)
        peer.peerSends(pattern(100))
        let connection = try #require(peer.stack.slots.lazy.compactMap(\.connection).first)
        #expect(connection.state == .finWait1 && connection.receiveNext.rawValue == peer.peerNext)
        #expect(connection.outOfOrder.isEmpty)
    }

    /// fuzz/targets/tcp-stack.swift (out of memory): a close in SYN-RECEIVED reached by a simultaneous
    /// open, before the SYN-ACK went out, moved to FIN-WAIT-1 with SND.NXT = ISS; the output loop then
    /// sent empty segments forever. The FIN now waits for ESTABLISHED (RFC 9293 3.10.4).
    @Test(.timeLimit(.minutes(1)))
    func closeInSynReceivedSendsTheSynAckThenTheFin() throws {
        var peer = TCPHarness()
        let socket = try peer.stack.connect(to: TCPEndpoint(TCPHarness.peer, 80), now: peer.now)
        peer.poll()
        let syn = peer.take()[0]
        peer.peerPort = 80
        peer.deliver(flags: .syn, port: syn.header.sourcePort, options: TCPOptions(maximumSegmentSize: 1460), poll: false)
        peer.peerNext += 1
        peer.stack.close(socket)
        peer.poll()
        let synAck = peer.take()
        #expect(synAck.count == 1 && synAck.first?.flags == [.syn, .ack] && synAck.first?.sequence == syn.sequence)
        peer.deliver(flags: .ack, acknowledgment: syn.sequence &+ 1, port: syn.header.sourcePort)
        let fin = peer.take()
        #expect(fin.count == 1 && fin.first?.flags == [.fin, .ack] && fin.first?.sequence == syn.sequence &+ 1)
    }

    /// fuzz/targets/tcp-stack.swift: a FIN queued after the data went out and first sent on the
    /// retransmission of that data did not advance SND.MAX, so the peer's ACK of it was taken for an
    /// ACK of unsent data and dropped: the connection stayed in FIN-WAIT-1 until it timed out.
    @Test func finFirstSentOnARetransmissionIsAcknowledged() {
        var peer = TCPHarness()
        let (socket, iss) = peer.establishPassive()
        _ = peer.send(socket, pattern(64))
        #expect(peer.take().count == 1)
        peer.stack.close(socket)                                    // no poll before the timeout
        peer.advance(milliseconds: 1500)
        let retransmission = peer.take()
        #expect(retransmission.count == 1 && retransmission.first?.flags.contains(.fin) == true
                && retransmission.first?.data.count == 64)
        peer.deliver(flags: .ack, acknowledgment: iss &+ 1 &+ 64 &+ 1)
        #expect(peer.take().isEmpty, "an ACK of our FIN is not answered")
        #expect(peer.stack.connectionCounts.first { $0.state == .finWait2 }?.count == 1)
    }

    /// fuzz/targets/pci.swift: sizes came from ~mask + 1, which is only a size when the probe reads
    /// back ones from the top down; a 64-bit BAR in the last register (no upper half to probe) came out
    /// about 16 EiB, and a range past 2^64 made `mappedMemoryBAR`'s `address + size` trap.
    @Test func barSizesArePowersOfTwoAndRangesFitTheAddressSpace() {
        #expect(PCIBAR.decode(value: 0xFEBC_000C, probe: 0xFFFF_F00C)?.size == 0x1000)       // no upper half
        #expect(PCIBAR.decode(value: 0xFEBC_0000, probe: 0xFF0F_F000)?.size == 0x1000)       // a hole in the mask
        #expect(PCIBAR.decode(value: 0xFFFF_FFF4, probe: 0xFFFF_FFF4, high: 0xFFFF_FFFF, highProbe: 0xFFFF_FFFF) == nil)
        #expect(PCIBAR.decode(value: 0xFFFF_FFE4, probe: 0xFFFF_FFF4, high: 0xFFFF_FFFF, highProbe: 0xFFFF_FFFF)
                == PCIBAR(kind: .memory64, address: 0xFFFF_FFFF_FFFF_FFE0, size: 0x10))
    }
}
