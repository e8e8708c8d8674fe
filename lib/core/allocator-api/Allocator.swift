// The heap allocator API.
//
// A heap allocator manages byte ranges ("regions") that the kernel hands it from the physical page
// allocator. It never asks for memory by itself: when `allocate` returns nil, the kernel adds a region
// (if pages are left) and retries, or panics with the allocator's statistics. This keeps allocators pure
// logic over raw memory, so the same code runs in the guest and in host unit tests.
//
// Ownership: memory returned by `allocate` belongs to the caller until it passes the same pointer to
// `free`. Passing any other pointer to `free` is a programming error; implementations may trap on what
// they can detect (a pointer outside every region) and must not corrupt their state silently.
//
// Implementations are selected in the manifest (`allocator: alloc-tlsf`) and bound statically by the
// generated wiring file; no existential `any Allocator` is used on the allocation path.

/// Figures every allocator keeps, readable by other libraries (metrics, shell, OOM reports).
public struct AllocatorStatistics: Equatable {
    /// Bytes of all regions handed to the allocator.
    public var managedBytes: Int
    /// Bytes currently allocated to callers (as requested, not rounded).
    public var inUseBytes: Int
    /// The highest `inUseBytes` ever reached.
    public var peakInUseBytes: Int
    /// Bytes still available for allocation (including bookkeeping-free space only).
    public var freeBytes: Int
    /// Live allocations.
    public var liveAllocations: Int
    /// Successful allocations since start.
    public var totalAllocations: Int
    /// Allocations that returned nil.
    public var failedAllocations: Int

    public init(managedBytes: Int = 0, inUseBytes: Int = 0, peakInUseBytes: Int = 0, freeBytes: Int = 0,
                liveAllocations: Int = 0, totalAllocations: Int = 0, failedAllocations: Int = 0) {
        self.managedBytes = managedBytes
        self.inUseBytes = inUseBytes
        self.peakInUseBytes = peakInUseBytes
        self.freeBytes = freeBytes
        self.liveAllocations = liveAllocations
        self.totalAllocations = totalAllocations
        self.failedAllocations = failedAllocations
    }
}

public protocol Allocator {
    /// A short name for reports ("tlsf", "region").
    static var name: StaticString { get }

    /// An allocator with no memory yet.
    init()

    /// Hands the allocator the bytes `start ..< start + size` to manage. Regions never overlap.
    /// Returns false (and keeps nothing) when the region is too small to be useful to this allocator.
    @discardableResult
    mutating func addRegion(_ start: UnsafeMutableRawPointer, size: Int) -> Bool

    /// Returns `size` bytes aligned to `alignment` (a power of two, at least 1), or nil when no region
    /// has room. `size` 0 returns a unique non-nil pointer that may be freed.
    mutating func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer?

    /// Returns an allocation to the allocator. `nil` is ignored.
    mutating func free(_ pointer: UnsafeMutableRawPointer?)

    /// The current figures.
    var statistics: AllocatorStatistics { get }
}
