// GuestCommandLine: the kernel command line the monitor passes in the boot-info block, and the memory
// sizes its options take. Same format as the QEMU runner's -append: kernel parameters, `--`, the app's
// arguments; a word with spaces, tabs, line breaks, quotes or backslashes (or an empty word, or a
// literal `--`) is double-quoted with `"` and `\` escaped — byte-wise, as the guest's parser reads it.

public enum GuestCommandLine {
    public static func quote(_ word: String) -> String {
        let special: [UInt8] = [0x20, 0x09, 0x0A, 0x0D, 0x22, 0x5C]
        let bytes = Array(word.utf8)
        if !bytes.isEmpty && !bytes.contains(where: special.contains) && word != "--" { return word }
        var quoted: [UInt8] = [0x22]
        for byte in bytes {
            if byte == 0x22 || byte == 0x5C { quoted.append(0x5C) }
            quoted.append(byte)
        }
        quoted.append(0x22)
        return String(decoding: quoted, as: UTF8.self)
    }

    public static func make(kernel: [String], arguments: [String]) -> String {
        (kernel.map(quote) + ["--"] + arguments.map(quote)).joined(separator: " ")
    }

    /// "2M", "512K", "1G" or a byte count; nil when malformed or zero.
    public static func parseSize(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var unit: UInt64 = 1
        switch text.last {
        case "K", "k": unit = 1 << 10
        case "M", "m": unit = 1 << 20
        case "G", "g": unit = 1 << 30
        default: break
        }
        if unit > 1 { digits = digits.dropLast() }
        guard let number = UInt64(digits), number > 0 else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }
}
