// Differential tests: the same file operations on the host's Linux (in a fresh directory, through the
// *at system calls) and on the VFS over ramfs, compared result by result — success or the errno, what
// stat says (type, size, link count of files), what readlink returns, and at the end the whole tree.
// A seeded random sequence of thousands of operations over a small set of names (with ".", "..",
// trailing slashes, symbolic links that chain, dangle and loop) reaches the corner cases of rename(2),
// rmdir(2), open(2) and path resolution that hand-written cases miss.

import Foundation
import Glibc
import Testing
import RamFS
import VFS

/// One operation, spelled with paths relative to the sandbox directory.
enum FileOperation: CustomStringConvertible {
    case makeDirectory(String), removeDirectory(String), unlink(String), rename(String, String)
    case link(String, String), symbolicLink(target: String, String), readLink(String)
    case status(String), linkStatus(String), truncate(String, Int)
    /// open with flags; on success write `write` bytes, then close.
    case open(String, OpenFlags, write: Int)

    var description: String {
        switch self {
        case .makeDirectory(let p): "mkdir \(p)"
        case .removeDirectory(let p): "rmdir \(p)"
        case .unlink(let p): "unlink \(p)"
        case .rename(let a, let b): "rename \(a) \(b)"
        case .link(let a, let b): "link \(a) \(b)"
        case .symbolicLink(let t, let p): "symlink \(t) \(p)"
        case .readLink(let p): "readlink \(p)"
        case .status(let p): "stat \(p)"
        case .linkStatus(let p): "lstat \(p)"
        case .truncate(let p, let n): "truncate \(p) \(n)"
        case .open(let p, let f, let n): "open \(p) 0o\(String(f.rawValue, radix: 8)) write \(n)"
        }
    }
}

/// What an operation came to, in a form both sides produce.
enum Outcome: Equatable, CustomStringConvertible {
    case ok
    case failed(Int32)
    case status(type: UInt32, size: Int64, links: UInt32)
    case text(String)

    var description: String {
        switch self {
        case .ok: "ok"
        case .failed(let e): "errno \(e) (\(FileError(rawValue: e).map { "\($0.name)" } ?? "?"))"
        case .status(let t, let s, let l): "stat type 0o\(String(t, radix: 8)) size \(s) links \(l)"
        case .text(let t): "\"\(t)\""
        }
    }
}

/// Runs operations on the host, inside a fresh directory.
final class HostSandbox {
    let root: String
    let directory: Int32

    init() {
        root = NSTemporaryDirectory() + "tessera-vfs-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        mkdir(root, 0o755)
        mkdir(root + "/sandbox", 0o755)
        directory = Glibc.open(root + "/sandbox", O_RDONLY | O_DIRECTORY)
        umask(0o022)
    }

    deinit {
        Glibc.close(directory)
        try? FileManager.default.removeItem(atPath: root)
    }

    func result(_ value: Int32) -> Outcome { value < 0 ? .failed(errno) : .ok }

    func run(_ operation: FileOperation) -> Outcome {
        switch operation {
        case .makeDirectory(let p): return result(mkdirat(directory, p, 0o777))
        case .removeDirectory(let p): return result(unlinkat(directory, p, AT_REMOVEDIR))
        case .unlink(let p): return result(unlinkat(directory, p, 0))
        case .rename(let a, let b): return result(renameat(directory, a, directory, b))
        case .link(let a, let b): return result(linkat(directory, a, directory, b, 0))
        case .symbolicLink(let t, let p): return result(symlinkat(t, directory, p))
        case .readLink(let p):
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = readlinkat(directory, p, &buffer, 4096)
            guard count >= 0 else { return .failed(errno) }
            return .text(String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        case .status(let p), .linkStatus(let p):
            var info = stat()
            let follow: Int32 = if case .status = operation { 0 } else { AT_SYMLINK_NOFOLLOW }
            guard fstatat(directory, p, &info, follow) == 0 else { return .failed(errno) }
            return Self.summary(mode: info.st_mode, size: Int64(info.st_size), links: UInt32(info.st_nlink))
        case .truncate(let p, let n):
            // truncate(2) has no *at form; the sandbox's own path stands in for the directory.
            return result(Glibc.truncate(root + "/sandbox/" + p, off_t(n)))
        case .open(let p, let flags, let count):
            let fd = openat(directory, p, flags.rawValue, 0o666)
            guard fd >= 0 else { return .failed(errno) }
            defer { Glibc.close(fd) }
            if count > 0 {
                let bytes = [UInt8](repeating: 0x61, count: count)
                if Glibc.write(fd, bytes, count) < 0 { return .failed(errno) }
            }
            return .ok
        }
    }

    /// Directories' sizes and link counts depend on the host's file system; files' do not.
    static func summary(mode: UInt32, size: Int64, links: UInt32) -> Outcome {
        let type = mode & 0o170000
        if type == 0o040000 { return .status(type: type, size: 0, links: 0) }
        return .status(type: type, size: size, links: links)
    }

    /// Every path under the sandbox with its type and (for files) size, sorted.
    func tree() -> [String] {
        var lines: [String] = []
        let base = root + "/sandbox"
        let enumerator = FileManager.default.enumerator(atPath: base)
        while let path = enumerator?.nextObject() as? String {
            var info = stat()
            lstat(base + "/" + path, &info)
            lines.append("\(path) \(Self.summary(mode: info.st_mode, size: Int64(info.st_size), links: UInt32(info.st_nlink)))")
        }
        return lines.sorted()
    }
}

/// Runs operations on a VFS over ramfs (or the file system given), inside /sandbox.
final class VFSSandbox {
    let fileSystem: VirtualFileSystem
    let directory: Int32

    /// `existing`: the root already holds /sandbox (a disk written before).
    init(_ root: any FileSystem = RamFileSystem(), existing: Bool = false) {
        fileSystem = VirtualFileSystem(root: root)
        if !existing { try! fileSystem.makeDirectory("/sandbox", permissions: 0o755) }
        directory = try! fileSystem.open("/sandbox", [.directory])
    }

    func run(_ operation: FileOperation) -> Outcome {
        do throws(FileError) {
            let d = directory
            switch operation {
            case .makeDirectory(let p): try fileSystem.makeDirectory(Array(p.utf8), relativeTo: d)
            case .removeDirectory(let p): try fileSystem.removeDirectory(Array(p.utf8), relativeTo: d)
            case .unlink(let p): try fileSystem.unlink(Array(p.utf8), relativeTo: d)
            case .rename(let a, let b): try fileSystem.rename(Array(a.utf8), to: Array(b.utf8), relativeTo: d, newRelativeTo: d)
            case .link(let a, let b): try fileSystem.link(Array(a.utf8), to: Array(b.utf8), relativeTo: d, newRelativeTo: d)
            case .symbolicLink(let t, let p): try fileSystem.symbolicLink(Array(t.utf8), at: Array(p.utf8), relativeTo: d)
            case .readLink(let p):
                return .text(String(decoding: try fileSystem.readLink(Array(p.utf8), relativeTo: d), as: UTF8.self))
            case .status(let p), .linkStatus(let p):
                var follow = true
                if case .linkStatus = operation { follow = false }
                let info = try fileSystem.status(Array(p.utf8), follow: follow, relativeTo: d)
                return HostSandbox.summary(mode: info.mode, size: info.size, links: info.linkCount)
            case .truncate(let p, let n): try fileSystem.truncate(Array(p.utf8), to: Int64(n), relativeTo: d)
            case .open(let p, let flags, let count):
                let fd = try fileSystem.open(Array(p.utf8), flags, permissions: 0o666, relativeTo: d)
                defer { try? fileSystem.close(fd) }
                if count > 0 {
                    let bytes = [UInt8](repeating: 0x61, count: count)
                    let file = File(fileSystem: fileSystem, descriptor: fd)
                    try file.write(bytes)
                }
            }
            return .ok
        } catch {
            return .failed(error.errno)
        }
    }

    func tree() -> [String] {
        var lines: [String] = []
        func walk(_ path: String, _ prefix: String) {
            for entry in (try? fileSystem.list(path)) ?? [] {
                let child = path + "/" + entry.nameString
                let relative = prefix.isEmpty ? entry.nameString : prefix + "/" + entry.nameString
                let info = try! fileSystem.status(child, follow: false)
                lines.append("\(relative) \(HostSandbox.summary(mode: info.mode, size: info.size, links: info.linkCount))")
                if info.isDirectory { walk(child, relative) }
            }
        }
        walk("/sandbox", "")
        return lines.sorted()
    }
}

/// A small deterministic generator (SplitMix64), so a failure replays.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct VFSDifferentialTests {
    static let names = ["a", "b", "c", "a/x", "a/y", "b/x", "a/x/z", "l", "m", "a/l", "a/", "b/", "l/", "a/.", "a/..",
                        ".", "..", "a/x/..", "l/x", "m/z", "c/", "a//y", "./b"]
    // No absolute targets: on the host they would lead out of the sandbox.
    static let targets = ["a", "b", "a/x", "../sandbox/b", "nowhere", "l", "m", "x", ".", ".."]
    static let flagSets: [OpenFlags] = [[], [.writeOnly, .create], [.writeOnly, .create, .truncate], [.create, .exclusive, .writeOnly],
                                        [.directory], [.noFollow], [.readWrite, .append], [.writeOnly], [.readWrite, .create, .noFollow],
                                        [.truncate], [.directory, .create]]

    static func randomOperation(_ random: inout SeededGenerator) -> FileOperation {
        func name() -> String { names.randomElement(using: &random)! }
        switch Int.random(in: 0 ..< 12, using: &random) {
        case 0, 1: return .makeDirectory(name())
        case 2: return .removeDirectory(name())
        case 3: return .unlink(name())
        case 4: return .rename(name(), name())
        case 5: return .link(name(), name())
        case 6: return .symbolicLink(target: targets.randomElement(using: &random)!, name())
        case 7: return .readLink(name())
        case 8: return .status(name())
        case 9: return .linkStatus(name())
        case 10: return .truncate(name(), Int.random(in: 0 ... 9000, using: &random))
        default: return .open(name(), flagSets.randomElement(using: &random)!, write: Int.random(in: 0 ... 3, using: &random) * 700)
        }
    }

    /// Runs `steps` random operations from `seed` on both sides; records the first difference (with the
    /// 25 operations before it) and returns false, or true when every result and errno was the host's.
    static func runSideBySide(_ host: HostSandbox, _ vfs: VFSSandbox, seed: UInt64, steps: Int, label: String) -> Bool {
        var random = SeededGenerator(state: seed)
        var history: [String] = []
        for step in 0 ..< steps {
            let operation = randomOperation(&random)
            let expected = host.run(operation)
            let actual = vfs.run(operation)
            history.append("\(operation) → \(expected)")
            if expected != actual {
                Issue.record("seed \(seed) step \(step): \(operation): Linux \(expected), \(label) \(actual)\n\(history.suffix(25).joined(separator: "\n"))")
                return false
            }
        }
        return true
    }

    @Test(arguments: Array(1 ... 16) as [UInt64])
    func randomSequencesGiveTheHostsResultsAndErrno(seed: UInt64) {
        let host = HostSandbox()
        let vfs = VFSSandbox()
        guard Self.runSideBySide(host, vfs, seed: seed, steps: 3000, label: "VFS") else { return }
        #expect(host.tree() == vfs.tree(), "seed \(seed)")
    }

    /// Cases named after the man pages' clauses, run on both sides.
    @Test(arguments: [
        // mkdir(2): EEXIST for an existing name, a dangling link, "." and ".."
        [FileOperation.makeDirectory("d"), .makeDirectory("d"), .symbolicLink(target: "gone", "s"), .makeDirectory("s"), .makeDirectory("."), .makeDirectory("..")],
        // rmdir(2): EINVAL for ".", ENOTEMPTY for "..", ENOTDIR through a link, ENOTEMPTY for a non-empty directory
        [.makeDirectory("d"), .removeDirectory("d/."), .removeDirectory("d/.."), .symbolicLink(target: "d", "s"), .removeDirectory("s"),
         .open("d/f", [.create, .writeOnly], write: 1), .removeDirectory("d"), .unlink("d/f"), .removeDirectory("d/"), .status("d")],
        // rename(2): a directory into itself (EINVAL), over a non-empty directory (ENOTEMPTY), over a file (ENOTDIR), a file over a directory (EISDIR)
        [.makeDirectory("d"), .makeDirectory("d/e"), .rename("d", "d/e/f"), .makeDirectory("t"), .open("t/f", [.create, .writeOnly], write: 3),
         .rename("d", "t"), .open("f", [.create, .writeOnly], write: 5), .rename("d", "f"), .rename("f", "d"), .rename("f", "f"), .rename("d/e", "d/e"),
         .link("f", "g"), .rename("f", "g"), .status("f"), .status("g"), .rename("f/", "h")],
        // open(2): O_CREAT|O_EXCL on a link (EEXIST), O_NOFOLLOW on a link (ELOOP), O_DIRECTORY on a file, writing a directory, a dangling link created through
        [.open("f", [.create, .writeOnly], write: 10), .symbolicLink(target: "f", "s"), .open("s", [.create, .exclusive, .writeOnly], write: 0),
         .open("s", [.noFollow], write: 0), .open("f", [.directory], write: 0), .makeDirectory("d"), .open("d", [.writeOnly], write: 0),
         .open("d", [.create], write: 0), .symbolicLink(target: "new", "dangling"), .open("dangling", [.create, .writeOnly], write: 7), .status("new"),
         .open("f/", [.create, .writeOnly], write: 0), .open("f/", [], write: 0), .open("s", [.truncate, .writeOnly], write: 0), .status("f")],
        // path_resolution(7): a loop of links (ELOOP), a file as a directory (ENOTDIR), ".." through a link
        [.symbolicLink(target: "b", "a"), .symbolicLink(target: "a", "b"), .status("a"), .linkStatus("a"), .open("a/x", [.create, .writeOnly], write: 0),
         .makeDirectory("d"), .makeDirectory("d/e"), .symbolicLink(target: "d/e", "de"), .open("de/../f", [.create, .writeOnly], write: 2), .status("d/f"),
         .open("g", [.create, .writeOnly], write: 1), .status("g/x"), .open("g/x", [.create, .writeOnly], write: 0), .readLink("g"), .readLink("de")],
        // link(2): a directory (EPERM), an existing name (EEXIST), the link itself not its target; unlink(2) of a directory (EISDIR)
        [.makeDirectory("d"), .link("d", "e"), .open("f", [.create, .writeOnly], write: 4), .link("f", "d"), .symbolicLink(target: "f", "s"),
         .link("s", "t"), .linkStatus("t"), .status("f"), .unlink("d"), .unlink("f/"), .unlink("."), .unlink("s"), .status("t")],
    ])
    func manPageCasesGiveTheHostsErrno(_ operations: [FileOperation]) {
        let host = HostSandbox()
        let vfs = VFSSandbox()
        for operation in operations {
            let expected = host.run(operation)
            #expect(vfs.run(operation) == expected, "\(operation): Linux says \(expected)")
        }
        #expect(host.tree() == vfs.tree())
    }
}
