// IPv4Packet and IPv4Repr (lib/net/net-wire/IPv4.swift). Input: a mode byte, then an IPv4 packet (trailing
// bytes allowed, as Ethernet padding). Mode bit 0 set: the header checksum is repaired first, so the
// packet reaches IPv4Repr instead of stopping at `.badChecksum`.
//
// Checks: the view's lengths agree with each other and with the buffer; its checksum verification
// agrees with an independent sum; an accepted representation emits a 20-byte header that parses to
// the same representation and payload. A header without options and with the reserved flag clear is
// re-emitted byte for byte (the checksum up to its two zeros).

import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    var bytes = Array(input.rest())
    if mode & 1 != 0, bytes.count >= 20 {
        let headerLength = min(Int(bytes[0] & 0x0F) * 4, bytes.count)
        if headerLength >= 12 {
            bytes.withUnsafeMutableBytes {
                repairChecksum(UnsafeMutableRawBufferPointer(rebasing: $0[0..<headerLength]), field: 10)
            }
        }
    }
    bytes.withUnsafeBytes { check($0) }
    return 0
}

func check(_ bytes: UnsafeRawBufferPointer) {
    guard let packet = try? IPv4Packet(checking: bytes) else { return }
    let headerLength = packet.headerLength, totalLength = packet.totalLength
    precondition(packet.version == 4 && headerLength >= 20 && headerLength <= 60, "IPv4: header length")
    precondition(headerLength <= totalLength && totalLength <= bytes.count, "IPv4: total length")
    precondition(packet.options.count == headerLength - 20, "IPv4: options")
    precondition(packet.payload.count == totalLength - headerLength, "IPv4: payload")
    precondition(packet.isFragment == (packet.moreFragments || packet.fragmentOffset != 0), "IPv4: isFragment")
    precondition(packet.fragmentOffset % 8 == 0 && packet.fragmentOffset <= 0xFFF8, "IPv4: fragment offset")
    precondition(packet.dscp < 64 && packet.ecn < 4, "IPv4: DSCP, ECN")
    _ = (packet.identification, packet.reservedFlag, packet.dontFragment, packet.timeToLive, packet.protocol,
         packet.checksum, packet.source, packet.destination)
    for byte in packet.options { _ = byte }
    precondition(packet.verifyChecksum() == verifies(UnsafeRawBufferPointer(rebasing: bytes[0..<headerLength])),
                 "IPv4: checksum verification")

    guard let repr = try? IPv4Repr(parsing: packet) else { return }
    precondition(packet.verifyChecksum(), "IPv4: a representation from a header whose checksum fails")
    precondition(repr.totalLength == totalLength - headerLength + 20, "IPv4: representation length")
    let packetBytes = emitted(repr.totalLength, payload: packet.payload, at: IPv4Repr.headerLength) { repr.emit(into: $0) }
    packetBytes.withUnsafeBytes { emittedBytes in
        let again = try? IPv4Packet(checking: emittedBytes)
        precondition(again.flatMap { try? IPv4Repr(parsing: $0) } == repr,
                     "IPv4: emit then parse gives another representation")
        precondition(again!.payload.elementsEqual(packet.payload), "IPv4: payload changed")
    }
    if headerLength == 20 && !packet.reservedFlag {
        precondition(packetBytes[0..<10].elementsEqual(bytes[0..<10]) && packetBytes[12..<20].elementsEqual(bytes[12..<20]),
                     "IPv4: re-emitted header differs")
        precondition(checksumsAgree(original: packet.checksum, emitted: read16(packetBytes, 10)), "IPv4: checksum differs")
    }
}
