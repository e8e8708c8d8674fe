// The block device API.
//
// A block device is an array of `sectorCount` sectors of `sectorSize` bytes. Transfers are whole
// sectors, synchronous, between the device and a buffer the caller owns for the duration of the call
// (no device-side copy is kept). A failed transfer returns false and counts an error: the buffer's
// contents are then unspecified for a read, and the sectors' for a write. Drivers are chosen in the
// manifest (`block-device: block-kvm`) or by the platform, and bound statically by the wiring.
// Implementations: block-kvm (Tessera's KVM monitor, `--disk FILE`), virtio-blk and virtio-blk-pci
// (QEMU microvm, pc and q35, `--disk FILE`). `flush` makes completed writes durable where the device
// caches them (virtio-blk's FLUSH); a device without a volatile cache has nothing to flush.

public struct BlockDeviceStatistics {
    public var sectorsRead = 0, sectorsWritten = 0, errors = 0
    public init() {}
}

public protocol BlockDevice {
    /// A short name for reports ("kvm-hypercall-block").
    static var name: StaticString { get }
    /// Finds the device; nil when there is none (the driver prints why).
    init?()
    var sectorSize: Int { get }
    var sectorCount: UInt64 { get }
    var statistics: BlockDeviceStatistics { get }
    /// Reads `buffer.count / sectorSize` sectors starting at `sector` into `buffer` (a whole number of
    /// sectors). False when the range passes the end, the buffer is not whole sectors, or the host failed.
    mutating func read(sector: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool
    /// Writes `buffer` (whole sectors) starting at `sector`.
    mutating func write(sector: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool
    /// Makes every completed write durable. False when the device reports an error.
    mutating func flush() -> Bool
}

extension BlockDevice {
    /// A device that writes through (the monitor's block device writes the host file) has nothing to flush.
    public mutating func flush() -> Bool { true }
}
