// Devices: the host ends of the guest's console, network and block device.
//
// Each is a file descriptor the monitor opened before the guest started (so a missing or busy device
// is an error before boot, and the run loop needs no open(2) once seccomp is on):
//   - the console is the monitor's standard output;
//   - the network is a tap device (`--net tap:NAME`), non-blocking, one Ethernet frame per read/write;
//   - the block device is a regular file (`--disk FILE`) of whole 512-byte sectors, read and written
//     with pread/pwrite at sector offsets.

#if canImport(Glibc)
import Glibc
#endif
import CKVM


/// A tap device attached to the guest's network.
public final class TapDevice {
    public let name: String
    public let descriptor: Int32
    public let mtu: UInt64 = 1500
    /// A locally administered unicast MAC derived from the device name (stable across runs).
    public let mac: UInt64

    public init(name: String) throws(MonitorError) {
        guard !name.isEmpty, name.utf8.count < 16,
              name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
            throw MonitorError("invalid tap device name '\(name)'")
        }
        var exists = stat()
        guard stat("/sys/class/net/\(name)", &exists) == 0 else {
            throw MonitorError("tap device '\(name)' does not exist; create it with: ip tuntap add dev \(name) mode tap && ip link set \(name) up")
        }
        let result = name.withCString { ckvm_open_tap($0) }
        if result == -EBUSY {
            throw MonitorError("tap device '\(name)' is busy: another process (a VM?) has it open")
        }
        guard result >= 0 else { throw MonitorError("cannot attach tap device '\(name)': \(systemError(-result))") }
        self.name = name
        descriptor = result
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        // 02:xx:xx:xx:xx:xx, first octet in the lowest byte.
        mac = 0x02 | ((hash & 0xFF_FFFF_FFFF) << 8)
    }

    deinit { close(descriptor) }
}

/// A file used as the guest's block device.
public final class DiskFile {
    public static let sectorSize: UInt64 = 512
    public let path: String
    public let descriptor: Int32
    public let sectorCount: UInt64

    public init(path: String) throws(MonitorError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw MonitorError("cannot open disk '\(path)': \(systemError())") }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw MonitorError("disk '\(path)' is not a regular file")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw MonitorError("disk '\(path)' is busy: another process holds its lock")
        }
        let size = UInt64(info.st_size)
        guard size >= Self.sectorSize, size % Self.sectorSize == 0 else {
            close(fd)
            throw MonitorError("disk '\(path)' is \(size) bytes; it must be a non-empty multiple of \(Self.sectorSize)")
        }
        self.path = path
        descriptor = fd
        sectorCount = size / Self.sectorSize
    }

    deinit { close(descriptor) }
}

/// Writes all of `bytes` to `descriptor` with write(2) — the one call the confined monitor may always
/// make — retrying after signals; stops early when the reader is gone (the output is dropped).
public func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, base + offset, bytes.count - offset)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}

/// writeAll for text.
public func writeAll(_ descriptor: Int32, _ text: String) {
    var text = text
    text.withUTF8 { writeAll(descriptor, UnsafeRawBufferPointer($0)) }
}

/// Sleeps for `interval`, through signals (clock_nanosleep is on the confined monitor's list).
func sleep(_ interval: timespec) {
    var wait = interval, remaining = timespec()
    while clock_nanosleep(CLOCK_MONOTONIC, 0, &wait, &remaining) == EINTR { wait = remaining }
}

