import Clock
import Kernel
import Threads

/// Long dependent chains in SSE registers: any register clobbered by a preemption changes the result.
@inline(never)
func work(seed: Double, rounds: Int) -> (Double, SIMD4<Float>) {
    var x = seed
    var v = SIMD4<Float>(Float(seed), 1.5, -2.25, 0.125)
    for i in 0..<rounds {
        x = x * 1.000000119 + Double(i & 7) * 0.5
        if x > 1e12 { x = x / 3.0 }
        v = v * SIMD4<Float>(1.0001, 0.9999, 1.00002, 0.99998) + SIMD4<Float>(0.5, -0.25, 0.125, 1)
    }
    return (x, v)
}

struct FPU: Application {
    static func main(arguments: [String]) -> Int32 {
        let rounds = 3_000_000
        let seeds: [Double] = [1.25, 3.5, 7.75]
        let expected = seeds.map { work(seed: $0, rounds: rounds) }     // alone, no preemption
        var results = Array(repeating: (0.0, SIMD4<Float>()), count: seeds.count)
        var handles: [ThreadHandle] = []
        for (index, seed) in seeds.enumerated() {
            if let handle = Thread.spawn(name: "fpu\(index)", { results[index] = work(seed: seed, rounds: rounds) }) {
                handles.append(handle)
            }
        }
        for handle in handles { Thread.join(handle) }
        var same = true
        for index in seeds.indices where results[index].0 != expected[index].0 || results[index].1 != expected[index].1 {
            same = false
        }
        print("fpu: \(handles.count) threads, \(Thread.contextSwitchCount) switches, results identical: \(same)")
        return same ? 0 : 1
    }
}
