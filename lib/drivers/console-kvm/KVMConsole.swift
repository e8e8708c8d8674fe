// KVMConsole: the console under Tessera's KVM monitor. Output goes to the monitor's standard output
// through the console-write hypercall, a line at a time (Hypervisor buffers; the platform's exit
// flushes). There is no console input under the monitor in ABI version 1: `read` returns nil, so the
// serial shell is not available there (the telnet shell is, over the network).

import ConsoleAPI
import PlatformKVM

public enum KVMConsole: Console {
    public static var name: StaticString { "kvm-hypercall" }
    public static func initialize() {}
    public static func write(_ byte: UInt8) { Hypervisor.writeConsole(byte) }
    public static func read() -> UInt8? { nil }
}
