// The network device API.
//
// A network device moves whole Ethernet frames (no FCS) between the wire and memory. Ownership is
// explicit and copy-light:
//   - transmit: the caller lends a frame for the duration of the call; the device copies it into one
//     of its own transmit buffers (or returns false when all are in flight — back-pressure, not loss);
//   - receive: the device lends each received frame to the caller's closure; the bytes are valid only
//     inside the closure, after which the buffer goes straight back to the device. Or, pulled one at a
//     time, `takeReceived` lends a frame until the caller `release`s it — no copy either way.
// `poll` mode (calling `receive` in a loop) always works; a device that supports interrupts also
// signals `onInterrupt` so a stack can sleep until frames arrive. Drivers are selected in the manifest
// (`net-device: virtio-net`) and bound statically by the wiring.

@_exported import NetWire      // MACAddress: one address type from the wire to the driver

/// A received frame lent by `takeReceived`: valid until it is given back with `release`.
public struct ReceivedFrame {
    public let bytes: UnsafeRawBufferPointer
    /// The driver's buffer identifier.
    public let token: UInt32

    public init(bytes: UnsafeRawBufferPointer, token: UInt32) {
        self.bytes = bytes
        self.token = token
    }
}

/// Called from interrupt context when frames have arrived (or transmit buffers were freed); it must not
/// block or allocate — it signals whoever polls `receive` (a thread's Event, a flag).
public typealias NetDeviceNotify = @convention(c) (_ context: UnsafeMutableRawPointer?) -> Void

/// Counters every device keeps (for metrics and the shell).
public struct NetDeviceStatistics {
    public var framesSent = 0, bytesSent = 0, framesReceived = 0, bytesReceived = 0
    public var transmitBusy = 0, receiveErrors = 0, interrupts = 0
    public init() {}
}

public protocol NetDevice {
    /// A short name for reports ("virtio-net").
    static var name: StaticString { get }

    /// Finds and initializes the first device of this kind; nil when there is none or it cannot be
    /// driven (a clear reason is printed by the driver).
    init?()

    var macAddress: MACAddress { get }
    /// The largest frame payload (IP packet) the device carries, usually 1500.
    var mtu: Int { get }
    var isLinkUp: Bool { get }
    var statistics: NetDeviceStatistics { get }

    /// Copies `frame` (destination MAC first, no FCS) into a transmit buffer and sends it. False when
    /// every transmit buffer is still in flight or the frame is larger than the MTU allows.
    mutating func transmit(_ frame: UnsafeRawBufferPointer) -> Bool

    /// Switches to interrupt mode: `notify(context)` runs in interrupt context whenever the device has
    /// used buffers. False when the device cannot interrupt (stay in polling mode).
    mutating func enableInterrupts(context: UnsafeMutableRawPointer?, _ notify: NetDeviceNotify) -> Bool

    /// Hands each frame received since the last call to `body`, then recycles its buffer. Returns the
    /// number of frames handed over (at most `limit`).
    @discardableResult
    mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int

    /// The pull form of `receive`, for a caller that transmits while it handles a frame (a closure
    /// would hold exclusive access to the device): the next received frame, whose buffer stays out of
    /// the device's hands until `release`. Release every frame taken, in any order.
    mutating func takeReceived() -> ReceivedFrame?
    mutating func release(_ frame: ReceivedFrame)
}
