// HypercallHandler: decodes one hypercall, checks it, and performs it.
//
// The run loop hands over the port number and the 32-bit value the guest wrote. From there:
//   1. the port must name a known call and the access must be one 4-byte `outl` (else refused);
//   2. the argument struct is read through GuestMemory, which checks that the whole struct lies in guest
//      memory and is 8-byte aligned (and, for calls with outputs, that the guest may write it: not below
//      1 MiB, not in a read-only segment — a hypercall must not do what the guest's page tables forbid);
//   3. every buffer the struct names is checked the same way for its full length, against the call's
//      own bounds (console ≤ 64 KiB, a frame ≤ 14 + MTU, whole sectors inside the disk), and the device
//      must have been attached;
//   4. only then does the host do the I/O, straight between the device and guest memory, and the
//      outputs are written back.
// A refused call is a `HypercallRefusal`: the monitor ends the guest with its message. Device errors on
// the host side (a tap that went away) are not the guest's fault: they come back as `deviceError`.

#if canImport(Glibc)
import Glibc
#endif
import CKVM
import HypercallABI

public struct HypercallRefusal: Error, CustomStringConvertible {
    public let call: String
    public let reason: String
    public var description: String { "malformed hypercall \(call): \(reason)" }
    init(_ call: String, _ reason: String) {
        self.call = call
        self.reason = reason
    }
}

public enum HypercallOutcome: Equatable {
    case resume
    case halt(exitCode: UInt8)
}

public final class HypercallHandler {
    public let memory: GuestMemory
    let consoleDescriptor: Int32
    let tap: TapDevice?
    let disk: DiskFile?
    /// Counts per call, for the monitor's statistics.
    public private(set) var counts = [Int](repeating: 0, count: Hypercall.allCases.count)

    public init(memory: GuestMemory, consoleDescriptor: Int32 = 1, tap: TapDevice? = nil, disk: DiskFile? = nil) {
        self.memory = memory
        self.consoleDescriptor = consoleDescriptor
        self.tap = tap
        self.disk = disk
    }

    /// Handles an I/O exit on `port`. `size` is the access width, `isOut` its direction.
    public func handle(port: UInt16, size: UInt8, isOut: Bool, count: UInt32, value: UInt32) throws(HypercallRefusal)
        -> HypercallOutcome {
        let number = port &- HypercallABI.hypercallPortBase
        guard port >= HypercallABI.hypercallPortBase, let call = Hypercall(rawValue: number) else {
            throw HypercallRefusal("port \(hex(UInt64(port)))", "\(isOut ? "out" : "in") to a port outside the hypercall ABI")
        }
        let name = "\(call.name)"
        guard isOut, size == 4, count == 1 else {
            throw HypercallRefusal(name, "must be one 4-byte out (outl); got \(isOut ? "out" : "in") of \(size) bytes × \(count)")
        }
        counts[Int(number)] += 1
        let address = UInt64(value)
        do {
            switch call {
            case .consoleWrite: try consoleWrite(address)
            case .wallTime: try wallTime(address)
            case .poll: try poll(address, name: name)
            case .netWrite: try netWrite(address, name: name)
            case .netRead: try netRead(address, name: name)
            case .blockWrite: try block(address, write: true, name: name)
            case .blockRead: try block(address, write: false, name: name)
            case .halt:
                let arguments = try memory.load(HaltArguments.self, at: address)
                guard arguments.exitCode <= 255 else {
                    throw HypercallRefusal(name, "exit code \(arguments.exitCode) is over 255")
                }
                return .halt(exitCode: UInt8(arguments.exitCode))
            }
        } catch let problem as GuestAddressProblem {
            throw HypercallRefusal(name, "\(problem)")
        } catch let refusal as HypercallRefusal {
            throw refusal
        } catch {
            throw HypercallRefusal(name, "\(error)")
        }
        return .resume
    }

    func consoleWrite(_ address: UInt64) throws {
        let arguments = try memory.load(ConsoleWriteArguments.self, at: address)
        guard arguments.length <= ConsoleWriteArguments.maximumLength else {
            throw GuestAddressProblem.tooLong(length: arguments.length, maximum: ConsoleWriteArguments.maximumLength)
        }
        // A console that is gone drops the output; the guest keeps running.
        writeAll(consoleDescriptor, UnsafeRawBufferPointer(try memory.bytes(at: arguments.data, length: arguments.length)))
    }

    func wallTime(_ address: UInt64) throws {
        var arguments = try memory.load(WallTimeArguments.self, at: address)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        arguments.nanoseconds = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        try memory.store(arguments, at: address)
    }

    func poll(_ address: UInt64, name: String) throws {
        var arguments = try memory.load(PollArguments.self, at: address)
        if arguments.timeout == UInt64.max && tap == nil {
            throw HypercallRefusal(name, "waits forever with no device that could wake it")
        }
        var wait = timespec()
        let timeout = min(arguments.timeout, 3_600_000_000_000)
        wait.tv_sec = Int(timeout / 1_000_000_000)
        wait.tv_nsec = Int(timeout % 1_000_000_000)
        var ready: UInt64 = 0
        if let tap {
            var entry = pollfd(fd: tap.descriptor, events: Int16(POLLIN), revents: 0)
            let result = arguments.timeout == UInt64.max ? ckvm_ppoll(&entry, 1, nil) : ckvm_ppoll(&entry, 1, &wait)
            if result > 0 && entry.revents & Int16(POLLIN) != 0 { ready |= PollArguments.netReady }
            if result > 0 && entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && ready == 0 && timeout > 0 {
                // The tap went away (deleted interface): wait out the timeout instead of returning at
                // once, or the guest's idle loop would spin on a device that never becomes readable.
                sleep(wait)
            }
        } else if timeout > 0 {
            sleep(wait)
        }
        arguments.ready = ready
        try memory.store(arguments, at: address)
    }

    func netWrite(_ address: UInt64, name: String) throws {
        var arguments = try memory.load(NetWriteArguments.self, at: address)
        guard let tap else { throw HypercallRefusal(name, "no network device is attached") }
        guard arguments.length >= 14, arguments.length <= 14 + tap.mtu else {
            throw HypercallRefusal(name, "frame length \(arguments.length) is outside 14 ... \(14 + tap.mtu)")
        }
        let frame = try memory.bytes(at: arguments.data, length: arguments.length)
        let written = write(tap.descriptor, frame.baseAddress, frame.count)
        arguments.result = written == frame.count ? HypercallResult.ok : HypercallResult.deviceError
        try memory.store(arguments, at: address)
    }

    func netRead(_ address: UInt64, name: String) throws {
        var arguments = try memory.load(NetReadArguments.self, at: address)
        guard let tap else { throw HypercallRefusal(name, "no network device is attached") }
        guard arguments.capacity >= 14 + tap.mtu, arguments.capacity <= 65536 else {
            throw HypercallRefusal(name, "buffer of \(arguments.capacity) bytes; it must hold \(14 + tap.mtu) ... 65536")
        }
        let buffer = try memory.writableBytes(at: arguments.data, length: arguments.capacity)
        let received = read(tap.descriptor, buffer.baseAddress, buffer.count)
        if received > 0 {
            arguments.length = UInt64(received)
            arguments.result = HypercallResult.ok
            var entry = pollfd(fd: tap.descriptor, events: Int16(POLLIN), revents: 0)
            var now = timespec()
            arguments.more = ckvm_ppoll(&entry, 1, &now) > 0 && entry.revents & Int16(POLLIN) != 0 ? 1 : 0
        } else {
            arguments.more = 0
            arguments.length = 0
            arguments.result = received < 0 && (errno == EAGAIN || errno == EINTR) ? HypercallResult.again
                                                                                 : HypercallResult.deviceError
        }
        try memory.store(arguments, at: address)
    }

    func block(_ address: UInt64, write isWrite: Bool, name: String) throws {
        var arguments = try memory.load(BlockArguments.self, at: address)
        guard let disk else { throw HypercallRefusal(name, "no block device is attached") }
        guard arguments.count >= 1, arguments.count <= BlockArguments.maximumCount else {
            throw HypercallRefusal(name, "sector count \(arguments.count) is outside 1 ... \(BlockArguments.maximumCount)")
        }
        let (end, overflow) = arguments.sector.addingReportingOverflow(arguments.count)
        guard !overflow, end <= disk.sectorCount else {
            throw HypercallRefusal(name, "sectors \(arguments.sector) + \(arguments.count) are past the disk's \(disk.sectorCount)")
        }
        let length = arguments.count * DiskFile.sectorSize
        let buffer = isWrite ? try memory.bytes(at: arguments.data, length: length)
                             : try memory.writableBytes(at: arguments.data, length: length)
        let offset = off_t(arguments.sector * DiskFile.sectorSize)
        var done = 0
        while done < buffer.count {
            let result = isWrite ? pwrite(disk.descriptor, buffer.baseAddress! + done, buffer.count - done, offset + off_t(done))
                                 : pread(disk.descriptor, buffer.baseAddress! + done, buffer.count - done, offset + off_t(done))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { break }
            done += result
        }
        arguments.result = done == buffer.count ? HypercallResult.ok : HypercallResult.deviceError
        try memory.store(arguments, at: address)
    }
}
