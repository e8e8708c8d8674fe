import Kernel

struct Stress: Application {
    static func main(arguments: [String]) -> Int32 {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(truncatingIfNeeded: state >> 1)
        }
        // A first allocation far larger than one heap extension (16 pages) must still succeed.
        let large = [UInt8](repeating: 0xA5, count: 200 * 1024)
        guard large.allSatisfy({ $0 == 0xA5 }) else { return 2 }
        var slots: [[UInt8]] = Array(repeating: [], count: 64)
        var checked = 0
        for round in 0..<4000 {
            let index = next() % slots.count
            let old = slots[index]
            for byte in old where byte != UInt8(truncatingIfNeeded: old.count) {
                print("stress: corrupted allocation in round \(round)")
                return 1
            }
            checked += old.count
            let size = next() % 3000
            slots[index] = [UInt8](repeating: UInt8(truncatingIfNeeded: size), count: size)
        }
        print("stress ok: \(checked) bytes checked")
        return 0
    }
}
