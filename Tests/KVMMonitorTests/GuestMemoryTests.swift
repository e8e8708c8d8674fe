// Tests of the guest-address checks (GuestRange.check, GuestMemory) and of the hypercall ABI layout.

import HypercallABI
import Testing
@testable import KVMMonitor

/// The problem `GuestRange.check` finds, or nil when it accepts the range.
private func rangeProblem(_ address: UInt64, _ length: UInt64, alignment: UInt64 = 1, limit: UInt64 = 0x1_0000)
    -> GuestAddressProblem? {
    do { try GuestRange.check(address: address, length: length, alignment: alignment, limit: limit); return nil }
    catch { return error }
}

/// Runs `body` with a GuestMemory of `size` bytes backed by a host allocation filled with `fill`.
private func withHostMemory<R>(size: Int = 0x1_0000, fill: UInt8 = 0xAA, _ body: (GuestMemory) throws -> R) rethrows -> R {
    let base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    defer { base.deallocate() }
    base.initializeMemory(as: UInt8.self, repeating: fill, count: size)
    return try body(GuestMemory(base: base, size: UInt64(size)))
}

/// Guest-address checks and the ABI layout.
@Suite struct GuestMemoryTests {
    // MARK: - GuestRange.check

    @Test func rangeInsideMemoryIsAccepted() {
        #expect(rangeProblem(0x1000, 0x100) == nil)
        #expect(rangeProblem(0, 0x1_0000) == nil)   // all of memory
    }

    @Test func rangeEndingExactlyAtTheEndIsAccepted() {
        #expect(rangeProblem(0xFF00, 0x100) == nil)
    }

    @Test func rangeOneBytePastTheEndIsRefused() {
        #expect(rangeProblem(0xFF00, 0x101) == .outOfRange(address: 0xFF00, length: 0x101, memorySize: 0x1_0000))
        #expect(rangeProblem(0x1_0000, 1) == .outOfRange(address: 0x1_0000, length: 1, memorySize: 0x1_0000))
    }

    @Test func zeroLengthRangeMustStartInsideMemoryOrAtItsEnd() {
        #expect(rangeProblem(0x1_0000, 0) == nil)
        #expect(rangeProblem(0, 0) == nil)
        #expect(rangeProblem(0x1_0001, 0) == .outOfRange(address: 0x1_0001, length: 0, memorySize: 0x1_0000))
        #expect(rangeProblem(.max, 0) == .outOfRange(address: .max, length: 0, memorySize: 0x1_0000))
    }

    @Test func rangeWrappingAroundTheAddressSpaceIsRefusedAsWraps() {
        let problem = rangeProblem(0xFFFF_FFFF_FFFF_FFF0, 0x20)
        #expect(problem == .wraps(address: 0xFFFF_FFFF_FFFF_FFF0, length: 0x20))
        #expect(problem?.description == "0xfffffffffffffff0 + 32 bytes wraps around the address space")
        // Wrapping must be caught even when the wrapped end would be inside memory.
        #expect(rangeProblem(0x8000, .max - 0x10) == .wraps(address: 0x8000, length: .max - 0x10))
    }

    @Test func maximumLengthIsRefused() {
        #expect(rangeProblem(0, .max) == .outOfRange(address: 0, length: .max, memorySize: 0x1_0000))
        #expect(rangeProblem(1, .max) == .wraps(address: 1, length: .max))
        #expect(rangeProblem(0, .max, limit: .max) == nil)   // only a 2^64-byte memory could hold it
    }

    @Test func misalignedRangeIsRefusedWhenAlignmentIsAsked() {
        #expect(rangeProblem(0x1004, 8, alignment: 8) == .misaligned(address: 0x1004, alignment: 8))
        #expect(rangeProblem(0x1008, 8, alignment: 8) == nil)
        #expect(rangeProblem(0x1004, 8) == nil)
    }

    // MARK: - GuestMemory

    @Test func bytesReturnsTheHostBytesBehindACheckedRange() throws {
        try withHostMemory { memory in
            let bytes = try memory.bytes(at: 0x2000, length: 0x10)
            #expect(bytes.baseAddress == memory.base + 0x2000)
            #expect(bytes.count == 0x10)
            #expect(throws: GuestAddressProblem.outOfRange(address: 0xFFF8, length: 0x10, memorySize: 0x1_0000)) {
                try memory.bytes(at: 0xFFF8, length: 0x10)
            }
        }
    }

    @Test func misalignedStructAddressIsRefusedByLoadAndStore() {
        withHostMemory { memory in
            #expect(throws: GuestAddressProblem.misaligned(address: 0x1004, alignment: 8)) {
                try memory.load(NetReadArguments.self, at: 0x1004)
            }
            #expect(throws: GuestAddressProblem.misaligned(address: 0x1001, alignment: 8)) {
                try memory.store(HaltArguments(), at: 0x1001)
            }
            #expect(throws: GuestAddressProblem.misaligned(address: 0x1004, alignment: 8)) {
                try memory.storeWord(1, at: 0x1004)
            }
        }
    }

    @Test func structStraddlingTheEndOfMemoryIsRefused() {
        withHostMemory { memory in
            #expect(throws: GuestAddressProblem.outOfRange(address: 0xFFF0, length: 40, memorySize: 0x1_0000)) {
                try memory.load(NetReadArguments.self, at: 0xFFF0)
            }
            #expect(throws: GuestAddressProblem.wraps(address: .max - 7, length: 40)) {
                try memory.store(NetReadArguments(), at: .max - 7)
            }
        }
    }

    @Test func abiStructRoundTripsThroughGuestMemoryAsLittleEndianWords() throws {
        try withHostMemory { memory in
            var arguments = NetReadArguments()
            arguments.data = 0x12_3000
            arguments.capacity = 1514
            arguments.length = 60
            arguments.result = HypercallResult.again
            try memory.store(arguments, at: 0x4000)

            let raw = try memory.bytes(at: 0x4000, length: 40)
            #expect((0 ..< 5).map { raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self) } == [0x12_3000, 1514, 60, 1, 0])
            #expect(raw[0] == 0x00 && raw[1] == 0x30 && raw[2] == 0x12)   // little-endian
            #expect(try memory.bytes(at: 0x4028, length: 1)[0] == 0xAA)     // nothing written past the struct

            let back = try memory.load(NetReadArguments.self, at: 0x4000)
            #expect(back.data == 0x12_3000 && back.capacity == 1514 && back.length == 60 && back.result == HypercallResult.again)
        }
    }

    @Test func storeWordWritesOneLittleEndianWord() throws {
        try withHostMemory { memory in
            try memory.storeWord(0x0102_0304_0506_0708, at: 0xFFF8)   // the last word of memory
            #expect(Array(try memory.bytes(at: 0xFFF8, length: 8)) == [8, 7, 6, 5, 4, 3, 2, 1])
        }
    }

    @Test func writeCopiesHostBytesAndRefusesRangesPastTheEnd() throws {
        try withHostMemory { memory in
            let source: [UInt8] = [1, 2, 3, 4]
            try source.withUnsafeBytes { bytes in try memory.write(bytes, at: 0xFFFC) }
            #expect(Array(try memory.bytes(at: 0xFFFC, length: 4)) == source)
            #expect(throws: GuestAddressProblem.outOfRange(address: 0xFFFD, length: 4, memorySize: 0x1_0000)) {
                try source.withUnsafeBytes { bytes in try memory.write(bytes, at: 0xFFFD) }
            }
            #expect(Array(try memory.bytes(at: 0xFFFC, length: 4)) == source)   // untouched by the refused write
        }
    }

    // MARK: - The ABI layout shared by guest and monitor

    /// Checks that `T` is `fields` UInt64 words, in this order, at offset 8 × position, and nothing else.
    private func expectABILayout<T>(_ value: T, _ fields: [(String, PartialKeyPath<T>)],
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(MemoryLayout<T>.size == 8 * fields.count, "\(T.self) size", sourceLocation: sourceLocation)
        #expect(MemoryLayout<T>.stride == 8 * fields.count, "\(T.self) stride", sourceLocation: sourceLocation)
        #expect(MemoryLayout<T>.alignment == 8, "\(T.self) alignment", sourceLocation: sourceLocation)
        let stored = Mirror(reflecting: value).children.map { $0.label ?? "?" }
        #expect(stored == fields.map(\.0), "\(T.self) stored properties", sourceLocation: sourceLocation)
        for (position, (name, keyPath)) in fields.enumerated() {
            #expect(MemoryLayout<T>.offset(of: keyPath) == 8 * position, "\(T.self).\(name) offset", sourceLocation: sourceLocation)
            #expect(type(of: value[keyPath: keyPath]) == UInt64.self, "\(T.self).\(name) type", sourceLocation: sourceLocation)
        }
    }

    @Test func everyABIStructIsUInt64FieldsAtEightTimesTheirPosition() {
        expectABILayout(BootInfo(), [
            ("magic", \.magic), ("version", \.version), ("memorySize", \.memorySize), ("kernelEnd", \.kernelEnd),
            ("tscFrequency", \.tscFrequency), ("commandLine", \.commandLine), ("commandLineLength", \.commandLineLength),
            ("netMTU", \.netMTU), ("netMAC", \.netMAC), ("blockSectorCount", \.blockSectorCount),
            ("blockSectorSize", \.blockSectorSize), ("monitorStartNanoseconds", \.monitorStartNanoseconds),
        ])
        expectABILayout(ConsoleWriteArguments(), [("data", \.data), ("length", \.length)])
        expectABILayout(WallTimeArguments(), [("nanoseconds", \.nanoseconds)])
        expectABILayout(PollArguments(), [("timeout", \.timeout), ("ready", \.ready)])
        expectABILayout(NetWriteArguments(), [("data", \.data), ("length", \.length), ("result", \.result)])
        expectABILayout(NetReadArguments(), [("data", \.data), ("capacity", \.capacity), ("length", \.length), ("result", \.result), ("more", \.more)])
        expectABILayout(BlockArguments(), [("sector", \.sector), ("count", \.count), ("data", \.data), ("result", \.result)])
        expectABILayout(HaltArguments(), [("exitCode", \.exitCode)])
    }

    @Test func abiConstantsHaveTheirDocumentedValues() {
        #expect(HypercallABI.version == 1)
        withUnsafeBytes(of: HypercallABI.bootInfoMagic.littleEndian) { #expect(Array($0) == Array("TESSERA1".utf8)) }
        #expect(Hypercall.allCases.map(\.rawValue) == Array(0 ..< 8))
        #expect(HypercallABI.kernelBase == 0x10_0000)
        #expect(HypercallABI.bootInfoAddress + UInt64(MemoryLayout<BootInfo>.size) <= HypercallABI.commandLineAddress)
        #expect(HypercallABI.commandLineAddress + HypercallABI.commandLineCapacity <= HypercallABI.pageTablesAddress)
        #expect(HypercallABI.pageTablesAddress < HypercallABI.kernelBase)
    }
}
