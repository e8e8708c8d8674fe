// EthernetFrame and EthernetRepr (lib/net/net-wire/Ethernet.swift), and a whole frame walked down through
// ARP or IPv4 to ICMP, UDP or TCP, the way the interface does. Input: a mode byte, then a frame. Mode
// bit 0 set: the IPv4 header checksum and the ICMP, UDP or TCP checksum are repaired where the lengths
// allow, so that frames reach the inner layers.
//
// Checks: the Ethernet header re-emits byte for byte; a frame that parses to the bottom is rebuilt from
// its representations (payload first, then each header inside out, as a sender does) and parses to the
// same representations and payload. IPv4 options and unknown TCP options are not represented, so the
// rebuilt frame's lengths are those of what was kept.

import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    var bytes = Array(input.rest())
    if mode & 1 != 0 { bytes.withUnsafeMutableBytes { repairChecksums($0) } }
    bytes.withUnsafeBytes { check($0) }
    return 0
}

func check(_ bytes: UnsafeRawBufferPointer) {
    guard let frame = try? EthernetFrame(checking: bytes) else { return }
    precondition(frame.payload.count == bytes.count - 14, "Ethernet: payload")
    _ = (frame.destination.isMulticast, frame.source.isLocallyAdministered, frame.etherType.isLength)
    if let repr = try? EthernetRepr(parsing: frame) {
        let header = emitted(EthernetRepr.headerLength) { repr.emit(into: $0) }
        precondition(header.elementsEqual(bytes[0..<14]), "Ethernet: re-emitted header differs")
    }
    guard let parsed = try? FrameRepr(parsing: bytes) else { return }
    let rebuilt = parsed.emitted()
    let again = rebuilt.withUnsafeBytes { try? FrameRepr(parsing: $0) }
    precondition(again == parsed.normalized, "frame: rebuilt frame parses differently")
}

/// Repairs the IPv4 header checksum and the ICMP, UDP or TCP checksum of an IPv4 frame, as far as the
/// frame's lengths allow.
func repairChecksums(_ frame: UnsafeMutableRawBufferPointer) {
    guard frame.count >= 34, frame[12] == 0x08, frame[13] == 0x00 else { return }
    let headerLength = Int(frame[14] & 0x0F) * 4
    guard headerLength >= 20, 14 + headerLength <= frame.count else { return }
    repairChecksum(UnsafeMutableRawBufferPointer(rebasing: frame[14..<14 + headerLength]), field: 10)
    let totalLength = Int(frame[16]) << 8 | Int(frame[17])
    guard totalLength >= headerLength, 14 + totalLength <= frame.count else { return }
    let message = UnsafeMutableRawBufferPointer(rebasing: frame[14 + headerLength..<14 + totalLength])
    let source = read32(UnsafeRawBufferPointer(frame), 26), destination = read32(UnsafeRawBufferPointer(frame), 30)
    switch frame[23] {
    case 1 where message.count >= 4:
        repairChecksum(message, field: 2)
    case 17 where message.count >= 8:
        let length = Int(message[4]) << 8 | Int(message[5])
        guard length >= 8, length <= message.count else { return }
        repairChecksum(UnsafeMutableRawBufferPointer(rebasing: message[0..<length]), field: 6,
                       initial: pseudoHeaderSum(source: source, destination: destination, protocol: 17, length: length))
    case 6 where message.count >= 18:
        repairChecksum(message, field: 16,
                       initial: pseudoHeaderSum(source: source, destination: destination, protocol: 6, length: message.count))
    default:
        break
    }
}
