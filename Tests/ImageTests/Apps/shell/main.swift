import Kernel
import NetInterface
import NetStack
import Shell
import ShellCore
import Threads

struct ShellApp: Application {
    static func main(arguments: [String]) -> Int32 {
        ShellCommands.register("greet", summary: "say hello: greet [NAME]") { command in
            command.line("hello, \(command.arguments.first ?? "world")")
        }
        if arguments.contains("metrics") {
            ShellCommands.setMetricsProvider { page in
                page += Array("# HELP shellapp_up Whether the app runs.\n# TYPE shellapp_up gauge\nshellapp_up 1\n".utf8)
            }
        }
        do {
            _ = try Network.start(.static(.qemuUser))
        } catch {
            print("shellapp: network: \(error)")
            return 2
        }
        print("shellapp: ready")
        while true { Thread.sleep(milliseconds: 60_000) }
    }
}
