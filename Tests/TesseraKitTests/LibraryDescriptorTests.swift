// Library descriptors: every key of library.yaml, the source list, and each error naming the descriptor.

import Foundation
import Testing
import TesseraKit

@Suite struct LibraryDescriptorTests {
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
    }

    @Test func loadsEveryKey() throws {
        let folder = try fixture.library("platform-pc", """
            name: platform-pc
            module: PlatformPC
            description: A PC.
            requires: [platform-api, arch]
            implements: platform
            type: PCPlatform
            machines: [qemu-pc, qemu-q35]
            core: false
            """, sources: ["Z.swift", "a.S", "B.swift", "notes.md", "kernel.ld", "Wiring.swift.in"])
        let library = try LibraryDescriptor.load(directory: folder)
        #expect(library.name == "platform-pc")
        #expect(library.module == "PlatformPC")
        #expect(library.description == "A PC.")
        #expect(library.dependencies == ["platform-api", "arch"])
        #expect(library.requires.map(\.location.line) == [4, 4])
        #expect(library.requires.map(\.location.column) == [12, 26])
        #expect(library.implements?.value == "platform")
        #expect(library.type == "PCPlatform")
        #expect(library.machines == ["qemu-pc", "qemu-q35"])
        #expect(library.core == false)
        #expect(library.api == nil)
        #expect(library.file == folder + "/library.yaml")
        #expect(library.sources == ["B.swift", "Z.swift", "a.S"].map { folder + "/" + $0 })
    }

    @Test func loadsAnAPIDefinition() throws {
        let folder = try fixture.library("allocator-api", """
            name: allocator-api
            module: AllocatorAPI
            description: The allocator API.
            core: true
            api:
              slot: allocator
              protocol: Allocator
              default: alloc-tlsf
            """)
        let library = try LibraryDescriptor.load(directory: folder)
        #expect(library.core)
        #expect(library.api?.slot == "allocator")
        #expect(library.api?.protocol == "Allocator")
        #expect(library.api?.defaultLibrary?.value == "alloc-tlsf")
        #expect(library.api?.defaultLibrary?.location.line == 8)
        #expect(library.implements == nil && library.type == nil && library.requires.isEmpty)
    }

    @Test func nameMustEqualFolderName() throws {
        let folder = try fixture.library("alloc-tlsf", "name: alloc-tslf\nmodule: A\ndescription: d\n")
        let error = try #require(expectSingleError { try LibraryDescriptor.load(directory: folder) })
        #expect(error.description == "\(folder)/library.yaml:1:7: error: library name 'alloc-tslf' must equal its "
                + "folder name 'alloc-tlsf'")
    }

    @Test func missingRequiredKeys() throws {
        let folder = try fixture.library("x", "core: true\n")
        let errors = expectDiagnostics { try LibraryDescriptor.load(directory: folder) }
        #expect(errors.map(\.message) == ["missing required key 'name'", "missing required key 'module'",
                                          "missing required key 'description'"])
        #expect(errors.allSatisfy { $0.file == folder + "/library.yaml" && $0.line == 1 })
    }

    @Test func unknownKeysListValidKeys() throws {
        let folder = try fixture.library("x", "name: x\nmodule: X\ndescription: d\ndepends: [y]\napi:\n  slot: s\n  protocol: P\n  defaults: z\n")
        let errors = expectDiagnostics { try LibraryDescriptor.load(directory: folder) }
        #expect(errors.map(\.message) == [
            "unknown key 'depends'; valid keys: api, core, description, entry, implements, machines, module, name, requires, type",
            "unknown key 'defaults' in 'api'; valid keys: default, protocol, slot",
        ])
        #expect(errors.map(\.line) == [4, 8])
    }

    @Test func invalidNamesAndIdentifiers() throws {
        let folder = try fixture.library("x", "name: x\nmodule: My-Module\ndescription: d\nrequires: [Bad_Name, x, y, y]\n")
        let errors = expectDiagnostics { try LibraryDescriptor.load(directory: folder) }
        #expect(errors.map(\.message) == [
            "invalid module name 'My-Module'; expected a Swift identifier",
            "invalid library name 'Bad_Name' in 'requires'",
            "library 'x' requires itself",
            "'y' is listed twice in 'requires'",
        ])
        #expect(errors.map(\.line) == [2, 4, 4, 4])
        #expect(errors.map(\.column) == [9, 12, 22, 28])
    }

    @Test func implementsRequiresTypeAndViceVersa() throws {
        let a = try fixture.library("a", "name: a\nmodule: A\ndescription: d\nimplements: allocator\n")
        let b = try fixture.library("b", "name: b\nmodule: B\ndescription: d\ntype: BAllocator\n")
        let errorA = try #require(expectSingleError { try LibraryDescriptor.load(directory: a) })
        #expect(errorA.message == "'implements' requires 'type': the type conforming to the slot's protocol")
        #expect(errorA.line == 4)
        let errorB = try #require(expectSingleError { try LibraryDescriptor.load(directory: b) })
        #expect(errorB.message == "'type' is only valid with 'implements'")
        #expect(errorB.line == 4)
    }

    @Test func machinesOnlyOnImplementationsAndKnown() throws {
        let notImplementation = try fixture.library("a", """
            name: a
            module: A
            description: d
            machines: [qemu-microvm]
            """)
        let error = try #require(expectSingleError { try LibraryDescriptor.load(directory: notImplementation) })
        #expect(error.message == "'machines' is only valid with 'implements:' (a platform, or an implementation the platform's machines prefer)")
        #expect(error.line == 4)
        // An implementation of another slot may name machines: there it replaces the slot's default.
        let preferred = try fixture.library("c", """
            name: c
            module: C
            description: d
            implements: console
            type: T
            machines: [kvm]
            """)
        #expect(try LibraryDescriptor.load(directory: preferred).machines == ["kvm"])
        let entryOnConsole = try fixture.library("d", """
            name: d
            module: D
            description: d
            implements: console
            type: T
            entry: start
            """)
        let entryError = try #require(expectSingleError { try LibraryDescriptor.load(directory: entryOnConsole) })
        #expect(entryError.message == "'entry' is only valid with 'implements: platform'")

        let unknownMachine = try fixture.library("b", """
            name: b
            module: B
            description: d
            implements: platform
            type: T
            machines: [qemu-microvm, firecracker]
            """)
        let machineError = try #require(expectSingleError { try LibraryDescriptor.load(directory: unknownMachine) })
        #expect(machineError.message == "unknown machine 'firecracker'; valid machines: kvm, qemu-microvm, qemu-pc, qemu-q35")
        #expect((machineError.line, machineError.column) == (6, 26))

        let noMachines = try fixture.library("c", "name: c\nmodule: C\ndescription: d\nimplements: platform\ntype: T\n")
        let missing = try #require(expectSingleError { try LibraryDescriptor.load(directory: noMachines) })
        #expect(missing.message.hasPrefix("a platform library must list the machines it boots on"))
        #expect(missing.line == 4)
    }

    @Test func coreMustBeABoolean() throws {
        let folder = try fixture.library("x", "name: x\nmodule: X\ndescription: d\ncore: sometimes\n")
        let error = try #require(expectSingleError { try LibraryDescriptor.load(directory: folder) })
        #expect(error.message == "expected true or false for 'core', found 'sometimes'")
        #expect((error.line, error.column) == (4, 7))
    }

    @Test func apiNeedsSlotAndProtocol() throws {
        let folder = try fixture.library("x", "name: x\nmodule: X\ndescription: d\napi:\n  default: y\n")
        let errors = expectDiagnostics { try LibraryDescriptor.load(directory: folder) }
        #expect(errors.map(\.message) == ["missing required key 'slot' in 'api'",
                                          "missing required key 'protocol' in 'api'"])
        #expect(errors.map(\.line) == [4, 4])
    }

    @Test func descriptionMustBeOneLine() throws {
        let folder = try fixture.library("x", "name: x\nmodule: X\ndescription: |\n  one\n  two\n")
        let error = try #require(expectSingleError { try LibraryDescriptor.load(directory: folder) })
        #expect(error.message == "'description' must be one non-empty line")
        #expect(error.line == 3)
    }

    @Test func libraryWithoutSourcesLoadsSoThatOnlyImagesUsingItFail() throws {
        let folder = try fixture.library("x", "name: x\nmodule: X\ndescription: d\n", sources: ["README.md"])
        let library = try LibraryDescriptor.load(directory: folder)
        #expect(library.sources.isEmpty)
    }

    @Test func syntaxErrorNamesTheDescriptor() throws {
        let folder = try fixture.library("x", "name: x\nmodule: X\ndescription: d\nrequires: [a, b\n")
        let error = try #require(expectSingleError { try LibraryDescriptor.load(directory: folder) })
        #expect(error.file == folder + "/library.yaml")
        #expect(error.message.hasPrefix("invalid YAML: "))
        #expect(error.line != nil && error.column != nil)
    }
}
