// Embedded files: the manifest's `files:` key (scanning, every refusal with its location), the graph
// adding `embedded-files`, and the generated assembly (escaping, and a table that assembles and links
// into exactly the files' paths and bytes).

import Foundation
import Testing
import TesseraKit

@Suite struct EmbeddedFilesManifestTests {
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
    }

    /// Writes `app/tessera.yaml` with `files: <value>` on line 3, column 8.
    func manifest(files value: String) throws -> String {
        try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\nfiles: \(value)\n")
    }

    @Test func listsEveryFileRecursivelySortedByPathBytes() throws {
        try fixture.write("app/www/index.html", "<p>hi</p>")
        try fixture.write("app/www/css/site.css", "p {}")
        try fixture.write("app/www/a-b", "")
        try fixture.write("app/www/.well-known/security.txt", "Contact: x")
        let manifest = try Manifest.load(path: try manifest(files: "www"))
        let files = try #require(manifest.files)
        // '-' (0x2D) sorts before '.' (0x2E) and '/' (0x2F): "/a-b" < "/css/site.css" is by bytes, not by walk.
        #expect(files.files.map(\.path) == ["/.well-known/security.txt", "/a-b", "/css/site.css", "/index.html"])
        #expect(files.files.map(\.size) == [10, 0, 4, 9])
        #expect(files.files.last?.source == fixture.path("app/www/index.html"))
        #expect(files.totalBytes == 23)
        #expect(manifest.filesFolder?.value == "www")
        #expect(manifest.filesFolder?.location.line == 3 && manifest.filesFolder?.location.column == 8)
    }

    @Test func trailingSlashAndEmptyFolderAreFine() throws {
        try FileManager.default.createDirectory(atPath: fixture.path("app/www"), withIntermediateDirectories: true)
        let manifest = try Manifest.load(path: try manifest(files: "www/"))
        #expect(manifest.files?.files.isEmpty == true)
    }

    @Test func noFilesKeyMeansNoFiles() throws {
        let manifest = try Manifest.load(path: try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\n"))
        #expect(manifest.files == nil && manifest.filesFolder == nil)
    }

    @Test func missingFolderIsALocatedError() throws {
        let path = try manifest(files: "www")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.description == "\(path):3:8: error: files folder 'www' does not exist "
                + "(looked for \(fixture.path("app/www")))")
    }

    @Test func fileInsteadOfFolder() throws {
        try fixture.write("app/index.html", "")
        let error = try #require(expectSingleError { try Manifest.load(path: try manifest(files: "index.html")) })
        #expect(error.message == "'files' must name a folder; 'index.html' is a file")
        #expect((error.line, error.column) == (3, 8))
    }

    @Test(arguments: [".", "..", "./"])
    func folderHoldingTheManifestIsRefused(value: String) throws {
        let error = try #require(expectSingleError { try Manifest.load(path: try manifest(files: value)) })
        #expect(error.message.hasSuffix("contains the manifest's folder, whose .tessera/ holds the build outputs; "
                                        + "put the files in a subfolder (e.g. www/)"))
    }

    @Test func wrongTypeIsReported() throws {
        let error = try #require(expectSingleError { try Manifest.load(path: try manifest(files: "[www]")) })
        #expect(error.message == "expected a string for 'files', found a list")
    }

    @Test func unsafeNamesAreEachReportedAtTheFilesKey() throws {
        try fixture.write("app/www/ok.txt", "")
        try fixture.write("app/www/my page.html", "")
        try fixture.write("app/www/caf\u{E9}.txt", "")
        try fixture.write("app/www/we$ird/inner.txt", "")      // the folder is refused, not entered
        try fixture.write("app/www/sub/a\"b", "")
        let path = try manifest(files: "www")
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        let allowed = " is not allowed in embedded file names (use letters, digits, '-', '.', '_' and '~')"
        #expect(errors.map(\.message) == [
            "cannot embed 'www/caf\u{E9}.txt': '\u{E9}' (U+00E9)" + allowed,
            "cannot embed 'www/my page.html': a space" + allowed,
            "cannot embed 'www/sub/a\"b': '\"'" + allowed,
            "cannot embed 'www/we$ird': '$'" + allowed,
        ])
        #expect(errors.allSatisfy { ($0.line, $0.column) == (3, 8) })
        #expect(errors.first?.description.hasPrefix("\(path):3:8: error: cannot embed") == true)
    }

    @Test func symbolicLinksToFilesAreFollowedOthersRefused() throws {
        let fm = FileManager.default
        try fixture.write("app/www/real.txt", "abc")
        try fixture.write("app/elsewhere/x", "")
        try fm.createSymbolicLink(atPath: fixture.path("app/www/alias.txt"), withDestinationPath: "real.txt")
        try fm.createSymbolicLink(atPath: fixture.path("app/www/dir"), withDestinationPath: "../elsewhere")
        try fm.createSymbolicLink(atPath: fixture.path("app/www/gone"), withDestinationPath: "nowhere")
        #expect(mkfifo(fixture.path("app/www/pipe"), 0o600) == 0)
        let errors = expectDiagnostics { try Manifest.load(path: try manifest(files: "www")) }
        #expect(errors.map(\.message) == [
            "cannot embed 'www/dir': a symbolic link to a folder (not followed; copy the folder or link its files)",
            "cannot embed 'www/gone': a broken symbolic link",
            "cannot embed 'www/pipe': not a regular file or a folder",
        ])
        try fm.removeItem(atPath: fixture.path("app/www/dir"))
        try fm.removeItem(atPath: fixture.path("app/www/gone"))
        try fm.removeItem(atPath: fixture.path("app/www/pipe"))
        let files = try #require(try Manifest.load(path: try manifest(files: "www")).files)
        #expect(files.files.map(\.path) == ["/alias.txt", "/real.txt"])
        #expect(files.files.map(\.size) == [3, 3])
    }

    @Test func totalAbove64MiBIsRefused() throws {
        try fixture.write("app/www/small", "x")
        let big = try fixture.write("app/www/big.bin", "")
        let handle = try #require(FileHandle(forWritingAtPath: big))
        try handle.truncate(atOffset: UInt64(EmbeddedFileSet.maximumTotalBytes))     // sparse: no disk used
        try handle.close()
        let error = try #require(expectSingleError { try Manifest.load(path: try manifest(files: "www")) })
        #expect(error.message == "the files under 'www' hold 67108865 bytes; embedded files may hold at most 64 MiB in all")
        #expect((error.line, error.column) == (3, 8))
        try FileManager.default.removeItem(atPath: fixture.path("app/www/small"))
        #expect(try Manifest.load(path: try manifest(files: "www")).files?.totalBytes == 64 << 20)
    }

    @Test func filesAddsTheEmbeddedFilesLibrary() throws {
        try fixture.standardCatalog()
        try fixture.simpleLibrary("embedded-files", module: "EmbeddedFiles")
        try FileManager.default.createDirectory(atPath: fixture.path("app/www"), withIntermediateDirectories: true)
        let catalog = try LibraryCatalog.load(searchPaths: [fixture.path("lib")])
        let with = try LibraryGraph.resolve(manifest: try Manifest.load(path: try manifest(files: "www")), catalog: catalog)
        #expect(with.libraries.contains { $0.name == "embedded-files" })
        let without = try LibraryGraph.resolve(manifest: try Manifest.load(path: try fixture.app(
            "name: hello\napp: {sources: [main.swift], type: Hello}\n")), catalog: catalog)
        #expect(!without.libraries.contains { $0.name == "embedded-files" })
    }

    @Test func filesWithoutTheLibraryInTheCatalogPointsAtTheKey() throws {
        try fixture.standardCatalog()
        try FileManager.default.createDirectory(atPath: fixture.path("app/www"), withIntermediateDirectories: true)
        let manifest = try Manifest.load(path: try manifest(files: "www"))
        let catalog = try LibraryCatalog.load(searchPaths: [fixture.path("lib")])
        let error = try #require(expectSingleError { try LibraryGraph.resolve(manifest: manifest, catalog: catalog) })
        #expect(error.message == "'files' needs the library 'embedded-files', which is not in the catalog "
                + "(searched: \(fixture.path("lib")))")
        #expect((error.line, error.column) == (3, 8))
    }
}

@Suite struct EmbeddedFilesAssemblyTests {
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
    }

    @Test func emptyTableHasTheSymbolsAndACountOfZero() {
        let text = EmbeddedFilesAssembly.generate(.empty)
        #expect(text.contains("tessera_embedded_files:\n    .size tessera_embedded_files, . - tessera_embedded_files"))
        #expect(text.contains("tessera_embedded_files_count:\n    .quad 0\n"))
        #expect(text.contains(".globl tessera_embedded_files_table_get"))
        #expect(text.contains(".globl tessera_embedded_files_count_get"))
        #expect(!text.contains(".incbin"))
    }

    @Test func pathsAreBytesAndHostPathsAreEscaped() {
        let set = EmbeddedFileSet(folder: "/tmp/we\"ird */ dir", files: [
            .init(path: "/b.txt", source: "/tmp/we\"ird */ dir\\\n$\u{E9}/b.txt", size: 1),
            .init(path: "/a", source: "/tmp/a", size: 0),
        ])
        let text = EmbeddedFilesAssembly.generate(set)
        // Sorted; the path as bytes; the comment sanitized.
        #expect(text.contains(".Lpath0:\n    .byte 0x2f, 0x61\n.Lpath0_end:"))
        #expect(text.contains(".Lpath1:\n    .byte 0x2f, 0x62, 0x2e, 0x74, 0x78, 0x74\n.Lpath1_end:"))
        #expect(text.contains(" * files: /tmp/we_ird__/_dir). Do not edit"))
        #expect(text.contains(#".incbin "/tmp/we\042ird\040\052/\040dir\134\012\044\303\251/b.txt""#))
        #expect(text.contains(".incbin \"/tmp/a\"\n"))
        // Nothing of the odd path survives unescaped: no stray quote, newline or comment end.
        let incbins = text.split(separator: "\n").filter { $0.contains(".incbin") }
        #expect(incbins.allSatisfy { $0.filter { $0 == "\"" }.count == 2 })
        #expect(text.components(separatedBy: "*/").count == text.components(separatedBy: "/*").count)
    }

    @Test func tableAssemblesAndLinksToTheFilesPathsAndBytes() throws {
        // Host paths with characters that would break a naive string: quote, backslash, space, '$', UTF-8.
        let folder = "we\"ird \\ dir$ \u{E9}"
        let contents: [String: [UInt8]] = [
            "bytes.bin": Array(0...255),
            "sub/page.html": Array("<p>hello</p>\n".utf8),
            "empty": [],
        ]
        for (name, bytes) in contents {
            let path = fixture.path("\(folder)/\(name)")
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        let scan = EmbeddedFileSet.scan(folder: fixture.path(folder), as: folder, manifestDirectory: fixture.path("app"))
        let set = try #require(scan.set, "\(scan.problems)")
        let source = fixture.path("files.S"), object = fixture.path("files.o"), linked = fixture.path("files.elf")
        try EmbeddedFilesAssembly.generate(set).write(toFile: source, atomically: true, encoding: .utf8)
        let toolchain = try Toolchain.locate()
        let assembled = try runCommand(toolchain.clang, ["--target=x86_64-unknown-none-elf", "-c", source, "-o", object])
        #expect(assembled.status == 0, "\(assembled.output)")
        let link = try runCommand(toolchain.linker, ["-static", "-nostdlib", "-e", "tessera_embedded_files_table_get",
                                                     object, "-o", linked])
        #expect(link.status == 0, "\(link.output)")

        // Read the table back through the linked addresses, as the kernel library does.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: linked)))
        let elf = try ELFFile(bytes: bytes)
        func read(_ address: UInt64, _ count: Int) throws -> [UInt8] {
            let section = try #require(elf.sections.first {
                $0.type == 1 && $0.address <= address && address + UInt64(count) <= $0.address + $0.size
            })
            let start = Int(section.offset + (address - section.address))
            return Array(bytes[start..<start + count])
        }
        func word(_ address: UInt64) throws -> UInt64 {
            try read(address, 8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        let table = try #require(elf.symbols.first { $0.name == "tessera_embedded_files" })
        let countSymbol = try #require(elf.symbols.first { $0.name == "tessera_embedded_files_count" })
        #expect(table.size == 3 * 32)
        #expect(try word(countSymbol.value) == 3)
        var found: [String: [UInt8]] = [:]
        for index in 0..<3 {
            let entry = table.value + UInt64(index * 32)
            let path = String(decoding: try read(try word(entry), Int(try word(entry + 8))), as: UTF8.self)
            let dataAddress = try word(entry + 16)
            #expect(dataAddress % 8 == 0)
            found[path] = try read(dataAddress, Int(try word(entry + 24)))
        }
        #expect(found == ["/bytes.bin": Array(0...255), "/sub/page.html": Array("<p>hello</p>\n".utf8), "/empty": []])
    }
}
