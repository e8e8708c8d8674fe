// Network device image tests: the virtio-net driver against QEMU's user-mode network.

import Foundation
import Glibc
import Testing
import TesseraKit

extension ImageSuite {
    @Suite
    struct NetworkTests {
        @Test func virtioNetResolvesTheGatewayWithARP() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("arp"))
            #expect(product.resolved.binding(for: "net-device")?.library == "virtio-net")
            let boot = try ImageHarness.boot(product, network: true)
            #expect(boot.result.exitCode == 0)
            #expect(boot.lines.contains("arp: virtio-net mac 52:54:00:12:34:56 mtu 1500 link up"))
            #expect(boot.lines.contains("arp: 10.0.2.2 is at 52:55:0a:00:02:02"))
            #expect(boot.lines.contains("arp: frames sent 1 received 1 interrupts no"))
        }

        @Test func interruptModeWakesTheWaiterWhenTheReplyArrives() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("arp")),
                                             arguments: ["interrupts"], network: true)
            #expect(boot.result.exitCode == 0)
            #expect(boot.lines.contains("arp: interrupts enabled true"))
            #expect(boot.lines.contains("arp: 10.0.2.2 is at 52:55:0a:00:02:02"))
            #expect(boot.lines.contains("arp: frames sent 1 received 1 interrupts yes"))
        }

        @Test func theInterfacePingsTheGatewayAfterResolvingItsMAC() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("ping")), network: true)
            #expect(boot.result.exitCode == 0)
            for sequence in 1...3 {
                #expect(boot.lines.contains { $0.hasPrefix("ping: reply from 10.0.2.2 seq \(sequence) time ") })
            }
            #expect(boot.lines.contains("ping: 3/3 replies; arp requests 1, frames out 4 in 4"))
        }

        @Test func udpEchoThroughAForwardedHostPort() throws {
            let product = try ImageHarness.build(ImageHarness.testApp("udpecho"))
            let hostPort = UInt16(20_000 + Int(getpid()) % 20_000)
            final class State: @unchecked Sendable {
                let ready = DispatchSemaphore(value: 0)
                var lines: [String] = []
                var result: RunResult?
                var options: RunOptions?
                let finished = DispatchSemaphore(value: 0)
            }
            let state = State()
            var options = RunOptions(image: product.image, debugImage: product.debugImage, machine: .microvm,
                                     memoryBytes: product.resolved.manifest.memory, arguments: [])
            options.userNetwork = true
            options.portForwards = [PortForward(hostPort: hostPort, guestPort: 7, transport: .udp)]
            options.consoleSink = { line in
                state.lines.append(line)
                if line.hasPrefix("udpecho: ready") { state.ready.signal() }
            }
            state.options = options
            DispatchQueue.global().async {
                state.result = try? QEMURunner.run(state.options!) { _ in }
                state.finished.signal()
            }
            #expect(state.ready.wait(timeout: .now() + 60) == .success)

            let client = UDPClient(port: hostPort)
            defer { client.close() }
            for message in ["hello tessera", String(repeating: "x", count: 1400)] {
                client.send(message)
                #expect(client.receive() == message)
            }
            client.send("quit")
            #expect(state.finished.wait(timeout: .now() + 30) == .success)
            #expect(state.result?.exitCode == 0)
            #expect(state.lines.contains("udpecho: quit after 2 datagrams"))
        }

        @Test func dhcpLeaseFromQEMUsServerConfiguresTheInterface() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("dhcp")), network: true)
            #expect(boot.result.exitCode == 0)
            #expect(boot.lines.contains("dhcp: bound 10.0.2.15/24 gateway 10.0.2.2 dns 10.0.2.3 lease 86400 s"))
            #expect(boot.lines.contains("dhcp: gateway answers ping"))
        }

        @Test func portForwardingSyntax() {
            #expect(PortForward("8080:80") == PortForward(hostPort: 8080, guestPort: 80, transport: .tcp))
            #expect(PortForward("5555:7/udp") == PortForward(hostPort: 5555, guestPort: 7, transport: .udp))
            #expect(PortForward("8080") == nil)
            #expect(PortForward("0:80") == nil)
            #expect(PortForward("80:80/sctp") == nil)
        }

        @Test func withoutADeviceTheDriverSaysSo() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("arp")), network: false)
            #expect(boot.result.exitCode == 2)
            #expect(boot.lines.contains("arp: no network device"))
        }
    }
}
