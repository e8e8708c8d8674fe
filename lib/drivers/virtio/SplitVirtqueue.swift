// SplitVirtqueue: the virtio 1.x split virtqueue (spec section 2.7), single-descriptor buffers.
//
// Three rings in one page-aligned allocation from the physical page allocator:
//   descriptor table  16 bytes x size  { addr u64, len u32, flags u16 (1 NEXT, 2 WRITE), next u16 }
//   available ring    flags u16, idx u16, ring[size] u16, used_event u16      (driver -> device)
//   used ring         flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16 (device -> driver)
// The driver owns a descriptor from `add` until the device returns it through the used ring and the
// driver calls `recycle`; the device owns the buffer's bytes in between. Index updates are published
// after a memory barrier, so the device never sees an index before the entries it covers. A request
// of several parts (virtio-blk's header, data and status) is a chain: `addChain` links descriptors
// with NEXT and `recycleChain` frees the whole chain from its head.

import ArchX86
import Kernel

public struct SplitVirtqueue {
    public let size: Int
    public let descriptors: UInt
    public let available: UInt
    public let used: UInt
    var freeDescriptors: [UInt16]
    var lastUsedIndex: UInt16 = 0
    var nextAvailableIndex: UInt16 = 0

    /// Allocates and zeroes the rings for `size` entries (a power of two). Nil when out of pages.
    public init?(size: Int) {
        precondition(size > 0 && size & (size - 1) == 0, "virtqueue size must be a power of two")
        let descriptorBytes = 16 * size
        let availableBytes = 6 + 2 * size
        let usedOffset = (descriptorBytes + availableBytes + 4095) / 4096 * 4096
        let usedBytes = 6 + 8 * size
        let pages = (usedOffset + usedBytes + 4095) / 4096
        guard let base = physicalPages.allocate(pages: pages) else { return nil }
        UnsafeMutableRawPointer(bitPattern: base)!.initializeMemory(as: UInt8.self, repeating: 0, count: pages * 4096)
        self.size = size
        descriptors = base
        available = base + UInt(descriptorBytes)
        used = base + UInt(usedOffset)
        freeDescriptors = (0..<UInt16(size)).reversed().map { $0 }
    }

    public var freeCount: Int { freeDescriptors.count }

    /// The descriptor the next `add` will use, if any is free.
    public var nextFreeDescriptor: UInt16? { freeDescriptors.last }

    /// Puts one buffer on the available ring (not yet visible to the device: call `publish`).
    /// Returns its descriptor ID, or nil when every descriptor is in use.
    public mutating func add(address: UInt, length: Int, deviceWritable: Bool) -> UInt16? {
        guard let id = freeDescriptors.popLast() else { return nil }
        let descriptor = UnsafeMutableRawPointer(bitPattern: descriptors + UInt(id) * 16)!
        descriptor.storeBytes(of: UInt64(address), as: UInt64.self)
        descriptor.storeBytes(of: UInt32(length), toByteOffset: 8, as: UInt32.self)
        descriptor.storeBytes(of: deviceWritable ? 2 : 0, toByteOffset: 12, as: UInt16.self)
        descriptor.storeBytes(of: 0, toByteOffset: 14, as: UInt16.self)
        let ring = UnsafeMutablePointer<UInt16>(bitPattern: available + 4)!
        ring[Int(nextAvailableIndex) & (size - 1)] = id
        nextAvailableIndex &+= 1
        return id
    }

    /// Puts one chain of buffers on the available ring (call `publish`); returns the head's ID, or nil
    /// (nothing changed) when fewer descriptors are free than `parts` has.
    public mutating func addChain(_ parts: [(address: UInt, length: Int, deviceWritable: Bool)]) -> UInt16? {
        guard !parts.isEmpty, parts.count <= freeDescriptors.count else { return nil }
        var ids: [UInt16] = []
        for _ in parts { ids.append(freeDescriptors.popLast()!) }
        for (index, part) in parts.enumerated() {
            let descriptor = UnsafeMutableRawPointer(bitPattern: descriptors + UInt(ids[index]) * 16)!
            let last = index == parts.count - 1
            descriptor.storeBytes(of: UInt64(part.address), as: UInt64.self)
            descriptor.storeBytes(of: UInt32(part.length), toByteOffset: 8, as: UInt32.self)
            descriptor.storeBytes(of: (part.deviceWritable ? 2 : 0) | (last ? 0 : 1), toByteOffset: 12, as: UInt16.self)
            descriptor.storeBytes(of: last ? 0 : ids[index + 1], toByteOffset: 14, as: UInt16.self)
        }
        let ring = UnsafeMutablePointer<UInt16>(bitPattern: available + 4)!
        ring[Int(nextAvailableIndex) & (size - 1)] = ids[0]
        nextAvailableIndex &+= 1
        return ids[0]
    }

    /// Returns every descriptor of the chain that starts at `head` (as `popUsed` reported it).
    public mutating func recycleChain(_ head: UInt16) {
        var id = head
        for _ in 0 ..< size {
            freeDescriptors.append(id)
            let descriptor = UnsafeRawPointer(bitPattern: descriptors + UInt(id) * 16)!
            guard descriptor.load(fromByteOffset: 12, as: UInt16.self) & 1 != 0 else { return }
            id = descriptor.load(fromByteOffset: 14, as: UInt16.self)
        }
    }

    /// Makes every added buffer visible to the device.
    public mutating func publish() {
        CPU.memoryBarrier()
        UnsafeMutablePointer<UInt16>(bitPattern: available + 2)!.pointee = nextAvailableIndex
        CPU.memoryBarrier()
    }

    /// The next buffer the device has finished with: its descriptor ID and the bytes it wrote.
    public mutating func popUsed() -> (id: UInt16, length: Int)? {
        CPU.memoryBarrier()
        let deviceIndex = UnsafeMutablePointer<UInt16>(bitPattern: used + 2)!.pointee
        guard deviceIndex != lastUsedIndex else { return nil }
        let element = UnsafeMutableRawPointer(bitPattern: used + 4 + UInt(Int(lastUsedIndex) & (size - 1)) * 8)!
        lastUsedIndex &+= 1
        let id = UInt16(truncatingIfNeeded: element.load(as: UInt32.self))
        let length = Int(element.load(fromByteOffset: 4, as: UInt32.self))
        return (id, length)
    }

    /// Returns a descriptor the device handed back.
    public mutating func recycle(_ id: UInt16) {
        freeDescriptors.append(id)
    }

    /// The buffer address a descriptor points at.
    public func address(of id: UInt16) -> UInt {
        UInt(UnsafeRawPointer(bitPattern: descriptors + UInt(id) * 16)!.load(as: UInt64.self))
    }
}
