/*
 * runtime.S: the C names the Swift runtime calls (posix_memalign, free, putchar), forwarded to the
 * image's wiring file. Swift reserves these names for the runtime, so the wiring exports them under
 * tessera_ names and these one-instruction trampolines give them their C names.
 */
    .text
    .globl posix_memalign
posix_memalign:
    jmp tessera_posix_memalign
    .globl free
free:
    jmp tessera_free
    .globl putchar
putchar:
    jmp tessera_putchar
