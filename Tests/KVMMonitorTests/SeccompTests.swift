// Tests for the run loop's seccomp filter: decisions checked with a small classic-BPF interpreter (no
// kernel involved), then the real filter installed in forked children that make one allowed and one
// forbidden syscall.

import CKVM
import Glibc
import Testing

@testable import KVMMonitor

// MARK: - A pure classic-BPF interpreter over struct seccomp_data

/// Runs `program` the way the kernel would for a syscall `nr` under `arch` with `args` (up to 6).
/// Anything the kernel would reject or that falls off the end is recorded as an issue and returns
/// `UInt32.max`, which is no valid seccomp action the tests expect.
func evaluate(_ program: [sock_filter], nr: UInt32, arch: UInt32, args: [UInt64] = []) -> UInt32 {
    // struct seccomp_data as bytes: nr, arch, instruction_pointer (0), args[6], little-endian.
    var data = [UInt8](repeating: 0, count: 64)
    func store(_ value: UInt64, at offset: Int, bytes: Int) {
        for i in 0..<bytes { data[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }
    store(UInt64(nr), at: 0, bytes: 4)
    store(UInt64(arch), at: 4, bytes: 4)
    for (i, argument) in args.prefix(6).enumerated() { store(argument, at: 16 + 8 * i, bytes: 8) }

    var accumulator: UInt32 = 0
    var pc = 0
    while pc < program.count {
        let instruction = program[pc]
        pc += 1
        switch instruction.code {
        case Seccomp.loadWordAbsolute:
            let offset = Int(instruction.k)
            guard offset % 4 == 0, offset + 4 <= data.count else {
                Issue.record("load from offset \(offset) outside seccomp_data")
                return .max
            }
            accumulator = (0..<4).reduce(0) { $0 | UInt32(data[offset + $1]) << (8 * UInt32($1)) }
        case Seccomp.jumpAlways:
            pc += Int(instruction.k)
        case Seccomp.jumpIfEqual:
            pc += Int(accumulator == instruction.k ? instruction.jt : instruction.jf)
        case Seccomp.jumpIfGreaterOrEqual:
            pc += Int(accumulator >= instruction.k ? instruction.jt : instruction.jf)
        case Seccomp.returnConstant:
            return instruction.k
        default:
            Issue.record("unexpected opcode \(instruction.code) at \(pc - 1)")
            return .max
        }
    }
    Issue.record("program fell off its end")
    return .max
}

/// Checks what the kernel's checker would: length, known opcodes, every jump target inside the
/// program, and a final return. Returns the problems found.
func structuralProblems(_ program: [sock_filter]) -> [String] {
    var problems: [String] = []
    if program.isEmpty || program.count > Seccomp.maximumInstructions || program.count > Int(UInt16.max) {
        problems.append("length \(program.count)")
    }
    for (pc, instruction) in program.enumerated() {
        switch instruction.code {
        case Seccomp.jumpIfEqual, Seccomp.jumpIfGreaterOrEqual:
            for offset in [instruction.jt, instruction.jf] where pc + 1 + Int(offset) >= program.count {
                problems.append("jump at \(pc) by \(offset) leaves the program")
            }
        case Seccomp.jumpAlways:
            if pc + 1 + Int(instruction.k) >= program.count { problems.append("ja at \(pc) leaves the program") }
        case Seccomp.loadWordAbsolute, Seccomp.returnConstant:
            break
        default:
            problems.append("opcode \(instruction.code) at \(pc)")
        }
    }
    if program.last?.code != Seccomp.returnConstant { problems.append("does not end in a return") }
    return problems
}

// MARK: - Wait-status helpers (the W* macros do not import)

func terminatingSignal(_ status: Int32) -> Int32? {
    let signal = status & 0x7f
    return signal != 0 && signal != 0x7f ? signal : nil
}

func exitCode(_ status: Int32) -> Int32? { status & 0x7f == 0 ? (status >> 8) & 0xff : nil }

struct ProbeOutcome {
    var status: Int32
    var reachedForbiddenCall: Bool
    var allowedResult: Int
}

func probe(_ program: [sock_filter], allowed: UInt32, _ allowedArguments: [Int] = [],
           forbidden: UInt32, _ forbiddenArguments: [Int] = []) -> ProbeOutcome {
    var reached: Int32 = -1
    var result = 0
    var scratch = [UInt8](repeating: 0, count: 64)
    let status = scratch.withUnsafeMutableBytes { buffer in
        // Default allowed arguments: (1, scratch, 0, ...) — clock_gettime(CLOCK_MONOTONIC, &ts),
        // write(1, buffer, 0), ...
        let defaults = [1, Int(bitPattern: buffer.baseAddress), 0, 0, 0, 0]
        let a = allowedArguments.isEmpty ? defaults : allowedArguments + Array(repeating: 0, count: 6 - allowedArguments.count)
        let f = forbiddenArguments + Array(repeating: 0, count: 6 - forbiddenArguments.count)
        return program.withUnsafeBufferPointer {
            ckvm_seccomp_child_probe_arguments($0.baseAddress, UInt16($0.count), Int(allowed), a, Int(forbidden), f,
                                               &reached, &result)
        }
    }
    return ProbeOutcome(status: status, reachedForbiddenCall: reached == 1, allowedResult: result)
}

let sigsys: Int32 = 31
let socketNumber: UInt32 = 41
let openatNumber: UInt32 = 257
let tiocgwinsz: UInt32 = 0x5413

@Suite struct SeccompTests {
    let policy = Seccomp.runLoopPolicy(ioctlRequests: Seccomp.runLoopIoctlRequests)

    // MARK: Interpreter

    @Test func ioctlRequestsAreTheKVMNumbers() {
        #expect(Seccomp.runLoopIoctlRequests == [0xAE80, 0x8090_AE81, 0x8138_AE83])
        #expect(Seccomp.runLoopIoctlRequests[0] == UInt32(truncatingIfNeeded: CKVM_RUN))
        #expect(Seccomp.auditArchX86_64 == CKVM_AUDIT_ARCH_X86_64)
    }

    @Test func policyListsTheRunLoopCalls() {
        let names = Set(policy.map(\.name))
        for name in ["read", "write", "pread64", "pwrite64", "ppoll", "ioctl", "clock_gettime", "clock_nanosleep",
                     "exit", "exit_group", "futex", "rt_sigreturn", "brk", "mmap", "munmap", "madvise", "mremap",
                     "getrandom"] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(Set(policy.map(\.number)).count == policy.count, "no duplicate numbers")
        #expect(policy.filter { $0.allowedIoctlRequests != nil }.map(\.name) == ["ioctl"])
    }

    @Test func wrongArchitectureIsKilled() {
        let program = Seccomp.program(for: policy)
        #expect(evaluate(program, nr: Seccomp.Number.read, arch: 0x4000_0003) == Seccomp.killProcess)  // i386
        #expect(evaluate(program, nr: Seccomp.Number.read, arch: 0xc000_00b7) == Seccomp.killProcess)  // aarch64
    }

    @Test func x32SyscallsAreKilled() {
        let program = Seccomp.program(for: policy)
        #expect(evaluate(program, nr: 0x4000_0000 | Seccomp.Number.read, arch: Seccomp.auditArchX86_64) == Seccomp.killProcess)
        #expect(evaluate(program, nr: 0xffff_ffff, arch: Seccomp.auditArchX86_64) == Seccomp.killProcess)
    }

    @Test func everyListedSyscallIsAllowed() {
        let program = Seccomp.program(for: policy)
        for rule in policy {
            let argument1 = UInt64(rule.allowedIoctlRequests?.first ?? 0)
            #expect(evaluate(program, nr: rule.number, arch: Seccomp.auditArchX86_64, args: [3, argument1]) == Seccomp.allow,
                    "\(rule.name)")
        }
        for request in Seccomp.runLoopIoctlRequests {
            // The kernel reads only the low 32 bits of the request; high bits do not change the decision.
            for high: UInt64 in [0, 0xffff_ffff_0000_0000] {
                #expect(evaluate(program, nr: Seccomp.Number.ioctl, arch: Seccomp.auditArchX86_64,
                                 args: [3, high | UInt64(request)]) == Seccomp.allow)
            }
        }
    }

    @Test(arguments: [socketNumber, openatNumber, 2 /* open */, 7 /* poll */, 59 /* execve */, 57 /* fork */,
                      56 /* clone */, 10_000])
    func unlistedSyscallsAreKilled(number: UInt32) {
        #expect(evaluate(Seccomp.program(for: policy), nr: number, arch: Seccomp.auditArchX86_64) == Seccomp.killProcess)
    }

    @Test func otherIoctlRequestsAreKilled() {
        let program = Seccomp.program(for: policy)
        for request: UInt64 in [UInt64(tiocgwinsz), UInt64(UInt32(truncatingIfNeeded: CKVM_TUNSETIFF)),
                                UInt64(UInt32(truncatingIfNeeded: CKVM_SET_REGS)), 0] {
            #expect(evaluate(program, nr: Seccomp.Number.ioctl, arch: Seccomp.auditArchX86_64, args: [3, request])
                    == Seccomp.killProcess)
        }
        let none = Seccomp.program(for: [Seccomp.Rule(name: "ioctl", number: 16, allowedIoctlRequests: [])])
        #expect(evaluate(none, nr: 16, arch: Seccomp.auditArchX86_64, args: [3, 0xAE80]) == Seccomp.killProcess)
        #expect(structuralProblems(none).isEmpty)
    }

    @Test func programIsWellFormed() {
        let program = Seccomp.program(for: policy)
        #expect(structuralProblems(program) == [])
        #expect(program.count <= Int(UInt16.max))
        #expect(structuralProblems(Seccomp.program(for: [])) == [])
        #expect(evaluate(Seccomp.program(for: []), nr: 0, arch: Seccomp.auditArchX86_64) == Seccomp.killProcess)
    }

    @Test func longRuleListsKeepValidJumps() {
        // 300 plain rules around a checked rule with 300 requests: the checked block (602 instructions)
        // is far longer than a UInt8 jump could skip.
        let requests = (0..<300).map { UInt32(0x1000 + $0) }
        var rules = (0..<150).map { Seccomp.Rule(name: "n\($0)", number: UInt32(1000 + $0)) }
        rules.append(Seccomp.Rule(name: "ioctl", number: 16, allowedIoctlRequests: requests))
        rules += (150..<300).map { Seccomp.Rule(name: "n\($0)", number: UInt32(1000 + $0)) }
        let program = Seccomp.program(for: rules)
        #expect(program.count < Seccomp.maximumInstructions)
        #expect(structuralProblems(program) == [])
        let arch = Seccomp.auditArchX86_64
        for number in [UInt32(1000), 1149, 1150, 1299] { #expect(evaluate(program, nr: number, arch: arch) == Seccomp.allow) }
        #expect(evaluate(program, nr: 1300, arch: arch) == Seccomp.killProcess)
        #expect(evaluate(program, nr: 16, arch: arch, args: [0, 0x1000]) == Seccomp.allow)
        #expect(evaluate(program, nr: 16, arch: arch, args: [0, 0x112b]) == Seccomp.allow)
        #expect(evaluate(program, nr: 16, arch: arch, args: [0, 0x112c]) == Seccomp.killProcess)
    }

    @Test func oversizedPolicyIsRefusedBeforeTheKernel() {
        let rules = (0..<3000).map { Seccomp.Rule(name: "n\($0)", number: UInt32($0)) }
        #expect(throws: Seccomp.InstallError.self) { try Seccomp.install(rules) }
    }

    // MARK: Kernel, in forked children

    @Test(arguments: [socketNumber, openatNumber])
    func forbiddenCallKillsAfterAllowedCallSucceeded(forbidden: UInt32) {
        let program = Seccomp.program(for: policy)
        for allowed in [Seccomp.Number.clockGettime, Seccomp.Number.write] {
            let outcome = probe(program, allowed: allowed, forbidden: forbidden)
            #expect(outcome.reachedForbiddenCall, "allowed call \(allowed) did not complete")
            #expect(outcome.allowedResult == 0, "allowed call \(allowed) returned \(outcome.allowedResult)")
            #expect(terminatingSignal(outcome.status) == sigsys, "status \(outcome.status)")
        }
    }

    @Test func controlChildIsNotKilledWhenTheCallIsAllowed() {
        // Same child, but socket is in the rules: it must exit normally, so the kill above is the filter's.
        let program = Seccomp.program(for: policy + [Seccomp.Rule(name: "socket", number: socketNumber)])
        let outcome = probe(program, allowed: Seccomp.Number.clockGettime, forbidden: socketNumber)
        #expect(outcome.reachedForbiddenCall)
        #expect(exitCode(outcome.status) == 0, "status \(outcome.status)")

        let allowAll = [sock_filter(code: Seccomp.returnConstant, jt: 0, jf: 0, k: Seccomp.allow)]
        let open = probe(allowAll, allowed: Seccomp.Number.clockGettime, forbidden: openatNumber)
        #expect(open.reachedForbiddenCall)
        #expect(exitCode(open.status) == 0, "status \(open.status)")
    }

    @Test func ioctlIsFilteredByRequest() {
        let program = Seccomp.program(for: policy)
        let ioctl = Seccomp.Number.ioctl
        let kvmRun = Int(Seccomp.runLoopIoctlRequests[0])
        // ioctl(-1, KVM_RUN, 0) reaches the kernel (EBADF); ioctl(-1, TIOCGWINSZ, 0) does not.
        let refused = probe(program, allowed: ioctl, [-1, kvmRun, 0], forbidden: ioctl, [-1, Int(tiocgwinsz), 0])
        #expect(refused.reachedForbiddenCall)
        #expect(refused.allowedResult == -Int(EBADF))
        #expect(terminatingSignal(refused.status) == sigsys, "status \(refused.status)")

        // Control: the second call with another listed request (KVM_GET_SREGS) is let through.
        let getSregs = Int(Seccomp.runLoopIoctlRequests[2])
        let passed = probe(program, allowed: ioctl, [-1, kvmRun, 0], forbidden: ioctl, [-1, getSregs, 0])
        #expect(passed.reachedForbiddenCall)
        #expect(exitCode(passed.status) == 0, "status \(passed.status)")
    }

    @Test func shortProbeReportsTheSameOutcome() {
        let program = Seccomp.program(for: policy)
        var reached: Int32 = 0
        let status = program.withUnsafeBufferPointer {
            ckvm_seccomp_child_probe($0.baseAddress, UInt16($0.count), Int(Seccomp.Number.clockGettime),
                                     Int(socketNumber), &reached)
        }
        #expect(reached == 1)
        #expect(terminatingSignal(status) == sigsys, "status \(status)")
    }
}
