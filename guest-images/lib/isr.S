/* Interrupt entry stubs for all 256 vectors and the common save/restore path around
 * trap_dispatch(). Mirrors arch/x86/entry/entry_32.S: push a dummy error code where the CPU
 * pushes none, push the vector, save the registers, switch to kernel data segments. */

        .altmacro
/* Each stub is exactly 16 bytes apart so idt.c can compute stub addresses. */
.macro isr_stub v
        .align 16
.if (\v == 8) || ((\v >= 10) && (\v <= 14)) || (\v == 17)
        /* the CPU pushed an error code */
.else
        pushl $0
.endif
        pushl $\v
        jmp isr_common
.endm

        .text
        .globl isr_stubs
        .align 16
isr_stubs:
.set vec, 0
.rept 256
        isr_stub %vec
.set vec, vec + 1
.endr

isr_common:
        pushal
        pushl %ds
        pushl %es
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        cld
        pushl %esp
        call trap_dispatch
        addl $4, %esp
        popl %es
        popl %ds
        popal
        addl $8, %esp
        iretl
