// IOAPIC: routes device interrupt lines (ISA IRQs 0-15 and PCI lines up to the chip's limit) to
// vectors on the local APIC.
//
// The chip is two MMIO registers at 0xFEC00000 (QEMU's pc, q35 and microvm all place it there): write a
// register index to IOREGSEL (+0x00), then read or write it through IOWIN (+0x10). Redirection entry n
// is registers 0x10 + 2n (low word: vector, mask bit 16, trigger bit 15, polarity bit 13) and
// 0x11 + 2n (high word: destination APIC ID in bits 24-31). Every line starts masked; `route` unmasks
// one, edge-triggered and active-high as ISA devices are (PCI devices pass `level: true`).

import ArchX86

public enum IOAPIC {
    static let base: UInt = 0xFEC0_0000

    /// How many lines the chip has (from its version register).
    public static var lineCount: Int { Int((read(0x01) >> 16) & 0xFF) + 1 }

    static func maskAll() {
        for line in 0..<lineCount { write(0x10 + 2 * UInt32(line), 1 << 16) }
    }

    /// Delivers `line` as `vector` to the CPU with APIC ID `destination`.
    public static func route(line: Int, vector: UInt8, destination: UInt32, level: Bool = false) {
        guard line < lineCount else { return }
        let low = UInt32(vector) | (level ? (1 << 15) | (1 << 13) : 0)
        write(0x11 + 2 * UInt32(line), destination << 24)
        write(0x10 + 2 * UInt32(line), low)
    }

    public static func mask(line: Int) {
        guard line < lineCount else { return }
        write(0x10 + 2 * UInt32(line), read(0x10 + 2 * UInt32(line)) | (1 << 16))
    }

    static func read(_ register: UInt32) -> UInt32 {
        CPU.mmioWrite32(base, register)
        return CPU.mmioRead32(base + 0x10)
    }

    static func write(_ register: UInt32, _ value: UInt32) {
        CPU.mmioWrite32(base, register)
        CPU.mmioWrite32(base + 0x10, value)
    }
}
