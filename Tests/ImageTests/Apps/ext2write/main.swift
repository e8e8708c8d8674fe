import Files
import Kernel
import Shell
import VFS

struct Ext2Write: Application {
    static func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0 ..< count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 31 &+ ($0 >> 11)) }
    }

    static func main(arguments: [String]) -> Int32 {
        let vfs = Files.root
        do {
            if arguments.first == "crash" {
                let file = try File("/data/kept", [.writeOnly, .create, .truncate], in: vfs)
                try file.write(Array("fsynced before the kill\n".utf8) + pattern(200_000, seed: 7))
                try file.sync()
                try file.close()
                print("ext2write: fsynced")
                var round = 0
                while true {
                    try vfs.write(pattern(50_000, seed: round), to: "/data/scratch-\(round % 40)")
                    round += 1
                }
            }
            try vfs.makeDirectory("/data/guest", permissions: 0o755)
            try vfs.write(Array("written by the guest\n".utf8), to: "/data/guest/hello.txt")
            let big = try File("/data/guest/big", [.writeOnly, .create], in: vfs)
            for chunk in 0 ..< 48 { try big.write(pattern(65536, seed: chunk)) }
            try big.close()
            try vfs.rename("/data/etc/hostname", to: "/data/guest/hostname")
            try vfs.unlink("/data/bin/large")
            try vfs.symbolicLink("hello.txt", at: "/data/guest/link")
            for line in ["ls -l /data/guest", "df"] {
                let result = ShellCommands.run(line)
                print("$ " + line)
                print(String(decoding: result.output, as: UTF8.self), terminator: "")
            }
        } catch {
            print("ext2write: " + error.messageString)
            return 1
        }
        print("ext2write: done")
        return 0
    }
}
