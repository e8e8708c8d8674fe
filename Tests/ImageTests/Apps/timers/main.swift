import Clock
import Kernel
import Threads

nonisolated(unsafe) var ticks = 0
nonisolated(unsafe) var tickEvent: Event? = nil

struct TimersApp: Application {
    static func main(arguments: [String]) -> Int32 {
        tickEvent = Event()
        let start = Clock.now()
        let timer = Timers.start(after: 50_000_000, period: 50_000_000) { _ in
            ticks += 1
            tickEvent?.signal()
        }
        for _ in 1...5 {
            guard tickEvent!.wait(timeout: 1_000_000_000) else { print("timers: tick missing"); return 1 }
        }
        let elapsed = (Clock.now() - start) / 1_000_000
        print("timers: 5 periodic ticks in \(elapsed) ms")
        print("timers: cancelled \(Timers.cancel(timer))")
        let ticksAtCancel = ticks
        Thread.sleep(milliseconds: 200)
        print("timers: ticks after cancel \(ticks - ticksAtCancel)")

        let semaphore = Semaphore(count: 0)
        let waitStart = Clock.now()
        let acquired = semaphore.wait(timeout: 80_000_000)
        print("timers: semaphore timed out \(!acquired) after \((Clock.now() - waitStart) / 1_000_000) ms")

        let one = Timers.start(after: 30_000_000) { _ in tickEvent?.signal() }
        let fired = tickEvent!.wait(timeout: 500_000_000)
        print("timers: one-shot fired \(fired), cancel after firing \(Timers.cancel(one))")
        var idle = 0
        Thread.forEach { if $0.state != .unused { idle += 1 } }
        print("timers: live threads \(idle)")
        return 0
    }
}
