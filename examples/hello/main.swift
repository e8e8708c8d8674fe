// hello: prints a greeting and its arguments, then exits with the code given as its first argument
// (0 when there is none or it is not a number).
import Kernel

struct Hello: Application {
    static func main(arguments: [String]) -> Int32 {
        print("Hello from Tessera!")
        print("arguments: \(arguments.count)")
        for (index, argument) in arguments.enumerated() {
            print("  [\(index)] \(argument)")
        }
        guard let first = arguments.first, let code = Int32(first) else { return 0 }
        return code
    }
}
