// yielder: see tessera.yaml.
import Clock
import Kernel
import Threads

struct Yielder: Application {
    static func main(arguments: [String]) -> Int32 {
        nonisolated(unsafe) var done = false
        let start = Clock.now()
        guard let sleeper = Thread.spawn(name: "sleeper", {
            Thread.sleep(milliseconds: 20)
            done = true
        }) else { return 2 }
        var yields = 0
        while !done && Clock.now() - start < 5_000_000_000 {
            Thread.yield()
            yields += 1
        }
        Thread.join(sleeper)
        let elapsed = (Clock.now() - start) / 1_000_000
        print("yielder: sleeper woke after \(elapsed) ms, \(yields) yields")
        return done && elapsed < 1000 ? 0 : 1
    }
}
