// ServerHarness: boots a serving image in the background with forwarded ports, and talks to it from
// the host — with real clients (curl, wrk) run as processes, and with a raw TCP client for requests no
// well-behaved client would send.

import Foundation
import Glibc
import Testing
import TesseraKit

/// An image running in the background until `stop`.
final class RunningImage: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []
    private var pid: Int32 = 0
    private(set) var result: RunResult?
    private var finished = DispatchSemaphore(value: 0)
    private(set) var hostPort: UInt16 = 0
    /// Host ports for the extra guest ports forwarded (`alsoForward`).
    private(set) var extraPorts: [UInt16: UInt16] = [:]

    var lines: [String] { lock.withLock { collected } }

    /// Boots `product` with a free host port forwarded to `guestPort` and waits (up to 60 s) for a
    /// console line starting with `ready`. A VM that exits before printing anything (QEMU could not
    /// bind a host port another process took in the meantime) is started again, up to three times.
    init(_ product: BuildProduct, guestPort: UInt16, ready: String, arguments: [String] = [],
         memory: UInt64? = nil, tap: String? = nil, kernelParameters: [String] = [],
         alsoForward: [UInt16] = [], volumes: [VolumeSpec] = []) throws {
        for attempt in 1...3 {
            hostPort = Self.freePort()
            extraPorts = [:]
            for guest in alsoForward { extraPorts[guest] = Self.freePort() }
            lock.withLock { collected = []; result = nil; pid = 0 }
            finished = DispatchSemaphore(value: 0)
            let readySignal = DispatchSemaphore(value: 0)
            var options = RunOptions(image: product.image, debugImage: product.debugImage, machine: .microvm,
                                     memoryBytes: memory ?? product.resolved.manifest.memory, arguments: arguments)
            options.userNetwork = true
            if let tap {
                options.tapDevice = tap
            } else {
                options.portForwards = [PortForward(hostPort: hostPort, guestPort: guestPort)]
                    + extraPorts.map { PortForward(hostPort: $0.value, guestPort: $0.key) }
            }
            options.kernelParameters = product.resolved.manifest.parameters + kernelParameters + volumes.map(\.kernelParameter)
            options.volumes = volumes
            options.consoleSink = { [self] line in
                lock.withLock { collected.append(line) }
                if line.hasPrefix(ready) { readySignal.signal() }
            }
            options.onStart = { [self] pid in lock.withLock { self.pid = pid } }
            final class Box: @unchecked Sendable { let options: RunOptions; init(_ options: RunOptions) { self.options = options } }
            let box = Box(options)
            let done = finished
            DispatchQueue.global().async { [self] in
                let outcome = try? QEMURunner.run(box.options) { _ in }
                lock.withLock { result = outcome }
                done.signal()
                readySignal.signal()
            }
            let signalled = readySignal.wait(timeout: .now() + 60) == .success
            if signalled && lock.withLock({ result == nil }) { return }
            if signalled && attempt < 3 && lines.isEmpty { continue }
            stop()
            throw ToolError("the image did not become ready; console:\n" + lines.joined(separator: "\n"))
        }
    }

    /// Stops QEMU (SIGTERM) and waits for it.
    @discardableResult
    func stop() -> RunResult? {
        if let result = lock.withLock({ result }) { return result }
        let pid = lock.withLock { self.pid }
        if pid > 0 { kill(pid, SIGTERM) }
        return waitForExit()
    }

    /// Kills QEMU with SIGKILL (a VM that dies mid-work) and waits for it.
    @discardableResult
    func kill9() -> RunResult? {
        let pid = lock.withLock { self.pid }
        if pid > 0 { kill(pid, SIGKILL) }
        return waitForExit()
    }

    /// Waits for the image to exit by itself.
    func waitForExit(timeout: Double = 30) -> RunResult? {
        if let result = lock.withLock({ result }) { return result }
        guard finished.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { result }
    }

    /// A port nobody uses now (the kernel picks it; we release it for QEMU to take).
    static func freePort(udp: Bool = false) -> UInt16 {
        let (socket, port) = boundLoopbackSocket(udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue))
        close(socket)
        return port
    }
}

/// A socket of `type` bound to 127.0.0.1 on a port the kernel picks: the socket and its port.
func boundLoopbackSocket(_ type: Int32) -> (socket: Int32, port: UInt16) {
    let socket = Glibc.socket(AF_INET, type, 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(socket, pointer, length)
            return getsockname(socket, pointer, &length)
        }
    }
    return (socket, UInt16(bigEndian: address.sin_port))
}

/// A UDP client of 127.0.0.1:`port` (a port QEMU forwards to the guest).
struct UDPClient {
    let socket: Int32
    var address = sockaddr_in()

    init(port: UInt16, timeoutSeconds: Int = 5) {
        socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
    }

    func send(_ text: String) {
        var bytes = Array(text.utf8)
        var target = address
        _ = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, &bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// One datagram as text, or "" after the timeout.
    func receive() -> String {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let count = recv(socket, &buffer, buffer.count, 0)
        return String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
    }

    func close() { Glibc.close(socket) }
}

/// Runs a host program; returns its exit status and standard output.
func runHostTool(_ arguments: [String], timeout: Double = 120) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    final class Collected: @unchecked Sendable { var data = Data() }
    let collected = Collected()
    let handle = output.fileHandleForReading
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        collected.data = handle.readDataToEndOfFile()
        done.signal()
    }
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { process.terminate() }
    _ = done.wait(timeout: .now() + 10)
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: collected.data, as: UTF8.self))
}

/// Whether a host tool is installed (tests that need it say which package installs it).
func hostToolExists(_ name: String) -> Bool {
    (try? runHostTool(["sh", "-c", "command -v \(name)"]))?.status == 0
}

/// A raw TCP client to 127.0.0.1: sends exactly the bytes given, reads what comes back.
struct RawClient {
    let socket: Int32

    init(port: UInt16, timeoutSeconds: Int = 10) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            Glibc.close(socket)
            throw ToolError("connect to port \(port) failed: errno \(errno)")
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Reads until the peer closes, `limit` bytes arrived, `until` matches, or the timeout passes.
    func receive(limit: Int = 1 << 24, until done: (([UInt8]) -> Bool)? = nil) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < limit {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
            if let done, done(received) { break }
        }
        return received
    }

    func shutdownWrite() { shutdown(socket, Int32(SHUT_WR)) }
    func close() { Glibc.close(socket) }
}

extension Array where Element == UInt8 {
    /// How many times `needle` occurs.
    func occurrences(of needle: String) -> Int {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, count >= pattern.count else { return 0 }
        var found = 0
        var index = 0
        while index <= count - pattern.count {
            if self[index..<(index + pattern.count)].elementsEqual(pattern) {
                found += 1
                index += pattern.count
            } else {
                index += 1
            }
        }
        return found
    }
}

/// A host tap device with the host at SUBNET.1/24; the guest takes SUBNET.2 (static configuration
/// through `kernelParameters`). Needs root and /dev/net/tun. Names and subnets differ per test (`tag`,
/// `octet`) and per test process, so a leftover device from a killed run is replaced, not reused.
struct HostTap {
    let name: String
    let subnet: String

    init(tag: String, octet: Int) throws {
        precondition((1...155).contains(octet), "octet + (pid % 100) must stay a valid address byte")
        name = "tsr\(tag)\(getpid() % 100_000)"
        subnet = "10.\(octet + Int(getpid() % 100)).\(getpid() % 250)"
        _ = try runHostTool(["ip", "link", "delete", name])
        let setup = try runHostTool(["sh", "-c", "ip tuntap add dev \(name) mode tap && ip addr add \(subnet).1/24 dev \(name) && ip link set \(name) up"])
        #expect(setup.status == 0, "\(setup.output)")
    }

    var guestAddress: String { "\(subnet).2" }
    var kernelParameters: [String] { ["ip=\(subnet).2/24", "gateway=\(subnet).1"] }

    func remove() { _ = try? runHostTool(["ip", "link", "delete", name]) }
}
