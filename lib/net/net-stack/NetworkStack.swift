// NetworkStack: the image's network — one device, one IPv4 interface, one TCP table, one thread.
//
// Everything that touches the interface or the TCP table holds `lock`. The network thread sleeps on
// `wake`, an Event that the device's interrupt signals (frames arrived, transmit buffers freed) and
// that expires at the earliest TCP or ARP deadline; awake, it drains the device (TCP segments go to
// the TCP table on the way), runs timers and sends what is owed, then broadcasts `changed` so that
// threads blocked in socket calls re-check their condition. Application threads do their part under
// the same lock: a write queues bytes and transmits at once (no hand-off to the network thread), a
// read that frees receive space sends the window update itself. A blocked call waits on `changed`
// with its deadline: it never spins.
//
// Configuration is static (`.static(...)`, or `.automatic` with kernel parameters `ip=10.77.0.2/24
// gateway=10.77.0.1`, which `tessera run -e` passes) or obtained with DHCP (`.dhcp`, or `.automatic`
// without `ip=`), whose client runs inside the network thread; `start` returns once the interface
// has an address. DHCP renewal is not implemented (QEMU's lease is a day long).
//
// The stack is one object per image, created by `start`; `NetworkStack.shared` finds it again, and
// the device's interrupt reaches it through `deviceInterrupt()`, which the wiring fragment binds to a
// C function (closures converted to C function pointers cannot capture the generic image type).

import BootArguments
import Clock
import Kernel
import NetDeviceAPI
import NetInterface
import NetTCP
import SchedulerAPI
import Threads

/// The C-callable function the wiring gives the device for its interrupts.
public typealias NetworkInterruptHook = NetDeviceNotify

/// What an image must provide for the network stack: a device type and the C-callable interrupt hook.
public protocol NetworkedImage: ThreadedImage {
    associatedtype NetDevice: NetDeviceAPI.NetDevice
    static var networkInterruptHook: NetDeviceNotify { get }
    /// Called when `start` has configured the interface, before it returns: a library that serves
    /// on the network implements it in its wiring fragment (`shell-net` does). Does nothing by default.
    static func networkStarted()
    /// Called after `networkStarted`: the `metrics-exporter` library implements it to serve /metrics.
    static func startMetricsExporter()
}

extension NetworkedImage {
    public static func networkStarted() {}
    public static func startMetricsExporter() {}
}

public enum NetworkMode {
    case dhcp
    case `static`(InterfaceConfiguration)
    /// From the kernel parameters (`tessera run -e ip=10.77.0.2/24 -e gateway=10.77.0.1`): static
    /// when `ip=` is given, DHCP otherwise.
    case automatic

    /// `.automatic` resolved against the kernel parameters; other modes as they are.
    public func resolved(_ parameters: BootArguments) throws(NetworkError) -> NetworkMode {
        guard case .automatic = self else { return self }
        guard let text = parameters.kernelValue("ip") else { return .dhcp }
        let parts = text.split(separator: "/")
        guard parts.count <= 2, let address = IPv4Address(String(parts[0])),
              let prefix = parts.count == 2 ? Int(String(parts[1])) : 24, prefix >= 0 && prefix <= 32 else {
            throw .badParameter("ip=\(text): use ip=A.B.C.D/PREFIX, e.g. ip=10.77.0.2/24")
        }
        var gateway: IPv4Address? = nil
        if let text = parameters.kernelValue("gateway") {
            guard let parsed = IPv4Address(text) else { throw .badParameter("gateway=\(text): use gateway=A.B.C.D") }
            gateway = parsed
        }
        return .static(InterfaceConfiguration(address: address, prefixLength: prefix, gateway: gateway))
    }
}

public enum NetworkError: Error, Equatable {
    case noDevice
    case noAddress
    case alreadyStarted
    case noThread
    case badParameter(String)
}

nonisolated(unsafe) var sharedStackPointer: UnsafeMutableRawPointer? = nil

public final class NetworkStack<I: NetworkedImage> {
    public let lock = Mutex<I>()
    let changed = Condition<I>()
    let wake = Event<I>()
    var interface: Interface<I.NetDevice>
    var tcp: TCPStack
    var dhcp: DHCPClient?
    public private(set) var lease: DHCPLease?
    public private(set) var interruptsEnabled = false
    /// When the network thread will next wake by itself (0: not sleeping).
    var scheduledWake: UInt64 = 0
    var moreFramesPending = false

    init(device: I.NetDevice, mode: NetworkMode, tcpConfiguration: TCPConfiguration) {
        let configuration: InterfaceConfiguration
        switch mode {
        case .dhcp, .automatic: configuration = InterfaceConfiguration(address: .unspecified, prefixLength: 0, gateway: nil)
        case .static(let given): configuration = given
        }
        interface = Interface(device: device, configuration: configuration)
        var tcpConfiguration = tcpConfiguration
        tcpConfiguration.maximumSegmentSize = min(tcpConfiguration.maximumSegmentSize, device.mtu - 40)
        if tcpConfiguration.memory == nil {
            tcpConfiguration.memory = NetworkMemory(limit: Self.bufferBudget(kernelParameters))
        }
        tcp = TCPStack(localAddress: configuration.address, configuration: tcpConfiguration,
                       secret: (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max)))
        if case .dhcp = mode {
            dhcp = DHCPClient(hardwareAddress: device.macAddress, transactionID: UInt32.random(in: .min ... .max))
            _ = interface.bindUDP(port: DHCPClient.clientPort)
        }
    }

    /// The bytes all connection buffers may hold: `net.buffers=SIZE` (K/M suffixes), or by default half
    /// of the memory the image has left when the network starts (at least 256 KiB).
    static func bufferBudget(_ parameters: BootArguments) -> Int {
        if let text = parameters.kernelValue("net.buffers"), let bytes = parseSize(text) { return bytes }
        return max(SystemMemory.available / 2, 256 * 1024)
    }

    /// "4M", "512K", "65536" → bytes.
    public static func parseSize(_ text: String) -> Int? { BootArguments.parseSize(text) }

    /// New connections the TCP table can take with the memory the image has (see TCPStack).
    public var connectionRoom: Int { lock.withLock { tcp.connectionRoom } }

    /// The connection-buffer budget (limit, bytes in use, peak, refused allocations).
    public var bufferMemory: NetworkMemory? { lock.withLock { tcp.configuration.memory } }

    /// The running stack, if `start` was called.
    public static var shared: NetworkStack<I>? {
        guard let pointer = sharedStackPointer else { return nil }
        return Unmanaged<NetworkStack<I>>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Finds the network device, configures the interface and starts the network thread. With DHCP it
    /// returns once a lease is bound (or throws `.noAddress` after `timeout` nanoseconds).
    public static func start(_ mode: NetworkMode = .automatic, tcp configuration: TCPConfiguration = TCPConfiguration(),
                             timeout: UInt64 = 10_000_000_000) throws(NetworkError) -> NetworkStack<I> {
        guard sharedStackPointer == nil else { throw .alreadyStarted }
        let mode = try mode.resolved(kernelParameters)
        guard let device = I.NetDevice() else { throw .noDevice }
        let stack = NetworkStack(device: device, mode: mode, tcpConfiguration: configuration)
        sharedStackPointer = Unmanaged.passRetained(stack).toOpaque()
        stack.interruptsEnabled = stack.interface.device.enableInterrupts(context: nil, I.networkInterruptHook)
        guard Thread<I>.spawn(name: "net", priority: .high, { stack.run() }) != nil else { throw .noThread }
        if stack.dhcp != nil {
            let bound = stack.lock.withLock { () -> Bool in
                let end = Clock.now() + timeout
                while stack.lease == nil {
                    let now = Clock.now()
                    if now >= end { return false }
                    stack.changed.wait(stack.lock, timeout: end - now)
                }
                return true
            }
            guard bound else { throw .noAddress }
        }
        I.networkStarted()
        I.startMetricsExporter()
        return stack
    }

    /// Called by the wiring's C hook from the device's interrupt handler.
    public static func deviceInterrupt() {
        shared?.wake.signal()
    }

    public var configuration: InterfaceConfiguration { lock.withLock { interface.configuration } }
    public var macAddress: MACAddress { lock.withLock { interface.macAddress } }
    public var interfaceStatistics: InterfaceStatistics { lock.withLock { interface.statistics } }
    public var tcpStatistics: TCPStatistics { lock.withLock { tcp.statistics } }
    public var deviceStatistics: NetDeviceStatistics { lock.withLock { interface.device.statistics } }
    public var tcpConnectionCounts: [(state: TCPState, count: Int)] { lock.withLock { tcp.connectionCounts } }
    public var orphanedConnections: Int { lock.withLock { tcp.orphanedConnections } }

    // MARK: The network thread

    func run() {
        while true {
            lock.lock()
            let now = Clock.now()
            let before = activity
            service(now: now)
            let deadline = nextWake(now: now)
            scheduledWake = deadline
            let changedSomething = activity != before
            lock.unlock()
            // Waiters re-check only when something they could wait for happened: a frame arrived, TCP
            // sent or timed something out (an idle stack wakes nobody).
            if changedSomething { changed.broadcast() }
            if deadline > now { _ = wake.wait(timeout: deadline - now) }
            lock.withLock { scheduledWake = 0 }
        }
    }

    /// A figure that moves whenever the stack did something a waiting thread might care about.
    var activity: Int {
        let statistics = tcp.statistics
        return interface.statistics.framesIn &+ statistics.segmentsOut &+ statistics.timeouts
            &+ statistics.connectionsTimedOut &+ statistics.keepAliveProbes &+ (lease == nil ? 0 : 1)
    }

    /// Receives, runs DHCP and timers, transmits. Holds `lock`.
    func service(now: UInt64) {
        let frames = interface.poll(now: now) { source, destination, segment in
            self.tcp.process(source: source, destination: destination, segment: segment, now: now)
        }
        moreFramesPending = frames >= 64
        if dhcp != nil { runDHCP(now: now) }
        flush(now: now)
    }

    /// Sends what TCP owes. Holds `lock`; also called by application threads after they queue data.
    func flush(now: UInt64) {
        tcp.poll(now: now) { remote, header, data in
            self.interface.sendIPv4(to: remote.address, protocol: .tcp, payloadLength: header.headerLength + data.count,
                                    now: now) { payload in
                UnsafeMutableRawBufferPointer(rebasing: payload[header.headerLength...]).copyMemory(from: data)
                header.emit(into: payload, source: self.tcp.localAddress, destination: remote.address)
            }
        }
        // A new timer earlier than the network thread's planned wake-up: wake it to re-plan.
        if let deadline = tcp.nextDeadline, scheduledWake != 0, deadline < scheduledWake { wake.signal() }
    }

    func nextWake(now: UInt64) -> UInt64 {
        if moreFramesPending { return now }
        // Without interrupts the device is polled every millisecond; ARP retries and DHCP need a
        // look at least every 100 ms.
        var deadline = now + (interruptsEnabled ? 100_000_000 : 1_000_000)
        if let tcpDeadline = tcp.nextDeadline { deadline = min(deadline, max(tcpDeadline, now)) }
        return deadline
    }

    func runDHCP(now: UInt64) {
        guard var client = dhcp else { return }
        if let message = client.messageDue(now: now) { broadcastDHCP(message, now: now) }
        while let datagram = interface.receiveUDP(port: DHCPClient.clientPort) {
            if let answer = datagram.payload.withUnsafeBytes({ client.handle($0, now: now) }) {
                broadcastDHCP(answer, now: now)
            }
        }
        if client.isBound, let lease = client.lease {
            self.lease = lease
            interface.configuration = lease.configuration
            tcp.localAddress = lease.address
            interface.unbindUDP(port: DHCPClient.clientPort)
            dhcp = nil
            changed.broadcast()
        } else {
            dhcp = client
        }
    }

    func broadcastDHCP(_ message: [UInt8], now: UInt64) {
        message.withUnsafeBytes {
            _ = interface.sendUDP(from: DHCPClient.clientPort, to: .broadcast, port: DHCPClient.serverPort, payload: $0, now: now)
        }
    }

    /// Waits under `lock` until `ready()` or the deadline (absolute ns, 0 = none). False on timeout.
    func waitLocked(deadline: UInt64, until ready: () -> Bool) -> Bool {
        while !ready() {
            if deadline == 0 {
                changed.wait(lock)
            } else {
                let now = Clock.now()
                if now >= deadline { return false }
                changed.wait(lock, timeout: deadline - now)
            }
        }
        return true
    }
}

extension NetworkError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .noDevice: return "no network device (select one: libraries: {net-device: virtio-net})"
        case .noAddress: return "no address (DHCP got no lease in time)"
        case .alreadyStarted: return "the network is already started"
        case .noThread: return "cannot start the network thread"
        case .badParameter(let text): return "bad kernel parameter \(text)"
        }
    }
}
