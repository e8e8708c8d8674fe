// The PCI library's pure parts: configuration-space fields, the capability walk and BAR decoding,
// on configuration space and BAR probes read from QEMU 7.2 (pc and q35) by a guest.

import PCILogic
import Testing

/// Configuration space as bytes, read in aligned dwords as the hardware is.
struct ConfigurationBytes: PCIConfigurationSpace {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes + [UInt8](repeating: 0, count: max(0, 256 - bytes.count)) }

    func read32(_ offset: Int) -> UInt32 {
        precondition(offset % 4 == 0 && offset < 256)
        return (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }
}

/// QEMU's virtio-net-pci (disable-legacy=on) at 00:02.0 on pc: the first 0xA4 bytes; the rest is 0.
let virtioNetConfiguration = ConfigurationBytes([
    0xf4, 0x1a, 0x41, 0x10, 0x03, 0x01, 0x10, 0x00, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xbc, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0c, 0xc0, 0xbf, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf4, 0x1a, 0x00, 0x11,
    0x00, 0x00, 0xb8, 0xfe, 0x98, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x00, 0x00,
    0x09, 0x00, 0x10, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x09, 0x40, 0x10, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x09, 0x50, 0x10, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x09, 0x60, 0x14, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x09, 0x70, 0x14, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x84, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x08, 0x00, 0x00,
])

/// A header whose status says "capability list" and whose list starts at `first`, with `entries`
/// (offset, id, next) written in.
func configuration(first: UInt8, _ entries: [(offset: Int, id: UInt8, next: UInt8)]) -> ConfigurationBytes {
    var bytes = [UInt8](repeating: 0, count: 256)
    bytes[0x06] = 0x10
    bytes[0x34] = first
    for entry in entries {
        bytes[entry.offset] = entry.id
        bytes[entry.offset + 1] = entry.next
    }
    return ConfigurationBytes(bytes)
}

@Suite struct PCIConfigurationTests {
    @Test func headerFieldsOfQEMUsVirtioNet() {
        let space = virtioNetConfiguration
        #expect(space.vendorID == 0x1AF4)
        #expect(space.deviceID == 0x1041)                 // 0x1040 + virtio device 1 (network)
        #expect(space.revision == 1)
        #expect(space.classCode == 0x02_00_00)            // Ethernet controller
        #expect(space.subsystemID == 0x1100)
        #expect(space.headerLayout == 0 && !space.isMultiFunction)
        #expect(space.interruptPin == 1 && space.interruptLine == 10)
        #expect(space.read16(PCIRegister.command) == 0x0103)
        #expect(space.read8(PCIRegister.capabilitiesPointer) == 0x98)
    }

    @Test func configurationAddressAndName() {
        let address = PCIAddress(bus: 0, device: 2, function: 0)
        #expect(address.configurationAddress(0x3D) == 0x8000_103C)     // dword-aligned
        #expect(address.description == "00:02.0")
        let last = PCIAddress(bus: 0xA5, device: 31, function: 7)
        #expect(last.configurationAddress(0xFF) == 0x80A5_FFFC)
        #expect(last.description == "a5:1f.7")
    }
}

@Suite struct PCICapabilityTests {
    @Test func walksQEMUsVirtioNetList() {
        let list = Array(virtioNetConfiguration.capabilities)
        #expect(list == [PCICapability(id: 0x11, offset: 0x98), PCICapability(id: 0x09, offset: 0x84),
                         PCICapability(id: 0x09, offset: 0x70), PCICapability(id: 0x09, offset: 0x60),
                         PCICapability(id: 0x09, offset: 0x50), PCICapability(id: 0x09, offset: 0x40)])
        #expect(virtioNetConfiguration.capabilities.first(id: PCICapability.msiX)?.offset == 0x98)
        #expect(virtioNetConfiguration.capabilities.first(id: PCICapability.vendorSpecific)?.offset == 0x84)
        #expect(virtioNetConfiguration.capabilities.first(id: PCICapability.msi) == nil)
    }

    @Test func noListWithoutTheStatusBit() {
        var bytes = virtioNetConfiguration.bytes
        bytes[0x06] = 0
        #expect(Array(ConfigurationBytes(bytes).capabilities).isEmpty)
    }

    @Test func reservedLowBitsOfPointersAreMasked() {
        let space = configuration(first: 0x43, [(0x40, 0x05, 0x52), (0x50, 0x11, 0x00)])
        #expect(Array(space.capabilities) == [PCICapability(id: 0x05, offset: 0x40), PCICapability(id: 0x11, offset: 0x50)])
    }

    @Test func aPointerIntoTheHeaderEndsTheList() {
        let space = configuration(first: 0x40, [(0x40, 0x05, 0x3C)])
        #expect(Array(space.capabilities) == [PCICapability(id: 0x05, offset: 0x40)])
        #expect(Array(configuration(first: 0x10, []).capabilities).isEmpty)
    }

    @Test func aLoopingListStopsAfterFortyEightEntries() {
        let selfLoop = configuration(first: 0x40, [(0x40, 0x09, 0x40)])
        #expect(Array(selfLoop.capabilities).count == 48)
        let twoCycle = configuration(first: 0x40, [(0x40, 0x09, 0xFC), (0xFC, 0x11, 0x40)])
        #expect(Array(twoCycle.capabilities).count == 48)
        #expect(twoCycle.capabilities.first(id: 0x05) == nil)            // terminates, finds nothing
    }
}

@Suite struct PCIBARTests {
    // Values and probes (read back after writing all ones) as QEMU's devices answer them.

    @Test func ioBAR() {
        #expect(PCIBAR.decode(value: 0xC001, probe: 0xFFFF_FFF1) == PCIBAR(kind: .io, address: 0xC000, size: 0x10))
        #expect(PCIBAR.decode(value: 0xC041, probe: 0xFFFF_FFE1) == PCIBAR(kind: .io, address: 0xC040, size: 0x20))
        // A 16-bit decoder reads the upper half back as zero.
        #expect(PCIBAR.decode(value: 0xC001, probe: 0x0000_FFF1)?.size == 0x10)
    }

    @Test func thirtyTwoBitMemoryBAR() {
        #expect(PCIBAR.decode(value: 0xFEBC_0000, probe: 0xFFFF_F000)
                == PCIBAR(kind: .memory32, address: 0xFEBC_0000, size: 0x1000))
        #expect(PCIBAR.decode(value: 0xFEBC_1000, probe: 0xFFFF_FF00)?.size == 0x100)
    }

    @Test func sixtyFourBitPrefetchableBARBelowFourGiB() {
        #expect(PCIBAR.isLowerHalfOf64Bit(0xFEBF_C00C))
        #expect(PCIBAR.decode(value: 0xFEBF_C00C, probe: 0xFFFF_C00C, high: 0, highProbe: 0xFFFF_FFFF)
                == PCIBAR(kind: .memory64, address: 0xFEBF_C000, size: 0x4000, prefetchable: true))
    }

    @Test func sixtyFourBitBARAboveFourGiB() {
        // ivshmem's 1 GiB BAR, placed at 4 GiB by SeaBIOS on q35.
        #expect(PCIBAR.decode(value: 0x0000_000C, probe: 0xC000_000C, high: 0x1, highProbe: 0xFFFF_FFFF)
                == PCIBAR(kind: .memory64, address: 0x1_0000_0000, size: 0x4000_0000, prefetchable: true))
        // A BAR larger than 4 GiB: its size bits reach into the upper half.
        #expect(PCIBAR.decode(value: 0x0000_000C, probe: 0x0000_000C, high: 0x10, highProbe: 0xFFFF_FFF0)?.size
                == 0x10_0000_0000)
    }

    @Test func unimplementedBARsDecodeToNil() {
        #expect(PCIBAR.decode(value: 0, probe: 0) == nil)
        #expect(PCIBAR.decode(value: 0x1, probe: 0x1) == nil)
        #expect(PCIBAR.decode(value: 0xC, probe: 0xC, high: 0, highProbe: 0) == nil)
        #expect(!PCIBAR.isLowerHalfOf64Bit(0xFEBC_0000) && !PCIBAR.isLowerHalfOf64Bit(0xC001))
    }
}
