// virtio-net over virtio-pci on QEMU's pc and q35 machines: the `virtio-net-pci` library against QEMU's
// `virtio-net-pci,disable-legacy=on` on the user-mode network, and what it costs images that do not
// select it.

import Foundation
import Glibc
import Testing
import TesseraKit

extension ImageSuite {
    @Suite
    struct VirtioPCITests {
        /// A copy of test app `name` that binds the network device to virtio-pci.
        static func pciCopy(of name: String, type: String, use: String) throws -> URL {
            try ImageHarness.copy(ImageHarness.testApp(name), manifest: """
                name: \(name)
                app:
                  sources: [main.swift]
                  type: \(type)
                platform: qemu-pc
                libraries:
                  net-device: virtio-net-pci
                use: [\(use)]
                """)
        }

        @Test(arguments: [Machine.pc, .q35])
        func pingsTheGatewayWithMSIXInterrupts(on machine: Machine) throws {
            let product = try ImageHarness.build(ImageHarness.testApp("pcinet"))
            #expect(product.resolved.binding(for: "net-device")?.library == "virtio-net-pci")
            let boot = try ImageHarness.boot(product, machine: machine, network: true)
            #expect(boot.result.exitCode == 0, "\(boot.output)")
            #expect(boot.lines.contains("pcinet: virtio-net mac 52:54:00:12:34:56 mtu 1500 link up"))
            #expect(boot.lines.contains("pcinet: interrupts enabled true"))
            #expect(boot.lines.contains("pcinet: 3/3 replies from 10.0.2.2; device interrupts yes"))
        }

        @Test(arguments: [Machine.pc, .q35])
        func udpEchoThroughAForwardedHostPort(on machine: Machine) throws {
            let app = try Self.pciCopy(of: "udpecho", type: "UDPEcho", use: "clock, net-interface")
            defer { try? FileManager.default.removeItem(at: app) }
            let product = try ImageHarness.build(app)
            let hostPort = RunningImage.freePort(udp: true)
            final class State: @unchecked Sendable {
                let lock = NSLock()
                let ready = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
                var lines: [String] = []
                var result: RunResult?
            }
            let state = State()
            var options = RunOptions(image: product.image, debugImage: product.debugImage, machine: machine,
                                     memoryBytes: product.resolved.manifest.memory, arguments: [])
            options.userNetwork = true
            options.portForwards = [PortForward(hostPort: hostPort, guestPort: 7, transport: .udp)]
            options.consoleSink = { line in
                state.lock.withLock { state.lines.append(line) }
                if line.hasPrefix("udpecho: ready") { state.ready.signal() }
            }
            final class Box: @unchecked Sendable { let options: RunOptions; init(_ options: RunOptions) { self.options = options } }
            let box = Box(options)
            DispatchQueue.global().async {
                let result = try? QEMURunner.run(box.options) { _ in }
                state.lock.withLock { state.result = result }
                state.finished.signal()
            }
            try #require(state.ready.wait(timeout: .now() + 60) == .success)

            let client = UDPClient(port: hostPort)
            defer { client.close() }
            for message in ["hello over \(machine.rawValue)", String(repeating: "p", count: 1400)] {
                client.send(message)
                #expect(client.receive() == message)
            }
            client.send("quit")
            #expect(state.finished.wait(timeout: .now() + 30) == .success)
            state.lock.withLock {
                #expect(state.result?.exitCode == 0)
                #expect(state.lines.contains("udpecho: quit after 2 datagrams"))
            }
        }

        @Test func aSixtyFourBitBARAboveFourGiBIsMapped() throws {
            // A 1 GiB ivshmem BAR does not fit q35's 32-bit PCI window, so SeaBIOS moves the 64-bit
            // BARs, virtio's BAR 4 among them, above 4 GiB (newer SeaBIOS releases may do that on their own).
            let product = try ImageHarness.build(ImageHarness.testApp("pcinet"))
            var options = RunOptions(image: product.image, debugImage: product.debugImage, machine: .q35,
                                     memoryBytes: product.resolved.manifest.memory, arguments: [])
            options.userNetwork = true
            options.extraQEMUArguments = ["-object", "memory-backend-ram,id=filler,size=1G",
                                          "-device", "ivshmem-plain,memdev=filler"]
            final class Lines: @unchecked Sendable { var items: [String] = [] }
            let lines = Lines()
            options.consoleSink = { lines.items.append($0) }
            let result = try QEMURunner.run(options) { _ in }
            #expect(result.exitCode == 0, "\(lines.items.joined(separator: "\n"))")
            let bar4 = lines.items.first { $0.hasPrefix("pcinet: 00:01.0 bar 4 at ") }
            let address = bar4.flatMap { UInt64($0.split(separator: " ")[5].dropFirst(2), radix: 16) }
            #expect((address ?? 0) >= 0x1_0000_0000, "\(bar4 ?? "no bar 4 line")")
            #expect(lines.items.contains("pcinet: 3/3 replies from 10.0.2.2; device interrupts yes"))
        }

        @Test func aVirtioMMIOImageCarriesNoPCICode() throws {
            let mmio = try ImageHarness.build(ImageHarness.testApp("udpecho"))
            let app = try Self.pciCopy(of: "udpecho", type: "UDPEcho", use: "clock, net-interface")
            defer { try? FileManager.default.removeItem(at: app) }
            let pci = try ImageHarness.build(app)
            let pciLibraries = ["pci", "virtio-pci", "virtio-net-pci"]

            #expect(!mmio.resolved.libraries.contains { pciLibraries.contains($0.name) })
            #expect(Set(pciLibraries).isSubset(of: pci.resolved.libraries.map(\.name)))
            let mmioSymbols = try ELFFile(contentsOf: mmio.debugImage).symbols.map(\.name)
            let pciSymbols = try ELFFile(contentsOf: pci.debugImage).symbols.map(\.name)
            // Swift code of the PCI libraries, and the port and MMIO helpers only they call.
            for marker in ["3PCI", "9VirtioPCI", "tessera_outw", "tessera_mmio_write16", "tessera_mmio_write8"] {
                #expect(!mmioSymbols.contains { $0.contains(marker) }, "\(marker) in the virtio-mmio image")
                #expect(pciSymbols.contains { $0.contains(marker) }, "\(marker) missing from the virtio-pci image")
            }
            let sizes = try SizeReport(product: mmio)
            #expect(!sizes.rows.contains { pciLibraries.contains($0.library) })
        }
    }
}
