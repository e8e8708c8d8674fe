// The write-back block cache against a reference: random reads and writes through a small cache over
// an in-memory disk always read what was last written; the disk sees a write only after eviction or
// flush (what a VM killed before `flush` loses); flush writes every dirty block, ascending, and
// flushes the device; a failing device loses nothing that a later flush can still write.

import BlockCache
import BlockDeviceAPI
import Testing

/// A disk in memory that records the order of writes and can be told to fail.
struct MemoryDisk: BlockDevice {
    static var name: StaticString { "memory" }
    let sectorSize = 512
    let sectorCount: UInt64
    var bytes: [UInt8]
    var statistics = BlockDeviceStatistics()
    var writtenSectors: [UInt64] = []
    var flushes = 0
    var failWrites = false

    init?() { return nil }
    init(sectors: UInt64) {
        sectorCount = sectors
        bytes = [UInt8](repeating: 0, count: Int(sectors) * 512)
    }

    mutating func read(sector: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let start = Int(sector) * 512
        guard buffer.count % 512 == 0, start + buffer.count <= bytes.count else { return false }
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: buffer.count) }
        statistics.sectorsRead += buffer.count / 512
        return true
    }

    mutating func write(sector: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        let start = Int(sector) * 512
        guard !failWrites, buffer.count % 512 == 0, start + buffer.count <= bytes.count else { return false }
        bytes.withUnsafeMutableBytes { ($0.baseAddress! + start).copyMemory(from: buffer.baseAddress!, byteCount: buffer.count) }
        writtenSectors.append(sector)
        return true
    }

    mutating func flush() -> Bool {
        flushes += 1
        return !failWrites
    }
}

@Suite struct BlockCacheTests {
    @Test func randomTrafficAlwaysReadsTheLastWriteAndFlushMakesTheDiskEqual() throws {
        var cache = try #require(BlockCache(device: MemoryDisk(sectors: 64 * 8), blockSize: 4096, capacity: 8))
        defer { cache.release() }
        var reference = [[UInt8]](repeating: [UInt8](repeating: 0, count: 4096), count: 64)
        var generator = SystemRandomNumberGenerator()
        var buffer = [UInt8](repeating: 0, count: 4096)
        for step in 0 ..< 5000 {
            let block = Int.random(in: 0 ..< 64, using: &generator)
            if Bool.random(using: &generator) {
                let value = UInt8(truncatingIfNeeded: step)
                reference[block] = [UInt8](repeating: value, count: 4096)
                let wrote = cache.write(UInt64(block), reference[block])
                #expect(wrote)
            } else {
                buffer = cache.read(UInt64(block)) ?? []
                #expect(buffer == reference[block], "step \(step) block \(block)")
                if buffer != reference[block] { return }
            }
        }
        #expect(cache.statistics.hits > 0 && cache.statistics.misses > 0 && cache.statistics.writeBacks > 0)
        let flushed = cache.flush()
        #expect(flushed)
        #expect(cache.dirtyCount == 0)
        #expect(cache.device.bytes == reference.flatMap { $0 })
        #expect(cache.device.flushes == 1)
    }

    @Test func aWriteReachesTheDiskOnlyOnEvictionOrFlushInAscendingOrder() throws {
        var cache = try #require(BlockCache(device: MemoryDisk(sectors: 16 * 8), blockSize: 4096, capacity: 4))
        defer { cache.release() }
        let ones = [UInt8](repeating: 1, count: 4096)
        for block in [9, 3, 7] { let wrote = cache.write(UInt64(block), ones); #expect(wrote) }
        #expect(cache.device.writtenSectors.isEmpty, "nothing written before flush: a VM killed now loses it")
        let flushed = cache.flush()
        #expect(flushed)
        #expect(cache.device.writtenSectors == [UInt64(24), 56, 72])
        // Filling the cache with other blocks evicts a dirty one: written back then.
        let wrote = cache.write(0, ones)
        #expect(wrote)
        for block in [1, 2, 4, 5] { let read = cache.read(UInt64(block)); #expect(read != nil) }
        #expect(cache.device.writtenSectors.last == 0, "the evicted dirty block was written back")
        let past = cache.read(16)
        #expect(past == nil, "past the end")
    }

    @Test func aFailingDiskLosesNothingALaterFlushCanWrite() throws {
        var cache = try #require(BlockCache(device: MemoryDisk(sectors: 8 * 8), blockSize: 4096, capacity: 4))
        defer { cache.release() }
        let twos = [UInt8](repeating: 2, count: 4096)
        _ = cache.write(5, twos)
        var failing = cache.device
        failing.failWrites = true
        cache = try #require(BlockCache(device: failing, blockSize: 4096, capacity: 4))
        let wrote = cache.write(5, twos)
        #expect(wrote)
        let flushed = cache.flush()
        #expect(!flushed)
        #expect(cache.dirtyCount == 1, "still dirty, still cached")
        let back = cache.read(5)
        #expect(back == twos)
    }
}

extension BlockCache {
    mutating func read(_ block: UInt64) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: blockSize)
        let ok = buffer.withUnsafeMutableBytes { read(block, into: $0) }
        return ok ? buffer : nil
    }

    mutating func write(_ block: UInt64, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { write(block, from: $0) }
    }
}
