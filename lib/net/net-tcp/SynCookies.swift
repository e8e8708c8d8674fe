// SynCookies: what a listener answers when its backlog is full — a SYN-ACK that keeps no state, whose
// initial sequence number carries what the connection needs, checked when the peer's ACK returns
// (the technique of D. J. Bernstein's SYN cookies and Linux's tcp_syncookies, RFC 4987 section 3.6).
//
// A flood of SYNs that never complete fills the backlog with embryonic connections (SYN-RECEIVED,
// retried for about a minute); without cookies every further SYN — a real client's too — is dropped
// until they time out. With cookies, once the backlog is full a SYN gets a SYN-ACK whose sequence
// number is
//
//     bits 31-26  a 6-bit counter of 64-second periods (the cookie's age)
//     bits 25-24  the index of the peer's MSS in a table of four (536, 1220, 1440, 1460), rounded down
//     bits 23-0   a keyed hash of both endpoints, the peer's initial sequence number and the counter
//
// and nothing is stored. An ACK that arrives for a listening port without a connection is checked:
// ACK - 1 must be a cookie made in the current or the previous period for these endpoints and for
// SEQ - 1; then the connection is created directly in ESTABLISHED with the MSS the cookie carries. A
// blind attacker guesses a valid cookie with probability 2^-24 per ACK. What a cookie cannot carry is
// lost for that connection, as on Linux without timestamps: window scaling, timestamps and SACK (the
// SYN-ACK offers none of them, so the peer uses none). The key is the stack's secret, mixed
// differently from the initial-sequence generator's.

import NetWire

public struct SynCookies: Sendable {
    let key: (UInt64, UInt64)
    static let segmentSizes: [UInt16] = [536, 1220, 1440, 1460]
    static let period: UInt64 = 64_000_000_000

    public init(key: (UInt64, UInt64)) {
        // Not the ISN generator's key: a cookie must not tell anything about ordinary ISNs.
        self.key = (InitialSequenceGenerator.mix(key.0, 0x5359_4E43_4F4F_4B49), InitialSequenceGenerator.mix(key.1, 0x434F_4F4B_4945_5321))
    }

    func hash(local: TCPEndpoint, remote: TCPEndpoint, clientSequence: UInt32, counter: UInt64) -> UInt32 {
        let addresses = UInt64(local.address.rawValue) << 32 | UInt64(remote.address.rawValue)
        let rest = UInt64(local.port) << 48 | UInt64(remote.port) << 32 | UInt64(clientSequence)
        let mixed = InitialSequenceGenerator.mix(addresses ^ key.0, rest ^ key.1 ^ (counter &* 0x9E37_79B9_7F4A_7C15))
        return UInt32(truncatingIfNeeded: mixed) & 0xFF_FFFF
    }

    /// The initial sequence number of the SYN-ACK answering a SYN whose sequence number is
    /// `clientSequence` and whose MSS option offered `offeredSegmentSize` (536 when absent, RFC 9293).
    public func cookie(local: TCPEndpoint, remote: TCPEndpoint, clientSequence: SequenceNumber,
                       offeredSegmentSize: UInt16?, now: UInt64) -> SequenceNumber {
        let counter = now / Self.period
        let offered = offeredSegmentSize ?? 536
        let index = Self.segmentSizes.lastIndex { $0 <= offered } ?? 0
        let value = UInt32(counter & 0x3F) << 26 | UInt32(index) << 24
            | hash(local: local, remote: remote, clientSequence: clientSequence.rawValue, counter: counter)
        return SequenceNumber(value)
    }

    /// The MSS encoded by the cookie an ACK returns (`acknowledgment` - 1), or nil when it is not a
    /// cookie of ours for these endpoints and this `clientSequence` (the ACK's SEQ - 1), or is older than
    /// the previous period.
    public func check(local: TCPEndpoint, remote: TCPEndpoint, clientSequence: SequenceNumber,
                      cookie: SequenceNumber, now: UInt64) -> UInt16? {
        let value = cookie.rawValue
        let current = now / Self.period
        for age: UInt64 in 0 ... 1 where current >= age {
            let counter = current - age
            guard UInt64(value >> 26) == counter & 0x3F else { continue }
            if hash(local: local, remote: remote, clientSequence: clientSequence.rawValue, counter: counter) == value & 0xFF_FFFF {
                return Self.segmentSizes[Int(value >> 24 & 3)]
            }
        }
        return nil
    }
}
