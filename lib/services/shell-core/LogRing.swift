// LogRing: the last bytes written to the console, for the shell's `log` command.
//
// A ring over memory the caller provides (`capacity` a power of two, so a position is a mask, not a
// division: `append` runs for every byte the image prints). It is fed byte by byte and never
// allocates; `lastLines` copies out. Concurrency: appends from two threads at once (a preempted
// print) may lose or swap a byte, as the console itself interleaves them; the indices stay in
// bounds whatever happens. A ring without memory (`LogRing()`) records nothing.

public struct LogRing {
    public let capacity: Int
    let storage: UnsafeMutablePointer<UInt8>?
    /// Bytes appended since the start (the newest is at `written - 1`).
    public private(set) var written: UInt64 = 0

    public init() {
        capacity = 0
        storage = nil
    }

    /// A ring over `capacity` bytes at `storage`; `capacity` is rounded down to a power of two.
    public init(storage: UnsafeMutablePointer<UInt8>, capacity: Int) {
        var size = 1
        while size * 2 <= capacity { size *= 2 }
        self.capacity = capacity > 0 ? size : 0
        self.storage = capacity > 0 ? storage : nil
    }

    @inline(__always)
    public mutating func append(_ byte: UInt8) {
        guard let storage else { return }
        storage[Int(written & UInt64(capacity - 1))] = byte
        written &+= 1
    }

    /// The byte `position` (counted from the start, within the last `capacity` bytes).
    func byte(at position: UInt64) -> UInt8 { storage![Int(position & UInt64(capacity - 1))] }

    /// The last `count` lines, oldest first. A line still being written (no "\n" yet) counts as the
    /// last one; a line whose start the ring has overwritten is left out.
    public func lastLines(_ count: Int) -> [UInt8] {
        guard storage != nil, count > 0, written > 0 else { return [] }
        let oldest = written > UInt64(capacity) ? written - UInt64(capacity) : 0
        var start = written - 1
        if byte(at: start) == UInt8(ascii: "\n") && start > oldest { start -= 1 }   // the newest line's own end
        var lines = 0
        var first: UInt64? = nil                    // where the oldest wanted line starts
        while true {
            if byte(at: start) == UInt8(ascii: "\n") {
                lines += 1
                if lines == count { first = start + 1; break }
            }
            if start == oldest { break }
            start -= 1
        }
        if first == nil {
            // Fewer lines than asked: everything, unless the oldest line was cut by the ring.
            if oldest == 0 {
                first = 0
            } else {
                var position = oldest
                while position < written && byte(at: position) != UInt8(ascii: "\n") { position += 1 }
                first = position < written ? position + 1 : oldest
            }
        }
        var out: [UInt8] = []
        var position = first!
        out.reserveCapacity(Int(written - position))
        while position < written {
            out.append(byte(at: position))
            position += 1
        }
        return out
    }
}
