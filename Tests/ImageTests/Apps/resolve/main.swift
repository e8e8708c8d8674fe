import Kernel
import NetStack

struct Resolve: Application {
    static func main(arguments: [String]) -> Int32 {
        let network: Network
        do {
            network = try Network.start()
        } catch {
            print("resolve: network: \(error)")
            return 2
        }
        var failures: Int32 = 0
        for name in arguments {
            do {
                let addresses = try network.resolve(name, timeout: 3_000_000_000)
                var text = ""
                for address in addresses { text += " \(address)" }
                print("resolve: \(name) ->\(text)")
            } catch {
                print("resolve: \(name) failed: \(error)")
                failures += 1
            }
        }
        return failures
    }
}
