// The physical page-frame allocator.
//
// Physical memory arrives as up to `maxRanges` ranges (from the boot memory map). Each range is cut to
// whole 4096-byte pages and gets a bitmap with one bit per page, 1 = used. The bitmap is stored in the
// first pages of the range itself, which are marked used, so the allocator needs no memory of its own
// and the struct is a few words per range:
//
//     base                                                           base + pages * 4096
//     | bitmap pages (used) | page | page | page | ...                              |
//
// One bitmap page covers 32768 pages (128 MiB). Page 0 is never managed, so that no bitmap or page is
// ever at the null address. Memory is reached through UnsafeMutableRawPointer(bitPattern:) of the
// physical address: the kernel runs identity-mapped, and host tests simply pass host buffers.
//
//     allocate(pages:alignmentPages:)  first fit within one range: start at the first aligned page at
//                     or after the range's search hint, find the first used page in the candidate run
//                     (a word at a time), and if there is one jump to the next free page after it,
//                     rounded up to the alignment. The hint is a page index below which every page is
//                     used; it only moves up past an allocation that started at it, and down on free.
//     free            checks the run is inside a range, not in its bitmap, and entirely used (so a
//                     double free traps), then clears the bits.
//     reserve         marks pages used (the kernel image, tables the firmware handed over); it rounds
//                     outward, clips to the ranges, and ignores pages that are already used.
//
// Statistics count pages: `totalPages` includes the bitmap pages, which are counted as used.

public struct PageAllocator {
    public static var pageSize: UInt { 4096 }
    public static var maxRanges: Int { 8 }
    /// Pages one bitmap page describes.
    static var pagesPerBitmapPage: Int { 4096 * 8 }

    struct Range {
        /// Address of the range's first page, which is also where its bitmap starts.
        var base: UInt = 0
        /// Pages in the range, bitmap pages included.
        var pages = 0
        var freePages = 0
        /// Every page below this index is used.
        var searchStart = 0

        var end: UInt { base + UInt(pages) * PageAllocator.pageSize }
        var bitmapPages: Int { (pages + PageAllocator.pagesPerBitmapPage - 1) / PageAllocator.pagesPerBitmapPage }
        var words: UnsafeMutablePointer<UInt64> { UnsafeMutablePointer(bitPattern: base).unsafelyUnwrapped }
    }

    var ranges = (Range(), Range(), Range(), Range(), Range(), Range(), Range(), Range())
    var rangeCount = 0

    public init() {}

    public var totalPages: Int {
        var sum = 0
        for index in 0..<rangeCount { sum += self[index].pages }
        return sum
    }

    public var freePages: Int {
        var sum = 0
        for index in 0..<rangeCount { sum += self[index].freePages }
        return sum
    }

    public var usedPages: Int { totalPages - freePages }

    /// Adds the whole pages inside `base ..< base + size`. Returns false when all ranges are taken,
    /// when the range overlaps one already added, or when it has no page left beyond its bitmap.
    @discardableResult
    public mutating func addRange(base: UInt, size: UInt) -> Bool {
        let page = Self.pageSize
        guard rangeCount < Self.maxRanges, size > 0, size <= UInt.max - page, base <= UInt.max - page - size else {
            return false
        }
        var start = (base + page - 1) & ~(page - 1)
        let end = (base + size) & ~(page - 1)
        if start == 0 { start = page }
        guard end > start else { return false }
        var range = Range(base: start, pages: Int((end - start) / page))
        guard range.pages > range.bitmapPages else { return false }
        for index in 0..<rangeCount {
            let other = self[index]
            if start < other.end && other.base < end { return false }
        }
        range.words.initialize(repeating: 0, count: (range.pages + 63) / 64)
        Self.setRun(range, from: 0, count: range.bitmapPages, used: true)
        range.freePages = range.pages - range.bitmapPages
        range.searchStart = range.bitmapPages
        self[rangeCount] = range
        rangeCount += 1
        return true
    }

    /// The address of `pages` free contiguous pages whose address is a multiple of `alignmentPages`
    /// pages, now marked used; nil when no single range has such a run.
    public mutating func allocate(pages: Int, alignmentPages: Int = 1) -> UInt? {
        precondition(pages > 0, "pages: allocation of no pages")
        precondition(alignmentPages > 0 && alignmentPages & (alignmentPages - 1) == 0,
                     "pages: alignment not a power of two")
        let (alignBytes, overflow) = UInt(alignmentPages).multipliedReportingOverflow(by: Self.pageSize)
        guard !overflow else { return nil }
        for index in 0..<rangeCount {
            var range = self[index]
            guard range.freePages >= pages else { continue }
            var candidate = Self.firstAligned(range, atOrAfter: range.searchStart, alignBytes: alignBytes)
            while candidate <= range.pages - pages {
                guard let used = Self.firstPage(range, from: candidate, to: candidate + pages, used: true) else {
                    Self.setRun(range, from: candidate, count: pages, used: true)
                    range.freePages -= pages
                    if candidate == range.searchStart { range.searchStart = candidate + pages }
                    self[index] = range
                    return range.base + UInt(candidate) * Self.pageSize
                }
                guard let free = Self.firstPage(range, from: used + 1, to: range.pages, used: false) else { break }
                candidate = Self.firstAligned(range, atOrAfter: free, alignBytes: alignBytes)
            }
        }
        return nil
    }

    /// Returns `pages` pages starting at `address`, which must all be allocated (or reserved).
    public mutating func free(_ address: UInt, pages: Int) {
        precondition(pages > 0, "pages: free of no pages")
        guard let index = rangeIndex(containing: address) else {
            preconditionFailure("pages: free of an address outside every range")
        }
        var range = self[index]
        precondition(address % Self.pageSize == 0, "pages: free of an unaligned address")
        let first = Int((address - range.base) / Self.pageSize)
        precondition(first >= range.bitmapPages && pages <= range.pages - first, "pages: free out of range")
        precondition(Self.firstPage(range, from: first, to: first + pages, used: false) == nil,
                     "pages: double free")
        Self.setRun(range, from: first, count: pages, used: false)
        range.freePages += pages
        if first < range.searchStart { range.searchStart = first }
        self[index] = range
    }

    /// Marks every page touching `base ..< base + size` used, where it lies in a range.
    public mutating func reserve(base: UInt, size: UInt) {
        guard size > 0 else { return }
        let pageSize = Self.pageSize
        let start = base & ~(pageSize - 1)
        let last = base > UInt.max - size ? UInt.max : base + size
        for index in 0..<rangeCount {
            var range = self[index]
            let low = max(start, range.base)
            let high = min(last, range.end)
            guard low < high else { continue }
            let first = Int((low - range.base) / pageSize)
            let end = Int((high - range.base + pageSize - 1) / pageSize)
            for page in first..<end where !Self.isUsed(range, page) {
                Self.setRun(range, from: page, count: 1, used: true)
                range.freePages -= 1
            }
            self[index] = range
        }
    }

    /// Whether the page holding `address` is in a range and free.
    public func isFree(_ address: UInt) -> Bool {
        guard let index = rangeIndex(containing: address) else { return false }
        let range = self[index]
        return !Self.isUsed(range, Int((address - range.base) / Self.pageSize))
    }

    func rangeIndex(containing address: UInt) -> Int? {
        for index in 0..<rangeCount {
            let range = self[index]
            if address >= range.base && address < range.end { return index }
        }
        return nil
    }

    // MARK: The bitmap

    static func isUsed(_ range: Range, _ page: Int) -> Bool {
        range.words[page / 64] & (1 << UInt64(page % 64)) != 0
    }

    /// Sets or clears the bits of `from ..< from + count`, a word at a time.
    static func setRun(_ range: Range, from: Int, count: Int, used: Bool) {
        var page = from
        let end = from + count
        while page < end {
            let bit = page % 64
            let bits = min(64 - bit, end - page)
            let mask: UInt64 = (bits == 64 ? ~0 : (1 << UInt64(bits)) - 1) << UInt64(bit)
            let word = range.words[page / 64]
            range.words[page / 64] = used ? word | mask : word & ~mask
            page += bits
        }
    }

    /// The first page in `from ..< to` whose bit is `used`, scanning a word at a time.
    static func firstPage(_ range: Range, from: Int, to: Int, used: Bool) -> Int? {
        var page = from
        while page < to {
            var word = range.words[page / 64]
            if !used { word = ~word }
            word &= ~0 << UInt64(page % 64)
            if word != 0 {
                let found = page / 64 * 64 + word.trailingZeroBitCount
                return found < to ? found : nil
            }
            page = (page / 64 + 1) * 64
        }
        return nil
    }

    /// The first page index at or after `page` whose address is a multiple of `alignBytes`
    /// (`range.pages` or more when there is none).
    static func firstAligned(_ range: Range, atOrAfter page: Int, alignBytes: UInt) -> Int {
        let address = range.base + UInt(page) * pageSize
        let (bumped, overflow) = address.addingReportingOverflow(alignBytes - 1)
        guard !overflow else { return range.pages }
        let aligned = bumped & ~(alignBytes - 1)
        guard aligned < range.end else { return range.pages }
        return Int((aligned - range.base) / pageSize)
    }

    /// The ranges tuple read and written as an array (a homogeneous tuple is laid out like one).
    subscript(index: Int) -> Range {
        get {
            precondition(index >= 0 && index < Self.maxRanges)
            return withUnsafeBytes(of: ranges) {
                $0.load(fromByteOffset: index * MemoryLayout<Range>.stride, as: Range.self)
            }
        }
        set {
            precondition(index >= 0 && index < Self.maxRanges)
            withUnsafeMutableBytes(of: &ranges) {
                $0.storeBytes(of: newValue, toByteOffset: index * MemoryLayout<Range>.stride, as: Range.self)
            }
        }
    }
}
