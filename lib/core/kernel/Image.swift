// Image: the signature that one image's generated wiring file implements.
//
// This is Tessera's functor: the kernel is written once as `Kernel<I: Image>`, generic over the
// micro-libraries an image selected. `tessera build` generates a wiring file (from Wiring.swift.in in
// this folder) that declares `enum TesseraImage: Image` with one typealias per API slot — the
// associated type named after the slot, capitalized (slot `allocator` -> `Allocator`) — plus the app
// type and the two memory managers' instances. The compiler checks every binding against the slot's
// protocol and specializes the whole kernel for it: calls are direct, nothing is looked up at run time.

import AllocatorAPI
import ConsoleAPI
import PageAllocator
import PlatformAPI

/// What an app provides: its entry point.
public protocol Application {
    /// Runs the app with its arguments; the result is the guest's exit code (0-255).
    static func main(arguments: [String]) -> Int32
}

/// One image: the implementation bound to each API slot, and the app.
public protocol Image {
    associatedtype Platform: PlatformAPI.Platform
    associatedtype Console: ConsoleAPI.Console
    associatedtype Allocator: AllocatorAPI.Allocator
    associatedtype App: Application

    /// Runs `body` with the heap, the one instance of the chosen allocator, which the wiring file
    /// stores. (A closure rather than a `{ get set }` property: the optimizer handles it better.)
    static func withHeap<R>(_ body: (inout Allocator) -> R) -> R

    // Hooks for optional libraries. Each defaults to nothing; a library that plugs into the kernel
    // implements its hook in its own wiring fragment (`Wiring.swift.in`), so an image that does not
    // select the library contains neither the hook nor the library.

    /// Brings up interrupt controllers (the `interrupts` library). Called before the app starts.
    static func initializeInterrupts()
    /// Handles a vector >= 32 (device, timer, spurious interrupts).
    static func handleInterrupt(vector: UInt64)
    /// Calibrates clocks and starts the timer (the `clock` library). Called after interrupts.
    static func initializeClock()
    /// Turns the boot flow into the main thread (the `threads` library). Called after clocks.
    static func initializeThreads()
    /// Adds lines to a crash report, e.g. which thread faulted (the `threads` library).
    static func reportCrashContext(faultAddress: UInt64)
    /// Mounts the image's file tree (the `files` library). Called after threads, before the shell.
    static func initializeFiles()
    /// Mounts volumes into the file tree (e.g. `ext2-mount`). Called after `initializeFiles`.
    static func mountVolumes()
    /// Mounts the shared host folders (`share-mount`, 9p). Called after `mountVolumes`.
    static func mountShares()
    /// Makes every mounted file system durable and consistent (disks written back, marked clean):
    /// called when the guest exits normally, not after a panic or a fault (the `files` library).
    static func finishFiles()
    /// Starts the shell on the console in its own thread (the `shell` library). Called after files.
    static func startShell()
    /// Adds a library's commands to the shell (e.g. `shell-files`); the shell calls it as it starts.
    static func extendShell()
    /// Sees each byte that `print` writes to the console (the `shell` library keeps the last lines).
    static func observeConsoleOutput(_ byte: UInt8)
}

extension Image {
    public static func initializeInterrupts() {}
    public static func handleInterrupt(vector: UInt64) {}
    public static func initializeClock() {}
    public static func initializeThreads() {}
    public static func reportCrashContext(faultAddress: UInt64) {}
    public static func initializeFiles() {}
    public static func mountVolumes() {}
    public static func mountShares() {}
    public static func finishFiles() {}
    public static func startShell() {}
    public static func extendShell() {}
    public static func observeConsoleOutput(_ byte: UInt8) {}
}

/// Physical memory, page by page. One per machine; the kernel is its only user during boot and the
/// allocators' growth path (single CPU, no preemption in those paths).
nonisolated(unsafe) public var physicalPages = PageAllocator()
