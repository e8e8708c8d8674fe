// YAMLDocument: reading `tessera.yaml` and `library.yaml` with exact error positions.
//
// Codable decoding loses positions, so both formats are read from the node tree of `Yams.compose(yaml:)`,
// whose nodes carry a `mark` (1-based line and column). `YAMLDocument` turns a file into a root node and
// converts Yams' syntax errors into `Diagnostic`s; `YAMLReader` pulls typed values out of nodes and records
// an error (wrong type, unknown or duplicate key, missing key) at the offending node instead of throwing,
// so a loader reports every problem of a file in one pass. Accessors return nil after recording an error.
//
// Conventions shared by both formats: a key written with no value (`use:`) means an empty list or mapping;
// scalars of any YAML type are read as their source text (`memory: 8` is "8"); keys must be unique.
// Only the types this file exposes are used by the loaders; Yams stays an implementation detail.

import Foundation
import Yams

struct YAMLDocument {
    /// The path as given, used in diagnostics.
    let path: String
    /// The root node, nil when the file holds no document (empty or comments only).
    let root: Node?

    /// Reads and composes `path`; an unreadable file or a syntax error becomes one diagnostic.
    static func read(path: String) -> Result<YAMLDocument, Diagnostic> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return .failure(Diagnostic("no such file", at: FileLocation(file: path)))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(Diagnostic("cannot read the file", at: FileLocation(file: path)))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(Diagnostic("the file is not valid UTF-8", at: FileLocation(file: path)))
        }
        return parse(text, path: path)
    }

    /// Composes YAML text read from `path`.
    static func parse(_ text: String, path: String) -> Result<YAMLDocument, Diagnostic> {
        do {
            return .success(YAMLDocument(path: path, root: try Yams.compose(yaml: text)))
        } catch let error as YamlError {
            return .failure(diagnostic(for: error, path: path))
        } catch {
            return .failure(Diagnostic("invalid YAML: \(error)", at: FileLocation(file: path, line: 1, column: 1)))
        }
    }

    /// `path:L:C: error: invalid YAML: <problem> (<context> at line N)`.
    private static func diagnostic(for error: YamlError, path: String) -> Diagnostic {
        func located(_ context: YamlError.Context?, _ problem: String, _ mark: Mark, _ yaml: String) -> Diagnostic {
            var message = "invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            message += hint(problem: problem, mark: mark, yaml: yaml)
            return Diagnostic(message, at: FileLocation(file: path, line: mark.line, column: mark.column))
        }
        // `if case` rather than `switch`: the set of cases differs between Yams releases.
        if case let .scanner(context, problem, mark, yaml) = error { return located(context, problem, mark, yaml) }
        if case let .parser(context, problem, mark, yaml) = error { return located(context, problem, mark, yaml) }
        if case let .composer(context, problem, mark, yaml) = error { return located(context, problem, mark, yaml) }
        if case let .reader(problem, offset, _, yaml) = error {
            var location = FileLocation(file: path)
            if let offset, offset <= yaml.count {
                let before = yaml.prefix(offset)
                let line = before.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                let lineStart = before.lastIndex(of: "\n").map { before.index(after: $0) } ?? before.startIndex
                location = FileLocation(file: path, line: line,
                                          column: before[lineStart...].unicodeScalars.count + 1)
            }
            return Diagnostic("invalid YAML: \(problem)", at: location)
        }
        return Diagnostic("invalid YAML: \(error)", at: FileLocation(file: path, line: 1, column: 1))
    }

    /// Advice for the two mistakes libyaml words most obscurely.
    private static func hint(problem: String, mark: Mark, yaml: String) -> String {
        if problem.hasPrefix("mapping values are not allowed") {
            return "; a value containing ': ' must be quoted"
        }
        if problem.hasPrefix("found character that cannot start any token") {
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            if mark.line >= 1, mark.line <= lines.count {
                let line = lines[mark.line - 1].unicodeScalars
                if let index = line.index(line.startIndex, offsetBy: mark.column - 1, limitedBy: line.endIndex),
                   index < line.endIndex, line[index] == "\t" {
                    return "; indent with spaces, not tabs"
                }
            }
        }
        return ""
    }
}

/// The keys of one YAML mapping, checked against the keys a format allows.
struct YAMLFields {
    /// Where the mapping is (or the key that names it), for "missing key" errors.
    let location: FileLocation
    private(set) var entries: [String: (key: Node, value: Node)] = [:]

    init(location: FileLocation) {
        self.location = location
    }

    fileprivate mutating func add(_ name: String, key: Node, value: Node) {
        entries[name] = (key, value)
    }

    subscript(name: String) -> Node? { entries[name]?.value }

    func key(_ name: String) -> Node? { entries[name]?.key }
}

/// Typed access to nodes of one file; every problem is appended to `diagnostics`.
struct YAMLReader {
    let file: String
    var diagnostics = Diagnostics()

    init(file: String) {
        self.file = file
    }

    func location(of node: Node?) -> FileLocation {
        guard let mark = node?.mark else { return FileLocation(file: file) }
        return FileLocation(file: file, line: mark.line, column: mark.column)
    }

    mutating func error(_ message: String, at node: Node?) {
        diagnostics.error(message, at: location(of: node))
    }

    /// "a list", "a mapping", "nothing" or the quoted scalar, for "expected X, found Y" messages.
    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case let .scalar(scalar): return isNull(node) ? "nothing" : "'\(scalar.string)'"
        }
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return node.null != nil }
        return false
    }

    /// The mapping `node` as fields. Reports a non-mapping, non-string and duplicate keys, keys not in
    /// `known` (listing them), and `required` keys that are absent (at `owner`, the key naming the mapping).
    /// `what` names the mapping in messages: "" for the top level, else e.g. "'app'".
    mutating func fields(_ node: Node, what: String, known: [String], required: [String] = [],
                         owner: Node? = nil) -> YAMLFields? {
        let suffix = what.isEmpty ? "" : " in \(what)"
        guard case let .mapping(mapping) = node else {
            error("expected a mapping\(suffix.isEmpty ? " at the top level" : " for \(what)"), found \(describe(node))",
                  at: node)
            return nil
        }
        var fields = YAMLFields(location: location(of: owner ?? node))
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key, !isNull(key) else {
                error("expected a plain key\(suffix), found \(describe(key))", at: key)
                continue
            }
            let name = scalar.string
            if let first = fields.key(name) {
                error("duplicate key '\(name)'\(suffix) (first at line \(first.mark?.line ?? 0))", at: key)
            } else if !known.contains(name) {
                error("unknown key '\(name)'\(suffix); valid keys: \(choiceList(known))", at: key)
            } else {
                fields.add(name, key: key, value: value)
            }
        }
        for name in required where fields[name] == nil {
            diagnostics.error("missing required key '\(name)'\(suffix)", at: fields.location)
        }
        return fields
    }

    /// A scalar with a value (not null, not a list or mapping), as its source text.
    mutating func string(_ node: Node, key: String) -> String? {
        guard case let .scalar(scalar) = node, !isNull(node) else {
            error("expected a string for '\(key)', found \(describe(node))", at: node)
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ node: Node, key: String) -> Bool? {
        guard case .scalar = node, let value = node.bool else {
            error("expected true or false for '\(key)', found \(describe(node))", at: node)
            return nil
        }
        return value
    }

    /// A list of strings, each with its location; `key:` with no value is the empty list.
    mutating func stringList(_ node: Node, key: String) -> [Located<String>]? {
        if isNull(node) { return [] }
        guard case let .sequence(sequence) = node else {
            error("expected a list for '\(key)' (e.g. [a, b]), found \(describe(node))", at: node)
            return nil
        }
        var items: [Located<String>] = []
        var valid = true
        for item in sequence {
            if let value = string(item, key: key) {
                items.append(Located(value, at: location(of: item)))
            } else {
                valid = false
            }
        }
        return valid ? items : nil
    }

    /// A mapping of strings to strings (`slot: library`), in file order; no value is the empty mapping.
    mutating func stringMapping(_ node: Node, key: String) -> [(key: Located<String>, value: Located<String>)]? {
        if isNull(node) { return [] }
        guard case let .mapping(mapping) = node else {
            error("expected a mapping for '\(key)' (e.g. allocator: alloc-tlsf), found \(describe(node))", at: node)
            return nil
        }
        var pairs: [(key: Located<String>, value: Located<String>)] = []
        var seen: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            guard let name = string(keyNode, key: key) else { continue }
            if let line = seen[name] {
                error("duplicate key '\(name)' in '\(key)' (first at line \(line))", at: keyNode)
                continue
            }
            seen[name] = keyNode.mark?.line ?? 0
            guard let value = string(valueNode, key: "\(key).\(name)") else { continue }
            pairs.append((Located(name, at: location(of: keyNode)), Located(value, at: location(of: valueNode))))
        }
        return pairs
    }
}
