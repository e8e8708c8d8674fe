// EmbeddedFiles: read-only files built into the image from the manifest's `files:` folder.
//
// `tessera build` generates a table for every image that contains this library (empty when the
// manifest has no `files:`): one entry per file, holding the address and length of its path and of its
// contents, sorted by path bytes; the layout is documented in Sources/TesseraKit/EmbeddedFilesAssembly.swift.
// Paths are the file's path under the folder with a leading "/" ("/index.html", "/css/site.css"), made
// of ASCII letters, digits, '-', '.', '_', '~' and '/'. Nothing is copied: an `EmbeddedFile` points into
// the image's read-only data, valid for the whole run, so `bytes` can be sent without a copy.
// Lookup by path is a binary search over the table; iteration goes in path order.
// An image whose code never asks for a file drops the table and the files at link time (--gc-sections).

@_extern(c, "tessera_embedded_files_table_get") func _embeddedFilesTable() -> UnsafeRawPointer
@_extern(c, "tessera_embedded_files_count_get") func _embeddedFilesCount() -> Int

/// One embedded file: its path and its contents, both in the image's read-only data.
public struct EmbeddedFile {
    /// The path's UTF-8 bytes ("/css/site.css"): no allocation, for comparing with request bytes.
    public let pathBytes: UnsafeRawBufferPointer
    /// The file's contents.
    public let bytes: UnsafeRawBufferPointer

    /// The path as a String (a copy of `pathBytes`).
    public var path: String { String(decoding: pathBytes, as: UTF8.self) }
}

/// Every embedded file, in path order.
public struct EmbeddedFileList: RandomAccessCollection {
    /// The table: 32-byte entries of four words (path address, path length, data address, data length).
    let table: UnsafeRawPointer
    public let startIndex = 0
    public let endIndex: Int

    init(table: UnsafeRawPointer, count: Int) {
        self.table = table
        self.endIndex = count
    }

    public subscript(position: Int) -> EmbeddedFile {
        precondition(position >= 0 && position < endIndex, "embedded file index out of range")
        let entry = table + position &* 32
        return EmbeddedFile(pathBytes: Self.buffer(entry, 0), bytes: Self.buffer(entry, 16))
    }

    private static func buffer(_ entry: UnsafeRawPointer, _ offset: Int) -> UnsafeRawBufferPointer {
        let address = entry.load(fromByteOffset: offset, as: UInt.self)
        let count = entry.load(fromByteOffset: offset + 8, as: Int.self)
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: count)
    }

    /// The file whose path is exactly `path`, by binary search.
    public func file(path: UnsafeRawBufferPointer) -> EmbeddedFile? {
        var low = 0, high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            let candidate = self[middle]
            switch Self.compare(candidate.pathBytes, path) {
            case 0: return candidate
            case ..<0: low = middle + 1
            default: high = middle
            }
        }
        return nil
    }

    /// Byte order, shorter first on a common prefix: negative, zero or positive (the table's order).
    private static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = Swift.min(a.count, b.count)
        var index = 0
        while index < common {
            if a[index] != b[index] { return Int(a[index]) - Int(b[index]) }
            index += 1
        }
        return a.count - b.count
    }
}

public enum EmbeddedFiles {
    /// How many files the image holds.
    public static var count: Int { _embeddedFilesCount() }

    /// Every file, in path order: `for file in EmbeddedFiles.all { ... }`.
    public static var all: EmbeddedFileList {
        EmbeddedFileList(table: _embeddedFilesTable(), count: _embeddedFilesCount())
    }

    /// The file at `index` (0 ..< count) in path order, or nil.
    public static func file(at index: Int) -> EmbeddedFile? {
        let list = all
        return index >= 0 && index < list.count ? list[index] : nil
    }

    /// The file whose path is exactly `path` ("/index.html"; no normalization), or nil.
    public static func file(path: String) -> EmbeddedFile? {
        // Embedded Swift has no bridged (foreign) strings: every String's UTF-8 is contiguous, so this
        // never copies and never returns nil for want of storage (cheaper than `withUTF8`, which must copy).
        path.utf8.withContiguousStorageIfAvailable { all.file(path: UnsafeRawBufferPointer($0)) } ?? nil
    }

    /// The file whose path is exactly the bytes `path`, or nil; allocates nothing.
    public static func file(path: UnsafeRawBufferPointer) -> EmbeddedFile? {
        all.file(path: path)
    }
}
