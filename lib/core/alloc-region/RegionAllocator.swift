// The region (bump) allocator.
//
// The smallest useful heap: each region has a bump pointer `next` that starts at the region's first byte
// and only moves up. An allocation takes the first region (in the order they were added) where
//
//     [header][padding to alignment][payload ...]
//     ^ next                         ^ returned pointer, header = the 16 bytes just below it
//
// fits, and moves that region's `next` to the end of the payload. Memory is never reused, with one
// exception: freeing the allocation that ends exactly at its region's `next` (the most recent one there)
// moves `next` back to where it was before that allocation. Because each header remembers that earlier
// position, a run of frees in reverse (LIFO) order rolls back a whole stack of allocations, which is
// what init code that builds and then drops temporary tables does. Every other free only updates the
// statistics; the bytes stay lost until the image exits.
//
// The 16-byte header holds the requested size and the previous `next`. It is what lets `free` keep exact
// statistics and roll back without any table. A freed header's size is set to `freedMark`, so a second
// free of the same pointer traps instead of corrupting the figures (unless the bytes were reused by a
// later allocation after a rollback, which is undetectable and harmless for the allocator itself).
//
// Bookkeeping lives in the struct: at most `maxRegions` regions in a fixed tuple, no heap use at all.
// A region that starts exactly where one ends (the kernel grows the heap with pages that are often
// contiguous) just moves that region's end, so it takes no slot and the bump pointer runs on into it.
// Every allocation is at least 8-byte aligned (the header is two words). `freeBytes` is the sum of the
// bytes above every bump pointer; an allocation of `n` bytes spends `n`, its header and the padding.

import AllocatorAPI

public struct RegionAllocator: Allocator {
    public static var name: StaticString { "region" }

    /// How many regions one allocator can manage; `addRegion` returns false beyond that.
    public static var maxRegions: Int { 16 }

    /// Bytes of the header in front of every allocation: the requested size, then the previous `next`.
    static var headerBytes: UInt { 16 }
    /// The size a header holds once its allocation was freed.
    static var freedMark: UInt { ~0 }

    /// One region: the bytes `start ..< end`, of which `start ..< next` are handed out (or lost).
    struct Region {
        var start: UInt = 0
        var end: UInt = 0
        var next: UInt = 0
    }

    var regions = (Region(), Region(), Region(), Region(), Region(), Region(), Region(), Region(),
                   Region(), Region(), Region(), Region(), Region(), Region(), Region(), Region())
    var regionCount = 0
    var figures = AllocatorStatistics()

    public init() {}

    public var statistics: AllocatorStatistics {
        var result = figures
        var free: UInt = 0
        for index in 0..<regionCount {
            let region = self[index]
            free += region.end - region.next
        }
        result.freeBytes = Int(free)
        return result
    }

    @discardableResult
    public mutating func addRegion(_ start: UnsafeMutableRawPointer, size: Int) -> Bool {
        let base = UInt(bitPattern: start)
        // A region must hold at least one header and a few bytes, and must not wrap around.
        guard size >= 32, base <= UInt.max - UInt(size) else { return false }
        for index in 0..<regionCount where self[index].end == base {
            self[index].end += UInt(size)
            figures.managedBytes += size
            return true
        }
        guard regionCount < Self.maxRegions else { return false }
        self[regionCount] = Region(start: base, end: base + UInt(size), next: base)
        regionCount += 1
        figures.managedBytes += size
        return true
    }

    public mutating func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        precondition(size >= 0, "region: negative allocation size")
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "region: alignment not a power of two")
        let align = UInt(alignment < 8 ? 8 : alignment)
        let bytes = UInt(size)
        for index in 0..<regionCount {
            var region = self[index]
            // The payload starts after a header at `next`, rounded up to the alignment. Check each step
            // against the region's end first so that huge sizes or alignments cannot overflow.
            guard region.end - region.next >= Self.headerBytes else { continue }
            let lowest = region.next + Self.headerBytes
            let padding = (align - lowest % align) % align
            guard padding <= region.end - lowest else { continue }
            let payload = lowest + padding
            guard bytes <= region.end - payload else { continue }

            let header = UnsafeMutableRawPointer(bitPattern: payload - Self.headerBytes)!
            header.storeBytes(of: bytes, as: UInt.self)
            header.storeBytes(of: region.next, toByteOffset: 8, as: UInt.self)
            region.next = payload + bytes
            self[index] = region

            figures.inUseBytes += size
            if figures.inUseBytes > figures.peakInUseBytes { figures.peakInUseBytes = figures.inUseBytes }
            figures.liveAllocations += 1
            figures.totalAllocations += 1
            return UnsafeMutableRawPointer(bitPattern: payload)
        }
        figures.failedAllocations += 1
        return nil
    }

    public mutating func free(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        let payload = UInt(bitPattern: pointer)
        guard let index = regionIndex(containing: payload) else {
            preconditionFailure("region: free of a pointer outside every region")
        }
        var region = self[index]
        precondition(payload % 8 == 0 && payload - region.start >= Self.headerBytes && payload <= region.next,
                     "region: free of a pointer that was not allocated")
        let header = UnsafeMutableRawPointer(bitPattern: payload - Self.headerBytes)!
        let bytes = header.load(as: UInt.self)
        let previousNext = header.load(fromByteOffset: 8, as: UInt.self)
        precondition(bytes != Self.freedMark, "region: double free")
        precondition(bytes <= region.next - payload && previousNext >= region.start && previousNext < payload,
                     "region: free of a pointer that was not allocated")
        header.storeBytes(of: Self.freedMark, as: UInt.self)

        // The most recent allocation of this region ends at `next`: give its bytes back.
        if payload + bytes == region.next {
            region.next = previousNext
            self[index] = region
        }
        figures.inUseBytes -= Int(bytes)
        figures.liveAllocations -= 1
    }

    /// The region whose bytes contain `address`, if any. A pointer equal to a region's `next` can be a
    /// size-0 allocation, so the search is over `start ..< end` plus `end` itself.
    func regionIndex(containing address: UInt) -> Int? {
        for index in 0..<regionCount {
            let region = self[index]
            if address > region.start && address <= region.end { return index }
        }
        return nil
    }

    /// The regions tuple read and written as an array of `maxRegions` elements (a homogeneous tuple is
    /// laid out like one).
    subscript(index: Int) -> Region {
        get {
            precondition(index >= 0 && index < Self.maxRegions)
            return withUnsafeBytes(of: regions) { $0.load(fromByteOffset: index * MemoryLayout<Region>.stride,
                                                            as: Region.self) }
        }
        set {
            precondition(index >= 0 && index < Self.maxRegions)
            withUnsafeMutableBytes(of: &regions) {
                $0.storeBytes(of: newValue, toByteOffset: index * MemoryLayout<Region>.stride, as: Region.self)
            }
        }
    }
}
