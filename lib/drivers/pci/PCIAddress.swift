// PCIAddress: where a function sits on the bus — bus, device (slot) and function numbers — and the
// configuration-mechanism-#1 address word that selects one of its registers (PCI Local Bus 3.0,
// section 3.2.2.3.2): bit 31 enable, bus in 23:16, device in 15:11, function in 10:8, register in 7:2.

public struct PCIAddress: Equatable, CustomStringConvertible {
    public var bus: UInt8
    /// 0-31.
    public var device: UInt8
    /// 0-7.
    public var function: UInt8

    public init(bus: UInt8, device: UInt8, function: UInt8) {
        precondition(device < 32 && function < 8, "PCI device 0-31, function 0-7")
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// The word written to port 0xCF8 to reach the aligned dword at `offset` (0-255).
    public func configurationAddress(_ offset: Int) -> UInt32 {
        0x8000_0000 | UInt32(bus) << 16 | UInt32(device) << 11 | UInt32(function) << 8 | UInt32(offset & 0xFC)
    }

    /// "bb:dd.f" in hex, as lspci and QEMU print it.
    public var description: String {
        func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
        let text = [digit(bus >> 4), digit(bus & 0xF), UInt8(ascii: ":"), digit(device >> 4), digit(device & 0xF),
                    UInt8(ascii: "."), digit(function)]
        return String(decoding: text, as: UTF8.self)
    }
}
