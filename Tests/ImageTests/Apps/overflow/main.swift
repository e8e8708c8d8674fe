import Kernel
import Threads

@inline(never)
func recurse(_ depth: Int, _ buffer: UnsafeMutablePointer<UInt8>?) -> Int {
    var local: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, UInt64(depth))
    return withUnsafeMutableBytes(of: &local) { bytes in
        bytes[0] = UInt8(truncatingIfNeeded: depth)
        return recurse(depth + 1, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)) + Int(bytes[0])
    }
}

struct Overflow: Application {
    static func main(arguments: [String]) -> Int32 {
        let handle = Thread.spawn(name: "deep", stackSize: 16 * 1024) {
            print("deep: recursing")
            print(recurse(0, nil))
        }
        if let handle { Thread.join(handle) }
        return 0
    }
}
