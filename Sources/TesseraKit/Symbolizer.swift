// Symbolizer: turns the raw addresses of a guest crash report into function names.
//
// The guest prints backtrace lines as "  #N 0x<16 hex digits>"; this appends "  <function> + 0x<offset>"
// using the unstripped image's symbol table, demangled with swift-demangle when it is available.

import Foundation

public struct Symbolizer {
    let elf: ELFFile
    let demangler: URL?

    public init(image: URL) throws {
        elf = try ELFFile(contentsOf: image)
        demangler = findExecutable("swift-demangle")
    }

    public func symbolize(line: String) -> String {
        guard let hashIndex = line.firstIndex(of: "#"), line[..<hashIndex].allSatisfy({ $0 == " " }),
              let addressStart = line.range(of: " 0x", range: hashIndex..<line.endIndex) else { return line }
        let digits = line[addressStart.upperBound...]
        guard digits.count == 16, let address = UInt64(digits, radix: 16),
              let (symbol, offset) = elf.function(containing: address) else { return line }
        return line + "  " + demangle(symbol.name) + " + 0x" + String(offset, radix: 16)
    }

    func demangle(_ name: String) -> String {
        guard name.hasPrefix("$"), let demangler,
              let result = try? runCommand(demangler, ["--simplified", "--compact", name]),
              result.status == 0 else { return name }
        let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? name : text
    }
}

/// A symbolizer made on the first line that needs one: reading the debug image costs a few
/// milliseconds, which a run without a crash report should not pay.
public final class LazySymbolizer {
    let image: URL?
    var loaded: Symbolizer??

    public init(image: URL?) { self.image = image }

    public func symbolize(line: String) -> String {
        guard line.contains("#"), line.contains(" 0x"), let image else { return line }
        if loaded == nil { loaded = .some(try? Symbolizer(image: image)) }
        return loaded!.map { $0.symbolize(line: line) } ?? line
    }
}

