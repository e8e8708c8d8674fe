// UDPPacket and UDPRepr (lib/net/net-wire/UDP.swift). Input: a mode byte, the pseudo-header's source and
// destination addresses (4 bytes each), then a UDP datagram (trailing bytes allowed). Mode bit 0 set:
// the checksum is repaired (over the datagram's own length, when that fits the buffer).
//
// Checks: the view's lengths agree; its checksum verification agrees with an independent sum; an
// accepted representation, emitted with the payload, parses to the same representation, and is the
// same datagram byte for byte when it carried a checksum (a checksum of 0 means none; emit always
// computes one). Emitting without a checksum parses too.

import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let source = input.u32(), destination = input.u32()
    var bytes = Array(input.rest())
    if mode & 1 != 0, bytes.count >= 8 {
        let length = Int(read16(bytes, 4))
        if length >= 8 && length <= bytes.count {
            let pseudoHeader = pseudoHeaderSum(source: source, destination: destination, protocol: 17, length: length)
            bytes.withUnsafeMutableBytes {
                repairChecksum(UnsafeMutableRawBufferPointer(rebasing: $0[0..<length]), field: 6, initial: pseudoHeader)
            }
        }
    }
    bytes.withUnsafeBytes { check($0, IPv4Address(rawValue: source), IPv4Address(rawValue: destination)) }
    return 0
}

func check(_ bytes: UnsafeRawBufferPointer, _ source: IPv4Address, _ destination: IPv4Address) {
    guard let packet = try? UDPPacket(checking: bytes) else { return }
    precondition(packet.length >= 8 && packet.length <= bytes.count, "UDP: length")
    precondition(packet.payload.count == packet.length - 8, "UDP: payload")
    _ = (packet.sourcePort, packet.destinationPort)
    let pseudoHeader = pseudoHeaderSum(source: source.rawValue, destination: destination.rawValue, protocol: 17,
                                       length: packet.length)
    let independent = packet.checksum == 0
        || verifies(UnsafeRawBufferPointer(rebasing: bytes[0..<packet.length]), initial: pseudoHeader)
    precondition(packet.verifyChecksum(source: source, destination: destination) == independent, "UDP: checksum verification")

    guard let repr = try? UDPRepr(parsing: packet, source: source, destination: destination) else { return }
    let datagram = emitted(packet.length, payload: packet.payload, at: 8) {
        repr.emit(into: $0, source: source, destination: destination)
    }
    let again = datagram.withUnsafeBytes { buffer in
        try? UDPRepr(parsing: UDPPacket(checking: buffer), source: source, destination: destination)
    }
    precondition(again == repr, "UDP: emit then parse gives another representation")
    precondition(read16(datagram, 6) != 0, "UDP: emit wrote the no-checksum value")
    if packet.checksum != 0 {
        precondition(datagram.elementsEqual(bytes[0..<packet.length]), "UDP: re-emitted datagram differs")
    }
    let unchecked = emitted(packet.length, payload: packet.payload, at: 8) {
        repr.emit(into: $0, source: source, destination: destination, checksum: false)
    }
    let uncheckedAgain = unchecked.withUnsafeBytes { buffer in
        try? UDPRepr(parsing: UDPPacket(checking: buffer), source: source, destination: destination)
    }
    precondition(read16(unchecked, 6) == 0 && uncheckedAgain == repr, "UDP: a datagram without checksum")
}
