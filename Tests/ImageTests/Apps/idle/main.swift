import ArchX86
import Kernel

struct Idle: Application {
    static func main(arguments: [String]) -> Int32 {
        print("idle: waiting")
        while true { CPU.halt() }
    }
}
