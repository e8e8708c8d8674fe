// VirtioNetDevice: the virtio network device (spec section 5.1) as a `NetDevice`.
//
// Queue 0 receives, queue 1 transmits. Every buffer is 2048 bytes: the 12-byte virtio_net_hdr (VERSION_1
// layout, num_buffers included) followed by up to 1514 bytes of Ethernet frame. All receive buffers are
// posted at start and re-posted as soon as `receive` has lent the frame to the caller; transmit copies
// the frame into a free transmit buffer after a zeroed header (no checksum or segmentation offload yet)
// and reclaims finished buffers lazily. Features: VERSION_1 required; MAC, STATUS and MTU taken when
// offered; nothing else (no offloads, no mergeable buffers, no control queue).

import ArchX86
import Interrupts
import Kernel
import NetDeviceAPI
import Virtio

/// The one interrupt-mode device's transport and the stack's notification (single device for now).
nonisolated(unsafe) var interruptTransport: VirtioMMIO? = nil
nonisolated(unsafe) var interruptNotify: NetDeviceNotify? = nil
nonisolated(unsafe) var interruptContext: UnsafeMutableRawPointer? = nil
nonisolated(unsafe) var interruptCount = 0

public struct VirtioNetDevice: NetDevice {
    static let featureMTU: UInt64 = 1 << 3, featureMAC: UInt64 = 1 << 5, featureStatus: UInt64 = 1 << 16
    static let headerBytes = 12
    static let bufferBytes = 2048
    static let queueSize = 128

    let transport: VirtioMMIO
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
        guard let transport = VirtioMMIO.find(deviceID: 1) else { return nil }
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
        interruptTransport = transport
        interruptNotify = notify
        interruptContext = context
        // Level-triggered: the line stays asserted until the interrupt status is acknowledged.
        Interrupts.enable(line: transport.interruptLine, level: true) { _, _ in
            interruptCount += 1
            _ = interruptTransport?.acknowledgeInterrupt()
            interruptNotify?(interruptContext)
        }
        return true
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
