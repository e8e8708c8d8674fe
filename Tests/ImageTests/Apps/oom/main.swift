import Kernel

struct OutOfMemory: Application {
    static func main(arguments: [String]) -> Int32 {
        var kept: [[UInt8]] = []
        var total = 0
        while true {
            kept.append([UInt8](repeating: UInt8(truncatingIfNeeded: total), count: 16 * 1024))
            total += 16 * 1024
            if total % (256 * 1024) == 0 { print("allocated \(total / 1024) KiB") }
        }
    }
}
