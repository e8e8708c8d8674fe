// schedbench: context switch, thread create+join, timer wake-up latency; then 2 s idle.
// Prints "bench: NAME VALUE UNIT" lines that benchmarks/threads.sh collects.
import ArchX86
import Clock
import Kernel
import Threads

struct SchedBench: Application {
    static func main(arguments: [String]) -> Int32 {
        let hz = Clock.tscFrequency
        print("bench: scheduler \(Thread.schedulerName)")

        // 1. Yield ping-pong: two threads hand the CPU to each other.
        let rounds = 20_000
        var done = 0
        let start = CPU.timestamp()
        let a = Thread.spawn(name: "ping") { for _ in 0..<rounds { Thread.yield() }; done += 1 }
        let b = Thread.spawn(name: "pong") { for _ in 0..<rounds { Thread.yield() }; done += 1 }
        if let a { Thread.join(a) }
        if let b { Thread.join(b) }
        let switchCycles = (CPU.timestamp() - start) / UInt64(2 * rounds)
        print("bench: yield-switch \(switchCycles) cycles")

        // 2. Create and join a thread that does nothing.
        let pairs = 300
        let createStart = CPU.timestamp()
        for _ in 0..<pairs {
            if let handle = Thread.spawn(name: "empty", stackSize: 16 * 1024, {}) { Thread.join(handle) }
        }
        let createCycles = (CPU.timestamp() - createStart) / UInt64(pairs)
        print("bench: create-join \(createCycles) cycles")

        // 3. Timer wake-up latency: sleep 1 ms, measure how late the thread runs again.
        var lateness: [UInt64] = []
        for _ in 0..<200 {
            let deadline = Clock.now() + 1_000_000
            Thread.sleep(nanoseconds: 1_000_000)
            lateness.append(Clock.now() - deadline)
        }
        lateness.sort()
        print("bench: wakeup-median \(lateness[lateness.count / 2] / 1000) us")
        print("bench: wakeup-p99 \(lateness[lateness.count * 99 / 100] / 1000) us")
        print("bench: tsc \(hz / 1_000_000) MHz")
        _ = done

        // 4. Idle: the script measures QEMU's CPU time meanwhile.
        print("bench: idle-start")
        Thread.sleep(milliseconds: 2000)
        print("bench: idle-end")
        return 0
    }
}
