// BlockCache: a write-back cache of `blockSize`-byte blocks over a `BlockDevice`.
//
// File systems read and write whole blocks (ext2's 1-4 KiB); the cache keeps up to `capacity` of them
// in one allocation. A read of a cached block copies from memory; a miss reads the block from the
// device into the least recently used slot, writing that slot back first if it is dirty. A write
// replaces the block in the cache and marks it dirty — the device sees it on eviction or `flush`.
// `flush` writes every dirty block in ascending block order (so a disk image is written front to
// back), then asks the device to make them durable (virtio-blk FLUSH). A failed write-back leaves the
// block dirty and cached, so nothing is lost that a later flush could still write.
//
// What durability means: a write is in memory until `flush` returns true. A VM killed before that
// loses it; one killed during `flush` may leave any subset of the dirty blocks written (no ordering
// between blocks is promised beyond ascending order, and the device may reorder). File systems that
// need ordering (journal before data) flush between the steps.
//
// Ownership: the cache owns its slots; callers pass buffers they own for the duration of a call.
// Not thread-safe by itself: the file system above holds its lock.

import BlockDeviceAPI

public struct BlockCacheStatistics {
    public var hits = 0, misses = 0, writeBacks = 0, flushes = 0, errors = 0
    public init() {}
}

public struct BlockCache<Device: BlockDevice> {
    public private(set) var device: Device
    public let blockSize: Int
    public let capacity: Int
    /// Whole blocks on the device (a partial block at the end is not addressable).
    public let blockCount: UInt64
    public private(set) var statistics = BlockCacheStatistics()

    let memory: UnsafeMutableRawPointer
    var slotBlock: [UInt64?]
    var slotDirty: [Bool]
    var slotUsed: [UInt64]                                  // last-use tick, for LRU
    var index: [UInt64: Int] = [:]
    var tick: UInt64 = 0

    /// `blockSize` must be a multiple of the device's sector size; `capacity` blocks are allocated now.
    public init?(device: Device, blockSize: Int = 4096, capacity: Int = 256) {
        guard blockSize > 0, blockSize % device.sectorSize == 0, capacity > 0 else { return nil }
        self.device = device
        self.blockSize = blockSize
        self.capacity = capacity
        blockCount = device.sectorCount / UInt64(blockSize / device.sectorSize)
        memory = UnsafeMutableRawPointer.allocate(byteCount: blockSize * capacity, alignment: 4096)
        slotBlock = Array(repeating: nil, count: capacity)
        slotDirty = Array(repeating: false, count: capacity)
        slotUsed = Array(repeating: 0, count: capacity)
    }

    /// Frees the slots; dirty blocks not flushed are lost (call `flush` first).
    public mutating func release() { memory.deallocate() }

    var sectorsPerBlock: UInt64 { UInt64(blockSize / device.sectorSize) }

    func slotPointer(_ slot: Int) -> UnsafeMutableRawPointer { memory + slot * blockSize }

    /// The slot holding `block`, reading it from the device on a miss (`load: false` for a block about
    /// to be overwritten whole). Nil when the block is out of range or the device failed.
    mutating func slot(for block: UInt64, load: Bool) -> Int? {
        guard block < blockCount else {
            statistics.errors += 1
            return nil
        }
        tick += 1
        if let slot = index[block] {
            statistics.hits += 1
            slotUsed[slot] = tick
            return slot
        }
        statistics.misses += 1
        var victim = 0
        for slot in 0 ..< capacity {
            if slotBlock[slot] == nil { victim = slot; break }
            if slotUsed[slot] < slotUsed[victim] { victim = slot }
        }
        if let old = slotBlock[victim] {
            if slotDirty[victim] {
                guard writeBack(victim, old) else { return nil }
            }
            index[old] = nil
            slotBlock[victim] = nil
        }
        if load {
            guard device.read(sector: block * sectorsPerBlock,
                              into: UnsafeMutableRawBufferPointer(start: slotPointer(victim), count: blockSize)) else {
                statistics.errors += 1
                return nil
            }
        }
        slotBlock[victim] = block
        slotDirty[victim] = false
        slotUsed[victim] = tick
        index[block] = victim
        return victim
    }

    mutating func writeBack(_ slot: Int, _ block: UInt64) -> Bool {
        guard device.write(sector: block * sectorsPerBlock, from: UnsafeRawBufferPointer(start: slotPointer(slot), count: blockSize)) else {
            statistics.errors += 1
            return false
        }
        slotDirty[slot] = false
        statistics.writeBacks += 1
        return true
    }

    /// Copies block `block` into `buffer` (at least `blockSize` bytes).
    public mutating func read(_ block: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= blockSize, let slot = slot(for: block, load: true) else { return false }
        buffer.baseAddress!.copyMemory(from: slotPointer(slot), byteCount: blockSize)
        return true
    }

    /// Replaces block `block` with the first `blockSize` bytes of `buffer`; written back later.
    public mutating func write(_ block: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        guard buffer.count >= blockSize, let slot = slot(for: block, load: false) else { return false }
        slotPointer(slot).copyMemory(from: buffer.baseAddress!, byteCount: blockSize)
        slotDirty[slot] = true
        return true
    }

    /// Blocks waiting to be written back.
    public var dirtyCount: Int { slotDirty.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Writes every dirty block back (ascending), then flushes the device. True when all of it worked.
    public mutating func flush() -> Bool {
        statistics.flushes += 1
        var dirty: [(block: UInt64, slot: Int)] = []
        for slot in 0 ..< capacity where slotDirty[slot] {
            if let block = slotBlock[slot] { dirty.append((block, slot)) }
        }
        dirty.sort { $0.block < $1.block }
        var ok = true
        for entry in dirty where !writeBack(entry.slot, entry.block) { ok = false }
        if !device.flush() {
            statistics.errors += 1
            ok = false
        }
        return ok
    }
}
