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
}

/// Physical memory, page by page. One per machine; the kernel is its only user during boot and the
/// allocators' growth path (single CPU, no preemption in those paths).
nonisolated(unsafe) public var physicalPages = PageAllocator()
