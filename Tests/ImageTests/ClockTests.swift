// Clock and interrupt image tests: the LAPIC timer wakes a halted CPU on time, and an idle guest costs
// the host almost nothing.

import Foundation
import Testing
import TesseraKit

/// CPU seconds (user + system) used so far by the QEMU process whose command line mentions `image`.
func qemuCPUSeconds(runningImage image: String) -> Double? {
    guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
    for pid in pids where pid.allSatisfy(\.isNumber) {
        guard let commandLine = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
              commandLine.contains("qemu-system"), commandLine.contains(image),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // Fields after "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
    return nil
}

extension ImageSuite {
    @Suite
    struct ClockTests {
        @Test func sleepFor100MillisecondsWakesWithin5Percent() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("sleeper")))
            #expect(boot.result.exitCode == 0)
            let slept = boot.lines.filter { $0.hasPrefix("slept-us: ") }.compactMap { Int($0.dropFirst(10)) }
            #expect(slept.count == 5)
            for microseconds in slept {
                // Never early; late by at most 5 ms (TCG, a shared 2-core host).
                #expect(microseconds >= 100_000 && microseconds <= 105_000, "slept \(microseconds) µs")
            }
            #expect(boot.lines.contains { $0.hasPrefix("timer-interrupts: ") && !$0.hasPrefix("timer-interrupts: 0 ") })
            #expect(boot.lines.contains { $0.hasSuffix("spurious: 0") })
            #expect(boot.lines.contains { $0.hasPrefix("clock: ") && $0.contains(" MHz") })
        }

        @Test func bootStatsReportTheCalibrationMethodAndTimerMode() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("sleeper")),
                                             kernelParameters: ["tessera.bootstats"])
            let line = try #require(boot.lines.first { $0.hasPrefix("tessera: clock: TSC ") })
            #expect(line.contains(" MHz from "))
            #expect(line.contains("timer TSC-deadline") || line.contains("timer one-shot"))
            #expect(line.hasSuffix("xAPIC") || line.hasSuffix("x2APIC"))
        }

        @Test func wallClockComesFromTheRTC() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("sleeper")))
            let wall = try #require(boot.lines.first { $0.hasPrefix("wall: ") }.flatMap { Int($0.dropFirst(6)) })
            let host = Int(Date().timeIntervalSince1970)
            #expect(abs(host - wall) < 120, "guest wall clock \(wall), host \(host)")
        }

        @Test func sleepingGuestUsesUnder5PercentOfAHostCore() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("sleeper"))
            final class Measurement: @unchecked Sendable {
                var cpuSeconds: Double?
                let done = DispatchSemaphore(value: 0)
            }
            let measurement = Measurement()
            let image = product.image.path
            var options = RunOptions(image: product.image, debugImage: nil, machine: .microvm,
                                     memoryBytes: product.resolved.manifest.memory, arguments: ["3000"])
            options.consoleSink = { line in
                guard line.hasPrefix("idle: sleeping") else { return }
                DispatchQueue.global().async {
                    Thread.sleep(forTimeInterval: 0.3)              // past the sleep's first instructions
                    let before = qemuCPUSeconds(runningImage: image)
                    Thread.sleep(forTimeInterval: 1.5)
                    let after = qemuCPUSeconds(runningImage: image)
                    if let before, let after { measurement.cpuSeconds = after - before }
                    measurement.done.signal()
                }
            }
            let result = try QEMURunner.run(options) { _ in }
            #expect(result.exitCode == 0)
            measurement.done.wait()
            let used = try #require(measurement.cpuSeconds)
            #expect(used / 1.5 < 0.05, "QEMU used \(used) s of CPU in 1.5 s of guest sleep")
        }
    }
}
