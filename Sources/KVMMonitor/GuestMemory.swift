// GuestMemory: the guest's RAM as the monitor sees it, and the only way the monitor touches it.
//
// Guest RAM is one host mapping of `size` bytes that the VM sees at guest-physical address 0. Every
// access the monitor makes on the guest's behalf goes through `check`, which accepts a range only if
// it lies entirely inside guest memory: `address + length` is computed without wrapping, a zero-length
// range must still start inside memory (or at its end), and alignment is checked where the ABI asks for
// it. Nothing here dereferences a guest address before that check, so a hostile guest can at most make
// the monitor refuse its call. The range checks are pure arithmetic (`GuestRange.check`), unit-tested
// without a VM.

import HypercallABI

/// Why a guest-supplied range was refused.
public enum GuestAddressProblem: Error, Equatable, CustomStringConvertible {
    case outOfRange(address: UInt64, length: UInt64, memorySize: UInt64)
    case wraps(address: UInt64, length: UInt64)
    case misaligned(address: UInt64, alignment: UInt64)
    case tooLong(length: UInt64, maximum: UInt64)
    case readOnly(address: UInt64, length: UInt64, region: Range<UInt64>)

    public var description: String {
        switch self {
        case let .outOfRange(address, length, memorySize):
            return "\(hex(address)) + \(length) bytes is outside guest memory (\(memorySize) bytes)"
        case let .wraps(address, length):
            return "\(hex(address)) + \(length) bytes wraps around the address space"
        case let .misaligned(address, alignment):
            return "\(hex(address)) is not \(alignment)-byte aligned"
        case let .tooLong(length, maximum):
            return "length \(length) is over the limit of \(maximum) bytes"
        case let .readOnly(address, length, region):
            return "\(hex(address)) + \(length) bytes overlaps memory the guest may not write (\(hex(region.lowerBound))-\(hex(region.upperBound)))"
        }
    }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// Range arithmetic over a memory of `memorySize` bytes starting at 0.
public enum GuestRange {
    /// Accepts [address, address + length) when it lies inside [0, limit) without wrapping and
    /// `address` is a multiple of `alignment` (a power of two).
    public static func check(address: UInt64, length: UInt64, alignment: UInt64 = 1,
                             limit memorySize: UInt64) throws(GuestAddressProblem) {
        let (end, overflow) = address.addingReportingOverflow(length)
        if overflow { throw .wraps(address: address, length: length) }
        if end > memorySize || address > memorySize {
            throw .outOfRange(address: address, length: length, memorySize: memorySize)
        }
        if alignment > 1 && address & (alignment - 1) != 0 {
            throw .misaligned(address: address, alignment: alignment)
        }
    }
}

/// Guest RAM: `size` bytes at guest-physical 0, backed by `base` in the monitor.
public struct GuestMemory {
    public let base: UnsafeMutableRawPointer
    public let size: UInt64

    /// Ranges the monitor must not write on the guest's behalf (outputs of hypercalls, received frames,
    /// sectors read): what the guest's own page tables make read-only — everything below 1 MiB (boot
    /// info, descriptor and page tables) and the image's read-only segments. Otherwise a hypercall
    /// could do what the guest itself cannot: rewrite its page tables or its code. Empty during setup.
    public var readOnly: [Range<UInt64>] = []

    public init(base: UnsafeMutableRawPointer, size: UInt64) {
        self.base = base
        self.size = size
    }

    /// A copy that refuses writes into `ranges`.
    public func protecting(_ ranges: [Range<UInt64>]) -> GuestMemory {
        var copy = self
        copy.readOnly = ranges
        return copy
    }

    /// Checks a range the monitor will write into for the guest, and returns its host bytes.
    public func writableBytes(at address: UInt64, length: UInt64, alignment: UInt64 = 1) throws(GuestAddressProblem)
        -> UnsafeMutableRawBufferPointer {
        let bytes = try bytes(at: address, length: length, alignment: alignment)
        let end = address + length                              // checked above: no wrap
        if let region = readOnly.first(where: { $0.lowerBound < max(end, address + 1) && address < $0.upperBound }) {
            throw .readOnly(address: address, length: length, region: region)
        }
        return bytes
    }

    /// Checks a range and returns the host bytes behind it.
    public func bytes(at address: UInt64, length: UInt64, alignment: UInt64 = 1) throws(GuestAddressProblem)
        -> UnsafeMutableRawBufferPointer {
        try GuestRange.check(address: address, length: length, alignment: alignment, limit: size)
        return UnsafeMutableRawBufferPointer(start: base + Int(address), count: Int(length))
    }

    /// Reads an ABI struct (8-byte aligned, all UInt64 fields) from guest memory.
    public func load<T: BitwiseCopyable>(_ type: T.Type, at address: UInt64) throws(GuestAddressProblem) -> T {
        let bytes = try bytes(at: address, length: UInt64(MemoryLayout<T>.size), alignment: 8)
        return bytes.loadUnaligned(as: T.self)
    }

    /// Writes an ABI struct back to guest memory.
    public func store<T: BitwiseCopyable>(_ value: T, at address: UInt64) throws(GuestAddressProblem) {
        let bytes = try writableBytes(at: address, length: UInt64(MemoryLayout<T>.size), alignment: 8)
        withUnsafeBytes(of: value) { bytes.copyMemory(from: $0) }
    }

    /// Copies host bytes into guest memory (the monitor's own setup: ELF segments, boot info).
    public func write(_ source: UnsafeRawBufferPointer, at address: UInt64) throws(GuestAddressProblem) {
        let destination = try bytes(at: address, length: UInt64(source.count))
        destination.copyMemory(from: source)
    }

    public func storeWord(_ value: UInt64, at address: UInt64) throws(GuestAddressProblem) {
        try store(value, at: address)
    }
}
