/*
 * boot.S: from the PVH entry point to the first Swift function.
 *
 * A PVH loader (QEMU's -kernel on microvm, pc and q35) finds the ELF note of type 18
 * (XEN_ELFNOTE_PHYS32_ENTRY) below and jumps to its address in 32-bit protected mode, paging off,
 * with %ebx holding the physical address of the hvm_start_info block. This file then:
 *   1. stamps the TSC (boot-time figures are measured from here),
 *   2. builds identity page tables for the first 4 GiB (1 GiB pages above the first GiB when the CPU
 *      has them, else 2 MiB pages; 2 MiB pages in the first GiB, except the first 2 MiB which use
 *      4 KiB pages, so that the kernel can unmap page 0 once it has read the boot information the
 *      loader may have put there; from then on a null dereference faults),
 *   3. enables PAE, long mode, no-execute, paging, and SSE (CR0.MP, !CR0.EM, CR4.OSFXSR/OSXMMEXCPT),
 *   4. loads a 64-bit GDT and far-jumps into 64-bit code,
 *   5. seeds the stack-protector guard from RDRAND (or the TSC), sets up the boot stack and calls
 *      tessera_start(start_info) — a C-named function in the generated wiring file.
 * Nothing else runs before Swift. All addresses are physical = virtual (identity map).
 */

#define PVH_ENTRY_NOTE 18

    .section .note.tessera.pvh, "a", @note
    .p2align 2
    .long 4                 /* name size: "Xen\0" */
    .long 4                 /* descriptor size */
    .long PVH_ENTRY_NOTE
    .asciz "Xen"
    .p2align 2
    .long pvh_start32
    .p2align 2

    .section .text.boot32, "ax", @progbits
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %esi                                 /* start_info: cpuid clobbers %ebx */
    rdtsc
    movl %eax, tessera_boot_tsc
    movl %edx, tessera_boot_tsc + 4

    /* PML4[0] -> PDPT; PDPT[0] -> PD (the first GiB). Flags 0x3 = present | writable. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    movl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt

    /* GiB 1-3: one 1 GiB page each when the CPU has them (CPUID 0x80000001 EDX bit 26), which
       saves filling 1536 entries at boot; else three more page directories of 2 MiB pages. */
    movl $0x80000001, %eax
    cpuid
    btl $26, %edx
    jnc 8f
    movl $1, %ecx
7:  movl %ecx, %eax
    shll $30, %eax
    orl $0x83, %eax                                 /* present | writable | large */
    movl %eax, boot_pdpt(, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jne 7b
    movl $512, %edi                                 /* 2 MiB entries to fill: the first GiB only */
    jmp 9f
8:  movl $1, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt(, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jne 1b
    movl $2048, %edi

    /* PD entries: 2 MiB pages, flags 0x83 = present | writable | large. */
9:  xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, boot_pd(, %ecx, 8)
    incl %ecx
    cmpl %edi, %ecx
    jne 2b

    /* The first 2 MiB through a 4 KiB page table (page 0 is unmapped later, by Swift). */
    movl $boot_pt, %eax
    orl $0x3, %eax
    movl %eax, boot_pd
    xorl %ecx, %ecx
3:  movl %ecx, %eax
    shll $12, %eax
    orl $0x3, %eax
    movl %eax, boot_pt(, %ecx, 8)
    movl $0, boot_pt + 4(, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 3b

    movl $boot_pml4, %eax
    movl %eax, %cr3

    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax    /* PAE, OSFXSR, OSXMMEXCPT */
    movl %eax, %cr4

    movl $0xC0000080, %ecx                          /* EFER */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax               /* LME, NXE */
    wrmsr

    movl %cr0, %eax
    andl $~(1 << 2), %eax                           /* clear EM: no x87 emulation */
    orl $((1 << 31) | (1 << 5) | (1 << 1) | 1), %eax /* PG, NE, MP, PE */
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $start64

    .code64
start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs

    movl %esi, %r12d                                /* start_info, kept across cpuid */

    /* Stack-protector guard: RDRAND when CPUID.1:ECX[30] says so, else the TSC. */
    movl $1, %eax
    cpuid
    btl $30, %ecx
    jnc 5f
    movl $16, %ecx
4:  rdrand %rax
    jc 6f
    loop 4b
5:  rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    movabsq $0x9E3779B97F4A7C15, %rdx
    imulq %rdx, %rax
6:  movq %rax, __stack_chk_guard

    leaq tessera_boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    movl %r12d, %edi                                /* zero-extends: start_info physical address */
    call tessera_start
7:  cli
    hlt
    jmp 7b

    .section .rodata.boot_gdt, "a", @progbits
    .p2align 3
    .globl tessera_gdt
tessera_gdt:
    .quad 0                                         /* null */
    .quad 0x00AF9A000000FFFF                        /* 0x08: 64-bit code, ring 0 */
    .quad 0x00CF92000000FFFF                        /* 0x10: data, ring 0 */
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - tessera_gdt - 1
    .long tessera_gdt

    .section .data.boot, "aw", @progbits
    .p2align 3
    .globl tessera_boot_tsc
tessera_boot_tsc:
    .quad 0
    .globl __stack_chk_guard
__stack_chk_guard:
    .quad 0

    .section .bss.boot_tables, "aw", @nobits
    .p2align 12
boot_pml4:  .space 4096
boot_pdpt:  .space 4096
boot_pd:    .space 4 * 4096
    .globl tessera_boot_pt
tessera_boot_pt:
boot_pt:    .space 4096

    .section .bss.boot_stack, "aw", @nobits
    .p2align 4
    .globl tessera_boot_stack_bottom
tessera_boot_stack_bottom:
    .space 32768
    .globl tessera_boot_stack_top
tessera_boot_stack_top:
