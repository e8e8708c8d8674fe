// KVMNetDevice: the network device under Tessera's KVM monitor (`tessera-kvm --net tap:NAME`).
//
// Frames cross with one hypercall each, straight between the host's tap device and guest memory:
//   - transmit: net-write names the caller's frame in place — no copy into a device buffer, and the
//     frame is sent before the call returns, so the caller may reuse it at once;
//   - receive: the driver owns `bufferCount` buffers of 14 + MTU bytes. `takeReceived` lends a free one
//     to net-read; the monitor fills it with the next frame from the tap (or says "again": nothing
//     waiting), and the buffer stays lent until `release`. The monitor also says whether another
//     frame is waiting (`more`); when none is, `takeReceived` answers nil without a VM exit until the
//     poll hypercall reports the tap readable again.
// There are no interrupts: `enableInterrupts` registers the notify function with the platform, which
// calls it from the scheduler's idle path when the poll hypercall reports the tap readable.
// The MAC address and MTU come from the boot-info block; without `--net` there is no device (init fails).

import HypercallABI
import NetDeviceAPI
import PlatformKVM

public struct KVMNetDevice: NetDevice {
    public static var name: StaticString { "kvm-hypercall-net" }
    static let bufferCount = 32
    static let bufferSize = 2048                        // ≥ 14 + MTU (1500), power of two

    public let macAddress: MACAddress
    public let mtu: Int
    public var isLinkUp: Bool { true }
    public private(set) var statistics = NetDeviceStatistics()
    let buffers: UnsafeMutableRawPointer
    var lent: [Bool]

    public init?() {
        let info = KVMPlatform.bootInfo
        guard info.netMTU > 0 else {
            print("tessera: net-kvm: no network device attached (run with --net tap:NAME)")
            return nil
        }
        mtu = Int(info.netMTU)
        var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { raw in
            for index in 0..<6 { raw[index] = UInt8(truncatingIfNeeded: info.netMAC >> (8 * UInt64(index))) }
        }
        macAddress = MACAddress(bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5)
        buffers = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferCount * Self.bufferSize, alignment: 4096)
        lent = Array(repeating: false, count: Self.bufferCount)
    }

    public mutating func transmit(_ frame: UnsafeRawBufferPointer) -> Bool {
        guard frame.count >= 14, frame.count <= 14 + mtu, let base = frame.baseAddress else { return false }
        var arguments = NetWriteArguments()
        arguments.data = UInt64(UInt(bitPattern: base))
        arguments.length = UInt64(frame.count)
        Hypervisor.call(.netWrite, &arguments)
        guard arguments.result == HypercallResult.ok else {
            statistics.transmitBusy += 1
            return false
        }
        statistics.framesSent += 1
        statistics.bytesSent += frame.count
        return true
    }

    public mutating func enableInterrupts(context: UnsafeMutableRawPointer?, _ notify: NetDeviceNotify) -> Bool {
        stackNotify = notify
        stackContext = context
        KVMPlatform.onNetworkReady(context: nil) { _ in
            framesMayBeWaiting = true
            stackNotify?(stackContext)
        }
        return true
    }

    @discardableResult
    public mutating func receive(limit: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var count = 0
        while count < limit, let frame = takeReceived() {
            body(frame.bytes)
            release(frame)
            count += 1
        }
        return count
    }

    public mutating func takeReceived() -> ReceivedFrame? {
        // The monitor said the tap was drained: no VM exit just to hear "again" (the poll hypercall
        // sets the flag when frames arrive).
        guard framesMayBeWaiting else { return nil }
        guard let index = lent.firstIndex(of: false) else { return nil }     // every buffer is out
        let buffer = buffers + index * Self.bufferSize
        var arguments = NetReadArguments()
        arguments.data = UInt64(UInt(bitPattern: buffer))
        arguments.capacity = UInt64(Self.bufferSize)
        Hypervisor.call(.netRead, &arguments)
        guard arguments.result == HypercallResult.ok else {
            if arguments.result != HypercallResult.again { statistics.receiveErrors += 1 }
            framesMayBeWaiting = false
            return nil
        }
        framesMayBeWaiting = arguments.more != 0
        lent[index] = true
        statistics.framesReceived += 1
        statistics.bytesReceived += Int(arguments.length)
        return ReceivedFrame(bytes: UnsafeRawBufferPointer(start: buffer, count: Int(arguments.length)), token: UInt32(index))
    }

    public mutating func release(_ frame: ReceivedFrame) {
        let index = Int(frame.token)
        if index < lent.count { lent[index] = false }
    }
}

/// False once the monitor said the tap holds no more frames; set again by the platform's
/// network-ready event (the poll hypercall). Starts true: frames may have arrived before the stack.
nonisolated(unsafe) var framesMayBeWaiting = true
/// The network stack's notify function, called after the flag is set.
nonisolated(unsafe) var stackNotify: NetDeviceNotify?
nonisolated(unsafe) var stackContext: UnsafeMutableRawPointer?

