// The Two-Level Segregated Fit allocator (Masmano, Ripoll, Crespo, Real: "TLSF: a new dynamic memory
// allocator for real-time systems", 2004), after the layout of Matthew Conte's implementation.
//
// Free blocks are kept in segregated lists, one per size class. A size maps to a class in two steps:
// the first level is the position of its highest bit (power-of-two ranges), the second level cuts
// that range into 16 equal parts. Sizes below 128 bytes use first level 0, with one class per 8 bytes.
// One bit per first level (`flBitmap`) and one bit per class (`slBitmaps`) say which lists are non-empty,
// so finding a list with a big enough block is a few bit scans: O(1), no searching, no loops.
//
//     allocate(n):  round n up to the next class boundary, so every block in the class found fits;
//                   take the head of the first non-empty class at or above it; split off the rest of
//                   the block as a new free block when it is big enough to be one.
//     free(p):      mark the block free and merge it at once with a free neighbour on either side
//                   (boundary tags, see TLSFBlocks.swift); put the result in its class list.
//
// Because rounding up can skip the class of the only block that would fit, allocate also looks at the
// head of the request's own class before giving up, so that a single free block of n bytes can always
// be allocated whole (a freshly added region, or one that has coalesced back after everything was freed).
//
// Aligned allocation (alignment above 8): ask for n + alignment + 32 bytes, then cut a leading free block
// off so that the payload lands on the alignment; the leading piece is at least a minimum block, and
// the tail is split off as usual.
//
// Where the state lives: the struct holds the first-level bitmap, the figures and the address of the
// control area. The control area (second-level bitmaps, 26 x 16 list heads, a table of 64 regions:
// 4560 bytes) is placed at the start of the first region given to `addRegion`, which must therefore be
// at least `controlBytes` + 40 bytes; later regions are used whole. Copies of the struct share that
// memory, so keep exactly one allocator per set of regions.
//
// Regions: each is a pool of blocks ending in a sentinel. Region ranges are recorded so that `free` traps
// on a pointer outside all of them, and the free and prev-free bits catch most other bad frees (double
// free, interior pointer). A region that starts where a pool ends (the kernel grows the heap with pages
// that are often contiguous) extends that pool instead of taking a slot: the old sentinel becomes the
// header of a new free block, which merges with a free last block. A region larger than a block can be
// (4 GiB) becomes several pools, as long as slots remain; bytes beyond the last slot are left unused.

import AllocatorAPI

public struct TLSFAllocator: Allocator {
    public static var name: StaticString { "tlsf" }

    // Geometry: 8-byte granularity, 16 second-level classes, blocks below 2^32 bytes.
    static var slLog2: Int { 4 }
    static var slCount: Int { 1 << slLog2 }
    static var flShift: Int { slLog2 + 3 }
    static var smallBlockSize: UInt { 1 << UInt(flShift) }
    static var flIndexMax: Int { 32 }
    static var flCount: Int { flIndexMax - flShift + 1 }
    static var blockSizeMax: UInt { 1 << UInt(flIndexMax) }
    /// The smallest leading piece cut off for alignment: a header and a minimum block.
    static var gapMinimum: UInt { 32 }
    /// The first block's size word and the sentinel's, around the payload of a pool.
    static var poolOverhead: UInt { 16 }

    // The control area, in words from `control`.
    public static var maxRegions: Int { 64 }
    static var slBitmapsOffset: UInt { 0 }
    static var headsOffset: UInt { slBitmapsOffset + UInt(flCount) * 8 }
    static var regionsOffset: UInt { headsOffset + UInt(flCount * slCount) * 8 }
    /// Bytes taken from the first region for the control area.
    public static var controlBytes: UInt { regionsOffset + UInt(maxRegions) * 16 }

    var control: UInt = 0
    var flBitmap: UInt = 0
    var regionCount = 0
    var figures = AllocatorStatistics()

    public init() {}

    public var statistics: AllocatorStatistics { figures }

    @discardableResult
    public mutating func addRegion(_ start: UnsafeMutableRawPointer, size: Int) -> Bool {
        let raw = UInt(bitPattern: start)
        guard size > 0, raw <= UInt.max - UInt(size) - 8 else { return false }
        var low = alignUp(raw, 8)
        let high = (raw + UInt(size)) & ~UInt(7)
        let smallestPool = Self.poolOverhead + Block.minimumSize
        guard high > low else { return false }
        if let index = regionIndex(endingAt: low), high - low >= smallestPool,
           high - regionStart(index) <= Self.blockSizeMax - 8 + Self.poolOverhead {
            extendPool(index, to: high)
            figures.managedBytes += size
            return true
        }
        guard regionCount < Self.maxRegions else { return false }
        if control == 0 {
            guard high - low >= Self.controlBytes + smallestPool else { return false }
            control = low
            UnsafeMutableRawPointer(bitPattern: control).unsafelyUnwrapped
                .initializeMemory(as: UInt8.self, repeating: 0, count: Int(Self.controlBytes))
            low += Self.controlBytes
        }
        guard high - low >= smallestPool else { return false }
        // Pools larger than a block can be are cut into several, each with its own sentinel.
        while high - low >= smallestPool && regionCount < Self.maxRegions {
            let bytes = min(high - low, Self.blockSizeMax - 8 + Self.poolOverhead)
            addPool(start: low, bytes: bytes)
            low += bytes
        }
        figures.managedBytes += size
        return true
    }

    /// Turns `start ..< start + bytes` into one free block followed by a sentinel. The block's header
    /// begins 8 bytes before `start`: its prevPhysical word is never read, as nothing precedes it.
    mutating func addPool(start: UInt, bytes: UInt) {
        let block = Block(start - Block.overhead)
        block.word = bytes - Self.poolOverhead
        block.next.word = 0
        block.markFree()
        insert(block)
        store(control + Self.regionsOffset + UInt(regionCount) * 16, start)
        store(control + Self.regionsOffset + UInt(regionCount) * 16 + 8, start + bytes)
        regionCount += 1
    }

    /// Moves the end of pool `index` up to `end`. The old sentinel (the last 16 bytes of the pool) turns
    /// into the header of a free block that reaches the new sentinel, and is released like a freed block.
    mutating func extendPool(_ index: Int, to end: UInt) {
        let oldEnd = regionEnd(index)
        let block = Block(oldEnd - Self.poolOverhead)
        precondition(block.isSentinel && !block.isFree, "tlsf: pool without its sentinel")
        block.word = (end - oldEnd - Block.overhead) | (block.word & Block.prevFreeBit)
        block.next.word = 0
        store(control + Self.regionsOffset + UInt(index) * 16 + 8, end)
        release(block)
    }

    public mutating func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        precondition(size >= 0, "tlsf: negative allocation size")
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "tlsf: alignment not a power of two")
        guard let payload = allocateBlock(size: UInt(size), alignment: UInt(alignment)) else {
            figures.failedAllocations += 1
            return nil
        }
        figures.inUseBytes += size
        if figures.inUseBytes > figures.peakInUseBytes { figures.peakInUseBytes = figures.inUseBytes }
        figures.liveAllocations += 1
        figures.totalAllocations += 1
        return UnsafeMutableRawPointer(bitPattern: payload)
    }

    mutating func allocateBlock(size: UInt, alignment: UInt) -> UInt? {
        guard control != 0, size < Self.blockSizeMax, alignment < Self.blockSizeMax else { return nil }
        // Size 0 still gets a block of its own, so that its pointer is unique and can be freed.
        let adjusted = max(alignUp(max(size, 1), 8), Block.minimumSize)
        let aligned = alignment > 8
        let request = aligned ? adjusted + alignment + Self.gapMinimum : adjusted
        guard request < Self.blockSizeMax, var block = takeFreeBlock(atLeast: request) else { return nil }

        if aligned {
            let payload = block.payload
            var target = alignUp(payload, alignment)
            var gap = target - payload
            // A leading piece must be able to stand as a free block; if the gap is too small for
            // that, move on to a later aligned address.
            if gap != 0 && gap < Self.gapMinimum {
                target = alignUp(target + max(Self.gapMinimum - gap, alignment), alignment)
                gap = target - payload
            }
            if gap != 0 {
                let leading = block
                block = leading.split(gap - Block.overhead)
                block.setPrevFree(true)
                insert(leading)
            }
        }

        // Give back the tail when it can make a block, then hand out the rest.
        if block.canSplit(adjusted) {
            let tail = block.split(adjusted)
            tail.setPrevFree(true)
            insert(tail)
        }
        block.markUsed()
        block.slack = block.size - size
        return block.payload
    }

    public mutating func free(_ pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        let payload = UInt(bitPattern: pointer)
        guard let region = regionIndex(containing: payload) else {
            preconditionFailure("tlsf: free of a pointer outside every region")
        }
        precondition(payload % 8 == 0, "tlsf: free of a misaligned pointer")
        let block = Block(payload: payload)
        precondition(!block.isFree, "tlsf: free of a block that is not in use (double free?)")
        let size = block.size
        let slack = block.slack
        precondition(size >= Block.minimumSize && slack <= size
                     && block.next.address + Self.poolOverhead <= regionEnd(region)
                     && !block.next.isPrevFree,
                     "tlsf: free of a pointer that is not an allocated block")

        figures.inUseBytes -= Int(size - slack)
        figures.liveAllocations -= 1
        block.setSize(size)
        release(block)
    }

    /// Marks a used block free, merges it at once with its free neighbours, and files the result.
    mutating func release(_ used: Block) {
        var block = used
        block.markFree()
        if block.isPrevFree {
            let previous = block.prevPhysical
            remove(previous)
            block = previous.absorb(block)
        }
        let successor = block.next
        if successor.isFree {
            remove(successor)
            block = block.absorb(successor)
        }
        insert(block)
    }

    /// The index of the region whose payload range contains `address`.
    func regionIndex(containing address: UInt) -> Int? {
        for index in 0..<regionCount
        where address >= regionStart(index) + Block.overhead && address < regionEnd(index) {
            return index
        }
        return nil
    }

    /// The index of the region whose pool ends exactly at `address`.
    func regionIndex(endingAt address: UInt) -> Int? {
        for index in 0..<regionCount where regionEnd(index) == address { return index }
        return nil
    }

    func regionStart(_ index: Int) -> UInt { load(control + Self.regionsOffset + UInt(index) * 16) }
    func regionEnd(_ index: Int) -> UInt { load(control + Self.regionsOffset + UInt(index) * 16 + 8) }
}
