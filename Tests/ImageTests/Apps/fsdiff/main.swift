import Files
import Kernel
import VFS

/// Runs /script.txt in each directory given as an argument and prints `LABEL N: RESULT` per line.
struct FSDiff: Application {
    static func main(arguments: [String]) -> Int32 {
        guard let script = try? Files.root.contents(of: "/script.txt") else {
            print("fsdiff: no /script.txt")
            return 1
        }
        let lines = String(decoding: script, as: UTF8.self).split(separator: "\n").map(String.init)
        for base in arguments {
            do { try Files.root.makeDirectory(base, permissions: 0o755) } catch {
                print("fsdiff: mkdir " + base + ": " + error.messageString)
                return 1
            }
            for (number, line) in lines.enumerated() {
                print("fsdiff " + base + " \(number + 1): " + run(line, in: base))
            }
        }
        print("fsdiff: done")
        return 0
    }

    static func summary(_ status: FileStatus) -> String {
        let type = status.mode & 0o170000
        // Directories' sizes and link counts depend on the file system; files' do not.
        if type == 0o040000 { return "stat 40000 0 0" }
        return "stat " + String(type, radix: 8) + " \(status.size) \(status.linkCount)"
    }

    static func run(_ line: String, in base: String) -> String {
        let words = line.split(separator: " ").map(String.init)
        guard words.count >= 2 else { return "bad line" }
        let vfs = Files.root
        let path = base + "/" + words[1]
        let second = words.count > 2 ? base + "/" + words[2] : ""
        let number = words.count > 2 ? Int(words[2]) ?? 0 : 0
        do {
            switch words[0] {
            case "mkdir": try vfs.makeDirectory(path, permissions: 0o755)
            case "rmdir": try vfs.removeDirectory(path)
            case "unlink": try vfs.unlink(path)
            case "rename": try vfs.rename(path, to: second)
            case "link": try vfs.link(path, to: second)
            case "symlink": try vfs.symbolicLink(words[1], at: second)
            case "readlink": return "text " + (try vfs.readLink(path))
            case "stat": return summary(try vfs.status(path))
            case "lstat": return summary(try vfs.status(path, follow: false))
            case "truncate": try vfs.truncate(path, to: Int64(number))
            case "write", "append", "excl":
                let flags: OpenFlags = words[0] == "write" ? [.writeOnly, .create, .truncate]
                    : words[0] == "append" ? [.writeOnly, .append] : [.writeOnly, .create, .exclusive]
                let file = try File(path, flags, permissions: 0o644, in: vfs)
                if number > 0 { try file.write([UInt8](repeating: 0x61, count: number)) }
                try file.close()
            case "read":
                let file = try File(path, [], in: vfs)
                let bytes = try file.readAll()
                try file.close()
                return "read \(bytes.count) \(bytes.reduce(0) { $0 &+ Int($1) })"
            case "opendir":
                let fd = try vfs.open(path, [.directory])
                try vfs.close(fd)
            case "list":
                var names = try vfs.list(path).map { $0.nameString }
                names.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                return "list " + names.joined(separator: ",")
            default: return "bad op " + words[0]
            }
            return "ok"
        } catch {
            return "errno \(error.rawValue)"
        }
    }
}
