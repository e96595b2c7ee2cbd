/* The cpufuzz harness: load a register and flag state, call a generated block with EBP
 * pointing into scratch memory, store the resulting registers and EFLAGS back. cdecl:
 * void fuzz_run(const uint8_t *code, struct fuzz_state *st, uint8_t *ebp). */
        .text
        .globl fuzz_run
fuzz_run:
        pushl %ebp
        pushl %ebx
        pushl %esi
        pushl %edi
        movl %esp, fuzz_esp
        movl 20(%esp), %eax
        movl %eax, fuzz_code
        movl 24(%esp), %ecx
        movl %ecx, fuzz_st
        movl 28(%esp), %ebp
        pushl 24(%ecx)
        movl 0(%ecx), %eax
        movl 8(%ecx), %edx
        movl 12(%ecx), %ebx
        movl 16(%ecx), %esi
        movl 20(%ecx), %edi
        movl 4(%ecx), %ecx
        popfl
        call *fuzz_code
        pushfl
        pushl %ecx
        movl fuzz_st, %ecx
        movl %eax, 0(%ecx)
        popl %eax
        movl %eax, 4(%ecx)
        movl %edx, 8(%ecx)
        movl %ebx, 12(%ecx)
        movl %esi, 16(%ecx)
        movl %edi, 20(%ecx)
        popl %eax
        movl %eax, 24(%ecx)
        movl fuzz_esp, %esp
        cld
        popl %edi
        popl %esi
        popl %ebx
        popl %ebp
        ret

        .bss
        .align 4
fuzz_esp:       .skip 4
fuzz_code:      .skip 4
fuzz_st:        .skip 4
