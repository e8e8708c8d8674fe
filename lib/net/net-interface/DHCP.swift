// DHCPClient: obtaining an address with DHCP (RFC 2131, options RFC 2132) — the state machine only.
//
// The client is pure logic: it produces BOOTP messages to broadcast (from 0.0.0.0:68 to
// 255.255.255.255:67) and consumes the server's replies; the caller moves the bytes through the
// interface's UDP port 68 and applies the lease. States: selecting (DISCOVER sent, waiting for an
// OFFER) → requesting (REQUEST sent for that offer, waiting for ACK) → bound. A NAK, or no answer
// after `maximumAttempts` transmissions spaced by `retransmitInterval`, starts over from DISCOVER.
// Messages set the BROADCAST flag, because a client without an address cannot receive unicast.
// Renewal (T1/T2) is not implemented: the lease time is reported for the caller to act on.

import NetWire

public struct DHCPLease: Equatable {
    public var address: IPv4Address
    public var prefixLength: Int
    public var gateway: IPv4Address?
    public var dnsServers: [IPv4Address]
    public var leaseSeconds: UInt32
    public var server: IPv4Address

    public var configuration: InterfaceConfiguration {
        InterfaceConfiguration(address: address, prefixLength: prefixLength, gateway: gateway)
    }
}

public struct DHCPClient {
    enum State: Equatable {
        case selecting
        case requesting(offered: IPv4Address, server: IPv4Address)
        case bound
    }

    static let cookie: [UInt8] = [99, 130, 83, 99]
    public static let clientPort: UInt16 = 68, serverPort: UInt16 = 67

    let hardwareAddress: MACAddress
    var transactionID: UInt32
    var state = State.selecting
    var lastSentAt: UInt64? = nil
    var attempts = 0
    public let retransmitInterval: UInt64
    public let maximumAttempts: Int
    public private(set) var lease: DHCPLease? = nil

    public init(hardwareAddress: MACAddress, transactionID: UInt32, retransmitInterval: UInt64 = 2_000_000_000,
                maximumAttempts: Int = 4) {
        self.hardwareAddress = hardwareAddress
        self.transactionID = transactionID
        self.retransmitInterval = retransmitInterval
        self.maximumAttempts = maximumAttempts
    }

    public var isBound: Bool { state == .bound }

    /// The message to broadcast now, if one is due (first DISCOVER, or a retransmission).
    public mutating func messageDue(now: UInt64) -> [UInt8]? {
        if state == .bound { return nil }
        if let last = lastSentAt, now &- last < retransmitInterval { return nil }
        if attempts >= maximumAttempts {                      // nobody answers: start over
            state = .selecting
            attempts = 0
            transactionID &+= 1
        }
        attempts += 1
        lastSentAt = now
        return message()
    }

    /// Consumes a UDP payload from the server; returns a message to broadcast in answer (a REQUEST
    /// after an OFFER), or nil. Messages for another transaction or client are ignored.
    public mutating func handle(_ payload: UnsafeRawBufferPointer, now: UInt64) -> [UInt8]? {
        guard let reply = Reply(payload), reply.transactionID == transactionID,
              reply.clientHardwareAddress == hardwareAddress else { return nil }
        switch (state, reply.messageType) {
        case (.selecting, 2):                                   // OFFER
            guard let server = reply.server else { return nil }
            state = .requesting(offered: reply.yourAddress, server: server)
            attempts = 1
            lastSentAt = now
            return message()
        case (.requesting(let offered, _), 5) where reply.yourAddress == offered:     // ACK
            state = .bound
            lease = DHCPLease(address: offered, prefixLength: reply.prefixLength ?? 24, gateway: reply.router,
                              dnsServers: reply.dnsServers, leaseSeconds: reply.leaseSeconds ?? 0,
                              server: reply.server ?? IPv4Address(rawValue: 0))
            return nil
        case (.requesting, 6):                                  // NAK: start over
            state = .selecting
            attempts = 0
            lastSentAt = nil
            transactionID &+= 1
            return nil
        default:
            return nil
        }
    }

    /// DISCOVER (selecting) or REQUEST (requesting), 300 bytes as BOOTP requires at least.
    func message() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 236)
        bytes[0] = 1; bytes[1] = 1; bytes[2] = 6                // BOOTREQUEST, Ethernet, 6-byte address
        for i in 0..<4 { bytes[4 + i] = UInt8(truncatingIfNeeded: transactionID >> (24 - 8 * UInt32(i))) }
        bytes[10] = 0x80                                        // BROADCAST flag
        for i in 0..<6 { bytes[28 + i] = UInt8(truncatingIfNeeded: hardwareAddress.rawValue >> UInt64(40 - 8 * i)) }
        bytes += Self.cookie
        switch state {
        case .requesting(let offered, let server):
            bytes += [53, 1, 3]                                 // REQUEST
            bytes += [50, 4] + Self.octets(offered) + [54, 4] + Self.octets(server)
        default:
            bytes += [53, 1, 1]                                 // DISCOVER
        }
        bytes += [55, 4, 1, 3, 6, 51]                           // want: mask, router, DNS, lease time
        bytes.append(255)
        while bytes.count < 300 { bytes.append(0) }
        return bytes
    }

    static func octets(_ address: IPv4Address) -> [UInt8] {
        [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: address.rawValue >> UInt32($0)) }
    }

    /// The parts of a BOOTREPLY the client uses; nil for anything malformed.
    struct Reply {
        var transactionID: UInt32 = 0
        var yourAddress = IPv4Address(rawValue: 0)
        var clientHardwareAddress = MACAddress(rawValue: 0)
        var messageType: UInt8 = 0
        var prefixLength: Int? = nil
        var router: IPv4Address? = nil
        var dnsServers: [IPv4Address] = []
        var leaseSeconds: UInt32? = nil
        var server: IPv4Address? = nil

        init?(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count >= 240, bytes[0] == 2, bytes[1] == 1, bytes[2] == 6,
                  bytes[236] == 99, bytes[237] == 130, bytes[238] == 83, bytes[239] == 99 else { return nil }
            func word(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
            }
            transactionID = word(4)
            yourAddress = IPv4Address(rawValue: word(16))
            var mac: UInt64 = 0
            for i in 0..<6 { mac = mac << 8 | UInt64(bytes[28 + i]) }
            clientHardwareAddress = MACAddress(rawValue: mac)
            var at = 240
            while at < bytes.count {
                let code = bytes[at]
                if code == 255 { break }
                if code == 0 { at += 1; continue }
                guard at + 1 < bytes.count else { return nil }
                let length = Int(bytes[at + 1])
                let value = at + 2
                guard value + length <= bytes.count else { return nil }
                switch code {
                case 53 where length == 1: messageType = bytes[value]
                case 1 where length == 4: prefixLength = word(value).nonzeroBitCount
                case 3 where length >= 4: router = IPv4Address(rawValue: word(value))
                case 6 where length >= 4 && length % 4 == 0:
                    dnsServers = stride(from: value, to: value + length, by: 4).map { IPv4Address(rawValue: word($0)) }
                case 51 where length == 4: leaseSeconds = word(value)
                case 54 where length == 4: server = IPv4Address(rawValue: word(value))
                default: break
                }
                at = value + length
            }
            guard messageType != 0 else { return nil }
        }
    }
}
