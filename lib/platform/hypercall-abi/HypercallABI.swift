// HypercallABI: the contract between a guest and Tessera's KVM monitor (`tessera-kvm`). Version 1.
//
// This one file is compiled twice: into guests (the platform-kvm micro-library, Embedded Swift) and into
// the monitor (the KVMMonitor host module). Change it only together with `version`.
//
// Guest state at entry (the ELF entry point, in 64-bit mode, CPL 3 with IOPL 3, interrupts off):
//   - guest-physical = guest-virtual (identity map): 4 KiB pages in every 2 MiB chunk that holds page 0
//     or part of the image, 2 MiB pages elsewhere; page 0 is not mapped, everything below 1 MiB (boot
//     info, command line, descriptor and page tables) is read-only, each ELF segment has its own
//     permissions (text R+X, rodata R, data R+W; never W+X), and all other memory is R+W, not executable;
//   - %rdi = `bootInfoAddress`, where a `BootInfo` block sits (read-only to the guest);
//   - %rsp = the top of guest memory (the guest normally switches to its own stack at once).
// The guest runs in ring 3 inside its VM: privileged instructions (hlt, lidt, mov to CR, wrmsr) and any
// exception end it (the monitor sees a triple fault and prints a crash report). I/O goes through
// hypercalls only; there are no interrupts, so waiting for I/O or time is the `poll` hypercall.
//
// A hypercall: the guest fills the call's argument struct and executes
//     outl %eax, $(hypercallPortBase + number)     with %eax = the struct's guest-physical address.
// The struct must be 8-byte aligned and lie entirely in guest memory below 4 GiB; every field is a
// little-endian UInt64 at offset 8 × its position (the tests check this layout). Fields marked `in` are
// read by the monitor; fields marked `out` are written by it before the guest resumes. Every buffer a
// call names (address + length) must lie entirely inside guest memory without wrapping. A malformed
// hypercall — a bad address, a wrong access width, an unknown number, a device the guest was not given,
// a length out of bounds — ends the guest with a message naming the call and the problem.

public enum HypercallABI {
    public static let version: UInt64 = 1
    /// "TESSERA1" in ASCII, little-endian: the first word of the boot-info block.
    public static let bootInfoMagic: UInt64 = 0x3141_5245_5353_4554
    /// Hypercall `n` is an `outl` to port `hypercallPortBase + n`.
    public static let hypercallPortBase: UInt16 = 0x500
    /// Guest-physical layout below 1 MiB, owned by the monitor.
    public static let bootInfoAddress: UInt64 = 0x1000
    public static let commandLineAddress: UInt64 = 0x2000
    public static let commandLineCapacity: UInt64 = 4096        // the line is at most 4095 bytes
    public static let pageTablesAddress: UInt64 = 0x3000        // GDT, then PML4, PDPT, directories, tables
    /// ELF segments must load at or above this address.
    public static let kernelBase: UInt64 = 0x10_0000
    /// Largest guest memory the monitor maps (hypercall argument addresses are 32-bit).
    public static let maximumMemory: UInt64 = 4 << 30
}

/// The hypercalls of version 1.
public enum Hypercall: UInt16, CaseIterable {
    case consoleWrite = 0
    case wallTime = 1
    case poll = 2
    case netWrite = 3
    case netRead = 4
    case blockWrite = 5
    case blockRead = 6
    case halt = 7

    /// The name used in the monitor's messages.
    public var name: StaticString {
        switch self {
        case .consoleWrite: return "console-write"
        case .wallTime: return "wall-time"
        case .poll: return "poll"
        case .netWrite: return "net-write"
        case .netRead: return "net-read"
        case .blockWrite: return "block-write"
        case .blockRead: return "block-read"
        case .halt: return "halt"
        }
    }
}

/// Results a call reports in its `result` field. A malformed call gets no result: the guest ends.
public enum HypercallResult {
    public static let ok: UInt64 = 0
    /// Nothing to read now (net-read): poll, then try again.
    public static let again: UInt64 = 1
    /// The host device failed (the monitor prints why); the data was not transferred.
    public static let deviceError: UInt64 = 2
}

/// What the monitor tells the guest at entry. Read-only to the guest.
public struct BootInfo: BitwiseCopyable {
    public var magic: UInt64 = 0                 // HypercallABI.bootInfoMagic
    public var version: UInt64 = 0               // HypercallABI.version
    public var memorySize: UInt64 = 0            // bytes of guest RAM, from address 0
    public var kernelEnd: UInt64 = 0             // first byte above the highest loaded segment (page-aligned)
    public var tscFrequency: UInt64 = 0          // Hz; 0 when the host could not tell
    public var commandLine: UInt64 = 0           // guest address of the command line (its bytes only, no NUL)
    public var commandLineLength: UInt64 = 0
    public var netMTU: UInt64 = 0                // 0: no network device attached
    public var netMAC: UInt64 = 0                // 6 bytes, first octet in the lowest byte
    public var blockSectorCount: UInt64 = 0      // 0: no block device attached
    public var blockSectorSize: UInt64 = 0       // bytes per sector (512)
    public var monitorStartNanoseconds: UInt64 = 0 // the monitor's monotonic clock when it started (boot figures)
    public init() {}
}

/// console-write: writes `length` bytes (at most `maximumLength`) to the console.
public struct ConsoleWriteArguments: BitwiseCopyable {
    public var data: UInt64 = 0                  // in
    public var length: UInt64 = 0                // in
    public static let maximumLength: UInt64 = 64 * 1024
    public init() {}
}

/// wall-time: the host's real time.
public struct WallTimeArguments: BitwiseCopyable {
    public var nanoseconds: UInt64 = 0           // out: since 1970-01-01 00:00 UTC
    public init() {}
}

/// poll: waits until a device has input or `timeout` nanoseconds have passed (0: just look;
/// UInt64.max: no timeout). The guest's idle path.
public struct PollArguments: BitwiseCopyable {
    public var timeout: UInt64 = 0               // in: nanoseconds
    public var ready: UInt64 = 0                 // out: bit 0 set = net-read has a frame
    public static let netReady: UInt64 = 1
    public init() {}
}

/// net-write: sends one Ethernet frame (14 ... 14 + MTU bytes).
public struct NetWriteArguments: BitwiseCopyable {
    public var data: UInt64 = 0                  // in
    public var length: UInt64 = 0                // in
    public var result: UInt64 = 0                // out: ok or deviceError
    public init() {}
}

/// net-read: receives one Ethernet frame into `data`, which must hold 14 + MTU bytes. `more` says
/// whether another frame was already waiting when this one was read, so a guest that drains frames
/// can stop without one more call just to hear `again`.
public struct NetReadArguments: BitwiseCopyable {
    public var data: UInt64 = 0                  // in
    public var capacity: UInt64 = 0              // in
    public var length: UInt64 = 0                // out: the frame's length
    public var result: UInt64 = 0                // out: ok, again or deviceError
    public var more: UInt64 = 0                  // out: 1 when another frame is waiting
    public init() {}
}

/// block-write / block-read: transfers `count` whole sectors starting at `sector`.
public struct BlockArguments: BitwiseCopyable {
    public var sector: UInt64 = 0                // in
    public var count: UInt64 = 0                 // in: sectors, 1 ... maximumCount
    public var data: UInt64 = 0                  // in: count × sector size bytes
    public var result: UInt64 = 0                // out: ok or deviceError
    public static let maximumCount: UInt64 = 256
    public init() {}
}

/// halt: ends the guest; `tessera run` exits with `exitCode` (0-255).
public struct HaltArguments: BitwiseCopyable {
    public var exitCode: UInt64 = 0              // in
    public init() {}
}
