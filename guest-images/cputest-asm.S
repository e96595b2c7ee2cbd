/* Hand-written assembly halves of cputest: instructions that move the stack pointer or the
 * flow of control (PUSHAD/POPAD, ENTER/LEAVE, RET imm16, LOOP/JECXZ, far CALL/RET), which
 * inline asm inside a C function cannot safely exercise. cdecl; each writes results to out[]. */
        .text
