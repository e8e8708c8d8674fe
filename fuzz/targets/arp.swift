// ARPPacket and ARPRepr (lib/net/net-wire/ARP.swift). Input: an ARP packet, trailing bytes allowed.
//
// Checks: the view's address slices have the sizes the packet declares and lie inside the buffer; an
// accepted representation re-emits the same 28 bytes exactly (IPv4-over-Ethernet ARP has no field the
// representation drops), and parsing those gives the same representation.

import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let packet = try? ARPPacket(checking: bytes) else { return 0 }
    precondition(packet.length <= bytes.count, "ARP: declared length past the buffer")
    precondition(packet.senderHardwareAddress.count == packet.hardwareLength
                 && packet.targetHardwareAddress.count == packet.hardwareLength
                 && packet.senderProtocolAddress.count == packet.protocolLength
                 && packet.targetProtocolAddress.count == packet.protocolLength, "ARP: address sizes")
    for address in [packet.senderHardwareAddress, packet.senderProtocolAddress,
                    packet.targetHardwareAddress, packet.targetProtocolAddress] {
        for byte in address { _ = byte }
    }
    _ = (packet.hardwareType, packet.protocolType, packet.operation)

    guard let repr = try? ARPRepr(parsing: packet) else { return 0 }
    let packetBytes = emitted(ARPRepr.length) { repr.emit(into: $0) }
    precondition(packetBytes.elementsEqual(bytes[0..<ARPRepr.length]), "ARP: re-emitted bytes differ")
    let again = packetBytes.withUnsafeBytes { buffer in try? ARPRepr(parsing: ARPPacket(checking: buffer)) }
    precondition(again == repr, "ARP: emit then parse gives another representation")
    return 0
}
