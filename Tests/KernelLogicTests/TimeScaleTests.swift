// The clock's pure arithmetic: TSC ticks <-> nanoseconds, RTC calendar fields -> Unix time.

import ClockLogic
import Testing

@Suite struct TimeScaleTests {
    @Test func oneSecondOfTicksIsOneBillionNanoseconds() {
        for frequency: UInt64 in [1_000_000, 1_193_182, 2_596_146_000, 3_000_000_000, 4_800_000_000] {
            let scale = TimeScale(frequency: frequency)
            let ns = scale.nanoseconds(frequency)
            #expect(ns >= 999_999_990 && ns <= 1_000_000_000, "frequency \(frequency): \(ns)")
        }
    }

    @Test func conversionStaysExactForAYearOfUptime() {
        let scale = TimeScale(frequency: 2_600_000_000)
        let year: UInt64 = 365 * 24 * 3600
        let ns = scale.nanoseconds(2_600_000_000 * year)
        let expected = year * 1_000_000_000
        #expect(ns <= expected && expected - ns < expected / 1_000_000)   // within 1 ppm
    }

    @Test func ticksAndNanosecondsRoundTrip() {
        let scale = TimeScale(frequency: 2_596_146_000)
        for ns: UInt64 in [0, 1_000, 100_000_000, 10_000_000_000] {
            let back = scale.nanoseconds(scale.ticks(ns))
            #expect(back <= ns && ns - back <= 2)
        }
    }

    @Test func ticksSaturateInsteadOfOverflowing() {
        #expect(TimeScale(frequency: 4_000_000_000).ticks(.max) == .max)
    }

    @Test func unixEpochAndKnownDates() {
        #expect(CivilTime.unixSeconds(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0) == 0)
        #expect(CivilTime.unixSeconds(year: 2000, month: 3, day: 1, hour: 0, minute: 0, second: 0) == 951_868_800)
        #expect(CivilTime.unixSeconds(year: 2024, month: 2, day: 29, hour: 12, minute: 30, second: 15) == 1_709_209_815)
        #expect(CivilTime.unixSeconds(year: 2026, month: 11, day: 26, hour: 17, minute: 0, second: 0) == 1_795_712_400)
    }

    @Test func bcdBytesDecode() {
        #expect(CivilTime.fromBCD(0x59) == 59)
        #expect(CivilTime.fromBCD(0x00) == 0)
        #expect(CivilTime.fromBCD(0x12) == 12)
    }
}
