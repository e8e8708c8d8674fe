// LibraryGraph: from a manifest and a catalog to the libraries of one image, in build order.
//
// Roots: every `core: true` library, the implementation chosen for each slot under `libraries:`, the
// platform library (the one whose `machines` lists the manifest's `platform`), every `use:` entry, and
// `files` when the manifest has `rootfs:` (the library that unpacks the root file system).
// The closure follows `requires`; when an API library (one with `api:`) enters the image its slot is
// bound — to the manifest's choice, else the API's default — and the implementation enters too. So a slot
// is bound only if something in the image needs its API (an unused API costs nothing), and every slot
// has exactly one implementation: another implementation reached through `use:` or `requires` is an error.
//
// The build order is topological (dependencies first) with ties broken by name, so it is deterministic.
// All problems are collected and thrown together as `Diagnostics`; each points at the manifest entry or
// the descriptor's `requires` entry responsible.

/// The implementation bound to one API slot in an image.
public struct SlotBinding: Hashable, Sendable {
    public enum Origin: String, Hashable, Sendable {
        /// Chosen under `libraries:`.
        case manifest
        /// The API's `default`.
        case `default`
        /// Selected by the manifest's `platform:` through the library's `machines`.
        case platform
    }

    public var slot: String
    /// The slot's protocol (`Allocator`).
    public var `protocol`: String
    /// The library defining the slot.
    public var apiLibrary: String
    /// The implementation library's name, module and conforming type.
    public var library: String
    public var module: String
    public var type: String
    public var origin: Origin

    public init(slot: String, protocol: String, apiLibrary: String, library: String, module: String, type: String,
                origin: Origin) {
        self.slot = slot
        self.protocol = `protocol`
        self.apiLibrary = apiLibrary
        self.library = library
        self.module = module
        self.type = type
        self.origin = origin
    }
}

/// A manifest resolved against a catalog: what `tessera build` compiles and wires.
public struct ResolvedImage: Sendable {
    public let manifest: Manifest
    /// One binding per bound slot, sorted by slot.
    public let bindings: [SlotBinding]
    /// Every library of the image in build order: dependencies first, ties broken by name.
    public let libraries: [LibraryDescriptor]

    public func binding(for slot: String) -> SlotBinding? { bindings.first { $0.slot == slot } }

    /// Slot → implementation library name.
    public var bindingsBySlot: [String: String] {
        Dictionary(uniqueKeysWithValues: bindings.map { ($0.slot, $0.library) })
    }
}

public enum LibraryGraph {
    /// Resolves `manifest` against `catalog`. Throws `Diagnostics` listing every problem found.
    public static func resolve(manifest: Manifest, catalog: LibraryCatalog) throws -> ResolvedImage {
        var resolver = Resolver(manifest: manifest, catalog: catalog)
        resolver.chooseSlots()
        resolver.includeRoots()
        let order = resolver.buildOrder()
        for name in order {
            guard let library = catalog[name], library.sources.isEmpty else { continue }
            resolver.diagnostics.error("library '\(name)' has no sources (*.swift or *.S files next to "
                                       + "\(LibraryDescriptor.fileName))",
                                       at: FileLocation(file: joinPath(library.directory, LibraryDescriptor.fileName)))
        }
        try resolver.diagnostics.throwIfAny()
        let bindings = resolver.bound.keys.sorted().compactMap { resolver.binding(for: $0) }
        return ResolvedImage(manifest: manifest, bindings: bindings, libraries: order.compactMap { catalog[$0] })
    }
}

private struct Resolver {
    let manifest: Manifest
    let catalog: LibraryCatalog
    let slots: [String: SlotInfo]
    var diagnostics = Diagnostics()
    /// Slot → (implementation, origin) chosen by the manifest: under `libraries:` or by `platform:`.
    var chosen: [String: (library: String, origin: SlotBinding.Origin)] = [:]
    /// Slots whose choice was invalid: no default or conflict errors are piled on top.
    var failedSlots = Set<String>()
    /// Slots bound so far (their API library is in the image).
    var bound: [String: String] = [:]
    var included = Set<String>()
    var queue: [String] = []

    init(manifest: Manifest, catalog: LibraryCatalog) {
        self.manifest = manifest
        self.catalog = catalog
        self.slots = catalog.slots()
    }

    func choices(for slot: String) -> String { choiceList(slots[slot]?.implementations ?? []) }

    /// Checks `libraries:` entries and selects the platform library.
    mutating func chooseSlots() {
        let platformSlot = LibraryDescriptor.platformSlot
        for choice in manifest.libraries {
            let slot = choice.slot.value, name = choice.library.value
            if slot == platformSlot {
                diagnostics.error("the platform is not chosen under 'libraries:'; use the top-level key "
                                  + "'platform:' (valid: \(choiceList(Manifest.platforms)))", at: choice.slot.location)
            } else if slots[slot] == nil {
                diagnostics.error("unknown slot '\(slot)'; valid slots: "
                                  + choiceList(slots.keys.filter { $0 != platformSlot }), at: choice.slot.location)
            } else if let library = catalog[name] {
                if library.implements?.value == slot {
                    chosen[slot] = (name, .manifest)
                } else {
                    failedSlots.insert(slot)
                    diagnostics.error("library '\(name)' does not implement slot '\(slot)'; valid choices: "
                                      + choices(for: slot), at: choice.library.location)
                }
            } else {
                failedSlots.insert(slot)
                diagnostics.error("unknown library '\(name)' for slot '\(slot)'; valid choices: "
                                  + choices(for: slot), at: choice.library.location)
            }
        }
        guard slots[platformSlot] != nil else { return }
        let platforms = catalog.implementations(of: platformSlot)
        if let library = platforms.first(where: { $0.machines.contains(manifest.platform) }) {
            chosen[platformSlot] = (library.name, .platform)
        } else {
            failedSlots.insert(platformSlot)
            let known = platforms.map { "\($0.name) (\($0.machines.joined(separator: ", ")))" }
            diagnostics.error("no platform library boots on machine '\(manifest.platform)'; platform libraries: "
                              + (known.isEmpty ? "(none)" : known.joined(separator: "; ")),
                              at: manifest.platformLocation)
        }
    }

    /// The implementation for `slot`: the manifest's or platform choice, else the API default.
    func binding(for slot: String) -> SlotBinding? {
        guard let info = slots[slot] else { return nil }
        let library: String, origin: SlotBinding.Origin
        if let choice = chosen[slot] {
            (library, origin) = choice
        } else if slot != LibraryDescriptor.platformSlot,
                  let preferred = catalog.implementations(of: slot).first(where: { $0.machines.contains(manifest.platform) }) {
            (library, origin) = (preferred.name, .platform)       // e.g. console-kvm on kvm
        } else if let fallback = info.defaultLibrary, slot != LibraryDescriptor.platformSlot {
            (library, origin) = (fallback, .default)
        } else {
            return nil
        }
        guard let descriptor = catalog[library] else { return nil }
        return SlotBinding(slot: slot, protocol: info.protocol, apiLibrary: info.apiLibrary, library: library,
                           module: descriptor.module, type: descriptor.type ?? "", origin: origin)
    }

    func describe(_ binding: SlotBinding) -> String {
        switch binding.origin {
        case .manifest: return "bound to '\(binding.library)' under 'libraries:'"
        case .default: return "bound to '\(binding.library)' (the default)"
        case .platform: return "bound to '\(binding.library)' for platform '\(manifest.platform)'"
        }
    }

    mutating func includeRoots() {
        for library in catalog.all where library.core {
            include(library.name, at: FileLocation(file: library.file), via: "core library '\(library.name)'")
        }
        for slot in chosen.keys.sorted() {
            include(chosen[slot]!.library, at: nil, via: "")
        }
        let useChoices = catalog.all.filter { $0.implements == nil }.map(\.name)
        for entry in manifest.use {
            if catalog[entry.value] == nil {
                diagnostics.error("unknown library '\(entry.value)' in 'use'; valid choices: "
                                  + choiceList(useChoices), at: entry.location)
            } else {
                include(entry.value, at: entry.location, via: "'use'")
            }
        }
        if let rootfs = manifest.rootfsFolder {
            if catalog["files"] == nil {
                diagnostics.error("'rootfs' needs the library 'files', which is not in the catalog (searched: "
                                  + "\(catalog.searchPaths.joined(separator: ", ")))", at: rootfs.location)
            } else {
                include("files", at: rootfs.location, via: "'rootfs'")
            }
        }
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard let library = catalog[name] else { continue }
            for dependency in library.requires {
                if catalog[dependency.value] == nil {
                    diagnostics.error("library '\(name)' requires '\(dependency.value)', which is not in the "
                                      + "catalog (searched: \(catalog.searchPaths.joined(separator: ", ")))",
                                      at: dependency.location)
                } else {
                    include(dependency.value, at: dependency.location, via: "library '\(name)'")
                }
            }
            if let slot = library.api?.slot, bound[slot] == nil, !failedSlots.contains(slot) {
                bindSlot(slot, apiLibrary: name)
            }
        }
    }

    /// Adds `name` to the image. An implementation reached other than through its slot's binding (at
    /// `location`, nil for a binding) must be that binding.
    mutating func include(_ name: String, at location: FileLocation?, via reason: String) {
        if let location, let slot = catalog[name]?.implements?.value, !failedSlots.contains(slot),
           let binding = binding(for: slot), binding.library != name {
            let fix = binding.origin == .platform
                ? "the platform is chosen with 'platform:'"
                : "to use it, choose it in the manifest under 'libraries:' (\(slot): \(name))"
            diagnostics.error("\(reason) adds '\(name)', which implements slot '\(slot)' \(describe(binding)); "
                              + "a slot has one implementation; \(fix)", at: location)
            return
        }
        if included.insert(name).inserted { queue.append(name) }
    }

    /// Binds the slot defined by `apiLibrary`, which just entered the image, and includes its implementation.
    mutating func bindSlot(_ slot: String, apiLibrary: String) {
        guard let binding = binding(for: slot) else {
            failedSlots.insert(slot)
            diagnostics.error("slot '\(slot)' (defined by '\(apiLibrary)', which the image needs) has no default; "
                              + "choose an implementation under 'libraries:'; valid choices: \(choices(for: slot))",
                              at: manifest.librariesLocation)
            return
        }
        bound[slot] = binding.library
        include(binding.library, at: nil, via: "")
    }

    /// Topological order of `included`, dependencies first, smallest name first among the ready ones.
    /// A cycle is reported (rotated to start at its smallest name), its first edge dropped, and sorting goes on.
    mutating func buildOrder() -> [String] {
        var dependencies: [String: Set<String>] = [:]
        for name in included {
            dependencies[name] = Set(catalog[name]?.dependencies.filter(included.contains) ?? [])
        }
        var order: [String] = [], placed = Set<String>()
        while placed.count < included.count {
            let remaining = included.subtracting(placed).sorted()
            if let next = remaining.first(where: { dependencies[$0]!.isSubset(of: placed) }) {
                order.append(next)
                placed.insert(next)
                continue
            }
            // Every remaining library waits on another one: walk first dependencies until a repeat.
            var path = [remaining[0]]
            while true {
                let next = dependencies[path.last!]!.subtracting(placed).sorted()[0]
                if let start = path.firstIndex(of: next) {
                    var cycle = Array(path[start...])
                    let smallest = cycle.indices.min { cycle[$0] < cycle[$1] }!
                    cycle = Array(cycle[smallest...] + cycle[..<smallest])
                    reportCycle(cycle)
                    dependencies[cycle[0]]!.remove(cycle[1 % cycle.count])
                    break
                }
                path.append(next)
            }
        }
        return order
    }

    mutating func reportCycle(_ cycle: [String]) {
        let first = cycle[0], second = cycle[1 % cycle.count]
        let descriptor = catalog[first]!
        let entry = descriptor.requires.first { $0.value == second }
        diagnostics.error("dependency cycle: \((cycle + [first]).joined(separator: " -> "))",
                          at: entry?.location ?? FileLocation(file: descriptor.file))
    }
}
