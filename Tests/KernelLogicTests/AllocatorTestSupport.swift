// Shared machinery for the allocator tests: a seeded PRNG, host buffers standing in for guest memory,
// and a model that checks every allocation an allocator hands out.
//
// The model (`CheckedAllocator`) wraps any `Allocator` and, on every call, verifies what the API
// promises: a returned pointer is aligned, lies inside one of the regions given to the allocator, and
// overlaps no live allocation; every allocation keeps the pattern written into it until it is freed;
// and the statistics equal the figures the model computes itself (in use, peak, live, total, failed).
// A size-0 allocation is treated as owning one byte, so that two of them may not share an address.

import Testing
import AllocatorAPI

/// SplitMix64 (Steele, Lea, Flood): small, fast, and the same sequence on every run and platform.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Page-aligned host memory standing in for guest RAM. Release it explicitly (use `defer`).
struct HostBuffer {
    let pointer: UnsafeMutableRawPointer
    let size: Int

    init(size: Int) {
        self.size = size
        pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    }

    var address: UInt { UInt(bitPattern: pointer) }
    var end: UInt { address + UInt(size) }

    func release() { pointer.deallocate() }
}

/// One live allocation as the model remembers it.
struct LiveAllocation {
    let address: UInt
    let size: Int
    let seed: UInt8

    /// The bytes the allocation owns for overlap checks (size 0 owns its address).
    var end: UInt { address + UInt(max(size, 1)) }
}

func fillPattern(_ address: UInt, size: Int, seed: UInt8) {
    let bytes = UnsafeMutablePointer<UInt8>(bitPattern: address)!
    for index in 0..<size { bytes[index] = seed &+ UInt8(truncatingIfNeeded: index &* 7) }
}

func patternIntact(_ address: UInt, size: Int, seed: UInt8) -> Bool {
    let bytes = UnsafeMutablePointer<UInt8>(bitPattern: address)!
    for index in 0..<size where bytes[index] != seed &+ UInt8(truncatingIfNeeded: index &* 7) { return false }
    return true
}

/// An allocator under test plus the model of what it must have done.
struct CheckedAllocator<A: Allocator> {
    var allocator = A()
    var regions: [(start: UInt, end: UInt)] = []
    var live: [LiveAllocation] = []
    var expected = AllocatorStatistics()
    var nextSeed: UInt8 = 1

    @discardableResult
    mutating func addRegion(_ buffer: HostBuffer, offset: Int = 0, size: Int? = nil) -> Bool {
        let bytes = size ?? buffer.size - offset
        let added = allocator.addRegion(buffer.pointer + offset, size: bytes)
        guard added else { return false }
        expected.managedBytes += bytes
        let start = buffer.address + UInt(offset)
        if let index = regions.firstIndex(where: { $0.end == start }) {
            regions[index].end += UInt(bytes)   // the allocator may merge adjacent regions as well
        } else {
            regions.append((start, start + UInt(bytes)))
        }
        return true
    }

    /// Allocates through the allocator and checks the result; returns the address.
    @discardableResult
    mutating func allocate(size: Int, alignment: Int = 8) -> UInt? {
        guard let pointer = allocator.allocate(size: size, alignment: alignment) else {
            expected.failedAllocations += 1
            checkStatistics()
            return nil
        }
        let address = UInt(bitPattern: pointer)
        let allocation = LiveAllocation(address: address, size: size, seed: nextSeed)
        nextSeed = nextSeed &+ 37
        #expect(address % UInt(alignment) == 0, "misaligned: \(address) for alignment \(alignment)")
        #expect(regions.contains { address >= $0.start && address + UInt(size) <= $0.end },
                "allocation of \(size) at \(address) outside every region")
        if let clash = live.first(where: { $0.address < allocation.end && allocation.address < $0.end }) {
            Issue.record("allocation [\(address), +\(size)) overlaps [\(clash.address), +\(clash.size))")
        }
        fillPattern(address, size: size, seed: allocation.seed)
        live.append(allocation)
        expected.inUseBytes += size
        expected.peakInUseBytes = max(expected.peakInUseBytes, expected.inUseBytes)
        expected.liveAllocations += 1
        expected.totalAllocations += 1
        checkStatistics()
        return address
    }

    /// Frees the live allocation at `index` after checking its contents survived.
    mutating func free(at index: Int) {
        let allocation = live.remove(at: index)
        #expect(patternIntact(allocation.address, size: allocation.size, seed: allocation.seed),
                "contents of [\(allocation.address), +\(allocation.size)) changed while live")
        allocator.free(UnsafeMutableRawPointer(bitPattern: allocation.address))
        expected.inUseBytes -= allocation.size
        expected.liveAllocations -= 1
        checkStatistics()
    }

    mutating func freeAll<G: RandomNumberGenerator>(using generator: inout G) {
        while !live.isEmpty { free(at: Int.random(in: 0..<live.count, using: &generator)) }
    }

    /// Compares everything but `freeBytes`, which depends on each allocator's overheads.
    func checkStatistics() {
        var actual = allocator.statistics
        actual.freeBytes = 0
        #expect(actual == expected)
    }

    /// Thousands of random allocations and frees: mostly small sizes, some pages, a few large ones,
    /// alignments 1 ... 4096, size 0 now and then; frees of random live allocations. Calls `check`
    /// after every operation.
    mutating func churn<G: RandomNumberGenerator>(operations: Int, largest: Int, using generator: inout G,
                                                  check: (A) -> Void = { _ in }) {
        for _ in 0..<operations {
            if !live.isEmpty && Int.random(in: 0..<100, using: &generator) < 45 {
                free(at: Int.random(in: 0..<live.count, using: &generator))
            } else {
                let kind = Int.random(in: 0..<100, using: &generator)
                let size = kind < 5 ? 0 : kind < 75 ? Int.random(in: 1...256, using: &generator)
                    : kind < 95 ? Int.random(in: 257...4096, using: &generator)
                    : Int.random(in: 4097...largest, using: &generator)
                let alignment = 1 << (Int.random(in: 0..<100, using: &generator) < 70
                    ? Int.random(in: 0...4, using: &generator) : Int.random(in: 5...12, using: &generator))
                allocate(size: size, alignment: alignment)
            }
            check(allocator)
        }
    }
}

/// `try #require(value)` for a value produced by a mutating call, which the macro cannot capture.
func unwrap<T>(_ value: T?, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    try #require(value, sourceLocation: sourceLocation)
}
