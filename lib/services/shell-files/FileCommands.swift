// FileCommands: the shell's file commands — ls, cat, stat, df, mkdir, rm, write — over any VFS.
//
// Pure logic over `VirtualFileSystem` and ShellCore's `CommandInvocation`, so the host tests run
// every command against a ramfs; the wiring fragment registers them with the image's shell and hands
// them `Files.root`. Output follows coreutils where a user would compare: `ls -l` shows the mode
// string, link count, owner and group numbers, size and name (`-> target` for links); `df` shows
// 1K-blocks, used, available and use% per mount; errors read "ls: /x: No such file or directory".
// Relative paths resolve against the VFS's working directory (`/` unless the app changed it).

import ShellCore
import VFS

public enum FileCommands {
    /// (name, summary, handler) for each command, for the shell to register.
    public static func table(_ vfs: @escaping () -> VirtualFileSystem) -> [(String, String, CommandHandler)] {
        [("ls", "list a directory: ls [-l] [PATH...] (default .)", { list(&$0, vfs()) }),
         ("cat", "print files: cat PATH...", { cat(&$0, vfs()) }),
         ("stat", "a file's status: stat PATH...", { stat(&$0, vfs()) }),
         ("df", "file systems: size, used, available, mount point", { df(&$0, vfs()) }),
         ("mkdir", "make directories: mkdir [-p] PATH...", { mkdir(&$0, vfs()) }),
         ("rm", "remove files or empty directories: rm PATH...", { rm(&$0, vfs()) }),
         ("write", "replace a file with text: write PATH TEXT... (words joined by spaces, newline added)", { write(&$0, vfs()) })]
    }

    static func fail(_ out: inout CommandInvocation, _ command: String, _ path: String, _ error: FileError) {
        out.line(command + ": " + path + ": " + error.messageString)
    }

    public static func list(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem) {
        var long = false
        var paths: [String] = []
        for argument in out.arguments {
            if argument == "-l" { long = true } else { paths.append(argument) }
        }
        if paths.isEmpty { paths = ["."] }
        var listedGroup = false
        for path in paths {
            let status: FileStatus
            do { status = try vfs.status(path, follow: true) } catch { fail(&out, "ls", path, error); continue }
            if paths.count > 1 && status.isDirectory {
                if listedGroup { out.line() }               // a blank line between groups, as ls(1)
                listedGroup = true
                out.line(path + ":")
            }
            guard status.isDirectory else {
                if long { longLine(&out, vfs, status, name: path, path: path) } else { out.line(path) }
                continue
            }
            let entries: [DirectoryEntry]
            do { entries = try vfs.list(path) } catch { fail(&out, "ls", path, error); continue }
            // Hidden names (a leading dot) left out and the rest in byte order, as `LC_ALL=C ls` does.
            let sorted = entries.filter { $0.name.first != UInt8(ascii: ".") }
                .sorted { $0.name.lexicographicallyPrecedes($1.name) }
            for entry in sorted {
                let name = entry.nameString
                let full = path.utf8.last == UInt8(ascii: "/") ? path + name : path + "/" + name
                if long {
                    do { longLine(&out, vfs, try vfs.status(full, follow: false), name: name, path: full) }
                    catch { fail(&out, "ls", full, error) }
                } else {
                    out.line(name)
                }
            }
        }
    }

    static func longLine(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem, _ status: FileStatus, name: String, path: String) {
        out.write(modeString(status.mode))
        out.write(" ")
        out.column(Int(status.linkCount), width: 3)
        out.write(" ")
        out.column(Int(status.userID), width: 4)
        out.write(" ")
        out.column(Int(status.groupID), width: 4)
        out.write(" ")
        out.column(Int(status.size), width: 9)
        out.write(" ")
        out.write(name)
        if status.type == .symbolicLink, let target = try? vfs.readLink(path) { out.write(" -> " + target) }
        out.line()
    }

    /// "drwxr-xr-x", "-rw-r--r--", "lrwxrwxrwx", with s/S and t/T for set-id and sticky bits (ls(1)).
    public static func modeString(_ mode: UInt32) -> String {
        var text: [UInt8] = []
        switch FileType(mode: mode) {
        case .directory: text.append(UInt8(ascii: "d"))
        case .symbolicLink: text.append(UInt8(ascii: "l"))
        case .characterDevice: text.append(UInt8(ascii: "c"))
        case .blockDevice: text.append(UInt8(ascii: "b"))
        case .fifo: text.append(UInt8(ascii: "p"))
        case .socket: text.append(UInt8(ascii: "s"))
        default: text.append(UInt8(ascii: "-"))
        }
        let letters: [UInt8] = Array("rwxrwxrwx".utf8)
        for bit in 0..<9 {
            text.append(mode & (0o400 >> UInt32(bit)) != 0 ? letters[bit] : UInt8(ascii: "-"))
        }
        func special(_ index: Int, _ flag: UInt32, _ set: UInt8) {
            let executable = text[index] != UInt8(ascii: "-")
            if mode & flag != 0 { text[index] = executable ? set : set - 32 }
        }
        special(3, 0o4000, UInt8(ascii: "s"))
        special(6, 0o2000, UInt8(ascii: "s"))
        special(9, 0o1000, UInt8(ascii: "t"))
        return String(decoding: text, as: UTF8.self)
    }

    public static func cat(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem) {
        guard !out.arguments.isEmpty else { out.line("cat: PATH..."); return }
        for path in out.arguments {
            do { out.write(try vfs.contents(of: path)) } catch { fail(&out, "cat", path, error) }
        }
    }

    public static func stat(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem) {
        guard !out.arguments.isEmpty else { out.line("stat: PATH..."); return }
        for path in out.arguments {
            let status: FileStatus
            do { status = try vfs.status(path, follow: false) } catch { fail(&out, "stat", path, error); continue }
            out.write("  File: " + path)
            if status.type == .symbolicLink, let target = try? vfs.readLink(path) { out.write(" -> " + target) }
            out.line()
            out.write("  Size: "); out.write(Int(status.size))
            out.write("  Blocks: "); out.write(Int(status.blocks))
            out.write("  Inode: "); out.write(Int(status.inode))
            out.write("  Links: "); out.write(Int(status.linkCount))
            out.line()
            out.write("  Mode: " + octal(status.permissions) + "/" + modeString(status.mode))
            out.write("  Uid: "); out.write(Int(status.userID))
            out.write("  Gid: "); out.write(Int(status.groupID))
            out.line()
            out.line("Modify: " + ShellFormat.utc(unixSeconds: status.modificationTime.seconds))
            out.line("Change: " + ShellFormat.utc(unixSeconds: status.changeTime.seconds))
        }
    }

    static func octal(_ value: UInt32) -> String {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.insert(UInt8(ascii: "0") + UInt8(rest & 7), at: 0)
            rest >>= 3
        } while rest != 0
        while digits.count < 4 { digits.insert(UInt8(ascii: "0"), at: 0) }
        return String(decoding: digits, as: UTF8.self)
    }

    public static func df(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem) {
        out.line("Filesystem  1K-blocks       Used  Available Use% Mounted on")
        for mount in vfs.mountTable {
            let total = Int(mount.usage.totalBytes), used = Int(mount.usage.usedBytes)
            let available = max(total - used, 0)
            out.column(mount.type.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }, width: 10)
            out.write(" ")
            out.column((total + 1023) / 1024, width: 10)
            out.write(" ")
            out.column((used + 1023) / 1024, width: 10)
            out.write(" ")
            out.column(available / 1024, width: 10)
            out.write(" ")
            // df(1) rounds the percentage up.
            if total > 0 {
                out.column((used * 100 + total - 1) / total, width: 3)
                out.write("%")
            } else {
                out.write("   -")
            }
            out.line(" " + mount.path)
        }
    }

    public static func mkdir(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem) {
        var parents = false
        var paths: [String] = []
        for argument in out.arguments {
            if argument == "-p" { parents = true } else { paths.append(argument) }
        }
        guard !paths.isEmpty else { out.line("mkdir: [-p] PATH..."); return }
        for path in paths {
            if parents {
                var prefix = path.utf8.first == UInt8(ascii: "/") ? "" : "."
                for component in path.utf8.split(separator: UInt8(ascii: "/")) {
                    prefix += "/" + String(decoding: component, as: UTF8.self)
                    do { try vfs.makeDirectory(prefix) } catch {
                        if error == .exists, (try? vfs.status(prefix).isDirectory) == true { continue }
                        fail(&out, "mkdir", path, error)
                        break
                    }
                }
            } else {
                do { try vfs.makeDirectory(path) } catch { fail(&out, "mkdir", path, error) }
            }
        }
    }

    public static func rm(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem) {
        guard !out.arguments.isEmpty else { out.line("rm: PATH..."); return }
        for path in out.arguments {
            do {
                let status = try vfs.status(path, follow: false)
                if status.isDirectory { try vfs.removeDirectory(path) } else { try vfs.unlink(path) }
            } catch {
                fail(&out, "rm", path, error)
            }
        }
    }

    public static func write(_ out: inout CommandInvocation, _ vfs: VirtualFileSystem) {
        guard let path = out.arguments.first else { out.line("write: PATH TEXT..."); return }
        var text = out.arguments.dropFirst().joined(separator: " ")
        text += "\n"
        do { try vfs.write(Array(text.utf8), to: path) } catch { fail(&out, "write", path, error) }
    }
}
