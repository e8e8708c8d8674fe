// PCIMSIX: message-signalled interrupts, extended (PCI Local Bus 3.0, section 6.8.2).
//
// The capability (ID 0x11) holds the message control word at +2 (table size - 1 in bits 10:0,
// function mask bit 14, enable bit 15) and the table's location at +4 (BAR index in bits 2:0, offset
// in the rest). Each 16-byte table entry is { message address low, high, message data, vector
// control (bit 0: masked) } and lives in device memory, so it is written with MMIO stores. An entry
// raises an interrupt by having the device write `data` to `address` — on x86 a local APIC's address
// and a vector, which the interrupts library hands out. While MSI-X is enabled the function does not
// use its INTx# pin; the interrupt-disable command bit is set too, so nothing reaches the I/O APIC.

import ArchX86

public struct PCIMSIX {
    public let function: PCIFunction
    /// Where the capability is in configuration space.
    public let capability: Int
    /// Number of table entries (vectors).
    public let tableSize: Int
    /// The table's (mapped) address.
    let table: UInt

    static let enableBit: UInt16 = 1 << 15, functionMaskBit: UInt16 = 1 << 14

    /// The function's MSI-X capability with its table mapped; nil when it has none or the table's BAR
    /// cannot be used.
    public init?(function: PCIFunction) {
        guard let capability = function.capabilities.first(id: PCICapability.msiX) else { return nil }
        let location = function.read32(capability.offset + 4)
        guard let bar = function.mappedMemoryBAR(Int(location & 0b111)) else { return nil }
        let size = Int(function.read16(capability.offset + 2) & 0x7FF) + 1
        let offset = UInt64(location & ~0b111)
        guard offset + UInt64(size) * 16 <= bar.size else { return nil }
        self.function = function
        self.capability = capability.offset
        tableSize = size
        table = UInt(bar.address + offset)
    }

    var control: UInt16 {
        get { function.read16(capability + 2) }
        nonmutating set { function.write16(capability + 2, newValue) }
    }

    /// Turns MSI-X on (and INTx off). Entries stay masked until `route` unmasks them.
    public func enable() {
        function.command = function.command | PCIFunction.interruptDisable
        control = control & ~Self.functionMaskBit | Self.enableBit
    }

    /// Has entry `index` write `data` to `address`, and unmasks it.
    public func route(entry index: Int, address: UInt64, data: UInt32) {
        precondition(index >= 0 && index < tableSize, "MSI-X entry out of range")
        let entry = table + UInt(index) * 16
        CPU.mmioWrite32(entry + 12, 1)                                  // masked while it changes
        CPU.mmioWrite32(entry, UInt32(truncatingIfNeeded: address))
        CPU.mmioWrite32(entry + 4, UInt32(truncatingIfNeeded: address >> 32))
        CPU.mmioWrite32(entry + 8, data)
        CPU.mmioWrite32(entry + 12, 0)
    }

    public func mask(entry index: Int) {
        precondition(index >= 0 && index < tableSize, "MSI-X entry out of range")
        CPU.mmioWrite32(table + UInt(index) * 16 + 12, 1)
    }
}
