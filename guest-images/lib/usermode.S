/* Ring 0 -> ring 3 and back for guest kernels: enter_user() IRETs into user code on a user stack
 * and returns only when a trap handler calls leave_user(code). Mirrors the role of Linux's
 * start_thread + the exit path of a task, collapsed to one synchronous "run this user program". */

        .text
        .globl enter_user, leave_user
/* uint32_t enter_user(uint32_t eip, uint32_t user_esp, uint32_t eflags) */
enter_user:
        pushl %ebp
        pushl %ebx
        pushl %esi
        pushl %edi
        movl %esp, kernel_saved_esp
        movl 20(%esp), %ecx
        movl 24(%esp), %edx
        movl 28(%esp), %eax
        pushl $0x23             /* SS: ring 3 data */
        pushl %edx              /* ESP */
        pushl %eax              /* EFLAGS */
        pushl $0x1B             /* CS: ring 3 code */
        pushl %ecx              /* EIP */
        movw $0x23, %ax
        movw %ax, %ds
        movw %ax, %es
        xorl %eax, %eax
        xorl %ebx, %ebx
        xorl %ecx, %ecx
        xorl %edx, %edx
        xorl %esi, %esi
        xorl %edi, %edi
        xorl %ebp, %ebp
        iretl

/* void leave_user(uint32_t code): called from a trap handler; abandons the trap frame and
 * returns `code` from enter_user on the kernel stack saved there. */
leave_user:
        movl 4(%esp), %eax
        movl kernel_saved_esp, %esp
        movw $0x10, %cx
        movw %cx, %ds
        movw %cx, %es
        movw %cx, %fs
        movw %cx, %gs
        popl %edi
        popl %esi
        popl %ebx
        popl %ebp
        ret

        .bss
        .align 4
kernel_saved_esp:
        .skip 4
