// VirtualMachine: one KVM VM with one vCPU, set up to start in 64-bit mode at the ELF entry.
//
// The ioctl sequence (linux/kvm.h, API version 12): open /dev/kvm → KVM_CREATE_VM → map guest RAM
// (anonymous memory, KVM_SET_USER_MEMORY_REGION slot 0 at guest-physical 0) → KVM_CREATE_VCPU → mmap
// its kvm_run page → KVM_SET_CPUID2 with GuestCPUID's short list → KVM_SET_SREGS (long mode, paging, the GDT
// and TSS of BootLayout, ring-3 segments) → KVM_SET_REGS (entry, stack, %rdi = boot info, IOPL 3) →
// KVM_SET_FPU (default x87 control word and MXCSR, so SSE code runs with exceptions masked).
// No in-kernel interrupt controller, no PIT, no other devices: the guest has hypercalls only.
//
// Why ring 3: guests are entered with CPL 3 and IOPL 3. Everything the guest needs (SSE, rdtsc, cpuid,
// outl for hypercalls, cli/sti) works there, and on hosts whose KVM is the PVM module (kvm_pvm, a
// nested "pagetable-based" KVM) only ring-3 code runs natively — ring-0 code goes through KVM's
// instruction emulator, which cannot execute SSE. On VMX/SVM hosts it changes nothing but adds
// defence in depth: the guest cannot change its page tables or descriptor tables.

#if canImport(Glibc)
import Glibc
#endif
import CKVM
import HypercallABI

public struct MonitorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public final class VirtualMachine {
    let kvm: Int32
    let vm: Int32
    public let vcpu: Int32
    public let memory: GuestMemory
    let run: UnsafeMutablePointer<kvm_run>
    let runSize: Int

    public init(memorySize: UInt64, device: String = "/dev/kvm") throws(MonitorError) {
        guard memorySize >= 2 << 20, memorySize <= HypercallABI.maximumMemory, memorySize % 4096 == 0 else {
            throw MonitorError("guest memory of \(memorySize) bytes: use a multiple of 4 KiB from 2 MiB to 4 GiB")
        }
        kvm = open(device, O_RDWR | O_CLOEXEC)
        guard kvm >= 0 else { throw MonitorError("cannot open \(device): \(systemError())") }
        let version = ckvm_ioctl_value(kvm, CKVM_GET_API_VERSION, 0)
        guard version == 12 else { throw MonitorError("\(device): unexpected KVM API version \(version)") }
        vm = ckvm_ioctl_value(kvm, CKVM_CREATE_VM, 0)
        guard vm >= 0 else { throw MonitorError("\(device): cannot create a VM: \(systemError())") }

        guard let ram = mmap(nil, Int(memorySize), PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), ram != MAP_FAILED else {
            throw MonitorError("cannot map \(memorySize) bytes of guest memory: \(systemError())")
        }
        memory = GuestMemory(base: ram, size: memorySize)
        var region = kvm_userspace_memory_region(slot: 0, flags: 0, guest_phys_addr: 0, memory_size: memorySize,
                                                 userspace_addr: UInt64(UInt(bitPattern: ram)))
        guard ckvm_ioctl(vm, CKVM_SET_USER_MEMORY_REGION, &region) == 0 else {
            throw MonitorError("KVM_SET_USER_MEMORY_REGION: \(systemError())")
        }
        vcpu = ckvm_ioctl_value(vm, CKVM_CREATE_VCPU, 0)
        guard vcpu >= 0 else { throw MonitorError("KVM_CREATE_VCPU: \(systemError())") }
        runSize = Int(ckvm_ioctl_value(kvm, CKVM_GET_VCPU_MMAP_SIZE, 0))
        guard runSize >= MemoryLayout<kvm_run>.size,
              let page = mmap(nil, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0), page != MAP_FAILED else {
            throw MonitorError("cannot map the vCPU's run structure: \(systemError())")
        }
        run = page.assumingMemoryBound(to: kvm_run.self)
    }

    deinit {
        munmap(run, runSize)
        munmap(memory.base, Int(memory.size))
        close(vcpu)
        close(vm)
        close(kvm)
    }

    /// The TSC frequency KVM gives the guest, in Hz (0 when KVM cannot tell).
    public var tscFrequency: UInt64 {
        let kilohertz = ckvm_ioctl_value(vcpu, CKVM_GET_TSC_KHZ, 0)
        return kilohertz > 0 ? UInt64(kilohertz) * 1000 : 0
    }

    /// Puts the vCPU in 64-bit ring 3 at `entry` (see the file comment).
    public func prepareVCPU(entry: UInt64) throws(MonitorError) {
        let leaves = GuestCPUID.entries(tscKilohertz: UInt32(clamping: tscFrequency / 1000)) { leaf in
            var registers: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
            withUnsafeMutableBytes(of: &registers) { ckvm_host_cpuid(leaf, 0, $0.baseAddress!.assumingMemoryBound(to: UInt32.self)) }
            return registers
        }
        var cpuid = ckvm_cpuid()
        cpuid.header.nent = UInt32(leaves.count)
        withUnsafeMutableBytes(of: &cpuid.entries) { raw in
            let entries = raw.baseAddress!.assumingMemoryBound(to: kvm_cpuid_entry2.self)
            for (index, leaf) in leaves.enumerated() {
                var entry = kvm_cpuid_entry2()
                entry.function = leaf.leaf
                entry.eax = leaf.eax; entry.ebx = leaf.ebx; entry.ecx = leaf.ecx; entry.edx = leaf.edx
                entries[index] = entry
            }
        }
        guard ckvm_ioctl(vcpu, CKVM_SET_CPUID2, &cpuid) == 0 else {
            throw MonitorError("KVM_SET_CPUID2: \(systemError())")
        }

        var sregs = kvm_sregs()
        guard ckvm_ioctl(vcpu, CKVM_GET_SREGS, &sregs) == 0 else { throw MonitorError("KVM_GET_SREGS: \(systemError())") }
        sregs.cs = Self.segment(selector: GuestDescriptors.userCodeSelector, type: 11, code64: true)
        let data = Self.segment(selector: GuestDescriptors.userDataSelector, type: 3, code64: false)
        sregs.ds = data; sregs.es = data; sregs.fs = data; sregs.gs = data; sregs.ss = data
        sregs.tr = kvm_segment(base: GuestDescriptors.tssAddress, limit: UInt32(GuestDescriptors.tssLimit), selector: GuestDescriptors.tssSelector,
                               type: 11, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0, padding: 0)
        sregs.ldt = kvm_segment(base: 0, limit: 0, selector: 0, type: 2, present: 0, dpl: 0, db: 0, s: 0, l: 0, g: 0,
                                avl: 0, unusable: 1, padding: 0)
        sregs.gdt = kvm_dtable(base: GuestDescriptors.gdtAddress, limit: GuestDescriptors.gdtLimit, padding: (0, 0, 0))
        sregs.idt = kvm_dtable(base: 0, limit: 0, padding: (0, 0, 0))
        sregs.cr3 = PageTableBuilder.pml4
        sregs.cr4 = (1 << 5) | (1 << 9) | (1 << 10)                              // PAE, OSFXSR, OSXMMEXCPT
        sregs.cr0 = (1 << 31) | (1 << 16) | (1 << 5) | (1 << 4) | (1 << 1) | 1   // PG, WP, NE, ET, MP, PE
        sregs.efer = (1 << 8) | (1 << 10) | (1 << 11)                            // LME, LMA, NXE
        guard ckvm_ioctl(vcpu, CKVM_SET_SREGS, &sregs) == 0 else { throw MonitorError("KVM_SET_SREGS: \(systemError())") }

        var regs = kvm_regs()
        regs.rip = entry
        regs.rsp = memory.size - 16
        regs.rdi = HypercallABI.bootInfoAddress
        regs.rflags = 0x2 | (3 << 12)                                             // IOPL 3, interrupts off
        guard ckvm_ioctl(vcpu, CKVM_SET_REGS, &regs) == 0 else { throw MonitorError("KVM_SET_REGS: \(systemError())") }

        var fpu = kvm_fpu()
        fpu.fcw = 0x37F
        fpu.mxcsr = 0x1F80
        guard ckvm_ioctl(vcpu, CKVM_SET_FPU, &fpu) == 0 else { throw MonitorError("KVM_SET_FPU: \(systemError())") }
    }

    static func segment(selector: UInt16, type: UInt8, code64: Bool) -> kvm_segment {
        kvm_segment(base: 0, limit: 0xFFFF_FFFF, selector: selector, type: type, present: 1, dpl: 3,
                    db: code64 ? 0 : 1, s: 1, l: code64 ? 1 : 0, g: 1, avl: 0, unusable: 0, padding: 0)
    }

    /// One VM exit, decoded.
    public enum Exit {
        case io(port: UInt16, size: UInt8, isOut: Bool, count: UInt32, value: UInt32)
        case mmio(address: UInt64, isWrite: Bool)
        case halt
        case shutdown
        case internalError(suberror: UInt32)
        case failEntry(reason: UInt64)
        case other(UInt32)
    }

    /// Runs the vCPU until its next exit.
    public func runUntilExit() throws(MonitorError) -> Exit {
        while ckvm_ioctl_value(vcpu, CKVM_RUN, 0) < 0 {
            guard errno == EINTR || errno == EAGAIN else { throw MonitorError("KVM_RUN: \(systemError())") }
        }
        switch run.pointee.exit_reason {
        case UInt32(KVM_EXIT_IO):
            var direction: UInt8 = 0, size: UInt8 = 0, port: UInt16 = 0, count: UInt32 = 0, offset: UInt64 = 0
            ckvm_exit_io(run, &direction, &size, &port, &count, &offset)
            var value: UInt32 = 0
            if offset + 4 <= UInt64(runSize) {
                value = UnsafeRawPointer(run).loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self)
                if size < 4 { value &= (1 << (UInt32(size) * 8)) - 1 }
            }
            return .io(port: port, size: size, isOut: direction == UInt8(KVM_EXIT_IO_OUT), count: count, value: value)
        case UInt32(KVM_EXIT_MMIO):
            var isWrite: UInt8 = 0
            let address = ckvm_exit_mmio_address(run, &isWrite)
            return .mmio(address: address, isWrite: isWrite != 0)
        case UInt32(KVM_EXIT_HLT): return .halt
        case UInt32(KVM_EXIT_SHUTDOWN): return .shutdown
        case UInt32(KVM_EXIT_INTERNAL_ERROR): return .internalError(suberror: ckvm_exit_internal_suberror(run))
        case UInt32(KVM_EXIT_FAIL_ENTRY): return .failEntry(reason: ckvm_exit_fail_entry_reason(run))
        case let reason: return .other(reason)
        }
    }

    /// Registers for a crash report (best effort: zeros when KVM refuses).
    public func registers() -> (regs: kvm_regs, sregs: kvm_sregs) {
        var regs = kvm_regs(), sregs = kvm_sregs()
        _ = ckvm_ioctl(vcpu, CKVM_GET_REGS, &regs)
        _ = ckvm_ioctl(vcpu, CKVM_GET_SREGS, &sregs)
        return (regs, sregs)
    }
}
