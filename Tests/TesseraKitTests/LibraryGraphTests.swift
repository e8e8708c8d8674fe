// Library graph resolution: bindings, build order, and each resolution error with its location.

import Foundation
import Testing
import TesseraKit

@Suite struct LibraryGraphTests {
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
        try fixture.standardCatalog()
    }

    /// Writes `app/tessera.yaml` (name and app lines first, then `rest`) and resolves it against lib/.
    func resolve(_ rest: String = "", searchPaths: [String]? = nil) throws -> ResolvedImage {
        let path = try fixture.app("name: hello\napp: {sources: [main.swift], type: Hello}\n" + rest)
        let manifest = try Manifest.load(path: path)
        let catalog = try LibraryCatalog.load(searchPaths: searchPaths ?? [fixture.path("lib")])
        return try LibraryGraph.resolve(manifest: manifest, catalog: catalog)
    }

    var manifestPath: String { fixture.path("app/tessera.yaml") }

    @Test func appliesDefaultsAndIncludesCoreLibraries() throws {
        let image = try resolve()
        #expect(image.bindingsBySlot == ["allocator": "alloc-tlsf", "console": "console-serial",
                                         "platform": "platform-microvm"])
        #expect(image.binding(for: "allocator") == SlotBinding(
            slot: "allocator", protocol: "Allocator", apiLibrary: "allocator-api", library: "alloc-tlsf",
            module: "AllocTlsf", type: "TLSFAllocator", origin: .default))
        #expect(image.binding(for: "platform")?.origin == .platform)
        #expect(image.bindings.map(\.slot) == ["allocator", "console", "platform"])
    }

    @Test func buildOrderIsTopologicalWithTiesBrokenByName() throws {
        let image = try resolve()
        #expect(image.libraries.map(\.name) == ["allocator-api", "alloc-tlsf", "arch", "console-api",
                                                "console-serial", "platform-api", "kernel", "platform-microvm"])
        let position = Dictionary(uniqueKeysWithValues: image.libraries.enumerated().map { ($1.name, $0) })
        for library in image.libraries {
            for dependency in library.dependencies {
                #expect(position[dependency]! < position[library.name]!, "\(dependency) before \(library.name)")
            }
        }
    }

    @Test func aLibraryWithoutSourcesFailsOnlyTheImagesThatUseIt() throws {
        try fixture.library("draft", "name: draft\nmodule: Draft\ndescription: being written\n", sources: [])
        #expect(try resolve().libraries.contains { $0.name == "draft" } == false, "an image without it resolves")
        let errors = expectDiagnostics { try resolve("use: [draft]\n") }
        #expect(errors.map(\.message) == ["library 'draft' has no sources (*.swift or *.S files next to library.yaml)"])
        #expect(errors.first?.file == fixture.path("lib/draft/library.yaml"))
    }

    @Test func anImplementationNamingTheMachineReplacesTheDefaultThere() throws {
        try fixture.simpleLibrary("platform-kvm", "requires: [platform-api, arch]\nimplements: platform\ntype: KVM\n"
                                  + "machines: [kvm]\nentry: kvm_start")
        try fixture.simpleLibrary("console-kvm", "requires: [console-api]\nimplements: console\ntype: KVMConsole\n"
                                  + "machines: [kvm]")
        let onMonitor = try resolve("platform: kvm\n")
        #expect(onMonitor.bindingsBySlot["console"] == "console-kvm")
        #expect(onMonitor.binding(for: "console")?.origin == .platform)
        #expect(onMonitor.libraries.first { $0.name == "platform-kvm" }?.entry == "kvm_start")
        #expect(try resolve().bindingsBySlot["console"] == "console-serial", "the default elsewhere")
        #expect(try resolve("platform: kvm\nlibraries:\n  console: console-vga\n").bindingsBySlot["console"] == "console-vga",
                "the manifest's choice wins")
    }

    @Test func resolutionIsDeterministic() throws {
        let first = try resolve("use: [shell]\n").libraries.map(\.name)
        for _ in 0..<5 {
            #expect(try resolve("use: [shell]\n").libraries.map(\.name) == first)
        }
    }

    @Test func manifestChoiceReplacesTheDefault() throws {
        let image = try resolve("libraries:\n  allocator: alloc-region\n  console: console-vga\n")
        #expect(image.bindingsBySlot["allocator"] == "alloc-region")
        #expect(image.binding(for: "console")?.origin == .manifest)
        let names = image.libraries.map(\.name)
        #expect(names.contains("alloc-region") && names.contains("console-vga"))
        #expect(!names.contains("alloc-tlsf") && !names.contains("console-serial"))
    }

    @Test func platformIsBoundByMachines() throws {
        let image = try resolve("platform: qemu-q35\n")
        #expect(image.bindingsBySlot["platform"] == "platform-pc")
        #expect(!image.libraries.map(\.name).contains("platform-microvm"))
    }

    @Test func useEntriesAreIncludedWithTheirDependencies() throws {
        let names = try resolve("use: [shell]\n").libraries.map(\.name)
        #expect(names.firstIndex(of: "line-editor")! < names.firstIndex(of: "shell")!)
    }

    @Test func unusedAPISlotsAreNotBound() throws {
        let image = try resolve()
        #expect(image.binding(for: "network") == nil)
        #expect(!image.libraries.map(\.name).contains("net-api"))
    }

    @Test func appLocalLibraryOverridesBuiltInInTheImage() throws {
        try fixture.simpleLibrary("alloc-tlsf", in: "app/lib", module: "MyTLSF",
                                  "requires: [allocator-api]\nimplements: allocator\ntype: MyTLSF")
        let image = try resolve("library-paths: [lib]\n", searchPaths: [fixture.path("app/lib"), fixture.path("lib")])
        #expect(image.binding(for: "allocator")?.module == "MyTLSF")
        #expect(image.libraries.first { $0.name == "alloc-tlsf" }?.directory == fixture.path("app/lib/alloc-tlsf"))
    }

    @Test func unknownSlotListsSlots() throws {
        let error = try #require(expectSingleError { try resolve("libraries:\n  alocator: alloc-tlsf\n") })
        #expect(error.description == "\(manifestPath):4:3: error: unknown slot 'alocator'; valid slots: allocator, "
                + "console, network")
    }

    @Test func unknownLibraryListsChoicesForTheSlot() throws {
        let error = try #require(expectSingleError { try resolve("\n\n\nlibraries:\n  allocator: alloc-foo\n") })
        #expect(error.description == "\(manifestPath):7:14: error: unknown library 'alloc-foo' for slot 'allocator'; "
                + "valid choices: alloc-region, alloc-tlsf")
    }

    @Test func libraryNotImplementingTheSlot() throws {
        let error = try #require(expectSingleError { try resolve("libraries:\n  console: alloc-region\n") })
        #expect(error.message == "library 'alloc-region' does not implement slot 'console'; valid choices: "
                + "console-serial, console-vga")
        #expect((error.line, error.column) == (4, 12))
    }

    @Test func platformUnderLibrariesPointsToTheTopLevelKey() throws {
        let error = try #require(expectSingleError { try resolve("libraries:\n  platform: platform-pc\n") })
        #expect(error.message == "the platform is not chosen under 'libraries:'; use the top-level key 'platform:' "
                + "(valid: kvm, qemu-microvm, qemu-pc, qemu-q35)")
        #expect((error.line, error.column) == (4, 3))
    }

    @Test func useOfAnotherImplementationOfABoundSlot() throws {
        let error = try #require(expectSingleError { try resolve("use: [alloc-region]\n") })
        #expect(error.message == "'use' adds 'alloc-region', which implements slot 'allocator' bound to "
                + "'alloc-tlsf' (the default); a slot has one implementation; to use it, choose it in the manifest "
                + "under 'libraries:' (allocator: alloc-region)")
        #expect(error.file == manifestPath)
        #expect((error.line, error.column) == (3, 7))
    }

    @Test func useOfTheBoundImplementationIsAccepted() throws {
        let image = try resolve("use: [alloc-tlsf]\n")
        #expect(image.bindingsBySlot["allocator"] == "alloc-tlsf")
    }

    @Test func requiredImplementationConflictingWithTheBinding() throws {
        try fixture.simpleLibrary("fast-list", "requires: [alloc-tlsf]")
        let error = try #require(expectSingleError {
            try resolve("libraries:\n  allocator: alloc-region\nuse: [fast-list]\n")
        })
        #expect(error.message == "library 'fast-list' adds 'alloc-tlsf', which implements slot 'allocator' bound to "
                + "'alloc-region' under 'libraries:'; a slot has one implementation; to use it, choose it in the "
                + "manifest under 'libraries:' (allocator: alloc-tlsf)")
        #expect(error.file == fixture.path("lib/fast-list/library.yaml"))
        #expect((error.line, error.column) == (4, 12))
    }

    @Test func missingDependencyNamesTheDescriptorLine() throws {
        try fixture.simpleLibrary("shell", "requires: [console-api, line-editor, readline]")
        let error = try #require(expectSingleError { try resolve("use: [shell]\n") })
        #expect(error.description == "\(fixture.path("lib/shell/library.yaml")):4:38: error: library 'shell' requires "
                + "'readline', which is not in the catalog (searched: \(fixture.path("lib")))")
    }

    @Test func missingDependencyOfAnUnusedLibraryIsIgnored() throws {
        try fixture.simpleLibrary("unused", "requires: [nowhere]")
        #expect(try resolve().libraries.count == 8)
    }

    @Test func dependencyCycleNamesThePath() throws {
        try fixture.simpleLibrary("b-lib", "requires: [c-lib]")
        try fixture.simpleLibrary("c-lib", "requires: [arch, d-lib]")
        try fixture.simpleLibrary("d-lib", "requires: [b-lib]")
        let error = try #require(expectSingleError { try resolve("use: [d-lib]\n") })
        #expect(error.message == "dependency cycle: b-lib -> c-lib -> d-lib -> b-lib")
        #expect(error.file == fixture.path("lib/b-lib/library.yaml"))
        #expect((error.line, error.column) == (4, 12))
    }

    @Test func everyIndependentCycleIsReported() throws {
        try fixture.simpleLibrary("a-one", "requires: [a-two]")
        try fixture.simpleLibrary("a-two", "requires: [a-one]")
        try fixture.simpleLibrary("z-one", "requires: [z-two]")
        try fixture.simpleLibrary("z-two", "requires: [z-one]")
        let errors = expectDiagnostics { try resolve("use: [a-one, z-one]\n") }
        #expect(errors.map(\.message) == ["dependency cycle: a-one -> a-two -> a-one",
                                          "dependency cycle: z-one -> z-two -> z-one"])
    }

    @Test func slotWithoutDefaultNeedsAChoice() throws {
        let error = try #require(expectSingleError { try resolve("use: [http]\n") })
        #expect(error.message == "slot 'network' (defined by 'net-api', which the image needs) has no default; "
                + "choose an implementation under 'libraries:'; valid choices: net-virtio")
        #expect(error.file == manifestPath)
        #expect(error.line == 1)
        let image = try resolve("use: [http]\nlibraries:\n  network: net-virtio\n")
        #expect(image.bindingsBySlot["network"] == "net-virtio")
    }

    @Test func noPlatformLibraryForTheMachine() throws {
        try fixture.simpleLibrary("platform-pc", "requires: [platform-api]\nimplements: platform\ntype: PC\nmachines: [qemu-pc]")
        let error = try #require(expectSingleError { try resolve("platform: qemu-q35\n") })
        #expect(error.message == "no platform library boots on machine 'qemu-q35'; platform libraries: "
                + "platform-microvm (qemu-microvm); platform-pc (qemu-pc)")
        #expect((error.line, error.column) == (3, 11))
    }

    @Test func unknownUseEntryListsLibrariesWithoutSlot() throws {
        let error = try #require(expectSingleError { try resolve("use: [shel]\n") })
        #expect(error.message == "unknown library 'shel' in 'use'; valid choices: allocator-api, arch, console-api, "
                + "http, kernel, line-editor, net-api, platform-api, shell")
        #expect((error.line, error.column) == (3, 7))
    }

    @Test func reportsEveryResolutionErrorAtOnce() throws {
        let errors = expectDiagnostics {
            try resolve("libraries:\n  allocator: alloc-foo\n  disk: ramdisk\nuse: [nothing, console-vga]\n")
        }
        #expect(errors.map(\.line) == [4, 5, 6, 6])
    }
}
