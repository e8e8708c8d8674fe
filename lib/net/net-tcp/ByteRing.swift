// ByteRing: a FIFO of bytes with a fixed capacity and storage that grows on demand, the storage of a
// connection's send and receive buffers.
//
// Bytes are appended at the tail and consumed at the head; `peek(at:maximum:)` lends a contiguous
// run starting `offset` bytes past the head (at most up to the physical end of the storage, so a
// caller that wants more asks again), which is how the sender reads segments to (re)transmit without
// copying them out first.
//
// `capacity` is what the ring may hold (the window a connection advertises); the storage behind it
// starts empty and doubles as bytes arrive, up to the capacity, each step charged to the stack's
// `NetworkMemory`. Growth can be refused — the budget is spent or the image is short of memory — and
// then the ring takes what fits in the storage it has: `append` returns fewer bytes, `makeRoom`
// reports the smaller end. `releaseStorage` gives the storage back when the ring is empty, so an idle
// connection holds no buffer memory. Growing copies the ring's first `storage.size` logical bytes
// (in-order and anything written past the tail) to the start of the new storage.

public struct ByteRing {
    var storage: RingStorage?
    var head = 0
    public private(set) var count = 0
    /// The most bytes the ring holds.
    public let capacity: Int
    let memory: NetworkMemory?

    /// The smallest storage allocated: a short request or reply fits without growing, and a
    /// thousand connections that each trickle a byte hold half a MiB, not two.
    static let minimumStorage = 512

    public init(capacity: Int, memory: NetworkMemory? = nil) {
        self.capacity = max(capacity, 1)
        self.memory = memory
    }

    public var freeSpace: Int { capacity - count }
    public var isEmpty: Bool { count == 0 }
    /// Bytes of storage currently allocated (0 for an idle ring).
    public var allocatedBytes: Int { storage?.size ?? 0 }
    /// Bytes that could be placed past the head now: the allocated storage, or what the budget could
    /// grant for new storage if that is more (growth allocates the new block beside the old one).
    public var placeableBytes: Int {
        let size = storage?.size ?? 0
        guard size < capacity else { return capacity }
        let grantable = memory?.available ?? Int.max / 4
        return max(size, min(capacity, grantable))
    }

    /// Grows the storage (if it must and may) so that logical offsets below `end` have room; returns
    /// the end that has room now (≤ `end`, ≤ `capacity`). Storage doubles from `minimumStorage`; when
    /// the budget or the image cannot give the doubled block, a smaller one that still grows the ring
    /// is taken (halving down to 256 bytes), so a short budget gives a small window rather than none.
    @discardableResult
    public mutating func makeRoom(upTo end: Int) -> Int {
        let wanted = min(end, capacity)
        let size = storage?.size ?? 0
        guard wanted > size else { return wanted }
        var newSize = max(size, Self.minimumStorage)
        while newSize < wanted { newSize *= 2 }
        newSize = min(newSize, capacity)
        if let memory, newSize > memory.available { newSize = memory.available & ~255 }
        var attempted = false
        while newSize > size && newSize >= Swift.min(256, capacity) {
            attempted = true
            if let grown = RingStorage.make(size: newSize, memory: memory) {
                if let old = storage {
                    // Linearize: logical offset k of the old storage lands at k in the new one.
                    let firstRun = old.size - head
                    grown.bytes.copyMemory(from: old.bytes + head, byteCount: firstRun)
                    if head > 0 { (grown.bytes + firstRun).copyMemory(from: old.bytes, byteCount: head) }
                }
                storage = grown
                head = 0
                return min(wanted, newSize)
            }
            newSize = (newSize / 2) & ~255
        }
        if !attempted { memory?.countRefusal() }              // the budget could not even be asked
        return size
    }

    /// Drops the storage of an empty ring (the caller knows nothing is written past the tail).
    public mutating func releaseStorage() {
        guard count == 0 else { return }
        storage = nil
        head = 0
    }

    /// The storage, copied first if another ring value shares it (value semantics).
    mutating func uniqueStorage() -> RingStorage? {
        guard storage != nil else { return nil }
        if !isKnownUniquelyReferenced(&storage!) {
            let old = storage!
            guard let copy = RingStorage.make(size: old.size, memory: memory) else { return nil }
            copy.bytes.copyMemory(from: old.bytes, byteCount: old.size)
            storage = copy
        }
        return storage
    }

    /// Appends as much of `bytes` as fits; returns how many bytes were taken.
    @discardableResult
    public mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let room = makeRoom(upTo: count + min(bytes.count, freeSpace))
        let taken = max(room - count, 0)
        guard taken > 0, let storage = uniqueStorage() else { return 0 }
        copyIn(bytes, count: taken, at: count, into: storage)
        count += taken
        return taken
    }

    /// Writes `bytes` at `offset` past the head without changing the count (out-of-order data
    /// placed ahead of the tail); the caller keeps offset + bytes.count within the room `makeRoom`
    /// reported.
    public mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + bytes.count <= (storage?.size ?? 0) || bytes.isEmpty,
                     "ByteRing.write out of range")
        guard !bytes.isEmpty, let storage = uniqueStorage() else { return }
        copyIn(bytes, count: bytes.count, at: offset, into: storage)
    }

    func copyIn(_ bytes: UnsafeRawBufferPointer, count length: Int, at offset: Int, into storage: RingStorage) {
        var done = 0
        while done < length {
            let position = (head + offset + done) % storage.size
            let run = min(length - done, storage.size - position)
            (storage.bytes + position).copyMemory(from: bytes.baseAddress! + done, byteCount: run)
            done += run
        }
    }

    /// Counts `length` bytes already written past the tail (by `write(_:at:)`) as appended.
    public mutating func commit(_ length: Int) {
        precondition(length >= 0 && count + length <= (storage?.size ?? 0), "ByteRing.commit out of range")
        count += length
    }

    /// Copies up to `buffer.count` bytes from the head into `buffer` and consumes them. Unlike
    /// `consume`, it leaves the head where it is when the ring empties: bytes written past the tail
    /// (`write(_:at:)`, out-of-order data) must stay at the offsets they were written for.
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let storage else { return 0 }
        var done = 0
        while done < buffer.count && count > 0 {
            let run = min(buffer.count - done, count, storage.size - head)
            (buffer.baseAddress! + done).copyMemory(from: storage.bytes + head, byteCount: run)
            head = (head + run) % storage.size
            count -= run
            done += run
        }
        return done
    }

    /// Drops `length` bytes from the head. When that empties the ring the head goes back to the start,
    /// so that the next appends lie in one piece; that loses anything written past the tail, so this
    /// is for rings that never use `write(_:at:)` (the send buffer).
    public mutating func consume(_ length: Int) {
        guard let storage else { return }
        let length = min(length, count)
        head = (head + length) % storage.size
        count -= length
        if count == 0 { head = 0 }
    }

    /// Lends the longest contiguous run of at most `maximum` bytes starting `offset` bytes past the head.
    public func peek<R>(at offset: Int, maximum: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(offset >= 0 && offset <= count, "ByteRing.peek out of range")
        guard let storage else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let start = (head + offset) % storage.size
        let run = min(maximum, count - offset, storage.size - start)
        return body(UnsafeRawBufferPointer(start: storage.bytes + start, count: run))
    }
}
