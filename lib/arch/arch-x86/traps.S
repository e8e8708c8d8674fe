/*
 * traps.S: the 256 interrupt/exception entry stubs and the common path to Swift.
 *
 * Each stub makes the stack look the same whatever the vector: it pushes a zero error code when the
 * CPU does not push one, then the vector number, then jumps to trap_common, which saves the general
 * registers to form a TrapFrame (layout mirrored by `TrapFrame` in Traps.swift) and calls
 * tessera_trap(frame) in the generated wiring file. If that returns, the registers are restored and
 * iretq resumes the interrupted code. The SSE/x87 state is saved around the call (fxsave64) because
 * the Swift handler may use SSE registers that the interrupted code was using. Every gate uses IST 1 (a dedicated stack set up in the TSS by
 * Swift), so an interrupt never writes into the red zone below the interrupted code's stack pointer
 * and a stack overflow can still be reported.
 * The stubs are 16-byte aligned and in vector order: stub N is at tessera_trap_stubs + 16 * N.
 */
    .text
    .code64

    .p2align 4
    .globl tessera_trap_stubs
tessera_trap_stubs:
    .set vector, 0
    .rept 256
    .p2align 4
    .if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp trap_common
    .set vector, vector + 1
    .endr

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rbx             /* callee-saved: the frame, to restore %rsp after the call */
    subq $512, %rsp             /* the interrupted code's SSE/x87 state: Swift handlers use SSE */
    andq $-16, %rsp
    fxsave64 (%rsp)
    movq %rbx, %rdi
    call tessera_trap

    /* Preemption: a handler asked to switch threads. Leave the IST stack first: copy the trap frame and
       the saved SSE state onto the interrupted thread's own stack, below its red zone, and switch there;
       tessera_preempt then switches threads, and when this thread runs again it returns here and the
       common path below restores it from its own stack. */
    cmpb $0, tessera_preempt_pending(%rip)
    je 1f
    movb $0, tessera_preempt_pending(%rip)
    movq 0xA0(%rbx), %rdi       /* the interrupted %rsp */
    subq $(128 + 176), %rdi     /* red zone, then the 176-byte trap frame */
    andq $-16, %rdi
    movq %rdi, %r12             /* the frame's new home */
    movq %rbx, %rsi
    movl $176, %ecx
    rep movsb
    leaq -512(%r12), %rdi       /* the SSE state just below it */
    movq %rsp, %rsi
    movl $512, %ecx
    rep movsb
    movq %r12, %rbx
    leaq -512(%r12), %rsp
    call tessera_preempt
1:
    fxrstor64 (%rsp)
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp              /* vector and error code */
    iretq


    .weak tessera_preempt       /* defined by the threads library's wiring; absent, never called */

    .section .data.preempt, "aw", @progbits
    .globl tessera_preempt_pending
tessera_preempt_pending:
    .byte 0

/* Tables filled in by Traps.swift: the IDT, the 64-bit GDT with a TSS, the TSS, the IST 1 stack. */
    .section .bss.arch_tables, "aw", @nobits
    .p2align 12
tessera_idt:        .space 256 * 16
tessera_gdt64:      .space 7 * 8            /* null, code, data, TSS (two slots), spare */
    .p2align 4
tessera_tss:        .space 104
    .p2align 4
tessera_ist_stack:  .space 16384
tessera_ist_stack_top:

    .text
    .globl tessera_arch_tables
tessera_arch_tables:        /* (out: *[idt, gdt, tss, ist top, trap stubs] as 5 pointers) */
    leaq tessera_idt(%rip), %rax
    movq %rax, 0(%rdi)
    leaq tessera_gdt64(%rip), %rax
    movq %rax, 8(%rdi)
    leaq tessera_tss(%rip), %rax
    movq %rax, 16(%rdi)
    leaq tessera_ist_stack_top(%rip), %rax
    movq %rax, 24(%rdi)
    leaq tessera_trap_stubs(%rip), %rax
    movq %rax, 32(%rdi)
    ret
