// Monitor tests: images on Tessera's own KVM monitor (`tessera run --platform kvm`, `tessera-kvm`).
//
// They need a usable /dev/kvm: without one each test is skipped (Swift Testing reports it) — the
// monitor's pure logic (ELF checks, guest-address checks, boot layout, seccomp program) is covered by
// KVMMonitorTests on any host.

import Foundation
import Testing
import TesseraKit

enum MonitorHarness {
    static var kvmAvailable: Bool { access("/dev/kvm", R_OK | W_OK) == 0 }

    /// `tessera-kvm`, built next to `tessera`.
    static let executable = tesseraExecutable.deletingLastPathComponent().appendingPathComponent("tessera-kvm")

    static func build(_ app: URL) throws -> BuildProduct {
        let builder = try Builder(toolchain: Toolchain.locate(), libraryRoot: ImageHarness.libraryRoot)
        return try builder.build(manifestPath: app.appendingPathComponent("tessera.yaml").path, platform: "kvm")
    }

    static func run(_ arguments: [String]) throws -> CLIResult {
        try tessera(arguments, executable: executable)
    }

    /// Tap networking needs root, /dev/net/tun and ip (iproute2).
    static var tapAvailable: Bool {
        getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/net/tun") && hostToolExists("ip")
    }

    /// `tessera run ARGS` in the background until its console shows `ready`; `stop` sends SIGTERM.
    final class Server: @unchecked Sendable {
        let process = Process()
        let lock = NSLock()
        var output = ""
        let errors = Pipe()

        init(_ arguments: [String], ready: String) throws {
            process.executableURL = tesseraExecutable
            process.arguments = arguments
            process.currentDirectoryURL = ImageHarness.repository
            let out = Pipe()
            process.standardOutput = out
            process.standardError = errors
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let handle = out.fileHandleForReading
            let seen = DispatchSemaphore(value: 0)
            DispatchQueue.global().async { [self] in
                var signalled = false
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    let text = lock.withLock { output += String(decoding: chunk, as: UTF8.self); return output }
                    if !signalled && text.contains(ready) { signalled = true; seen.signal() }
                }
                if !signalled { seen.signal() }
            }
            _ = seen.wait(timeout: .now() + 120)
        }

        var console: String { lock.withLock { output } }

        /// SIGTERM, then the exit status and standard error.
        func stop() -> (status: Int32, errors: String) {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return (process.terminationStatus, text)
        }
    }
}

extension ImageSuite {
    @Suite(.enabled(if: MonitorHarness.kvmAvailable, "needs /dev/kvm"))
    struct MonitorTests {
        @Test func helloRunsOnTheMonitorAndExitsWithItsCode() throws {
            let result = try tessera(["run", "examples/hello", "--platform", "kvm", "--", "3", "two words"])
            #expect(result.status == 3, "stderr: \(result.stderr)")
            #expect(result.stdout == "Hello from Tessera!\narguments: 2\n  [0] 3\n  [1] two words\n")
        }

        @Test func kernelParametersReachTheGuest() throws {
            let result = try tessera(["run", "examples/hello", "--platform", "kvm", "--boot-stats"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdout.contains("tessera: boot: entry to main "))
        }

        static let hostileCases: [(name: String, message: String)] = [
            ("argument-out-of-range", "malformed hypercall console-write: 0x201000 + 16 bytes is outside guest memory (2097152 bytes)"),
            ("argument-straddles-end", "malformed hypercall console-write: 0x1ffff8 + 16 bytes is outside guest memory"),
            ("argument-misaligned", "is not 8-byte aligned"),
            ("data-out-of-range", "malformed hypercall console-write: 0x7fff00000000 + 16 bytes is outside guest memory"),
            ("data-wraps", "malformed hypercall console-write: 0xfffffffffffffff0 + 32 bytes wraps around the address space"),
            ("data-past-end", "malformed hypercall console-write: 0x1ffff8 + 16 bytes is outside guest memory"),
            ("data-too-long", "malformed hypercall console-write: length 1073741824 is over the limit of 65536 bytes"),
            ("wrong-width", "malformed hypercall console-write: must be one 4-byte out (outl); got out of 1 bytes"),
            ("in-instead-of-out", "malformed hypercall wall-time: must be one 4-byte out (outl); got in of 4 bytes"),
            ("unknown-call", "malformed hypercall port 0x509: out to a port outside the hypercall ABI"),
            ("stray-port", "malformed hypercall port 0x3f8: out to a port outside the hypercall ABI"),
            ("halt-code-too-big", "malformed hypercall halt: exit code 256 is over 255"),
            ("net-without-device", "malformed hypercall net-write: no network device is attached"),
            ("block-without-device", "malformed hypercall block-read: no block device is attached"),
            ("poll-forever", "malformed hypercall poll: waits forever with no device that could wake it"),
            ("output-into-boot-info", "malformed hypercall wall-time: 0x1100 + 8 bytes overlaps memory the guest may not write (0x0-0x100000)"),
            ("write-boot-info", "the guest crashed: triple fault"),
            ("null-read", "the guest crashed: triple fault"),
            ("execute-data", "the guest crashed: triple fault"),
            ("privileged", "the guest crashed: triple fault"),
        ]

        @Test func theMonitorRefusesEachHostileHypercallAndEndsTheGuest() throws {
            let image = try MonitorHarness.build(ImageHarness.testApp("hostile")).image.path
            let control = try MonitorHarness.run([image, "--", "ok"])
            #expect(control.status == 0 && !control.signaled, "stderr: \(control.stderr)")
            #expect(control.stdout.contains("ok_line"))
            for (name, message) in Self.hostileCases {
                let result = try MonitorHarness.run([image, "--", name])
                #expect(!result.signaled, "\(name): the monitor died of signal \(result.status)")
                #expect(result.status == 139, "\(name): exit \(result.status), stderr: \(result.stderr)")
                #expect(result.stderr.contains(message), "\(name): stderr: \(result.stderr)")
                #expect(result.stdout.contains("hostile: \(name)"), "\(name): the case did not start: \(result.stdout)")
                #expect(!result.stdout.contains("survived"), "\(name): the guest went on after the violation")
            }
        }

        @Test func blockHypercallsOutsideTheDiskAreRefused() throws {
            let image = try MonitorHarness.build(ImageHarness.testApp("hostile")).image.path
            let disk = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-hostile-\(UUID().uuidString).img")
            try Data(count: 8 * 512).write(to: disk)
            defer { try? FileManager.default.removeItem(at: disk) }
            for (name, message) in [("block-past-end", "sectors 8 + 1 are past the disk's 8"),
                                    ("block-wraps", "sectors 18446744073709551615 + 1 are past the disk's 8"),
                                    ("block-buffer-out-of-range", "malformed hypercall block-write: 0x1fff00 + 512 bytes is outside guest memory"),
                                    ("block-read-into-code", "bytes overlaps memory the guest may not write (0x100000-")] {
                let result = try MonitorHarness.run(["--disk", disk.path, image, "--", name])
                #expect(result.status == 139 && !result.signaled, "\(name): exit \(result.status), stderr: \(result.stderr)")
                #expect(result.stderr.contains(message), "\(name): stderr: \(result.stderr)")
            }
        }

        @Test func seccompKillsTheMonitorOnAForbiddenCallAfterSetup() throws {
            let image = try MonitorHarness.build(ImageHarness.example("hello")).image.path
            let confined = try MonitorHarness.run(["--attempt-forbidden-call", image])
            #expect(confined.signaled && confined.status == SIGSYS, "status \(confined.status), stderr: \(confined.stderr)")
            // The control: without the filter the same call goes through, so the test above can fail.
            let unconfined = try MonitorHarness.run(["--no-seccomp", "--attempt-forbidden-call", image])
            #expect(!unconfined.signaled && unconfined.status == 125)
            #expect(unconfined.stderr.contains("openat(2) was allowed"))
            // And a confined run of a well-behaved guest completes.
            let normal = try MonitorHarness.run([image, "--", "7"])
            #expect(normal.status == 7 && normal.stdout.contains("Hello from Tessera!"), "stderr: \(normal.stderr)")
        }

        @Test func aConsoleReaderThatWentAwayDoesNotKillTheMonitor() throws {
            let image = try MonitorHarness.build(ImageHarness.example("hello")).image.path
            let process = Process()
            process.executableURL = MonitorHarness.executable
            process.arguments = [image, "--", "3"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try out.fileHandleForReading.close()                 // nobody will read the console
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationReason == .exit, "killed by signal \(process.terminationStatus)")
            #expect(process.terminationStatus == 3)
        }

        @Test func missingOrBusyDevicesAreRefusedBeforeBoot() throws {
            let image = try MonitorHarness.build(ImageHarness.example("hello")).image.path
            let noTap = try MonitorHarness.run(["--net", "tap:tsr-missing9", image])
            #expect(noTap.status == 125 && noTap.stderr.contains("tap device 'tsr-missing9' does not exist"), "\(noTap.stderr)")
            #expect(noTap.stdout.isEmpty)
            let noDisk = try MonitorHarness.run(["--disk", "/nonexistent/disk.img", image])
            #expect(noDisk.status == 125 && noDisk.stderr.contains("cannot open disk '/nonexistent/disk.img'"), "\(noDisk.stderr)")
            let disk = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-busy-\(UUID().uuidString).img")
            try Data(count: 4096).write(to: disk)
            defer { try? FileManager.default.removeItem(at: disk) }
            let holder = open(disk.path, O_RDWR)
            defer { close(holder) }
            #expect(flock(holder, LOCK_EX) == 0)
            let busy = try MonitorHarness.run(["--disk", disk.path, image])
            #expect(busy.status == 125 && busy.stderr.contains("is busy"), "\(busy.stderr)")
            let odd = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-odd-\(UUID().uuidString).img")
            try Data(count: 1000).write(to: odd)
            defer { try? FileManager.default.removeItem(at: odd) }
            let partial = try MonitorHarness.run(["--disk", odd.path, image])
            #expect(partial.status == 125 && partial.stderr.contains("multiple of 512"), "\(partial.stderr)")
        }

        @Test func blockDeviceReadsAndWritesTheDiskFile() throws {
            let disk = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-disk-\(UUID().uuidString).img")
            var content = Data("the first sector of a test disk\n".utf8)
            content.append(Data(count: 1024 * 512 - content.count))
            try content.write(to: disk)
            defer { try? FileManager.default.removeItem(at: disk) }
            let unattached = try tessera(["run", "Tests/ImageTests/Apps/disk"])
            #expect(unattached.status == 64 && unattached.stderr.contains("the image's block device 'data' is not attached: add --disk data=FILE"),
                    "\(unattached.stderr)")
            let result = try tessera(["run", "Tests/ImageTests/Apps/disk", "--disk", "data=" + disk.path])
            #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stdout.contains("disk: 1024 sectors of 512 bytes"))
            #expect(result.stdout.contains("sector 0: the first sector of a test disk"))
            #expect(result.stdout.contains("disk: 300 sectors written and read back"))
            #expect(result.stdout.contains("disk: read past the end refused; errors 1"))
            // The host file holds what the guest wrote, and nothing past sector 300 changed.
            let after = try Data(contentsOf: disk)
            #expect(after.count == 1024 * 512)
            #expect(after[512..<(512 + 32)] == Data("sector 1 written by tessera\n".utf8) + Data(count: 4))
            #expect(after[(300 * 512)..<(300 * 512 + 30)] == Data("sector 300 written by tessera\n".utf8))
            #expect(result.stdout.contains("cache: 15 dirty before flush, flush ok, write-backs 40"), "\(result.stdout)")
            #expect(after[(40 * 4096)..<(41 * 4096)].allSatisfy { $0 == 40 } && after[(79 * 4096)..<(80 * 4096)].allSatisfy { $0 == 79 })
            #expect(after[(301 * 512)..<(40 * 4096)].allSatisfy { $0 == 0 })
            #expect(after[(80 * 4096)...].allSatisfy { $0 == 0 })
        }

        @Test(.enabled(if: MonitorHarness.tapAvailable, "needs root, /dev/net/tun and ip"))
        func httpdServesCurlAndWrkThroughTheMonitorsTap() throws {
            let tap = try HostTap(tag: "m", octet: 150)
            defer { tap.remove() }
            let subnet = tap.subnet
            let server = try MonitorHarness.Server(["run", "examples/httpd", "--platform", "kvm", "--net", "tap:\(tap.name)",
                                                    "-e", "ip=\(subnet).2/24", "-e", "gateway=\(subnet).1", "--", "--quiet"],
                                                   ready: "httpd: serving")
            #expect(server.console.contains("on \(subnet).2:80"), "\(server.console)")
            let index = try Data(contentsOf: ImageHarness.example("httpd").appendingPathComponent("rootfs/www/index.html"))
            let get = try runHostTool(["curl", "-sS", "--max-time", "20", "http://\(subnet).2/"])
            #expect(Data(get.output.utf8) == index)
            let missing = try runHostTool(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "http://\(subnet).2/nothing-here"])
            #expect(missing.output == "404")
            if hostToolExists("wrk") {
                let load = try runHostTool(["wrk", "-t1", "-c10", "-d2s", "http://\(subnet).2/"])
                #expect(load.output.contains("Requests/sec"), "\(load.output)")
                #expect(!load.output.contains("Non-2xx") && !load.output.contains("Socket errors"), "\(load.output)")
            }
            let (status, errors) = server.stop()
            #expect(status == 128 + SIGTERM, "tessera run should stop the monitor and exit 143: \(status) \(errors)")
        }

        @Test(.enabled(if: MonitorHarness.tapAvailable && hostToolExists("redis-cli"), "needs root, /dev/net/tun, ip and redis-cli"))
        func kvAnswersRedisCliAndServesMetricsThroughTheMonitorsTap() throws {
            let tap = try HostTap(tag: "v", octet: 50)
            defer { tap.remove() }
            let subnet = tap.subnet
            let server = try MonitorHarness.Server(["run", "examples/kv", "--platform", "kvm", "--net", "tap:\(tap.name)",
                                                    "-e", "ip=\(subnet).2/24", "-e", "gateway=\(subnet).1"],
                                                   ready: "kv: ready")
            let session = try runHostTool(["sh", "-c", "redis-cli -h \(subnet).2 set greeting hello && redis-cli -h \(subnet).2 get greeting && redis-cli -h \(subnet).2 incrby counter 41 && redis-cli -h \(subnet).2 incr counter"])
            #expect(session.output == "OK\nhello\n41\n42\n", "\(session.output) \(server.console)")
            let metrics = try runHostTool(["curl", "-sS", "--max-time", "20", "http://\(subnet).2:9100/metrics"])
            #expect(metrics.output.contains("tessera_uptime_seconds "), "\(metrics.output.prefix(300))")
            let (status, errors) = server.stop()
            #expect(status == 128 + SIGTERM, "\(status) \(errors)")
        }

        @Test func aThreadStackOverflowEndsInACrashReportThatSaysSo() throws {
            // No guard page under the monitor: the recursion runs until read-only memory stops it.
            let result = try tessera(["run", "Tests/ImageTests/Apps/overflow", "--platform", "kvm"])
            #expect(result.status == 139, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("probably a stack overflow"), "\(result.stderr)")
            #expect(result.stderr.contains("recurse"), "the recursing function is named: \(result.stderr)")
        }

        @Test func aThreadThatOnlyYieldsDoesNotKeepASleeperAsleep() throws {
            // No timer interrupt under the monitor: the scheduler must wake sleepers at every switch.
            let result = try tessera(["run", "Tests/ImageTests/Apps/yielder"])
            #expect(result.status == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
            #expect(result.stdout.contains("yielder: sleeper woke after "))
        }

        @Test func aGuestCrashIsReportedWithItsInstructionAndFunction() throws {
            let result = try tessera(["run", "Tests/ImageTests/Apps/hostile", "--", "null-read"])
            #expect(result.status == 139, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("the guest crashed: triple fault"))
            #expect(result.stderr.contains("cr2 0x0000000000000008"), "\(result.stderr)")
            #expect(result.stderr.contains("Hostile"), "the faulting function is named: \(result.stderr)")
            #expect(result.stderr.contains("Kernel.start"), "the backtrace reaches the caller: \(result.stderr)")
        }
    }
}
