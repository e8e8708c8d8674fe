// Tests of the guest's CPUID list (GuestCPUID, with a fake host), of the memory sizes the monitor takes
// (MemorySize) and of its crash-report backtrace.

import HypercallABI
import Testing
@testable import KVMMonitor

// MARK: - CPUID

/// A host CPUID: "GenuineIntel", every feature bit set in leaf 1 and 0x80000001, APIC ID 0x2A.
private func fakeHost(maxExtended: UInt32 = 0x8000_0008, leaf1ECX: UInt32 = 0xFFFF_FFFF)
    -> (UInt32) -> (UInt32, UInt32, UInt32, UInt32) {
    { leaf in
        switch leaf {
        case 0: return (0x16, 0x756E_6547, 0x6C65_746E, 0x4965_6E69)          // "Genu" "ntel" "ineI"
        case 1: return (0x0009_06EA, 0x2A10_0800, leaf1ECX, 0xFFFF_FFFF)       // APIC ID 0x2A, 16 logical CPUs
        case 0x8000_0000: return (maxExtended, 0, 0, 0)
        case 0x8000_0001: return (0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF)
        default: return (0xBAD, 0xBAD, 0xBAD, 0xBAD)
        }
    }
}

private func leaf(_ number: UInt32, in entries: [CPUIDEntry]) throws -> CPUIDEntry {
    try #require(entries.first { $0.leaf == number }, "no leaf \(String(number, radix: 16))")
}

private func ascii(_ words: UInt32...) -> String {
    String(decoding: words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }, as: UTF8.self)
}

private func bit(_ n: UInt32) -> UInt32 { 1 << n }

@Suite struct GuestCPUIDTests {
    @Test func leaf0ReportsMaxBasicLeaf1AndTheHostVendor() throws {
        let zero = try leaf(0, in: GuestCPUID.entries(tscKilohertz: 1, host: fakeHost()))
        #expect(zero.eax == 1)
        #expect(ascii(zero.ebx, zero.edx, zero.ecx) == "GenuineIntel")
    }

    @Test func leaf1MasksFeaturesTheGuestMustNotSee() throws {
        let one = try leaf(1, in: GuestCPUID.entries(tscKilohertz: 1, host: fakeHost()))
        for (n, name) in [(UInt32(5), "VMX"), (3, "MONITOR"), (12, "FMA"), (21, "x2APIC"), (24, "TSC-deadline"),
                          (26, "XSAVE"), (27, "OSXSAVE"), (28, "AVX"), (29, "F16C")] {
            #expect(one.ecx & bit(n) == 0, "ecx bit \(n) (\(name)) is visible")
        }
        for (n, name) in [(UInt32(9), "APIC"), (12, "MTRR"), (28, "HTT")] {
            #expect(one.edx & bit(n) == 0, "edx bit \(n) (\(name)) is visible")
        }
    }

    @Test func leaf1KeepsTheBaselineFeaturesAndSetsTheHypervisorBit() throws {
        let one = try leaf(1, in: GuestCPUID.entries(tscKilohertz: 1, host: fakeHost()))
        for (n, name) in [(UInt32(0), "SSE3"), (1, "PCLMUL"), (9, "SSSE3"), (13, "CX16"), (19, "SSE4.1"),
                          (20, "SSE4.2"), (23, "POPCNT"), (25, "AES"), (30, "RDRAND"), (31, "hypervisor")] {
            #expect(one.ecx & bit(n) != 0, "ecx bit \(n) (\(name)) is missing")
        }
        for (n, name) in [(UInt32(0), "FPU"), (4, "TSC"), (8, "CX8"), (15, "CMOV"), (23, "MMX"), (24, "FXSR"),
                          (25, "SSE"), (26, "SSE2")] {
            #expect(one.edx & bit(n) != 0, "edx bit \(n) (\(name)) is missing")
        }
        #expect(one.eax == 0x0009_06EA)     // family, model, stepping: the host's
    }

    @Test func leaf1PassesOnlyFeaturesTheHostHas() throws {
        // A host without RDRAND, SSE4.2 or AES: the guest does not see them either; the hypervisor bit is set anyway.
        let host = fakeHost(leaf1ECX: 0xFFFF_FFFF & ~(bit(30) | bit(20) | bit(25) | bit(31)))
        let one = try leaf(1, in: GuestCPUID.entries(tscKilohertz: 1, host: host))
        #expect(one.ecx & (bit(30) | bit(20) | bit(25)) == 0)
        #expect(one.ecx & bit(31) != 0)
        #expect(one.ecx & bit(19) != 0)
    }

    @Test func leaf1ClearsTheAPICID() throws {
        let one = try leaf(1, in: GuestCPUID.entries(tscKilohertz: 1, host: fakeHost()))
        #expect(one.ebx >> 24 == 0)
        #expect(one.ebx & 0xFFFF == 0x0800)      // brand index and CLFLUSH size kept
    }

    @Test func hypervisorLeavesCarryTheSignatureAndTheTSCFrequency() throws {
        let entries = GuestCPUID.entries(tscKilohertz: 2_918_400, host: fakeHost())
        let signature = try leaf(0x4000_0000, in: entries)
        #expect(signature.eax == 0x4000_0010)
        #expect(ascii(signature.ebx, signature.ecx, signature.edx) == "TesseraKVM\0\0")
        let timing = try leaf(0x4000_0010, in: entries)
        #expect(timing.eax == 2_918_400)
        #expect(timing.ebx == 0)
    }

    @Test func extendedLeavesKeepLongModeNXAndRDTSCPOnly() throws {
        let entries = GuestCPUID.entries(tscKilohertz: 1, host: fakeHost())
        #expect(try leaf(0x8000_0000, in: entries).eax == 0x8000_0001)
        let extended = try leaf(0x8000_0001, in: entries)
        #expect(extended.edx == bit(11) | bit(20) | bit(26) | bit(27) | bit(29))
        #expect(extended.ecx == 1)      // LAHF/SAHF only
    }

    @Test func aHostWithoutExtendedLeavesGivesEmptyExtendedFeatures() throws {
        let extended = try leaf(0x8000_0001, in: GuestCPUID.entries(tscKilohertz: 1, host: fakeHost(maxExtended: 0x8000_0000)))
        #expect(extended.ecx == 0 && extended.edx == 0)
    }

    @Test func theListHasEachLeafOnceAndNoOtherLeaves() {
        let leaves = GuestCPUID.entries(tscKilohertz: 1, host: fakeHost()).map(\.leaf)
        #expect(leaves == [0, 1, 0x4000_0000, 0x4000_0010, 0x8000_0000, 0x8000_0001])
    }
}

// MARK: - Command line and sizes

@Suite struct MemorySizeTests {
    static let sizes: [(String, UInt64)] = [
        ("2M", 2 * 1_048_576), ("512K", 512 * 1024), ("1G", 1_073_741_824), ("4096", 4096),
        ("2m", 2 * 1_048_576), ("512k", 512 * 1024), ("1g", 1_073_741_824), ("4G", 4 * 1_073_741_824), ("1", 1),
        ("16777215G", 16_777_215 * 1_073_741_824),
    ]

    @Test(arguments: sizes)
    func parseSizeAcceptsNumbersAndUnits(text: String, bytes: UInt64) {
        #expect(MemorySize.parse(text) == bytes)
    }

    @Test(arguments: ["0", "0M", "", "M", "k", "-1", "-2M", "12X", "2MB", "2 M", " 2M", "0x100", "1.5G",
                      "99999999999999999999G", "17179869184G", "18446744073709551616", "18014398509481984K"])
    func parseSizeRefusesMalformedZeroAndOverflowingSizes(text: String) {
        #expect(MemorySize.parse(text) == nil)
    }
}

@Suite struct CrashBacktraceTests {
    /// Guest RAM of 64 KiB with a frame chain written into it: frame at `a` holds [saved rbp, return].
    func memory(frames: [(at: UInt64, saved: UInt64, returnAddress: UInt64)]) -> GuestMemory {
        let base = UnsafeMutableRawPointer.allocate(byteCount: 0x10000, alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: 0x10000)
        let memory = GuestMemory(base: base, size: 0x10000)
        for frame in frames {
            try! memory.storeWord(frame.saved, at: frame.at)
            try! memory.storeWord(frame.returnAddress, at: frame.at + 8)
        }
        return memory
    }

    @Test func theFramePointerChainGivesTheCallersReturnAddresses() {
        let memory = memory(frames: [(0x8000, 0x8100, 0x10_1234), (0x8100, 0x8200, 0x10_5678), (0x8200, 0, 0x10_9ABC)])
        #expect(Monitor.backtrace(memory, framePointer: 0x8000) == [0x10_1234, 0x10_5678, 0x10_9ABC])
    }

    @Test func aSmashedOrLoopingChainEndsTheWalkNotTheMonitor() {
        // Saved rbp pointing down the stack (a loop), then outside memory, then misaligned.
        #expect(Monitor.backtrace(memory(frames: [(0x8000, 0x7000, 0x10_0001)]), framePointer: 0x8000) == [0x10_0001])
        #expect(Monitor.backtrace(memory(frames: [(0x8000, 0xFFFF_FFFF_FFFF_FFF8, 0x10_0001)]), framePointer: 0x8000) == [0x10_0001])
        #expect(Monitor.backtrace(memory(frames: [(0x8000, 0x8103, 0x10_0001)]), framePointer: 0x8000) == [0x10_0001])
        #expect(Monitor.backtrace(memory(frames: []), framePointer: 0xFFFF_FFFF_FFFF_FFF0).isEmpty)
        #expect(Monitor.backtrace(memory(frames: []), framePointer: 0).isEmpty)
    }

    @Test func theWalkStopsAfter32Frames() {
        var chain: [(at: UInt64, saved: UInt64, returnAddress: UInt64)] = []
        for index in UInt64(0)..<40 {
            chain.append((at: 0x1000 + index * 16, saved: 0x1000 + (index + 1) * 16, returnAddress: 0x10_0000 + index))
        }
        #expect(Monitor.backtrace(memory(frames: chain), framePointer: 0x1000).count == 32)
    }
}
