// ARP (RFC 826): resolving IPv4 addresses to Ethernet addresses.
//
//     0       2       4    5    6     8                                     8 + 2 * (hlen + plen)
//     +-------+-------+----+----+-----+-----+-----+-----+-----+
//     | htype | ptype |hlen|plen| oper| sha | spa | tha | tpa |
//     +-------+-------+----+----+-----+-----+-----+-----+-----+
//
// The view is general: it checks the 8-byte fixed part, then that the four addresses, whose sizes the
// packet itself declares (hlen, plen), fit in the buffer, and exposes them as raw bytes. Trailing bytes
// (the padding of a 60-byte Ethernet frame; QEMU slirp pads its replies to 64) are ignored.
//
// `ARPRepr` is deliberately narrow: IPv4 over Ethernet (htype 1, ptype 0x0800) only, which is all a
// virtio-net guest meets. Other hardware or protocol types are `.unsupported`; Ethernet with hlen != 6
// or IPv4 with plen != 4 contradicts the format and is `.malformed`. Operations other than request (1)
// and reply (2) (RARP's 3 and 4, InARP's 8 and 9) are `.unsupported`.

/// The ARP operations `ARPRepr` represents.
public enum ARPOperation: UInt16, Hashable, Sendable {
    case request = 1
    case reply = 2
}

/// A checked view of an ARP packet of any hardware and protocol type.
public struct ARPPacket {
    enum Field {
        static let hardwareType = 0
        static let protocolType = 2
        static let hardwareLength = 4
        static let protocolLength = 5
        static let operation = 6
        static let senderHardwareAddress = 8
    }

    /// RFC 826's hardware type for Ethernet.
    public static let ethernetHardwareType: UInt16 = 1
    static let fixedLength = 8

    public let bytes: UnsafeRawBufferPointer

    /// Accepts a buffer that holds the fixed part and the four addresses it declares.
    public init(checking bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= Self.fixedLength else { throw .truncated }
        let addresses = 2 * (Int(bytes[Field.hardwareLength]) + Int(bytes[Field.protocolLength]))
        guard bytes.count >= Self.fixedLength + addresses else { throw .truncated }
        self.bytes = bytes
    }

    public var hardwareType: UInt16 { bytes.read16(at: Field.hardwareType) }
    public var protocolType: EtherType { EtherType(rawValue: bytes.read16(at: Field.protocolType)) }
    public var hardwareLength: Int { Int(bytes[Field.hardwareLength]) }
    public var protocolLength: Int { Int(bytes[Field.protocolLength]) }
    /// The raw operation code (1 request, 2 reply).
    public var operation: UInt16 { bytes.read16(at: Field.operation) }

    /// The packet's length as its address sizes declare it; the buffer may be longer.
    public var length: Int { Self.fixedLength + 2 * (hardwareLength + protocolLength) }

    public var senderHardwareAddress: UnsafeRawBufferPointer { address(0, hardwareLength) }
    public var senderProtocolAddress: UnsafeRawBufferPointer { address(hardwareLength, protocolLength) }
    public var targetHardwareAddress: UnsafeRawBufferPointer {
        address(hardwareLength + protocolLength, hardwareLength)
    }
    public var targetProtocolAddress: UnsafeRawBufferPointer {
        address(2 * hardwareLength + protocolLength, protocolLength)
    }

    /// `count` bytes starting `skip` bytes into the address area.
    func address(_ skip: Int, _ count: Int) -> UnsafeRawBufferPointer {
        let start = Field.senderHardwareAddress + skip
        return bytes.slice(start..<start + count)
    }
}

/// An ARP request or reply for IPv4 over Ethernet.
public struct ARPRepr: Hashable, Sendable {
    public var operation: ARPOperation
    public var senderHardwareAddress: MACAddress
    public var senderProtocolAddress: IPv4Address
    /// Ignored in requests, where senders put 00:00:00:00:00:00 (`MACAddress.zero`).
    public var targetHardwareAddress: MACAddress
    public var targetProtocolAddress: IPv4Address

    /// An IPv4-over-Ethernet ARP packet is 28 bytes.
    public static let length = 28

    enum Field {
        static let senderProtocolAddress = 14
        static let targetHardwareAddress = 18
        static let targetProtocolAddress = 24
    }

    public init(operation: ARPOperation, senderHardwareAddress: MACAddress, senderProtocolAddress: IPv4Address,
                targetHardwareAddress: MACAddress, targetProtocolAddress: IPv4Address) {
        self.operation = operation
        self.senderHardwareAddress = senderHardwareAddress
        self.senderProtocolAddress = senderProtocolAddress
        self.targetHardwareAddress = targetHardwareAddress
        self.targetProtocolAddress = targetProtocolAddress
    }

    public init(parsing packet: ARPPacket) throws(WireError) {
        guard packet.hardwareType == ARPPacket.ethernetHardwareType, packet.protocolType == .ipv4 else {
            throw .unsupported
        }
        guard packet.hardwareLength == 6, packet.protocolLength == 4 else { throw .malformed }
        guard let operation = ARPOperation(rawValue: packet.operation) else { throw .unsupported }
        let bytes = packet.bytes
        self.init(operation: operation,
                  senderHardwareAddress: MACAddress(reading: bytes, at: ARPPacket.Field.senderHardwareAddress),
                  senderProtocolAddress: IPv4Address(reading: bytes, at: Field.senderProtocolAddress),
                  targetHardwareAddress: MACAddress(reading: bytes, at: Field.targetHardwareAddress),
                  targetProtocolAddress: IPv4Address(reading: bytes, at: Field.targetProtocolAddress))
    }

    /// Writes the 28-byte packet at the start of `buffer`.
    public func emit(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.length, "ARPRepr.emit: buffer too small")
        buffer.write16(ARPPacket.ethernetHardwareType, at: ARPPacket.Field.hardwareType)
        buffer.write16(EtherType.ipv4.rawValue, at: ARPPacket.Field.protocolType)
        buffer[ARPPacket.Field.hardwareLength] = 6
        buffer[ARPPacket.Field.protocolLength] = 4
        buffer.write16(operation.rawValue, at: ARPPacket.Field.operation)
        senderHardwareAddress.write(to: buffer, at: ARPPacket.Field.senderHardwareAddress)
        senderProtocolAddress.write(to: buffer, at: Field.senderProtocolAddress)
        targetHardwareAddress.write(to: buffer, at: Field.targetHardwareAddress)
        targetProtocolAddress.write(to: buffer, at: Field.targetProtocolAddress)
    }
}
