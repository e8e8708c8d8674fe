// GuestCPUID: the CPUID leaves the guest sees — a short, fixed list instead of everything KVM supports.
//
// Asking KVM for its supported list (KVM_GET_SUPPORTED_CPUID) costs about 0.3 ms here, a tenth of the
// whole launch, and a unikernel needs little of it. The guest gets the host's vendor, family and model,
// the baseline features its code is compiled for (x87, TSC, CMOV, FXSR, SSE, SSE2, plus SSE3 ... SSE4.2,
// POPCNT, AES, PCLMUL, CX16, RDRAND when the host has them), long mode, NX, RDTSCP, 1 GiB pages, the
// hypervisor bit, and the hypervisor timing leaf 0x40000010 with the TSC frequency (the convention KVM
// and VMware use), which the clock library reads. Nothing that needs an emulated device (APIC, x2APIC,
// TSC-deadline) and no XSAVE/AVX (the monitor enables only SSE state).

public struct CPUIDEntry: Equatable {
    public var leaf: UInt32
    public var eax, ebx, ecx, edx: UInt32
}

public enum GuestCPUID {
    static let leaf1ECX: UInt32 = (1 << 0) | (1 << 1) | (1 << 9) | (1 << 13) | (1 << 19) | (1 << 20) | (1 << 23)
        | (1 << 25) | (1 << 30)                          // SSE3 PCLMUL SSSE3 CX16 SSE4.1 SSE4.2 POPCNT AES RDRAND
    static let leaf1EDX: UInt32 = (1 << 0) | (1 << 4) | (1 << 8) | (1 << 15) | (1 << 23) | (1 << 24) | (1 << 25)
        | (1 << 26)                                      // FPU TSC CX8 CMOV MMX FXSR SSE SSE2
    static let extendedEDX: UInt32 = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29)   // SYSCALL NX 1G RDTSCP LM
    static let hypervisorBit: UInt32 = 1 << 31

    /// The guest's leaves, from the host's (`host(leaf)` returns eax, ebx, ecx, edx).
    public static func entries(tscKilohertz: UInt32, host: (UInt32) -> (UInt32, UInt32, UInt32, UInt32)) -> [CPUIDEntry] {
        let vendor = host(0)
        let features = host(1)
        let extended = host(0x8000_0000).0 >= 0x8000_0001 ? host(0x8000_0001) : (0, 0, 0, 0)
        return [
            CPUIDEntry(leaf: 0, eax: 1, ebx: vendor.1, ecx: vendor.2, edx: vendor.3),
            CPUIDEntry(leaf: 1, eax: features.0, ebx: features.1 & 0x0000_FFFF,       // APIC ID 0, one CPU
                       ecx: features.2 & leaf1ECX | hypervisorBit, edx: features.3 & leaf1EDX),
            // "TesseraKVM\0\0": the hypervisor's signature, then the timing leaf.
            CPUIDEntry(leaf: 0x4000_0000, eax: 0x4000_0010, ebx: 0x7373_6554, ecx: 0x4B61_7265, edx: 0x0000_4D56),
            CPUIDEntry(leaf: 0x4000_0010, eax: tscKilohertz, ebx: 0, ecx: 0, edx: 0),
            CPUIDEntry(leaf: 0x8000_0000, eax: 0x8000_0001, ebx: 0, ecx: 0, edx: 0),
            CPUIDEntry(leaf: 0x8000_0001, eax: extended.0, ebx: 0, ecx: extended.2 & 1, edx: extended.3 & extendedEDX),
        ]
    }
}
