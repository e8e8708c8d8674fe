// PCICapabilities: the linked list of capabilities in configuration space (PCI Local Bus 3.0, 6.7).
//
// When status bit 4 is set, the byte at 0x34 points at the first capability; each capability starts
// with its ID and the offset of the next one (0 ends the list). Offsets are dword-aligned (the low two
// bits are reserved and masked) and lie after the 64-byte header. The walk trusts nothing: a pointer
// into the header or past the space ends it, and it stops after 48 entries — as many as fit in the
// 192 bytes after the header — so a list that loops back on itself cannot hang the kernel.

public struct PCICapability: Equatable {
    /// 0x05 MSI, 0x09 vendor-specific (virtio's), 0x10 PCI Express, 0x11 MSI-X.
    public var id: UInt8
    /// Where the capability starts in configuration space.
    public var offset: Int

    public init(id: UInt8, offset: Int) {
        self.id = id
        self.offset = offset
    }

    public static let msi: UInt8 = 0x05, vendorSpecific: UInt8 = 0x09, pciExpress: UInt8 = 0x10
    public static let msiX: UInt8 = 0x11
}

public struct PCICapabilities<Space: PCIConfigurationSpace>: Sequence, IteratorProtocol {
    static var maximumEntries: Int { 48 }

    let space: Space
    var nextOffset: Int
    var visited = 0

    public init(space: Space) {
        self.space = space
        let hasList = space.read16(PCIRegister.status) & (1 << 4) != 0
        nextOffset = hasList ? Int(space.read8(PCIRegister.capabilitiesPointer) & 0xFC) : 0
    }

    public mutating func next() -> PCICapability? {
        guard nextOffset >= 0x40, nextOffset <= 0xFC, visited < Self.maximumEntries else { return nil }
        let offset = nextOffset
        visited += 1
        nextOffset = Int(space.read8(offset + 1) & 0xFC)
        return PCICapability(id: space.read8(offset), offset: offset)
    }

    /// The first capability with `id`, if any.
    public func first(id: UInt8) -> PCICapability? {
        var walk = self
        while let capability = walk.next() {
            if capability.id == id { return capability }
        }
        return nil
    }
}
