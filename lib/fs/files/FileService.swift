// FileService: the image's file tree — a VFS whose root is a ramfs, mounted before the app starts.
//
// Selecting the library (`use: [files]`, or a manifest's `rootfs:`) is all it takes: the kernel calls
// the image's `initializeFiles` hook after threads are up (this library's wiring fragment binds it),
// and `start` makes a ramfs, mounts it at `/`, unpacks the root file system the build packed into the
// image (the manifest's `rootfs:` folder as a cpio newc archive, `.tessera/rootfs.cpio`; empty without
// one) into it — the files' bytes stay in the image and ramfs points at them (copy on write), so a
// root file system costs its size once, not twice, and unpacks without copying — adds `/tmp` (mode 1777, as on Linux) if the archive had none, mounts /dev and /proc
// (SystemFiles.swift), and publishes its usage
// as gauges (`tessera_filesystem_bytes{state}` in the metrics exporter; the shell-files library's `df`).
// Problems in the archive are printed, one line each, and the rest is unpacked.
//
// The ramfs's limit is the kernel parameter `fs.size=SIZE` (K/M/G suffixes) or, by default, what the
// root file system uses plus half of the memory the image has left after unpacking it — tmpfs's default
// of half the RAM. The limit counts file pages plus a fixed cost per node and name (see RamFileSystem),
// not the allocator's overhead.
//
// One VFS serves every thread: `Files.root` (the app's entry point to the file API — `File`,
// `list`, `contents(of:)`, `write(_:to:)`) takes the kernel mutex the wiring passes in around each
// operation, so operations are atomic under the preemptive scheduler. Its clock is the wall clock
// (so stat's times are real dates when the platform gave one).

import BootArguments
import CPIO
import Clock
import Kernel
import RamFS
@_exported import VFS     // apps import Files and get the file API with it

@_extern(c, "tessera_rootfs_archive_get") func _rootfsArchive() -> UnsafeRawPointer
@_extern(c, "tessera_rootfs_archive_size_get") func _rootfsArchiveSize() -> Int

nonisolated(unsafe) var rootFileSystem: VirtualFileSystem? = nil
nonisolated(unsafe) var rootRamFS: RamFileSystem? = nil

/// The image's file tree, for apps and other libraries.
public enum Files {
    /// The VFS (valid once the kernel has called `initializeFiles`, i.e. whenever the app runs).
    public static var root: VirtualFileSystem {
        guard let root = rootFileSystem else { fatalError("files: used before the kernel mounted the root file system") }
        return root
    }

    /// The ramfs at `/`.
    public static var ramfs: RamFileSystem {
        guard let ramfs = rootRamFS else { fatalError("files: used before the kernel mounted the root file system") }
        return ramfs
    }

    /// Called once by the kernel (the image's `initializeFiles` hook) with the lock the VFS takes and
    /// the kernel's fallible page allocation for file pages (memory running out is ENOMEM, not a panic).
    public static func start(lock: VFSLock, availableMemory: () -> Int, allocatePage: @escaping () -> UnsafeMutableRawPointer?,
                             releasePage: @escaping (UnsafeMutableRawPointer) -> Void, system: SystemSources) {
        var requested: Int? = nil
        if let text = kernelParameters.kernelValue("fs.size") {
            if let bytes = BootArguments.parseSize(text), bytes > 0 {
                requested = bytes
            } else {
                print("files: fs.size=" + text + " is not a size (e.g. 4M, 512K); using the default")
            }
        }
        let ramfs = RamFileSystem(limit: Int64(requested ?? 0), pages: PageSource(allocate: allocatePage, release: releasePage)) {
            let now = Clock.wallTime()
            return TimeSpec(seconds: now.seconds, nanoseconds: Int64(now.nanoseconds))
        }
        let vfs = VirtualFileSystem(root: ramfs, lock: lock)
        let size = _rootfsArchiveSize()
        if size > 0 {
            let summary = CPIOUnpacker.unpack(UnsafeRawBufferPointer(start: _rootfsArchive(), count: size), into: vfs, lending: true)
            for problem in summary.problems { print("files: root file system: " + problem) }
        }
        if requested == nil { ramfs.limit = ramfs.usedBytes + Int64(availableMemory() / 2) }
        if (try? vfs.status("/tmp")) == nil {
            vfs.umask = 0
            do {
                try vfs.makeDirectory("/tmp", permissions: 0o1777)
            } catch {
                print("files: cannot create /tmp: " + error.messageString)
            }
            vfs.umask = 0o022
        }
        let now = Clock.wallTime()
        SystemFiles.mount(in: vfs, system, now: TimeSpec(seconds: now.seconds, nanoseconds: Int64(now.nanoseconds)))
        rootRamFS = ramfs
        rootFileSystem = vfs
        ImageGauges.register(ImageGauge(name: "tessera_filesystem_bytes", help: "Bytes of the root file system (ramfs) by state.",
                                        labelName: "state", labelValue: "used") { vfs.mountTable.first?.usage.usedBytes ?? 0 })
        ImageGauges.register(ImageGauge(name: "tessera_filesystem_bytes", help: "Bytes of the root file system (ramfs) by state.",
                                        labelName: "state", labelValue: "limit") { vfs.mountTable.first?.usage.totalBytes ?? 0 })
    }
}
