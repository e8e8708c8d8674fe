import Clock
import Kernel
import NetInterface
import NetWire
import PCI

nonisolated(unsafe) var framesArrived = false

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

struct PCINet: Application {
    static func main(arguments: [String]) -> Int32 {
        guard let function = PCI.first(where: { $0.vendorID == 0x1AF4 && $0.deviceID == 0x1041 }) else {
            print("pcinet: no virtio-net-pci function")
            return 2
        }
        for index in 0..<function.barCount {
            if let bar = function.bar(index), bar.isMemory {
                print("pcinet: \(function.address.description) bar \(index) at \(hex(bar.address)) size \(hex(bar.size))")
            }
        }
        guard var device = TesseraImage.NetDevice() else {
            print("pcinet: no network device")
            return 2
        }
        print("pcinet: \(TesseraImage.NetDevice.name) mac \(device.macAddress.description) mtu \(device.mtu) link \(device.isLinkUp ? "up" : "down")")
        print("pcinet: interrupts enabled \(device.enableInterrupts(context: nil) { _ in framesArrived = true })")

        var interface = Interface(device: device, configuration: .qemuUser)
        let gateway = IPv4Address(10, 0, 2, 2)
        var replies = 0
        for sequence in 1...3 {
            let sent = Clock.now()
            guard interface.ping(gateway, identifier: 0x7E55, sequenceNumber: UInt16(sequence), now: sent) else {
                print("pcinet: could not send \(sequence)")
                return 1
            }
            var answered = false
            while !answered && Clock.now() - sent < 1_000_000_000 {
                // Sleep until the device interrupts (checked every millisecond), then take what came.
                while !framesArrived && Clock.now() - sent < 1_000_000_000 { Clock.sleep(nanoseconds: 1_000_000) }
                framesArrived = false
                interface.poll(now: Clock.now())
                for reply in interface.takeEchoReplies() where reply.sequenceNumber == UInt16(sequence) {
                    answered = true
                    replies += 1
                }
            }
        }
        let interrupts = interface.device.statistics.interrupts
        print("pcinet: \(replies)/3 replies from \(gateway); device interrupts \(interrupts > 0 ? "yes" : "no")")
        return replies == 3 && interrupts > 0 ? 0 : 1
    }
}
