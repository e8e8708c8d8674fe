import Clock
import Kernel
import NetInterface
import NetWire

struct DHCPApp: Application {
    static func main(arguments: [String]) -> Int32 {
        guard let device = TesseraImage.NetDevice() else { print("dhcp: no network device"); return 2 }
        let unconfigured = InterfaceConfiguration(address: IPv4Address(rawValue: 0), prefixLength: 0, gateway: nil)
        var interface = Interface(device: device, configuration: unconfigured)
        var client = DHCPClient(hardwareAddress: interface.macAddress, transactionID: UInt32(truncatingIfNeeded: Clock.now()))
        _ = interface.bindUDP(port: DHCPClient.clientPort)
        func broadcast(_ message: [UInt8]) {
            message.withUnsafeBytes {
                _ = interface.sendUDP(from: DHCPClient.clientPort, to: .broadcast, port: DHCPClient.serverPort,
                                      payload: $0, now: Clock.now())
            }
        }
        let start = Clock.now()
        while !client.isBound && Clock.now() - start < 10_000_000_000 {
            if let message = client.messageDue(now: Clock.now()) { broadcast(message) }
            interface.poll(now: Clock.now())
            while let datagram = interface.receiveUDP(port: DHCPClient.clientPort) {
                if let answer = datagram.payload.withUnsafeBytes({ client.handle($0, now: Clock.now()) }) { broadcast(answer) }
            }
            Clock.sleep(nanoseconds: 500_000)
        }
        guard let lease = client.lease else { print("dhcp: no lease"); return 1 }
        interface.configuration = lease.configuration
        var dns = ""
        for server in lease.dnsServers { dns += " \(server)" }
        print("dhcp: bound \(lease.address)/\(lease.prefixLength) gateway \(lease.gateway.map { "\($0)" } ?? "none") dns\(dns) lease \(lease.leaseSeconds) s")
        let sent = Clock.now()
        _ = interface.ping(lease.gateway ?? .broadcast, identifier: 1, sequenceNumber: 1, now: sent)
        while Clock.now() - sent < 1_000_000_000 {
            interface.poll(now: Clock.now())
            if !interface.takeEchoReplies().isEmpty { print("dhcp: gateway answers ping"); return 0 }
        }
        print("dhcp: gateway did not answer")
        return 1
    }
}
