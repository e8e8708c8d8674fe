import Clock
import Kernel
import NetInterface
import NetWire

struct UDPEcho: Application {
    static func main(arguments: [String]) -> Int32 {
        guard let device = TesseraImage.NetDevice() else {
            print("udpecho: no network device")
            return 2
        }
        var interface = Interface(device: device, configuration: .qemuUser)
        _ = interface.bindUDP(port: 7)
        print("udpecho: ready on \(interface.configuration.address):7")
        var echoed = 0
        while true {
            interface.poll(now: Clock.now())
            while let datagram = interface.receiveUDP(port: 7) {
                if datagram.payload == Array("quit".utf8) {
                    print("udpecho: quit after \(echoed) datagrams")
                    return 0
                }
                datagram.payload.withUnsafeBytes {
                    _ = interface.sendUDP(from: 7, to: datagram.source, port: datagram.sourcePort, payload: $0, now: Clock.now())
                }
                echoed += 1
            }
            Clock.sleep(nanoseconds: 200_000)
        }
    }
}
