// Image tests: real images, booted under QEMU, judged by console output and exit code.

import Foundation
import Testing
import TesseraKit

extension ImageSuite {
    @Suite
    struct BootTests {
        @Test func helloPrintsGreetingAndArgumentsAndExitsWithFirstArgument() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("hello")),
                                             arguments: ["7", "two words", "quote\"d"])
            #expect(boot.result.guestExitCode == 7)
            #expect(boot.result.exitCode == 7)
            #expect(boot.lines.contains("Hello from Tessera!"))
            #expect(boot.lines.contains("arguments: 3"))
            #expect(boot.lines.contains("  [1] two words"))
            #expect(boot.lines.contains("  [2] quote\"d"))
        }

        @Test func helloWithoutArgumentsExitsZero() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("hello")))
            #expect(boot.result.guestExitCode == 0)
            #expect(boot.lines.contains("arguments: 0"))
        }

        @Test(arguments: [Machine.pc, Machine.q35])
        func helloBootsOnOtherMachines(machine: Machine) throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("hello")),
                                             arguments: ["5"], machine: machine, memory: 8 << 20)
            #expect(boot.result.guestExitCode == 5)
            #expect(boot.lines.contains("Hello from Tessera!"))
        }

        @Test func exitCodesAbove127ArriveIntact() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("hello")), arguments: ["200"])
            #expect(boot.result.exitCode == 200)
        }

        @Test func bootStatsReportEntryToMainInCycles() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("hello")),
                                             kernelParameters: ["tessera.bootstats"])
            #expect(boot.lines.contains { $0.hasPrefix("tessera: boot: entry to main ") && $0.contains(" cycles") })
            #expect(boot.result.guestExitCode == 0)
        }

        @Test func nullWriteCrashReportNamesFaultRegistersAndSymbolizedFrames() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("crash")))
            #expect(boot.result.exitCode == 139)
            #expect(boot.lines.contains("tessera: crash: page fault (#PF), vector 14, error code 0x0002 (not present, write)"))
            #expect(boot.output.contains("cr2 0x0000000000000008"))
            #expect(boot.output.contains("rip 0x"))
            #expect(boot.output.contains("r15 0x"))
            #expect(boot.lines.contains { $0.hasPrefix("  #0 0x") && $0.contains("writeThroughNull") })
            #expect(boot.lines.contains { $0.hasPrefix("  #1 0x") && $0.contains("Crash.main") })
        }

        @Test func swiftRuntimeTrapIsReportedAsInvalidOpcode() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.example("crash")), arguments: ["trap"])
            #expect(boot.result.exitCode == 139)
            #expect(boot.output.contains("tessera: crash: invalid opcode (#UD), vector 6"))
            #expect(boot.output.contains("a Swift runtime trap"))
        }

        @Test func outOfMemoryPanicsWithFiguresAndExit134() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("oom")))
            #expect(boot.result.exitCode == 134)
            #expect(boot.output.contains("tessera: panic: out of memory: cannot allocate"))
            #expect(boot.output.contains("heap (tlsf): in use"))
            #expect(boot.output.contains("pages: "))
        }

        @Test func tlsfHeapSurvivesRandomAllocationsInTheGuest() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("stress")))
            #expect(boot.result.exitCode == 0)
            #expect(boot.lines.contains { $0.hasPrefix("stress ok: ") })
        }

        @Test func memoryBelowTheImageIsRefusedBeforeBoot() throws {
            let product = try ImageHarness.build(ImageHarness.example("hello"))
            #expect(throws: ToolError.self) { try ImageHarness.boot(product, memory: 1 << 20) }
        }
    }
}
