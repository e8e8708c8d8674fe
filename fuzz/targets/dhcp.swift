// DHCPClient.handle (lib/net/net-interface/DHCP.swift): a client fed a conversation of server replies.
// Input: records, each a control byte and a reply, until the input ends.
//
//     control  bit 0: a steered reply: the target writes the BOOTP header itself (BOOTREPLY, Ethernet,
//                     the transaction ID of the client's last message, the client's MAC, the magic
//                     cookie) and the record gives "your address" (4 bytes), a length byte and that many
//                     option bytes; clear: a raw reply, a 16-bit length (up to 1024) and that many bytes
//              bits 1-3: how far the clock moves first (0 to 60 s)
//              bit 4: ask the client for a due message (a first DISCOVER, a retransmission) first
//
// Checks: every message the client sends is a well-formed BOOTREQUEST of at least 300 bytes from its
// MAC with the BROADCAST flag, a DISCOVER or a REQUEST with well-formed options ending in 255; a reply
// answered with a message was an offer, and the answer requests the offered address in the same
// transaction; a lease appears only with an ACK of the requested address, has a prefix of at most 32,
// and afterwards never changes, and no message is due once bound.

import NetInterface
import NetWire

let mac = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
let steps: [UInt64] = [0, 100_000_000, 500_000_000, 1_000_000_000, 2_000_000_000, 5_000_000_000, 10_000_000_000,
                       60_000_000_000]

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    var client = DHCPClient(hardwareAddress: mac, transactionID: 0x1234_5678, retransmitInterval: 2_000_000_000,
                            maximumAttempts: 3)
    var now: UInt64 = 0
    var lastMessage: [UInt8]? = nil
    var requested: [UInt8]? = nil                   // the address the last REQUEST asked for
    var lease: DHCPLease? = nil

    while !input.isAtEnd {
        let control = input.byte()
        now += steps[Int(control >> 1) & 7]
        var reply: [UInt8]
        if control & 1 != 0 {
            reply = [UInt8](repeating: 0, count: 236)
            reply[0] = 2; reply[1] = 1; reply[2] = 6
            if let lastMessage { reply.replaceSubrange(4..<8, with: lastMessage[4..<8]) }
            for (i, byte) in input.take(4).enumerated() { reply[16 + i] = byte }
            for i in 0..<6 { reply[28 + i] = mac[i] }
            reply += [99, 130, 83, 99]
            reply += input.take(Int(input.byte()))
        } else {
            reply = Array(input.take(Int(input.u16() & 0x3FF)))
        }
        if control & 0x10 != 0, let message = client.messageDue(now: now) {
            precondition(lease == nil, "DHCP: a message due while bound")
            check(message)
            lastMessage = message
        }
        let answer = reply.withUnsafeBytes { client.handle($0, now: now) }
        if let answer {
            check(answer)
            precondition(lease == nil, "DHCP: an answer while bound")
            let options = parseOptions(answer)
            precondition(options[53] == [3], "DHCP: the answer to a reply is not a REQUEST")
            precondition(reply.count >= 240 && options[50] == Array(reply[16..<20]),
                         "DHCP: the REQUEST asks for another address")
            precondition(answer[4..<8] == reply[4..<8], "DHCP: the REQUEST is in another transaction")
            requested = options[50]
            lastMessage = answer
        }
        if let current = client.lease {
            precondition(client.isBound, "DHCP: a lease while not bound")
            if let lease {
                precondition(current == lease, "DHCP: the lease changed after binding")
            } else {
                precondition(requested == octets(current.address), "DHCP: a lease for an address never requested")
                precondition(current.prefixLength >= 0 && current.prefixLength <= 32, "DHCP: prefix length")
                _ = current.configuration.isLocal(IPv4Address(10, 0, 2, 2))
            }
            lease = current
        } else {
            precondition(!client.isBound, "DHCP: bound without a lease")
        }
    }
    return 0
}

func octets(_ address: IPv4Address) -> [UInt8] { (0..<4).map { address[$0] } }

/// The options of a message the client sent: they must be well formed and end in 255.
func parseOptions(_ message: [UInt8]) -> [UInt8: [UInt8]] {
    var result: [UInt8: [UInt8]] = [:]
    var at = 240
    while true {
        precondition(at < message.count, "DHCP: options without an end")
        let code = message[at]
        if code == 255 { return result }
        if code == 0 { at += 1; continue }
        precondition(at + 1 < message.count && at + 2 + Int(message[at + 1]) <= message.count, "DHCP: option past the end")
        result[code] = Array(message[(at + 2)..<(at + 2 + Int(message[at + 1]))])
        at += 2 + Int(message[at + 1])
    }
}

func check(_ message: [UInt8]) {
    precondition(message.count >= 300 && message[0] == 1 && message[1] == 1 && message[2] == 6, "DHCP: BOOTREQUEST header")
    precondition(message[10] == 0x80, "DHCP: BROADCAST flag")
    precondition((0..<6).allSatisfy { message[28 + $0] == mac[$0] }, "DHCP: client hardware address")
    precondition(message[236..<240].elementsEqual([99, 130, 83, 99]), "DHCP: magic cookie")
    let options = parseOptions(message)
    precondition(options[53] == [1] || options[53] == [3], "DHCP: neither DISCOVER nor REQUEST")
    if options[53] == [3] {
        precondition(options[50]?.count == 4 && options[54]?.count == 4, "DHCP: REQUEST without address or server")
    }
}
