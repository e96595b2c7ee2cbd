/* Hand-written assembly halves of cputest: instructions that move the stack pointer or the
 * flow of control (PUSHAD/POPAD, ENTER/LEAVE, RET imm16, LOOP/JECXZ, far CALL/RET), which
 * inline asm inside a C function cannot safely exercise. cdecl; each writes results to out[]. */
        .text

        .globl asm_out, asm_memval
        .bss
        .align 4
asm_out:        .skip 4 * 64
asm_tmp:        .skip 4 * 4
        .data
        .align 4
asm_memval:     .long 0xCAFEBABE
asm_store:      .long 0

        .text
/* Saves the callee-saved registers of the C caller around a test body. */
.macro ENTER_TEST
        pushl %ebp
        pushl %ebx
        pushl %esi
        pushl %edi
        movl %esp, asm_tmp
.endm
.macro LEAVE_TEST
        movl asm_tmp, %esp
        popl %edi
        popl %esi
        popl %ebx
        popl %ebp
        ret
.endm

/* PUSHAD/POPAD: out[0..7] = the stored image (lowest address first), out[8] = ESP before,
 * out[9..15] = EAX ECX EDX EBX EBP ESI EDI after POPAD, out[16] = ESP after POPAD. */
        .globl asm_pushad
asm_pushad:
        ENTER_TEST
        movl $0xA0A0A0A0, %eax
        movl $0xC1C1C1C1, %ecx
        movl $0xD2D2D2D2, %edx
        movl $0xB3B3B3B3, %ebx
        movl $0xB5B5B5B5, %ebp
        movl $0x5E5E5E5E, %esi
        movl $0xD1D1D1D1, %edi
        movl %esp, asm_out + 8*4
        pushal
        .irp i, 0, 1, 2, 3, 4, 5, 6, 7
        movl \i*4(%esp), %eax
        movl %eax, asm_out + \i*4
        .endr
        movl $0x12345678, 12(%esp)      /* POPAD must skip the saved ESP slot */
        xorl %eax, %eax
        xorl %ecx, %ecx
        xorl %edx, %edx
        xorl %ebx, %ebx
        xorl %ebp, %ebp
        xorl %esi, %esi
        xorl %edi, %edi
        popal
        movl %eax, asm_out + 9*4
        movl %ecx, asm_out + 10*4
        movl %edx, asm_out + 11*4
        movl %ebx, asm_out + 12*4
        movl %ebp, asm_out + 13*4
        movl %esi, asm_out + 14*4
        movl %edi, asm_out + 15*4
        movl %esp, asm_out + 16*4
        LEAVE_TEST

/* PUSH/POP forms: imm8 (sign-extended), imm32, m32, POP m32, 16-bit push/pop, PUSH ESP,
 * PUSH/POP of a segment register. */
        .globl asm_push_forms
asm_push_forms:
        ENTER_TEST
        movl %esp, %ebx
        pushl $-1
        movl (%esp), %eax
        movl %eax, asm_out + 0
        pushl $0x12345678
        movl (%esp), %eax
        movl %eax, asm_out + 4
        pushl asm_memval
        movl (%esp), %eax
        movl %eax, asm_out + 8
        popl asm_out + 12
        pushw $0x1234
        movl %ebx, %eax
        subl %esp, %eax
        movl %eax, asm_out + 16         /* 4 + 4 + 2 = 10 bytes in use */
        movzwl (%esp), %eax
        movl %eax, asm_out + 20
        movl $0xFFFFFFFF, %ecx
        popw %cx
        movl %ecx, asm_out + 24         /* 0xFFFF1234: POP r16 keeps the upper half */
        pushl %esp                      /* pushes ESP as it was before the push */
        movl (%esp), %eax
        leal 4(%esp), %ecx
        subl %ecx, %eax
        movl %eax, asm_out + 28         /* 0 */
        addl $4, %esp
        pushl %ds
        movzwl (%esp), %eax
        movl %eax, asm_out + 32         /* 0x10 */
        popl %es
        movw %es, %ax
        movzwl %ax, %eax
        movl %eax, asm_out + 36         /* 0x10 */
        movl %ebx, %eax
        subl %esp, %eax
        movl %eax, asm_out + 40         /* 8: the two pushl $imm still on the stack */
        LEAVE_TEST

/* ENTER imm16, 0 / LEAVE. out[0] = ESP before - EBP after ENTER (4), out[1] = EBP - ESP (16),
 * out[2] = saved EBP ^ old EBP (0), out[3] = ESP before - ESP after LEAVE (0),
 * out[4] = EBP after LEAVE ^ old EBP (0). */
        .globl asm_enter_leave
asm_enter_leave:
        ENTER_TEST
        movl $0x600DF00D, %ebp
        movl %esp, %ebx
        enter $16, $0
        movl %ebx, %eax
        subl %ebp, %eax
        movl %eax, asm_out + 0
        movl %ebp, %eax
        subl %esp, %eax
        movl %eax, asm_out + 4
        movl (%ebp), %eax
        xorl $0x600DF00D, %eax
        movl %eax, asm_out + 8
        leave
        movl %ebx, %eax
        subl %esp, %eax
        movl %eax, asm_out + 12
        movl %ebp, %eax
        xorl $0x600DF00D, %eax
        movl %eax, asm_out + 16
        LEAVE_TEST

/* RET imm16, indirect CALL/JMP, far CALL/JMP/RET through the GDT code selector 0x08. */
        .globl asm_calls
asm_calls:
        ENTER_TEST
        movl %esp, %ebx
        pushl $1
        pushl $2
        call ret8_fn
        movl %ebx, %eax
        subl %esp, %eax
        movl %eax, asm_out + 0          /* 0: RET 8 removed both arguments */
        movl $ind_fn, %ecx
        call *%ecx                      /* FF /2 register */
        movl %eax, asm_out + 8          /* 0x1D1D */
        movl $ind_fn, asm_out + 60
        xorl %eax, %eax
        call *asm_out + 60              /* FF /2 memory */
        movl %eax, asm_out + 12         /* 0x1D1D */
        movl $0, asm_out + 16
        movl $1f, %ecx
        jmp *%ecx                       /* FF /4 */
        movl $0xBAD, asm_out + 16
1:      movl $jtab, %esi
        movl $2, %ecx
        jmp *(%esi,%ecx,4)              /* a jump table, as gcc emits for switch */
        movl $0xBAD, asm_out + 20
jt2:    movl $0x22, asm_out + 20
        lcall $0x08, $far_fn
        movl %eax, asm_out + 24         /* CS pushed by the far call: 0x08 */
        movl %ebx, %eax
        subl %esp, %eax
        movl %eax, asm_out + 28         /* 0 */
        pushl $7
        lcall $0x08, $far_fn_ret4
        movl %ebx, %eax
        subl %esp, %eax
        movl %eax, asm_out + 32         /* 0: LRET 4 dropped the argument */
        movl %ecx, asm_out + 36         /* 7 */
        ljmp $0x08, $2f
        movl $0xBAD, asm_out + 40
2:      movw %cs, %ax
        movzwl %ax, %eax
        movl %eax, asm_out + 40         /* 0x08 */
        LEAVE_TEST
ret8_fn:
        movl 4(%esp), %eax
        movl %eax, asm_out + 4          /* 2: the last argument pushed */
        ret $8
ind_fn:
        movl $0x1D1D, %eax
        ret
far_fn:
        movzwl 4(%esp), %eax
        lret
far_fn_ret4:
        movl 8(%esp), %ecx
        lret $4
        .section .rodata
        .align 4
jtab:   .long 0, 0, jt2, 0
        .text

/* LOOP / LOOPE / LOOPNE / JECXZ. */
        .globl asm_loops
asm_loops:
        ENTER_TEST
        xorl %eax, %eax
        movl $5, %ecx
1:      incl %eax
        loop 1b
        movl %eax, asm_out + 0          /* 5 */
        movl %ecx, asm_out + 4          /* 0 */
        xorl %eax, %eax
        movl $10, %ecx
2:      incl %eax
        cmpl $3, %eax
        loopne 2b
        movl %eax, asm_out + 8          /* 3 */
        movl %ecx, asm_out + 12         /* 7 */
        xorl %eax, %eax
        movl $10, %ecx
3:      incl %eax
        cmpl $100, %eax
        loope 3b
        movl %ecx, asm_out + 16         /* 9 */
        movl $0, asm_out + 20
        xorl %ecx, %ecx
        jecxz 4f
        movl $0xBAD, asm_out + 20
4:      movl $1, %ecx
        movl $0, asm_out + 24
        jecxz 5f
        movl $0x600D, asm_out + 24
5:      LEAVE_TEST

/* ModRM/SIB addressing through LEA and absolute (moffs) moves. */
        .globl asm_modrm
asm_modrm:
        ENTER_TEST
        movl $0x1000, %ebx
        movl $0x20, %esi
        movl $0x300, %edi
        movl $0x40000, %ebp
        movl $5, %ecx
        leal 0x10(%ebx), %eax
        movl %eax, asm_out + 0
        leal -4(%ebx), %eax
        movl %eax, asm_out + 4
        leal 0x12345678(%ebx), %eax
        movl %eax, asm_out + 8
        leal (%ebx,%esi,4), %eax
        movl %eax, asm_out + 12
        leal 8(%ebx,%esi,8), %eax
        movl %eax, asm_out + 16
        leal 0x100(,%esi,2), %eax
        movl %eax, asm_out + 20
        leal (%ebx,%ebx,2), %eax
        movl %eax, asm_out + 24
        leal 0x7FFFFFFF(%ebx), %eax
        movl %eax, asm_out + 28
        leal (%ebp), %eax
        movl %eax, asm_out + 32
        leal 0x10(%ebp,%ecx,4), %eax
        movl %eax, asm_out + 36
        leal (%ebp,%esi), %eax
        movl %eax, asm_out + 40
        leal 0x1234, %eax
        movl %eax, asm_out + 44
        leal 4(%esp), %eax
        subl %esp, %eax
        movl %eax, asm_out + 48
        leal -8(%esp,%ecx,2), %eax
        subl %esp, %eax
        movl %eax, asm_out + 52
        leal (%edi,%edi), %eax
        movl %eax, asm_out + 56
        leal -1(%esi,%edi,1), %eax
        movl %eax, asm_out + 60
        .byte 0x8d, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12   /* lea eax,[disp32] via SIB, no base, no index */
        movl %eax, asm_out + 64
        .byte 0x8d, 0x44, 0x23, 0x10                     /* lea eax,[ebx+0x10] via SIB, index=none */
        movl %eax, asm_out + 68
        .byte 0x8d, 0x04, 0xb5, 0x00, 0x01, 0x00, 0x00   /* lea eax,[esi*4+0x100] (SIB base=101, mod=00) */
        movl %eax, asm_out + 72
        movl asm_memval, %eax                            /* A1 moffs32 */
        movl %eax, asm_out + 76
        movl $0x11111111, %eax
        movb asm_memval + 3, %al                         /* A0 moffs8 */
        movl %eax, asm_out + 80
        movl $0x5A5A1234, %eax
        movl %eax, asm_store                             /* A3 moffs32 */
        movw $0x7777, %ax
        movw %ax, asm_store + 2                          /* 66 A3 moffs16 */
        movl asm_store, %eax
        movl %eax, asm_out + 84
        movl %fs:asm_memval, %eax                        /* segment override, flat */
        movl %eax, asm_out + 88
        movl $asm_memval, %esi
        movl %es:-4(%esi,%ecx,1), %eax                   /* [esi+ecx-4] = asm_memval+1 */
        movl %eax, asm_out + 92
        LEAVE_TEST
