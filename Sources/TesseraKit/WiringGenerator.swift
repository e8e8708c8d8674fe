// WiringGenerator: fills the kernel's wiring template for one resolved image.
//
// The template (lib/core/kernel/Wiring.swift.in) belongs to the kernel library, because it implements the
// kernel's `Image` signature; this generator only substitutes:
//   {{name}}      the image name
//   {{imports}}   `import Kernel`, one import per module bound to a slot, and one per library that
//                 contributes a wiring fragment
//   {{bindings}}  `typealias <Slot> = <Module>.<Type>` per API slot (slot `allocator` -> `Allocator`)
//   {{app}}       the app's type
// Everything is sorted, so the same manifest always generates the same file.

import Foundation

public enum WiringGenerator {
    /// The associated-type name of a slot in `Image`: the slot name with its first letter capitalized
    /// and dashes removed (`net-device` -> `NetDevice`).
    public static func typeName(forSlot slot: String) -> String {
        slot.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    public static func generate(template: String, resolved: ResolvedImage) -> String {
        let bindings = resolved.bindings.sorted { $0.slot < $1.slot }
        let modules = Set(bindings.map(\.module) + ["Kernel"] + resolved.libraries.filter { library in
            FileManager.default.fileExists(atPath: library.directory + "/Wiring.swift.in")
        }.map(\.module)).sorted()
        let imports = modules.map { "import \($0)" }.joined(separator: "\n")
        let aliases = bindings.map { "    typealias \(typeName(forSlot: $0.slot)) = \($0.module).\($0.type)" }
            .joined(separator: "\n")
        return template
            .replacingOccurrences(of: "{{name}}", with: resolved.manifest.name)
            .replacingOccurrences(of: "{{imports}}", with: imports)
            .replacingOccurrences(of: "{{bindings}}", with: aliases)
            .replacingOccurrences(of: "{{app}}", with: resolved.manifest.app.type)
    }
}
