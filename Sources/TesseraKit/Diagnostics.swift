// Diagnostics: errors that point at a file, a line and a column, formatted like a compiler's.
//
// Loading a manifest, the library descriptors and resolving the library graph never stop at the first
// problem: each step appends `Diagnostic`s to a `Diagnostics` list and throws the whole list at the end,
// so the user sees every error at once and nothing is built. A diagnostic prints as
//
//     path/tessera.yaml:7:3: error: unknown library 'alloc-foo' for slot 'allocator'; valid choices: ...
//
// Lines and columns are 1-based (columns count Unicode scalars, as libyaml does). A diagnostic about a
// whole file (it cannot be read, a library folder has no sources) has no line and prints `path: error: ...`.
// File paths are kept as the user spelled them (relative paths stay relative) to keep messages short.

/// A position in a YAML file: the path as given, and a 1-based line and column (nil for the whole file).
public struct FileLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?

    public init(file: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, `file:line` or `file`.
    public var description: String {
        guard let line else { return file }
        guard let column else { return "\(file):\(line)" }
        return "\(file):\(line):\(column)"
    }
}

/// A value read from a YAML file, with where it was written (for errors found later, e.g. by the graph).
public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var location: FileLocation

    public init(_ value: Value, at location: FileLocation) {
        self.value = value
        self.location = location
    }
}

/// One error, with its location.
public struct Diagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: FileLocation
    public var message: String

    public init(_ message: String, at location: FileLocation) {
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): error: \(message)" }
}

/// The error type of a manifest load (the name the CLI's error handling uses).
public typealias ManifestError = Diagnostic

/// Every error found by one step, in the order found. Thrown as a whole; printed one error per line.
public struct Diagnostics: Error, Sendable, CustomStringConvertible {
    public private(set) var errors: [Diagnostic]

    public init(_ errors: [Diagnostic] = []) {
        self.errors = errors
    }

    public var isEmpty: Bool { errors.isEmpty }

    public var description: String { errors.map(\.description).joined(separator: "\n") }

    public mutating func error(_ message: String, at location: FileLocation) {
        errors.append(Diagnostic(message, at: location))
    }

    public mutating func append(_ diagnostic: Diagnostic) {
        errors.append(diagnostic)
    }

    public mutating func append(contentsOf other: Diagnostics) {
        errors.append(contentsOf: other.errors)
    }

    /// The errors ordered by line and column within each file (files in order of first appearance; errors
    /// at one place keep their order). Loaders of a single file use it so errors read top to bottom.
    public func sortedByLocation() -> Diagnostics {
        var fileOrder: [String: Int] = [:]
        for error in errors where fileOrder[error.location.file] == nil {
            fileOrder[error.location.file] = fileOrder.count
        }
        let keyed = errors.enumerated().map { offset, error in
            ([fileOrder[error.location.file]!, error.location.line ?? 0, error.location.column ?? 0, offset], error)
        }
        return Diagnostics(keyed.sorted { $0.0.lexicographicallyPrecedes($1.0) }.map(\.1))
    }

    /// Throws `self` if any error was recorded.
    public func throwIfAny() throws {
        if !errors.isEmpty { throw self }
    }
}

// MARK: - Message helpers shared by the loaders

/// `a, b, c` or `(none)`; the names are sorted so messages are deterministic.
func choiceList<S: Sequence>(_ names: S) -> String where S.Element == String {
    let sorted = Array(Set(names)).sorted()
    return sorted.isEmpty ? "(none)" : sorted.joined(separator: ", ")
}

/// Names of images, libraries, slots and machines: `[a-z0-9-]+`.
func isValidName(_ name: String) -> Bool {
    !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-"
    }
}

/// A Swift identifier (ASCII), or a dotted path of identifiers (`Module.Type`).
func isValidSwiftTypeName(_ name: String, allowDots: Bool = true) -> Bool {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false)
    guard !parts.isEmpty, allowDots || parts.count == 1 else { return false }
    return parts.allSatisfy { part in
        guard let first = part.unicodeScalars.first else { return false }
        let isHead = { (s: Unicode.Scalar) in ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "_" }
        return isHead(first) && part.unicodeScalars.allSatisfy { isHead($0) || ("0"..."9").contains($0) }
    }
}

/// Joins a path relative to a base folder; absolute paths and an empty/`.` base are left alone.
func joinPath(_ base: String, _ path: String) -> String {
    if path.hasPrefix("/") || base.isEmpty || base == "." { return path }
    var trimmed = path
    while trimmed.hasPrefix("./") { trimmed.removeFirst(2) }
    if trimmed.isEmpty || trimmed == "." { return base }
    return base.hasSuffix("/") ? base + trimmed : base + "/" + trimmed
}

/// The folder part of a file path: `a/b/c.yaml` → `a/b`, `c.yaml` → `.`.
func parentFolder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// The last component of a path, ignoring a trailing slash.
func lastPathComponent(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
    return trimmed.split(separator: "/").last.map(String.init) ?? String(trimmed)
}
