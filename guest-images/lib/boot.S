/* Multiboot v1 header and entry stub shared by every guest image (GUEST-ABI "State at entry").
 * Mirrors what a Multiboot kernel's head does: take EAX/EBX from the loader, set a stack,
 * call kmain(magic, mbi) and report its return value through the 0xF4 exit device. */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules, want memory info */

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .text.boot, "ax"
        .globl _start
_start:
        cli
        cld
        movl $boot_stack_top, %esp
        xorl %ebp, %ebp
        /* Clear EFLAGS to a known value (the ABI promises 0x2, be robust anyway). */
        pushl $2
        popfl
        pushl %ebx
        pushl %eax
        call kmain
        addl $8, %esp
        pushl %eax
        call exit
1:      cli
        hlt
        jmp 1b

        .section .bss
        .align 16
        .globl boot_stack_bottom
boot_stack_bottom:
        .skip 65536
        .globl boot_stack_top
boot_stack_top:
