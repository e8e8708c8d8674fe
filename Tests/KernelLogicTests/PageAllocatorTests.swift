// Tests of the page-frame allocator: ranges (bitmap placement, inward alignment, limits), contiguous and
// aligned allocation, reservation, exhaustion and reuse, a multi-page bitmap, and a long random run
// checked against a model of which pages are live.

import Testing
import PageAllocator

private let page: UInt = 4096

@Suite struct PageAllocatorTests {
    @Test func addRangeKeepsTheBitmapInTheFirstPageAndCountsIt() {
        let buffer = HostBuffer(size: 64 * 4096)
        defer { buffer.release() }
        var pages = PageAllocator()
        #expect(pages.addRange(base: buffer.address, size: 64 * page) == true)
        #expect(pages.totalPages == 64)
        #expect(pages.freePages == 63)
        #expect(pages.usedPages == 1)
        #expect(!pages.isFree(buffer.address))
        #expect(pages.isFree(buffer.address + page))
        #expect(pages.allocate(pages: 1) == buffer.address + page)
    }

    @Test func addRangeAlignsInwardToWholePages() {
        let buffer = HostBuffer(size: 64 * 4096)
        defer { buffer.release() }
        var pages = PageAllocator()
        #expect(pages.addRange(base: buffer.address + 100, size: 64 * page - 200) == true)
        #expect(pages.totalPages == 62)
        #expect(pages.freePages == 61)
        #expect(!pages.isFree(buffer.address))
        #expect(!pages.isFree(buffer.address + page))   // the bitmap
        #expect(pages.isFree(buffer.address + 2 * page))
        #expect(!pages.isFree(buffer.address + 63 * page))   // the partial last page is not managed
    }

    @Test func rangesTooSmallOverlappingOrTooManyAreRefused() {
        let buffer = HostBuffer(size: 40 * 4096)
        defer { buffer.release() }
        var pages = PageAllocator()
        #expect(pages.addRange(base: buffer.address, size: 0) == false)
        #expect(pages.addRange(base: buffer.address, size: page) == false)          // only room for the bitmap
        #expect(pages.addRange(base: buffer.address, size: 2 * page - 1) == false)
        #expect(pages.addRange(base: buffer.address + 1, size: 2 * page) == false)  // one whole page inside
        #expect(pages.totalPages == 0)
        for index in 0..<PageAllocator.maxRanges {
            #expect(pages.addRange(base: buffer.address + UInt(index) * 4 * page, size: 3 * page) == true)
        }
        #expect(pages.addRange(base: buffer.address + 36 * page, size: 3 * page) == false)
        #expect(pages.totalPages == 8 * 3)
        #expect(pages.freePages == 8 * 2)

        var fresh = PageAllocator()
        #expect(fresh.addRange(base: buffer.address, size: 8 * page) == true)
        #expect(fresh.addRange(base: buffer.address + 4 * page, size: 8 * page) == false)
    }

    @Test func allocationsAreContiguousWithinOneRange() throws {
        let first = HostBuffer(size: 11 * 4096), second = HostBuffer(size: 11 * 4096)
        defer { first.release(); second.release() }
        var pages = PageAllocator()
        pages.addRange(base: first.address, size: 11 * page)
        pages.addRange(base: second.address, size: 11 * page)
        #expect(pages.freePages == 20)
        #expect(pages.allocate(pages: 15) == nil)
        let a = try unwrap(pages.allocate(pages: 10))
        let b = try unwrap(pages.allocate(pages: 10))
        #expect(Set([a, b]) == Set([first.address + page, second.address + page]))
        #expect(pages.allocate(pages: 1) == nil)
        #expect(pages.freePages == 0)
        pages.free(a, pages: 10)
        #expect(pages.allocate(pages: 10) == a)
    }

    @Test func allocationsHonourTheirAlignment() throws {
        let buffer = HostBuffer(size: 512 * 4096)
        defer { buffer.release() }
        var pages = PageAllocator()
        pages.addRange(base: buffer.address, size: 512 * page)
        for shift in 0...6 {
            let alignment = 1 << shift
            let address = try unwrap(pages.allocate(pages: 3, alignmentPages: alignment))
            #expect(address % (UInt(alignment) * page) == 0)
            #expect(address >= buffer.address + page && address + 3 * page <= buffer.end)
        }
        // A 4 MiB-aligned page exists in this 2 MiB buffer only if the buffer happens to straddle a
        // 4 MiB boundary (host addresses vary): the allocator must find it exactly then.
        let fourMiB = 1024 * page
        let firstAligned = (buffer.address + page + fourMiB - 1) / fourMiB * fourMiB
        if firstAligned + page <= buffer.end && pages.isFree(firstAligned) {
            #expect(pages.allocate(pages: 1, alignmentPages: 1024) == firstAligned)
        } else {
            #expect(pages.allocate(pages: 1, alignmentPages: 1024) == nil)
        }
        #expect(pages.allocate(pages: 1, alignmentPages: 1 << 60) == nil)
    }

    @Test func reservedPagesAreNeverAllocated() {
        let buffer = HostBuffer(size: 64 * 4096)
        defer { buffer.release() }
        var pages = PageAllocator()
        pages.addRange(base: buffer.address, size: 64 * page)
        // 100 bytes into page 10 up to 100 bytes into page 11: both pages are touched.
        pages.reserve(base: buffer.address + 10 * page + 100, size: page)
        #expect(pages.freePages == 61)
        #expect(!pages.isFree(buffer.address + 10 * page))
        #expect(!pages.isFree(buffer.address + 11 * page))
        pages.reserve(base: buffer.address + 10 * page, size: 2 * page)     // already reserved: no change
        #expect(pages.freePages == 61)
        pages.reserve(base: buffer.address - 8 * page, size: 10 * page)     // clipped: pages 0 and 1
        #expect(pages.freePages == 60)
        pages.reserve(base: buffer.end, size: 100 * page)                   // outside: ignored
        #expect(pages.freePages == 60)

        var allocated: [UInt] = []
        while let address = pages.allocate(pages: 1) { allocated.append(address) }
        #expect(allocated.count == 60)
        #expect(!allocated.contains(buffer.address + 10 * page))
        #expect(!allocated.contains(buffer.address + 11 * page))
        #expect(!allocated.contains(buffer.address + page))
        #expect(pages.allocate(pages: 2) == nil)
        pages.free(buffer.address + 10 * page, pages: 2)   // reserved pages can be given back
        #expect(pages.allocate(pages: 2) == buffer.address + 10 * page)
    }

    @Test func exhaustionReturnsNilAndFreedPagesAreReused() throws {
        let buffer = HostBuffer(size: 64 * 4096)
        defer { buffer.release() }
        var pages = PageAllocator()
        pages.addRange(base: buffer.address, size: 64 * page)
        var allocated: [UInt] = []
        while let address = pages.allocate(pages: 1) { allocated.append(address) }
        #expect(allocated.count == 63)
        #expect(Set(allocated).count == 63)
        #expect(pages.freePages == 0 && pages.usedPages == 64)
        pages.free(allocated[30], pages: 1)
        #expect(pages.allocate(pages: 1) == allocated[30])

        // Every other page free: plenty of pages, but no two in a row.
        for index in stride(from: 0, to: 63, by: 2) { pages.free(allocated[index], pages: 1) }
        #expect(pages.freePages == 32)
        #expect(pages.allocate(pages: 2) == nil)
        pages.free(allocated[1], pages: 1)
        #expect(pages.allocate(pages: 3) == allocated[0])
    }

    @Test func largeRangesUseSeveralBitmapPages() throws {
        let count = 34000   // more than the 32768 pages one bitmap page describes
        let buffer = HostBuffer(size: count * 4096)
        defer { buffer.release() }
        var pages = PageAllocator()
        #expect(pages.addRange(base: buffer.address, size: UInt(count) * page) == true)
        #expect(pages.totalPages == count)
        #expect(pages.freePages == count - 2)
        #expect(!pages.isFree(buffer.address + page))
        let all = try unwrap(pages.allocate(pages: count - 2))
        #expect(all == buffer.address + 2 * page)
        #expect(pages.allocate(pages: 1) == nil)
        pages.free(all + 32767 * page, pages: 100)   // a run across bitmap words and bitmap pages
        let again = try unwrap(pages.allocate(pages: 100, alignmentPages: 1))
        #expect(again == all + 32767 * page)
        pages.free(all, pages: count - 2)
        #expect(pages.freePages == count - 2)
    }

    @Test func randomAllocateAndFreeNeverOverlapsAndKeepsExactCounts() {
        let first = HostBuffer(size: 300 * 4096), second = HostBuffer(size: 200 * 4096)
        defer { first.release(); second.release() }
        var pages = PageAllocator()
        pages.addRange(base: first.address, size: 300 * page)
        pages.addRange(base: second.address + 123, size: 200 * page - 123)
        let initialFree = pages.freePages
        #expect(initialFree == 299 + 198)

        var random = SplitMix64(seed: 0x9A6E_0001)
        var live: [(address: UInt, pages: Int, mark: UInt64)] = []
        var livePages = 0
        var failures = 0
        for step in 0..<4000 {
            if !live.isEmpty && Int.random(in: 0..<100, using: &random) < 45 {
                let run = live.remove(at: Int.random(in: 0..<live.count, using: &random))
                for index in 0..<run.pages {
                    let word = UnsafeMutablePointer<UInt64>(bitPattern: run.address + UInt(index) * page)!
                    #expect(word.pointee == run.mark &+ UInt64(index), "page contents changed")
                }
                pages.free(run.address, pages: run.pages)
                livePages -= run.pages
            } else {
                let count = Int.random(in: 1...12, using: &random)
                let alignment = 1 << Int.random(in: 0...3, using: &random)
                guard let address = pages.allocate(pages: count, alignmentPages: alignment) else {
                    failures += 1
                    continue
                }
                #expect(address % (UInt(alignment) * page) == 0)
                let inFirst = address >= first.address && address + UInt(count) * page <= first.end
                let inSecond = address >= second.address && address + UInt(count) * page <= second.end
                #expect(inFirst || inSecond)
                let end = address + UInt(count) * page
                #expect(!live.contains { $0.address < end && address < $0.address + UInt($0.pages) * page },
                        "overlapping runs at step \(step)")
                let mark = UInt64(step) << 20
                for index in 0..<count {
                    UnsafeMutablePointer<UInt64>(bitPattern: address + UInt(index) * page)!.pointee =
                        mark &+ UInt64(index)
                }
                live.append((address, count, mark))
                livePages += count
            }
            #expect(pages.freePages == initialFree - livePages)
        }
        #expect(failures > 0)   // the run does reach exhaustion now and then
        for run in live { pages.free(run.address, pages: run.pages) }
        #expect(pages.freePages == initialFree)
    }
}
