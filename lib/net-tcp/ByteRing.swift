// ByteRing: a fixed-capacity FIFO of bytes, the storage of a connection's send and receive buffers.
//
// Bytes are appended at the tail and consumed at the head; `peek(at:maximum:)` lends a contiguous
// run starting `offset` bytes past the head (at most up to the physical end of the storage, so a
// caller that wants more asks again), which is how the sender reads segments to (re)transmit without
// copying them out first. The storage is allocated once, at the capacity given.

public struct ByteRing {
    var storage: [UInt8]
    var head = 0
    public private(set) var count = 0

    public init(capacity: Int) {
        storage = [UInt8](repeating: 0, count: max(capacity, 1))
    }

    public var capacity: Int { storage.count }
    public var freeSpace: Int { storage.count - count }
    public var isEmpty: Bool { count == 0 }

    /// Appends as much of `bytes` as fits; returns how many bytes were taken.
    @discardableResult
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let taken = min(bytes.count, freeSpace)
        var done = 0
        while done < taken {
            let tail = (head + count) % storage.count
            let run = min(taken - done, storage.count - tail)
            storage.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[tail..<(tail + run)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[done..<(done + run)]))
            }
            count += run
            done += run
        }
        return taken
    }

    /// Writes `bytes` at `offset` past the head without changing the count (out-of-order data
    /// placed ahead of the tail); the caller keeps offset + bytes.count within the capacity.
    public mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + bytes.count <= storage.count, "ByteRing.write out of range")
        var done = 0
        while done < bytes.count {
            let position = (head + offset + done) % storage.count
            let run = min(bytes.count - done, storage.count - position)
            storage.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[position..<(position + run)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[done..<(done + run)]))
            }
            done += run
        }
    }

    /// Counts `length` bytes already written past the tail (by `write(_:at:)`) as appended.
    public mutating func commit(_ length: Int) {
        precondition(length >= 0 && count + length <= storage.count, "ByteRing.commit out of range")
        count += length
    }

    /// Copies up to `buffer.count` bytes from the head into `buffer` and consumes them. Unlike
    /// `consume`, it leaves the head where it is when the ring empties: bytes written past the tail
    /// (`write(_:at:)`, out-of-order data) must stay at the offsets they were written for.
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        while done < buffer.count && count > 0 {
            let run = min(buffer.count - done, count, storage.count - head)
            storage.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + run)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[head..<(head + run)]))
            }
            head = (head + run) % storage.count
            count -= run
            done += run
        }
        return done
    }

    /// Drops `length` bytes from the head. When that empties the ring the head goes back to the start,
    /// so that the next appends lie in one piece; that loses anything written past the tail, so this
    /// is for rings that never use `write(_:at:)` (the send buffer).
    public mutating func consume(_ length: Int) {
        let length = min(length, count)
        head = (head + length) % storage.count
        count -= length
        if count == 0 { head = 0 }
    }

    /// Lends the longest contiguous run of at most `maximum` bytes starting `offset` bytes past the head.
    public func peek<R>(at offset: Int, maximum: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(offset >= 0 && offset <= count, "ByteRing.peek out of range")
        let start = (head + offset) % storage.count
        let run = min(maximum, count - offset, storage.count - start)
        return storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + run)])) }
    }
}
