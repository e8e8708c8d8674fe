// threads: the threads library's demo and image test.
//   producer/consumer: 2000 items through a 16-slot queue guarded by a Mutex and two Conditions;
//   sleeper: 5 ticks, 100 ms apart, each printing how late it woke;
//   busy: spins for 300 ms without yielding (a cooperative scheduler lets nobody else run meanwhile).
// Exits 0 when every item arrived in order and all threads were joined.
import Clock
import Kernel
import Threads

final class BoundedQueue {
    var items: [Int] = []
    let capacity = 16
    let mutex = Mutex()
    let notEmpty = Condition()
    let notFull = Condition()

    func put(_ item: Int) {
        mutex.lock()
        while items.count == capacity { notFull.wait(mutex) }
        items.append(item)
        notEmpty.signal()
        mutex.unlock()
    }

    func take() -> Int {
        mutex.lock()
        while items.isEmpty { notEmpty.wait(mutex) }
        let item = items.removeFirst()
        notFull.signal()
        mutex.unlock()
        return item
    }
}

struct ThreadsDemo: Application {
    static let itemCount = 2000

    static func main(arguments: [String]) -> Int32 {
        print("threads: scheduler \(Thread.schedulerName)")
        let queue = BoundedQueue()
        var inOrder = true

        let consumer = Thread.spawn(name: "consumer") {
            var expected = 0
            for _ in 0..<itemCount {
                if queue.take() != expected { inOrder = false }
                expected += 1
            }
            print("consumer: received \(expected) items, in order: \(inOrder)")
        }
        let producer = Thread.spawn(name: "producer") {
            for item in 0..<itemCount { queue.put(item) }
            print("producer: sent \(itemCount) items")
        }
        let sleeper = Thread.spawn(name: "sleeper") {
            let start = Clock.now()
            for tick in 1...5 {
                Thread.sleep(milliseconds: 100)
                let late = Int64(Clock.now() - start) - Int64(tick) * 100_000_000
                print("sleeper: tick \(tick) late-us \(late / 1000)")
            }
        }
        let busy = Thread.spawn(name: "busy") {
            let start = Clock.now()
            var spins: UInt64 = 0
            while Clock.now() - start < 300_000_000 { spins &+= 1 }
            print("busy: spun 300 ms")
        }
        guard let consumer, let producer, let sleeper, let busy else {
            print("threads: could not create threads")
            return 1
        }
        for handle in [consumer, producer, sleeper, busy] { Thread.join(handle) }
        print("threads: all joined, \(Thread.contextSwitchCount) context switches")
        return inOrder ? 0 : 1
    }
}
