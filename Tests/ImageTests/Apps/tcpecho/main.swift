import Kernel
import NetInterface
import NetStack
import NetTCP

struct TCPEcho: Application {
    static func main(arguments: [String]) -> Int32 {
        let network: Network
        do {
            network = try Network.start(.static(.qemuUser))
        } catch {
            print("tcpecho: network: \(error)")
            return 2
        }
        let listener: TCPListener
        do {
            listener = try TCPListener.listen(port: 7)
        } catch {
            print("tcpecho: listen: \(error)")
            return 2
        }
        print("tcpecho: listening on \(network.configuration.address):7 (interrupts: \(network.interruptsEnabled))")
        while true {
            guard let stream = try? listener.accept() else { continue }
            print("tcpecho: connection from \(stream.remote.map { "\($0)" } ?? "?")")
            var buffer = [UInt8](repeating: 0, count: 4096)
            var total = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { (try? stream.read(into: $0)) ?? 0 }
                if count == 0 { break }
                if buffer[0..<count].starts(with: Array("quit".utf8)) {
                    stream.close()
                    print("tcpecho: quit after \(total) bytes")
                    return 0
                }
                do {
                    try stream.write(Array(buffer[0..<count]))
                } catch {
                    print("tcpecho: write: \(error)")
                    break
                }
                total += count
            }
            print("tcpecho: connection closed after \(total) bytes")
            stream.close()
        }
    }
}
