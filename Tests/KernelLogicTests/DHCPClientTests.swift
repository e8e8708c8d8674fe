// DHCP client state machine (RFC 2131 section 3.1; options per RFC 2132) against scripted replies.

import NetInterface
import NetWire
import Testing

let clientMAC = MACAddress(0x52, 0x54, 0, 0x12, 0x34, 0x56)

/// A BOOTREPLY as QEMU's slirp sends it.
func bootReply(type: UInt8, xid: UInt32, yourAddress: [UInt8] = [10, 0, 2, 15], mac: MACAddress = clientMAC,
               options extra: [UInt8] = [1, 4, 255, 255, 255, 0, 3, 4, 10, 0, 2, 2, 6, 4, 10, 0, 2, 3,
                                         51, 4, 0, 1, 0x51, 0x80, 54, 4, 10, 0, 2, 2]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 236)
    bytes[0] = 2; bytes[1] = 1; bytes[2] = 6
    for i in 0..<4 { bytes[4 + i] = UInt8(truncatingIfNeeded: xid >> (24 - 8 * UInt32(i))) }
    for i in 0..<4 { bytes[16 + i] = yourAddress[i] }
    for i in 0..<6 { bytes[28 + i] = UInt8(truncatingIfNeeded: mac.rawValue >> UInt64(40 - 8 * i)) }
    bytes += [99, 130, 83, 99, 53, 1, type] + extra + [255]
    return bytes
}

func options(of message: [UInt8]) -> [UInt8: [UInt8]] {
    var result: [UInt8: [UInt8]] = [:]
    var at = 240
    while at < message.count, message[at] != 255 {
        if message[at] == 0 { at += 1; continue }
        let length = Int(message[at + 1])
        result[message[at]] = Array(message[(at + 2)..<(at + 2 + length)])
        at += 2 + length
    }
    return result
}

func xid(of message: [UInt8]) -> UInt32 {
    UInt32(message[4]) << 24 | UInt32(message[5]) << 16 | UInt32(message[6]) << 8 | UInt32(message[7])
}

@Suite struct DHCPClientTests {
    @Test func rfc2131DiscoverOfferRequestAckBindsTheLease() throws {
        var client = DHCPClient(hardwareAddress: clientMAC, transactionID: 0x1234_5678)
        let step1 = client.messageDue(now: 0)
        let discover = try #require(step1)
        #expect(discover.count >= 300 && discover[0] == 1 && discover[10] == 0x80)   // BOOTREQUEST, BROADCAST
        #expect(xid(of: discover) == 0x1234_5678)
        #expect(options(of: discover)[53] == [1])
        let offer = bootReply(type: 2, xid: 0x1234_5678)
        let step2 = offer.withUnsafeBytes { client.handle($0, now: 10) }
        let request = try #require(step2)
        #expect(options(of: request)[53] == [3])
        #expect(options(of: request)[50] == [10, 0, 2, 15])
        #expect(options(of: request)[54] == [10, 0, 2, 2])
        let ack = bootReply(type: 5, xid: 0x1234_5678)
        let step3 = ack.withUnsafeBytes { client.handle($0, now: 20) }
        #expect(step3 == nil)
        #expect(client.isBound)
        let lease = try #require(client.lease)
        #expect(lease.address == IPv4Address(10, 0, 2, 15) && lease.prefixLength == 24)
        #expect(lease.gateway == IPv4Address(10, 0, 2, 2))
        #expect(lease.dnsServers == [IPv4Address(10, 0, 2, 3)])
        #expect(lease.leaseSeconds == 86_400)
        #expect(client.messageDue(now: 10_000_000_000) == nil)
    }

    @Test func repliesForAnotherTransactionOrClientAreIgnored() {
        var client = DHCPClient(hardwareAddress: clientMAC, transactionID: 7)
        _ = client.messageDue(now: 0)
        let otherXID = bootReply(type: 2, xid: 8), otherMAC = bootReply(type: 2, xid: 7, mac: MACAddress(rawValue: 1))
        let step4 = otherXID.withUnsafeBytes { client.handle($0, now: 1) }
        #expect(step4 == nil)
        let step5 = otherMAC.withUnsafeBytes { client.handle($0, now: 1) }
        #expect(step5 == nil)
        #expect(!client.isBound)
    }

    @Test func rfc2131RetransmitsAfterTheIntervalAndStartsOverAfterTheLastAttempt() throws {
        var client = DHCPClient(hardwareAddress: clientMAC, transactionID: 1, retransmitInterval: 100, maximumAttempts: 2)
        let step6 = client.messageDue(now: 0)
        #expect(step6 != nil)
        let step7 = client.messageDue(now: 50)
        #expect(step7 == nil)
        let step8 = client.messageDue(now: 100)
        let second = try #require(step8)
        #expect(xid(of: second) == 1)
        let step9 = client.messageDue(now: 200)
        let third = try #require(step9)
        #expect(xid(of: third) == 2)                               // a fresh transaction
    }

    @Test func nakStartsOverFromDiscover() throws {
        var client = DHCPClient(hardwareAddress: clientMAC, transactionID: 3)
        _ = client.messageDue(now: 0)
        _ = bootReply(type: 2, xid: 3).withUnsafeBytes { client.handle($0, now: 1) }
        let step10 = bootReply(type: 6, xid: 3, options: []).withUnsafeBytes { client.handle($0, now: 2) }
        #expect(step10 == nil)
        let step11 = client.messageDue(now: 3)
        let discover = try #require(step11)
        #expect(options(of: discover)[53] == [1])
        #expect(!client.isBound)
    }

    @Test func malformedRepliesAreRejected() {
        var client = DHCPClient(hardwareAddress: clientMAC, transactionID: 5)
        _ = client.messageDue(now: 0)
        var truncated = bootReply(type: 2, xid: 5)
        truncated.removeLast(20)                                   // an option runs past the end
        truncated.append(54); truncated.append(40)
        let step12 = truncated.withUnsafeBytes { client.handle($0, now: 1) }
        #expect(step12 == nil)
        let step13 = [UInt8](repeating: 0, count: 100).withUnsafeBytes { client.handle($0, now: 1) }
        #expect(step13 == nil)
        #expect(!client.isBound)
    }
}
