// TCPStack.process (lib/net/net-tcp): a whole stack with a listener on port 80, fed a conversation of
// segments from two peers while a fake clock advances and an application accepts, reads, sends,
// closes, aborts and connects. Each input starts from a fresh stack, so a crash reproduces from its
// input alone. Input: a configuration byte, then records until the input ends.
//
//     configuration  bit 0 timestamps, 1 window scaling, 2 no-delay, 3 32 KiB buffers (else 2 KiB to
//                    send, 1 KiB to receive), 4 keep-alive (2 s idle, 1 s apart, 3 probes),
//                    bits 5-6 table size (2, 4, 8, 1024 connections), 7 backlog 8 (else 1)
//     record         control, action, [selector when the action sends, closes or aborts], segment
//       control      bit 0 repair the checksum of a raw segment, 1 a steered segment (else raw),
//                    2 a raw segment comes from the second peer, bits 3-5 how far the clock moves
//                    first (0 to 70 s), 6 transmissions are refused during this record
//       action       after the segment: bit 0 accept, 1 read every socket, 2 send, 3 close, 4 abort,
//                    5 connect to a peer, 6 stop listening and listen again
//       raw          a length byte and that many bytes of TCP header (any bytes at all), then a payload
//                    length byte (below)
//       steered      flags, sequence offset (16 bits, signed), acknowledgment offset (16 bits, signed),
//                    window (16 bits), an option byte (bit 0 MSS: 2 bytes follow, 1 window scale: 1
//                    byte, 2 SACK permitted, 3 timestamps: TSval offset and TSecr age, 1 byte each, 4
//                    acknowledge from SND.NXT rather than SND.UNA; bits 5-7 pick a connection, values
//                    past the live ones mean a new one to port 80), then a payload length byte.
//                    Sequence and acknowledgment numbers are offsets from the chosen connection's
//                    RCV.NXT and SND.UNA (or SND.NXT), so the fuzzer reaches every state with small numbers.
//       payload      length byte n: n bytes when n < 128, else (n - 127) * 16. The bytes are not taken
//                    from the input: the byte at sequence number s is `peerByte(s)`, whatever segment
//                    carries it, so the application must read exactly peerByte(IRS + 1 + k) at offset k.
//
// Checks, after every record: every segment the stack sends parses back to what it meant to send,
// goes to a peer, and carries at most one MSS of data that is exactly what the application sent at
// those sequence numbers; the application reads exactly the peer's bytes, in order; each connection
// keeps SND.UNA <= SND.NXT <= SND.MAX (once synchronized, SND.UNA is past our SYN, where the send
// buffer starts), sorted disjoint out-of-order ranges past RCV.NXT that fit its receive ring, and no
// send buffer in TIME-WAIT or CLOSED; the table's lookup, free list and backlog counts agree with its
// slots. The harness reads connection internals (ISS, RCV.NXT, the out-of-order ranges) through
// `@testable import`: scripts/fuzz.sh compiles the libraries with -enable-testing.

@testable import NetTCP
import NetWire

let us = IPv4Address(10, 0, 0, 1)
let peers = [IPv4Address(10, 0, 0, 2), IPv4Address(10, 0, 0, 3)]
let listenPort: UInt16 = 80
let steps: [UInt64] = [0, 1_000_000, 10_000_000, 50_000_000, 250_000_000, 1_000_000_000, 10_000_000_000,
                       70_000_000_000]

/// The byte a peer sends at sequence number `s`.
func peerByte(_ s: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: (s ^ s >> 11) &* 0x9E37_79B1 >> 24) }
/// The byte the application sends at offset `k` of its stream.
func applicationByte(_ k: Int) -> UInt8 { UInt8(truncatingIfNeeded: (k ^ k >> 9) &* 0x2545_F491 >> 16) }

/// What the application sent on a connection: its ISS and the bytes so far.
struct Stream {
    var socket: TCPSocket
    var initialSequence: UInt32
    var sent: Int
}

struct Harness {
    var stack: TCPStack
    var backlog: Int
    var now: UInt64 = 1_000_000_000_000
    var sockets: [TCPSocket] = []
    var read: [TCPSocket: Int] = [:]
    var streams: [ConnectionKey: Stream] = [:]
    var connects = 0

    init(configurationByte byte: UInt8) {
        var configuration = TCPConfiguration()
        configuration.timestamps = byte & 1 != 0
        configuration.windowScaling = byte & 2 != 0
        configuration.noDelay = byte & 4 != 0
        if byte & 8 == 0 {
            configuration.sendBufferSize = 2048
            configuration.receiveBufferSize = 1024
        }
        if byte & 16 != 0 {
            configuration.keepAliveIdle = 2_000_000_000
            configuration.keepAliveInterval = 1_000_000_000
            configuration.keepAliveProbes = 3
        }
        stack = TCPStack(localAddress: us, configuration: configuration, secret: (0x1234, 0x5678))
        stack.maximumConnections = [2, 4, 8, 1024][Int(byte >> 5) & 3]
        backlog = byte & 0x80 != 0 ? 8 : 1
        try! stack.listen(port: listenPort, backlog: backlog)
    }

    /// The connections in slot order.
    var live: [(index: Int, connection: TCPConnection)] {
        stack.slots.indices.compactMap { index in stack.slots[index].connection.map { (index, $0) } }
    }

    mutating func record(_ input: inout FuzzInput) {
        let control = input.byte(), action = input.byte()
        let selector = action & 0b11100 != 0 ? Int(input.byte()) : 0
        now += steps[Int(control >> 3) & 7]
        var segment: [UInt8]
        var source: IPv4Address
        if control & 2 != 0 {
            (segment, source) = steeredSegment(&input)
        } else {
            source = peers[Int(control >> 2) & 1]
            segment = Array(input.take(Int(input.byte())))
            let headerLength = segment.count >= 13 ? max(Int(segment[12] >> 4) * 4, 20) : 20
            let sequence = segment.count >= 8 ? read32(segment, 4) : 0
            let length = payloadLength(input.byte())
            segment += [UInt8](repeating: 0, count: max(headerLength + length - segment.count, 0))
            for offset in min(headerLength, segment.count)..<segment.count {
                segment[offset] = peerByte(sequence &+ UInt32(offset - headerLength))
            }
            if control & 1 != 0, segment.count >= 18 {
                segment.withUnsafeMutableBytes {
                    repairChecksum($0, field: 16, initial: pseudoHeaderSum(source: source.rawValue, destination: us.rawValue,
                                                                           protocol: 6, length: $0.count))
                }
            }
        }
        segment.withUnsafeBytes { stack.process(source: source, destination: us, segment: $0, now: now) }
        perform(action, selector: selector)
        poll(refusing: control & 0x40 != 0)
        checkInvariants()
    }

    func payloadLength(_ byte: UInt8) -> Int { byte < 128 ? Int(byte) : (Int(byte) - 127) * 16 }

    /// A segment built from fields, aimed at a live connection or at the listener (see the header).
    func steeredSegment(_ input: inout FuzzInput) -> ([UInt8], IPv4Address) {
        let flags = TCPFlags(rawValue: input.byte())
        let sequenceOffset = Int(Int16(bitPattern: input.u16())), acknowledgmentOffset = Int(Int16(bitPattern: input.u16()))
        let window = input.u16()
        let optionBits = input.byte()
        var options = TCPOptions()
        if optionBits & 1 != 0 { options.maximumSegmentSize = input.u16() }
        if optionBits & 2 != 0 { options.windowScale = input.byte() }
        options.sackPermitted = optionBits & 4 != 0
        let timestampOffset = optionBits & 8 != 0 ? Int8(bitPattern: input.byte()) : nil
        let echoAge = optionBits & 8 != 0 ? UInt32(input.byte()) : 0
        let length = payloadLength(input.byte())

        let live = self.live
        let choice = Int(optionBits >> 5)
        var source = peers[choice & 1]
        var sourcePort = 40000 + UInt16(choice & 3), destinationPort = listenPort
        var sequence = UInt32(truncatingIfNeeded: sequenceOffset &* 40503)
        var acknowledgment = UInt32(truncatingIfNeeded: acknowledgmentOffset &* 40503)
        var recent: UInt32 = 0
        if choice < live.count {
            let connection = live[choice].connection
            source = connection.remote.address
            sourcePort = connection.remote.port
            destinationPort = connection.local.port
            sequence = (connection.receiveNext + sequenceOffset).rawValue
            let base = optionBits & 16 != 0 ? connection.sendNext : connection.sendUnacknowledged
            acknowledgment = (base + acknowledgmentOffset).rawValue
            recent = connection.timestampRecent
        }
        if let timestampOffset {
            options.timestamps = TCPTimestamps(value: recent &+ UInt32(bitPattern: Int32(timestampOffset)),
                                               echoReply: UInt32(truncatingIfNeeded: now / 1_000_000) &- echoAge)
        }
        let header = TCPRepr(sourcePort: sourcePort, destinationPort: destinationPort, sequenceNumber: sequence,
                             acknowledgmentNumber: acknowledgment, flags: flags, window: window, options: options)
        var bytes = (0..<header.headerLength + length).map { _ in UInt8(0) }
        for offset in 0..<length { bytes[header.headerLength + offset] = peerByte(sequence &+ UInt32(offset)) }
        bytes.withUnsafeMutableBytes { header.emit(into: $0, source: source, destination: us) }
        return (bytes, source)
    }

    // MARK: The application

    mutating func perform(_ action: UInt8, selector: Int) {
        if action & 1 != 0 {
            while let socket = stack.accept(port: listenPort) { sockets.append(socket) }
        }
        if action & 2 != 0 {
            for socket in sockets { receive(socket) }
        }
        if action & 4 != 0, !sockets.isEmpty {
            send(sockets[selector % sockets.count], count: (selector >> 3 + 1) * 64)
        }
        if action & 8 != 0, !sockets.isEmpty {
            stack.close(sockets.remove(at: selector % sockets.count))
        }
        if action & 16 != 0, !sockets.isEmpty {
            stack.abort(sockets.remove(at: (selector >> 1) % sockets.count))
        }
        if action & 32 != 0 {
            connects += 1
            if let socket = try? stack.connect(to: TCPEndpoint(peers[connects & 1], 9000 + UInt16(connects % 4)), now: now) {
                sockets.append(socket)
            }
        }
        if action & 64 != 0 {
            stack.stopListening(port: listenPort)
            try! stack.listen(port: listenPort, backlog: backlog)
        }
        for socket in sockets {
            let readiness = stack.readiness(socket)
            if let connection = stack.connection(socket) {
                precondition(connection.readableBytes == 0 || readiness.contains(.readable), "TCP stack: readiness")
            }
        }
    }

    mutating func receive(_ socket: TCPSocket) {
        guard let connection = stack.connection(socket) else { return }
        let start = connection.initialReceiveSequence + 1
        var buffer = [UInt8](repeating: 0, count: 700)
        let count = buffer.withUnsafeMutableBytes { (try? stack.receive(socket, into: $0)) ?? 0 }
        let offset = read[socket, default: 0]
        for k in 0..<count {
            precondition(buffer[k] == peerByte((start + offset + k).rawValue),
                         "TCP stack: the application read a wrong byte at stream offset \(offset + k)")
        }
        read[socket] = offset + count
    }

    mutating func send(_ socket: TCPSocket, count: Int) {
        guard let connection = stack.connection(socket) else { return }
        let key = ConnectionKey(localPort: connection.local.port, remote: connection.remote)
        if streams[key]?.socket != socket {
            streams[key] = Stream(socket: socket, initialSequence: connection.initialSendSequence.rawValue, sent: 0)
        }
        let start = streams[key]!.sent
        let bytes = (start..<start + count).map(applicationByte)
        let taken = bytes.withUnsafeBytes { (try? stack.send(socket, $0)) ?? 0 }
        precondition(taken >= 0 && taken <= count, "TCP stack: send took \(taken) of \(count) bytes")
        streams[key]!.sent += taken
    }

    // MARK: The network

    mutating func poll(refusing: Bool) {
        var out: [(TCPEndpoint, TCPRepr, [UInt8])] = []
        stack.poll(now: now) { remote, header, data in
            if refusing { return false }
            out.append((remote, header, Array(data)))
            return true
        }
        let segmentSize = stack.configuration.maximumSegmentSize
        for (remote, header, data) in out {
            precondition(peers.contains(remote.address) && remote.port == header.destinationPort,
                         "TCP stack: sent to \(remote)")
            precondition(data.count <= segmentSize, "TCP stack: \(data.count) bytes in one segment")
            var bytes = [UInt8](repeating: 0, count: header.headerLength + data.count)
            bytes.withUnsafeMutableBytes { buffer in
                for (offset, byte) in data.enumerated() { buffer[header.headerLength + offset] = byte }
                header.emit(into: buffer, source: us, destination: remote.address)
            }
            bytes.withUnsafeBytes { buffer in
                let packet = try? TCPPacket(checking: buffer)
                precondition(packet.flatMap { try? TCPRepr(parsing: $0, source: us, destination: remote.address) } == header
                             && packet!.payload.elementsEqual(data), "TCP stack: a sent segment does not parse back")
            }
            guard !data.isEmpty else { continue }
            let key = ConnectionKey(localPort: header.sourcePort, remote: remote)
            guard let stream = streams[key] else { preconditionFailure("TCP stack: data nobody sent on \(key)") }
            let offset = Int(Int32(bitPattern: header.sequenceNumber &- stream.initialSequence &- 1))
            precondition(offset >= 0 && offset + data.count <= stream.sent,
                         "TCP stack: sent bytes \(offset)..<\(offset + data.count) of a stream of \(stream.sent)")
            for (k, byte) in data.enumerated() {
                precondition(byte == applicationByte(offset + k),
                             "TCP stack: sent a wrong byte at stream offset \(offset + k)")
            }
        }
    }

    // MARK: Invariants

    func checkInvariants() {
        var connections = 0
        for (index, connection) in live {
            connections += 1
            let key = ConnectionKey(localPort: connection.local.port, remote: connection.remote)
            precondition(stack.lookup[key] == index, "TCP stack: lookup does not find slot \(index)")
            precondition(connection.sendNext - connection.sendUnacknowledged >= 0
                         && connection.sendMaximum - connection.sendNext >= 0, "TCP stack: SND.UNA <= SND.NXT <= SND.MAX")
            precondition(!connection.state.isSynchronized || connection.sendUnacknowledged - connection.sendBufferStart >= 0,
                         "TCP stack: SND.UNA before the send buffer in \(connection.state)")
            var previousEnd: SequenceNumber? = nil
            for range in connection.outOfOrder {
                precondition(range.end - range.start > 0 && range.start - connection.receiveNext > 0,
                             "TCP stack: out-of-order range \(range) with RCV.NXT \(connection.receiveNext)")
                if let previousEnd { precondition(range.start - previousEnd > 0, "TCP stack: out-of-order ranges overlap") }
                previousEnd = range.end
                if let ring = connection.receiveBuffer {
                    precondition(ring.count + (range.end - connection.receiveNext) <= ring.capacity,
                                 "TCP stack: out-of-order data past the receive ring")
                }
            }
            if connection.state == .closed || connection.state == .timeWait {
                precondition(connection.sendBuffer == nil, "TCP stack: a send buffer in \(connection.state)")
            }
        }
        precondition(stack.lookup.count == connections, "TCP stack: lookup entries without connections")
        precondition(stack.slots.count <= stack.maximumConnections, "TCP stack: table over its size")
        precondition(Set(stack.freeSlots).count == stack.freeSlots.count
                     && stack.freeSlots.allSatisfy { stack.slots[$0].connection == nil }, "TCP stack: free list")
        for (port, count) in stack.pendingCounts {
            precondition(count >= 0 && count <= backlog, "TCP stack: backlog count \(count) on port \(port)")
        }
        _ = (stack.nextDeadline, stack.connectionCounts, stack.totalBufferMemory, stack.hasPendingConnection(port: listenPort))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = FuzzInput(data, size)
    var harness = Harness(configurationByte: input.byte())
    while !input.isAtEnd { harness.record(&input) }
    return 0
}
