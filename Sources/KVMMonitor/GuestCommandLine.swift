// GuestCommandLine: the kernel command line the monitor passes in the boot-info block (written by the
// boot-arguments library, the same writer as the QEMU runner's -append), and the memory sizes its
// options take.

import BootArguments

public enum GuestCommandLine {
    public static func quote(_ word: String) -> String { BootArguments.quote(word) }

    public static func make(kernel: [String], arguments: [String]) -> String {
        BootArguments.commandLine(kernel: kernel, application: arguments)
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
