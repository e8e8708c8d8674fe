// LibraryDescriptor: one micro-library, read from `FOLDER/library.yaml` (format in docs/libraries.md).
//
// Loading checks the descriptor on its own: required keys, names (`[a-z0-9-]+`, equal to the folder
// name), Swift identifiers, `implements` together with `type`, `machines` only with `implements` and
// naming known machines, and that the folder has sources. Relations between libraries (does a required
// library exist, is a slot defined, cycles) are checked by LibraryCatalog and LibraryGraph, which is why
// `requires`, `implements` and `api.default` keep their locations in this file.
//
// Sources are the `*.swift` and `*.S` files directly in the folder (not in subfolders), sorted by name so
// builds are reproducible.

import Foundation

public struct LibraryDescriptor: Hashable, Sendable {
    public static let fileName = "library.yaml"
    /// The slot bound by the manifest's top-level `platform:` key.
    public static let platformSlot = "platform"
    static let keys = ["name", "module", "description", "requires", "implements", "type", "machines", "entry", "core", "api"]
    static let apiKeys = ["slot", "protocol", "default"]

    /// An API slot this library defines.
    public struct API: Hashable, Sendable {
        /// The slot name used in manifests (`allocator`).
        public var slot: String
        /// The protocol implementations conform to (`Allocator`).
        public var `protocol`: String
        /// The implementation chosen when a manifest says nothing; nil when a manifest must choose.
        public var defaultLibrary: Located<String>?
        public var slotLocation: FileLocation
    }

    public var name: String
    /// The Swift module name.
    public var module: String
    public var description: String
    /// Names of the libraries this one imports, with the location of each entry.
    public var requires: [Located<String>]
    /// The slot this library implements, and where `implements:` is written.
    public var implements: Located<String>?
    /// The type conforming to the slot's protocol (set exactly when `implements` is).
    public var type: String?
    /// For platform libraries: the machines (`Manifest.platforms`) it boots on. For other
    /// implementations: the machines on which it replaces the slot's default (console-kvm on kvm).
    public var machines: [String]
    /// For platform libraries: the symbol the linker makes the ELF entry point, when it is not the
    /// linker script's (platform-kvm's 64-bit entry instead of the PVH 32-bit one).
    public var entry: String?
    /// Part of every image.
    public var core: Bool
    public var api: API?
    /// The library's folder, as found in the search path.
    public var directory: String
    /// The layer folder it sits in (`lib/net/net-tcp` → "net"); nil for a library directly in a search
    /// path (an app's own `library-paths`, say). Set by LibraryCatalog.
    public var group: String? = nil
    /// The descriptor file (`directory/library.yaml`).
    public var file: String
    /// `*.swift` and `*.S` files directly in the folder, sorted, as paths under `directory`.
    public var sources: [String]

    /// The names in `requires`.
    public var dependencies: [String] { requires.map(\.value) }

    /// Loads `directory/library.yaml` and lists the folder's sources. Throws `Diagnostics`.
    public static func load(directory: String) throws -> LibraryDescriptor {
        let file = joinPath(directory, fileName)
        switch YAMLDocument.read(path: file) {
        case let .failure(diagnostic): throw Diagnostics([diagnostic])
        case let .success(document): return try LibraryDescriptor(document: document, directory: directory)
        }
    }

    init(document: YAMLDocument, directory: String) throws {
        var reader = YAMLReader(file: document.path)
        let required = ["name", "module", "description"]
        guard let root = document.root else {
            throw Diagnostics([Diagnostic("the descriptor is empty; expected the keys \(choiceList(required))",
                                          at: FileLocation(file: document.path, line: 1, column: 1))])
        }
        guard let fields = reader.fields(root, what: "", known: Self.keys, required: required) else {
            throw reader.diagnostics.sortedByLocation()
        }
        self.file = document.path
        self.directory = directory
        let folderName = lastPathComponent(directory)

        name = folderName
        if let node = fields["name"], let value = reader.string(node, key: "name") {
            if !isValidName(value) {
                reader.error("invalid library name '\(value)'; use lowercase letters, digits and '-'", at: node)
            } else if value != folderName {
                reader.error("library name '\(value)' must equal its folder name '\(folderName)'", at: node)
            }
        }

        module = ""
        if let node = fields["module"], let value = reader.string(node, key: "module") {
            if isValidSwiftTypeName(value, allowDots: false) {
                module = value
            } else {
                reader.error("invalid module name '\(value)'; expected a Swift identifier", at: node)
            }
        }

        description = ""
        if let node = fields["description"], let value = reader.string(node, key: "description") {
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.contains("\n") {
                reader.error("'description' must be one non-empty line", at: node)
            }
            description = trimmed
        }

        requires = []
        if let node = fields["requires"], let values = reader.stringList(node, key: "requires") {
            var seen = Set<String>()
            for value in values {
                if !isValidName(value.value) {
                    reader.diagnostics.error("invalid library name '\(value.value)' in 'requires'", at: value.location)
                } else if value.value == folderName {
                    reader.diagnostics.error("library '\(folderName)' requires itself", at: value.location)
                } else if !seen.insert(value.value).inserted {
                    reader.diagnostics.error("'\(value.value)' is listed twice in 'requires'", at: value.location)
                } else {
                    requires.append(value)
                }
            }
        }

        implements = nil
        if let node = fields["implements"], let value = reader.string(node, key: "implements") {
            if isValidName(value) {
                implements = Located(value, at: reader.location(of: node))
            } else {
                reader.error("invalid slot name '\(value)' in 'implements'", at: node)
            }
        }

        type = nil
        if let node = fields["type"], let value = reader.string(node, key: "type") {
            if !isValidSwiftTypeName(value) {
                reader.error("invalid type name '\(value)'; expected a Swift type name", at: node)
            } else if fields["implements"] == nil {
                reader.error("'type' is only valid with 'implements'", at: fields.key("type"))
            } else {
                type = value
            }
        }
        if fields["implements"] != nil && fields["type"] == nil {
            reader.error("'implements' requires 'type': the type conforming to the slot's protocol",
                         at: fields.key("implements"))
        }

        machines = []
        let isPlatform = implements?.value == Self.platformSlot
        if let node = fields["machines"], let values = reader.stringList(node, key: "machines") {
            if implements == nil {
                reader.error("'machines' is only valid with 'implements:' (a platform, or an implementation "
                             + "the platform's machines prefer)", at: fields.key("machines"))
            }
            for value in values where !Manifest.platforms.contains(value.value) {
                reader.diagnostics.error("unknown machine '\(value.value)'; valid machines: "
                                         + choiceList(Manifest.platforms), at: value.location)
            }
            machines = values.map(\.value)
        }
        entry = nil
        if let node = fields["entry"], let value = reader.string(node, key: "entry") {
            if !isPlatform { reader.error("'entry' is only valid with 'implements: \(Self.platformSlot)'", at: fields.key("entry")) }
            entry = value
        }
        if isPlatform && machines.isEmpty {
            reader.error("a platform library must list the machines it boots on in 'machines' "
                         + "(valid: \(choiceList(Manifest.platforms)))", at: fields.key("implements"))
        }

        core = false
        if let node = fields["core"], let value = reader.bool(node, key: "core") {
            core = value
        }

        api = nil
        if let node = fields["api"],
           let apiFields = reader.fields(node, what: "'api'", known: Self.apiKeys, required: ["slot", "protocol"],
                                         owner: fields.key("api")) {
            var api = API(slot: "", protocol: "", defaultLibrary: nil, slotLocation: apiFields.location)
            if let slotNode = apiFields["slot"], let slot = reader.string(slotNode, key: "slot") {
                api.slotLocation = reader.location(of: slotNode)
                if isValidName(slot) {
                    api.slot = slot
                } else {
                    reader.error("invalid slot name '\(slot)'; use lowercase letters, digits and '-'", at: slotNode)
                }
            }
            if let protocolNode = apiFields["protocol"], let value = reader.string(protocolNode, key: "protocol") {
                if isValidSwiftTypeName(value) {
                    api.protocol = value
                } else {
                    reader.error("invalid protocol name '\(value)'; expected a Swift type name", at: protocolNode)
                }
            }
            if let defaultNode = apiFields["default"], let value = reader.string(defaultNode, key: "default") {
                api.defaultLibrary = Located(value, at: reader.location(of: defaultNode))
            }
            self.api = api
        }

        sources = []
        do {
            sources = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".swift") || $0.hasSuffix(".S") }
                .sorted()
                .map { joinPath(directory, $0) }
        } catch {
            reader.diagnostics.error("cannot list the library folder", at: FileLocation(file: directory))
        }
        // A folder without sources yet (a library being written) loads; only an image that uses it
        // fails, in LibraryGraph, so that it does not break every other build.

        try reader.diagnostics.sortedByLocation().throwIfAny()
    }
}
