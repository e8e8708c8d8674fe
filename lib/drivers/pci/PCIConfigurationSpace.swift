// PCIConfigurationSpace: the 256-byte configuration header of one PCI function, as something to read.
//
// Everything in this file, PCIBAR.swift and PCICapabilities.swift is pure logic over this protocol:
// the kernel reads a real function through ports 0xCF8/0xCFC (`PCIFunction`), the host tests read a
// byte array. Offsets are the type-0 header's (PCI Local Bus 3.0, section 6.1); every register is
// little-endian, and the hardware is read in aligned 32-bit words, from which the narrower fields are
// cut.

public protocol PCIConfigurationSpace {
    /// The aligned 32-bit word at `offset` (a multiple of 4, below 256).
    func read32(_ offset: Int) -> UInt32
}

/// Register offsets of the configuration header.
public enum PCIRegister {
    public static let vendorID = 0x00, deviceID = 0x02, command = 0x04, status = 0x06
    public static let revision = 0x08, programmingInterface = 0x09, subclass = 0x0A, classCode = 0x0B
    public static let headerType = 0x0E
    public static let firstBAR = 0x10
    public static let secondaryBus = 0x19              // type-1 (bridge) header
    public static let subsystemVendorID = 0x2C, subsystemID = 0x2E
    public static let capabilitiesPointer = 0x34
    public static let interruptLine = 0x3C, interruptPin = 0x3D
}

extension PCIConfigurationSpace {
    public func read16(_ offset: Int) -> UInt16 {
        UInt16(truncatingIfNeeded: read32(offset & ~3) >> (UInt32(offset & 2) * 8))
    }

    public func read8(_ offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: read32(offset & ~3) >> (UInt32(offset & 3) * 8))
    }

    /// 0xFFFF when no function answers at this address.
    public var vendorID: UInt16 { read16(PCIRegister.vendorID) }
    public var deviceID: UInt16 { read16(PCIRegister.deviceID) }
    public var subsystemID: UInt16 { read16(PCIRegister.subsystemID) }
    public var revision: UInt8 { read8(PCIRegister.revision) }
    /// Base class, subclass and programming interface (0x02_00_00: Ethernet controller).
    public var classCode: UInt32 { read32(PCIRegister.revision) >> 8 }
    /// The header layout: 0 a device, 1 a PCI-to-PCI bridge, 2 a CardBus bridge.
    public var headerLayout: UInt8 { read8(PCIRegister.headerType) & 0x7F }
    /// True when function 0 says the device has functions 1-7 as well.
    public var isMultiFunction: Bool { read8(PCIRegister.headerType) & 0x80 != 0 }
    /// The legacy interrupt pin (1-4 for INTA#-INTD#, 0 for none) and the line the firmware wrote.
    public var interruptPin: UInt8 { read8(PCIRegister.interruptPin) }
    public var interruptLine: UInt8 { read8(PCIRegister.interruptLine) }

    /// The capabilities of this function, in list order.
    public var capabilities: PCICapabilities<Self> { PCICapabilities(space: self) }
}
