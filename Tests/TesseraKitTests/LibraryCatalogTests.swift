// Library catalogs: scanning search paths, overrides, slot information and cross-library checks.

import Foundation
import Testing
import TesseraKit

@Suite struct LibraryCatalogTests {
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
    }

    @Test func listsEveryLibrarySortedAndIgnoresOtherFolders() throws {
        try fixture.standardCatalog()
        try fixture.write("lib/docs/README.md", "not a library\n")
        try fixture.write("lib/.hidden/library.yaml", "garbage: [\n")
        let catalog = try LibraryCatalog.load(searchPaths: [fixture.path("lib")])
        let names = catalog.all.map(\.name)
        #expect(names == names.sorted())
        #expect(names.count == 16)
        #expect(!names.contains("docs"))
        #expect(catalog["alloc-tlsf"]?.module == "AllocTlsf")
        #expect(catalog["nothing"] == nil)
    }

    @Test func layerFoldersGroupLibrariesAndTheListingFollowsThem() throws {
        try fixture.simpleLibrary("net-tcp", in: "lib/net")
        try fixture.simpleLibrary("kernel", in: "lib/core", "core: true")
        try fixture.simpleLibrary("flat", in: "lib")
        let catalog = try LibraryCatalog.load(searchPaths: [fixture.path("lib")])
        #expect(catalog["net-tcp"]?.group == "net")
        #expect(catalog["net-tcp"]?.directory == fixture.path("lib/net/net-tcp"))
        #expect(catalog["kernel"]?.group == "core")
        #expect(catalog["flat"]?.group == nil)
        let listing = LibraryListing.format(catalog)
        let core = try #require(listing.range(of: "== core")), net = try #require(listing.range(of: "== net"))
        let other = try #require(listing.range(of: "== other libraries"))
        #expect(core.lowerBound < net.lowerBound && net.lowerBound < other.lowerBound, "layers bottom up:\n\(listing)")
        #expect(listing[net.upperBound...].hasPrefix("\nnet-tcp  [NetTcp]"))
    }

    @Test func oneNameInTwoLayersOfOneSearchPathIsAnError() throws {
        try fixture.simpleLibrary("timers", in: "lib/core")
        try fixture.simpleLibrary("timers", in: "lib/services")
        let error = try #require(expectSingleError { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) })
        #expect(error.message.hasPrefix("two libraries named 'timers' in one search path"))
        #expect(error.file == fixture.path("lib/services/timers/library.yaml"))
    }

    @Test func describesSlots() throws {
        try fixture.standardCatalog()
        let slots = try LibraryCatalog.load(searchPaths: [fixture.path("lib")]).slots()
        #expect(slots.keys.sorted() == ["allocator", "console", "network", "platform"])
        let allocator = try #require(slots["allocator"])
        #expect(allocator == SlotInfo(slot: "allocator", protocol: "Allocator", apiLibrary: "allocator-api",
                                      defaultLibrary: "alloc-tlsf", implementations: ["alloc-region", "alloc-tlsf"]))
        #expect(slots["platform"]?.defaultLibrary == nil)
        #expect(slots["platform"]?.implementations == ["platform-microvm", "platform-pc"])
    }

    @Test func appLocalLibraryOverridesBuiltIn() throws {
        try fixture.standardCatalog()
        try fixture.simpleLibrary("alloc-tlsf", in: "app/lib", module: "MyTLSF",
                                  "requires: [allocator-api]\nimplements: allocator\ntype: MyTLSF")
        try fixture.simpleLibrary("extra", in: "app/lib")
        let catalog = try LibraryCatalog.load(searchPaths: [fixture.path("app/lib"), fixture.path("lib")])
        #expect(catalog["alloc-tlsf"]?.module == "MyTLSF")
        #expect(catalog["alloc-tlsf"]?.directory == fixture.path("app/lib/alloc-tlsf"))
        #expect(catalog["extra"] != nil)
        #expect(catalog.shadowed == ["alloc-tlsf": [fixture.path("lib/alloc-tlsf")]])
    }

    @Test func shadowedBuiltInIsNotParsed() throws {
        try fixture.simpleLibrary("a", in: "mine")
        try fixture.library("a", in: "lib", "this: is: broken: [\n")
        let catalog = try LibraryCatalog.load(searchPaths: [fixture.path("mine"), fixture.path("lib")])
        #expect(catalog["a"]?.directory == fixture.path("mine/a"))
    }

    @Test func loadsFromManifestLibraryPathsThenBuiltIns() throws {
        try fixture.standardCatalog()
        try fixture.simpleLibrary("console-api", in: "app/libs", "api:\n  slot: console\n  protocol: MyConsole")
        let path = try fixture.app("name: a\napp: {sources: [main.swift], type: A}\nlibrary-paths: [libs]\n")
        let catalog = try LibraryCatalog.load(manifest: try Manifest.load(path: path),
                                              builtinLibraries: fixture.path("lib"))
        #expect(catalog.searchPaths == [fixture.path("app/libs"), fixture.path("lib")])
        #expect(catalog.slots()["console"]?.protocol == "MyConsole")
    }

    @Test func collectsDescriptorErrorsFromEveryLibrary() throws {
        try fixture.library("a", "name: a\nmodule: A\n")
        try fixture.library("b", "name: bb\nmodule: B\ndescription: d\n")
        let errors = expectDiagnostics { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) }
        #expect(errors.map(\.file) == [fixture.path("lib/a/library.yaml"), fixture.path("lib/b/library.yaml")])
    }

    @Test func missingSearchPath() throws {
        let error = try #require(expectSingleError { try LibraryCatalog.load(searchPaths: [fixture.path("none")]) })
        #expect(error.description == "\(fixture.path("none")): error: cannot list the library folder")
    }

    @Test func implementsUnknownSlotListsSlots() throws {
        try fixture.standardCatalog()
        try fixture.simpleLibrary("alloc-x", "requires: [allocator-api]\nimplements: allocater\ntype: X")
        let error = try #require(expectSingleError { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) })
        #expect(error.message == "library 'alloc-x' implements unknown slot 'allocater'; valid slots: allocator, "
                + "console, network, platform")
        #expect(error.file == fixture.path("lib/alloc-x/library.yaml"))
        #expect((error.line, error.column) == (5, 13))
    }

    @Test func implementationMustRequireItsAPI() throws {
        try fixture.standardCatalog()
        try fixture.simpleLibrary("alloc-x", "implements: allocator\ntype: X")
        let error = try #require(expectSingleError { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) })
        #expect(error.message == "library 'alloc-x' implements slot 'allocator' but does not require "
                + "'allocator-api', which defines it; add it to 'requires'")
        #expect(error.line == 4)
    }

    @Test func slotDefinedTwice() throws {
        try fixture.standardCatalog()
        try fixture.simpleLibrary("heap-api", "api:\n  slot: allocator\n  protocol: Heap")
        let error = try #require(expectSingleError { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) })
        #expect(error.message == "slot 'allocator' is already defined by library 'allocator-api' "
                + "(\(fixture.path("lib/allocator-api/library.yaml")))")
        #expect(error.file == fixture.path("lib/heap-api/library.yaml"))
        #expect((error.line, error.column) == (5, 9))
    }

    @Test func invalidDefaultsListChoices() throws {
        try fixture.simpleLibrary("a-api", "api:\n  slot: a\n  protocol: A\n  default: a-missing")
        try fixture.simpleLibrary("b-api", "api:\n  slot: b\n  protocol: B\n  default: a-one")
        try fixture.simpleLibrary("a-one", "requires: [a-api]\nimplements: a\ntype: One")
        try fixture.simpleLibrary("b-one", "requires: [b-api]\nimplements: b\ntype: One")
        let errors = expectDiagnostics { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) }
        #expect(errors.map(\.message) == [
            "unknown default library 'a-missing' for slot 'a'; valid choices: a-one",
            "default library 'a-one' does not implement slot 'b'; valid choices: b-one",
        ])
        #expect(errors.map(\.file) == [fixture.path("lib/a-api/library.yaml"), fixture.path("lib/b-api/library.yaml")])
        #expect(errors.map(\.line) == [7, 7])
        #expect(errors.map(\.column) == [12, 12])
    }

    @Test func platformSlotHasNoDefault() throws {
        try fixture.simpleLibrary("platform-api", "api:\n  slot: platform\n  protocol: P\n  default: pc")
        try fixture.simpleLibrary("pc", "requires: [platform-api]\nimplements: platform\ntype: PC\nmachines: [qemu-pc]")
        let error = try #require(expectSingleError { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) })
        #expect(error.message.hasPrefix("the 'platform' slot has no default"))
        #expect(error.line == 7)
    }

    @Test func twoPlatformLibrariesClaimingOneMachine() throws {
        try fixture.standardCatalog()
        try fixture.simpleLibrary("platform-q35", "requires: [platform-api]\nimplements: platform\ntype: Q35\n"
                                  + "machines: [qemu-q35]")
        let error = try #require(expectSingleError { try LibraryCatalog.load(searchPaths: [fixture.path("lib")]) })
        #expect(error.message == "machine 'qemu-q35' is already claimed for slot 'platform' by library 'platform-pc'")
        #expect(error.file == fixture.path("lib/platform-q35/library.yaml"))
    }
}
