// MemorySize: the sizes `tessera-kvm -m` takes.

public enum MemorySize {
    /// "2M", "512K", "1G" or a byte count; nil when malformed or zero.
    public static func parse(_ text: String) -> UInt64? {
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
