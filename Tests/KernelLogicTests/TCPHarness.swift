// A simulated TCP peer for scenario tests: it builds real segments (checksummed bytes, parsed back
// by the stack's own checked views), feeds them to a TCPStack, and records every segment the stack
// sends — also as bytes, re-parsed, so a malformed emission fails the test. Time is a fake clock
// advanced by the test.

import NetTCP
import NetWire
import Testing

struct SentSegment: CustomStringConvertible {
    var header: TCPRepr
    var data: [UInt8]

    var flags: TCPFlags { header.flags }
    var sequence: UInt32 { header.sequenceNumber }
    var acknowledgment: UInt32 { header.acknowledgmentNumber }
    var isPureAck: Bool { flags == .ack && data.isEmpty }
    var description: String {
        "seq \(sequence) ack \(acknowledgment) flags 0x\(String(flags.rawValue, radix: 16)) win \(header.window) len \(data.count)"
    }
}

struct TCPHarness {
    static let us = IPv4Address(10, 0, 0, 1)
    static let peer = IPv4Address(10, 0, 0, 2)
    static let peerPort: UInt16 = 40000

    var stack: TCPStack
    var now: UInt64 = 1_000_000_000_000
    var sent: [SentSegment] = []
    /// The peer's next sequence number and what it has acknowledged of ours.
    var peerNext: UInt32 = 1_000
    var peerAcknowledged: UInt32 = 0
    var peerPort = TCPHarness.peerPort
    var peerTimestamps = false
    var peerTimestampClock: UInt32 = 5_000
    var transmitAccepts = true

    init(configuration: TCPConfiguration = TCPHarness.plainConfiguration) {
        stack = TCPStack(localAddress: Self.us, configuration: configuration, secret: (0x1234, 0x5678))
    }

    /// No timestamps or window scaling unless a test asks: keeps expected segments simple.
    static var plainConfiguration: TCPConfiguration {
        var configuration = TCPConfiguration()
        configuration.timestamps = false
        configuration.windowScaling = false
        return configuration
    }

    /// Sends one segment from the peer to `port` and polls the stack.
    mutating func deliver(flags: TCPFlags, sequence: UInt32? = nil, acknowledgment: UInt32? = nil,
                          window: UInt16 = 65535, data: [UInt8] = [], port: UInt16 = 80,
                          options: TCPOptions? = nil, poll: Bool = true) {
        var options = options ?? TCPOptions()
        if peerTimestamps && options.timestamps == nil && !flags.contains(.rst) {
            options.timestamps = TCPTimestamps(value: peerTimestampClock, echoReply: lastTimestampSeen)
        }
        let header = TCPRepr(sourcePort: peerPort, destinationPort: port, sequenceNumber: sequence ?? peerNext,
                             acknowledgmentNumber: flags.contains(.ack) ? (acknowledgment ?? peerAcknowledged) : 0,
                             flags: flags, window: window, options: options)
        var bytes = [UInt8](repeating: 0, count: header.headerLength + data.count)
        bytes.withUnsafeMutableBytes { buffer in
            for (index, byte) in data.enumerated() { buffer[header.headerLength + index] = byte }
            header.emit(into: buffer, source: Self.peer, destination: Self.us)
        }
        bytes.withUnsafeBytes { stack.process(source: Self.peer, destination: Self.us, segment: $0, now: now) }
        if poll { self.poll() }
    }

    /// The last TSval the stack sent, echoed by the peer's next segment.
    var lastTimestampSeen: UInt32 = 0

    mutating func poll() {
        var out: [SentSegment] = []
        let accepts = transmitAccepts
        stack.poll(now: now) { remote, header, data in
            guard accepts else { return false }
            #expect(remote == TCPEndpoint(Self.peer, header.destinationPort))
            var bytes = [UInt8](repeating: 0, count: header.headerLength + data.count)
            bytes.withUnsafeMutableBytes { buffer in
                UnsafeMutableRawBufferPointer(rebasing: buffer[header.headerLength...]).copyMemory(from: data)
                header.emit(into: buffer, source: Self.us, destination: Self.peer)
            }
            let parsed = bytes.withUnsafeBytes { raw -> SentSegment? in
                guard let packet = try? TCPPacket(checking: raw),
                      let repr = try? TCPRepr(parsing: packet, source: Self.us, destination: Self.peer) else { return nil }
                return SentSegment(header: repr, data: Array(packet.payload))
            }
            #expect(parsed != nil, "the stack emitted a segment that does not parse")
            if let parsed { out.append(parsed) }
            return true
        }
        sent += out
        if let value = out.last(where: { $0.header.options.timestamps != nil })?.header.options.timestamps?.value {
            lastTimestampSeen = value
        }
    }

    mutating func advance(milliseconds: UInt64) {
        now += milliseconds * 1_000_000
        peerTimestampClock &+= UInt32(milliseconds)
        poll()
    }

    /// Returns and forgets the segments sent so far.
    mutating func take() -> [SentSegment] {
        defer { sent.removeAll() }
        return sent
    }

    /// Listens on 80, completes a handshake from the peer, accepts. Returns the socket and our ISS.
    mutating func establishPassive(options: TCPOptions = TCPOptions(maximumSegmentSize: 1460),
                                   window: UInt16 = 65535) -> (TCPSocket, UInt32) {
        if !listening {
            try! stack.listen(port: 80)
            listening = true
        }
        deliver(flags: .syn, window: window, options: options)
        let synAck = take()
        #expect(synAck.count == 1 && synAck[0].flags == [.syn, .ack])
        let iss = synAck.first?.sequence ?? 0
        peerNext &+= 1
        peerAcknowledged = iss &+ 1
        deliver(flags: .ack, window: window)
        let socket = stack.accept(port: 80)
        #expect(socket != nil)
        #expect(stack.connection(socket!)?.state == .established)
        return (socket!, iss)
    }

    var listening = false

    /// Peer sends data, advancing its sequence number.
    mutating func peerSends(_ data: [UInt8], flags: TCPFlags = [.ack, .psh], window: UInt16 = 65535) {
        deliver(flags: flags, window: window, data: data)
        peerNext &+= UInt32(data.count)
    }

    mutating func send(_ socket: TCPSocket, _ data: [UInt8]) -> Int {
        let count = data.withUnsafeBytes { try! stack.send(socket, $0) }
        poll()
        return count
    }

    mutating func read(_ socket: TCPSocket, maximum: Int = 1 << 20) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: maximum)
        let count = buffer.withUnsafeMutableBytes { (try? stack.receive(socket, into: $0)) ?? 0 }
        poll()
        return Array(buffer[0..<count])
    }

    func state(_ socket: TCPSocket) -> TCPState? { stack.connection(socket)?.state }
}

func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31 &+ seed &* 7) % 251) }
}
