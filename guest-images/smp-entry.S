/* Multiboot v1 header and SMP entry for smp.elf, in place of lib/boot.S: with --vcpus N every
 * vCPU starts here at once (GUEST-ABI "Multiple vCPUs"), so each must switch to a stack of its
 * own before its first push. The index comes from CPUID leaf 1 EBX[31:24] (the initial APIC ID,
 * as a real AP would read it); then smp_main(magic, mbi, index) runs on that stack. */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules, want memory info */
#define SMP_MAX_CPUS 8      /* keep in step with smp.c */
#define SMP_STACK_SHIFT 14  /* 16 KiB per vCPU, keep in step with smp.c */

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
        /* No stack yet: keep the Multiboot hand-over in registers CPUID does not touch. */
        movl %eax, %esi
        movl %ebx, %edi
        movl $1, %eax
        cpuid
        shrl $24, %ebx
        cmpl $SMP_MAX_CPUS, %ebx
        jae 2f
        leal 1(%ebx), %eax
        shll $SMP_STACK_SHIFT, %eax
        leal smp_stacks(%eax), %esp
        xorl %ebp, %ebp
        pushl $2
        popfl
        pushl %ebx
        pushl %edi
        pushl %esi
        call smp_main
        addl $12, %esp
        /* Only vCPU 0 returns (with its exit value); APs halt inside smp_main. */
        pushl %eax
        call exit
        /* More vCPUs than stacks: such a vCPU takes no part and sleeps without touching memory. */
2:      cli
        hlt
        jmp 2b
