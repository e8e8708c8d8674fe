import Files
import Kernel
import Shell

struct Ext2Disk: Application {
    static func main(arguments: [String]) -> Int32 {
        for line in ["ls -l /mnt /mnt/etc", "cat /mnt/etc/hostname", "df", "write /mnt/new refused"] {
            let result = ShellCommands.run(line)
            print("$ " + line)
            print(String(decoding: result.output, as: UTF8.self), terminator: "")
        }
        do {
            let bytes = try Files.root.contents(of: "/mnt/bin/large")
            var hash: UInt32 = 2166136261
            for byte in bytes { hash = (hash ^ UInt32(byte)) &* 16777619 }
            print("ext2disk: /mnt/bin/large \(bytes.count) bytes, fnv \(hash)")
        } catch {
            print("ext2disk: /mnt/bin/large: " + error.messageString)
            return 1
        }
        return 0
    }
}
