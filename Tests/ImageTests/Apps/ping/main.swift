import Clock
import Kernel
import NetInterface
import NetWire

struct Ping: Application {
    static func main(arguments: [String]) -> Int32 {
        guard let device = TesseraImage.NetDevice() else {
            print("ping: no network device")
            return 2
        }
        var interface = Interface(device: device, configuration: .qemuUser)
        let target = IPv4Address(10, 0, 2, 2)
        var received = 0
        for sequence in 1...3 {
            let sent = Clock.now()
            guard interface.ping(target, identifier: 0x7E55, sequenceNumber: UInt16(sequence), now: sent) else {
                print("ping: could not send \(sequence)")
                return 1
            }
            var answered = false
            while !answered && Clock.now() - sent < 1_000_000_000 {
                interface.poll(now: Clock.now())
                for reply in interface.takeEchoReplies() where reply.sequenceNumber == UInt16(sequence) {
                    print("ping: reply from \(reply.from) seq \(reply.sequenceNumber) time \((reply.receivedAt - sent) / 1000) us")
                    answered = true
                    received += 1
                }
            }
            if !answered { print("ping: no reply to \(sequence)") }
        }
        let s = interface.statistics
        print("ping: \(received)/3 replies; arp requests \(s.arpRequestsSent), frames out \(s.framesOut) in \(s.framesIn)")
        return received == 3 ? 0 : 1
    }
}
