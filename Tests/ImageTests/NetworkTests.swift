// Network device image tests: the virtio-net driver against QEMU's user-mode network.

import Foundation
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

        @Test func withoutADeviceTheDriverSaysSo() throws {
            let boot = try ImageHarness.boot(try ImageHarness.build(ImageHarness.testApp("arp")), network: false)
            #expect(boot.result.exitCode == 2)
            #expect(boot.lines.contains("arp: no network device"))
        }
    }
}
