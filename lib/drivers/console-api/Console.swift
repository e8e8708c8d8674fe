// The console API.
//
// A console is a hardware singleton, so its operations are static: the generated wiring binds one
// conforming type (e.g. `Serial16550`) and every library calls it through the image's `Console` type,
// statically dispatched. Output must work from the first line of the kernel and from a crash handler,
// so `write` may not allocate, take locks that a crashed thread could hold, or depend on interrupts.
// Implementations translate "\n" to the line ending their device wants.

public protocol Console {
    /// A short name for reports ("serial-16550").
    static var name: StaticString { get }
    /// Brings the device up. Called once, before any output.
    static func initialize()
    /// Writes one byte, waiting until the device accepts it.
    static func write(_ byte: UInt8)
    /// Returns the next input byte if one is waiting, else nil (never blocks).
    static func read() -> UInt8?
}

extension Console {
    /// Writes a static string.
    public static func write(_ text: StaticString) {
        text.withUTF8Buffer { for byte in $0 { write(byte) } }
    }

    /// Writes bytes.
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        for byte in bytes { write(byte) }
    }
}
