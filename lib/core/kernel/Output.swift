// Output: allocation-free formatting for the kernel's own messages.
//
// Panics and crash reports must print even when the heap is exhausted or corrupt, so they never build
// Strings: they write static strings and numbers straight to the image's console.

import ConsoleAPI

public enum Output<C: Console> {
    public static func text(_ s: StaticString) { C.write(s) }

    public static func line(_ s: StaticString) {
        C.write(s)
        C.write(UInt8(ascii: "\n"))
    }

    public static func newline() { C.write(UInt8(ascii: "\n")) }

    public static func string(_ s: String) {
        var copy = s
        copy.withUTF8 { C.write($0) }
    }

    /// `0x` and `digits` hexadecimal digits (16 for a full 64-bit value).
    public static func hex(_ value: UInt64, digits: Int = 16) {
        C.write(UInt8(ascii: "0"))
        C.write(UInt8(ascii: "x"))
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let nibble = UInt8((value >> UInt64(shift)) & 0xF)
            C.write(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
            shift -= 4
        }
    }

    public static func decimal(_ value: UInt64) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest != 0
            while count > 0 {
                count -= 1
                C.write(buffer[count])
            }
        }
    }

    public static func decimal(_ value: Int) {
        if value < 0 {
            C.write(UInt8(ascii: "-"))
            decimal(UInt64(value.magnitude))
        } else {
            decimal(UInt64(value))
        }
    }

    /// A byte count as "N bytes (K KiB)".
    public static func bytes(_ value: Int) {
        decimal(value)
        text(" bytes")
        if value >= 1024 {
            text(" (")
            decimal(value / 1024)
            text(" KiB)")
        }
    }
}
