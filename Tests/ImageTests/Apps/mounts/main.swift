import Files
import Kernel
import Shell

struct Mounts: Application {
    static func main(arguments: [String]) -> Int32 {
        for line in ["cat /www/index.html", "ls /data", "write /www/new refused", "write /data/written yes", "cat /data/written"] {
            let result = ShellCommands.run(line)
            print("$ " + line)
            print(String(decoding: result.output, as: UTF8.self), terminator: "")
        }
        return 0
    }
}
