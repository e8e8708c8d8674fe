/*
 * switch.S: switching between threads' stacks.
 *
 * tessera_context_switch(save: *UInt64, to: UInt64) saves the callee-saved registers, MXCSR and the x87
 * control word (all the state the System V ABI says a call preserves) on the current stack, stores the
 * stack pointer in *save, loads `to` as the stack pointer and restores the same state from it. Call it
 * with interrupts disabled; each thread restores its own interrupt state when the call returns.
 * A new thread's stack is prepared (by Threads) so that its first switch "returns" into
 * tessera_thread_trampoline with %r12 = its argument; the trampoline calls tessera_thread_start(argument),
 * which enables interrupts and never returns.
 */
    .text
    .code64

    .globl tessera_context_switch
tessera_context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    .globl tessera_thread_trampoline
tessera_thread_trampoline:
    movq %r12, %rdi
    xorl %ebp, %ebp             /* the backtrace ends here */
    call tessera_thread_start   /* which enables interrupts (unless the CPU is deprivileged) */
    ud2

    .globl tessera_thread_trampoline_address
tessera_thread_trampoline_address:
    leaq tessera_thread_trampoline(%rip), %rax
    ret

    .globl tessera_request_preempt
tessera_request_preempt:    /* asks traps.S to preempt the interrupted thread on the way out */
    movb $1, tessera_preempt_pending(%rip)
    ret
