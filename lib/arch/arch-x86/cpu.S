/*
 * cpu.S: the x86-64 instructions Swift cannot emit, as tiny C-callable functions (System V ABI), and
 * the memory primitives the Swift runtime expects from the platform (memcpy, memmove, memset, memcmp).
 * The memory primitives are here, not in Swift, so that the compiler can never turn their loops back
 * into calls to themselves; `rep movsb/stosb` is fast on CPUs with ERMS and small everywhere.
 * Swift declares each function with @_extern(c) in CPU.swift.
 */
    .text
    .code64

    .globl tessera_outb
tessera_outb:               /* (port: UInt16, value: UInt8) */
    movl %edi, %edx
    movl %esi, %eax
    outb %al, %dx
    ret

    .globl tessera_inb
tessera_inb:                /* (port: UInt16) -> UInt8 */
    movl %edi, %edx
    xorl %eax, %eax
    inb %dx, %al
    ret

    .globl tessera_outl
tessera_outl:               /* (port: UInt16, value: UInt32) */
    movl %edi, %edx
    movl %esi, %eax
    outl %eax, %dx
    ret

    .globl tessera_inl
tessera_inl:                /* (port: UInt16) -> UInt32 */
    movl %edi, %edx
    inl %dx, %eax
    ret

    .globl tessera_rdtsc
tessera_rdtsc:              /* () -> UInt64 */
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    ret

    .globl tessera_rdrand
tessera_rdrand:             /* (out: *UInt64) -> Bool; up to 10 retries as Intel recommends */
    movl $10, %ecx
1:  rdrand %rax
    jc 2f
    loop 1b
    xorl %eax, %eax
    ret
2:  movq %rax, (%rdi)
    movl $1, %eax
    ret

    .globl tessera_cpuid
tessera_cpuid:              /* (leaf: UInt32, subleaf: UInt32, out: *UInt32 x4) */
    pushq %rbx
    movq %rdx, %r8
    movl %edi, %eax
    movl %esi, %ecx
    cpuid
    movl %eax, 0(%r8)
    movl %ebx, 4(%r8)
    movl %ecx, 8(%r8)
    movl %edx, 12(%r8)
    popq %rbx
    ret

    .globl tessera_read_cr0
tessera_read_cr0:
    movq %cr0, %rax
    ret
    .globl tessera_read_cr2
tessera_read_cr2:
    movq %cr2, %rax
    ret
    .globl tessera_read_cr3
tessera_read_cr3:
    movq %cr3, %rax
    ret
    .globl tessera_read_cr4
tessera_read_cr4:
    movq %cr4, %rax
    ret

    .globl tessera_halt
tessera_halt:               /* wait for the next interrupt */
    hlt
    ret

    .globl tessera_halt_forever
tessera_halt_forever:
    cli
1:  hlt
    jmp 1b

    .globl tessera_lidt
tessera_lidt:               /* (pointer: *IDTR) */
    lidt (%rdi)
    ret

    .globl tessera_ltr
tessera_ltr:                /* (selector: UInt16) */
    ltr %di
    ret

    .globl tessera_lgdt
tessera_lgdt:               /* (pointer: *GDTR); reloads CS with 0x08 and data segments with 0x10 */
    lgdt (%rdi)
    pushq $0x08
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    ret

    .globl tessera_read_rbp
tessera_read_rbp:           /* the caller's frame pointer */
    movq %rbp, %rax
    ret

    .globl memcpy
memcpy:                     /* (dst, src, n) -> dst */
    movq %rdi, %rax
    movq %rdx, %rcx
    rep movsb
    ret

    .globl memset
memset:                     /* (dst, byte, n) -> dst */
    movq %rdi, %r9
    movl %esi, %eax
    movq %rdx, %rcx
    rep stosb
    movq %r9, %rax
    ret

    .globl memmove
memmove:                    /* (dst, src, n) -> dst; copies backwards when dst overlaps the tail of src */
    movq %rdi, %rax
    movq %rdx, %rcx
    cmpq %rsi, %rdi
    jbe 1f
    leaq (%rsi, %rdx), %r8
    cmpq %r8, %rdi
    jae 1f
    leaq -1(%rdi, %rdx), %rdi
    leaq -1(%rsi, %rdx), %rsi
    std
    rep movsb
    cld
    ret
1:  rep movsb
    ret

    .globl memcmp
memcmp:                     /* (a, b, n) -> <0, 0, >0 */
    xorl %eax, %eax
    testq %rdx, %rdx
    jz 2f
1:  movzbl (%rdi), %eax
    movzbl (%rsi), %ecx
    subl %ecx, %eax
    jnz 2f
    incq %rdi
    incq %rsi
    decq %rdx
    jnz 1b
2:  ret

    .globl tessera_boot_timestamp
tessera_boot_timestamp:     /* the TSC stamped at the first kernel instruction */
    movq tessera_boot_tsc(%rip), %rax
    ret

    .globl tessera_kernel_bounds
tessera_kernel_bounds:      /* (out: *[start, end]) from the linker script */
    leaq __kernel_start(%rip), %rax
    movq %rax, 0(%rdi)
    leaq __kernel_end(%rip), %rax
    movq %rax, 8(%rdi)
    ret

    .globl tessera_unmap_null_page
tessera_unmap_null_page:    /* page 0 not present from now on: null dereferences fault */
    movq $0, tessera_boot_pt(%rip)
    xorl %eax, %eax
    invlpg (%rax)
    ret

    .globl tessera_rdmsr
tessera_rdmsr:              /* (msr: UInt32) -> UInt64 */
    movl %edi, %ecx
    rdmsr
    shlq $32, %rdx
    orq %rdx, %rax
    ret

    .globl tessera_wrmsr
tessera_wrmsr:              /* (msr: UInt32, value: UInt64) */
    movl %edi, %ecx
    movl %esi, %eax
    movq %rsi, %rdx
    shrq $32, %rdx
    wrmsr
    ret

    .globl tessera_interrupts_disable
tessera_interrupts_disable: /* () -> Bool: whether they were enabled */
    pushfq
    popq %rax
    shrq $9, %rax
    andl $1, %eax
    cli
    ret

    .globl tessera_interrupts_enable
tessera_interrupts_enable:
    sti
    ret

    .globl tessera_wait_for_interrupt
tessera_wait_for_interrupt: /* enable interrupts and halt, atomically: no wake-up is lost */
    sti
    hlt
    cli
    ret

    .globl tessera_invlpg
tessera_invlpg:             /* (address) */
    invlpg (%rdi)
    ret

    .globl tessera_memory_barrier
tessera_memory_barrier:     /* a full fence; also a compiler barrier, being an opaque call */
    mfence
    ret

/* MMIO: device registers must be read and written exactly as the code says, in order; as opaque
   calls these cannot be merged, reordered or removed by the compiler. */
    .globl tessera_mmio_read32
tessera_mmio_read32:        /* (address) -> UInt32 */
    movl (%rdi), %eax
    ret
    .globl tessera_mmio_write32
tessera_mmio_write32:       /* (address, value) */
    movl %esi, (%rdi)
    ret
    .globl tessera_mmio_read16
tessera_mmio_read16:
    movzwl (%rdi), %eax
    ret
    .globl tessera_mmio_read8
tessera_mmio_read8:
    movzbl (%rdi), %eax
    ret

/* 16-bit port I/O and 8/16-bit MMIO writes, for bus and device drivers (PCI configuration space,
   virtio-pci registers). Each sits in its own section, so --gc-sections drops the ones an image never
   calls: an image without such a driver carries none of them. */
    .section .text.tessera_outw, "ax", @progbits
    .globl tessera_outw
tessera_outw:               /* (port: UInt16, value: UInt16) */
    movl %edi, %edx
    movl %esi, %eax
    outw %ax, %dx
    ret

    .section .text.tessera_inw, "ax", @progbits
    .globl tessera_inw
tessera_inw:                /* (port: UInt16) -> UInt16 */
    movl %edi, %edx
    xorl %eax, %eax
    inw %dx, %ax
    ret

    .section .text.tessera_mmio_write16, "ax", @progbits
    .globl tessera_mmio_write16
tessera_mmio_write16:       /* (address, value) */
    movw %si, (%rdi)
    ret

    .section .text.tessera_mmio_write8, "ax", @progbits
    .globl tessera_mmio_write8
tessera_mmio_write8:        /* (address, value) */
    movb %sil, (%rdi)
    ret
