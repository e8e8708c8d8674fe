// Virtio9PDriver: the virtio 9P transport (device ID 9) as a `ShareDevice`, over any virtio transport.
// `virtio-9p` binds it to virtio-mmio (QEMU microvm), `virtio-9p-pci` to virtio-pci (pc and q35).
//
// The device carries 9P messages and knows nothing of them: one request queue (queue 0), each request
// a chain of two descriptors — the whole T-message the device reads, then the buffer it writes the
// R-message into. Memory is identity mapped, so the caller's buffers are handed to the device as they
// are, and the call waits, polling the used ring, until the device answers (one request at a time: the
// file systems above hold the VFS lock). The used element's length is what the device wrote; the
// response's own size field must fit in it, else the transfer is a failure (nil), never a read past
// what the device wrote.
//
// The configuration space holds the mount tag: tag_len (u16) then the bytes; feature MOUNT_TAG (bit 0)
// says it is there. QEMU's device takes messages up to its msize; this driver offers 512 KiB.

import ArchX86
import Kernel
import ShareDeviceAPI
import Virtio

public struct Virtio9PDriver<Transport: VirtioTransport>: ShareDevice {
    static var featureMountTag: UInt64 { 1 << 0 }
    static var queueSize: Int { 8 }

    var transport: Transport
    var queue: SplitVirtqueue
    public let tag: [UInt8]
    public var maximumMessageSize: Int { 512 * 1024 }

    public static var name: StaticString { "virtio-9p" }

    public init?(index: Int) {
        guard var transport = Transport.find(deviceID: 9, index: index) else { return nil }
        guard let features = transport.negotiate(required: 0, wanted: Self.featureMountTag) else {
            print("virtio-9p: the device does not offer virtio 1.x (VERSION_1)")
            return nil
        }
        let size = min(Self.queueSize, transport.maximumQueueSize(0))
        guard size >= 2, let queue = SplitVirtqueue(size: size) else {
            print("virtio-9p: not enough memory for the request queue")
            return nil
        }
        guard transport.setUpQueue(0, queue: queue) else {
            print("virtio-9p: the device refused the queue setup")
            return nil
        }
        var tag: [UInt8] = []
        if features & Self.featureMountTag != 0 {
            let length = min(Int(transport.configurationHalfword(0)), 255)
            for offset in 0 ..< length { tag.append(transport.configurationByte(2 + offset)) }
        }
        self.transport = transport
        self.queue = queue
        self.tag = tag
        transport.driverReady()
    }

    public mutating func transact(_ request: UnsafeRawBufferPointer, response: UnsafeMutableRawBufferPointer) -> Int? {
        guard request.count >= 7, response.count >= 7, let requestBase = request.baseAddress,
              let responseBase = response.baseAddress else { return nil }
        let parts: [(address: UInt, length: Int, deviceWritable: Bool)] = [
            (UInt(bitPattern: requestBase), request.count, false),
            (UInt(bitPattern: responseBase), response.count, true),
        ]
        guard let head = queue.addChain(parts) else { return nil }
        queue.publish()
        transport.notify(queue: 0)
        var written = 0
        while true {
            if let used = queue.popUsed() {
                queue.recycleChain(used.id)
                if used.id == head {
                    written = used.length
                    break
                }
            }
        }
        CPU.memoryBarrier()
        // QEMU reports the response's size as the used length; a device that reports 0 is held to the
        // buffer's size instead.
        let limit = written == 0 ? response.count : written
        guard limit >= 7, limit <= response.count else { return nil }
        let size = Int(response.load(fromByteOffset: 0, as: UInt8.self)) | Int(response.load(fromByteOffset: 1, as: UInt8.self)) << 8
            | Int(response.load(fromByteOffset: 2, as: UInt8.self)) << 16 | Int(response.load(fromByteOffset: 3, as: UInt8.self)) << 24
        guard size >= 7, size <= limit else { return nil }
        return size
    }
}
