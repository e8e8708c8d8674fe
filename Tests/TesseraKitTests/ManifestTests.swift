// Manifest loading: every key of tessera.yaml, its defaults, and each error with its line and column.

import Foundation
import Testing
import TesseraKit

@Suite struct ManifestTests {
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
    }

    @Test func loadsEveryKey() throws {
        try fixture.write("app/lib/.keep", "")
        let path = try fixture.app("""
            name: hello-2
            app:
              sources: [main.swift, util.swift]
              type: Hello
            platform: qemu-q35
            memory: 512K
            arguments: [a, "b c", 3]
            libraries:
              allocator: alloc-region
              console: console-vga
            use: [shell]
            library-paths: [lib]
            """, sources: ["main.swift", "util.swift"])
        let manifest = try Manifest.load(path: path)
        #expect(manifest.name == "hello-2")
        #expect(manifest.app.type == "Hello")
        #expect(manifest.app.sources.map(\.value) == ["main.swift", "util.swift"])
        #expect(manifest.app.sourcePaths == [fixture.path("app/main.swift"), fixture.path("app/util.swift")])
        #expect(manifest.platform == "qemu-q35")
        #expect(manifest.platformLocation.line == 5)
        #expect(manifest.memory == 512 * 1024)
        #expect(manifest.arguments == ["a", "b c", "3"])
        #expect(manifest.libraryChoices == ["allocator": "alloc-region", "console": "console-vga"])
        #expect(manifest.libraries.map(\.slot.location.line) == [9, 10])
        #expect(manifest.libraries.map(\.library.location.column) == [14, 12])
        #expect(manifest.use.map(\.value) == ["shell"])
        #expect(manifest.libraryPaths == [fixture.path("app/lib")])
        #expect(manifest.directory == fixture.path("app"))
    }

    @Test func appliesDefaults() throws {
        let manifest = try Manifest.load(path: try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\n"))
        #expect(manifest.platform == "qemu-microvm")
        #expect(manifest.platform == Manifest.defaultPlatform)
        #expect(manifest.memory == 8 * 1024 * 1024)
        #expect(manifest.arguments.isEmpty && manifest.libraries.isEmpty && manifest.use.isEmpty)
        #expect(manifest.libraryPaths.isEmpty)
    }

    @Test func loadsFromTheAppFolder() throws {
        try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\n")
        #expect(try Manifest.load(path: fixture.path("app")).name == "hello")
    }

    @Test func keyWithoutValueIsAnEmptyList() throws {
        let manifest = try Manifest.load(path: try fixture.app(
            "name: hello\napp: {sources: [main.swift], type: Hello}\nuse:\nlibraries:\narguments:\n"))
        #expect(manifest.use.isEmpty && manifest.libraries.isEmpty && manifest.arguments.isEmpty)
    }

    @Test(arguments: [("512K", 512 << 10), ("8M", 8 << 20), ("1G", 1 << 30), ("16", 16 << 20), ("8m", 8 << 20),
                      ("64k", 64 << 10)])
    func parsesMemorySizes(text: String, bytes: Int) {
        #expect(Manifest.parseMemory(text) == UInt64(bytes))
    }

    @Test(arguments: ["0", "0M", "8X", "-1", "", "M", "1.5G", "8 M", "99999999999999999G", "8MB"])
    func rejectsInvalidMemorySizes(text: String) {
        #expect(Manifest.parseMemory(text) == nil)
    }

    @Test func formatsErrorsLikeACompiler() throws {
        let path = try fixture.app("name: hello\napp:\n  sources: [main.swift]\n  type: Hello\nmemory: lots\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.description == "\(path):5:9: error: invalid memory size 'lots'; expected a positive number "
                + "with K, M or G (e.g. 512K, 8M, 1G; a plain number means MiB)")
    }

    @Test func unknownKeyListsValidKeys() throws {
        let path = try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\nplatfrom: qemu-pc\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect((error.line, error.column) == (3, 1))
        #expect(error.message == "unknown key 'platfrom'; valid keys: app, arguments, devices, files, libraries, library-paths, "
                + "memory, mounts, name, parameters, platform, rootfs, use")
    }

    @Test func unknownKeyInAppListsAppKeys() throws {
        let path = try fixture.app("name: hello\napp:\n  sources: [main.swift]\n  type: Hello\n  entry: main\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect((error.line, error.column) == (5, 3))
        #expect(error.message == "unknown key 'entry' in 'app'; valid keys: sources, type")
    }

    @Test func wrongTypeIsReported() throws {
        let path = try fixture.app("name: hello\napp: [main.swift]\nuse: shell\nlibraries: [alloc-tlsf]\n")
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        #expect(errors.map(\.message) == [
            "expected a mapping for 'app', found a list",
            "expected a list for 'use' (e.g. [a, b]), found 'shell'",
            "expected a mapping for 'libraries' (e.g. allocator: alloc-tlsf), found a list",
        ])
        #expect(errors.map(\.line) == [2, 3, 4])
    }

    @Test func topLevelMustBeAMapping() throws {
        let path = try fixture.app("- name\n- app\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "expected a mapping at the top level, found a list")
        #expect((error.line, error.column) == (1, 1))
    }

    @Test func missingRequiredKeys() throws {
        let path = try fixture.app("# no name\nmemory: 8M\n")
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        #expect(errors.map(\.message) == ["missing required key 'name'", "missing required key 'app'"])
        #expect(errors.map(\.line) == [2, 2])
    }

    @Test func missingAppTypePointsAtTheAppKey() throws {
        let path = try fixture.app("name: hello\n\napp:\n  sources: [main.swift]\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "missing required key 'type' in 'app'")
        #expect((error.line, error.column) == (3, 1))
    }

    @Test func emptyManifest() throws {
        let path = try fixture.app("# nothing yet\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "the manifest is empty; expected the keys app, name")
        #expect(error.line == 1)
    }

    @Test func invalidImageName() throws {
        let path = try fixture.app("name: Hello_World\napp: {sources: [main.swift], type: Hello}\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "invalid image name 'Hello_World'; use lowercase letters, digits and '-'")
        #expect((error.line, error.column) == (1, 7))
    }

    @Test func invalidAppType() throws {
        let path = try fixture.app("name: hello\napp: {sources: [main.swift], type: 9lives}\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "invalid app type '9lives'; expected a Swift type name")
    }

    @Test func parametersBecomeKernelParameterWordsInFileOrder() throws {
        let path = try fixture.app("""
            name: hello
            app: {sources: [main.swift], type: Hello}
            parameters:
              metrics.port: 9100
              ip: 10.77.0.2/24
            """)
        let manifest = try Manifest.load(path: path)
        #expect(manifest.parameters == ["metrics.port=9100", "ip=10.77.0.2/24"])
    }

    @Test func parameterWithASpaceOrAnUppercaseNameIsRefusedWhereItIsWritten() throws {
        let path = try fixture.app("""
            name: hello
            app: {sources: [main.swift], type: Hello}
            parameters:
              greeting: two words
              Port: 1
            """)
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        try #require(errors.count == 2)
        #expect(errors.map(\.line) == [4, 5])
        #expect(errors[0].message == "invalid parameter 'greeting: two words': values are non-empty, without spaces, quotes or backslashes")
        #expect(errors[1].message == "invalid parameter 'Port: 1': names are lowercase letters, digits, '.', '_' and '-'")
    }

    @Test func emptySources() throws {
        let path = try fixture.app("name: hello\napp:\n  sources: []\n  type: Hello\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "'sources' is empty; list the app's Swift files (e.g. [main.swift])")
        #expect((error.line, error.column) == (3, 12))
    }

    @Test func missingAndInvalidSourceFiles() throws {
        let path = try fixture.app("""
            name: hello
            app:
              sources:
                - main.swift
                - gone.swift
                - notes.txt
                - main.swift
              type: Hello
            """)
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        #expect(errors.map(\.message) == [
            "app source 'gone.swift' does not exist (looked for \(fixture.path("app/gone.swift")))",
            "app source 'notes.txt' is not a Swift file (.swift)",
            "app source 'main.swift' is listed twice",
        ])
        #expect(errors.map(\.line) == [5, 6, 7])
        #expect(errors.map(\.column) == [7, 7, 7])
    }

    @Test func unknownPlatformListsPlatforms() throws {
        let path = try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\nplatform: firecracker\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "unknown platform 'firecracker'; valid platforms: kvm, qemu-microvm, qemu-pc, qemu-q35")
        #expect((error.line, error.column) == (3, 11))
    }

    @Test func duplicateKeys() throws {
        let path = try fixture.app("""
            name: hello
            app: {sources: [main.swift], type: Hello}
            libraries:
              allocator: alloc-tlsf
              allocator: alloc-region
            name: again
            """)
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        #expect(errors.map(\.message) == [
            "duplicate key 'allocator' in 'libraries' (first at line 4)",
            "duplicate key 'name' (first at line 1)",
        ])
        #expect(errors.map(\.line) == [5, 6])
    }

    @Test func missingLibraryPath() throws {
        let path = try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\nlibrary-paths: [mylibs]\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "library path 'mylibs' is not a folder (looked for \(fixture.path("app/mylibs")))")
        #expect((error.line, error.column) == (3, 17))
    }

    @Test func yamlSyntaxErrorHasLineAndColumn() throws {
        let path = try fixture.app("name: hello\napp:\n  sources: [main.swift\n  type: Hello\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message == "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence "
                + "at line 3, column 12)")
        #expect(error.file == path)
        #expect(error.line == 4)
        #expect(error.description.hasPrefix("\(path):4:"))
    }

    @Test func tabIndentationIsASyntaxError() throws {
        let path = try fixture.app("name: hello\napp:\n\tsources: [main.swift]\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message.hasPrefix("invalid YAML: "))
        #expect(error.message.hasSuffix("; indent with spaces, not tabs"))
        #expect((error.line, error.column) == (3, 1))
    }

    @Test func unquotedColonInAValueIsExplained() throws {
        let path = try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\narguments: [a]\n"
                                   + "description: note: this is not quoted\n")
        let error = try #require(expectSingleError { try Manifest.load(path: path) })
        #expect(error.message.hasSuffix("; a value containing ': ' must be quoted"))
        #expect((error.line, error.column) == (4, 18))
    }

    @Test func missingManifestFile() throws {
        let error = try #require(expectSingleError { try Manifest.load(path: fixture.path("nowhere/tessera.yaml")) })
        #expect(error.description == "\(fixture.path("nowhere/tessera.yaml")): error: no such file")
    }

    @Test func reportsEveryErrorAtOnce() throws {
        let path = try fixture.app("""
            name: Bad Name
            app:
              sources: [missing.swift]
              type: Hello
            platform: firecracker
            memory: 0
            colour: blue
            """)
        let errors = expectDiagnostics { try Manifest.load(path: path) }
        #expect(errors.map(\.line) == [1, 3, 5, 6, 7])
    }

    @Test func parsesTextWithoutAFileOnDisk() throws {
        try fixture.write("main.swift", "")
        let manifest = try Manifest(yaml: "name: x\napp: {sources: [main.swift], type: X}\n",
                                    file: fixture.path("tessera.yaml"))
        #expect(manifest.name == "x")
    }
}
