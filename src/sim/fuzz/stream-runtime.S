/* The runtime of a generated fuzz guest (src/sim/fuzz/stream-guest.ts places it at 1 MiB and
 * fills in the configuration block; scripts/fuzz-runtime.mjs assembles this file into
 * stream-runtime.ts). It loads a flat GDT and a TSS, builds the IDT from the per-vector gate
 * attributes in the configuration, turns paging on as configured, loads the initial registers
 * and enters the instruction stream in ring 0 or ring 3 (the scratch area comes filled: it is a
 * second segment of the image).
 * Every exception prints one line "E vv eeeeeeee iiiiiiii [cr2]" on COM1; a fault inside the
 * stream resumes at the next instruction (the length table says where it is), with the
 * arithmetic flags cleared so they are defined afterwards; INT3, INTO and INT 0x31..0x3f resume
 * where the CPU left them. #DF prints its line and exits with 0x33; a fault outside the stream
 * exits with 0x46. INT 0x30 ends the stream: "R" + the registers and the flags the generator says
 * are defined, then, with paging off, "H" + hashes of the scratch area and of the page tables, and
 * exit 0. Fixed layout: every address below is shared with stream-guest.ts. */
        .code32
        .text
        .set BASE,      0x100000
        .set CFG,       BASE + 0x1000   /* configuration block, written by the generator */
        .set IDT,       BASE + 0x2000
        .set LENTAB,    BASE + 0xC000   /* byte k: length of the stream instruction starting at k */
        .set KSTACK,    BASE + 0x18000
        .set C_EFLAGS,  CFG + 32
        .set C_DEFMASK, CFG + 36
        .set C_CR0SET,  CFG + 40
        .set C_CR3,     CFG + 44
        .set C_CR4,     CFG + 48
        .set C_RING3,   CFG + 52
        .set C_STREAM,  CFG + 60
        .set C_SLEN,    CFG + 64
        .set C_H1LO,    CFG + 68
        .set C_H1HI,    CFG + 72
        .set C_H2LO,    CFG + 76
        .set C_H2HI,    CFG + 80
        .set C_USP,     CFG + 92
        .set C_GATES,   CFG + 0x80      /* 64 gate attribute bytes (0: not present) */
        .set NVEC,      0x40

        .globl _start
_start:
        cli
        lgdt gdtr
        ljmp $0x08, $1f
1:      movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %fs
        movw %ax, %gs
        movw %ax, %ss
        movl $KSTACK, %esp
        cld
        xorl %ecx, %ecx
2:      movzbl C_GATES(%ecx), %eax
        movl %ecx, %edx
        shll $4, %edx
        addl $stubs, %edx
        testl %eax, %eax
        jz 3f
        movl %edx, %ebx
        andl $0xffff, %ebx
        orl $0x00080000, %ebx
        movl %ebx, IDT(,%ecx,8)
        andl $0xffff0000, %edx
        shll $8, %eax
        orl %eax, %edx
        movl %edx, IDT+4(,%ecx,8)
        jmp 4f
3:      movl $0, IDT(,%ecx,8)
        movl $0, IDT+4(,%ecx,8)
4:      incl %ecx
        cmpl $NVEC, %ecx
        jb 2b
        lidt idtr
        movw $0x28, %ax
        ltr %ax
        movl C_CR4, %eax
        movl %eax, %cr4
        movl C_CR3, %eax
        movl %eax, %cr3
        movl %cr0, %eax
        orl C_CR0SET, %eax
        movl %eax, %cr0
        cmpl $0, C_RING3
        jne 7f
        pushl C_EFLAGS
        popfl
        movl CFG+0, %eax
        movl CFG+4, %ecx
        movl CFG+8, %edx
        movl CFG+12, %ebx
        movl CFG+20, %ebp
        movl CFG+24, %esi
        movl CFG+28, %edi
        jmp *C_STREAM
7:      pushl $0x23
        pushl C_USP
        pushl C_EFLAGS
        pushl $0x1b
        pushl C_STREAM
        movw $0x23, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %fs
        movw %ax, %gs
        movl CFG+0, %eax
        movl CFG+4, %ecx
        movl CFG+8, %edx
        movl CFG+12, %ebx
        movl CFG+20, %ebp
        movl CFG+24, %esi
        movl CFG+28, %edi
        iret

/* Frame after common's pushes: es 0, ds 4, pushal 8..39 (edi 8, esi 12, ebp 16, esp 20, ebx 24,
 * edx 28, ecx 32, eax 36), vector 40, error code 44, eip 48, cs 52, eflags 56, [esp 60, ss 64]. */
common:
        pushal
        pushl %ds
        pushl %es
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movl 40(%esp), %ebx
        cmpl $0x30, %ebx
        je dump
        movb $'E', %al
        call putc
        call space
        movl %ebx, %eax
        call hex2
        call space
        movl 44(%esp), %eax
        call hex8
        call space
        movl 48(%esp), %eax
        call hex8
        cmpl $14, %ebx
        jne 1f
        call space
        movl %cr2, %eax
        call hex8
1:      call newline
        cmpl $8, %ebx
        je double_fault
        cmpl $3, %ebx
        je resume
        cmpl $4, %ebx
        je resume
        cmpl $0x31, %ebx
        jae resume
        movl 48(%esp), %eax
        subl C_STREAM, %eax
        cmpl C_SLEN, %eax
        jae outside
        movzbl LENTAB(%eax), %ecx
        testl %ecx, %ecx
        jz outside
        addl %ecx, 48(%esp)
resume: andl $~0x8d5, 56(%esp)
        popl %es
        popl %ds
        popal
        addl $8, %esp
        iret
double_fault:
        movl $0x33, %eax
        jmp leave
outside:
        movl $0x46, %eax
        jmp leave

dump:   movb $'R', %al
        call putc
        movl 36(%esp), %eax
        call field
        movl 32(%esp), %eax
        call field
        movl 28(%esp), %eax
        call field
        movl 24(%esp), %eax
        call field
        movl 16(%esp), %eax
        call field
        movl 12(%esp), %eax
        call field
        movl 8(%esp), %eax
        call field
        leal 60(%esp), %eax
        cmpl $0, C_RING3
        je 1f
        movl 60(%esp), %eax
1:      call field
        movl 56(%esp), %eax
        andl C_DEFMASK, %eax
        call field
        call newline
        movl %cr0, %eax
        andl $0x7fffffff, %eax
        movl %eax, %cr0
        movb $'H', %al
        call putc
        movl $0x811c9dc5, %eax
        movl C_H1LO, %esi
        movl C_H1HI, %edi
        call hash
        call field
        movl $0x811c9dc5, %eax
        movl C_H2LO, %esi
        movl C_H2HI, %edi
        call hash
        call field
        call newline
        xorl %eax, %eax
leave:  movl %eax, %ebx
        movw $0x3fd, %dx
1:      inb %dx, %al
        testb $0x40, %al
        jz 1b
        movl %ebx, %eax
        outl %eax, $0xf4
        hlt
        jmp .

/* h = rol(h, 5) + v over the dwords of [esi, edi), four at a time (the ranges are multiples of
 * 16 bytes): cheap, and position-sensitive, so a changed or moved dword shows */
hash:   cmpl %edi, %esi
        jae 2f
1:      roll $5, %eax
        addl (%esi), %eax
        roll $5, %eax
        addl 4(%esi), %eax
        roll $5, %eax
        addl 8(%esi), %eax
        roll $5, %eax
        addl 12(%esi), %eax
        addl $16, %esi
        cmpl %edi, %esi
        jb 1b
2:      ret

field:  pushl %eax
        call space
        popl %eax
hex8:   pushl %ecx
        movl $8, %ecx
        jmp hexn
hex2:   pushl %ecx
        shll $24, %eax
        movl $2, %ecx
hexn:   roll $4, %eax
        pushl %eax
        andl $15, %eax
        cmpl $10, %eax
        jb 1f
        addl $('a' - '0' - 10), %eax
1:      addl $'0', %eax
        call putc
        popl %eax
        loop hexn
        popl %ecx
        ret
space:  movb $' ', %al
        jmp putc
newline:
        movb $'\n', %al
/* Waits for the transmitter like a real driver: QEMU may still hold bytes when the guest exits. */
putc:   pushl %edx
        pushl %eax
        movw $0x3fd, %dx
1:      inb %dx, %al
        testb $0x20, %al
        jz 1b
        popl %eax
        movw $0x3f8, %dx
        outb %al, %dx
        popl %edx
        ret

/* One 16-byte stub per vector: a dummy error code where the CPU pushes none, the vector. */
        .p2align 4
stubs:
        .set v, 0
        .rept NVEC
        .p2align 4
        .if (v == 8) || ((v >= 10) && (v <= 14)) || (v == 17)
        .else
        pushl $0
        .endif
        pushl $v
        jmp common
        .set v, v + 1
        .endr

        .org 0x1000
        .fill 0x200, 1, 0               /* CFG: written by the generator */
        .org 0x1200
gdtr:   .word 6 * 8 - 1
        .long gdt
        .p2align 3
idtr:   .word NVEC * 8 - 1
        .long IDT
        .p2align 3
/* Descriptors with their accessed bit already set: QEMU sets it when a selector is loaded (a
 * write into the GDT page, whose D bit the hash sees); shadowvisor never writes descriptors. */
gdt:    .long 0, 0
        .long 0x0000ffff, 0x00cf9b00    /* 0x08 code, DPL 0 */
        .long 0x0000ffff, 0x00cf9300    /* 0x10 data, DPL 0 */
        .long 0x0000ffff, 0x00cffb00    /* 0x1b code, DPL 3 */
        .long 0x0000ffff, 0x00cff300    /* 0x23 data, DPL 3 */
        .word 0x67, tss - _start        /* 0x28 TSS: limit, base 15..0 (BASE + offset) */
        .byte BASE >> 16, 0x89, 0, 0    /* base 23..16, present 32-bit TSS, base 31..24 */
        .p2align 4
tss:    .long 0, KSTACK, 0x10
        .fill 0x68 - 12, 1, 0
