// Link and network addresses as small value types: `MACAddress` (48-bit IEEE 802 address) and
// `IPv4Address` (RFC 791). Both are stored as one integer, first octet most significant, so equality,
// hashing and ordering are integer operations and no address ever points into a packet buffer.
//
// Text forms. A MAC address is six two-digit lowercase hex octets separated by colons,
// "52:55:0a:00:02:02" (QEMU slirp's gateway); parsing also accepts uppercase digits and hyphens
// instead of colons (one separator throughout), but always exactly two digits per octet. An IPv4 address is dotted decimal, "10.0.2.15". Parsing is
// strict, like inet_pton: exactly four decimal parts of 0...255, no empty parts, no leading zeros
// ("010" is rejected: some parsers read it as octal), no surrounding spaces.
//
// Reading from and writing to packet buffers happens through internal initializers and `write(to:at:)`,
// which the packet views call only inside lengths they validated.

/// A 48-bit IEEE 802 MAC address.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The address as a number, first octet most significant; the top 16 bits are always zero.
    public let rawValue: UInt64

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    /// 00:00:00:00:00:00, e.g. the target hardware address of an ARP request (RFC 826).
    public static let zero = MACAddress(rawValue: 0)

    /// The address whose low 48 bits are `rawValue`'s (higher bits are dropped).
    public init(rawValue: UInt64) {
        self.rawValue = rawValue & 0xFFFF_FFFF_FFFF
    }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        let high = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24
        self.rawValue = high | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
    }

    /// Parses "52:55:0a:00:02:02" (or with hyphens, either case); nil for anything else.
    public init?(_ description: String) {
        var value: UInt64 = 0
        var position = 0                         // index of the character within "xx:xx:xx:xx:xx:xx"
        var separator: UInt8 = 0                 // the first separator seen; all must match it
        for byte in description.utf8 {
            guard position < 17 else { return nil }
            if position % 3 == 2 {
                guard byte == ASCII.colon || byte == ASCII.hyphen else { return nil }
                if separator == 0 { separator = byte }
                guard byte == separator else { return nil }
            } else {
                guard let digit = ASCII.hexValue(byte) else { return nil }
                value = value << 4 | UInt64(digit)
            }
            position += 1
        }
        guard position == 17 else { return nil }
        self.rawValue = value
    }

    /// Reads six bytes at `offset`.
    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        self.rawValue = UInt64(bytes.read16(at: offset)) << 32 | UInt64(bytes.read32(at: offset + 2))
    }

    /// Writes the six bytes at `offset`.
    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.write16(UInt16(truncatingIfNeeded: rawValue >> 32), at: offset)
        buffer.write32(UInt32(truncatingIfNeeded: rawValue), at: offset + 2)
    }

    /// Octet `index` (0...5), in transmission order.
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < 6, "MACAddress: octet index out of range")
        return UInt8(truncatingIfNeeded: rawValue >> UInt64(8 * (5 - index)))
    }

    public var isBroadcast: Bool { self == .broadcast }
    /// The group bit, the least significant bit of the first octet (broadcast is a multicast address).
    public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }
    public var isUnicast: Bool { !isMulticast }
    /// The locally administered bit (QEMU's 52:54:00:... and slirp's 52:55:... have it set).
    public var isLocallyAdministered: Bool { rawValue & 0x0200_0000_0000 != 0 }

    public static func < (a: MACAddress, b: MACAddress) -> Bool { a.rawValue < b.rawValue }

    /// "52:55:0a:00:02:02".
    public var description: String {
        var text: [UInt8] = []
        text.reserveCapacity(17)
        for index in 0..<6 {
            if index > 0 { text.append(ASCII.colon) }
            let octet = self[index]
            text.append(ASCII.hexDigit(octet >> 4))
            text.append(ASCII.hexDigit(octet & 0x0F))
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// An IPv4 address (RFC 791).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The address as a number, first octet most significant (10.0.2.15 is 0x0A00_020F).
    public let rawValue: UInt32

    /// 0.0.0.0, "this host" as a source while it has no address (RFC 1122 section 3.2.1.3).
    public static let unspecified = IPv4Address(rawValue: 0)
    /// 255.255.255.255, the limited broadcast address.
    public static let broadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted decimal ("10.0.2.15") strictly (see the design comment); nil for anything else.
    public init?(_ description: String) {
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0                           // digits in the current part
        var parts = 0                            // parts finished so far
        for byte in description.utf8 {
            if byte == ASCII.dot {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | part
                parts += 1
                part = 0
                digits = 0
            } else if byte >= ASCII.zero && byte <= ASCII.nine {
                guard !(digits == 1 && part == 0) else { return nil }      // a leading zero
                part = part * 10 + UInt32(byte - ASCII.zero)
                digits += 1
                guard part <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        self.rawValue = value << 8 | part
    }

    /// Reads four bytes at `offset`.
    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        self.rawValue = bytes.read32(at: offset)
    }

    /// Writes the four bytes at `offset`.
    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.write32(rawValue, at: offset)
    }

    /// Octet `index` (0...3), in transmission order.
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < 4, "IPv4Address: octet index out of range")
        return UInt8(truncatingIfNeeded: rawValue >> UInt32(8 * (3 - index)))
    }

    public var isUnspecified: Bool { rawValue == 0 }
    public var isBroadcast: Bool { self == .broadcast }
    /// 127.0.0.0/8.
    public var isLoopback: Bool { rawValue >> 24 == 127 }
    /// 224.0.0.0/4 (RFC 5771).
    public var isMulticast: Bool { rawValue >> 28 == 0xE }
    /// 169.254.0.0/16 (RFC 3927).
    public var isLinkLocal: Bool { rawValue >> 16 == 0xA9FE }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.rawValue < b.rawValue }

    /// "10.0.2.15".
    public var description: String {
        var text: [UInt8] = []
        text.reserveCapacity(15)
        for index in 0..<4 {
            if index > 0 { text.append(ASCII.dot) }
            ASCII.appendDecimal(self[index], to: &text)
        }
        return String(decoding: text, as: UTF8.self)
    }
}
