// Format: how the shell writes times and sizes.

public enum ShellFormat {
    /// A duration as "[Dd ]HH:MM:SS.mmm", e.g. "00:01:02.345", "3d 04:05:06.007".
    public static func duration(nanoseconds: UInt64) -> String {
        let milliseconds = nanoseconds / 1_000_000
        let seconds = milliseconds / 1000, minutes = seconds / 60, hours = minutes / 60, days = hours / 24
        var out: [UInt8] = []
        if days > 0 {
            appendDecimal(days, to: &out)
            out += [UInt8(ascii: "d"), UInt8(ascii: " ")]
        }
        appendPadded(hours % 24, 2, &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(minutes % 60, 2, &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(seconds % 60, 2, &out)
        out.append(UInt8(ascii: "."))
        appendPadded(milliseconds % 1000, 3, &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Unix seconds as "YYYY-MM-DD HH:MM:SS UTC" (the proleptic Gregorian calendar; H. Hinnant's
    /// civil-from-days algorithm, the inverse of the clock's `CivilTime.unixSeconds`).
    public static func utc(unixSeconds: Int64) -> String {
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let secondOfDay = unixSeconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var out: [UInt8] = []
        appendDecimal(Int(year), to: &out)
        for (separator, value) in [(UInt8(ascii: "-"), month), (UInt8(ascii: "-"), day),
                                   (UInt8(ascii: " "), secondOfDay / 3600), (UInt8(ascii: ":"), secondOfDay / 60 % 60),
                                   (UInt8(ascii: ":"), secondOfDay % 60)] {
            out.append(separator)
            appendPadded(UInt64(value), 2, &out)
        }
        out += Array(" UTC".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// A byte count as "N bytes", with "(K KiB)" or "(M MiB)" from 1 KiB on, e.g. "2048 bytes (2 KiB)".
    public static func bytes(_ value: Int) -> String {
        var out: [UInt8] = []
        appendDecimal(value, to: &out)
        out += Array(" bytes".utf8)
        if value >= 1024 * 1024 {
            out += Array(" (".utf8)
            appendDecimal(value / (1024 * 1024), to: &out)
            out += Array(" MiB)".utf8)
        } else if value >= 1024 {
            out += Array(" (".utf8)
            appendDecimal(value / 1024, to: &out)
            out += Array(" KiB)".utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `value` in hexadecimal with "0x" and at least `digits` digits.
    public static func hex(_ value: UInt64, digits: Int = 2) -> String {
        var out: [UInt8] = []
        var rest = value
        repeat {
            let nibble = UInt8(rest & 0xF)
            out.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
            rest >>= 4
        } while rest != 0
        while out.count < digits { out.append(UInt8(ascii: "0")) }
        out += [UInt8(ascii: "x"), UInt8(ascii: "0")]
        out.reverse()
        return String(decoding: out, as: UTF8.self)
    }

    /// A decimal number of at most 18 digits ("42"), nil for anything else (signs, spaces, "").
    public static func decimal(_ text: String) -> Int? {
        var value = 0, digits = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"), digits < 18 else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    static func appendPadded(_ value: UInt64, _ width: Int, _ out: inout [UInt8]) {
        var digits: [UInt8] = []
        appendDecimal(value, to: &digits)
        for _ in digits.count..<max(width, digits.count) { out.append(UInt8(ascii: "0")) }
        out += digits
    }
}
