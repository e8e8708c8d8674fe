// PCIBAR: decoding a Base Address Register and its size (PCI Local Bus 3.0, section 6.2.5.1).
//
// A BAR's low bits say what it is: bit 0 set is an I/O-port range (address in bits 31:2); clear is a
// memory range, with bits 2:1 its type (0 = 32-bit, 2 = 64-bit: the next BAR holds the upper half)
// and bit 3 "prefetchable" (address in bits 31:4). The size is found by writing all ones and reading
// back: the address bits that stay zero are the size's alignment, so the lowest address bit that reads
// back as one is the size. (A device that answers as the specification says reads back ones in every
// address bit above it, and the size is also ~(read-back & address mask) + 1; taking the lowest bit,
// as Linux's pci_size does, still gives a power of two when a device or a missing upper half does not.)
// A BAR that reads back zero is not implemented, and one whose range would run past the end of the
// 64-bit address space is refused: its end cannot be computed. `decode` takes the value and the
// read-back (both halves for a 64-bit BAR), so the arithmetic is host-tested; `PCIFunction.bar` does
// the probing.

public struct PCIBAR: Equatable {
    public enum Kind: Equatable {
        case io, memory32, memory64
    }

    public var kind: Kind
    /// The bus address the firmware assigned (0: not assigned).
    public var address: UInt64
    public var size: UInt64
    public var prefetchable: Bool

    public init(kind: Kind, address: UInt64, size: UInt64, prefetchable: Bool = false) {
        self.kind = kind
        self.address = address
        self.size = size
        self.prefetchable = prefetchable
    }

    public var isMemory: Bool { kind != .io }

    /// True when `value` (a BAR's low word) is the lower half of a 64-bit memory BAR.
    public static func isLowerHalfOf64Bit(_ value: UInt32) -> Bool { value & 0b111 == 0b100 }

    /// Decodes a BAR from its `value` and the `probe` read back after writing all ones; for a 64-bit
    /// BAR also the next register's value and probe. Nil when the BAR is not implemented, or when its
    /// range does not fit the 64-bit address space.
    public static func decode(value: UInt32, probe: UInt32, high: UInt32 = 0, highProbe: UInt32 = 0) -> PCIBAR? {
        if value & 1 != 0 {
            let size = lowestSetBit(UInt64(probe & ~0b11))
            guard size != 0 else { return nil }
            return PCIBAR(kind: .io, address: UInt64(value & ~0b11), size: size)
        }
        let kind: Kind = isLowerHalfOf64Bit(value) ? .memory64 : .memory32
        let upper = kind == .memory64 ? UInt64(high) << 32 : 0
        let upperMask = kind == .memory64 ? UInt64(highProbe) << 32 : 0
        let address = upper | UInt64(value & ~0xF)
        let size = lowestSetBit(upperMask | UInt64(probe & ~0xF))
        guard size != 0, !address.addingReportingOverflow(size).overflow else { return nil }
        return PCIBAR(kind: kind, address: address, size: size, prefetchable: value & 0b1000 != 0)
    }

    /// The lowest bit set in `mask` (0 for none).
    static func lowestSetBit(_ mask: UInt64) -> UInt64 { mask & (~mask &+ 1) }
}
