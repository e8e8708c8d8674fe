// LibraryListing: the table `tessera libs` prints.
//
// One block per library: its name and role (defines an API slot, implements one, or core), its
// dependencies, and its one-line description; API slots list their implementations and default.

public enum LibraryListing {
    public static func format(_ catalog: LibraryCatalog) -> String {
        var lines: [String] = []
        let slots = catalog.slots()
        for library in catalog.all {
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
            lines.append("\(library.name)  [\(library.module)]")
            lines.append("    \(library.description)")
            lines.append("    \(role)")
            if !library.dependencies.isEmpty {
                lines.append("    requires: \(library.dependencies.joined(separator: ", "))")
            }
        }
        return lines.joined(separator: "\n")
    }
}
