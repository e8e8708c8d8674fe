// TCPPacket, TCPOptionList and TCPRepr (lib/net/net-wire/TCP.swift, TCPOptions.swift). Input: a mode
// byte, the pseudo-header's source and destination addresses (4 bytes each), then a TCP segment (its
// length is the IPv4 payload length: all the remaining bytes). Mode bit 0 set: the checksum is repaired.
//
// Checks: the view's lengths agree; its checksum verification agrees with an independent sum; the
// options it validated iterate to exactly the option area (or to end-of-list) and validate again on
// their own; an accepted representation emits a segment that parses to the same representation and
// payload, with the same fixed header fields; emitting that again gives the same bytes.

import NetWire

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let source = input.u32(), destination = input.u32()
    var bytes = Array(input.rest())
    if mode & 1 != 0, bytes.count >= 18, bytes.count <= 0xFFFF {
        bytes.withUnsafeMutableBytes {
            repairChecksum($0, field: 16, initial: pseudoHeaderSum(source: source, destination: destination,
                                                                   protocol: 6, length: $0.count))
        }
    }
    bytes.withUnsafeBytes { check($0, IPv4Address(rawValue: source), IPv4Address(rawValue: destination)) }
    return 0
}

/// The bytes an option occupies in the option area.
func encodedSize(_ option: TCPOption) -> Int {
    switch option {
    case .endOfOptionList, .noOperation: return 1
    case .maximumSegmentSize: return 4
    case .windowScale: return 3
    case .sackPermitted: return 2
    case .timestamps: return 10
    case .unknown(_, let length): return length
    }
}

func check(_ bytes: UnsafeRawBufferPointer, _ source: IPv4Address, _ destination: IPv4Address) {
    guard let packet = try? TCPPacket(checking: bytes) else { return }
    let headerLength = packet.headerLength
    precondition(headerLength >= 20 && headerLength <= 60 && headerLength <= bytes.count, "TCP: header length")
    precondition(packet.payload.count == bytes.count - headerLength, "TCP: payload")
    let area = packet.options.bytes
    precondition(area.count == headerLength - 20, "TCP: option area")
    precondition((try? TCPOptionList(checking: area)) != nil, "TCP: validated options fail validation")
    var walked = 0, ended = false
    for option in packet.options {
        precondition(!ended, "TCP: an option after end-of-list")
        if case .unknown(let kind, let length) = option {
            precondition(![0, 1, 2, 3, 4, 8].contains(kind), "TCP: a known kind reported unknown")
            precondition(length >= 2, "TCP: unknown option length")
        }
        if option == .endOfOptionList { ended = true }
        walked += encodedSize(option)
    }
    precondition(ended ? walked <= area.count : walked == area.count, "TCP: options do not cover the area")
    _ = (packet.reserved, packet.checksum, TCPOptions(packet.options))
    let pseudoHeader = pseudoHeaderSum(source: source.rawValue, destination: destination.rawValue, protocol: 6,
                                       length: bytes.count)
    precondition(packet.verifyChecksum(source: source, destination: destination) == verifies(bytes, initial: pseudoHeader),
                 "TCP: checksum verification")

    guard let repr = try? TCPRepr(parsing: packet, source: source, destination: destination) else { return }
    precondition(repr.headerLength % 4 == 0 && repr.headerLength <= 40, "TCP: emitted header length")
    let segment = emitted(repr.headerLength + packet.payload.count, payload: packet.payload, at: repr.headerLength) {
        repr.emit(into: $0, source: source, destination: destination)
    }
    segment.withUnsafeBytes { buffer in
        let again = try? TCPPacket(checking: buffer)
        precondition(again.flatMap { try? TCPRepr(parsing: $0, source: source, destination: destination) } == repr,
                     "TCP: emit then parse gives another representation")
        precondition(again!.payload.elementsEqual(packet.payload), "TCP: payload changed")
    }
    precondition(segment[0..<12].elementsEqual(bytes[0..<12]) && segment[13...15].elementsEqual(bytes[13...15])
                 && segment[18...19].elementsEqual(bytes[18...19]), "TCP: fixed header fields differ")
    let twice = emitted(segment.count, payload: packet.payload, at: repr.headerLength) {
        repr.emit(into: $0, source: source, destination: destination)
    }
    precondition(twice == segment, "TCP: emit is not deterministic")
}
