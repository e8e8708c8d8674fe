// VirtioPCITransport: virtio over PCI, the modern interface (virtio 1.x spec, section 4.1).
//
// A virtio function has vendor 0x1AF4 and device ID 0x1040 + the virtio device ID (QEMU's
// `disable-legacy=on`); a transitional device (0x1000-0x103F, which also speaks the legacy
// interface) names the virtio device in its subsystem ID and is driven through its modern interface
// the same way. The registers live in memory BARs, located by vendor-specific capabilities (ID 9):
//     0 cap_vndr  1 cap_next  2 cap_len  3 cfg_type  4 bar  8 offset (le32)  12 length (le32)
//    16 notify_off_multiplier (le32, notify capability only)
// cfg_type 1 is the common configuration (layout below), 2 the notification area — queue q is notified
// by a 16-bit write of q at offset queue_notify_off(q) * notify_off_multiplier — 3 the ISR status and 4
// the device-specific configuration. The first capability of each type that names a usable memory BAR
// wins (section 4.1.4: drivers use the first one they can support); a BAR above 4 GiB (where SeaBIOS
// may put 64-bit BARs on q35) is mapped on the way. The ISR status only serves INTx#, which this transport does
// not use: interrupts are MSI-X (one vector for every queue, to a local APIC vector), and a device
// without MSI-X is driven by polling.
//
// Common configuration (offsets):
//     0 device_feature_select u32   4 device_feature u32   8 driver_feature_select u32
//    12 driver_feature u32         16 config_msix_vector u16   18 num_queues u16
//    20 device_status u8           21 config_generation u8
//    22 queue_select u16  24 queue_size u16  26 queue_msix_vector u16  28 queue_enable u16
//    30 queue_notify_off u16  32 queue_desc u64  40 queue_driver u64  48 queue_device u64
// Each field is accessed with its own width; the 64-bit ones as two 32-bit halves (section 4.1.3.1).

import ArchX86
import Interrupts
import PCI
import Virtio

/// The handler `enableInterrupts` installed (one interrupting virtio-pci device for now).
nonisolated(unsafe) var pciInterruptHandler: (@convention(c) () -> Void)? = nil

public struct VirtioPCITransport: VirtioTransport {
    public static let vendorID: UInt16 = 0x1AF4
    static let noVector: UInt16 = 0xFFFF
    static let maximumQueues = 16

    // Common configuration offsets.
    static let deviceFeatureSelect = 0, deviceFeature = 4, driverFeatureSelect = 8, driverFeature = 12
    static let configurationVector = 16, deviceStatus = 20
    static let queueSelect = 22, queueSize = 24, queueVector = 26, queueEnable = 28, queueNotifyOffset = 30
    static let queueDescriptor = 32, queueDriver = 40, queueDevice = 48

    public let function: PCIFunction
    let common: UInt
    let notifyArea: UInt, notifyLength: UInt, notifyMultiplier: UInt
    /// The device-specific configuration (0 when the device has none).
    let device: UInt, deviceLength: Int
    let msix: PCIMSIX?
    /// Each set-up queue's doorbell address (0: not set up).
    var doorbells = [UInt](repeating: 0, count: maximumQueues)
    /// False once the device refused an MSI-X vector for a queue.
    var queuesHaveVector = true

    /// Whether `function` is a virtio device of type `deviceID`.
    static func matches(_ function: PCIFunction, deviceID: UInt32) -> Bool {
        guard function.vendorID == vendorID else { return false }
        let id = function.deviceID
        if id == 0x1040 + UInt16(truncatingIfNeeded: deviceID) { return true }
        return id >= 0x1000 && id <= 0x103F && UInt32(function.subsystemID) == deviceID
    }

    public static func find(deviceID: UInt32) -> VirtioPCITransport? { find(deviceID: deviceID, index: 0) }

    public static func find(deviceID: UInt32, index: Int) -> VirtioPCITransport? {
        var seen = 0
        guard let function = PCI.first(where: { function in
            guard matches(function, deviceID: deviceID) else { return false }
            seen += 1
            return seen == index + 1
        }) else { return nil }
        return VirtioPCITransport(function: function)
    }

    /// The transport of `function`, with its structures located and mapped and bus mastering on. Nil,
    /// with the reason printed, when a required structure is missing or unusable.
    public init?(function: PCIFunction) {
        var bars = [PCIBAR?](repeating: nil, count: 6)
        var found = [VirtioPCIStructure?](repeating: nil, count: 5)     // by type: the first usable one
        for capability in function.capabilities where capability.id == PCICapability.vendorSpecific {
            guard var structure = VirtioPCIStructure(function: function, at: capability.offset),
                  found[Int(structure.type)] == nil else { continue }
            if bars[structure.bar] == nil { bars[structure.bar] = function.mappedMemoryBAR(structure.bar) }
            guard let bar = bars[structure.bar], structure.offset + structure.length <= bar.size else { continue }
            structure.address = UInt(bar.address + structure.offset)
            found[Int(structure.type)] = structure
        }
        guard let common = found[Int(VirtioPCIStructure.common)], let notify = found[Int(VirtioPCIStructure.notify)] else {
            Self.report(function, "has no usable modern (virtio 1.x) interface; a legacy-only device is not supported")
            return nil
        }
        function.enableMemoryAndBusMastering()
        self.function = function
        self.common = common.address
        notifyArea = notify.address
        notifyLength = UInt(notify.length)
        notifyMultiplier = UInt(notify.notifyMultiplier)
        device = found[Int(VirtioPCIStructure.device)]?.address ?? 0
        deviceLength = Int(found[Int(VirtioPCIStructure.device)]?.length ?? 0)
        msix = PCIMSIX(function: function)
    }

    /// Prints "virtio-pci: bb:dd.f <message>" (in pieces: string interpolation costs kilobytes of code).
    @inline(never)
    static func report(_ function: PCIFunction, _ message: StaticString) {
        print("virtio-pci: ", terminator: "")
        print(function.address.description, terminator: " ")
        print(message)
    }

    func read8(_ field: Int) -> UInt8 { CPU.mmioRead8(common + UInt(field)) }
    func read16(_ field: Int) -> UInt16 { CPU.mmioRead16(common + UInt(field)) }
    func read32(_ field: Int) -> UInt32 { CPU.mmioRead32(common + UInt(field)) }
    func write8(_ field: Int, _ value: UInt8) { CPU.mmioWrite8(common + UInt(field), value) }
    func write16(_ field: Int, _ value: UInt16) { CPU.mmioWrite16(common + UInt(field), value) }
    func write32(_ field: Int, _ value: UInt32) { CPU.mmioWrite32(common + UInt(field), value) }
    func write64(_ field: Int, _ value: UInt64) {
        write32(field, UInt32(truncatingIfNeeded: value))
        write32(field + 4, UInt32(truncatingIfNeeded: value >> 32))
    }

    public func negotiate(required: UInt64, wanted: UInt64) -> UInt64? {
        write8(Self.deviceStatus, 0)                           // reset; complete when status reads 0
        var spins = 0
        while read8(Self.deviceStatus) != 0 {
            spins += 1
            guard spins < 1_000_000 else {
                Self.report(function, "does not finish its reset")
                return nil
            }
        }
        write8(Self.deviceStatus, VirtioStatus.acknowledge)
        write8(Self.deviceStatus, VirtioStatus.acknowledge | VirtioStatus.driver)
        write32(Self.deviceFeatureSelect, 0)
        var offered = UInt64(read32(Self.deviceFeature))
        write32(Self.deviceFeatureSelect, 1)
        offered |= UInt64(read32(Self.deviceFeature)) << 32
        let needed = required | virtioFeatureVersion1
        guard offered & needed == needed else {
            write8(Self.deviceStatus, VirtioStatus.failed)
            return nil
        }
        let accepted = offered & (wanted | needed)
        write32(Self.driverFeatureSelect, 0)
        write32(Self.driverFeature, UInt32(truncatingIfNeeded: accepted))
        write32(Self.driverFeatureSelect, 1)
        write32(Self.driverFeature, UInt32(truncatingIfNeeded: accepted >> 32))
        let status = VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK
        write8(Self.deviceStatus, status)
        guard read8(Self.deviceStatus) & VirtioStatus.featuresOK != 0 else {
            write8(Self.deviceStatus, VirtioStatus.failed)
            return nil
        }
        if msix != nil { write16(Self.configurationVector, Self.noVector) }   // configuration changes: not signalled
        return accepted
    }

    public func maximumQueueSize(_ index: Int) -> Int {
        write16(Self.queueSelect, UInt16(truncatingIfNeeded: index))
        return Int(read16(Self.queueSize))
    }

    public mutating func setUpQueue(_ index: Int, queue: SplitVirtqueue) -> Bool {
        guard index >= 0, index < Self.maximumQueues else { return false }
        write16(Self.queueSelect, UInt16(index))
        let maximum = Int(read16(Self.queueSize))
        guard maximum >= queue.size else { return false }
        let doorbell = UInt(read16(Self.queueNotifyOffset)) * notifyMultiplier
        guard doorbell + 2 <= notifyLength else { return false }
        write16(Self.queueSize, UInt16(queue.size))
        if msix != nil {
            // Every queue signals MSI-X entry 0; the device answers NO_VECTOR when it cannot.
            write16(Self.queueVector, 0)
            if read16(Self.queueVector) == Self.noVector { queuesHaveVector = false }
        }
        write64(Self.queueDescriptor, UInt64(queue.descriptors))
        write64(Self.queueDriver, UInt64(queue.available))
        write64(Self.queueDevice, UInt64(queue.used))
        write16(Self.queueEnable, 1)
        doorbells[index] = notifyArea + doorbell
        return true
    }

    public func driverReady() {
        write8(Self.deviceStatus, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK
                                  | VirtioStatus.driverOK)
    }

    public func notify(queue index: Int) {
        guard index >= 0, index < Self.maximumQueues, doorbells[index] != 0 else { return }
        CPU.memoryBarrier()
        CPU.mmioWrite16(doorbells[index], UInt16(index))
    }

    public func enableInterrupts(_ handler: @escaping @convention(c) () -> Void) -> Bool {
        guard let msix, queuesHaveVector else {
            Self.report(function, "has no MSI-X vector for its queues; no interrupts (polling)")
            return false
        }
        pciInterruptHandler = handler
        // MSI-X messages are edge-triggered and need no acknowledgement at the device.
        guard let message = Interrupts.allocateMessage({ _, _ in pciInterruptHandler?() }) else {
            Self.report(function, "found no free interrupt vector; no interrupts (polling)")
            return false
        }
        msix.route(entry: 0, address: message.address, data: message.data)
        msix.enable()
        return true
    }

    public func configurationByte(_ offset: Int) -> UInt8 {
        guard offset >= 0, offset < deviceLength else { return 0 }
        return CPU.mmioRead8(device + UInt(offset))
    }

    public func configurationHalfword(_ offset: Int) -> UInt16 {
        guard offset >= 0, offset + 2 <= deviceLength else { return 0 }
        return CPU.mmioRead16(device + UInt(offset))
    }
}

/// One virtio structure named by a vendor capability: its type, where it is in which BAR, and for the
/// notification area the multiplier. Types this transport does not use (ISR status, PCI configuration
/// access, shared memory) and capabilities too short for their type are not read (nil).
struct VirtioPCIStructure {
    static let common: UInt8 = 1, notify: UInt8 = 2, device: UInt8 = 4

    var type: UInt8
    var bar: Int
    var offset: UInt64, length: UInt64
    var notifyMultiplier: UInt32 = 0
    /// Where the structure is mapped, once its BAR is known.
    var address: UInt = 0

    init?(function: PCIFunction, at capability: Int) {
        let capabilityLength = function.read8(capability + 2)
        type = function.read8(capability + 3)
        bar = Int(function.read8(capability + 4))
        offset = UInt64(function.read32(capability + 8))
        length = UInt64(function.read32(capability + 12))
        guard bar < 6, capabilityLength >= 16 else { return nil }
        switch type {
        case Self.common:
            guard length >= 56 else { return nil }                    // up to queue_device
        case Self.notify:
            guard capabilityLength >= 20 else { return nil }
            notifyMultiplier = function.read32(capability + 16)
        case Self.device:
            break
        default:
            return nil
        }
    }
}
