// Serial16550: the console on the first PC serial port, driven by polling.
//
// Registers (offsets from 0x3F8): 0 data / divisor low, 1 interrupt enable / divisor high, 2 FIFO
// control, 3 line control (bit 7 = divisor latch access), 4 modem control, 5 line status (bit 0 = data
// ready, bit 5 = transmit holding register empty). The UART's interrupts stay off; a later interrupt-
// driven input path would enable "data available" (IER bit 0).

import ArchX86
import ConsoleAPI

public enum Serial16550: Console {
    static let base: UInt16 = 0x3F8

    public static var name: StaticString { "serial-16550" }

    public static func initialize() {
        CPU.outb(base + 1, 0x00)        // no UART interrupts
        CPU.outb(base + 3, 0x80)        // divisor latch on
        CPU.outb(base + 0, 0x01)        // divisor 1: 115200 baud
        CPU.outb(base + 1, 0x00)
        CPU.outb(base + 3, 0x03)        // 8 data bits, no parity, 1 stop bit; latch off
        CPU.outb(base + 2, 0xC7)        // FIFOs on and cleared, 14-byte threshold
        CPU.outb(base + 4, 0x03)        // DTR, RTS
    }

    public static func write(_ byte: UInt8) {
        if byte == UInt8(ascii: "\n") { put(UInt8(ascii: "\r")) }
        put(byte)
    }

    public static func read() -> UInt8? {
        guard CPU.inb(base + 5) & 0x01 != 0 else { return nil }
        return CPU.inb(base)
    }

    private static func put(_ byte: UInt8) {
        while CPU.inb(base + 5) & 0x20 == 0 {}
        CPU.outb(base, byte)
    }
}
