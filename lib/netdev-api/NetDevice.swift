// The network device API.
//
// A network device moves whole Ethernet frames (no FCS) between the wire and memory. Ownership is
// explicit and copy-light:
//   - transmit: the caller lends a frame for the duration of the call; the device copies it into one
//     of its own transmit buffers (or returns false when all are in flight — back-pressure, not loss);
//   - receive: the device lends each received frame to the caller's closure; the bytes are valid only
//     inside the closure, after which the buffer goes straight back to the device.
// `poll` mode (calling `receive` in a loop) always works; a device that supports interrupts also
// signals `onInterrupt` so a stack can sleep until frames arrive. Drivers are selected in the manifest
// (`net-device: virtio-net`) and bound statically by the wiring.

/// A 48-bit Ethernet address.
public struct MACAddress: Equatable {
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }

    public static let broadcast = MACAddress(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)

    public static func == (a: MACAddress, b: MACAddress) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2
            && a.bytes.3 == b.bytes.3 && a.bytes.4 == b.bytes.4 && a.bytes.5 == b.bytes.5
    }

    /// The six bytes in order.
    public func forEachByte(_ body: (UInt8) -> Void) {
        body(bytes.0); body(bytes.1); body(bytes.2); body(bytes.3); body(bytes.4); body(bytes.5)
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
}
