// VirtioNetDriver: the virtio network device (spec section 5.1) as a `NetDevice`, over any virtio
// transport. The libraries that implement the net-device slot bind it to one: `virtio-net` to
// virtio-mmio (QEMU microvm), `virtio-net-pci` to virtio-pci (QEMU pc and q35).
//
// Queue 0 receives, queue 1 transmits. Every buffer is 2048 bytes: the 12-byte virtio_net_hdr (VERSION_1
// layout, num_buffers included) followed by up to 1514 bytes of Ethernet frame. All receive buffers are
// posted at start and re-posted as soon as `receive` has lent the frame to the caller; transmit copies
// the frame into a free transmit buffer after a zeroed header (no checksum or segmentation offload yet)
// and reclaims finished buffers lazily. Features: VERSION_1 required; MAC, STATUS and MTU taken when
// offered; nothing else (no offloads, no mergeable buffers, no control queue).

import ArchX86
import Kernel
import NetDeviceAPI
import PageAllocator
import Virtio

/// The one interrupt-mode device's notification (single device for now).
nonisolated(unsafe) var interruptNotify: NetDeviceNotify? = nil
nonisolated(unsafe) var interruptContext: UnsafeMutableRawPointer? = nil
nonisolated(unsafe) var interruptCount = 0

public struct VirtioNetDriver<Transport: VirtioTransport>: NetDevice {
    // (Computed: a generic type has no static stored properties.)
    static var featureMTU: UInt64 { 1 << 3 }
    static var featureMAC: UInt64 { 1 << 5 }
    static var featureStatus: UInt64 { 1 << 16 }
    static var headerBytes: Int { 12 }
    static var bufferBytes: Int { 2048 }
    static var queueSize: Int { 128 }

    var transport: Transport
    let features: UInt64
    var receiveQueue: SplitVirtqueue
    var transmitQueue: SplitVirtqueue
    /// Buffer memory: receive buffers first, then transmit buffers, `bufferBytes` each.
    let buffers: UInt
    public private(set) var macAddress: MACAddress
    public private(set) var mtu: Int
    var counters = NetDeviceStatistics()
    public var statistics: NetDeviceStatistics {
        var figures = counters
        figures.interrupts = interruptCount
        return figures
    }

    public static var name: StaticString { "virtio-net" }

    public init?() {
        guard var transport = Transport.find(deviceID: 1) else { return nil }
        guard let features = transport.negotiate(required: 0, wanted: Self.featureMAC | Self.featureStatus | Self.featureMTU) else {
            print("virtio-net: the device does not offer virtio 1.x (VERSION_1)")
            return nil
        }
        let size = min(Self.queueSize, transport.maximumQueueSize(0), transport.maximumQueueSize(1))
        guard size >= 2, let receive = SplitVirtqueue(size: size), let transmit = SplitVirtqueue(size: size),
              let memory = physicalPages.allocate(pages: 2 * size * Self.bufferBytes / 4096) else {
            print("virtio-net: not enough memory for the queues")
            return nil
        }
        guard transport.setUpQueue(0, queue: receive), transport.setUpQueue(1, queue: transmit) else {
            print("virtio-net: the device refused the queue setup")
            return nil
        }
        self.transport = transport
        self.features = features
        receiveQueue = receive
        transmitQueue = transmit
        buffers = memory
        if features & Self.featureMAC != 0 {
            macAddress = MACAddress(transport.configurationByte(0), transport.configurationByte(1),
                                    transport.configurationByte(2), transport.configurationByte(3),
                                    transport.configurationByte(4), transport.configurationByte(5))
        } else {
            macAddress = MACAddress(0x02, 0, 0, 0, 0, 1)        // locally administered
        }
        mtu = features & Self.featureMTU != 0 ? Int(transport.configurationHalfword(10)) : 1500
        for index in 0..<size {
            _ = receiveQueue.add(address: buffers + UInt(index * Self.bufferBytes), length: Self.bufferBytes,
                                 deviceWritable: true)
        }
        receiveQueue.publish()
        transport.driverReady()
        transport.notify(queue: 0)
    }

    public mutating func enableInterrupts(context: UnsafeMutableRawPointer?, _ notify: NetDeviceNotify) -> Bool {
        interruptNotify = notify
        interruptContext = context
        return transport.enableInterrupts {
            interruptCount += 1
            interruptNotify?(interruptContext)
        }
    }

    public var isLinkUp: Bool {
        guard features & Self.featureStatus != 0 else { return true }
        return transport.configurationHalfword(6) & 1 != 0
    }

    public mutating func transmit(_ frame: UnsafeRawBufferPointer) -> Bool {
        guard frame.count >= 14, frame.count <= mtu + 14 else { return false }
        while let finished = transmitQueue.popUsed() { transmitQueue.recycle(finished.id) }
        guard let slot = transmitQueue.nextFreeDescriptor else {
            counters.transmitBusy += 1
            return false
        }
        let buffer = buffers + UInt((receiveQueue.size + Int(slot)) * Self.bufferBytes)
        let bytes = UnsafeMutableRawPointer(bitPattern: buffer)!
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: Self.headerBytes)
        (bytes + Self.headerBytes).copyMemory(from: frame.baseAddress!, byteCount: frame.count)
        _ = transmitQueue.add(address: buffer, length: Self.headerBytes + frame.count, deviceWritable: false)
        transmitQueue.publish()
        transport.notify(queue: 1)
        counters.framesSent += 1
        counters.bytesSent += frame.count
        return true
    }

    @discardableResult
    public mutating func takeReceived() -> ReceivedFrame? {
        while let (id, length) = receiveQueue.popUsed() {
            let buffer = receiveQueue.address(of: id)
            if length > Self.headerBytes {
                counters.framesReceived += 1
                counters.bytesReceived += length - Self.headerBytes
                return ReceivedFrame(bytes: UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: buffer + UInt(Self.headerBytes)),
                                                                   count: length - Self.headerBytes),
                                     token: UInt32(id))
            }
            counters.receiveErrors += 1
            requeue(id, address: buffer)
            receiveQueue.publish()
        }
        return nil
    }

    public mutating func release(_ frame: ReceivedFrame) {
        let id = UInt16(truncatingIfNeeded: frame.token)
        requeue(id, address: receiveQueue.address(of: id))
        receiveQueue.publish()
        transport.notify(queue: 0)
    }

    mutating func requeue(_ id: UInt16, address: UInt) {
        receiveQueue.recycle(id)
        _ = receiveQueue.add(address: address, length: Self.bufferBytes, deviceWritable: true)
    }

    public mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var handed = 0, popped = 0
        while handed < limit, let (id, length) = receiveQueue.popUsed() {
            popped += 1
            let buffer = receiveQueue.address(of: id)
            if length > Self.headerBytes {
                let frame = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: buffer + UInt(Self.headerBytes)),
                                                   count: length - Self.headerBytes)
                body(frame)
                counters.framesReceived += 1
                counters.bytesReceived += frame.count
                handed += 1
            } else {
                counters.receiveErrors += 1
            }
            receiveQueue.recycle(id)
            _ = receiveQueue.add(address: buffer, length: Self.bufferBytes, deviceWritable: true)
        }
        if popped > 0 {
            receiveQueue.publish()
            transport.notify(queue: 0)
        }
        return handed
    }
}
