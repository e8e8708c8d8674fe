// EmbeddedFileSet: the files that a manifest's `files:` key builds into the image.
//
// `scan(folder:as:manifestDirectory:)` walks the folder recursively and lists every regular file with its
// path relative to the folder ("/index.html", "/css/site.css"), its host path and its size, sorted by the
// path's UTF-8 bytes (the kernel library finds a path by binary search). Only names and sizes are read
// here; the builder reads the contents (EmbeddedFilesAssembly, Builder). What a scan refuses, each a
// problem that the manifest reports at its `files:` value, all at once:
//   - a folder that is missing, is not a folder, or contains the manifest's own folder (whose
//     `.tessera/` holds the build outputs: the image would embed itself);
//   - names with any character other than ASCII letters, digits, '-', '.', '_' and '~' (RFC 3986
//     "unreserved"): every path is then a URL path as is (no percent-encoding), and prints and
//     assembles without escaping;
//   - anything that is neither a regular file nor a folder (devices, FIFOs, sockets), symbolic links
//     to folders (they could form cycles) and broken symbolic links; a symbolic link to a regular
//     file embeds that file under the link's name;
//   - unreadable files and folders;
//   - more than `maximumTotalBytes` (64 MiB) in all: embedded files are loaded with the image, so
//     guest memory must hold them too. Single files have no limit of their own.
// Hidden files and folders (`.well-known/`) are embedded like any others.

import Foundation

public struct EmbeddedFileSet: Hashable, Sendable {
    /// The library that reads the table; `files:` adds it to the image.
    public static let libraryName = "embedded-files"
    /// The most bytes all embedded files together may hold.
    public static let maximumTotalBytes = 64 << 20

    public struct File: Hashable, Sendable {
        /// The path in the image: "/" and the path relative to the folder ("/css/site.css").
        public var path: String
        /// The file on the host.
        public var source: String
        /// Its size when scanned.
        public var size: Int

        public init(path: String, source: String, size: Int) {
            self.path = path
            self.source = source
            self.size = size
        }
    }

    /// The folder on the host (empty for the empty set).
    public var folder: String
    /// The files, sorted by the UTF-8 bytes of `path`.
    public private(set) var files: [File]

    public var totalBytes: Int { files.reduce(0) { $0 + $1.size } }

    /// A set of `files`, sorted by path.
    public init(folder: String, files: [File]) {
        self.folder = folder
        self.files = files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// No files: the table an image gets when it selects `embedded-files` without `files:`.
    public static let empty = EmbeddedFileSet(folder: "", files: [])

    /// A character allowed in an embedded file's name.
    public static func isAllowedInName(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "-" || scalar == "." || scalar == "_" || scalar == "~"
    }

    /// Scans `folder` (written `written` in the manifest, used in messages). Returns the set, or nil with
    /// the problems found; `manifestDirectory` must not be inside `folder`.
    public static func scan(folder: String, as written: String,
                            manifestDirectory: String) -> (set: EmbeddedFileSet?, problems: [String]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            return (nil, ["files folder '\(written)' does not exist (looked for \(folder))"])
        }
        guard isDirectory.boolValue else {
            return (nil, ["'files' must name a folder; '\(written)' is a file"])
        }
        let resolvedFolder = resolved(folder), resolvedManifest = resolved(manifestDirectory)
        if resolvedManifest == resolvedFolder || resolvedManifest.hasPrefix(resolvedFolder + "/")
            || resolvedFolder == "/" {
            return (nil, ["files folder '\(written)' contains the manifest's folder, whose .tessera/ holds the "
                          + "build outputs; put the files in a subfolder (e.g. www/)"])
        }
        var scanner = Scanner(display: displayPrefix(written))
        scanner.walk(folder, relative: "")
        let set = EmbeddedFileSet(folder: folder, files: scanner.files)
        if set.totalBytes > maximumTotalBytes {
            scanner.problems.append("the files under '\(written)' hold \(set.totalBytes) bytes; embedded files "
                                    + "may hold at most \(maximumTotalBytes >> 20) MiB in all")
        }
        return scanner.problems.isEmpty ? (set, []) : (nil, scanner.problems)
    }

    /// The absolute path with symbolic links resolved, for comparing folders.
    private static func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// `www/` and `www` both name files as `www/x`.
    private static func displayPrefix(_ written: String) -> String {
        var prefix = Substring(written)
        while prefix.count > 1 && prefix.hasSuffix("/") { prefix.removeLast() }
        return String(prefix)
    }

    /// "'é' (U+00E9)", "a space", "'$'": a refused character, for messages.
    static func describe(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        if scalar == " " { return "a space" }
        if scalar.isASCII && scalar.value >= 0x21 && scalar.value < 0x7F { return "'\(scalar)'" }
        if scalar.properties.isWhitespace || scalar.properties.generalCategory == .control { return code }
        return "'\(scalar)' (\(code))"
    }

    /// One recursive walk, collecting files and problems.
    private struct Scanner {
        let display: String
        var files: [File] = []
        var problems: [String] = []

        init(display: String) {
            self.display = display
        }

        mutating func walk(_ directory: String, relative: String) {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                problems.append("cannot read the folder '\(display + relative)'")
                return
            }
            for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let path = relative + "/" + name, host = directory + "/" + name
                if let refused = name.unicodeScalars.first(where: { !isAllowedInName($0) }) {
                    problems.append("cannot embed '\(display + path)': \(describe(refused)) is not allowed in "
                                    + "embedded file names (use letters, digits, '-', '.', '_' and '~')")
                    continue
                }
                var info = stat()
                guard lstat(host, &info) == 0 else {
                    problems.append("cannot read '\(display + path)'")
                    continue
                }
                if info.st_mode & S_IFMT == S_IFLNK {
                    guard stat(host, &info) == 0 else {
                        problems.append("cannot embed '\(display + path)': a broken symbolic link")
                        continue
                    }
                    if info.st_mode & S_IFMT == S_IFDIR {
                        problems.append("cannot embed '\(display + path)': a symbolic link to a folder "
                                        + "(not followed; copy the folder or link its files)")
                        continue
                    }
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    walk(host, relative: path)
                case S_IFREG where access(host, R_OK) == 0:
                    files.append(File(path: path, source: host, size: Int(info.st_size)))
                case S_IFREG:
                    problems.append("cannot read '\(display + path)'")
                default:
                    problems.append("cannot embed '\(display + path)': not a regular file or a folder")
                }
            }
        }
    }
}
