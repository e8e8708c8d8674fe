// PCIFunction: one function's configuration space through the legacy port mechanism (#1), which QEMU's
// pc (i440FX) and q35 (ICH9) both implement: write the register's address to 0xCF8, then move the data
// through 0xCFC-0xCFF. The two port accesses are not atomic as a pair; configuration space is only
// touched by drivers while they initialize, never from interrupt handlers, so on one CPU nothing can
// come in between. (PCIe's memory-mapped ECAM would reach the extended space above 256 bytes; no
// driver here needs it.)
//
// Narrow writes go through the matching port width (0xCFC + offset % 4), so that writing the command
// register never writes back the status register next to it, whose error bits clear on a write of 1.

import ArchX86
import Kernel

public struct PCIFunction: PCIConfigurationSpace {
    static let addressPort: UInt16 = 0xCF8, dataPort: UInt16 = 0xCFC

    // Command register bits.
    public static let ioSpace: UInt16 = 1 << 0, memorySpace: UInt16 = 1 << 1, busMaster: UInt16 = 1 << 2
    public static let interruptDisable: UInt16 = 1 << 10

    public let address: PCIAddress

    public init(_ address: PCIAddress) { self.address = address }

    public func read32(_ offset: Int) -> UInt32 {
        CPU.outl(Self.addressPort, address.configurationAddress(offset))
        return CPU.inl(Self.dataPort)
    }

    public func write32(_ offset: Int, _ value: UInt32) {
        CPU.outl(Self.addressPort, address.configurationAddress(offset))
        CPU.outl(Self.dataPort, value)
    }

    public func write16(_ offset: Int, _ value: UInt16) {
        CPU.outl(Self.addressPort, address.configurationAddress(offset))
        CPU.outw(Self.dataPort + UInt16(offset & 2), value)
    }

    public var command: UInt16 {
        get { read16(PCIRegister.command) }
        nonmutating set { write16(PCIRegister.command, newValue) }
    }

    /// Lets the function answer memory accesses and master the bus (DMA, MSI writes).
    public func enableMemoryAndBusMastering() {
        command = command | Self.memorySpace | Self.busMaster
    }

    /// The number of BAR registers in this header layout (6 for a device, 2 for a bridge).
    public var barCount: Int { headerLayout == 0 ? 6 : headerLayout == 1 ? 2 : 0 }

    /// BAR `index` (the index of its first register), decoded and sized; nil when not implemented or
    /// when `index` is the upper half of a 64-bit BAR. Sizing writes all ones to the register, so
    /// decoding is switched off in the command register meanwhile and everything is restored afterwards.
    public func bar(_ index: Int) -> PCIBAR? {
        guard index >= 0, index < barCount, !isUpperHalf(index) else { return nil }
        let register = PCIRegister.firstBAR + 4 * index
        let value = read32(register)
        let is64Bit = PCIBAR.isLowerHalfOf64Bit(value) && index + 1 < barCount
        let saved = command
        command = saved & ~(Self.ioSpace | Self.memorySpace)
        write32(register, 0xFFFF_FFFF)
        let probe = read32(register)
        write32(register, value)
        var high: UInt32 = 0, highProbe: UInt32 = 0
        if is64Bit {
            high = read32(register + 4)
            write32(register + 4, 0xFFFF_FFFF)
            highProbe = read32(register + 4)
            write32(register + 4, high)
        }
        command = saved
        return PCIBAR.decode(value: value, probe: probe, high: high, highProbe: highProbe)
    }

    /// True when register `index` holds the upper half of the 64-bit BAR before it (counted from BAR 0).
    func isUpperHalf(_ index: Int) -> Bool {
        var register = 0
        while register < index {
            register += PCIBAR.isLowerHalfOf64Bit(read32(PCIRegister.firstBAR + 4 * register)) ? 2 : 1
        }
        return register != index
    }

    /// Memory BAR `index`, made accessible: a BAR below 4 GiB is in the boot identity map already;
    /// one above is identity-mapped now (uncached). Nil, with the reason printed, when the BAR is not
    /// a memory BAR, was not assigned an address, or cannot be mapped.
    public func mappedMemoryBAR(_ index: Int) -> PCIBAR? {
        guard let bar = bar(index), bar.isMemory else { return refuse(index, "is not a memory BAR") }
        guard bar.address != 0 else { return refuse(index, "has no address (the firmware did not assign one)") }
        let end = bar.address + bar.size
        if end > 0x1_0000_0000 {
            guard end <= UInt64(1) << 47,
                  Paging.mapDevice(UInt(bar.address), size: Int(bar.size), newPage: { physicalPages.allocate(pages: 1) }) else {
                return refuse(index, "cannot be mapped (out of pages, or beyond the lower half of the address space)")
            }
        }
        return bar
    }

    /// Prints "pci: bb:dd.f BAR n <reason>" (in pieces: string interpolation costs kilobytes of code).
    @inline(never)
    func refuse(_ index: Int, _ reason: StaticString) -> PCIBAR? {
        print("pci: ", terminator: "")
        print(address.description, terminator: " BAR ")
        print(index, terminator: " ")
        print(reason)
        return nil
    }
}
