// TimeScale and CivilTime: the pure arithmetic of the clock library (host-tested).
//
// TimeScale converts TSC ticks to nanoseconds with one 64x64->128-bit multiply and a shift:
// ns = (ticks * multiplier) >> 32, multiplier = 10^9 * 2^32 / frequency. It stays exact for any
// uptime (the product is 128-bit) and costs a few cycles, which matters on the timer path.
// CivilTime turns the RTC's calendar fields into seconds since the Unix epoch (the proleptic
// Gregorian "days from civil" algorithm), with no tables and no time zones (the RTC keeps UTC).

public struct TimeScale: Equatable {
    public let frequency: UInt64
    let multiplier: UInt64        // ns per tick, as a 32.32 fixed-point number
    let inverse: UInt64           // ticks per ns, as a 32.32 fixed-point number

    public init(frequency: UInt64) {
        precondition(frequency >= 1_000_000, "clock frequency below 1 MHz")
        self.frequency = frequency
        multiplier = UInt64((UInt64(1_000_000_000) << 32) / frequency)
        inverse = (frequency << 32) / 1_000_000_000
    }

    /// Nanoseconds in `ticks`.
    public func nanoseconds(_ ticks: UInt64) -> UInt64 {
        let (high, low) = ticks.multipliedFullWidth(by: multiplier)
        return (high << 32) | (low >> 32)
    }

    /// Ticks in `nanoseconds` (saturating).
    public func ticks(_ nanoseconds: UInt64) -> UInt64 {
        let (high, low) = nanoseconds.multipliedFullWidth(by: inverse)
        guard high >> 32 == 0 else { return .max }
        return (high << 32) | (low >> 32)
    }
}

public enum CivilTime {
    /// Seconds since 1970-01-01T00:00:00Z for a UTC date and time.
    public static func unixSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + Int64(hour) * 3_600 + Int64(minute) * 60 + Int64(second)
    }

    /// A BCD byte (as the RTC stores by default) as a number.
    public static func fromBCD(_ value: UInt8) -> Int { Int(value >> 4) * 10 + Int(value & 0x0F) }
}
