import Files
import Kernel
import Shell
import VFS

struct Share: Application {
    static func main(arguments: [String]) -> Int32 {
        for line in ["ls -l /www", "cat /www/index.html", "write /www/new refused", "df"] {
            let result = ShellCommands.run(line)
            print("$ " + line)
            print(String(decoding: result.output, as: UTF8.self), terminator: "")
        }
        let vfs = Files.root
        do {
            let bytes = try vfs.contents(of: "/www/large")
            var hash: UInt32 = 2166136261
            for byte in bytes { hash = (hash ^ UInt32(byte)) &* 16777619 }
            print("share: /www/large \(bytes.count) bytes, fnv \(hash)")
            try vfs.write(Array("written by the guest\n".utf8), to: "/data/from-guest.txt")
            try vfs.makeDirectory("/data/made", permissions: 0o750)
            try vfs.rename("/data/from-guest.txt", to: "/data/made/moved.txt")
            try vfs.unlink("/data/remove-me")
            try vfs.symbolicLink("made/moved.txt", at: "/data/link")
            let file = try File("/data/made/big", [.writeOnly, .create], in: vfs)
            for chunk in 0 ..< 20 { try file.write([UInt8](repeating: UInt8(chunk), count: 100_000)) }
            try file.sync()
            try file.close()
            do {
                try vfs.removeDirectory("/data/made")
                print("share: rmdir of a full directory succeeded")
            } catch {
                print("share: rmdir /data/made: " + error.messageString)
            }
        } catch {
            print("share: " + error.messageString)
            return 1
        }
        print("share: done")
        return 0
    }
}
