// VirtioMMIO: the virtio-over-MMIO transport (virtio 1.x spec, section 4.2), version 2 ("modern").
//
// QEMU's microvm places up to 24 transports at 0xFEB00000 + 0x200 * n; an empty slot reads device ID
// 0. Legacy (version 1) transports are refused with a message: the runner starts QEMU with
// `virtio-mmio.force-legacy=false`. The device-initialization dance (section 3.1.1) lives in
// `negotiate`: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (re-read to confirm the device
// accepted them), then queues, then DRIVER_OK. A feature the driver cannot honour is never accepted;
// a device that lacks a feature the driver requires fails the negotiation cleanly.
// Interrupts: transport n raises an I/O APIC line (see `interruptLine`), level-triggered, which stays
// asserted until the driver acknowledges the interrupt status.

import ArchX86
import Interrupts

/// The handler `enableInterrupts` installed (one interrupting virtio-mmio device for now).
@usableFromInline nonisolated(unsafe) var mmioInterruptHandler: (@convention(c) () -> Void)? = nil

public struct VirtioMMIO: VirtioTransport {
    public static let firstSlot: UInt = 0xFEB0_0000
    public static let slotSize: UInt = 0x200
    public static let slotCount = 24

    // Registers (offsets).
    static let magic = 0x000, version = 0x004, deviceID = 0x008
    static let deviceFeatures = 0x010, deviceFeaturesSelect = 0x014
    static let driverFeatures = 0x020, driverFeaturesSelect = 0x024
    static let queueSelect = 0x030, queueSizeMax = 0x034, queueSize = 0x038, queueReady = 0x044
    static let queueNotify = 0x050, interruptStatus = 0x060, interruptAcknowledge = 0x064
    static let status = 0x070
    static let queueDescriptorLow = 0x080, queueDescriptorHigh = 0x084
    static let queueDriverLow = 0x090, queueDriverHigh = 0x094
    static let queueDeviceLow = 0x0A0, queueDeviceHigh = 0x0A4
    static let configuration = 0x100

    // Status bits (section 2.1).
    static let acknowledge: UInt32 = 1, driver: UInt32 = 2, driverOK: UInt32 = 4, featuresOK: UInt32 = 8
    static let failed: UInt32 = 128

    /// VIRTIO_F_VERSION_1: the device follows virtio 1.x (required).
    public static let featureVersion1: UInt64 = 1 << 32

    public let base: UInt
    public let slot: Int

    /// The I/O APIC line of this transport. QEMU's microvm wires transport n to GSI 5 + n when it has
    /// 8 transports (one I/O APIC), and to GSI 16 + n when it has 24 (a second I/O APIC, `ioapic2`).
    public var interruptLine: Int {
        var transports = 0
        for slot in 0..<Self.slotCount
        where CPU.mmioRead32(Self.firstSlot + UInt(slot) * Self.slotSize) == 0x7472_6976 { transports += 1 }
        return transports > 8 ? 16 + slot : 5 + slot
    }

    /// The first version-2 transport whose device has `deviceID` (1 = network, 2 = block).
    public static func find(deviceID wanted: UInt32) -> VirtioMMIO? { find(deviceID: wanted, index: 0) }

    public static func find(deviceID wanted: UInt32, index: Int) -> VirtioMMIO? {
        var seen = 0
        for slot in 0..<slotCount {
            let transport = VirtioMMIO(base: firstSlot + UInt(slot) * slotSize, slot: slot)
            guard transport.read(magic) == 0x7472_6976, transport.read(deviceID) == wanted else { continue }
            guard transport.read(version) == 2 else {
                print("virtio: device at slot \(slot) is a legacy (version 1) transport; start QEMU with -global virtio-mmio.force-legacy=false")
                continue
            }
            if seen == index { return transport }
            seen += 1
        }
        return nil
    }

    func read(_ register: Int) -> UInt32 { CPU.mmioRead32(base + UInt(register)) }

    func write(_ register: Int, _ value: UInt32) { CPU.mmioWrite32(base + UInt(register), value) }

    /// Resets the device and agrees on features: the result is `wanted` ∩ offered, which must contain
    /// `required` (VERSION_1 is always required). Nil (and the device marked FAILED) otherwise.
    public func negotiate(required: UInt64, wanted: UInt64) -> UInt64? {
        write(Self.status, 0)
        write(Self.status, Self.acknowledge)
        write(Self.status, Self.acknowledge | Self.driver)
        write(Self.deviceFeaturesSelect, 0)
        var offered = UInt64(read(Self.deviceFeatures))
        write(Self.deviceFeaturesSelect, 1)
        offered |= UInt64(read(Self.deviceFeatures)) << 32
        let needed = required | Self.featureVersion1
        guard offered & needed == needed else {
            write(Self.status, Self.failed)
            return nil
        }
        let accepted = offered & (wanted | needed)
        write(Self.driverFeaturesSelect, 0)
        write(Self.driverFeatures, UInt32(truncatingIfNeeded: accepted))
        write(Self.driverFeaturesSelect, 1)
        write(Self.driverFeatures, UInt32(truncatingIfNeeded: accepted >> 32))
        write(Self.status, Self.acknowledge | Self.driver | Self.featuresOK)
        guard read(Self.status) & Self.featuresOK != 0 else {
            write(Self.status, Self.failed)
            return nil
        }
        return accepted
    }

    /// Gives queue `index` its rings. False if the device has no such queue.
    public func setUpQueue(_ index: Int, queue: SplitVirtqueue) -> Bool {
        write(Self.queueSelect, UInt32(index))
        let maximum = read(Self.queueSizeMax)
        guard maximum >= UInt32(queue.size) else { return false }
        write(Self.queueSize, UInt32(queue.size))
        write64(Self.queueDescriptorLow, UInt64(queue.descriptors))
        write64(Self.queueDriverLow, UInt64(queue.available))
        write64(Self.queueDeviceLow, UInt64(queue.used))
        write(Self.queueReady, 1)
        return true
    }

    /// The largest queue the device offers for `index` (0: no such queue).
    public func maximumQueueSize(_ index: Int) -> Int {
        write(Self.queueSelect, UInt32(index))
        return Int(read(Self.queueSizeMax))
    }

    public func driverReady() {
        write(Self.status, Self.acknowledge | Self.driver | Self.featuresOK | Self.driverOK)
    }

    public func notify(queue index: Int) {
        CPU.memoryBarrier()
        write(Self.queueNotify, UInt32(index))
    }

    // Emitted only into the modules that call it. Compiled here, it would put the interrupt table's
    // array metadata into this module's data section, which every image with virtio links (data is not
    // split per symbol, so --gc-sections cannot drop it from images that poll).
    @_alwaysEmitIntoClient
    public func enableInterrupts(_ handler: @escaping @convention(c) () -> Void) -> Bool {
        mmioInterruptHandler = handler
        Interrupts.enable(line: interruptLine, level: true, context: UnsafeMutableRawPointer(bitPattern: base)) { _, context in
            VirtioMMIO.acknowledgeInterrupt(base: UInt(bitPattern: context))
            mmioInterruptHandler?()
        }
        return true
    }

    @usableFromInline static func acknowledgeInterrupt(base: UInt) {
        CPU.mmioWrite32(base + UInt(interruptAcknowledge), CPU.mmioRead32(base + UInt(interruptStatus)))
    }

    /// Reads and acknowledges the interrupt cause (bit 0: used buffers, bit 1: configuration change).
    public func acknowledgeInterrupt() -> UInt32 {
        let cause = read(Self.interruptStatus)
        write(Self.interruptAcknowledge, cause)
        return cause
    }

    /// A byte of the device-specific configuration space.
    public func configurationByte(_ offset: Int) -> UInt8 {
        CPU.mmioRead8(base + UInt(Self.configuration + offset))
    }

    public func configurationHalfword(_ offset: Int) -> UInt16 {
        CPU.mmioRead16(base + UInt(Self.configuration + offset))
    }

    func write64(_ lowRegister: Int, _ value: UInt64) {
        write(lowRegister, UInt32(truncatingIfNeeded: value))
        write(lowRegister + 4, UInt32(truncatingIfNeeded: value >> 32))
    }
}
