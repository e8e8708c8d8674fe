// Test support: throwaway folders holding manifests, library folders and a synthetic catalog.
//
// Every test builds its own files in a fresh temporary folder (removed when the fixture is released), so
// tests run in parallel and nothing in the repository's lib/ affects them. `standardCatalog` writes a
// small library set shaped like the real one (core kernel, allocator/console/platform APIs with their
// implementations, an API without default) that the graph tests resolve against.

import Foundation
import Testing
import TesseraKit

final class Fixture {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "tessera-kit-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    func path(_ relative: String) -> String { root + "/" + relative }

    /// Writes `text` to `relative`, creating folders; returns the full path.
    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        let full = path(relative)
        let folder = (full as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }

    /// A library folder `folder/name` with `library.yaml` and one source file per entry of `sources`.
    @discardableResult
    func library(_ name: String, in folder: String = "lib", _ yaml: String,
                 sources: [String] = ["Source.swift"]) throws -> String {
        try write("\(folder)/\(name)/library.yaml", yaml)
        for source in sources {
            try write("\(folder)/\(name)/\(source)", "// \(source)\n")
        }
        return path("\(folder)/\(name)")
    }

    /// An app folder with `tessera.yaml` and its sources; returns the manifest path.
    @discardableResult
    func app(_ manifest: String, in folder: String = "app", sources: [String] = ["main.swift"]) throws -> String {
        for source in sources {
            try write("\(folder)/\(source)", "// app source\n")
        }
        return try write("\(folder)/tessera.yaml", manifest)
    }

    /// A descriptor with the usual required keys plus `extra` lines.
    func simpleLibrary(_ name: String, in folder: String = "lib", module: String? = nil,
                       _ extra: String = "") throws {
        let module = module ?? name.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        try library(name, in: folder, """
            name: \(name)
            module: \(module)
            description: The \(name) library.
            \(extra)
            """)
    }

    /// A catalog shaped like lib/: see the file comment.
    func standardCatalog(in folder: String = "lib") throws {
        try simpleLibrary("arch", in: folder, "core: true")
        try simpleLibrary("kernel", in: folder, "core: true\nrequires: [arch, platform-api, allocator-api, console-api]")
        try simpleLibrary("allocator-api", in: folder, "api:\n  slot: allocator\n  protocol: Allocator\n  default: alloc-tlsf")
        try simpleLibrary("alloc-tlsf", in: folder, "requires: [allocator-api]\nimplements: allocator\ntype: TLSFAllocator")
        try simpleLibrary("alloc-region", in: folder,
                          "requires: [allocator-api]\nimplements: allocator\ntype: RegionAllocator")
        try simpleLibrary("console-api", in: folder, "api:\n  slot: console\n  protocol: Console\n  default: console-serial")
        try simpleLibrary("console-serial", in: folder,
                          "requires: [console-api, arch]\nimplements: console\ntype: Serial16550")
        try simpleLibrary("console-vga", in: folder, "requires: [console-api]\nimplements: console\ntype: VGAText")
        try simpleLibrary("platform-api", in: folder, "api:\n  slot: platform\n  protocol: Platform")
        try simpleLibrary("platform-microvm", in: folder,
                          "requires: [platform-api, arch]\nimplements: platform\ntype: MicroVM\nmachines: [qemu-microvm]")
        try simpleLibrary("platform-pc", in: folder,
                          "requires: [platform-api, arch]\nimplements: platform\ntype: PC\nmachines: [qemu-pc, qemu-q35]")
        try simpleLibrary("line-editor", in: folder)
        try simpleLibrary("shell", in: folder, "requires: [console-api, line-editor]")
        try simpleLibrary("net-api", in: folder, "api:\n  slot: network\n  protocol: NetworkDevice")
        try simpleLibrary("net-virtio", in: folder, "requires: [net-api]\nimplements: network\ntype: VirtioNet")
        try simpleLibrary("http", in: folder, "requires: [net-api]")
    }
}

/// Runs `body`, which must throw `Diagnostics`; returns its errors (recording an issue otherwise).
func expectDiagnostics<T>(_ body: () throws -> T,
                          sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Diagnostic] {
    do {
        let value = try body()
        Issue.record("expected errors, got \(value)", sourceLocation: sourceLocation)
    } catch let diagnostics as Diagnostics {
        return diagnostics.errors
    } catch {
        Issue.record("expected Diagnostics, got \(error)", sourceLocation: sourceLocation)
    }
    return []
}

/// Expects exactly one error; returns it.
func expectSingleError<T>(_ body: () throws -> T,
                          sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
    let errors = expectDiagnostics(body, sourceLocation: sourceLocation)
    #expect(errors.count == 1, "errors: \(errors)", sourceLocation: sourceLocation)
    return errors.first
}

extension Diagnostic {
    var line: Int? { location.line }
    var column: Int? { location.column }
    var file: String { location.file }
}
