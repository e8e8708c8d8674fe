// Tests of the region (bump) allocator: placement, rollback of the latest allocation, exact figures,
// alignment, size 0, exhaustion and several regions, plus a long random run checked by the model.

import Testing
import AllocatorAPI
import AllocRegion

@Suite struct RegionAllocatorTests {
    @Test func nameIsRegion() {
        #expect("\(RegionAllocator.name)" == "region")
    }

    @Test func randomAllocateAndFreeKeepsAllocationsInsideRegionsDisjointAndIntact() {
        let buffers = [HostBuffer(size: 1 << 20), HostBuffer(size: 256 << 10), HostBuffer(size: 64 << 10)]
        defer { buffers.forEach { $0.release() } }
        var heap = CheckedAllocator<RegionAllocator>()
        for buffer in buffers { #expect(heap.addRegion(buffer) == true) }
        var random = SplitMix64(seed: 0x5EED_0001)
        heap.churn(operations: 5000, largest: 16 << 10, using: &random)
        heap.freeAll(using: &random)
        #expect(heap.allocator.statistics.liveAllocations == 0)
        #expect(heap.allocator.statistics.inUseBytes == 0)
    }

    @Test func statisticsAreExactForASimpleSequence() throws {
        let buffer = HostBuffer(size: 1024)
        defer { buffer.release() }
        var heap = RegionAllocator()
        #expect(heap.addRegion(buffer.pointer, size: 1024) == true)
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 1024, freeBytes: 1024))

        // Header (16 bytes) then the payload: 10 bytes at +16, next at +26.
        let first = try unwrap(heap.allocate(size: 10, alignment: 1))
        #expect(first == buffer.pointer + 16)
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 1024, inUseBytes: 10, peakInUseBytes: 10,
                                                       freeBytes: 998, liveAllocations: 1, totalAllocations: 1))
        // Header from +26, payload rounded up to 8: +48, next at +68.
        let second = try unwrap(heap.allocate(size: 20, alignment: 1))
        #expect(second == buffer.pointer + 48)
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 1024, inUseBytes: 30, peakInUseBytes: 30,
                                                       freeBytes: 956, liveAllocations: 2, totalAllocations: 2))
        #expect(heap.allocate(size: 2000, alignment: 1) == nil)
        heap.free(first)
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 1024, inUseBytes: 20, peakInUseBytes: 30,
                                                       freeBytes: 956, liveAllocations: 1, totalAllocations: 2,
                                                       failedAllocations: 1))
        heap.free(second)
        #expect(heap.statistics == AllocatorStatistics(managedBytes: 1024, inUseBytes: 0, peakInUseBytes: 30,
                                                       freeBytes: 998, liveAllocations: 0, totalAllocations: 2,
                                                       failedAllocations: 1))
        heap.free(nil)
        #expect(heap.statistics.liveAllocations == 0)
    }

    @Test func freeingInReverseOrderRollsEverythingBack() throws {
        let buffer = HostBuffer(size: 4096)
        defer { buffer.release() }
        var heap = RegionAllocator()
        heap.addRegion(buffer.pointer, size: 4096)
        let a = try unwrap(heap.allocate(size: 100, alignment: 8))
        let b = try unwrap(heap.allocate(size: 33, alignment: 64))
        let c = try unwrap(heap.allocate(size: 7, alignment: 1))
        heap.free(c)
        let again = try unwrap(heap.allocate(size: 7, alignment: 1))
        #expect(again == c)
        heap.free(again)
        heap.free(b)
        heap.free(a)
        #expect(heap.statistics.freeBytes == 4096)
        #expect(heap.allocate(size: 100, alignment: 8) == a)
    }

    @Test func freeingAnOlderAllocationOnlyUpdatesStatistics() throws {
        let buffer = HostBuffer(size: 4096)
        defer { buffer.release() }
        var heap = RegionAllocator()
        heap.addRegion(buffer.pointer, size: 4096)
        let a = try unwrap(heap.allocate(size: 64, alignment: 8))
        let b = try unwrap(heap.allocate(size: 64, alignment: 8))
        let freeBefore = heap.statistics.freeBytes
        heap.free(a)
        #expect(heap.statistics.freeBytes == freeBefore)
        #expect(heap.statistics.inUseBytes == 64)
        let c = try unwrap(heap.allocate(size: 64, alignment: 8))
        #expect(c > b)
    }

    @Test func everyAlignmentFrom1To4096IsHonoured() {
        let buffer = HostBuffer(size: 512 << 10)
        defer { buffer.release() }
        var heap = CheckedAllocator<RegionAllocator>()
        heap.addRegion(buffer, offset: 8)
        for shift in 0...12 {
            for size in [0, 1, 7, 100] {
                #expect(heap.allocate(size: size, alignment: 1 << shift) != nil)
            }
        }
    }

    @Test func sizeZeroAllocationsAreUniqueAndFreeable() throws {
        let buffer = HostBuffer(size: 4096)
        defer { buffer.release() }
        var heap = CheckedAllocator<RegionAllocator>()
        heap.addRegion(buffer)
        let first = try unwrap(heap.allocate(size: 0, alignment: 1))
        let second = try unwrap(heap.allocate(size: 0, alignment: 1))
        #expect(first != second)
        heap.free(at: 1)
        heap.free(at: 0)
        #expect(heap.allocator.statistics.freeBytes == 4096)
    }

    @Test func exhaustionReturnsNilAndFreeingTheLatestMakesRoomAgain() throws {
        let buffer = HostBuffer(size: 4096)
        defer { buffer.release() }
        var heap = CheckedAllocator<RegionAllocator>()
        heap.addRegion(buffer)
        var count = 0
        while heap.allocate(size: 100, alignment: 8) != nil { count += 1 }
        // Payload k sits at 16 + 120k (header, 100 bytes, padding to 8) and ends at 116 + 120k <= 4096.
        #expect(count == 34)
        #expect(heap.allocator.statistics.failedAllocations == 1)
        heap.free(at: 0)
        #expect(heap.allocate(size: 100, alignment: 8) == nil)   // an old allocation is not reused
        let latest = heap.live[heap.live.count - 1].address
        heap.free(at: heap.live.count - 1)
        #expect(heap.allocate(size: 100, alignment: 8) == latest)
    }

    @Test func multipleRegionsAreFilledInTheOrderTheyWereAdded() throws {
        let small = HostBuffer(size: 256), large = HostBuffer(size: 4096)
        defer { small.release(); large.release() }
        var heap = CheckedAllocator<RegionAllocator>()
        heap.addRegion(small)
        heap.addRegion(large)
        let first = try unwrap(heap.allocate(size: 200))
        #expect(first >= small.address && first < small.end)
        let second = try unwrap(heap.allocate(size: 200))
        #expect(second >= large.address && second < large.end)
        let third = try unwrap(heap.allocate(size: 16))   // still fits behind the first
        #expect(third >= small.address && third < small.end)
        #expect(heap.allocator.statistics.managedBytes == 256 + 4096)
    }

    @Test func regionsThatAreTooSmallOrTooManyAreRefused() {
        let buffer = HostBuffer(size: 16 << 10)
        defer { buffer.release() }
        var heap = RegionAllocator()
        #expect(heap.addRegion(buffer.pointer, size: 16) == false)
        for index in 0..<RegionAllocator.maxRegions {   // with gaps between them, so none merge
            #expect(heap.addRegion(buffer.pointer + index * 512, size: 256) == true)
        }
        #expect(heap.addRegion(buffer.pointer + 12 << 10, size: 256) == false)
        #expect(heap.statistics.managedBytes == RegionAllocator.maxRegions * 256)
    }

    @Test func aRegionStartingWhereOneEndsExtendsIt() throws {
        let buffer = HostBuffer(size: 64 << 10)
        defer { buffer.release() }
        var heap = CheckedAllocator<RegionAllocator>()
        heap.addRegion(buffer, size: 256)
        let first = try unwrap(heap.allocate(size: 200, alignment: 8))
        #expect(first == buffer.address + 16)
        heap.addRegion(buffer, offset: 256, size: 256)
        // The bump pointer runs on across the old end: header at +216, payload at +232.
        #expect(heap.allocate(size: 100, alignment: 8) == buffer.address + 232)
        // Adjacent regions take no slot: many more than maxRegions fit.
        for index in 2..<(2 * RegionAllocator.maxRegions) {
            #expect(heap.addRegion(buffer, offset: index * 256, size: 256) == true)
        }
        #expect(heap.allocator.statistics.freeBytes == 2 * RegionAllocator.maxRegions * 256 - 332)
        // The rest after a header (+348) and padding to 8 (+352) can be taken in one piece.
        #expect(heap.allocate(size: 2 * RegionAllocator.maxRegions * 256 - 352) != nil)
    }

    @Test func anEmptyAllocatorFailsAndCountsTheFailure() {
        var heap = RegionAllocator()
        #expect(heap.allocate(size: 1, alignment: 1) == nil)
        #expect(heap.statistics.failedAllocations == 1)
    }
}
