// VirtioTransport: what a virtio device driver needs from the bus its device sits on (virtio 1.x
// spec, chapter 4): finding the device, the device-initialization steps of section 3.1.1, queue
// setup, notifications, interrupts and the device-specific configuration space.
//
// Two transports implement it: `VirtioMMIO` here (QEMU microvm) and `VirtioPCITransport` in the
// virtio-pci library (QEMU pc and q35). Drivers are generic over it, so an image links only the
// transport its device library binds: a microvm image carries no PCI code.
//
// The order of calls is the spec's: `find`, `negotiate` (reset, ACKNOWLEDGE, DRIVER, features,
// FEATURES_OK), `setUpQueue` for each queue, `driverReady` (DRIVER_OK); then `notify` and, if the
// driver wants them, `enableInterrupts`.

public protocol VirtioTransport {
    /// The first device with virtio device ID `deviceID` (1 network, 2 block) that this transport can
    /// drive; nil when there is none (a device it cannot drive is reported on the console).
    static func find(deviceID: UInt32) -> Self?
    /// The `index`th such device (0 is the first), for drivers of devices that come several to a VM
    /// (virtio-9p: one per shared folder).
    static func find(deviceID: UInt32, index: Int) -> Self?

    /// Resets the device and agrees on features: the result is `wanted` ∩ offered, which must contain
    /// `required` and VERSION_1. Nil (and the device marked FAILED) otherwise.
    func negotiate(required: UInt64, wanted: UInt64) -> UInt64?

    /// The largest queue the device offers for `index` (0: no such queue).
    func maximumQueueSize(_ index: Int) -> Int

    /// Gives queue `index` its rings and enables it. False if the device has no such queue or
    /// cannot take one of `queue.size` entries.
    mutating func setUpQueue(_ index: Int, queue: SplitVirtqueue) -> Bool

    /// Sets DRIVER_OK: the device is live.
    func driverReady()

    /// Tells the device that queue `index` has new available buffers.
    func notify(queue index: Int)

    /// Delivers the device's interrupts (used buffers, configuration changes) to `handler`, in
    /// interrupt context, after acknowledging them at the device. One device per transport type can
    /// interrupt (for now). False when the transport cannot interrupt: the driver keeps polling.
    func enableInterrupts(_ handler: @escaping @convention(c) () -> Void) -> Bool

    /// A byte and a little-endian 16-bit field of the device-specific configuration space.
    func configurationByte(_ offset: Int) -> UInt8
    func configurationHalfword(_ offset: Int) -> UInt16
}

/// VIRTIO_F_VERSION_1 (bit 32): the device follows virtio 1.x. Every transport requires it.
public let virtioFeatureVersion1: UInt64 = 1 << 32

/// Device status bits (section 2.1).
public enum VirtioStatus {
    public static let acknowledge: UInt8 = 1, driver: UInt8 = 2, driverOK: UInt8 = 4, featuresOK: UInt8 = 8
    public static let failed: UInt8 = 128
}
