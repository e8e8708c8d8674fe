// A deterministic mini-fuzz of every NetWire parser: 100,000 buffers, most of them mutations of the
// fixtures (bit flips, random and boundary bytes, length fields set to edge values, random TCP option
// areas, truncation, extension, insertion and deletion), some purely random. A quarter of the mutants
// get their checksums repaired so that they reach the representations instead of stopping at
// `.badChecksum`.
//
// Each buffer is fed to the whole-frame parser and to every view and representation directly, at the
// offsets where an Ethernet payload and a transport header would start. The properties checked:
//   - nothing traps: the host build keeps the raw buffer bounds checks (debug), so a read outside a
//     validated length would stop the test;
//   - an accepted view's lengths are consistent with its buffer (payload inside the buffer, header
//     lengths in range);
//   - an accepted representation, emitted and parsed again, gives the same representation (for a
//     whole frame, after dropping what emit does not write: IPv4 options, unknown TCP options).
// The generator is the seeded SplitMix64 of AllocatorTestSupport.swift, so a failure reproduces; the first few failing buffers are
// printed in hex. A coverage-guided libFuzzer target over the same entry points can come later.

import NetWire
import Testing

extension SplitMix64 {
    /// A value in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// Mutations of the fixtures and the checks run on each buffer.
struct NetWireFuzzer {
    var random: SplitMix64
    var failures: [String] = []
    /// How many buffers each stage accepted, to show the mutants reach every layer.
    var accepted: [String: Int] = [:]

    static let boundaryBytes: [UInt8] = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0f, 0x10, 0x14,
                                         0x40, 0x45, 0x4f, 0x50, 0x7f, 0x80, 0xf0, 0xfe, 0xff]
    /// Offsets in an IPv4 fixture frame of the bytes that carry lengths: IHL, total length, UDP length,
    /// TCP data offset, the first TCP option bytes.
    static let lengthOffsets = [14, 16, 17, 38, 39, 46, 54, 55, 56, 57, 58, 59, 60, 61]

    mutating func makeBuffer() -> [UInt8] {
        if random.below(20) == 0 {
            return (0..<random.below(129)).map { _ in random.byte() }
        }
        var bytes = Fixture.all[random.below(Fixture.all.count)].bytes
        for _ in 0..<1 + random.below(4) { mutate(&bytes) }
        if random.below(4) == 0 { repairChecksums(&bytes) }
        return bytes
    }

    mutating func mutate(_ bytes: inout [UInt8]) {
        let count = bytes.count
        switch random.below(9) {
        case 0 where count > 0:
            bytes[random.below(count)] ^= 1 << UInt8(random.below(8))
        case 1 where count > 0:
            bytes[random.below(count)] = random.byte()
        case 2 where count > 0:
            bytes[random.below(count)] = Self.boundaryBytes[random.below(Self.boundaryBytes.count)]
        case 3:
            let offset = Self.lengthOffsets[random.below(Self.lengthOffsets.count)]
            if offset < count { bytes[offset] = Self.boundaryBytes[random.below(Self.boundaryBytes.count)] }
        case 4 where count > 54:
            for index in 54..<min(count, 54 + 1 + random.below(20)) {           // a random TCP option area
                let choice = random.below(4)
                bytes[index] = choice == 0 ? [0, 1, 2, 3, 4, 5, 8][random.below(7)]
                    : choice == 1 ? UInt8(random.below(12)) : random.byte()
            }
        case 5:
            bytes.removeLast(random.below(count + 1))
        case 6:
            bytes += (0..<1 + random.below(24)).map { _ in random.byte() }
        case 7:
            bytes.insert(random.byte(), at: random.below(count + 1))
        case 8 where count > 0:
            bytes.remove(at: random.below(count))
        default:
            break
        }
    }

    /// Recomputes the IPv4 header checksum and the ICMP, UDP or TCP checksum where the lengths allow.
    func repairChecksums(_ bytes: inout [UInt8]) {
        guard bytes.count >= 34, bytes[12] == 0x08, bytes[13] == 0x00 else { return }
        let headerLength = Int(bytes[14] & 0x0F) * 4
        guard headerLength >= 20, 14 + headerLength <= bytes.count else { return }
        func store(_ checksum: InternetChecksum, at offset: Int) {
            bytes[offset] = UInt8(checksum.checksum >> 8)
            bytes[offset + 1] = UInt8(checksum.checksum & 0xff)
        }
        func sum(_ range: Range<Int>) -> InternetChecksum {
            var sum = InternetChecksum()
            bytes.withUnsafeBytes { sum.add(UnsafeRawBufferPointer(rebasing: $0[range])) }
            return sum
        }
        bytes[24] = 0
        bytes[25] = 0
        store(sum(14..<14 + headerLength), at: 24)
        let totalLength = Int(bytes[16]) << 8 | Int(bytes[17])
        guard totalLength >= headerLength, 14 + totalLength <= bytes.count else { return }
        let start = 14 + headerLength, end = 14 + totalLength
        let source = IPv4Address(bytes[26], bytes[27], bytes[28], bytes[29])
        let destination = IPv4Address(bytes[30], bytes[31], bytes[32], bytes[33])
        switch bytes[23] {
        case 1 where end - start >= 8:
            bytes[start + 2] = 0
            bytes[start + 3] = 0
            store(sum(start..<end), at: start + 2)
        case 17 where end - start >= 8:
            let length = Int(bytes[start + 4]) << 8 | Int(bytes[start + 5])
            guard length >= 8, length <= end - start else { return }
            bytes[start + 6] = 0
            bytes[start + 7] = 0
            var checksum = InternetChecksum()
            checksum.addPseudoHeader(source: source, destination: destination, protocol: .udp, length: UInt16(length))
            bytes.withUnsafeBytes { checksum.add(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
            store(checksum, at: start + 6)
        case 6 where end - start >= 20:
            bytes[start + 16] = 0
            bytes[start + 17] = 0
            var checksum = InternetChecksum()
            checksum.addPseudoHeader(source: source, destination: destination, protocol: .tcp,
                                     length: UInt16(end - start))
            bytes.withUnsafeBytes { checksum.add(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
            store(checksum, at: start + 16)
        default:
            break
        }
    }

    mutating func fail(_ what: String, _ bytes: [UInt8]) {
        if failures.count < 10 { failures.append("\(what): \(hex(bytes))") }
    }

    mutating func count(_ stage: String) { accepted[stage, default: 0] += 1 }

    /// Every parser over `bytes`: the whole frame, then each layer at offsets 0, 14 and 34.
    mutating func check(_ bytes: [UInt8]) {
        if case .success(let parsed) = parseFrame(bytes) {
            count("frame")
            let again = parseFrame(emitFrame(parsed))
            if again != .success(parsed.normalized) { fail("frame re-emit", bytes) }
        }
        for offset in [0, 14, 34] where offset <= bytes.count {
            let layer = Array(bytes[offset...])
            checkEthernetAndARP(layer)
            checkIPv4(layer)
            checkTransport(layer)
        }
    }

    mutating func checkEthernetAndARP(_ bytes: [UInt8]) {
        if case .success(let repr) = wire(bytes, { buffer throws(WireError) in
            try EthernetRepr(parsing: try EthernetFrame(checking: buffer))
        }) {
            count("ethernet")
            let header = emitted(EthernetRepr.headerLength) { repr.emit(into: $0) }
            if wire(header, { buffer throws(WireError) in try EthernetRepr(parsing: try EthernetFrame(checking: buffer)) })
                != .success(repr) { fail("ethernet re-emit", bytes) }
        }
        let view = wire(bytes) { buffer throws(WireError) in
            let arp = try ARPPacket(checking: buffer)
            let addresses = arp.senderHardwareAddress.count + arp.senderProtocolAddress.count
                + arp.targetHardwareAddress.count + arp.targetProtocolAddress.count
            return (arp.length <= buffer.count && addresses == arp.length - 8, try? ARPRepr(parsing: arp))
        }
        guard case .success(let (consistent, repr)) = view else { return }
        if !consistent { fail("ARP view lengths", bytes) }
        guard let repr else { return }
        count("ARP")
        let packet = emitted(ARPRepr.length) { repr.emit(into: $0) }
        if wire(packet, { buffer throws(WireError) in try ARPRepr(parsing: try ARPPacket(checking: buffer)) })
            != .success(repr) { fail("ARP re-emit", bytes) }
    }

    mutating func checkIPv4(_ bytes: [UInt8]) {
        let view = wire(bytes) { buffer throws(WireError) in
            let ip = try IPv4Packet(checking: buffer)
            let consistent = ip.headerLength >= 20 && ip.headerLength <= ip.totalLength
                && ip.totalLength <= buffer.count && ip.payload.count == ip.totalLength - ip.headerLength
                && ip.options.count == ip.headerLength - 20 && ip.version == 4
            _ = (ip.dscp, ip.ecn, ip.identification, ip.reservedFlag, ip.fragmentOffset, ip.isFragment,
                 ip.timeToLive, ip.protocol, ip.checksum, ip.source, ip.destination)
            return (consistent, try? IPv4Repr(parsing: ip), Array(ip.payload))
        }
        guard case .success(let (consistent, repr, payload)) = view else { return }
        if !consistent { fail("IPv4 view lengths", bytes) }
        guard let repr else { return }
        count("IPv4")
        let packet = emitted(repr.totalLength, payload: payload, at: IPv4Repr.headerLength) { repr.emit(into: $0) }
        if wire(packet, { buffer throws(WireError) in
            let ip = try IPv4Packet(checking: buffer)
            return (try IPv4Repr(parsing: ip), Array(ip.payload))
        }).map({ $0.0 == repr && $0.1 == payload }) != .success(true) { fail("IPv4 re-emit", bytes) }
    }

    mutating func checkTransport(_ bytes: [UInt8]) {
        let source = Fixture.guestIP, destination = Fixture.gatewayIP
        // ICMPv4
        if case .success(let (repr, data)) = wire(bytes, { buffer throws(WireError) in
            let icmp = try ICMPv4Packet(checking: buffer)
            _ = (icmp.messageType, icmp.code, icmp.checksum, icmp.restOfHeader)
            return (try? ICMPv4Repr(parsing: icmp), Array(icmp.data))
        }), let repr {
            count("ICMPv4")
            let message = emitted(8 + data.count, payload: data, at: 8) { repr.emit(into: $0) }
            if parseICMPv4(message) != .success(repr) { fail("ICMPv4 re-emit", bytes) }
        }
        // UDP, with whatever addresses: most checksums fail, the repaired ones pass
        for (from, to) in [(source, destination), (Fixture.guestIP, Fixture.dnsIP)] {
            let view = wire(bytes) { buffer throws(WireError) in
                let udp = try UDPPacket(checking: buffer)
                let consistent = udp.length >= 8 && udp.length <= buffer.count && udp.payload.count == udp.length - 8
                return (consistent, try? UDPRepr(parsing: udp, source: from, destination: to), Array(udp.payload))
            }
            guard case .success(let (consistent, repr, payload)) = view else { break }
            if !consistent { fail("UDP view lengths", bytes) }
            guard let repr else { continue }
            count("UDP")
            let datagram = emitted(8 + payload.count, payload: payload, at: 8) { buffer in
                repr.emit(into: buffer, source: from, destination: to)
            }
            if parseUDP(datagram, source: from, destination: to) != .success(repr) { fail("UDP re-emit", bytes) }
        }
        // TCP
        let view = wire(bytes) { buffer throws(WireError) in
            let tcp = try TCPPacket(checking: buffer)
            let consistent = tcp.headerLength >= 20 && tcp.headerLength <= buffer.count
                && tcp.payload.count == buffer.count - tcp.headerLength
            var optionBytes = 0
            for option in tcp.options {
                switch option {
                case .endOfOptionList, .noOperation: optionBytes += 1
                case .maximumSegmentSize: optionBytes += 4
                case .windowScale: optionBytes += 3
                case .sackPermitted: optionBytes += 2
                case .timestamps: optionBytes += 10
                case .unknown(_, let length): optionBytes += length
                }
            }
            _ = (tcp.sequenceNumber, tcp.acknowledgmentNumber, tcp.reserved, tcp.flags, tcp.window, tcp.urgentPointer)
            return (consistent && optionBytes <= tcp.headerLength - 20,
                    try? TCPRepr(parsing: tcp, source: source, destination: destination), Array(tcp.payload))
        }
        guard case .success(let (consistent, repr, payload)) = view else { return }
        if !consistent { fail("TCP view lengths", bytes) }
        guard let repr else { return }
        count("TCP")
        let segment = emitted(repr.headerLength + payload.count, payload: payload, at: repr.headerLength) { buffer in
            repr.emit(into: buffer, source: source, destination: destination)
        }
        if parseTCP(segment, source: source, destination: destination) != .success(repr) { fail("TCP re-emit", bytes) }
    }
}

@Suite struct NetWireFuzzTests {
    @Test func hundredThousandMutatedBuffersNeverTrapAndReEmitConsistently() {
        var fuzzer = NetWireFuzzer(random: SplitMix64(seed: 0x7e55_e7a0_2026))
        for _ in 0..<100_000 {
            fuzzer.check(fuzzer.makeBuffer())
        }
        #expect(fuzzer.failures.isEmpty, Comment(rawValue: fuzzer.failures.joined(separator: "\n")))
        // The mutants must reach every representation, or the run proves little.
        for stage in ["frame", "ethernet", "ARP", "IPv4", "ICMPv4", "UDP", "TCP"] {
            #expect(fuzzer.accepted[stage, default: 0] >= 100, "\(stage): \(fuzzer.accepted[stage, default: 0])")
        }
        print("NetWire fuzz: accepted \(fuzzer.accepted.sorted { $0.key < $1.key })")
    }
}
