// Ethernet II frames (IEEE 802.3 with an EtherType, as carried by virtio-net and QEMU's NICs).
//
//     0      6      12    14
//     +------+------+-----+---------------------------+
//     | dst  | src  | type| payload (46..1500 on wire) |
//     +------+------+-----+---------------------------+
//
// The view covers a frame as a device hands it over: no preamble and no frame check sequence (virtio
// and QEMU strip and add it). A frame only needs its 14-byte header to be accepted; short frames are
// padded by senders to 60 bytes, and that padding stays in `payload` for the next layer to ignore (IPv4
// and ARP both carry their own lengths). A type field below 0x0600 is an IEEE 802.3 length (LLC
// frames), which `EthernetRepr` rejects as unsupported; 802.1Q tags (0x8100) are exposed as an
// EtherType but not parsed.

/// The protocol carried by an Ethernet II frame (IEEE registry), also used as ARP's protocol type.
public struct EtherType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public static let ipv4 = EtherType(rawValue: 0x0800)
    public static let arp = EtherType(rawValue: 0x0806)
    public static let vlan = EtherType(rawValue: 0x8100)
    public static let ipv6 = EtherType(rawValue: 0x86DD)

    /// Values below 0x0600 are IEEE 802.3 lengths, not EtherTypes.
    public var isLength: Bool { rawValue < 0x0600 }
}

/// A checked view of an Ethernet II frame.
public struct EthernetFrame {
    enum Field {
        static let destination = 0
        static let source = 6
        static let etherType = 12
    }

    public static let headerLength = 14

    /// The whole frame as given, header included.
    public let bytes: UnsafeRawBufferPointer

    /// Accepts any buffer that holds the 14-byte header.
    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.headerLength else { throw .truncated }
        self.bytes = bytes
    }

    public var destination: MACAddress { MACAddress(reading: bytes, at: Field.destination) }
    public var source: MACAddress { MACAddress(reading: bytes, at: Field.source) }
    public var etherType: EtherType { EtherType(rawValue: bytes.read16(at: Field.etherType)) }

    /// Everything after the header, including any padding.
    public var payload: UnsafeRawBufferPointer { bytes.slice(Self.headerLength..<bytes.count) }
}

/// The header of an Ethernet II frame as values.
public struct EthernetRepr: Hashable, Sendable {
    public var source: MACAddress
    public var destination: MACAddress
    public var etherType: EtherType

    public static let headerLength = EthernetFrame.headerLength

    public init(source: MACAddress, destination: MACAddress, etherType: EtherType) {
        self.source = source
        self.destination = destination
        self.etherType = etherType
    }

    /// The frame's header; an IEEE 802.3 length in the type field is `.unsupported`.
    public init(parsing frame: EthernetFrame) throws(WireError) {
        let etherType = frame.etherType
        guard !etherType.isLength else { throw .unsupported }
        self.init(source: frame.source, destination: frame.destination, etherType: etherType)
    }

    /// Writes the 14-byte header at the start of `buffer`; the payload follows it.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.headerLength, "EthernetRepr.emit: buffer too small")
        destination.write(to: buffer, at: EthernetFrame.Field.destination)
        source.write(to: buffer, at: EthernetFrame.Field.source)
        buffer.write16(etherType.rawValue, at: EthernetFrame.Field.etherType)
    }
}
