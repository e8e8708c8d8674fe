// Tests of the TLSF allocator: a long random run against the model with a full heap check after every
// operation, exact figures, coalescing back to one maximal block, alignment, size 0, exhaustion,
// several regions and requests that can never be met.

import Testing
import AllocatorAPI
import AllocTLSF

/// Fails the test with the allocator's own description of a broken invariant.
func expectConsistent(_ heap: TLSFAllocator, sourceLocation: SourceLocation = #_sourceLocation) {
    if let problem = heap.heapProblem() {
        Issue.record("heap inconsistent: \(problem)", sourceLocation: sourceLocation)
    }
}

@Suite struct TLSFAllocatorTests {
    static var control: Int { Int(TLSFAllocator.controlBytes) }

    @Test func nameIsTLSF() {
        #expect("\(TLSFAllocator.name)" == "tlsf")
    }

    @Test func randomAllocateAndFreeKeepsAllocationsInsideRegionsDisjointIntactAndHeapConsistent() {
        let buffers = [HostBuffer(size: 512 << 10), HostBuffer(size: 128 << 10)]
        defer { buffers.forEach { $0.release() } }
        var heap = CheckedAllocator<TLSFAllocator>()
        #expect(heap.addRegion(buffers[0]) == true)
        #expect(heap.addRegion(buffers[1], offset: 12, size: (128 << 10) - 20) == true)
        var random = SplitMix64(seed: 0x7157_0001)
        heap.churn(operations: 6000, largest: 64 << 10, using: &random) { expectConsistent($0) }
        heap.freeAll(using: &random)
        expectConsistent(heap.allocator)
    }

    @Test func statisticsAreExactForASimpleSequence() throws {
        let buffer = HostBuffer(size: 64 << 10)
        defer { buffer.release() }
        var heap = TLSFAllocator()
        #expect(heap.addRegion(buffer.pointer, size: 64 << 10) == true)
        // The control area, then one free block: the pool minus the first and the sentinel size words.
        let initialFree = (64 << 10) - Self.control - 16
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 64 << 10, freeBytes: initialFree))

        // 100 bytes round up to 104, plus an 8-byte header taken from the free block.
        let a = try unwrap(heap.allocate(size: 100, alignment: 8))
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 64 << 10, inUseBytes: 100, peakInUseBytes: 100,
                                                       freeBytes: initialFree - 112, liveAllocations: 1,
                                                       totalAllocations: 1))
        // 1 byte takes the minimum block, 24 bytes, plus its header.
        let b = try unwrap(heap.allocate(size: 1, alignment: 1))
        #expect(UInt(bitPattern: b) == UInt(bitPattern: a) + 112)
        #expect(heap.statistics.freeBytes == initialFree - 144)
        #expect(heap.statistics.inUseBytes == 101)
        #expect(heap.allocate(size: 1 << 20, alignment: 8) == nil)

        heap.free(a)   // its neighbours are the region start and b: no merge
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 64 << 10, inUseBytes: 1, peakInUseBytes: 101,
                                                       freeBytes: initialFree - 40, liveAllocations: 1,
                                                       totalAllocations: 2, failedAllocations: 1))
        heap.free(b)   // merges with both neighbours: one block again
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 64 << 10, inUseBytes: 0, peakInUseBytes: 101,
                                                       freeBytes: initialFree, liveAllocations: 0,
                                                       totalAllocations: 2, failedAllocations: 1))
        heap.free(nil)
        expectConsistent(heap)
    }

    @Test func coalescingRestoresOneMaximalBlockAfterFreeingEverything() throws {
        let buffer = HostBuffer(size: 256 << 10)
        defer { buffer.release() }
        var heap = CheckedAllocator<TLSFAllocator>()
        heap.addRegion(buffer)
        let maximal = heap.allocator.statistics.freeBytes
        #expect(heap.allocate(size: maximal) != nil)
        heap.free(at: 0)

        var random = SplitMix64(seed: 0x7157_0002)
        for _ in 0..<3 {
            heap.churn(operations: 1500, largest: 32 << 10, using: &random)
            heap.freeAll(using: &random)
            expectConsistent(heap.allocator)
            #expect(heap.allocator.statistics.freeBytes == maximal)
            #expect(heap.allocate(size: maximal + 1) == nil)
            #expect(heap.allocate(size: maximal) != nil)
            heap.free(at: 0)
        }
    }

    @Test func neighbouringFreesCoalesceInEveryOrder() throws {
        let buffer = HostBuffer(size: 16 << 10)
        defer { buffer.release() }
        let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        for order in orders {
            var heap = CheckedAllocator<TLSFAllocator>()
            heap.addRegion(buffer)
            let initialFree = heap.allocator.statistics.freeBytes
            for size in [40, 200, 1000] { #expect(heap.allocate(size: size) != nil) }
            let pending = heap.live
            for index in order {
                let position = try #require(heap.live.firstIndex { $0.address == pending[index].address })
                heap.free(at: position)
                expectConsistent(heap.allocator)
            }
            #expect(heap.allocator.statistics.freeBytes == initialFree)
        }
    }

    @Test func everyAlignmentFrom1To4096IsHonouredAndAllSpaceComesBack() {
        let buffer = HostBuffer(size: 256 << 10)
        defer { buffer.release() }
        var heap = CheckedAllocator<TLSFAllocator>()
        heap.addRegion(buffer, offset: 8)
        let initialFree = heap.allocator.statistics.freeBytes
        for shift in 0...12 {
            for size in [0, 1, 24, 100, 5000] {
                #expect(heap.allocate(size: size, alignment: 1 << shift) != nil)
                expectConsistent(heap.allocator)
            }
        }
        // Leading pieces cut off for alignment are ordinary free blocks.
        for _ in 0..<20 { #expect(heap.allocate(size: 16, alignment: 8) != nil) }
        var random = SplitMix64(seed: 0x7157_0003)
        heap.freeAll(using: &random)
        expectConsistent(heap.allocator)
        #expect(heap.allocator.statistics.freeBytes == initialFree)
    }

    @Test func sizeZeroAllocationsAreUniqueAndFreeable() throws {
        let buffer = HostBuffer(size: 16 << 10)
        defer { buffer.release() }
        var heap = CheckedAllocator<TLSFAllocator>()
        heap.addRegion(buffer)
        let initialFree = heap.allocator.statistics.freeBytes
        let addresses = (0..<10).compactMap { _ in heap.allocate(size: 0, alignment: 1) }
        #expect(Set(addresses).count == 10)
        #expect(heap.allocator.statistics.inUseBytes == 0)
        #expect(heap.allocator.statistics.liveAllocations == 10)
        var random = SplitMix64(seed: 0x7157_0004)
        heap.freeAll(using: &random)
        #expect(heap.allocator.statistics.freeBytes == initialFree)
    }

    @Test func exhaustionReturnsNilThenFreeingMakesRoomAgain() throws {
        let buffer = HostBuffer(size: 16 << 10)
        defer { buffer.release() }
        var heap = CheckedAllocator<TLSFAllocator>()
        heap.addRegion(buffer)
        while heap.allocate(size: 64) != nil {}
        #expect(heap.allocator.statistics.failedAllocations == 1)
        #expect(heap.allocate(size: 200) == nil)
        expectConsistent(heap.allocator)

        // Free one block in the middle: the same size fits again, in the same place.
        heap.live.sort { $0.address < $1.address }
        let hole = heap.live[10].address
        heap.free(at: 10)
        #expect(heap.allocate(size: 64) == hole)
        // Three neighbours (3 x 72 bytes, minus one header) merge into room for 200 bytes.
        heap.live.sort { $0.address < $1.address }
        let start = heap.live[20].address
        for _ in 0..<3 { heap.free(at: 20) }
        #expect(heap.allocate(size: 200) == start)
        expectConsistent(heap.allocator)
    }

    @Test func multipleRegionsServeAllocationsAndCoalesceSeparately() throws {
        let first = HostBuffer(size: 8 << 10), second = HostBuffer(size: 64 << 10), third = HostBuffer(size: 16 << 10)
        defer { first.release(); second.release(); third.release() }
        var heap = CheckedAllocator<TLSFAllocator>()
        #expect(heap.addRegion(first) == true)
        let firstFree = heap.allocator.statistics.freeBytes
        #expect(heap.allocate(size: 30000) == nil)
        #expect(heap.addRegion(second) == true)
        #expect(heap.addRegion(third, offset: 5, size: (16 << 10) - 11) == true)
        let big = try unwrap(heap.allocate(size: 30000))
        #expect(big >= second.address && big < second.end)

        var random = SplitMix64(seed: 0x7157_0005)
        heap.churn(operations: 2000, largest: 12 << 10, using: &random) { expectConsistent($0) }
        let used = Set(heap.live.map { allocation in
            [first, second, third].firstIndex { allocation.address >= $0.address && allocation.address < $0.end }!
        })
        #expect(used.count == 3)
        heap.freeAll(using: &random)
        expectConsistent(heap.allocator)
        // Each region is one free block again; the first one still fits its maximal allocation.
        #expect(heap.allocate(size: firstFree) != nil)
        #expect(heap.allocator.statistics.managedBytes == (8 << 10) + (64 << 10) + (16 << 10) - 11)
    }

    @Test func regionsThatAreTooSmallOrTooManyAreRefused() {
        let buffer = HostBuffer(size: 64 << 10)
        defer { buffer.release() }
        var heap = TLSFAllocator()
        // The first region must hold the control area.
        #expect(heap.addRegion(buffer.pointer, size: Self.control) == false)
        #expect(heap.allocate(size: 1, alignment: 1) == nil)
        #expect(heap.statistics.failedAllocations == 1)
        #expect(heap.statistics.managedBytes == 0)
        #expect(heap.addRegion(buffer.pointer, size: 8192) == true)
        #expect(heap.addRegion(buffer.pointer + 8192, size: 32) == false)
        for index in 1..<TLSFAllocator.maxRegions {   // with gaps between them, so none merge
            #expect(heap.addRegion(buffer.pointer + 8192 + index * 512, size: 256) == true)
        }
        #expect(heap.addRegion(buffer.pointer + 8192 + 64 * 512, size: 4096) == false)
        expectConsistent(heap)
    }

    @Test func aRegionStartingWhereAPoolEndsExtendsThatPool() throws {
        let buffer = HostBuffer(size: 256 << 10)
        defer { buffer.release() }
        var heap = CheckedAllocator<TLSFAllocator>()
        heap.addRegion(buffer, size: 16 << 10)
        let firstFree = heap.allocator.statistics.freeBytes
        // The pool's last block is free: the new space merges with it into one block.
        heap.addRegion(buffer, offset: 16 << 10, size: 16 << 10)
        #expect(heap.allocator.statistics.freeBytes == firstFree + (16 << 10))
        expectConsistent(heap.allocator)
        // The pool's last block is used: the new space is a free block of its own after it.
        let whole = try unwrap(heap.allocate(size: heap.allocator.statistics.freeBytes))
        heap.addRegion(buffer, offset: 32 << 10, size: 16 << 10)
        #expect(heap.allocator.statistics.freeBytes == (16 << 10) - 8)
        expectConsistent(heap.allocator)
        heap.free(at: 0)
        #expect(heap.allocator.statistics.freeBytes == firstFree + (32 << 10))
        #expect(whole >= buffer.address)
        // Adjacent regions take no slot: many more than maxRegions fit, and it all stays one block.
        for index in 0..<(2 * TLSFAllocator.maxRegions) {
            #expect(heap.addRegion(buffer, offset: (48 << 10) + index * 1024, size: 1024) == true)
        }
        let total = firstFree + (32 << 10) + 2 * TLSFAllocator.maxRegions * 1024
        #expect(heap.allocator.statistics.freeBytes == total)
        #expect(heap.allocate(size: total) != nil)
        expectConsistent(heap.allocator)
    }

    @Test func impossibleRequestsFailCleanly() {
        let buffer = HostBuffer(size: 64 << 10)
        defer { buffer.release() }
        var heap = TLSFAllocator()
        heap.addRegion(buffer.pointer, size: 64 << 10)
        let before = heap.statistics
        #expect(heap.allocate(size: Int.max, alignment: 1) == nil)
        #expect(heap.allocate(size: 1 << 40, alignment: 8) == nil)
        #expect(heap.allocate(size: 8, alignment: 1 << 40) == nil)
        #expect(heap.allocate(size: 60 << 10, alignment: 4096) == nil)
        #expect(heap.statistics.failedAllocations == 4)
        #expect(heap.statistics.freeBytes == before.freeBytes)
        expectConsistent(heap)
    }
}
