// swift-tools-version:6.0
// Tessera: the host side (the `tessera` CLI and its TesseraKit library) plus host builds of the kernel's
// pure-logic micro-libraries, so that allocators and other logic are unit-tested with `swift test`.
// The kernel itself is not built by SwiftPM: `tessera build` compiles the micro-libraries under lib/ with
// Embedded Swift for x86_64-unknown-none-elf.
import PackageDescription

/// A kernel micro-library that also builds for the host: its folder under lib/, its module name.
func hostLibrary(_ module: String, _ folder: String, dependencies: [Target.Dependency] = []) -> Target {
    .target(name: module, dependencies: dependencies, path: "lib/\(folder)",
            exclude: ["library.yaml"])
}

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .executable(name: "tessera-kvm", targets: ["tessera-kvm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .executableTarget(name: "tessera", dependencies: [
            "TesseraKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TesseraKit", dependencies: [
            "BootArguments",
            .product(name: "Yams", package: "Yams"),
        ]),

        // Tessera's own KVM monitor: a library (used by `tessera run --platform kvm`) and a standalone
        // executable. The ABI file is shared with the guest's platform-kvm library.
        .target(name: "CKVM"),
        .target(name: "HypercallABI", path: "lib/platform/hypercall-abi", exclude: ["library.yaml"]),
        .target(name: "KVMMonitor", dependencies: ["CKVM", "HypercallABI", "BootArguments"]),
        // Linked fully statically (Swift runtime and glibc): no dynamic loader at launch, which saved
        // about 1 ms of the 3 ms launch-to-exit (benchmarks/monitor.sh).
        .executableTarget(name: "tessera-kvm", dependencies: ["KVMMonitor", "BootArguments"],
                          linkerSettings: [.unsafeFlags(["-static-executable"])]),

        // Pure-logic kernel micro-libraries, built for the host as well.
        hostLibrary("AllocatorAPI", "core/allocator-api"),
        hostLibrary("AllocRegion", "core/alloc-region", dependencies: ["AllocatorAPI"]),
        hostLibrary("AllocTLSF", "core/alloc-tlsf", dependencies: ["AllocatorAPI"]),
        hostLibrary("PageAllocator", "core/page-allocator"),
        hostLibrary("BootArguments", "core/boot-arguments"),
        .target(name: "ClockLogic", path: "lib/core/clock", sources: ["TimeScale.swift"]),
        .target(name: "PCILogic", path: "lib/drivers/pci",
                exclude: ["library.yaml", "PCIBus.swift", "PCIFunction.swift", "PCIMSIX.swift"],   // port I/O, MMIO
                sources: ["PCIAddress.swift", "PCIBAR.swift", "PCICapabilities.swift", "PCIConfigurationSpace.swift"]),
        hostLibrary("TimerQueue", "core/timer-queue"),
        hostLibrary("SchedulerAPI", "core/scheduler-api"),
        hostLibrary("SchedCooperative", "core/sched-cooperative", dependencies: ["SchedulerAPI"]),
        hostLibrary("SchedPreemptive", "core/sched-preemptive", dependencies: ["SchedulerAPI"]),
        hostLibrary("NetWire", "net/net-wire"),
        hostLibrary("NetDeviceAPI", "drivers/netdev-api", dependencies: ["NetWire"]),
        hostLibrary("NetInterface", "net/net-interface", dependencies: ["NetDeviceAPI", "NetWire"]),
        hostLibrary("DNSClient", "net/dns-client", dependencies: ["NetWire"]),
        hostLibrary("NetTCP", "net/net-tcp", dependencies: ["NetWire"]),
        hostLibrary("ShellCore", "services/shell-core"),
        hostLibrary("Metrics", "services/metrics"),
        hostLibrary("HTTP", "services/http"),
        hostLibrary("RESP", "services/resp"),
        hostLibrary("KVStore", "services/kv-store", dependencies: ["RESP"]),
        hostLibrary("VFS", "fs/vfs"),
        hostLibrary("RamFS", "fs/ramfs", dependencies: ["VFS"]),
        hostLibrary("CPIO", "fs/cpio", dependencies: ["VFS"]),
        hostLibrary("Ext2", "fs/ext2", dependencies: ["VFS"]),
        hostLibrary("NineP", "fs/ninep", dependencies: ["VFS"]),
        hostLibrary("BlockDeviceAPI", "drivers/blockdev-api"),
        hostLibrary("BlockCache", "drivers/block-cache", dependencies: ["BlockDeviceAPI"]),
        hostLibrary("DevFS", "fs/devfs", dependencies: ["VFS"]),
        hostLibrary("ProcFS", "fs/procfs", dependencies: ["VFS"]),
        hostLibrary("ShellFiles", "services/shell-files", dependencies: ["ShellCore", "VFS"]),

        .testTarget(name: "TesseraKitTests", dependencies: ["TesseraKit"]),
        .testTarget(name: "KernelLogicTests", dependencies: [
            "AllocatorAPI", "AllocRegion", "AllocTLSF", "PageAllocator", "BootArguments", "ClockLogic", "NetDeviceAPI", "NetInterface", "DNSClient", "HTTP", "NetTCP", "Metrics",
            "TimerQueue", "SchedulerAPI", "SchedCooperative", "SchedPreemptive", "NetWire", "PCILogic", "RESP", "KVStore", "ShellCore",
        ]),
        .testTarget(name: "FileSystemTests", dependencies: ["VFS", "RamFS", "CPIO", "DevFS", "ProcFS", "ShellFiles", "ShellCore", "BlockDeviceAPI", "BlockCache", "Ext2", "NineP"]),
        .testTarget(name: "KVMMonitorTests", dependencies: ["KVMMonitor", "HypercallABI"]),
        .testTarget(name: "ImageTests", dependencies: ["TesseraKit"], exclude: ["Apps"]),
    ]
)
