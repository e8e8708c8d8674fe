// Tests of HypercallHandler: each test writes a call's argument struct into host-backed guest memory and
// hands the handler the I/O exit a guest's `outl` would cause. Console output goes to a pipe, the block
// device is a temporary file; there is no tap device here, so only the no-tap refusals are covered.

#if canImport(Glibc)
import Glibc
#endif
import HypercallABI
import Testing
@testable import KVMMonitor

// MARK: - Guest RAM, console pipe, disk file

/// 256 KiB of guest RAM backed by host memory, filled with a pattern so that stray writes show.
private final class Guest {
    static let size: UInt64 = 0x4_0000
    let base: UnsafeMutableRawPointer
    let memory: GuestMemory

    init(size: UInt64 = Guest.size) {
        base = UnsafeMutableRawPointer.allocate(byteCount: Int(size), alignment: 4096)
        for offset in 0..<Int(size) { base.storeBytes(of: UInt8(truncatingIfNeeded: offset &* 7 &+ 0x5A), toByteOffset: offset, as: UInt8.self) }
        memory = GuestMemory(base: base, size: size)
    }

    deinit { base.deallocate() }

    var snapshot: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: Int(memory.size))) }

    /// The first offset whose byte differs from `snapshot`, or nil when memory is unchanged.
    func changedOffset(since snapshot: [UInt8]) -> Int? {
        let now = self.snapshot
        return now.indices.first { now[$0] != snapshot[$0] }
    }

    func put(_ bytes: [UInt8], at address: UInt64) {
        bytes.withUnsafeBytes { (base + Int(address)).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    func bytes(at address: UInt64, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: base + Int(address), count: count))
    }

    func fill(_ value: UInt8, at address: UInt64, count: Int) {
        (base + Int(address)).initializeMemory(as: UInt8.self, repeating: value, count: count)
    }
}

/// A pipe standing in for the console: the handler writes to `writeEnd`, the test drains `readEnd`.
private final class ConsolePipe {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        try #require(pipe(&descriptors) == 0)
        readEnd = descriptors[0]
        writeEnd = descriptors[1]
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Everything written so far.
    func drain() -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            result += chunk[..<count]
        }
        return result
    }
}

/// A temporary file; removed when the test is done with it.
private final class TemporaryFile {
    let path: String

    init(contents: [UInt8]) throws {
        var template = Array("/tmp/tessera-kvm-test-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(descriptor >= 0)
        path = String(cString: template)
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        try #require(written == contents.count)
    }

    deinit { unlink(path) }

    var contents: [UInt8] {
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            result += chunk[..<count]
        }
        return result
    }
}

/// The disk's original bytes: 16 sectors, each byte distinct from its neighbours and from guest memory.
private let diskSectors = 16
private func diskPattern() -> [UInt8] { (0..<(diskSectors * 512)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 / 512) } }

// MARK: - Calling

/// The I/O exit of `outl %eax, $(0x500 + call)` with %eax = `address`.
private func call(_ handler: HypercallHandler, _ call: Hypercall, _ address: UInt64) throws(HypercallRefusal) -> HypercallOutcome {
    try handler.handle(port: HypercallABI.hypercallPortBase + call.rawValue, size: 4, isOut: true, count: 1,
                       value: UInt32(address))
}

/// The refusal's message, or nil when the call was accepted.
private func refusal(_ body: () throws(HypercallRefusal) -> HypercallOutcome) -> String? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.description
    }
}

private func realtimeNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

private func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

private let argumentsAddress: UInt64 = 0x1000
private let dataAddress: UInt64 = 0x8000
private let sentinel: UInt64 = 0xDEAD_BEEF_0BAD_F00D

// MARK: - Tests

@Suite struct HypercallHandlerTests {
    // MARK: Console, wall time, poll, halt

    @Test func consoleWriteArrivesByteExact() throws {
        let guest = Guest(), console = try ConsolePipe()
        let handler = HypercallHandler(memory: guest.memory, consoleDescriptor: console.writeEnd)
        let text = (0...255).map { UInt8($0) } + Array("hello, world\n".utf8)
        guest.put(text, at: dataAddress)
        var arguments = ConsoleWriteArguments()
        arguments.data = dataAddress
        arguments.length = UInt64(text.count)
        try guest.memory.store(arguments, at: argumentsAddress)
        #expect(try call(handler, .consoleWrite, argumentsAddress) == .resume)
        #expect(console.drain() == text)
        // A second call appends; a zero-length call (even at the very end of memory) writes nothing.
        arguments.length = 5
        try guest.memory.store(arguments, at: argumentsAddress)
        #expect(try call(handler, .consoleWrite, argumentsAddress) == .resume)
        arguments.data = Guest.size
        arguments.length = 0
        try guest.memory.store(arguments, at: argumentsAddress)
        #expect(try call(handler, .consoleWrite, argumentsAddress) == .resume)
        #expect(console.drain() == Array(text[..<5]))
        #expect(handler.counts[Int(Hypercall.consoleWrite.rawValue)] == 3)
    }

    @Test func consoleWriteOfExactly64KiBIsAccepted() throws {
        // A file rather than the pipe: a pipe may hold less than 64 KiB.
        let output = try TemporaryFile(contents: [])
        let descriptor = open(output.path, O_WRONLY | O_APPEND)
        defer { close(descriptor) }
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory, consoleDescriptor: descriptor)
        var arguments = ConsoleWriteArguments()
        arguments.data = 0x1_0000
        arguments.length = ConsoleWriteArguments.maximumLength
        try guest.memory.store(arguments, at: argumentsAddress)
        #expect(try call(handler, .consoleWrite, argumentsAddress) == .resume)
        #expect(output.contents == guest.bytes(at: 0x1_0000, count: 65536))
    }

    @Test func wallTimeIsWithinASecondOfTheHostClock() throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var arguments = WallTimeArguments()
        arguments.nanoseconds = sentinel
        try guest.memory.store(arguments, at: argumentsAddress)
        let before = realtimeNanoseconds()
        #expect(try call(handler, .wallTime, argumentsAddress) == .resume)
        let reported = try guest.memory.load(WallTimeArguments.self, at: argumentsAddress).nanoseconds
        #expect(reported >= before - 1_000_000_000 && reported <= realtimeNanoseconds() + 1_000_000_000)
        #expect(reported > 1_600_000_000 * 1_000_000_000)     // after 2020: real time, not monotonic
    }

    @Test func pollWithoutTimeoutAndWithoutDevicesReturnsAtOnceWithNothingReady() throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var arguments = PollArguments()
        arguments.timeout = 0
        arguments.ready = sentinel
        try guest.memory.store(arguments, at: argumentsAddress)
        let start = monotonicNanoseconds()
        #expect(try call(handler, .poll, argumentsAddress) == .resume)
        #expect(monotonicNanoseconds() - start < 200_000_000)
        let after = try guest.memory.load(PollArguments.self, at: argumentsAddress)
        #expect(after.ready == 0)
        #expect(after.timeout == 0)
    }

    @Test func pollWithATimeoutAndWithoutDevicesSleepsThatLong() throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var arguments = PollArguments()
        arguments.timeout = 30_000_000
        arguments.ready = sentinel
        try guest.memory.store(arguments, at: argumentsAddress)
        let start = monotonicNanoseconds()
        #expect(try call(handler, .poll, argumentsAddress) == .resume)
        #expect(monotonicNanoseconds() - start >= 30_000_000)
        #expect(try guest.memory.load(PollArguments.self, at: argumentsAddress).ready == 0)
    }

    @Test(arguments: [UInt64(0), 3, 255])
    func haltReturnsTheExitCode(code: UInt64) throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var arguments = HaltArguments()
        arguments.exitCode = code
        try guest.memory.store(arguments, at: argumentsAddress)
        #expect(try call(handler, .halt, argumentsAddress) == .halt(exitCode: UInt8(code)))
    }

    // MARK: Refusals of the access itself

    @Test(arguments: [(UInt16(0x3F8), true, "port 0x3f8: out to"), (0x508, true, "port 0x508: out to"),
                      (0x4FF, true, "port 0x4ff: out to"), (0x3F8, false, "port 0x3f8: in to"),
                      (0xFFFF, true, "port 0xffff: out to"), (0, true, "port 0x0: out to")])
    func portsOutsideTheABIAreRefused(port: UInt16, isOut: Bool, named: String) {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        #expect(refusal { () throws(HypercallRefusal) in
            try handler.handle(port: port, size: 4, isOut: isOut, count: 1, value: UInt32(argumentsAddress))
        } == "malformed hypercall \(named) a port outside the hypercall ABI")
    }

    @Test func anInInsteadOfAnOutIsRefused() {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        #expect(refusal { () throws(HypercallRefusal) in
            try handler.handle(port: 0x500, size: 4, isOut: false, count: 1, value: UInt32(argumentsAddress))
        } == "malformed hypercall console-write: must be one 4-byte out (outl); got in of 4 bytes × 1")
    }

    @Test(arguments: [UInt8(1), 2])
    func narrowAccessesAreRefused(size: UInt8) {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        #expect(refusal { () throws(HypercallRefusal) in
            try handler.handle(port: 0x507, size: size, isOut: true, count: 1, value: UInt32(argumentsAddress))
        } == "malformed hypercall halt: must be one 4-byte out (outl); got out of \(size) bytes × 1")
    }

    @Test(arguments: [UInt32(0), 2, 16])
    func repeatedAccessesAreRefused(count: UInt32) {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        #expect(refusal { () throws(HypercallRefusal) in
            try handler.handle(port: 0x501, size: 4, isOut: true, count: count, value: UInt32(argumentsAddress))
        } == "malformed hypercall wall-time: must be one 4-byte out (outl); got out of 4 bytes × \(count)")
    }

    // MARK: Refusals of the argument struct
    //
    // The struct's address is the 32-bit %eax, so it cannot lie above 4 GiB and `address + size` cannot
    // wrap; what remains is lying outside (or partly outside) guest memory, and alignment.

    @Test func argumentStructOutsideMemoryIsRefused() {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .consoleWrite, Guest.size) }
                == "malformed hypercall console-write: 0x40000 + 16 bytes is outside guest memory (262144 bytes)")
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .wallTime, 0xFFFF_FFF8) }
                == "malformed hypercall wall-time: 0xfffffff8 + 8 bytes is outside guest memory (262144 bytes)")
    }

    @Test func argumentStructStraddlingTheEndOfMemoryIsRefused() {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .consoleWrite, Guest.size - 8) }
                == "malformed hypercall console-write: 0x3fff8 + 16 bytes is outside guest memory (262144 bytes)")
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .blockRead, Guest.size - 24) }
                == "malformed hypercall block-read: 0x3ffe8 + 32 bytes is outside guest memory (262144 bytes)")
        // The last 8 bytes hold a whole wall-time struct.
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .wallTime, Guest.size - 8) } == nil)
    }

    @Test(arguments: [UInt64(0x1001), 0x1004, 0x1007])
    func misalignedArgumentStructIsRefused(address: UInt64) {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .wallTime, address) }
                == "malformed hypercall wall-time: 0x\(String(address, radix: 16)) is not 8-byte aligned")
    }

    // MARK: Refusals of console buffers

    private func consoleRefusal(data: UInt64, length: UInt64) throws -> (String?, [UInt8]) {
        let guest = Guest(), console = try ConsolePipe()
        let handler = HypercallHandler(memory: guest.memory, consoleDescriptor: console.writeEnd)
        var arguments = ConsoleWriteArguments()
        arguments.data = data
        arguments.length = length
        try guest.memory.store(arguments, at: argumentsAddress)
        let message = refusal { () throws(HypercallRefusal) in try call(handler, .consoleWrite, argumentsAddress) }
        return (message, console.drain())
    }

    @Test func consoleDataOutsideMemoryIsRefused() throws {
        let (message, output) = try consoleRefusal(data: Guest.size - 16, length: 32)
        #expect(message == "malformed hypercall console-write: 0x3fff0 + 32 bytes is outside guest memory (262144 bytes)")
        #expect(output.isEmpty)
        let (beyond, _) = try consoleRefusal(data: Guest.size + 1, length: 0)
        #expect(beyond == "malformed hypercall console-write: 0x40001 + 0 bytes is outside guest memory (262144 bytes)")
        let (far, _) = try consoleRefusal(data: 1 << 40, length: 1)
        #expect(far == "malformed hypercall console-write: 0x10000000000 + 1 bytes is outside guest memory (262144 bytes)")
    }

    @Test func consoleDataThatWrapsIsRefused() throws {
        let (message, output) = try consoleRefusal(data: UInt64.max - 15, length: 32)
        #expect(message == "malformed hypercall console-write: 0xfffffffffffffff0 + 32 bytes wraps around the address space")
        #expect(output.isEmpty)
    }

    @Test func consoleDataOver64KiBIsRefused() throws {
        let (message, output) = try consoleRefusal(data: 0x1_0000, length: 65537)
        #expect(message == "malformed hypercall console-write: length 65537 is over the limit of 65536 bytes")
        #expect(output.isEmpty)
        let (huge, _) = try consoleRefusal(data: 0x1_0000, length: UInt64.max)
        #expect(huge == "malformed hypercall console-write: length 18446744073709551615 is over the limit of 65536 bytes")
    }

    // MARK: Refusals of halt, poll and calls for devices the guest was not given

    @Test(arguments: [UInt64(256), 0x1_0000_0000, UInt64.max])
    func haltWithAnExitCodeOver255IsRefused(code: UInt64) throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var arguments = HaltArguments()
        arguments.exitCode = code
        try guest.memory.store(arguments, at: argumentsAddress)
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .halt, argumentsAddress) }
                == "malformed hypercall halt: exit code \(code) is over 255")
    }

    @Test func pollForeverWithoutDevicesIsRefused() throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var arguments = PollArguments()
        arguments.timeout = UInt64.max
        arguments.ready = sentinel
        try guest.memory.store(arguments, at: argumentsAddress)
        let before = guest.snapshot
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .poll, argumentsAddress) }
                == "malformed hypercall poll: waits forever with no device that could wake it")
        #expect(guest.changedOffset(since: before) == nil)
    }

    @Test func netCallsWithoutATapAreRefused() throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var write = NetWriteArguments()
        write.data = dataAddress
        write.length = 60
        write.result = sentinel
        try guest.memory.store(write, at: argumentsAddress)
        var read = NetReadArguments()
        read.data = dataAddress
        read.capacity = 1514
        read.length = sentinel
        read.result = sentinel
        try guest.memory.store(read, at: argumentsAddress + 0x100)
        let before = guest.snapshot
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .netWrite, argumentsAddress) }
                == "malformed hypercall net-write: no network device is attached")
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .netRead, argumentsAddress + 0x100) }
                == "malformed hypercall net-read: no network device is attached")
        #expect(guest.changedOffset(since: before) == nil)
    }

    @Test func blockCallsWithoutADiskAreRefused() throws {
        let guest = Guest()
        let handler = HypercallHandler(memory: guest.memory)
        var arguments = BlockArguments()
        arguments.sector = 0
        arguments.count = 1
        arguments.data = dataAddress
        arguments.result = sentinel
        try guest.memory.store(arguments, at: argumentsAddress)
        let before = guest.snapshot
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .blockWrite, argumentsAddress) }
                == "malformed hypercall block-write: no block device is attached")
        #expect(refusal { () throws(HypercallRefusal) in try call(handler, .blockRead, argumentsAddress) }
                == "malformed hypercall block-read: no block device is attached")
        #expect(guest.changedOffset(since: before) == nil)
    }

    // MARK: Block device

    /// A handler with a 16-sector disk, the guest, and the disk file.
    private func withDisk(protecting readOnly: [Range<UInt64>] = [],
                          _ body: (HypercallHandler, Guest, TemporaryFile) throws -> Void) throws {
        let file = try TemporaryFile(contents: diskPattern())
        let disk = try DiskFile(path: file.path)
        #expect(disk.sectorCount == UInt64(diskSectors))
        let guest = Guest()
        try body(HypercallHandler(memory: guest.memory.protecting(readOnly), disk: disk), guest, file)
    }

    private func blockArguments(_ guest: Guest, sector: UInt64, count: UInt64, data: UInt64 = dataAddress) throws {
        var arguments = BlockArguments()
        arguments.sector = sector
        arguments.count = count
        arguments.data = data
        arguments.result = sentinel
        try guest.memory.store(arguments, at: argumentsAddress)
    }

    @Test func blockWriteThenReadRoundTripsThroughGuestMemory() throws {
        try withDisk { handler, guest, file in
            let written = (0..<1024).map { UInt8(truncatingIfNeeded: 0xC3 &+ $0 &* 5) }
            guest.put(written, at: dataAddress)
            try blockArguments(guest, sector: 3, count: 2)
            #expect(try call(handler, .blockWrite, argumentsAddress) == .resume)
            var result = try guest.memory.load(BlockArguments.self, at: argumentsAddress)
            #expect(result.result == HypercallResult.ok)
            #expect(result.sector == 3 && result.count == 2 && result.data == dataAddress)   // inputs untouched

            // The file changed exactly in sectors 3 and 4.
            var expected = diskPattern()
            expected.replaceSubrange(3 * 512..<5 * 512, with: written)
            #expect(file.contents == expected)

            guest.fill(0, at: dataAddress, count: 2048)
            try blockArguments(guest, sector: 3, count: 2)
            #expect(try call(handler, .blockRead, argumentsAddress) == .resume)
            result = try guest.memory.load(BlockArguments.self, at: argumentsAddress)
            #expect(result.result == HypercallResult.ok)
            #expect(guest.bytes(at: dataAddress, count: 1024) == written)
            #expect(guest.bytes(at: dataAddress + 1024, count: 1024) == [UInt8](repeating: 0, count: 1024))   // no more than asked
        }
    }

    @Test func blockReadOfTheLastSectorAndOfTheWholeDiskWork() throws {
        try withDisk { handler, guest, _ in
            try blockArguments(guest, sector: 15, count: 1)
            #expect(try call(handler, .blockRead, argumentsAddress) == .resume)
            #expect(try guest.memory.load(BlockArguments.self, at: argumentsAddress).result == HypercallResult.ok)
            #expect(guest.bytes(at: dataAddress, count: 512) == Array(diskPattern()[15 * 512..<16 * 512]))

            try blockArguments(guest, sector: 0, count: 16)
            #expect(try call(handler, .blockRead, argumentsAddress) == .resume)
            #expect(guest.bytes(at: dataAddress, count: 16 * 512) == diskPattern())
        }
    }

    @Test(arguments: [(UInt64(15), UInt64(2), "sectors 15 + 2 are past the disk's 16"),
                      (16, 1, "sectors 16 + 1 are past the disk's 16"),
                      (0, 256, "sectors 0 + 256 are past the disk's 16"),
                      (UInt64.max, 1, "sectors 18446744073709551615 + 1 are past the disk's 16"),
                      (UInt64.max - 1, 2, "sectors 18446744073709551614 + 2 are past the disk's 16"),
                      (0, 0, "sector count 0 is outside 1 ... 256"),
                      (0, 257, "sector count 257 is outside 1 ... 256"),
                      (0, UInt64.max, "sector count 18446744073709551615 is outside 1 ... 256")])
    func blockRangesOutsideTheDiskOrTheCountLimitsAreRefused(sector: UInt64, count: UInt64, reason: String) throws {
        try withDisk { handler, guest, file in
            for call: Hypercall in [.blockRead, .blockWrite] {
                try blockArguments(guest, sector: sector, count: count)
                let before = guest.snapshot
                #expect(refusal { () throws(HypercallRefusal) in try KVMMonitorTests_call(handler, call, argumentsAddress) }
                        == "malformed hypercall \(call.name): \(reason)")
                #expect(guest.changedOffset(since: before) == nil)
            }
            #expect(file.contents == diskPattern())
        }
    }

    @Test func blockBuffersPassingTheEndOfGuestMemoryAreRefused() throws {
        try withDisk { handler, guest, file in
            for call: Hypercall in [.blockRead, .blockWrite] {
                try blockArguments(guest, sector: 0, count: 2, data: Guest.size - 512)
                let before = guest.snapshot
                #expect(refusal { () throws(HypercallRefusal) in try KVMMonitorTests_call(handler, call, argumentsAddress) }
                        == "malformed hypercall \(call.name): 0x3fe00 + 1024 bytes is outside guest memory (262144 bytes)")
                #expect(guest.changedOffset(since: before) == nil)

                try blockArguments(guest, sector: 0, count: 1, data: UInt64.max - 255)
                let beforeWrapping = guest.snapshot
                #expect(refusal { () throws(HypercallRefusal) in try KVMMonitorTests_call(handler, call, argumentsAddress) }
                        == "malformed hypercall \(call.name): 0xffffffffffffff00 + 512 bytes wraps around the address space")
                #expect(guest.changedOffset(since: beforeWrapping) == nil)
            }
            #expect(file.contents == diskPattern())
            // The last 512 bytes of memory are a valid buffer.
            try blockArguments(guest, sector: 7, count: 1, data: Guest.size - 512)
            #expect(try call(handler, .blockRead, argumentsAddress) == .resume)
            #expect(guest.bytes(at: Guest.size - 512, count: 512) == Array(diskPattern()[7 * 512..<8 * 512]))
        }
    }

    @Test func aDiskThatShrankUnderTheMonitorReportsAMonitorError() throws {
        try withDisk { handler, guest, file in
            #expect(truncate(file.path, 8 * 512) == 0)
            try blockArguments(guest, sector: 10, count: 1)
            #expect(try call(handler, .blockRead, argumentsAddress) == .resume)     // not the guest's fault
            #expect(try guest.memory.load(BlockArguments.self, at: argumentsAddress).result == HypercallResult.deviceError)
        }
    }

    @Test func aDiskFileThatIsNotWholeSectorsIsRefused() throws {
        let file = try TemporaryFile(contents: [UInt8](repeating: 1, count: 1000))
        #expect(throws: MonitorError.self) { try DiskFile(path: file.path) }
        let empty = try TemporaryFile(contents: [])
        #expect(throws: MonitorError.self) { try DiskFile(path: empty.path) }
    }

    @Test func aDiskFileIsLockedAgainstASecondMonitor() throws {
        let file = try TemporaryFile(contents: diskPattern())
        let first = try DiskFile(path: file.path)
        do {
            _ = try DiskFile(path: file.path)
            Issue.record("a second DiskFile on the same file was accepted")
        } catch {
            #expect(error.description.contains("busy"))
        }
        _ = first
    }

    // MARK: Refused calls write nothing

    @Test func refusedCallsLeaveGuestMemoryUnchanged() throws {
        try withDisk { handler, guest, _ in
            var cases: [(Hypercall, () throws -> Void)] = []
            cases.append((.blockRead, { try blockArguments(guest, sector: 15, count: 2) }))
            cases.append((.blockRead, { try blockArguments(guest, sector: 0, count: 16, data: Guest.size - 0x1000) }))
            cases.append((.netRead, {
                var read = NetReadArguments()
                read.data = dataAddress
                read.capacity = 2048
                read.length = sentinel
                read.result = sentinel
                try guest.memory.store(read, at: argumentsAddress)
            }))
            cases.append((.halt, {
                var halt = HaltArguments()
                halt.exitCode = 1000
                try guest.memory.store(halt, at: argumentsAddress)
            }))
            cases.append((.poll, {
                var poll = PollArguments()
                poll.timeout = UInt64.max
                poll.ready = sentinel
                try guest.memory.store(poll, at: argumentsAddress)
            }))
            for (hypercall, prepare) in cases {
                try prepare()
                let before = guest.snapshot
                #expect(refusal { () throws(HypercallRefusal) in try call(handler, hypercall, argumentsAddress) } != nil)
                #expect(guest.changedOffset(since: before) == nil, "\(hypercall.name) changed guest memory")
            }
        }
    }

    // MARK: Writes the guest's own page tables forbid

    /// The ABI makes everything below 1 MiB read-only to the guest (boot info, GDT, TSS, page tables),
    /// and so are the image's read-only segments. A hypercall must not do what the guest cannot: a
    /// block-read (or net-read, or any call's `out` fields) aimed at the PML4 would otherwise rewrite it
    /// from data the guest chose (block-written first from a writable page). The monitor passes
    /// `ELFImage.readOnlyRanges`; here the descriptor and page-table pages are protected.
    @Test func outputsIntoTheMonitorsReadOnlyLowMemoryAreRefused() throws {
        try withDisk(protecting: [GuestDescriptors.gdtAddress ..< PageTableBuilder.firstDirectory + 0x1000]) { handler, guest, _ in
            // A forged PML4 entry in a sector: PDPT 0x5000, present, writable, user.
            guest.put(withUnsafeBytes(of: UInt64(0x5007)) { Array($0) } + [UInt8](repeating: 0, count: 504), at: dataAddress)
            try blockArguments(guest, sector: 0, count: 1)
            #expect(try call(handler, .blockWrite, argumentsAddress) == .resume)
            let pml4Before = try guest.memory.load(UInt64.self, at: PageTableBuilder.pml4)
            try blockArguments(guest, sector: 0, count: 1, data: PageTableBuilder.pml4)
            #expect(refusal { () throws(HypercallRefusal) in try call(handler, .blockRead, argumentsAddress) } != nil)
            #expect(try guest.memory.load(UInt64.self, at: PageTableBuilder.pml4) == pml4Before)
            // The same for a call's out fields: wall-time's struct placed on the GDT.
            #expect(refusal { () throws(HypercallRefusal) in try call(handler, .wallTime, GuestDescriptors.gdtAddress + 0x18) } != nil)
        }
    }
}

/// `call` under another name, for closures inside tests whose loop variable is also named `call`.
private func KVMMonitorTests_call(_ handler: HypercallHandler, _ hypercall: Hypercall, _ address: UInt64)
    throws(HypercallRefusal) -> HypercallOutcome {
    try call(handler, hypercall, address)
}
