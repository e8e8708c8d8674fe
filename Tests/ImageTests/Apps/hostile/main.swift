// hostile: one ABI violation per run, chosen by the first argument. Each case prints what it is about
// to do, then does it; the monitor should end the guest before the next line ("survived") is printed.

import ArchX86
import HypercallABI
import Kernel
import PlatformKVM

struct Hostile: Application {
    static func port(_ call: Hypercall) -> UInt16 { HypercallABI.hypercallPortBase + call.rawValue }
    static func address<T>(of value: inout T) -> UInt64 {
        withUnsafeMutablePointer(to: &value) { UInt64(UInt(bitPattern: $0)) }
    }
    /// Issues `call` with a console-write struct naming `data`/`length`.
    static func consoleWrite(data: UInt64, length: UInt64) {
        var arguments = ConsoleWriteArguments()
        arguments.data = data
        arguments.length = length
        Hypervisor.call(.consoleWrite, &arguments)
    }

    static func main(arguments: [String]) -> Int32 {
        guard let name = arguments.first else {
            print("usage: hostile CASE")
            return 2
        }
        let memory = KVMPlatform.bootInfo.memorySize
        print("hostile: \(name)")
        Hypervisor.flushConsole()
        var message: (UInt64, UInt64) = (0x0A65_6E69_6C5F_6B6F, 0)     // "ok_line\n"
        var block = BlockArguments()
        block.count = 1
        block.data = address(of: &message)
        switch name {
        case "ok":
            consoleWrite(data: address(of: &message), length: 8)
            return 0
        case "argument-out-of-range":
            CPU.outl(port(.consoleWrite), UInt32(memory + 0x1000))
        case "argument-straddles-end":
            CPU.outl(port(.consoleWrite), UInt32(memory - 8))
        case "argument-misaligned":
            CPU.outl(port(.consoleWrite), UInt32(truncatingIfNeeded: address(of: &message) + 4))
        case "data-out-of-range":
            consoleWrite(data: 0x7FFF_0000_0000, length: 16)
        case "data-wraps":
            consoleWrite(data: 0xFFFF_FFFF_FFFF_FFF0, length: 0x20)
        case "data-past-end":
            consoleWrite(data: memory - 8, length: 16)
        case "data-too-long":
            consoleWrite(data: 0x10_0000, length: 1 << 30)
        case "wrong-width":
            CPU.outb(port(.consoleWrite), 0x10)
        case "in-instead-of-out":
            _ = CPU.inl(port(.wallTime))
        case "unknown-call":
            CPU.outl(HypercallABI.hypercallPortBase + 9, UInt32(truncatingIfNeeded: address(of: &message)))
        case "stray-port":
            CPU.outb(0x3F8, 0x41)                                   // a serial port that is not there
        case "halt-code-too-big":
            var halt = HaltArguments()
            halt.exitCode = 256
            Hypervisor.call(.halt, &halt)
        case "net-without-device":
            var write = NetWriteArguments()
            write.data = address(of: &message)
            write.length = 60
            Hypervisor.call(.netWrite, &write)
        case "block-without-device", "block-past-end":
            if name == "block-past-end" { block.sector = KVMPlatform.bootInfo.blockSectorCount }
            Hypervisor.call(.blockRead, &block)
        case "block-wraps":
            block.sector = UInt64.max
            Hypervisor.call(.blockRead, &block)
        case "block-buffer-out-of-range":
            block.data = memory - 256                               // 512 bytes from here pass the end
            Hypervisor.call(.blockWrite, &block)
        case "output-into-boot-info":
            // wall-time's struct placed on the read-only boot-info page: the monitor may not write there.
            CPU.outl(port(.wallTime), UInt32(HypercallABI.bootInfoAddress + 0x100))
        case "block-read-into-code":
            // A sector read over this very function's code (text is read-only to the guest).
            block.data = UInt64(UInt(bitPattern: unsafeBitCast(Hostile.main as (@convention(thin) ([String]) -> Int32), to: UnsafeRawPointer.self))) & ~4095
            Hypervisor.call(.blockRead, &block)
        case "poll-forever":
            _ = Hypervisor.poll(timeout: UInt64.max)
        case "write-boot-info":
            UnsafeMutablePointer<UInt64>(bitPattern: UInt(HypercallABI.bootInfoAddress))!.pointee = 0
        case "null-read":
            print(UnsafePointer<UInt64>(bitPattern: 8)!.pointee)
        case "execute-data":
            typealias Function = @convention(c) () -> Void
            let function = unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(address(of: &message)))!, to: Function.self)
            function()
        case "privileged":
            CPU.halt()
        default:
            print("hostile: unknown case")
            return 2
        }
        print("hostile: survived \(name)")
        return 0
    }
}
