// FileData: a ramfs file's bytes, in 4 KiB pages allocated on first write.
//
// A page is allocated only when a write touches it, so holes (a seek past the end, a truncate that
// grows the file) read as zeros and cost nothing, as on tmpfs; `st_blocks` counts allocated pages (8
// blocks of 512 bytes each). Pages come from the file system's page source: in an image the kernel's
// fallible page allocation, so running out of memory is ENOMEM for the writer, not a panic for the image. A
// write first counts the pages it needs, charges them against the limit (ENOSPC), then allocates; if
// an allocation fails it releases what it took and changes nothing. Pages are never moved, so a large
// file never needs a second copy of itself (an array that doubles would).
//
// A file can also start out *borrowing* its bytes (`borrow`): the root file system's files point into
// the archive in the image's read-only data, which lives as long as the image, so unpacking a 10 MiB
// root file system copies nothing and costs no ramfs memory. A borrowed page is read in place; the first
// write to it copies it into an owned page (copy on write), and a truncate below it only shortens the
// borrowed range. Borrowed bytes are never written. Memory charges count owned pages only; `st_blocks`
// counts every page that holds data, borrowed or owned, so `du` agrees with what was packed.
//
// Ownership: the owned pages belong to this value; `release` must be called before it is dropped.
// The borrowed bytes belong to whoever lent them and must outlive the file system.

import VFS

/// Where ramfs pages come from: `allocate` returns nil when memory is short.
public struct PageSource {
    public let allocate: () -> UnsafeMutableRawPointer?
    public let release: (UnsafeMutableRawPointer) -> Void

    public init(allocate: @escaping () -> UnsafeMutableRawPointer?, release: @escaping (UnsafeMutableRawPointer) -> Void) {
        self.allocate = allocate
        self.release = release
    }

    /// The Swift heap (host tests, or images that accept a panic on exhaustion).
    public static var heap: PageSource {
        PageSource(allocate: { UnsafeMutableRawPointer.allocate(byteCount: FileData.pageSize, alignment: 16) },
                   release: { $0.deallocate() })
    }
}

struct FileData {
    static let pageSize = 4096
    private(set) var size = 0
    /// Page index → page; a dictionary, so a write far past the end costs one page, not a table.
    private var pages: [Int: UnsafeMutableRawPointer] = [:]
    private(set) var allocatedPages = 0
    /// Bytes lent at creation (the file's first `borrowed.count` bytes where no owned page covers them).
    private var borrowed = UnsafeRawBufferPointer(start: nil, count: 0)

    /// Bytes charged against the limit for this file.
    var chargedBytes: Int64 { Int64(allocatedPages * Self.pageSize) }

    /// Pages holding data, owned or borrowed (what `st_blocks` reports).
    var presentPages: Int {
        let borrowedPages = (borrowed.count + Self.pageSize - 1) / Self.pageSize
        guard borrowedPages > 0 else { return allocatedPages }
        return allocatedPages + borrowedPages - pages.keys.reduce(0) { $0 + ($1 < borrowedPages ? 1 : 0) }
    }

    /// The whole contents as one run of lent bytes, when the file is still exactly what was lent
    /// (no owned page, same size): a reader can use them in place, for as long as the lender lives.
    var lentContents: UnsafeRawBufferPointer? {
        pages.isEmpty && borrowed.count == size && size > 0 ? borrowed : nil
    }

    /// Makes an empty file's contents `bytes`, without copying them.
    mutating func borrow(_ bytes: UnsafeRawBufferPointer) {
        precondition(size == 0 && pages.isEmpty, "ramfs: only an empty file can borrow its contents")
        borrowed = bytes
        size = bytes.count
    }

    /// Fills `destination` (`count` bytes of page `index` from `within`) from the borrowed bytes, zeros past them.
    private func readBorrowed(page index: Int, within: Int, count: Int, into destination: UnsafeMutableRawPointer) {
        let position = index * Self.pageSize + within
        let available = max(0, min(count, borrowed.count - position))
        if available > 0 { destination.copyMemory(from: borrowed.baseAddress! + position, byteCount: available) }
        if available < count {
            (destination + available).initializeMemory(as: UInt8.self, repeating: 0, count: count - available)
        }
    }

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard offset < size, buffer.count > 0 else { return 0 }
        let count = min(buffer.count, size - offset)
        var done = 0
        while done < count {
            let position = offset + done
            let index = position / Self.pageSize, within = position % Self.pageSize
            let chunk = min(Self.pageSize - within, count - done)
            let destination = buffer.baseAddress! + done
            if let page = pages[index] {
                destination.copyMemory(from: page + within, byteCount: chunk)
            } else {
                readBorrowed(page: index, within: within, count: chunk, into: destination)
            }
            done += chunk
        }
        return count
    }

    /// Pages a write of `count` bytes at `offset` would allocate.
    func pagesNeeded(at offset: Int, count: Int) -> Int {
        guard count > 0 else { return 0 }
        var needed = 0
        for index in (offset / Self.pageSize)...((offset + count - 1) / Self.pageSize) where pages[index] == nil {
            needed += 1
        }
        return needed
    }

    /// Writes `bytes` at `offset` (the caller charged `pagesNeeded` pages). Fails with ENOMEM, changing
    /// nothing, when the source has no page to give.
    mutating func write(at offset: Int, _ bytes: UnsafeRawBufferPointer, source: PageSource) throws(FileError) {
        guard !bytes.isEmpty else { return }
        let first = offset / Self.pageSize, last = (offset + bytes.count - 1) / Self.pageSize
        var fresh: [Int] = []
        for index in first...last where pages[index] == nil {
            guard let page = source.allocate() else {
                for taken in fresh {
                    source.release(pages[taken]!)
                    pages[taken] = nil
                }
                allocatedPages -= fresh.count
                throw .noMemory
            }
            // Fill only what this write will not cover (a page written whole is not filled first): with
            // the borrowed bytes where the page had some (copy on write), zeros elsewhere.
            let pageStart = index * Self.pageSize
            let head = max(0, min(Self.pageSize, offset - pageStart))
            let tail = max(0, min(Self.pageSize, offset + bytes.count - pageStart))
            if head > 0 { readBorrowed(page: index, within: 0, count: head, into: page) }
            if tail < Self.pageSize { readBorrowed(page: index, within: tail, count: Self.pageSize - tail, into: page + tail) }
            pages[index] = page
            fresh.append(index)
            allocatedPages += 1
        }
        var done = 0
        while done < bytes.count {
            let position = offset + done
            let index = position / Self.pageSize, within = position % Self.pageSize
            let chunk = min(Self.pageSize - within, bytes.count - done)
            (pages[index]! + within).copyMemory(from: bytes.baseAddress! + done, byteCount: chunk)
            done += chunk
        }
        size = max(size, offset + bytes.count)
    }

    /// Sets the size: growing adds a hole; shrinking releases whole pages past the end and zeroes the
    /// rest of the last page (so a later grow reads zeros). Returns the pages released.
    @discardableResult
    mutating func truncate(to newSize: Int, source: PageSource) -> Int {
        if newSize < borrowed.count {
            borrowed = newSize == 0 ? UnsafeRawBufferPointer(start: nil, count: 0)
                                    : UnsafeRawBufferPointer(start: borrowed.baseAddress, count: newSize)
        }
        if newSize < size {
            let keep = (newSize + Self.pageSize - 1) / Self.pageSize
            var released = 0
            for (index, page) in pages where index >= keep {
                source.release(page)
                pages[index] = nil
                released += 1
            }
            let within = newSize % Self.pageSize
            if within != 0, let page = pages[keep - 1] {
                (page + within).initializeMemory(as: UInt8.self, repeating: 0, count: Self.pageSize - within)
            }
            allocatedPages -= released
            size = newSize
            return released
        }
        size = newSize
        return 0
    }

    /// Releases every page (the file is gone).
    mutating func release(source: PageSource) {
        for (_, page) in pages { source.release(page) }
        pages = [:]
        allocatedPages = 0
        borrowed = UnsafeRawBufferPointer(start: nil, count: 0)
        size = 0
    }
}
