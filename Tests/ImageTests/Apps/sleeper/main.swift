import Clock
import Interrupts
import Kernel

struct Sleeper: Application {
    static func main(arguments: [String]) -> Int32 {
        print("clock: \(Clock.calibrationMethod.name), TSC \(Clock.tscFrequency / 1_000_000) MHz, timer \(Clock.usesTSCDeadline ? "TSC-deadline" : "one-shot"), \(LocalAPIC.modeName)")
        print("wall: \(Clock.wallTime().seconds)")
        for _ in 0..<5 {
            let start = Clock.now()
            Clock.sleep(nanoseconds: 100_000_000)
            print("slept-us: \((Clock.now() - start) / 1000)")
        }
        print("timer-interrupts: \(Clock.timerInterrupts) spurious: \(Interrupts.spuriousCount)")
        if let text = arguments.first, let milliseconds = UInt64(text) {
            print("idle: sleeping \(milliseconds) ms")
            Clock.sleep(nanoseconds: milliseconds * 1_000_000)
            print("idle: done")
        }
        return 0
    }
}
