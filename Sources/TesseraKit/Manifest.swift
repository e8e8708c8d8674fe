// Manifest: the image description `tessera.yaml` (format in docs/libraries.md).
//
// `Manifest.load(path:)` reads the file, checks every key and value, and throws `Diagnostics` listing all
// problems with their line and column; nothing about libraries is checked here (slots and library names
// need the catalog: see LibraryGraph), only what the manifest alone can tell: types, names, memory sizes,
// the platform, that app sources and library folders exist, and the `rootfs:` tree (its names, kinds
// and total size: RootFileSystemArchive; the builder reads their contents). Values that the graph checks
// later keep their location (`Located`), so its errors point into this file too.
//
// Paths: `file` is kept as given; `directory` is its folder; app sources, library paths and `rootfs` are
// joined to it, so they stay relative to the current directory when the manifest path was relative.
// Supported machines live in `Manifest.platforms` only (add `kvm` there).

import Foundation

public struct Manifest: Sendable {
    public static let fileName = "tessera.yaml"
    /// Every machine an image can be built for; the first is the default.
    public static let platforms = ["qemu-microvm", "qemu-pc", "qemu-q35", "kvm"]
    public static let defaultPlatform = platforms[0]
    /// Guest memory when the manifest says nothing: 8 MiB.
    public static let defaultMemory: UInt64 = 8 << 20
    /// The top-level keys, in documentation order.
    public static let keys = ["name", "app", "platform", "memory", "arguments", "parameters", "libraries", "use",
                              "library-paths", "files", "rootfs", "devices", "mounts"]
    static let appKeys = ["sources", "type"]

    public struct App: Sendable {
        /// The sources as written in the manifest, with their locations.
        public var sources: [Located<String>]
        /// The same sources joined to the manifest's folder.
        public var sourcePaths: [String]
        /// The type conforming to `Application`.
        public var type: String
    }

    /// One `slot: library` entry of `libraries:`.
    public struct LibraryChoice: Hashable, Sendable {
        public var slot: Located<String>
        public var library: Located<String>
    }

    /// The manifest file, as given.
    public var file: String
    /// Its folder (`.` for a bare file name).
    public var directory: String
    public var name: String
    public var app: App
    /// One of `Manifest.platforms`.
    public var platform: String
    /// Where `platform:` is written (the whole file when defaulted).
    public var platformLocation: FileLocation
    /// Guest memory in bytes.
    public var memory: UInt64
    public var arguments: [String]
    /// `parameters:` as kernel parameter words `NAME=VALUE`, in file order (defaults that
    /// `tessera run -e NAME=VALUE` overrides, e.g. `metrics.port: 9100`).
    public var parameters: [String]
    /// The `libraries:` entries in file order.
    public var libraries: [LibraryChoice]
    /// Where `libraries:` is written, else the top of the file (for "choose an implementation" errors).
    public var librariesLocation: FileLocation
    public var use: [Located<String>]
    /// `library-paths` joined to the manifest's folder, in manifest order (searched before built-ins).
    public var libraryPaths: [String]
    /// `devices:`: the host devices the image expects attached, by name (`service: net`, `data: block`).
    /// Empty when the manifest declares none (then the slots imply them: see `DeviceAttachments`).
    public var devices: [DeviceDeclaration]
    /// `mounts:`: where the disk and host folders appear in the guest (MountDeclaration.swift).
    public var mounts: [MountDeclaration]
    /// `rootfs:` as written, with its location; nil when the image's `/` starts empty.
    public var rootfsFolder: Located<String>?
    /// The tree `rootfs:` packs (a cpio archive unpacked into `/` at boot), as scanned at load.
    public var rootfs: RootFileSystemArchive?

    /// The chosen implementation for each slot named under `libraries:`.
    public var libraryChoices: [String: String] {
        Dictionary(libraries.map { ($0.slot.value, $0.library.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// Loads `path`: a `tessera.yaml` file, or a folder containing one. Throws `Diagnostics`.
    public static func load(path: String) throws -> Manifest {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = joinPath(path, fileName)
        }
        switch YAMLDocument.read(path: file) {
        case let .failure(diagnostic): throw Diagnostics([diagnostic])
        case let .success(document): return try Manifest(document: document)
        }
    }

    /// Parses manifest text as if read from `file` (sources are looked up next to it). Throws `Diagnostics`.
    public init(yaml: String, file: String) throws {
        switch YAMLDocument.parse(yaml, path: file) {
        case let .failure(diagnostic): throw Diagnostics([diagnostic])
        case let .success(document): try self.init(document: document)
        }
    }

    init(document: YAMLDocument) throws {
        var reader = YAMLReader(file: document.path)
        let top = FileLocation(file: document.path, line: 1, column: 1)
        guard let root = document.root else {
            throw Diagnostics([Diagnostic("the manifest is empty; expected the keys \(choiceList(["name", "app"]))",
                                          at: top)])
        }
        guard let fields = reader.fields(root, what: "", known: Self.keys, required: ["name", "app"]) else {
            throw reader.diagnostics.sortedByLocation()
        }
        file = document.path
        directory = parentFolder(of: document.path)
        let directory = self.directory

        name = ""
        if let node = fields["name"], let value = reader.string(node, key: "name") {
            if isValidName(value) {
                name = value
            } else {
                reader.error("invalid image name '\(value)'; use lowercase letters, digits and '-'", at: node)
            }
        }

        app = App(sources: [], sourcePaths: [], type: "")
        if let node = fields["app"],
           let appFields = reader.fields(node, what: "'app'", known: Self.appKeys, required: Self.appKeys,
                                         owner: fields.key("app")) {
            if let typeNode = appFields["type"], let type = reader.string(typeNode, key: "type") {
                if isValidSwiftTypeName(type) {
                    app.type = type
                } else {
                    reader.error("invalid app type '\(type)'; expected a Swift type name", at: typeNode)
                }
            }
            if let sourcesNode = appFields["sources"],
               let sources = reader.stringList(sourcesNode, key: "sources") {
                if sources.isEmpty {
                    reader.error("'sources' is empty; list the app's Swift files (e.g. [main.swift])", at: sourcesNode)
                }
                app.sources = sources
                app.sourcePaths = sources.map { joinPath(directory, $0.value) }
                Self.checkSources(sources, directory: directory, into: &reader.diagnostics)
            }
        }

        platform = Self.defaultPlatform
        platformLocation = FileLocation(file: document.path)
        if let node = fields["platform"], let value = reader.string(node, key: "platform") {
            platformLocation = reader.location(of: node)
            if Self.platforms.contains(value) {
                platform = value
            } else {
                reader.error("unknown platform '\(value)'; valid platforms: \(choiceList(Self.platforms))", at: node)
            }
        }

        memory = Self.defaultMemory
        if let node = fields["memory"], let value = reader.string(node, key: "memory") {
            if let bytes = Self.parseMemory(value) {
                memory = bytes
            } else {
                reader.error("invalid memory size '\(value)'; expected a positive number with K, M or G "
                             + "(e.g. 512K, 8M, 1G; a plain number means MiB)", at: node)
            }
        }

        arguments = []
        if let node = fields["arguments"], let values = reader.stringList(node, key: "arguments") {
            arguments = values.map(\.value)
        }

        parameters = []
        if let node = fields["parameters"], let pairs = reader.stringMapping(node, key: "parameters") {
            for pair in pairs {
                let name = pair.key.value, value = pair.value.value
                if let problem = Self.parameterProblem(name: name, value: value) {
                    reader.diagnostics.error("invalid parameter '\(name): \(value)': \(problem)", at: pair.key.location)
                } else {
                    parameters.append("\(name)=\(value)")
                }
            }
        }

        libraries = []
        librariesLocation = fields.key("libraries").map { reader.location(of: $0) } ?? fields.location
        if let node = fields["libraries"], let pairs = reader.stringMapping(node, key: "libraries") {
            libraries = pairs.map { LibraryChoice(slot: $0.key, library: $0.value) }
        }

        use = []
        if let node = fields["use"], let values = reader.stringList(node, key: "use") {
            var seen = Set<String>()
            for value in values where !seen.insert(value.value).inserted {
                reader.diagnostics.error("'\(value.value)' is listed twice in 'use'", at: value.location)
            }
            use = values
        }

        libraryPaths = []
        if let node = fields["library-paths"], let values = reader.stringList(node, key: "library-paths") {
            for value in values {
                let path = joinPath(directory, value.value)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                    libraryPaths.append(path)
                } else {
                    reader.diagnostics.error("library path '\(value.value)' is not a folder (looked for \(path))",
                                             at: value.location)
                }
            }
        }

        devices = []
        if let node = fields["devices"], let pairs = reader.stringMapping(node, key: "devices") {
            for pair in pairs {
                let name = pair.key.value
                guard let kind = DeviceDeclaration.Kind(rawValue: pair.value.value) else {
                    reader.diagnostics.error("unknown device kind '\(pair.value.value)' for device '\(name)'; valid kinds: block, net",
                                             at: pair.value.location)
                    continue
                }
                if !DeviceDeclaration.isValidName(name) {
                    reader.diagnostics.error("invalid device name '\(name)'; use 1-15 lowercase letters, digits and '-'",
                                             at: pair.key.location)
                } else if devices.contains(where: { $0.kind == kind }) {
                    reader.diagnostics.error("a second \(kind.rawValue) device '\(name)': images have at most one network and one block device for now",
                                             at: pair.key.location)
                } else {
                    devices.append(DeviceDeclaration(name: name, kind: kind, location: pair.key.location))
                }
            }
        }

        mounts = []
        if let node = fields["mounts"], let pairs = reader.stringMapping(node, key: "mounts") {
            let blockDevices = devices.filter { $0.kind == .block }.map(\.name)
            for pair in pairs {
                guard let mount = MountDeclaration.parse(path: pair.key, value: pair.value, manifestDirectory: directory,
                                                         blockDevices: blockDevices, into: &reader.diagnostics) else { continue }
                if case .disk = mount.source, mounts.contains(where: { $0.source == mount.source }) {
                    reader.diagnostics.error("the disk is mounted twice ('\(mount.guestPath)'); a disk has one mount point", at: mount.location)
                    continue
                }
                mounts.append(mount)
            }
        }

        if let node = fields["files"] {
            // Retired: the root file system does what `files:` did (and more), and its files are lent
            // to readers in place, so nothing was lost by folding one into the other.
            let folder = reader.string(node, key: "files") ?? "FOLDER"
            reader.diagnostics.error("'files' was retired: put the folder in the root file system instead "
                                     + "(e.g. 'rootfs: root' with the files under root/\(folder)/) and read them with "
                                     + "Files.root (contentsInPlace gives them without a copy); see docs/files.md", at: reader.location(of: node))
        }

        rootfsFolder = nil
        rootfs = nil
        if let node = fields["rootfs"], let value = reader.string(node, key: "rootfs") {
            let located = Located(value, at: reader.location(of: node))
            rootfsFolder = located
            let scan = RootFileSystemArchive.scan(folder: joinPath(directory, value), as: value, manifestDirectory: directory)
            rootfs = scan.archive
            for problem in scan.problems { reader.diagnostics.error(problem, at: located.location) }
        }

        try reader.diagnostics.sortedByLocation().throwIfAny()
    }

    /// Every source must be a `.swift` file that exists, listed once.
    private static func checkSources(_ sources: [Located<String>], directory: String,
                                     into diagnostics: inout Diagnostics) {
        var seen = Set<String>()
        for source in sources {
            let path = joinPath(directory, source.value)
            var isDirectory: ObjCBool = false
            if !seen.insert(source.value).inserted {
                diagnostics.error("app source '\(source.value)' is listed twice", at: source.location)
            } else if !source.value.hasSuffix(".swift") {
                diagnostics.error("app source '\(source.value)' is not a Swift file (.swift)", at: source.location)
            } else if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                        || isDirectory.boolValue {
                diagnostics.error("app source '\(source.value)' does not exist (looked for \(path))",
                                  at: source.location)
            }
        }
    }

    /// Parses a memory size: a positive integer with an optional K, M or G suffix (binary units, either
    /// case); a plain number means MiB, like QEMU's `-m`. Returns bytes, or nil when invalid or overflowing.
    /// Why `name=value` cannot be a kernel parameter, or nil when it can: names are lowercase letters,
    /// digits, '.', '_' and '-'; values are non-empty and hold no spaces, quotes or backslashes (the
    /// kernel command line would split or unquote them).
    public static func parameterProblem(name: String, value: String) -> String? {
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0) }) else {
            return "names are lowercase letters, digits, '.', '_' and '-'"
        }
        guard !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\t" || $0 == "\"" || $0 == "'" || $0 == "\\" }) else {
            return "values are non-empty, without spaces, quotes or backslashes"
        }
        return nil
    }

    public static func parseMemory(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20,
                                          "G": 1 << 30, "g": 1 << 30]
        var digits = Substring(text)
        var unit: UInt64 = 1 << 20
        if let last = digits.last, let suffixUnit = units[last] {
            unit = suffixUnit
            digits.removeLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let count = UInt64(digits), count > 0 else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }
}

/// One device a manifest declares under `devices:`.
public struct DeviceDeclaration: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case net, block
    }
    public var name: String
    public var kind: Kind
    public var location: FileLocation

    public init(name: String, kind: Kind, location: FileLocation) {
        self.name = name
        self.kind = kind
        self.location = location
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 15
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }
}

