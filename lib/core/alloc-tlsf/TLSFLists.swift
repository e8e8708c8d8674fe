// TLSF size classes and free lists, and a self-check of the whole heap.
//
// A size maps to (fl, sl):
//
//     size < 128:   fl = 0,                       sl = size / 8          (one class per 8 bytes)
//     otherwise:    f = index of the highest bit, sl = the 4 bits below it, fl = f - 6
//
// so first level 1 holds 128 ..< 256 in 16 classes of 8 bytes, level 2 holds 256 ..< 512 in classes of
// 16, and so on up to level 25 (2^31 ..< 2^32). Each class has a doubly linked list of free blocks; the
// head table and the second-level bitmaps live in the control area (see TLSFAllocator.swift), the
// first-level bitmap in the struct.
//
// Inserting puts a block at the head of its class; removing unlinks it and clears the bitmap bits of
// a list that became empty. `freeBytes` is kept here: it is exactly the sum of the sizes of the blocks
// on the lists.

import AllocatorAPI

extension TLSFAllocator {
    /// The class a block of `size` bytes is filed under.
    static func mapping(_ size: UInt) -> (fl: Int, sl: Int) {
        if size < smallBlockSize {
            return (0, Int(size / (smallBlockSize / UInt(slCount))))
        }
        let highest = UInt.bitWidth - 1 - size.leadingZeroBitCount
        let sl = Int((size >> UInt(highest - slLog2)) ^ (1 << UInt(slLog2)))
        return (highest - (flShift - 1), sl)
    }

    /// The first class whose every block holds at least `size` bytes: round up to the next class
    /// boundary, then map.
    static func mappingSearch(_ size: UInt) -> (fl: Int, sl: Int) {
        var rounded = size
        if size >= smallBlockSize {
            let highest = UInt.bitWidth - 1 - size.leadingZeroBitCount
            rounded += (1 << UInt(highest - slLog2)) - 1
        }
        return mapping(rounded)
    }

    func headAddress(_ fl: Int, _ sl: Int) -> UInt {
        control + Self.headsOffset + UInt(fl * Self.slCount + sl) * 8
    }

    func head(_ fl: Int, _ sl: Int) -> UInt { load(headAddress(fl, sl)) }

    func slBitmap(_ fl: Int) -> UInt { load(control + Self.slBitmapsOffset + UInt(fl) * 8) }

    func setSlBitmap(_ fl: Int, _ bits: UInt) { store(control + Self.slBitmapsOffset + UInt(fl) * 8, bits) }

    mutating func insert(_ block: Block) {
        let (fl, sl) = Self.mapping(block.size)
        let first = head(fl, sl)
        block.nextFree = first
        block.prevFree = 0
        if first != 0 { Block(first).prevFree = block.address }
        store(headAddress(fl, sl), block.address)
        flBitmap |= 1 << UInt(fl)
        setSlBitmap(fl, slBitmap(fl) | 1 << UInt(sl))
        figures.freeBytes += Int(block.size)
    }

    mutating func remove(_ block: Block) {
        let (fl, sl) = Self.mapping(block.size)
        let next = block.nextFree
        let previous = block.prevFree
        if next != 0 { Block(next).prevFree = previous }
        if previous != 0 {
            Block(previous).nextFree = next
        } else {
            precondition(head(fl, sl) == block.address, "tlsf: free list corrupted")
            store(headAddress(fl, sl), next)
            if next == 0 {
                let bits = slBitmap(fl) & ~(1 << UInt(sl))
                setSlBitmap(fl, bits)
                if bits == 0 { flBitmap &= ~(1 << UInt(fl)) }
            }
        }
        figures.freeBytes -= Int(block.size)
    }

    /// The head of the first non-empty class at or above (fl, sl), found with two bit scans.
    func searchSuitable(_ fl: Int, _ sl: Int) -> UInt? {
        guard fl < Self.flCount else { return nil }
        var first = fl
        var classes = slBitmap(fl) & (~UInt(0) << UInt(sl))
        if classes == 0 {
            let levels = flBitmap & (~UInt(0) << UInt(fl + 1))
            if levels == 0 { return nil }
            first = levels.trailingZeroBitCount
            classes = slBitmap(first)
        }
        return head(first, classes.trailingZeroBitCount)
    }

    /// Removes and returns a free block of at least `size` bytes, or nil.
    mutating func takeFreeBlock(atLeast size: UInt) -> Block? {
        let (fl, sl) = Self.mappingSearch(size)
        var found = searchSuitable(fl, sl) ?? 0
        if found == 0 {
            // The rounded-up classes are empty; the first block of the request's own class may fit.
            let (ownFl, ownSl) = Self.mapping(size)
            let candidate = head(ownFl, ownSl)
            if candidate != 0 && Block(candidate).size >= size { found = candidate }
        }
        guard found != 0 else { return nil }
        let block = Block(found)
        remove(block)
        return block
    }
}

// MARK: Self-check
//
// A full walk of the heap that verifies every invariant the O(1) operations rely on.
//
// Not used on the allocation path. Tests call it after every operation; a kernel shell or an OOM report
// may call it to tell heap corruption from plain exhaustion. It walks each region block by block:
//
//   - blocks tile the region exactly, ending in a size-0 used sentinel at the region's end;
//   - sizes are multiples of 8, at least the minimum block;
//   - each block's prev-free bit equals the free bit of the block before it;
//   - no two free blocks are adjacent (coalescing is immediate);
//   - a free block's successor points back to it (prevPhysical);
//
// then walks every free list: each entry is free, filed under the class of its size, doubly linked, and
// the bitmaps have a bit exactly for the non-empty lists. The free blocks found both ways must agree in
// number, and their sizes must add up to `freeBytes`. The result names the first broken invariant.

extension TLSFAllocator {
    /// nil when the heap is consistent, otherwise what is wrong.
    public func heapProblem() -> StaticString? {
        guard control != 0 else { return regionCount == 0 ? nil : "regions without a control area" }
        var freeBlocks = 0
        var freeSum: UInt = 0
        for region in 0..<regionCount {
            let end = regionEnd(region)
            var block = Block(regionStart(region) - Block.overhead)
            var previousFree = false
            while true {
                guard block.address + Self.poolOverhead <= end else { return "block runs past its region" }
                guard block.isPrevFree == previousFree else { return "prev-free bit disagrees with neighbour" }
                if block.isSentinel {
                    guard block.address + Self.poolOverhead == end else { return "sentinel inside a region" }
                    guard !block.isFree else { return "sentinel marked free" }
                    break
                }
                guard block.size % 8 == 0, block.size >= Block.minimumSize else { return "bad block size" }
                if block.isFree {
                    guard !previousFree else { return "two adjacent free blocks" }
                    guard block.next.prevPhysical == block else { return "broken prevPhysical link" }
                    guard block.slack == 0 else { return "free block with slack" }
                    freeBlocks += 1
                    freeSum += block.size
                }
                previousFree = block.isFree
                block = block.next
            }
        }

        var listed = 0
        for fl in 0..<Self.flCount {
            let bits = slBitmap(fl)
            guard (bits != 0) == (flBitmap & (1 << UInt(fl)) != 0) else { return "first-level bitmap wrong" }
            for sl in 0..<Self.slCount {
                var entry = head(fl, sl)
                guard (entry != 0) == (bits & (1 << UInt(sl)) != 0) else { return "second-level bitmap wrong" }
                var previous: UInt = 0
                while entry != 0 {
                    let block = Block(entry)
                    guard block.isFree else { return "used block on a free list" }
                    guard Self.mapping(block.size) == (fl, sl) else { return "block on the wrong free list" }
                    guard block.prevFree == previous else { return "broken free-list back link" }
                    listed += 1
                    guard listed <= freeBlocks else { return "free lists hold more blocks than the heap" }
                    previous = entry
                    entry = block.nextFree
                }
            }
        }
        guard listed == freeBlocks else { return "free block missing from the free lists" }
        guard freeSum == UInt(figures.freeBytes) else { return "freeBytes out of date" }
        return nil
    }
}
