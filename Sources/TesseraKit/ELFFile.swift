// ELFFile: a checked reader for the 64-bit little-endian ELF images Tessera builds.
//
// It reads what the host side needs: program headers (segment permissions, for the "no segment both
// writable and executable" check and, later, the monitor's loader), section headers, and the symbol
// table (to symbolize crash backtraces and to prove that unselected libraries left no symbols).
// Every offset and size read from the file is bounds-checked; a malformed file is an error, not a trap.

import Foundation

public struct ELFFile {
    public struct Segment: Equatable {
        public var type: UInt32
        public var flags: UInt32
        public var offset: UInt64
        public var virtualAddress: UInt64
        public var physicalAddress: UInt64
        public var fileSize: UInt64
        public var memorySize: UInt64
        public var isLoad: Bool { type == 1 }
        public var isWritable: Bool { flags & 2 != 0 }
        public var isExecutable: Bool { flags & 1 != 0 }
    }

    public struct Section {
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        public var address: UInt64
        public var offset: UInt64
        public var size: UInt64
        public var link: UInt32
        public var entrySize: UInt64
    }

    public struct Symbol {
        public var name: String
        public var value: UInt64
        public var size: UInt64
        /// STT_FUNC = 2, STT_OBJECT = 1.
        public var type: UInt8
        public var isFunction: Bool { type == 2 }
    }

    public var entry: UInt64
    public var segments: [Segment]
    public var sections: [Section]
    public var symbols: [Symbol]

    public init(contentsOf url: URL) throws {
        try self.init(bytes: [UInt8](try Data(contentsOf: url)))
    }

    public init(bytes: [UInt8]) throws {
        let reader = ByteReader(bytes: bytes)
        guard bytes.count >= 64, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else {
            throw ToolError("not an ELF file")
        }
        guard bytes[4] == 2, bytes[5] == 1 else { throw ToolError("not a 64-bit little-endian ELF file") }
        entry = try reader.u64(24)
        let programHeaders = try reader.u64(32), sectionHeaders = try reader.u64(40)
        let programEntrySize = Int(try reader.u16(54)), programCount = Int(try reader.u16(56))
        let sectionEntrySize = Int(try reader.u16(58)), sectionCount = Int(try reader.u16(60))
        let namesIndex = Int(try reader.u16(62))

        segments = []
        for index in 0..<programCount {
            let at = try reader.offset(programHeaders, plus: index * programEntrySize, size: 56)
            segments.append(Segment(type: try reader.u32(at), flags: try reader.u32(at + 4),
                                    offset: try reader.u64(at + 8), virtualAddress: try reader.u64(at + 16),
                                    physicalAddress: try reader.u64(at + 24), fileSize: try reader.u64(at + 32),
                                    memorySize: try reader.u64(at + 40)))
        }

        var rawSections: [(nameOffset: UInt32, section: Section)] = []
        for index in 0..<sectionCount {
            let at = try reader.offset(sectionHeaders, plus: index * sectionEntrySize, size: 64)
            rawSections.append((try reader.u32(at), Section(
                name: "", type: try reader.u32(at + 4), flags: try reader.u64(at + 8),
                address: try reader.u64(at + 16), offset: try reader.u64(at + 24), size: try reader.u64(at + 32),
                link: try reader.u32(at + 40), entrySize: try reader.u64(at + 56))))
        }
        if namesIndex < rawSections.count {
            let names = rawSections[namesIndex].section
            for index in rawSections.indices {
                rawSections[index].section.name = try reader.string(table: names, at: rawSections[index].nameOffset)
            }
        }
        sections = rawSections.map(\.section)

        symbols = []
        for table in sections where table.type == 2 /* SHT_SYMTAB */ {
            guard Int(table.link) < sections.count, table.entrySize >= 24 else { continue }
            let strings = sections[Int(table.link)]
            let count = Int(table.size / table.entrySize)
            for index in 0..<count {
                let at = try reader.offset(table.offset, plus: index * Int(table.entrySize), size: 24)
                let name = try reader.string(table: strings, at: try reader.u32(at))
                guard !name.isEmpty else { continue }
                symbols.append(Symbol(name: name, value: try reader.u64(at + 8), size: try reader.u64(at + 16),
                                      type: try reader.u8(at + 4) & 0xF))
            }
        }
    }

    /// The function containing `address`, and the offset into it.
    public func function(containing address: UInt64) -> (symbol: Symbol, offset: UInt64)? {
        var best: Symbol?
        for symbol in symbols where symbol.isFunction && symbol.value <= address {
            if address < symbol.value + max(symbol.size, 1), best == nil || symbol.value > best!.value {
                best = symbol
            }
        }
        return best.map { ($0, address - $0.value) }
    }
}

/// Bounds-checked little-endian reads.
struct ByteReader {
    let bytes: [UInt8]

    func offset(_ base: UInt64, plus delta: Int, size: Int) throws -> Int {
        let (start, overflow) = base.addingReportingOverflow(UInt64(delta))
        guard !overflow, start <= UInt64(bytes.count), UInt64(bytes.count) - start >= UInt64(size) else {
            throw ToolError("ELF structure at offset \(base)+\(delta) runs past the end of the file")
        }
        return Int(start)
    }

    func u8(_ at: Int) throws -> UInt8 { bytes[try offset(0, plus: at, size: 1)] }
    func u16(_ at: Int) throws -> UInt16 { UInt16(try u(at, 2)) }
    func u32(_ at: Int) throws -> UInt32 { UInt32(try u(at, 4)) }
    func u64(_ at: Int) throws -> UInt64 { try u(at, 8) }

    private func u(_ at: Int, _ size: Int) throws -> UInt64 {
        let start = try offset(0, plus: at, size: size)
        var value: UInt64 = 0
        for index in (0..<size).reversed() { value = value << 8 | UInt64(bytes[start + index]) }
        return value
    }

    func string(table: ELFFile.Section, at nameOffset: UInt32) throws -> String {
        guard UInt64(nameOffset) < table.size else { return "" }
        var index = try offset(table.offset, plus: Int(nameOffset), size: 1)
        let limit = min(bytes.count, Int(table.offset + table.size))
        var end = index
        while end < limit && bytes[end] != 0 { end += 1 }
        defer { index = end }
        return String(decoding: bytes[index..<end], as: UTF8.self)
    }
}
