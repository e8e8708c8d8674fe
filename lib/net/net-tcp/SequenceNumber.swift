// Sequence numbers: 32-bit counters compared modulo 2^32 (RFC 9293 section 3.4).
//
// `a < b` means "a comes before b" when both lie within 2^31 of each other, which TCP's windows
// guarantee for any two numbers it compares. Distances are Int so that window arithmetic never traps:
// `b - a` is the signed number of octets from a to b.

import NetWire

public struct SequenceNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(_ rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public static func + (a: SequenceNumber, b: Int) -> SequenceNumber {
        SequenceNumber(a.rawValue &+ UInt32(truncatingIfNeeded: b))
    }

    public static func += (a: inout SequenceNumber, b: Int) {
        a = a + b
    }

    /// The signed distance from `b` to `a`.
    public static func - (a: SequenceNumber, b: SequenceNumber) -> Int {
        Int(Int32(bitPattern: a.rawValue &- b.rawValue))
    }

    public static func < (a: SequenceNumber, b: SequenceNumber) -> Bool {
        Int32(bitPattern: a.rawValue &- b.rawValue) < 0
    }

    /// Whether `self` lies in [start, start + length).
    public func isIn(_ start: SequenceNumber, length: Int) -> Bool {
        let offset = self - start
        return offset >= 0 && offset < length
    }

    public var description: String { String(rawValue) }
}

/// Picks initial sequence numbers as RFC 6528 asks: a clock that ticks every 4 µs plus a keyed hash
/// of the connection's addresses and ports, so that numbers are unpredictable from outside and
/// successive incarnations of one connection still move forward.
public struct InitialSequenceGenerator: Sendable {
    var key: (UInt64, UInt64)

    public init(key: (UInt64, UInt64)) {
        self.key = key
    }

    public func next(local: TCPEndpoint, remote: TCPEndpoint, now: UInt64) -> SequenceNumber {
        let addresses = UInt64(local.address.rawValue) << 32 | UInt64(remote.address.rawValue)
        let ports = UInt64(local.port) << 16 | UInt64(remote.port)
        let hash = Self.mix(addresses ^ key.0, ports ^ key.1)
        return SequenceNumber(UInt32(truncatingIfNeeded: hash &+ now / 4_000))
    }

    /// A few rounds of a SipHash-like add-rotate-xor permutation over two words.
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var v0 = a ^ 0x736f_6d65_7073_6575, v1 = b ^ 0x646f_7261_6e64_6f6d
        var v2 = a ^ 0x6c79_6765_6e65_7261, v3 = b ^ 0x7465_6462_7974_6573
        for _ in 0..<4 {
            v0 = v0 &+ v1; v1 = (v1 << 13 | v1 >> 51) ^ v0; v0 = v0 << 32 | v0 >> 32
            v2 = v2 &+ v3; v3 = (v3 << 16 | v3 >> 48) ^ v2
            v0 = v0 &+ v3; v3 = (v3 << 21 | v3 >> 43) ^ v0
            v2 = v2 &+ v1; v1 = (v1 << 17 | v1 >> 47) ^ v2; v2 = v2 << 32 | v2 >> 32
        }
        return v0 ^ v1 ^ v2 ^ v3
    }
}

/// One end of a connection.
public struct TCPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(_ address: IPv4Address, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String { "\(address):\(port)" }
}
