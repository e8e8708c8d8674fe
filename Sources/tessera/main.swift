// tessera: build and run Tessera unikernel images.
//
// Exit codes scripts can rely on:
//   build, size, libs:  0 success, 65 invalid manifest or library descriptor, 1 any other failure
//   run:                the guest's own exit code (0-255); 125 when tessera itself failed (invalid
//                       manifest, build error, QEMU missing, VM ended without an exit status);
//                       128 + signal when stopped (130 after Ctrl-C, 143 after SIGTERM).
//                       Guest panics exit 134, CPU exceptions 139.

import ArgumentParser
import Foundation
import TesseraKit

struct Tessera: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Build and run Tessera unikernel images: one app, linked with exactly the OS it needs.",
        discussion: """
            An image is described by a tessera.yaml manifest in the app's folder. Typical use:
              tessera build examples/hello        # compile and link the image
              tessera run examples/hello -- 7     # boot it under QEMU; exits with the guest's code
              tessera size examples/hello         # bytes per micro-library
              tessera libs                        # every micro-library and the API it implements
            """,
        subcommands: [Build.self, Run.self, Size.self, Libs.self])
}

/// Where the built-in micro-libraries are: $TESSERA_HOME/lib, or the `lib/` folder of the checkout
/// this executable was built in, or one found walking up from the current folder.
func libraryRoot() throws -> String {
    let fm = FileManager.default
    if let home = ProcessInfo.processInfo.environment["TESSERA_HOME"] {
        return URL(fileURLWithPath: home).appendingPathComponent("lib").path
    }
    var candidates: [URL] = []
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    candidates.append(executable.deletingLastPathComponent())
    candidates.append(URL(fileURLWithPath: fm.currentDirectoryPath))
    for start in candidates {
        var directory = start
        for _ in 0..<8 {
            let lib = directory.appendingPathComponent("lib/core/kernel/library.yaml")
            if fm.fileExists(atPath: lib.path) { return directory.appendingPathComponent("lib").path }
            directory = directory.deletingLastPathComponent()
        }
    }
    throw ToolError("cannot find Tessera's micro-libraries: set TESSERA_HOME to the Tessera checkout")
}

func manifestPath(_ directory: String) -> String {
    directory.hasSuffix(".yaml") ? directory : URL(fileURLWithPath: directory).appendingPathComponent("tessera.yaml").path
}

/// Prints the error; invalid manifests exit 65 unless `code` is for a run (125 covers every failure of
/// tessera itself there, so that it cannot be mistaken for a guest's exit code).
func fail(_ error: Error, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    if error is Diagnostics && code != 125 { return ExitCode(65) }
    return ExitCode(code)
}

func makeBuilder(quiet: Bool, lto: Bool = false) throws -> Builder {
    var builder = try Builder(toolchain: Toolchain.locate(), libraryRoot: libraryRoot(), log: quiet ? nil : { line in
        FileHandle.standardError.write(Data("tessera: \(line)\n".utf8))
    })
    builder.linkTimeOptimization = lto
    return builder
}

struct BuildOptions: ParsableArguments {
    @Argument(help: "The app folder holding tessera.yaml (or the manifest file itself).")
    var directory: String = "."

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    @Flag(name: .long, help: "Link-time optimization across all micro-libraries (smaller image; outputs in .tessera/lto/).")
    var lto = false
}

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile the micro-libraries a manifest selects and link the image.",
        discussion: "Outputs go to DIR/.tessera/ (DIR/.tessera/platform-kvm/ for --platform kvm): NAME.elf (bootable), NAME.dbg.elf (with symbols), NAME.map, Wiring.swift.")

    @OptionGroup var options: BuildOptions

    @Option(name: .long, help: "Build for this platform instead of the manifest's (qemu-microvm, qemu-pc, qemu-q35, kvm).")
    var platform: String?

    func run() throws {
        do {
            let product = try makeBuilder(quiet: options.quiet, lto: options.lto)
                .build(manifestPath: manifestPath(options.directory), platform: platform)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: product.image.path)[.size] as? Int) ?? 0
            print("\(product.image.path) (\(bytes) bytes)")
        } catch {
            throw fail(error, code: 1)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build (if needed) and boot an image; exit with the guest's exit code.",
        discussion: """
            Arguments after `--` go to the app (they replace the manifest's `arguments`).
            KVM is used when usable, else TCG with a one-line notice. Ctrl-C stops the VM.
            Exit codes: the guest's code; 125 tessera failed; 128+signal when stopped (130 for Ctrl-C);
            134 guest panic; 139 guest crash.
            """)

    @OptionGroup var options: BuildOptions

    @Option(name: .long, help: "qemu-microvm, qemu-pc, qemu-q35 or kvm (Tessera's own KVM monitor; default: the manifest's platform).")
    var platform: String?

    @Option(name: .long, help: "Attach FILE (a raw disk image) as the guest's block device: [DEVICE=]FILE[:/MOUNT-POINT][:ro], DEVICE as the manifest's `devices:` names it (virtio-blk on QEMU, the monitor's block device on kvm; 512-byte sectors). With ext2-mount the guest mounts it there (default /mnt), read-write unless :ro.")
    var disk: [String] = []

    @Option(name: .shortAndLong, help: "Guest memory, e.g. 2M, 512K, 1G (default: the manifest's memory).")
    var memory: String?

    @Option(name: [.customShort("v"), .customLong("volume")], help: "Share a host folder with the guest: HOST_DIR:GUEST_PATH[:ro] (repeatable; virtio-9p on QEMU, mounted by the image's share-mount library; :ro refused writes in QEMU and in the guest).")
    var volume: [String] = []

    @Option(name: .long, help: "auto, kvm or tcg.")
    var accel: String = "auto"

    @Option(name: .short, help: "Forward HOST:GUEST[/udp|/tcp] from 127.0.0.1 to the guest (repeatable; TCP by default).")
    var publish: [String] = []

    @Option(name: .long, help: "Network: 'user' (QEMU user networking, the default on QEMU; -p forwards ports) or 'tap:NAME' / 'DEVICE=tap:NAME' (an existing host tap device; the only network under --platform kvm).")
    var net: [String] = []

    @Option(name: .short, help: "Set a kernel parameter NAME=VALUE (repeatable), e.g. -e ip=10.77.0.2/24 -e gateway=10.77.0.1.")
    var environment: [String] = []

    @Flag(name: .long, help: "Ask the kernel to print boot-time figures (entry to main, in cycles and µs).")
    var bootStats = false

    @Option(name: .long, help: "An extra QEMU argument, passed as is (repeatable; e.g. --qemu-arg=-object --qemu-arg=filter-dump,id=d,netdev=net0,file=net.pcap).")
    var qemuArg: [String] = []

    @Argument(parsing: .postTerminator, help: "Arguments for the app.")
    var arguments: [String] = []

    func run() throws {
        if let platform, !Manifest.platforms.contains(platform) {
            throw ValidationError("unknown platform '\(platform)'; valid choices: \(Manifest.platforms.joined(separator: ", "))")
        }
        do {
            let product = try makeBuilder(quiet: true, lto: options.lto).build(manifestPath: manifestPath(options.directory),
                                                                               platform: platform)
            let manifest = product.resolved.manifest
            let platformName = manifest.platform
            if platformName == "kvm" { throw ExitCode(try runOnMonitor(product)) }
            let declared = DeviceAttachments.declared(by: product.resolved)
            let attachments: DeviceAttachments
            do {
                attachments = try DeviceAttachments.resolve(declared: declared, net: net.filter { $0 != "user" }, disk: disk,
                                                            requireAll: false)
            } catch {
                throw ValidationError(error.description)
            }
            guard let machine = Machine(rawValue: platformName) else {
                throw ValidationError("unknown platform '\(platformName)'; valid choices: \(Machine.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let memoryBytes = try guestMemory(manifest)
            guard let accelerator = Accelerator(rawValue: accel) else {
                throw ValidationError("unknown accelerator '\(accel)'; valid choices: auto, kvm, tcg")
            }
            var runOptions = RunOptions(image: product.image, debugImage: product.debugImage, machine: machine,
                                        memoryBytes: memoryBytes,
                                        arguments: arguments.isEmpty ? manifest.arguments : arguments)
            runOptions.accelerator = accelerator
            // An image with a network device gets one, on QEMU's user-mode network.
            runOptions.userNetwork = product.resolved.binding(for: "net-device") != nil
            if let driver = product.resolved.binding(for: "net-device")?.library,
               Machine.allCases.contains(where: { QEMURunner.networkLibrary(for: $0) == driver }),
               driver != QEMURunner.networkLibrary(for: machine) {
                FileHandle.standardError.write(Data("tessera: net-device '\(driver)' does not drive the network device of \(machine.rawValue); choose 'net-device: \(QEMURunner.networkLibrary(for: machine))' in tessera.yaml\n".utf8))
            }
            for text in publish {
                guard let forward = PortForward(text) else {
                    throw ValidationError("invalid -p '\(text)'; use HOST:GUEST or HOST:GUEST/udp, e.g. -p 8080:80")
                }
                runOptions.portForwards.append(forward)
            }
            if let (_, name) = attachments.net {
                guard name.utf8.count <= 15, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                    throw ValidationError("invalid tap device name '\(name)' in --net; use tap:NAME, e.g. --net tap:tessera0")
                }
                runOptions.tapDevice = name
            }
            runOptions.kernelParameters = try kernelParameters(manifest) + diskParameters(attachments, manifest)
            var commandLineVolumes: [VolumeSpec] = []
            for (index, text) in volume.enumerated() {
                do {
                    commandLineVolumes.append(try VolumeSpec.parse(text, index: index, relativeTo: FileManager.default.currentDirectoryPath))
                } catch {
                    throw ValidationError(error.description)
                }
            }
            runOptions.volumes = MountDeclaration.volumes(manifest: manifest.mounts, commandLine: commandLineVolumes)
            if !runOptions.volumes.isEmpty && !product.resolved.libraries.contains(where: { $0.name == "share-mount" }) {
                throw ValidationError("-v and folder mounts: the image does not mount shared folders; add share-mount to `use:` in tessera.yaml")
            }
            runOptions.kernelParameters += runOptions.volumes.map(\.kernelParameter)
            runOptions.extraQEMUArguments = qemuArg
            if let (_, file) = attachments.block {
                guard FileManager.default.isReadableFile(atPath: file) else {
                    throw ValidationError("--disk: cannot read '\(file)'")
                }
                runOptions.diskFile = URL(fileURLWithPath: file).standardizedFileURL.path
                runOptions.diskReadOnly = diskParameters(attachments, manifest).contains("disk.readonly=1")
            }
            let result = try QEMURunner.run(runOptions) { notice in
                FileHandle.standardError.write(Data((notice + "\n").utf8))
            }
            if result.guestExitCode == nil && !result.interrupted {
                FileHandle.standardError.write(Data("tessera: the VM stopped without an exit status (QEMU exited with \(result.qemuStatus))\n".utf8))
            }
            throw ExitCode(result.exitCode)
        } catch let exit as ExitCode {
            throw exit
        } catch let validation as ValidationError {
            throw validation
        } catch {
            throw fail(error, code: 125)
        }
    }
}

extension Run {
    /// `-m`, else the manifest's memory.
    func guestMemory(_ manifest: Manifest) throws -> UInt64 {
        guard let memory else { return manifest.memory }
        guard let parsed = Manifest.parseMemory(memory) else {
            throw ValidationError("invalid memory size '\(memory)'; use e.g. 512K, 2M or 1G")
        }
        return parsed
    }

    /// The manifest's parameters first, then each `-e` (a later word wins, so -e overrides them), then
    /// `tessera.bootstats` for --boot-stats.
    func kernelParameters(_ manifest: Manifest) throws -> [String] {
        var parameters = manifest.parameters
        for setting in environment {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Manifest.parameterProblem(name: parts[0], value: parts[1]) == nil else {
                throw ValidationError("invalid -e '\(setting)'; use NAME=VALUE (lowercase name, no spaces or quotes), e.g. -e ip=10.77.0.2/24")
            }
            parameters.append(setting)
        }
        if bootStats { parameters.append("tessera.bootstats") }
        return parameters
    }

    /// The attached disk's mount parameters: its own `:/PATH[:ro]`, else the manifest's `mounts:` entry.
    func diskParameters(_ attachments: DeviceAttachments, _ manifest: Manifest) -> [String] {
        guard let (device, _) = attachments.block else { return [] }
        if attachments.blockMountPoint != nil { return attachments.blockParameters }
        let declared = MountDeclaration.diskParameters(manifest: manifest.mounts, device: device)
        return attachments.blockReadOnly ? declared.filter { $0 != "disk.readonly=1" } + ["disk.readonly=1"] : declared
    }

    /// `--platform kvm`: the image runs under Tessera's own monitor (tessera-kvm, a child process).
    func runOnMonitor(_ product: BuildProduct) throws -> Int32 {
        let manifest = product.resolved.manifest
        guard publish.isEmpty else {
            throw ValidationError("-p needs QEMU's user networking; under --platform kvm use --net tap:NAME and reach the guest's address")
        }
        let memoryBytes = (try guestMemory(manifest) + 4095) / 4096 * 4096
        let parameters = try kernelParameters(manifest)
        var monitorArguments = ["-m", String(memoryBytes)]
        if net.contains("user") {
            throw ValidationError("--net user is QEMU's user networking; under --platform kvm the network is a tap device: --net tap:NAME")
        }
        if let folder = manifest.mounts.first(where: { if case .folder = $0.source { return true } else { return false } }) {
            throw ValidationError("tessera.yaml mounts a host folder at \(folder.guestPath), which needs QEMU's virtio-9p; under --platform kvm put the files on an ext2 disk (mke2fs -t ext2 -d HOST_DIR disk.img 64M) and mount the disk there instead")
        }
        guard volume.isEmpty else {
            throw ValidationError("-v shares a folder over virtio-9p, which only QEMU provides; under --platform kvm put the files on an ext2 disk (mke2fs -t ext2 -d HOST_DIR disk.img 64M) and attach it with --disk disk.img:/PATH")
        }
        let attachments: DeviceAttachments
        do {
            attachments = try DeviceAttachments.resolve(declared: DeviceAttachments.declared(by: product.resolved),
                                                        net: net, disk: disk, requireAll: true)
        } catch {
            throw ValidationError(error.description)
        }
        if let (device, tap) = attachments.net { monitorArguments += ["--net", "\(device)=tap:\(tap)"] }
        if let (device, file) = attachments.block { monitorArguments += ["--block", "\(device)=\(file)"] }
        for parameter in parameters + diskParameters(attachments, manifest) { monitorArguments += ["-e", parameter] }
        monitorArguments += [product.image.path, "--"] + (arguments.isEmpty ? manifest.arguments : arguments)
        return try MonitorRunner.run(arguments: monitorArguments, debugImage: product.debugImage)
    }
}

struct Size: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build an image and show its size per micro-library (text, rodata, data, bss).")

    @OptionGroup var options: BuildOptions

    @Option(name: .long, help: "Build for this platform instead of the manifest's (qemu-microvm, qemu-pc, qemu-q35, kvm).")
    var platform: String?

    func run() throws {
        do {
            let path = manifestPath(options.directory)
            let product = try makeBuilder(quiet: true).build(manifestPath: path, platform: platform)
            print(try SizeReport(product: product).formatted())
            if options.lto {
                let optimized = try makeBuilder(quiet: true, lto: true).build(manifestPath: path, platform: platform)
                let bytes = (try? FileManager.default.attributesOfItem(atPath: optimized.image.path)[.size] as? Int) ?? 0
                print("with --lto: image file: \(bytes) bytes (\(bytes / 1024) KiB); per-library figures above are without LTO")
            }
        } catch {
            throw fail(error, code: 1)
        }
    }
}

struct Libs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every micro-library: the API it defines or implements, its dependencies, what it is.")

    @Option(name: .long, help: "Also search this folder of micro-libraries (as a manifest's library-paths does).")
    var path: [String] = []

    func run() throws {
        do {
            let catalog = try LibraryCatalog.load(searchPaths: path + [libraryRoot()])
            print(LibraryListing.format(catalog))
        } catch {
            throw fail(error, code: 1)
        }
    }
}

Tessera.main()
