// Traps: the 64-bit GDT and TSS, the IDT, and the frame that traps.S hands to Swift.
//
// `Traps.install()` runs once at boot. It replaces the boot GDT with one that also holds a TSS, whose
// IST 1 entry points at a dedicated 16 KiB stack, and fills all 256 IDT gates with interrupt gates that
// switch to IST 1. Using a separate stack for every trap keeps the interrupted code's red zone intact
// (Swift code is compiled with a red zone) and lets a stack overflow still be reported.
// What to do with a trap is not decided here: traps.S calls `tessera_trap(frame)` in the generated
// wiring file, which hands the frame to the kernel.

/// The registers saved by traps.S, lowest address first; then what the CPU pushed.
public struct TrapFrame {
    public var r15, r14, r13, r12, r11, r10, r9, r8: UInt64
    public var rbp, rdi, rsi, rdx, rcx, rbx, rax: UInt64
    public var vector: UInt64
    public var errorCode: UInt64
    public var rip, cs, rflags, rsp, ss: UInt64
}

@_extern(c, "tessera_arch_tables") func _archTables(_ out: UnsafeMutablePointer<UInt>)

public enum Traps {
    /// Exception names, by vector (Intel SDM vol. 3, table 6-1).
    public static func name(ofVector vector: UInt64) -> StaticString {
        switch vector {
        case 0: return "divide error (#DE)"
        case 1: return "debug (#DB)"
        case 2: return "non-maskable interrupt"
        case 3: return "breakpoint (#BP)"
        case 4: return "overflow (#OF)"
        case 5: return "bound range exceeded (#BR)"
        case 6: return "invalid opcode (#UD)"
        case 7: return "device not available (#NM)"
        case 8: return "double fault (#DF)"
        case 10: return "invalid TSS (#TS)"
        case 11: return "segment not present (#NP)"
        case 12: return "stack-segment fault (#SS)"
        case 13: return "general protection (#GP)"
        case 14: return "page fault (#PF)"
        case 16: return "x87 floating-point error (#MF)"
        case 17: return "alignment check (#AC)"
        case 18: return "machine check (#MC)"
        case 19: return "SIMD floating-point exception (#XM)"
        case 20: return "virtualization exception (#VE)"
        case 21: return "control protection (#CP)"
        case 0..<32: return "reserved exception"
        default: return "interrupt"
        }
    }

    /// True for vectors 0-31, the CPU exceptions.
    public static func isException(_ vector: UInt64) -> Bool { vector < 32 }

    /// Loads the GDT with TSS and the IDT. Call once, early, with interrupts disabled.
    public static func install() {
        var tables: (UInt, UInt, UInt, UInt, UInt) = (0, 0, 0, 0, 0)
        withUnsafeMutablePointer(to: &tables) {
            $0.withMemoryRebound(to: UInt.self, capacity: 5) { _archTables($0) }
        }
        let (idt, gdt, tss, istTop, stubs) = tables

        // TSS: IST1 at offset 36 (ist[0]); I/O map base past the end (no I/O bitmap).
        let tssBytes = UnsafeMutableRawPointer(bitPattern: tss)!
        tssBytes.storeBytes(of: UInt64(istTop), toByteOffset: 36, as: UInt64.self)
        tssBytes.storeBytes(of: UInt16(104), toByteOffset: 102, as: UInt16.self)

        // GDT: null, 0x08 code64, 0x10 data, 0x18 TSS (a 16-byte system descriptor).
        let g = UnsafeMutablePointer<UInt64>(bitPattern: gdt)!
        g[0] = 0
        g[1] = 0x00AF_9A00_0000_FFFF
        g[2] = 0x00CF_9200_0000_FFFF
        let base = UInt64(tss), limit: UInt64 = 103
        g[3] = (limit & 0xFFFF) | ((base & 0xFF_FFFF) << 16) | (0x89 << 40) | (((limit >> 16) & 0xF) << 48)
            | (((base >> 24) & 0xFF) << 56)
        g[4] = base >> 32
        loadDescriptorTable(base: gdt, limit: 5 * 8 - 1, with: _lgdt)
        _ltr(0x18)

        // IDT: 256 interrupt gates (type 0xE), present, DPL 0, selector 0x08, IST 1.
        let gates = UnsafeMutablePointer<UInt64>(bitPattern: idt)!
        for vector in 0..<256 {
            let handler = UInt64(stubs) + UInt64(vector) * 16
            gates[2 * vector] = (handler & 0xFFFF) | (0x08 << 16) | (1 << 32) | (0x8E << 40)
                | (((handler >> 16) & 0xFFFF) << 48)
            gates[2 * vector + 1] = handler >> 32
        }
        loadDescriptorTable(base: idt, limit: 256 * 16 - 1, with: _lidt)
    }

    private static func loadDescriptorTable(base: UInt, limit: UInt16,
                                            with load: (UnsafeRawPointer) -> Void) {
        // The 10-byte pseudo-descriptor: 16-bit limit, then the 64-bit base.
        var descriptor: (UInt16, UInt16, UInt16, UInt16, UInt16) =
            (limit, UInt16(truncatingIfNeeded: base), UInt16(truncatingIfNeeded: base >> 16),
             UInt16(truncatingIfNeeded: base >> 32), UInt16(truncatingIfNeeded: base >> 48))
        withUnsafePointer(to: &descriptor) { load(UnsafeRawPointer($0)) }
    }
}
