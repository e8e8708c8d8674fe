// Seccomp: the confinement the monitor's run-loop thread drops into once setup is finished.
//
// Setup (opening /dev/kvm, creating the VM and vCPU, mapping guest memory, loading the image, opening
// the tap device and the disk) needs open, mmap, socket-ish ioctls and more. The run loop afterwards
// only enters the guest, services its exits on descriptors that are already open, and waits. So the
// run-loop thread installs a seccomp-BPF filter (no_new_privs + SECCOMP_SET_MODE_FILTER, without TSYNC:
// it binds this thread and any thread it creates later) that allows exactly this list, x86_64 numbers:
//
//   read (0), write (1)             guest console/net/disk traffic on the already-open descriptors,
//                                   and diagnostics to stderr
//   pread64 (17), pwrite64 (18)     disk requests at an offset
//   ppoll (271)                     waiting for tap input or a timer. NOT poll (7): glibc's poll()
//                                   uses the poll syscall on x86_64, so the run loop must call ppoll
//   ioctl (16)                      only for the request numbers the caller passes (KVM_RUN,
//                                   KVM_GET_REGS, KVM_GET_SREGS): args[1] is checked, low 32 bits,
//                                   which is all the kernel reads (the cmd parameter is unsigned int)
//   clock_gettime (228)             the guest clock; usually the vDSO, but the vDSO falls back to the
//                                   syscall when the clocksource is not vDSO-capable
//   clock_nanosleep (230)           guest sleeps (glibc's nanosleep/usleep use it)
//   exit (60), exit_group (231)     ending the thread or the monitor
//   futex (202)                     pthread mutexes/condition variables, swift_once, thread join
//   rt_sigreturn (15)               returning from any signal handler
//   rt_sigprocmask (14)             glibc's thread exit blocks all signals before exit(2); without it
//                                   a confined thread that returns kills the process with SIGSYS
//   brk (12), mmap (9), munmap (11), madvise (28), mremap (25)
//                                   the Swift runtime's malloc grows and trims its heap
//   mprotect (10)                   malloc in a non-main thread grows its arena by mprotect-ing a
//                                   PROT_NONE reservation; mmap is allowed already, so this adds no
//                                   power an attacker would not have
//   getrandom (318)                 Swift's hashing seed and SystemRandomNumberGenerator
//
// Everything else kills the whole process (SECCOMP_RET_KILL_PROCESS), as do syscalls under a foreign
// architecture and x32 numbers (nr >= 0x40000000), which would otherwise alias the x86_64 table.
//
// Program shape (every jump is short and relative to the next instruction, so any number of rules
// gives valid offsets; only an argument-checked rule's block is skipped with BPF_JA, whose offset is
// 32 bits):
//
//   ld arch; jeq AUDIT_ARCH_X86_64 ? +1 : 0; ret KILL
//   ld nr;   jge 0x40000000 ? 0 : +1;        ret KILL
//   per plain rule:   jeq nr ? 0 : +1; ret ALLOW
//   per checked rule: jeq nr ? +1 : 0; ja +(block); ld args[1].lo; (jeq req ? 0 : +1; ret ALLOW)*; ret KILL
//   ret KILL
//
// Known hazard: glibc's free() in a non-main arena reads /proc/sys/vm/overcommit_memory (openat) the
// first time it shrinks such a heap (check_may_shrink_heap, cached process-wide afterwards). If that
// first shrink happens after confinement, the monitor is killed; keep big allocate/free cycles out of
// the confined thread.

import CKVM
import Glibc

public enum Seccomp {
    /// One allowed syscall. If `allowedIoctlRequests` is not nil, the call is allowed only when the low
    /// 32 bits of its second argument (the ioctl request) are in the list; an empty list refuses all.
    public struct Rule: Equatable, Sendable {
        public var name: String
        public var number: UInt32
        public var allowedIoctlRequests: [UInt32]?

        public init(name: String, number: UInt32, allowedIoctlRequests: [UInt32]? = nil) {
            self.name = name
            self.number = number
            self.allowedIoctlRequests = allowedIoctlRequests
        }
    }

    /// x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl), written out so the policy
    /// does not depend on the build host's headers.
    public enum Number {
        public static let read: UInt32 = 0
        public static let write: UInt32 = 1
        public static let mmap: UInt32 = 9
        public static let mprotect: UInt32 = 10
        public static let munmap: UInt32 = 11
        public static let brk: UInt32 = 12
        public static let rtSigprocmask: UInt32 = 14
        public static let rtSigreturn: UInt32 = 15
        public static let ioctl: UInt32 = 16
        public static let pread64: UInt32 = 17
        public static let pwrite64: UInt32 = 18
        public static let mremap: UInt32 = 25
        public static let madvise: UInt32 = 28
        public static let exit: UInt32 = 60
        public static let futex: UInt32 = 202
        public static let clockGettime: UInt32 = 228
        public static let clockNanosleep: UInt32 = 230
        public static let exitGroup: UInt32 = 231
        public static let ppoll: UInt32 = 271
        public static let getrandom: UInt32 = 318
    }

    /// The ioctl requests the run loop issues on the vCPU, truncated to the 32 bits the kernel reads.
    public static let runLoopIoctlRequests: [UInt32] = [CKVM_RUN, CKVM_GET_REGS, CKVM_GET_SREGS].map {
        UInt32(truncatingIfNeeded: $0)
    }

    /// What the run-loop thread may do after setup (see the comment at the top of this file).
    public static func runLoopPolicy(ioctlRequests: [UInt32]) -> [Rule] {
        [
            Rule(name: "read", number: Number.read),
            Rule(name: "write", number: Number.write),
            Rule(name: "pread64", number: Number.pread64),
            Rule(name: "pwrite64", number: Number.pwrite64),
            Rule(name: "ppoll", number: Number.ppoll),
            Rule(name: "ioctl", number: Number.ioctl, allowedIoctlRequests: ioctlRequests),
            Rule(name: "clock_gettime", number: Number.clockGettime),
            Rule(name: "clock_nanosleep", number: Number.clockNanosleep),
            Rule(name: "exit", number: Number.exit),
            Rule(name: "exit_group", number: Number.exitGroup),
            Rule(name: "futex", number: Number.futex),
            Rule(name: "rt_sigreturn", number: Number.rtSigreturn),
            Rule(name: "rt_sigprocmask", number: Number.rtSigprocmask),
            Rule(name: "brk", number: Number.brk),
            Rule(name: "mmap", number: Number.mmap),
            Rule(name: "munmap", number: Number.munmap),
            Rule(name: "madvise", number: Number.madvise),
            Rule(name: "mremap", number: Number.mremap),
            Rule(name: "mprotect", number: Number.mprotect),
            Rule(name: "getrandom", number: Number.getrandom),
        ]
    }

    // Classic BPF opcodes and seccomp constants (linux/filter.h, linux/seccomp.h).
    public static let loadWordAbsolute: UInt16 = 0x20   // BPF_LD | BPF_W | BPF_ABS
    public static let jumpAlways: UInt16 = 0x05         // BPF_JMP | BPF_JA
    public static let jumpIfEqual: UInt16 = 0x15        // BPF_JMP | BPF_JEQ | BPF_K
    public static let jumpIfGreaterOrEqual: UInt16 = 0x35  // BPF_JMP | BPF_JGE | BPF_K
    public static let returnConstant: UInt16 = 0x06     // BPF_RET | BPF_K
    public static let allow: UInt32 = 0x7fff_0000       // SECCOMP_RET_ALLOW
    public static let killProcess: UInt32 = 0x8000_0000 // SECCOMP_RET_KILL_PROCESS
    public static let auditArchX86_64: UInt32 = 0xc000_003e  // AUDIT_ARCH_X86_64
    public static let x32SyscallBit: UInt32 = 0x4000_0000    // __X32_SYSCALL_BIT

    // Offsets into struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }.
    public static let offsetOfNumber: UInt32 = 0
    public static let offsetOfArch: UInt32 = 4
    /// Low 32 bits of args[1] on little-endian x86_64.
    public static let offsetOfArgument1Low: UInt32 = 16 + 8 * 1

    /// Kernel limit on filter length (BPF_MAXINSNS).
    public static let maximumInstructions = 4096

    static func statement(_ code: UInt16, _ k: UInt32) -> sock_filter {
        sock_filter(code: code, jt: 0, jf: 0, k: k)
    }

    static func jump(_ code: UInt16, _ k: UInt32, _ jt: UInt8, _ jf: UInt8) -> sock_filter {
        sock_filter(code: code, jt: jt, jf: jf, k: k)
    }

    /// The filter for `rules`: allow what the rules allow, kill the process for anything else.
    public static func program(for rules: [Rule]) -> [sock_filter] {
        var program: [sock_filter] = [
            statement(loadWordAbsolute, offsetOfArch),
            jump(jumpIfEqual, auditArchX86_64, 1, 0),
            statement(returnConstant, killProcess),
            statement(loadWordAbsolute, offsetOfNumber),
            jump(jumpIfGreaterOrEqual, x32SyscallBit, 0, 1),
            statement(returnConstant, killProcess),
        ]
        for rule in rules {
            guard let requests = rule.allowedIoctlRequests else {
                program.append(jump(jumpIfEqual, rule.number, 0, 1))
                program.append(statement(returnConstant, allow))
                continue
            }
            // Matched: skip the BPF_JA into the argument block. Not matched: the BPF_JA skips the block,
            // which loads args[1] over the accumulator and therefore ends in KILL rather than falling through.
            var block: [sock_filter] = [statement(loadWordAbsolute, offsetOfArgument1Low)]
            for request in requests {
                block.append(jump(jumpIfEqual, request, 0, 1))
                block.append(statement(returnConstant, allow))
            }
            block.append(statement(returnConstant, killProcess))
            program.append(jump(jumpIfEqual, rule.number, 1, 0))
            program.append(statement(jumpAlways, UInt32(block.count)))
            program.append(contentsOf: block)
        }
        program.append(statement(returnConstant, killProcess))
        return program
    }

    /// Why `install` failed.
    public struct InstallError: Error, CustomStringConvertible {
        public var errno: Int32
        public var instructionCount: Int
        public var description: String {
            "cannot install the seccomp filter (\(instructionCount) instructions): \(String(cString: strerror(errno)))"
        }
    }

    /// Confines the calling thread (and threads it creates later) to `rules`. Irreversible.
    public static func install(_ rules: [Rule]) throws {
        let program = program(for: rules)
        guard program.count <= maximumInstructions else {
            throw InstallError(errno: E2BIG, instructionCount: program.count)
        }
        let result = program.withUnsafeBufferPointer {
            ckvm_install_seccomp($0.baseAddress, UInt16($0.count))
        }
        if result < 0 { throw InstallError(errno: -result, instructionCount: program.count) }
    }
}
