// crash: faults on purpose so that the crash report can be seen (and tested).
//   no argument or "null": writes through a null pointer  -> page fault, exit 139
//   "trap":                a Swift runtime trap (overflow) -> invalid opcode, exit 139
import Kernel

struct Crash: Application {
    static func main(arguments: [String]) -> Int32 {
        let mode = arguments.first ?? "null"
        print("crash: about to fault (\(mode))")
        if mode.utf8.elementsEqual("trap".utf8) {
            return overflow(Int32.max - Int32(arguments.count))
        }
        writeThroughNull(UInt(arguments.count))
        return 0
    }

    @inline(never)
    static func writeThroughNull(_ seed: UInt) {
        // The address is computed at run time, so the optimizer cannot prove the store is invalid.
        let pointer = UnsafeMutablePointer<UInt64>(bitPattern: (seed & 0) | 8)!
        pointer.pointee = 0xDEAD
    }

    @inline(never)
    static func overflow(_ value: Int32) -> Int32 {
        value + 2
    }
}
