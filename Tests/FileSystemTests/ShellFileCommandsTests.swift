// The shell's file commands against coreutils: `ls -l`'s mode column for every type and special bit
// (the host's ls on the same modes), and ls/cat/mkdir -p/rm/df over a ramfs.

import Foundation
import ShellCore
import ShellFiles
import RamFS
import Testing
import VFS

@Suite struct ShellFileCommandsTests {
    func run(_ line: String, _ vfs: VirtualFileSystem) -> String {
        var table = CommandTable()
        for (name, summary, handler) in FileCommands.table({ vfs }) { table.register(name, summary: summary, handler) }
        return String(decoding: table.run(line).output, as: UTF8.self)
    }

    @Test(arguments: [0o644, 0o755, 0o4755, 0o4644, 0o2755, 0o2644, 0o1777, 0o1776, 0o7000, 0o7777, 0o000])
    func lsModeColumnMatchesCoreutils(_ permissions: Int) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-ls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("f").path, directory = folder.appendingPathComponent("d").path
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        #expect(mkdir(directory, 0o700) == 0)
        #expect(chmod(file, mode_t(permissions)) == 0 && chmod(directory, mode_t(permissions)) == 0)
        let ls = Process()
        ls.executableURL = URL(fileURLWithPath: "/bin/ls")
        ls.arguments = ["-ld", file, directory]
        ls.environment = ["LC_ALL": "C"]
        let pipe = Pipe()
        ls.standardOutput = pipe
        try ls.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ls.waitUntilExit()
        let columns = output.split(separator: "\n").map { String($0.prefix(10)) }
        // ls -ld lists its operands sorted: d before f.
        #expect(columns == [FileCommands.modeString(0o040000 | UInt32(permissions)), FileCommands.modeString(0o100000 | UInt32(permissions))],
                "\(output)")
    }

    @Test func lsCatMkdirRmAndDfAnswerAsCoreutilsWould() throws {
        let ramfs = RamFileSystem(limit: 1 << 20)
        let vfs = VirtualFileSystem(root: ramfs)
        #expect(run("mkdir -p /a/b/c", vfs) == "")
        #expect(run("mkdir -p /a/b/c", vfs) == "")                  // -p: existing directories are fine
        #expect(run("mkdir /a", vfs) == "mkdir: /a: File exists\n")
        #expect(run("write /a/note hello world", vfs) == "")
        #expect(run("cat /a/note", vfs) == "hello world\n")
        try vfs.symbolicLink("note", at: "/a/link")
        try vfs.write([], to: "/a/.hidden")
        #expect(run("ls /a", vfs) == "b\nlink\nnote\n")
        let long = run("ls -l /a", vfs).split(separator: "\n")
        #expect(long.count == 3)
        #expect(long[1].hasPrefix("lrwxrwxrwx") && long[1].hasSuffix("link -> note"), "\(long)")
        #expect(long[2].hasPrefix("-rw-r--r--") && long[2].hasSuffix("12 note"), "\(long)")
        #expect(run("rm /a/b", vfs) == "rm: /a/b: Directory not empty\n")
        #expect(run("rm /a/b/c /a/note", vfs) == "")
        #expect(run("cat /a/note", vfs) == "cat: /a/note: No such file or directory\n")
        #expect(run("cat /a/link", vfs) == "cat: /a/link: No such file or directory\n")   // dangling now
        let df = run("df", vfs).split(separator: "\n")
        #expect(df.count == 2 && df[1].hasPrefix("ramfs") && df[1].hasSuffix(" /"), "\(df)")
        let fields = df[1].split(separator: " ")
        #expect(fields[1] == "1024")
        #expect(Int(fields[2])! + Int(fields[3])! == 1024)
    }
}
