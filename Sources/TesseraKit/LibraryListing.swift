// LibraryListing: the table `tessera libs` prints.
//
// Libraries grouped by layer (their folder under lib/: arch, platform, core, drivers, net, fs, linux,
// services, bottom up; an app's own libraries last), one block per library: its name and role (defines
// an API slot, implements one, or core), its dependencies, and its one-line description; API slots list
// their implementations and default.

public enum LibraryListing {
    /// The layers bottom up; a group not listed sorts after them by name, ungrouped libraries last.
    static let layers = ["arch", "platform", "core", "drivers", "net", "fs", "linux", "services"]

    public static func format(_ catalog: LibraryCatalog) -> String {
        let slots = catalog.slots()
        let groups = Dictionary(grouping: catalog.all) { $0.group ?? "" }
        func rank(_ group: String) -> Int { layers.firstIndex(of: group) ?? (group.isEmpty ? layers.count + 1 : layers.count) }
        let names = groups.keys.sorted { rank($0) != rank($1) ? rank($0) < rank($1) : $0 < $1 }
        var lines: [String] = []
        for group in names {
            if !lines.isEmpty { lines.append("") }
            lines.append(group.isEmpty ? "== other libraries" : "== \(group)")
            for library in groups[group]! { lines += block(library, slots: slots) }
        }
        return lines.joined(separator: "\n")
    }

    static func block(_ library: LibraryDescriptor, slots: [String: SlotInfo]) -> [String] {
        var role: String
        if let api = library.api {
            let info = slots[api.slot]
            let choices = info?.implementations.joined(separator: ", ") ?? ""
            role = "API '\(api.slot)' (protocol \(api.protocol)); implementations: \(choices.isEmpty ? "none" : choices)"
            if let chosen = info?.defaultLibrary { role += "; default \(chosen)" }
        } else if let slot = library.implements?.value {
            role = "implements '\(slot)' as \(library.type ?? "?")"
            if !library.machines.isEmpty { role += " on \(library.machines.joined(separator: ", "))" }
        } else if library.core {
            role = "core (in every image)"
        } else {
            role = "library"
        }
        var lines = ["\(library.name)  [\(library.module)]", "    \(library.description)", "    \(role)"]
        if !library.dependencies.isEmpty {
            lines.append("    requires: \(library.dependencies.joined(separator: ", "))")
        }
        return lines
    }
}
