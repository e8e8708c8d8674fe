/*
 * entry.S: the ELF entry point under Tessera's KVM monitor.
 *
 * The monitor enters here already in 64-bit mode (ring 3, IOPL 3, interrupts off, paging on with an
 * identity map it built) with %rdi = the boot-info block's address. So unlike the PVH path in
 * arch-x86/boot.S there is nothing to switch: stamp the TSC, seed the stack-protector guard, move to the
 * kernel's boot stack and call tessera_start(boot info). The monitor's own stack (top of RAM) is left.
 */
    .section .text.kvm_entry, "ax", @progbits
    .code64
    .globl tessera_kvm_start
tessera_kvm_start:
    cld
    movq %rdi, %r12                                 /* boot info, kept across cpuid */
    rdtsc
    movl %eax, tessera_boot_tsc(%rip)
    movl %edx, tessera_boot_tsc + 4(%rip)

    /* Stack-protector guard: RDRAND when CPUID.1:ECX[30] says so, else the TSC, mixed. */
    movl $1, %eax
    cpuid
    btl $30, %ecx
    jnc 2f
    movl $16, %ecx
1:  rdrand %rax
    jc 3f
    loop 1b
2:  rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    movabsq $0x9E3779B97F4A7C15, %rdx
    imulq %rdx, %rax
3:  movq %rax, __stack_chk_guard(%rip)

    leaq tessera_boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    movq %r12, %rdi
    call tessera_start
4:  ud2                                             /* tessera_start does not return */
    jmp 4b
