// NetCommand: the shell's `net` — the interface's configuration and every counter the stack keeps.
//
// Each figure is read under the stack's lock by its own accessor, so the lines are each consistent
// but not taken at one instant. (Written piece by piece rather than with string interpolation: in an
// embedded image each interpolation costs tens of bytes of code.)

import NetDeviceAPI
import NetInterface
import NetStack
import NetTCP
import ShellCore

enum NetCommand<I: NetworkedImage> {
    static func run(_ out: inout CommandInvocation) {
        guard let network = NetworkStack<I>.shared else {
            out.line("no network")
            return
        }
        let configuration = network.configuration
        out.write("interface ")
        out.write(configuration.address.description)
        out.write("/")
        out.write(configuration.prefixLength)
        if let gateway = configuration.gateway {
            out.write(", gateway ")
            out.write(gateway.description)
        }
        out.write(", MAC ")
        out.write(network.macAddress.description)
        if let lease = network.lease {
            out.write(", DHCP lease of ")
            out.write(Int(lease.leaseSeconds))
            out.write(" s from ")
            out.line(lease.server.description)
        } else {
            out.line(", static")
        }

        let device = network.deviceStatistics
        out.write("device ")
        out.write(string(I.NetDevice.name))
        out.write(network.interruptsEnabled ? " (interrupts on)" : " (interrupts off, polled)")
        counter(&out, ": frames in ", device.framesReceived)
        counter(&out, " (", device.bytesReceived)
        counter(&out, " bytes), out ", device.framesSent)
        counter(&out, " (", device.bytesSent)
        counter(&out, " bytes); interrupts ", device.interrupts)
        counter(&out, ", transmit busy ", device.transmitBusy)
        counter(&out, ", receive errors ", device.receiveErrors)
        out.line()

        let ip = network.interfaceStatistics
        counter(&out, "ip: frames in ", ip.framesIn)
        counter(&out, ", out ", ip.framesOut)
        counter(&out, "; malformed ", ip.malformed)
        counter(&out, ", not for us ", ip.notForUs)
        counter(&out, ", fragments dropped ", ip.fragmentsDropped)
        counter(&out, ", unhandled protocol ", ip.unhandledProtocol)
        counter(&out, ", martians ", ip.martians)
        out.line()
        counter(&out, "arp: requests answered ", ip.arpRequestsAnswered)
        counter(&out, ", sent ", ip.arpRequestsSent)
        counter(&out, ", failures ", ip.arpFailures)
        counter(&out, ", held packets dropped ", ip.heldDropped)
        out.line()
        counter(&out, "icmp: echo requests answered ", ip.echoRequestsAnswered)
        counter(&out, ", echo replies received ", ip.echoRepliesReceived)
        counter(&out, ", port unreachable sent ", ip.portUnreachableSent)
        out.line()
        counter(&out, "udp: received ", ip.udpReceived)
        counter(&out, ", sent ", ip.udpSent)
        counter(&out, ", no port ", ip.udpNoPort)
        counter(&out, ", queue full ", ip.udpQueueFull)
        out.line()

        let tcp = network.tcpStatistics
        counter(&out, "tcp: segments in ", tcp.segmentsIn)
        counter(&out, ", out ", tcp.segmentsOut)
        counter(&out, "; active opens ", tcp.activeOpens)
        counter(&out, ", passive opens ", tcp.passiveOpens)
        counter(&out, ", resets sent ", tcp.resetsSent)
        counter(&out, ", listen overflows ", tcp.listenOverflows)
        counter(&out, ", syn cookies sent ", tcp.synCookiesSent)
        counter(&out, ", accepted ", tcp.synCookiesAccepted)
        counter(&out, ", malformed ", tcp.malformed)
        counter(&out, ", bad checksum ", tcp.badChecksum)
        counter(&out, ", to closed ports ", tcp.closedPortSegments)
        out.line()

        out.write("connections:")
        var separator: StaticString = " "
        for (state, count) in network.tcpConnectionCounts where count > 0 {
            out.write(string(separator))
            out.write(state.rawValue)
            out.write(" ")
            out.write(count)
            separator = ", "
        }
        out.line(separator.utf8CodeUnitCount == 1 ? " none" : "")
    }

    static func counter(_ out: inout CommandInvocation, _ label: StaticString, _ value: Int) {
        out.write(string(label))
        out.write(value)
    }

    static func string(_ text: StaticString) -> String {
        text.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
    }
}
