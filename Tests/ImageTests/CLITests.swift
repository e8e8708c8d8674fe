// CLI tests: the `tessera` executable as a user or a script meets it — exit codes, messages, signals.

import Foundation
import Testing

/// The `tessera` binary built next to the test bundle.
let tesseraExecutable: URL = {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var directory = here.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("tessera")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    return ImageHarness.repository.appendingPathComponent(".build/debug/tessera")
}()

struct CLIResult {
    var pid: Int32
    /// The exit status, or the signal number when `signaled`.
    var status: Int32
    var signaled = false
    var stdout: String
    var stderr: String
}

/// `signalChildren`: the signal goes to the CLI's children (the VM) instead of the CLI — `SIGKILL` there
/// is a VM killed mid-write.
func tessera(_ arguments: [String], interruptAfter marker: String? = nil, signal: Int32 = SIGINT, signalChildren: Bool = false,
             environment: [String: String]? = nil, executable: URL = tesseraExecutable) throws -> CLIResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    process.currentDirectoryURL = ImageHarness.repository
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    var stdout = Data()
    if let marker {
        // Read until the guest prints the marker, then send the signal.
        while !String(decoding: stdout, as: UTF8.self).contains(marker) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            stdout.append(chunk)
        }
        if signalChildren {
            _ = try? runHostTool(["pkill", "-\(signal)", "-P", String(process.processIdentifier)])
        } else {
            kill(process.processIdentifier, signal)
        }
    }
    stdout.append(out.fileHandleForReading.readDataToEndOfFile())
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(pid: process.processIdentifier, status: process.terminationStatus,
                     signaled: process.terminationReason == .uncaughtSignal,
                     stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}

extension ImageSuite {
    @Suite
    struct CLITests {
        @Test func runExitsWithTheGuestsCodeAndPrintsItsConsole() throws {
            let result = try tessera(["run", "examples/hello", "--", "42", "x y"])
            #expect(result.status == 42)
            #expect(result.stdout.contains("Hello from Tessera!\narguments: 2\n  [0] 42\n  [1] x y\n"))
        }

        @Test func runOfACrashingGuestExits139WithASymbolizedReport() throws {
            let result = try tessera(["run", "examples/crash"])
            #expect(result.status == 139)
            #expect(result.stdout.contains("writeThroughNull"))
        }

        @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
        func stopSignalStopsTheVMAndLeavesNoQEMUBehind(signal: Int32, expected: Int32) throws {
            let result = try tessera(["run", "Tests/ImageTests/Apps/idle"], interruptAfter: "idle: waiting", signal: signal)
            #expect(result.status == expected)
            let exitRecordFiles = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
            #expect(!exitRecordFiles.contains { $0.hasPrefix("tessera-exit-\(result.pid)-") })
            // No QEMU still running this image.
            let listing = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
            #expect(!listing.isEmpty)
            let running = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { $0.allSatisfy(\.isNumber) }
                .compactMap { try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8) }
                .filter { $0.contains("qemu-system") && $0.contains("idle.elf") }
            #expect(running.isEmpty)
        }

        @Test func brokenManifestExits65AndNamesTheLine() throws {
            let app = try ImageHarness.copy(ImageHarness.example("hello"), manifest: """
                name: hello
                app:
                  sources: [main.swift]
                  type: Hello
                memroy: 2M
                """)
            defer { try? FileManager.default.removeItem(at: app) }
            let build = try tessera(["build", app.path])
            #expect(build.status == 65)
            #expect(build.stderr.contains("tessera.yaml:5:1: error: unknown key 'memroy'"))
            let run = try tessera(["run", app.path])
            #expect(run.status == 125)
            #expect(run.stderr.contains("unknown key 'memroy'"))
        }

        @Test func missingQEMUIsReportedWithHowToInstallIt() throws {
            // A PATH with the Swift toolchain (to build) but without QEMU.
            let swiftc = try #require(ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
                .map(String.init).first { FileManager.default.isExecutableFile(atPath: $0 + "/swiftc") })
            var environment = ProcessInfo.processInfo.environment
            environment["PATH"] = swiftc
            let result = try tessera(["run", "examples/hello"], environment: environment)
            #expect(result.status == 125)
            #expect(result.stderr.contains("qemu-system-x86_64 not found"))
            #expect(result.stderr.contains("apt-get install qemu-system-x86"))
        }

        @Test func unknownPlatformIsAUsageError() throws {
            let result = try tessera(["run", "examples/hello", "--platform", "qemu-arm"])
            #expect(result.status == 64)
            #expect(result.stderr.contains("valid choices: qemu-microvm, qemu-pc, qemu-q35, kvm"))
        }

        @Test func missingTapDeviceAndBadParametersAreClearErrors() throws {
            let tap = try tessera(["run", "examples/httpd", "--net", "tap:tsr-missing0"])
            #expect(tap.status == 125)
            #expect(tap.stderr.contains("tap device 'tsr-missing0' does not exist"))
            let both = try tessera(["run", "examples/httpd", "--net", "tap:tsr-missing0", "-p", "8080:80"])
            #expect(both.status == 125)
            #expect(both.stderr.contains("-p forwards ports of QEMU user networking"))
            let parameter = try tessera(["run", "examples/hello", "-e", "ip"])
            #expect(parameter.status == 64)
            #expect(parameter.stderr.contains("invalid -e 'ip'"))
            let net = try tessera(["run", "examples/hello", "--net", "bridge"])
            #expect(net.status == 64)
            #expect(net.stderr.contains("unknown --net 'bridge'"))
        }

        @Test func libsListsEveryLibraryWithItsRole() throws {
            let result = try tessera(["libs"])
            #expect(result.status == 0)
            for name in ["alloc-region", "alloc-tlsf", "allocator-api", "arch-x86", "kernel", "console-serial", "platform-qemu"] {
                #expect(result.stdout.contains("\(name)  ["))
            }
            #expect(result.stdout.contains("implements 'allocator' as TLSFAllocator"))
        }

        @Test func sizeShowsOneRowPerLinkedLibrary() throws {
            let result = try tessera(["size", "examples/hello"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("alloc-region"))
            #expect(!result.stdout.contains("alloc-tlsf"))
            #expect(result.stdout.contains("image file: "))
        }
    }
}
