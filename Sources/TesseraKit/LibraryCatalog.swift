// LibraryCatalog: every micro-library visible to one build, by name.
//
// A catalog scans search paths in order; each path holds library folders (a folder with a `library.yaml`)
// and group folders one level deep (a folder without one: `lib/net` holds `net-tcp`, `net-stack`, ...;
// the group is the library's layer, shown by `tessera libs`); other folders are ignored. When two paths hold a library of the same name the first path wins, and the
// manifest's `library-paths` come before the built-in `lib/`, so an app-local library overrides a built-in
// one of the same name (the hidden ones are listed in `shadowed`). A shadowed folder is not parsed.
//
// After every descriptor loads cleanly, the catalog checks how they fit together: one library per API
// slot, `implements` names a defined slot and `requires` its API library, `api.default` names an
// implementation of that slot, and no two platform libraries claim the same machine. Whether `requires`
// names exist is checked by LibraryGraph, for the libraries an image actually uses.

import Foundation

/// An API slot: the library defining it, its protocol, its default and its implementations.
public struct SlotInfo: Hashable, Sendable {
    public var slot: String
    public var `protocol`: String
    /// The library whose `api` defines the slot.
    public var apiLibrary: String
    public var defaultLibrary: String?
    /// Names of the libraries implementing the slot, sorted.
    public var implementations: [String]

    public init(slot: String, protocol: String, apiLibrary: String, defaultLibrary: String?,
                implementations: [String]) {
        self.slot = slot
        self.protocol = `protocol`
        self.apiLibrary = apiLibrary
        self.defaultLibrary = defaultLibrary
        self.implementations = implementations
    }
}

public struct LibraryCatalog: Sendable {
    /// The folders scanned, in priority order.
    public let searchPaths: [String]
    /// Every visible library by name.
    public let libraries: [String: LibraryDescriptor]
    /// Library name → folders of same-named libraries hidden by an earlier search path.
    public let shadowed: [String: [String]]

    /// Every library, sorted by name (for `tessera libs`).
    public var all: [LibraryDescriptor] { libraries.values.sorted { $0.name < $1.name } }

    public subscript(name: String) -> LibraryDescriptor? { libraries[name] }

    /// Every defined API slot by slot name.
    public func slots() -> [String: SlotInfo] {
        var slots: [String: SlotInfo] = [:]
        for library in all {
            guard let api = library.api, slots[api.slot] == nil else { continue }
            slots[api.slot] = SlotInfo(slot: api.slot, protocol: api.protocol, apiLibrary: library.name,
                                       defaultLibrary: api.defaultLibrary?.value,
                                       implementations: implementations(of: api.slot).map(\.name))
        }
        return slots
    }

    /// The libraries implementing `slot`, sorted by name.
    public func implementations(of slot: String) -> [LibraryDescriptor] {
        all.filter { $0.implements?.value == slot }
    }

    /// Scans `manifest.libraryPaths`, then the built-in library folder. Throws `Diagnostics`.
    public static func load(manifest: Manifest, builtinLibraries: String) throws -> LibraryCatalog {
        try load(searchPaths: manifest.libraryPaths + [builtinLibraries])
    }

    /// Scans `searchPaths` in order (earlier paths win). Throws `Diagnostics` with every error found.
    public static func load(searchPaths: [String]) throws -> LibraryCatalog {
        var diagnostics = Diagnostics()
        var libraries: [String: LibraryDescriptor] = [:]
        var shadowed: [String: [String]] = [:]
        var claimed: [String: (searchPath: String, directory: String)] = [:]
        for searchPath in searchPaths {
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: searchPath).sorted()
            } catch {
                diagnostics.error("cannot list the library folder", at: FileLocation(file: searchPath))
                continue
            }
            var folders: [(name: String, directory: String, group: String?)] = []
            for entry in entries where !entry.hasPrefix(".") {
                let directory = joinPath(searchPath, entry)
                if FileManager.default.fileExists(atPath: joinPath(directory, LibraryDescriptor.fileName)) {
                    folders.append((entry, directory, nil))
                } else if let members = try? FileManager.default.contentsOfDirectory(atPath: directory) {
                    for member in members.sorted() where !member.hasPrefix(".")
                        && FileManager.default.fileExists(atPath: joinPath(joinPath(directory, member), LibraryDescriptor.fileName)) {
                        folders.append((member, joinPath(directory, member), entry))
                    }
                }
            }
            for folder in folders {
                if let first = claimed[folder.name] {
                    if first.searchPath == searchPath {
                        diagnostics.error("two libraries named '\(folder.name)' in one search path: "
                                          + "\(first.directory) and \(folder.directory); library names are unique",
                                          at: FileLocation(file: joinPath(folder.directory, LibraryDescriptor.fileName)))
                    }
                    shadowed[folder.name, default: []].append(folder.directory)
                    continue
                }
                claimed[folder.name] = (searchPath, folder.directory)
                do {
                    var library = try LibraryDescriptor.load(directory: folder.directory)
                    library.group = folder.group
                    libraries[folder.name] = library
                } catch let errors as Diagnostics {
                    diagnostics.append(contentsOf: errors)
                }
            }
        }
        // Relations are only meaningful between descriptors that loaded; report those errors first.
        try diagnostics.throwIfAny()
        let catalog = LibraryCatalog(searchPaths: searchPaths, libraries: libraries, shadowed: shadowed)
        try catalog.validate()
        return catalog
    }

    /// Checks slots, implementations and defaults across libraries.
    private func validate() throws {
        var diagnostics = Diagnostics()
        var definers: [String: LibraryDescriptor] = [:]
        for library in all {
            guard let api = library.api else { continue }
            if let first = definers[api.slot] {
                diagnostics.error("slot '\(api.slot)' is already defined by library '\(first.name)' "
                                  + "(\(first.file))", at: api.slotLocation)
            } else {
                definers[api.slot] = library
            }
        }
        let slots = slots()

        var machines: [String: String] = [:]
        for library in all {
            guard let implements = library.implements else { continue }
            guard let definer = definers[implements.value] else {
                diagnostics.error("library '\(library.name)' implements unknown slot '\(implements.value)'; "
                                  + "valid slots: \(choiceList(slots.keys))", at: implements.location)
                continue
            }
            if !library.dependencies.contains(definer.name) {
                diagnostics.error("library '\(library.name)' implements slot '\(implements.value)' but does not "
                                  + "require '\(definer.name)', which defines it; add it to 'requires'",
                                  at: implements.location)
            }
            // One implementation per slot and machine (one platform library per machine, one preferred
            // console per machine, ...).
            for machine in library.machines {
                let key = implements.value + "/" + machine
                if let other = machines[key] {
                    diagnostics.error("machine '\(machine)' is already claimed for slot '\(implements.value)' by library '\(other)'",
                                      at: implements.location)
                } else {
                    machines[key] = library.name
                }
            }
        }

        for (slot, info) in slots.sorted(by: { $0.key < $1.key }) {
            guard let library = libraries[info.apiLibrary], let defaultLibrary = library.api?.defaultLibrary
            else { continue }
            let choices = choiceList(info.implementations)
            if slot == LibraryDescriptor.platformSlot {
                diagnostics.error("the '\(slot)' slot has no default: the manifest's 'platform:' selects the "
                                  + "library whose 'machines' list it", at: defaultLibrary.location)
            } else if libraries[defaultLibrary.value] == nil {
                diagnostics.error("unknown default library '\(defaultLibrary.value)' for slot '\(slot)'; "
                                  + "valid choices: \(choices)", at: defaultLibrary.location)
            } else if !info.implementations.contains(defaultLibrary.value) {
                diagnostics.error("default library '\(defaultLibrary.value)' does not implement slot '\(slot)'; "
                                  + "valid choices: \(choices)", at: defaultLibrary.location)
            }
        }
        try diagnostics.throwIfAny()
    }
}
