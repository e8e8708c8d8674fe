// VirtioBlockDriver: the virtio block device (spec section 5.2) as a `BlockDevice`, over any virtio
// transport. `virtio-blk` binds it to virtio-mmio (QEMU microvm), `virtio-blk-pci` to virtio-pci
// (QEMU pc and q35); `tessera run --disk [NAME=]FILE` attaches the matching QEMU device.
//
// One request queue (queue 0). A request is a chain of three descriptors: the 16-byte header
// { type u32 (0 read, 1 write, 4 flush), reserved u32, sector u64 } the device reads, the caller's
// buffer (the device writes it for a read), and the one-byte status the device writes (0 OK, 1 I/O
// error, 2 unsupported). The caller's buffer is handed to the device directly — memory is identity
// mapped, so its address is its physical address — and the call waits, polling the used ring, until
// the device is done: transfers are synchronous, as the block-device API promises, with no copy.
// A transfer larger than the device's `size_max` (or 256 KiB) is split into several requests.
//
// Features taken when offered: SIZE_MAX, SEG_MAX, BLK_SIZE (reported, sectors stay 512 bytes as the
// protocol's addressing is), RO (writes are refused before reaching the device), FLUSH (`flush()`
// sends a flush request; without it the device has no volatile cache to flush and `flush()` is a
// no-op that succeeds, as the spec says). Capacity is read from the configuration space byte by
// byte, twice, until two reads agree (the spec's rule for fields wider than 32 bits).

import ArchX86
import BlockDeviceAPI
import Kernel
import PageAllocator
import Virtio

public struct VirtioBlockDriver<Transport: VirtioTransport>: BlockDevice {
    static var featureSizeMax: UInt64 { 1 << 1 }
    static var featureSegMax: UInt64 { 1 << 2 }
    static var featureReadOnly: UInt64 { 1 << 5 }
    static var featureBlockSize: UInt64 { 1 << 6 }
    static var featureFlush: UInt64 { 1 << 9 }
    static var queueSize: Int { 16 }

    var transport: Transport
    let features: UInt64
    var queue: SplitVirtqueue
    /// One page: the request header at 0, the status byte at 64.
    let requestPage: UInt
    let maximumTransfer: Int
    public let sectorSize = 512
    public let sectorCount: UInt64
    public private(set) var statistics = BlockDeviceStatistics()
    public var isReadOnly: Bool { features & Self.featureReadOnly != 0 }
    public var hasVolatileCache: Bool { features & Self.featureFlush != 0 }

    public static var name: StaticString { "virtio-blk" }

    public init?() {
        guard var transport = Transport.find(deviceID: 2) else { return nil }
        let wanted = Self.featureSizeMax | Self.featureSegMax | Self.featureReadOnly | Self.featureBlockSize | Self.featureFlush
        guard let features = transport.negotiate(required: 0, wanted: wanted) else {
            print("virtio-blk: the device does not offer virtio 1.x (VERSION_1)")
            return nil
        }
        let size = min(Self.queueSize, transport.maximumQueueSize(0))
        guard size >= 4, let queue = SplitVirtqueue(size: size), let page = physicalPages.allocate(pages: 1) else {
            print("virtio-blk: not enough memory for the request queue")
            return nil
        }
        guard transport.setUpQueue(0, queue: queue) else {
            print("virtio-blk: the device refused the queue setup")
            return nil
        }
        func configurationWord(_ offset: Int, bytes: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in 0 ..< bytes { value |= UInt64(transport.configurationByte(offset + index)) << UInt64(8 * index) }
            return value
        }
        var capacity = configurationWord(0, bytes: 8)
        while true {
            let again = configurationWord(0, bytes: 8)
            if again == capacity { break }
            capacity = again
        }
        var maximum = 256 * 1024
        if features & Self.featureSizeMax != 0 {
            let sizeMax = Int(configurationWord(8, bytes: 4))
            if sizeMax >= 512 { maximum = min(maximum, sizeMax / 512 * 512) }
        }
        self.transport = transport
        self.features = features
        self.queue = queue
        requestPage = page
        maximumTransfer = maximum
        sectorCount = capacity
        transport.driverReady()
    }

    public mutating func read(sector: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        transfer(type: 0, sector: sector, address: UInt(bitPattern: buffer.baseAddress), count: buffer.count)
    }

    public mutating func write(sector: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        guard !isReadOnly else {
            statistics.errors += 1
            return false
        }
        return transfer(type: 1, sector: sector, address: UInt(bitPattern: buffer.baseAddress), count: buffer.count)
    }

    /// Makes every completed write durable (VIRTIO_BLK_T_FLUSH when the device has a volatile cache).
    public mutating func flush() -> Bool {
        guard hasVolatileCache else { return true }
        return request(type: 4, sector: 0, address: 0, count: 0)
    }

    mutating func transfer(type: UInt32, sector: UInt64, address: UInt, count: Int) -> Bool {
        guard count > 0, count % sectorSize == 0, address != 0 else {
            statistics.errors += 1
            return false
        }
        let sectors = UInt64(count / sectorSize)
        guard sector < sectorCount, sectors <= sectorCount - sector else {
            statistics.errors += 1
            return false
        }
        var done = 0
        while done < count {
            let chunk = min(maximumTransfer, count - done)
            guard request(type: type, sector: sector + UInt64(done / sectorSize), address: address + UInt(done), count: chunk) else {
                return false
            }
            done += chunk
        }
        if type == 0 { statistics.sectorsRead += Int(sectors) } else { statistics.sectorsWritten += Int(sectors) }
        return true
    }

    /// One request, waited for. False (and an error counted) unless the device answers OK.
    mutating func request(type: UInt32, sector: UInt64, address: UInt, count: Int) -> Bool {
        let header = UnsafeMutableRawPointer(bitPattern: requestPage)!
        header.storeBytes(of: type, as: UInt32.self)
        header.storeBytes(of: 0, toByteOffset: 4, as: UInt32.self)
        header.storeBytes(of: sector, toByteOffset: 8, as: UInt64.self)
        let status = header + 64
        status.storeBytes(of: 0xFF, as: UInt8.self)
        var parts: [(address: UInt, length: Int, deviceWritable: Bool)] = [(requestPage, 16, false)]
        if count > 0 { parts.append((address, count, type == 0)) }
        parts.append((requestPage + 64, 1, true))
        guard let head = queue.addChain(parts) else {
            statistics.errors += 1
            return false
        }
        queue.publish()
        transport.notify(queue: 0)
        while true {
            // One request at a time: the only used entry can be ours.
            if let used = queue.popUsed() {
                queue.recycleChain(used.id)
                if used.id == head { break }
            }
        }
        CPU.memoryBarrier()
        guard status.load(as: UInt8.self) == 0 else {
            statistics.errors += 1
            return false
        }
        return true
    }
}
