import Clock
import Kernel
import NetDeviceAPI

func format(_ mac: MACAddress) -> String { mac.description }

nonisolated(unsafe) var framesArrived = false

struct ARPProbe: Application {
    static func main(arguments: [String]) -> Int32 {
        guard var device = TesseraImage.NetDevice() else {
            print("arp: no network device")
            return 2
        }
        print("arp: \(TesseraImage.NetDevice.name) mac \(format(device.macAddress)) mtu \(device.mtu) link \(device.isLinkUp ? "up" : "down")")
        let interruptMode = arguments.first == "interrupts"
        if interruptMode {
            let enabled = device.enableInterrupts(context: nil) { _ in framesArrived = true }
            print("arp: interrupts enabled \(enabled)")
        }
        // Ethernet broadcast, EtherType ARP; ARP request: who has 10.0.2.2? tell 10.0.2.15.
        var frame: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        for shift in stride(from: 40, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: device.macAddress.rawValue >> UInt64(shift))) }
        frame += [0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01]
        for shift in stride(from: 40, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: device.macAddress.rawValue >> UInt64(shift))) }
        frame += [10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2]
        while frame.count < 60 { frame.append(0) }
        let sent = frame.withUnsafeBytes { device.transmit($0) }
        print("arp: request sent \(sent)")
        let start = Clock.now()
        var answer: String? = nil
        while answer == nil && Clock.now() - start < 2_000_000_000 {
            if interruptMode {
                // Sleep until the device interrupts (checked every millisecond).
                while !framesArrived && Clock.now() - start < 2_000_000_000 { Clock.sleep(nanoseconds: 1_000_000) }
                framesArrived = false
            }
            device.receive(limit: 16) { received in
                guard received.count >= 42, received[12] == 0x08, received[13] == 0x06, received[21] == 2,
                      received[28] == 10, received[29] == 0, received[30] == 2, received[31] == 2 else { return }
                answer = format(MACAddress(received[22], received[23], received[24], received[25], received[26], received[27]))
            }
        }
        guard let answer else {
            print("arp: no reply")
            return 1
        }
        print("arp: 10.0.2.2 is at \(answer)")
        print("arp: frames sent \(device.statistics.framesSent) received \(device.statistics.framesReceived) interrupts \(device.statistics.interrupts > 0 ? "yes" : "no")")
        return 0
    }
}
