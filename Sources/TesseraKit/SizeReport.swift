// SizeReport: where an image's bytes come from, per micro-library.
//
// The linker map (ld.lld -Map) lists every input section that survived --gc-sections, with its size,
// its object file and the output section it went to. Each object belongs to one library (the build
// knows which), so summing input sections per library and per kind (text = .text; rodata = .rodata
// and notes; data = .data and .got; bss = .bss) gives an exact breakdown of the linked image. String
// and constant literals that the linker merged across objects are shown as "(merged constants)".

import Foundation

public struct SizeReport {
    public struct Row: Equatable {
        public var library: String
        public var text = 0, rodata = 0, data = 0, bss = 0
        public var total: Int { text + rodata + data + bss }
    }

    public var rows: [Row]
    /// The bootable (stripped) image file's size.
    public var imageFileBytes: Int

    public var total: Row {
        rows.reduce(into: Row(library: "total")) {
            $0.text += $1.text; $0.rodata += $1.rodata; $0.data += $1.data; $0.bss += $1.bss
        }
    }

    /// Parses `map`, attributing each object path in `owners` (path -> library) to its library;
    /// archive members (the Swift Unicode tables) are grouped under the archive's name.
    public init(map: String, owners: [String: String], imageFileBytes: Int) {
        var byLibrary: [String: Row] = [:]
        var outputSection = ""
        for line in map.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5, let size = Int(fields[2], radix: 16) else { continue }
            let rest = fields[4...].joined(separator: " ")
            // Output sections start at column 48 ("Out"); input sections are indented further.
            let column = line.distance(from: line.startIndex, to: line.firstIndex(of: fields[4].first!)!)
            if rest.hasPrefix(".") && column < 50 {
                outputSection = String(fields[4])
                continue
            }
            guard let colon = rest.range(of: ":("), size > 0 else { continue }
            let path = String(rest[..<colon.lowerBound])
            let library = path == "<internal>" ? "(merged constants)" : owners[path] ?? Self.archiveName(path)
            var row = byLibrary[library] ?? Row(library: library)
            switch outputSection {
            case ".text": row.text += size
            case ".rodata", ".note.tessera": row.rodata += size
            case ".data": row.data += size
            case ".bss": row.bss += size
            default: continue            // not loaded: symbol tables, comments
            }
            byLibrary[library] = row
        }
        rows = byLibrary.values.sorted { $0.total != $1.total ? $0.total > $1.total : $0.library < $1.library }
        self.imageFileBytes = imageFileBytes
    }

    static func archiveName(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        if let paren = base.firstIndex(of: "(") { return String(base[..<paren]) }
        return base
    }

    public init(product: BuildProduct) throws {
        let map = try String(contentsOf: product.map, encoding: .utf8)
        let owners = Dictionary(product.objects.map { ($0.url.path, $0.library) }, uniquingKeysWith: { a, _ in a })
        let attributes = try FileManager.default.attributesOfItem(atPath: product.image.path)
        self.init(map: map, owners: owners, imageFileBytes: (attributes[.size] as? Int) ?? 0)
    }

    /// A table for people.
    public func formatted() -> String {
        func cell(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        var lines = ["library".padding(toLength: 28, withPad: " ", startingAt: 0)
            + cell("text", 9) + cell("rodata", 9) + cell("data", 9) + cell("bss", 9) + cell("total", 10)]
        for row in rows + [total] {
            lines.append(row.library.padding(toLength: 28, withPad: " ", startingAt: 0)
                + cell("\(row.text)", 9) + cell("\(row.rodata)", 9) + cell("\(row.data)", 9)
                + cell("\(row.bss)", 9) + cell("\(row.total)", 10))
        }
        lines.append("image file: \(imageFileBytes) bytes (\(imageFileBytes / 1024) KiB), loaded: \(total.text + total.rodata + total.data) bytes, bss: \(total.bss) bytes")
        return lines.joined(separator: "\n")
    }
}
