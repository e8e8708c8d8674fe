// ICMPv4Packet and ICMPv4Repr (lib/net/net-wire/ICMPv4.swift). Input: a mode byte, then an ICMP message
// (the whole of it: its length comes from the IPv4 layer). Mode bit 0 set: the checksum is repaired.
//
// Checks: checksum verification agrees with an independent sum (fuzz/support); an accepted echo
// message, emitted with its data, is the same message byte for byte (the checksum up to its two
// zeros) and parses to the same representation; its reply keeps identifier and sequence number. The
// destination-unreachable emitter is run over the same data and must verify.

import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    var bytes = Array(input.rest())
    if mode & 1 != 0, bytes.count >= 4 {
        bytes.withUnsafeMutableBytes { repairChecksum($0, field: 2) }
    }
    bytes.withUnsafeBytes { check($0) }
    return 0
}

func check(_ bytes: UnsafeRawBufferPointer) {
    guard let packet = try? ICMPv4Packet(checking: bytes) else { return }
    precondition(packet.data.count == bytes.count - 8, "ICMPv4: data length")
    precondition(packet.restOfHeader == UInt32(packet.identifier) << 16 | UInt32(packet.sequenceNumber),
                 "ICMPv4: rest of header")
    _ = (packet.messageType, packet.code, packet.checksum)
    precondition(packet.verifyChecksum() == verifies(bytes), "ICMPv4: checksum verification")

    let unreachable = emitted(bytes.count, payload: packet.data, at: 8) {
        ICMPv4DestinationUnreachable(code: ICMPv4DestinationUnreachable.portUnreachable).emit(into: $0)
    }
    unreachable.withUnsafeBytes { buffer in
        precondition((try? ICMPv4Packet(checking: buffer))?.verifyChecksum() == true, "ICMPv4: unreachable does not verify")
    }

    guard let repr = try? ICMPv4Repr(parsing: packet) else { return }
    precondition(packet.verifyChecksum() && packet.code == 0, "ICMPv4: accepted a bad message")
    let message = emitted(bytes.count, payload: packet.data, at: 8) { repr.emit(into: $0) }
    precondition(message[0..<2].elementsEqual(bytes[0..<2]) && message[4...].elementsEqual(bytes[4...]),
                 "ICMPv4: re-emitted message differs")
    precondition(checksumsAgree(original: packet.checksum, emitted: read16(message, 2)), "ICMPv4: checksum differs")
    let again = message.withUnsafeBytes { buffer in try? ICMPv4Repr(parsing: ICMPv4Packet(checking: buffer)) }
    precondition(again == repr, "ICMPv4: emit then parse gives another representation")
    switch (repr, repr.reply) {
    case (.echoRequest(let identifier, let sequence), .echoReply(let replyIdentifier, let replySequence)?):
        precondition(identifier == replyIdentifier && sequence == replySequence, "ICMPv4: reply fields")
    case (.echoReply, nil):
        break
    default:
        preconditionFailure("ICMPv4: wrong reply")
    }
}
