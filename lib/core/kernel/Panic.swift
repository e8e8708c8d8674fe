// Panic: what happens when the kernel or the app cannot go on.
//
// Two kinds of ending, each with a fixed exit code so scripts can tell them apart (the values follow
// the shell's 128 + signal convention):
//   - a panic (a Swift runtime trap, stack smashing, out of memory): 134, like SIGABRT;
//   - a CPU exception (page fault, general protection, invalid opcode, ...): 139, like SIGSEGV.
// A crash report names the exception and its error code, shows RIP, RSP, RFLAGS, CR2, CR3 and the
// general registers, then walks the frame-pointer chain. Addresses are printed raw; `tessera run`
// symbolizes lines of the form "  #N 0x..." with the image's symbol table on the host, which keeps
// symbol names out of the image.

import ArchX86
import ConsoleAPI

public enum Panic {
    public static let exitCode: Int32 = 134
    public static let crashExitCode: Int32 = 139
    /// Frames walked at most.
    static let maximumFrames = 32
}

extension Kernel {
    /// Stops the guest with a message.
    public static func panic(_ message: StaticString) -> Never {
        typealias Out = Output<I.Console>
        Out.newline()
        Out.text("tessera: panic: ")
        Out.line(message)
        backtrace(fromFrame: CPU.framePointer())
        stop(code: Panic.exitCode)
    }

    /// The trap entry point, called by the wiring's `tessera_trap` for every vector.
    public static func trap(_ rawFrame: UnsafeMutableRawPointer) {
        let frame = rawFrame.assumingMemoryBound(to: TrapFrame.self)
        if Traps.isException(frame.pointee.vector) {
            crashReport(frame.pointee)
            stop(code: Panic.crashExitCode)
        }
        I.handleInterrupt(vector: frame.pointee.vector)
    }

    static func crashReport(_ f: TrapFrame) {
        typealias Out = Output<I.Console>
        Out.newline()
        Out.text("tessera: crash: ")
        Out.text(Traps.name(ofVector: f.vector))
        Out.text(", vector ")
        Out.decimal(f.vector)
        Out.text(", error code ")
        Out.hex(f.errorCode, digits: 4)
        if f.vector == 14 {
            Out.text(f.errorCode & 1 == 0 ? " (not present" : " (protection")
            Out.text(f.errorCode & 2 == 0 ? ", read" : ", write")
            if f.errorCode & 16 != 0 { Out.text(", instruction fetch") }
            Out.text(")")
        }
        if f.vector == 6 {
            Out.text(" (a Swift runtime trap: failed precondition, overflow, index out of range or nil unwrap)")
        }
        Out.newline()
        registers(("rip", f.rip), ("rsp", f.rsp), ("rflags", f.rflags))
        registers(("cr2", CPU.cr2), ("cr3", CPU.cr3), ("cs", f.cs))
        registers(("rax", f.rax), ("rbx", f.rbx), ("rcx", f.rcx))
        registers(("rdx", f.rdx), ("rsi", f.rsi), ("rdi", f.rdi))
        registers(("rbp", f.rbp), ("r8", f.r8), ("r9", f.r9))
        registers(("r10", f.r10), ("r11", f.r11), ("r12", f.r12))
        registers(("r13", f.r13), ("r14", f.r14), ("r15", f.r15))
        I.reportCrashContext(faultAddress: f.vector == 14 ? CPU.cr2 : 0)
        Out.line("backtrace:")
        frameLine(0, f.rip)
        walk(fromFrame: UInt(f.rbp), firstIndex: 1)
    }

    /// One line of three registers: "  rax 0x... rbx 0x... rcx 0x...".
    static func registers(_ a: (StaticString, UInt64), _ b: (StaticString, UInt64), _ c: (StaticString, UInt64)) {
        typealias Out = Output<I.Console>
        func one(_ register: (StaticString, UInt64)) {          // no array: the heap may be broken
            Out.text("  ")
            Out.text(register.0)
            Out.text(" ")
            Out.hex(register.1)
        }
        one(a); one(b); one(c)
        Out.newline()
    }

    static func backtrace(fromFrame frame: UInt) {
        Output<I.Console>.line("backtrace:")
        walk(fromFrame: frame, firstIndex: 0)
    }

    static func frameLine(_ index: Int, _ address: UInt64) {
        typealias Out = Output<I.Console>
        Out.text("  #")
        Out.decimal(index)
        Out.text(" ")
        Out.hex(address)
        Out.newline()
    }

    /// Follows saved frame pointers ([rbp] = caller's rbp, [rbp + 8] = return address) while they
    /// stay inside RAM the platform described (below 4 GiB: what a PVH boot maps), are aligned, and
    /// move up the stack.
    static func walk(fromFrame start: UInt, firstIndex: Int) {
        let (kernelStart, kernelEnd) = kernelBounds
        var frame = start
        var index = firstIndex
        while index < firstIndex + Panic.maximumFrames {
            guard frame >= 0x1000, frame & 7 == 0, frame < 0x1_0000_0000, frame < memoryEnd - 16,
                  let pointer = UnsafePointer<UInt>(bitPattern: frame) else { return }
            let returnAddress = pointer[1]
            guard returnAddress >= kernelStart && returnAddress < kernelEnd else { return }
            frameLine(index, UInt64(returnAddress))
            let next = pointer[0]
            guard next > frame else { return }
            frame = next
            index += 1
        }
    }
}
