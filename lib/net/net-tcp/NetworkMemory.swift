// NetworkMemory: the budget that every connection's buffers are drawn from, and the fallible
// allocation under it.
//
// A connection's send and receive rings start with no storage and grow as bytes arrive (ByteRing),
// so an idle or slow connection costs its control block and nothing more. Every byte of ring storage
// is charged to one `NetworkMemory` per stack: when the budget is spent, or the system allocator has
// no memory left above its reserve, the allocation is refused and the caller degrades — a smaller
// receive window, a partial `send`, a refused SYN — instead of the image panicking. Storage is
// released when its last owner goes away (RingStorage's deinit), so the charge cannot leak.
//
// In the guest, allocation goes through the kernel's `tessera_try_allocate`, which returns nil where
// `posix_memalign` would panic, and keeps a reserve for the rest of the image; on the host (tests)
// through malloc. One network thread and the apps touch the rings under the stack's lock.

#if hasFeature(Embedded)
@_extern(c, "tessera_try_allocate") func _tryAllocate(_ size: Int, _ alignment: Int) -> UnsafeMutableRawPointer?
@_extern(c, "tessera_available_memory") func _availableMemory() -> Int
@_extern(c, "free") func _free(_ pointer: UnsafeMutableRawPointer?)
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The image's memory, as far as fallible users (buffers, admission control) need it.
public enum SystemMemory {
    /// Allocates `size` bytes, or nil when the image cannot spare them (never panics).
    public static func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        #if hasFeature(Embedded)
        return _tryAllocate(size, 16)
        #else
        return malloc(max(size, 1))
        #endif
    }

    public static func release(_ pointer: UnsafeMutableRawPointer) {
        #if hasFeature(Embedded)
        _free(pointer)
        #else
        free(pointer)
        #endif
    }

    /// Bytes the image could still allocate (heap free space plus free pages); on the host, unlimited.
    public static var available: Int {
        #if hasFeature(Embedded)
        return _availableMemory()
        #else
        return Int.max / 2
        #endif
    }
}

/// A byte budget for connection buffers, shared by the connections of one stack.
public final class NetworkMemory: @unchecked Sendable {
    /// The most bytes of buffer storage all connections may hold together.
    public var limit: Int
    public private(set) var used = 0
    public private(set) var peak = 0
    /// Allocations refused, by the budget or by the system.
    public private(set) var refusals = 0

    public init(limit: Int) {
        self.limit = limit
    }

    /// Bytes the budget could still grant.
    public var available: Int { max(limit - used, 0) }

    /// Buffers never take the image's last bytes: this much stays for control blocks of new
    /// connections (TCPStack's admission needs 16 KiB), so a burst of data cannot lock clients out.
    /// Servers evict idle connections well above it (StreamServer.memoryReserve, 64 KiB), so that
    /// buffers are not refused for long.
    public var headroom = 24 * 1024

    /// Charges and allocates `size` bytes, or refuses (nil) without side effects but a count.
    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        guard size <= available, SystemMemory.available >= size + headroom,
              let pointer = SystemMemory.allocate(size) else {
            refusals += 1
            return nil
        }
        used += size
        peak = max(peak, used)
        return pointer
    }

    func countRefusal() { refusals += 1 }

    func deallocate(_ pointer: UnsafeMutableRawPointer, size: Int) {
        SystemMemory.release(pointer)
        used -= size
    }
}

/// One ring's bytes; frees itself (and returns its charge) when the last ring holding it goes.
final class RingStorage {
    let bytes: UnsafeMutableRawPointer
    let size: Int
    let memory: NetworkMemory?

    init(bytes: UnsafeMutableRawPointer, size: Int, memory: NetworkMemory?) {
        self.bytes = bytes
        self.size = size
        self.memory = memory
    }

    static func make(size: Int, memory: NetworkMemory?) -> RingStorage? {
        let pointer = memory.map { $0.allocate(size) } ?? SystemMemory.allocate(size)
        guard let pointer else { return nil }
        return RingStorage(bytes: pointer, size: size, memory: memory)
    }

    deinit {
        if let memory {
            memory.deallocate(bytes, size: size)
        } else {
            SystemMemory.release(bytes)
        }
    }
}

// Tables that grow with the number of connections (the connection table, its lookup dictionary, a
// server's connection list) double their storage when full, and the doubling briefly needs the old and
// the new storage at once, in one block. A trial allocation through the fallible path says whether the
// image has such a block (free counts alone do not: the heap fragments); growing goes through the same
// trial, so a full table refuses one more connection instead of panicking.

extension Array {
    /// Makes room for one more element, doubling the storage only if the image can spare a block
    /// that large (a trial allocation through the fallible path, returned at once so that the
    /// reallocation finds it). False, with nothing changed, when it cannot.
    public mutating func reserveOneMore() -> Bool { reserveFallibly(count + 1) }

    /// Makes room for `minimum` elements the same way.
    public mutating func reserveFallibly(_ minimum: Int) -> Bool {
        guard minimum > capacity else { return true }
        let newCapacity = Swift.max(capacity * 2, minimum, 16)
        guard let trial = SystemMemory.allocate(newCapacity * MemoryLayout<Element>.stride + 64) else { return false }
        SystemMemory.release(trial)
        reserveCapacity(newCapacity)
        return true
    }

    /// Whether the storage could double now (a trial allocation of that size, returned at once).
    public func canDouble() -> Bool {
        let bytes = Swift.max(capacity * 2, 16) * MemoryLayout<Element>.stride + 64
        guard let trial = SystemMemory.allocate(bytes) else { return false }
        SystemMemory.release(trial)
        return true
    }
}

extension Dictionary {
    /// Makes room for one more entry like `Array.reserveOneMore` (the table's size estimated from
    /// its bucket count: a power of two at most 3/4 full).
    public mutating func reserveOneMore() -> Bool {
        guard count == capacity else { return true }
        let newCapacity = Swift.max(capacity * 2, 16)
        guard let trial = SystemMemory.allocate(Self.tableBytes(capacity: newCapacity)) else { return false }
        SystemMemory.release(trial)
        reserveCapacity(newCapacity)
        return true
    }

    /// Whether the table could double now (a trial allocation, as for arrays).
    public func canDouble() -> Bool {
        guard let trial = SystemMemory.allocate(Self.tableBytes(capacity: Swift.max(capacity * 2, 16))) else { return false }
        SystemMemory.release(trial)
        return true
    }

    /// Bytes of a table for `capacity` entries: a power of two of buckets at most 3/4 full.
    static func tableBytes(capacity: Int) -> Int {
        var buckets = 1
        while buckets * 3 < capacity * 4 { buckets *= 2 }
        return buckets * (MemoryLayout<Key>.stride + MemoryLayout<Value>.stride) + buckets / 8 + 128
    }
}
