// Hand-checked instruction tests: data movement, stack, strings, control transfer, system
// instructions and self-modifying code. Bytes were produced by `as --32` from the source shown
// beside each (the encodings are part of the test: the decoder must accept exactly these).

import { describe, expect, it } from 'vitest';
import { GuestError } from '../../src/cpu/errors.js';
import { EXIT_STOP, EXIT_TRIPLE_FAULT } from '../../src/cpu/ports.js';
import { CODE, GDT, HANDLERS, IDT, KSTACK, TSS, gate, load, makeMachine, r32, runToStop, setupSystem, stoppedInHandler, w32 } from './harness.js';

// prettier-ignore
const P = {
movx: [0x0f, 0xb6, 0xc1, 0x0f, 0xbe, 0xd9, 0x0f, 0xb7, 0xd1, 0x0f, 0xbf, 0xf1, 0x66, 0x0f, 0xbe, 0xf9, 0xe6, 0xf4], // movzbl %cl,%eax; movsbl %cl,%ebx; movzwl %cx,%edx; movswl %cx,%esi; movsbw %cl,%di; out %al,$0xf4
  setcc: [0x83, 0xf8, 0x05, 0x0f, 0x9c, 0xc3, 0x0f, 0x92, 0xc7, 0x0f, 0x9f, 0xc1, 0x0f, 0x94, 0xc5, 0x0f, 0x4c, 0xd6, 0x0f, 0x4f, 0xef, 0xe6, 0xf4], // cmp $5,%eax; setl %bl; setb %bh; setg %cl; sete %ch; cmovl %esi,%edx; cmovg %edi,%ebp; out %al,$0xf4
  xchg: [0x93, 0x86, 0xcd, 0x0f, 0xc1, 0xd6, 0xe6, 0xf4], // xchg %eax,%ebx; xchg %cl,%ch; xadd %edx,%esi; out %al,$0xf4
  cmpxchg: [0xb8, 0x01, 0x00, 0x00, 0x00, 0xb9, 0x05, 0x00, 0x00, 0x00, 0xa3, 0x00, 0x00, 0x20, 0x00, 0xf0, 0x0f, 0xb1, 0x0d, 0x00, 0x00, 0x20, 0x00, 0x89, 0xc3, 0x8b, 0x35, 0x00, 0x00, 0x20, 0x00, 0x0f, 0xb1, 0x0d, 0x00, 0x00, 0x20, 0x00, 0x89, 0xc7, 0xe6, 0xf4], // mov $1,%eax; mov $5,%ecx; mov %eax,0x200000; lock cmpxchg %ecx,0x200000; mov %eax,%ebx; mov 0x200000,%esi; cmpxchg %ecx,0x200000; mov %eax,%edi; out %al,$0xf4
  cx8: [0xbd, 0x00, 0x00, 0x20, 0x00, 0xc7, 0x45, 0x00, 0x01, 0x00, 0x00, 0x00, 0xc7, 0x45, 0x04, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xba, 0x02, 0x00, 0x00, 0x00, 0xbb, 0x03, 0x00, 0x00, 0x00, 0xb9, 0x04, 0x00, 0x00, 0x00, 0x0f, 0xc7, 0x4d, 0x00, 0x0f, 0x94, 0xc0, 0x0f, 0xb6, 0xf0, 0x0f, 0xc7, 0x4d, 0x00, 0x0f, 0x94, 0xc0, 0xe6, 0xf4], // mov $0x200000,%ebp; movl $1,(%ebp); movl $2,4(%ebp); mov $1,%eax; mov $2,%edx; mov $3,%ebx; mov $4,%ecx; cmpxchg8b (%ebp); setz %al; movzbl %al,%esi; cmpxchg8b (%ebp); setz %al; out %al,$0xf4
  bswap: [0xb8, 0x44, 0x33, 0x22, 0x11, 0x0f, 0xc8, 0xb9, 0x80, 0x00, 0x00, 0x00, 0x0f, 0xbc, 0xd9, 0x0f, 0xbd, 0xd1, 0xe6, 0xf4], // mov $0x11223344,%eax; bswap %eax; mov $0x80,%ecx; bsf %ecx,%ebx; bsr %ecx,%edx; out %al,$0xf4
  stack: [0x68, 0x78, 0x56, 0x34, 0x12, 0x54, 0x66, 0x68, 0x34, 0x12, 0x66, 0x58, 0x5b, 0x59, 0x60, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x61, 0xe6, 0xf4], // push $0x12345678; push %esp; pushw $0x1234; pop %ax; pop %ebx; pop %ecx; pusha; mov $0,%eax; popa; out %al,$0xf4
  enter: [0xbd, 0x11, 0x11, 0x00, 0x00, 0xc8, 0x10, 0x00, 0x00, 0x89, 0xeb, 0x89, 0xe1, 0xc9, 0x89, 0xea, 0x89, 0xe6, 0xe6, 0xf4], // mov $0x1111,%ebp; enter $16,$0; mov %ebp,%ebx; mov %esp,%ecx; leave; mov %ebp,%edx; mov %esp,%esi; out %al,$0xf4
  call: [0xe8, 0x07, 0x00, 0x00, 0x00, 0xbb, 0x07, 0x00, 0x00, 0x00, 0xe6, 0xf4, 0xb8, 0x09, 0x00, 0x00, 0x00, 0xc3], // call f; mov $7,%ebx; out %al,$0xf4; f: mov $9,%eax; ret
  callind: [0xb8, 0x10, 0x00, 0x10, 0x00, 0xff, 0xd0, 0xe6, 0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xbb, 0x55, 0x00, 0x00, 0x00, 0xc2, 0x00, 0x00], // mov $0x100010,%eax; call *%eax; out %al,$0xf4; .org 0x10; mov $0x55,%ebx; ret $0
  lea: [0xbb, 0x00, 0x10, 0x00, 0x00, 0xb9, 0x03, 0x00, 0x00, 0x00, 0x8d, 0x44, 0xcb, 0x10, 0x8d, 0x14, 0x8d, 0x00, 0x00, 0x00, 0x00, 0x8d, 0x73, 0xff, 0xe6, 0xf4], // mov $0x1000,%ebx; mov $3,%ecx; lea 0x10(%ebx,%ecx,8),%eax; lea (,%ecx,4),%edx; lea -1(%ebx),%esi; out %al,$0xf4
  repmovs: [0xfc, 0xbe, 0x00, 0x00, 0x20, 0x00, 0xbf, 0x00, 0x01, 0x20, 0x00, 0xb9, 0x0a, 0x00, 0x00, 0x00, 0xf3, 0xa4, 0xb9, 0x04, 0x00, 0x00, 0x00, 0xf3, 0xa5, 0xe6, 0xf4], // cld; mov $0x200000,%esi; mov $0x200100,%edi; mov $10,%ecx; rep movsb; mov $4,%ecx; rep movsl; out %al,$0xf4
  repmovsback: [0xfd, 0xbe, 0x09, 0x00, 0x20, 0x00, 0xbf, 0x09, 0x01, 0x20, 0x00, 0xb9, 0x0a, 0x00, 0x00, 0x00, 0xf3, 0xa4, 0xfc, 0xe6, 0xf4], // std; mov $0x200009,%esi; mov $0x200109,%edi; mov $10,%ecx; rep movsb; cld; out %al,$0xf4
  stos: [0xfc, 0xb8, 0x34, 0x12, 0xcd, 0xab, 0xbf, 0x00, 0x00, 0x20, 0x00, 0xb9, 0x05, 0x00, 0x00, 0x00, 0xf3, 0xab, 0xaa, 0x66, 0xab, 0xe6, 0xf4], // cld; mov $0xabcd1234,%eax; mov $0x200000,%edi; mov $5,%ecx; rep stosl; stosb; stosw; out %al,$0xf4
  cmps: [0xfc, 0xbe, 0x00, 0x00, 0x20, 0x00, 0xbf, 0x00, 0x01, 0x20, 0x00, 0xb9, 0x10, 0x00, 0x00, 0x00, 0xf3, 0xa6, 0x89, 0xcb, 0x89, 0xf2, 0xe6, 0xf4], // cld; mov $0x200000,%esi; mov $0x200100,%edi; mov $16,%ecx; repe cmpsb; mov %ecx,%ebx; mov %esi,%edx; out %al,$0xf4
  scas: [0xfc, 0xbf, 0x00, 0x00, 0x20, 0x00, 0xb0, 0x42, 0xb9, 0x64, 0x00, 0x00, 0x00, 0xf2, 0xae, 0x89, 0xcb, 0x89, 0xfa, 0xe6, 0xf4], // cld; mov $0x200000,%edi; mov $0x42,%al; mov $100,%ecx; repne scasb; mov %ecx,%ebx; mov %edi,%edx; out %al,$0xf4
  lods: [0xfc, 0xbe, 0x00, 0x00, 0x20, 0x00, 0xad, 0x89, 0xc3, 0x66, 0xad, 0xac, 0xe6, 0xf4], // cld; mov $0x200000,%esi; lodsl; mov %eax,%ebx; lodsw; lodsb; out %al,$0xf4
  lahf: [0xb4, 0xff, 0x9e, 0x9f, 0x89, 0xc3, 0x30, 0xe4, 0x9e, 0x9f, 0xe6, 0xf4], // mov $0xff,%ah; sahf; lahf; mov %eax,%ebx; xor %ah,%ah; sahf; lahf; out %al,$0xf4
  cbw: [0xb8, 0x80, 0x00, 0x00, 0x00, 0x66, 0x98, 0x89, 0xc3, 0xb8, 0x00, 0x80, 0x00, 0x00, 0x98, 0x89, 0xc1, 0x99, 0x89, 0xd6, 0xb8, 0x00, 0xf0, 0x34, 0x12, 0x66, 0x99, 0x89, 0xd7, 0xe6, 0xf4], // mov $0x80,%eax; cbw; mov %eax,%ebx; mov $0x8000,%eax; cwde; mov %eax,%ecx; cltd; mov %edx,%esi; mov $0x1234f000,%eax; cwtd; mov %edx,%edi; out %al,$0xf4
  loop: [0xb9, 0x05, 0x00, 0x00, 0x00, 0x31, 0xc0, 0x40, 0xe2, 0xfd, 0xb9, 0x00, 0x00, 0x00, 0x00, 0xe3, 0x05, 0xb8, 0x63, 0x00, 0x00, 0x00, 0xe6, 0xf4], // mov $5,%ecx; xor %eax,%eax; 1: inc %eax; loop 1b; mov $0,%ecx; jecxz 2f; mov $99,%eax; 2: out %al,$0xf4
  op16: [0xb8, 0x34, 0x12, 0xff, 0xff, 0x66, 0x05, 0xff, 0x7f, 0x89, 0xc3, 0xb9, 0x00, 0x80, 0x11, 0x11, 0x66, 0x83, 0xe9, 0x01, 0xe6, 0xf4], // mov $0xffff1234,%eax; add $0x7fff,%ax; mov %eax,%ebx; mov $0x11118000,%ecx; sub $1,%cx; out %al,$0xf4
  cpuid: [0xb8, 0x00, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xde, 0x89, 0xd7, 0x89, 0xcd, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0xe6, 0xf4], // mov $0,%eax; cpuid; mov %ebx,%esi; mov %edx,%edi; mov %ecx,%ebp; mov $1,%eax; cpuid; out %al,$0xf4
  rdtsc: [0x90, 0x90, 0x0f, 0x31, 0xe6, 0xf4], // nop; nop; rdtsc; out %al,$0xf4
  inout: [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0x66, 0xb8, 0x42, 0x41, 0x66, 0xef, 0xed, 0x89, 0xc3, 0xe4, 0x60, 0xe6, 0xf4], // mov $0x3f8,%dx; mov $0x41,%al; outb %al,%dx; mov $0x4142,%ax; outw %ax,%dx; inl %dx,%eax; mov %eax,%ebx; inb $0x60,%al; out %al,$0xf4
  shiftimm: [0xb8, 0x01, 0x00, 0x00, 0x80, 0xd1, 0xe0, 0x89, 0xc3, 0xd1, 0xdb, 0xb1, 0xf0, 0xc0, 0xe9, 0x04, 0xc1, 0xf8, 0x1f, 0x0f, 0xa4, 0xda, 0x04, 0xe6, 0xf4], // mov $0x80000001,%eax; shl $1,%eax; mov %eax,%ebx; rcr $1,%ebx; mov $0xf0,%cl; shr $4,%cl; sar $31,%eax; shld $4,%ebx,%edx; out %al,$0xf4
  btmem: [0xbb, 0x00, 0x00, 0x20, 0x00, 0xc7, 0x03, 0x00, 0x00, 0x00, 0x00, 0xc7, 0x43, 0x04, 0x00, 0x00, 0x00, 0x00, 0xb9, 0x23, 0x00, 0x00, 0x00, 0x0f, 0xab, 0x0b, 0x0f, 0x92, 0xc0, 0x0f, 0xba, 0x63, 0x04, 0x03, 0x0f, 0x92, 0xc4, 0xb9, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xab, 0x4b, 0x04, 0xe6, 0xf4], // mov $0x200000,%ebx; movl $0,(%ebx); movl $0,4(%ebx); mov $35,%ecx; bts %ecx,(%ebx); setc %al; btl $3,4(%ebx); setc %ah; mov $-1,%ecx; bts %ecx,4(%ebx); out %al,$0xf4
  mul: [0xb8, 0xff, 0xff, 0xff, 0xff, 0xb9, 0xff, 0xff, 0xff, 0xff, 0xf7, 0xe1, 0x89, 0xc3, 0x89, 0xd6, 0xb8, 0xfd, 0xff, 0xff, 0xff, 0xb9, 0x07, 0x00, 0x00, 0x00, 0xf7, 0xe9, 0x89, 0xd7, 0x6b, 0xe9, 0xfb, 0xe6, 0xf4], // mov $0xffffffff,%eax; mov $0xffffffff,%ecx; mul %ecx; mov %eax,%ebx; mov %edx,%esi; mov $-3,%eax; mov $7,%ecx; imul %ecx; mov %edx,%edi; imul $-5,%ecx,%ebp; out %al,$0xf4
  div: [0xba, 0x00, 0x00, 0x00, 0x00, 0xb8, 0x64, 0x00, 0x00, 0x00, 0xb9, 0x07, 0x00, 0x00, 0x00, 0xf7, 0xf1, 0x89, 0xd3, 0xb8, 0x9c, 0xff, 0xff, 0xff, 0x99, 0xf7, 0xf9, 0x89, 0xd6, 0xe6, 0xf4], // mov $0,%edx; mov $100,%eax; mov $7,%ecx; div %ecx; mov %edx,%ebx; mov $-100,%eax; cltd; idiv %ecx; mov %edx,%esi; out %al,$0xf4
  smcsame: [0xc6, 0x05, 0x08, 0x00, 0x10, 0x00, 0x07, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xe6, 0xf4], // movb $7,0x100008; mov $1,%eax; out %al,$0xf4
  smcloop: [0xb8, 0x01, 0x00, 0x00, 0x00, 0xe6, 0xf4, 0xc6, 0x05, 0x01, 0x00, 0x10, 0x00, 0x05, 0xeb, 0xf0], // mov $1,%eax; out %al,$0xf4; movb $5,0x100001; jmp .-0x10
  farjmp: [0xea, 0x07, 0x00, 0x10, 0x00, 0x08, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xd0, 0x8c, 0xdb, 0x1e, 0x07, 0x8c, 0xc1, 0x9a, 0x40, 0x00, 0x10, 0x00, 0x08, 0x00, 0xe6, 0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xba, 0x66, 0x00, 0x00, 0x00, 0xcb], // ljmp $0x08,$0x100007; mov $0x10,%ax; mov %ax,%ds; mov %ax,%ss; mov %ds,%ebx; push %ds; pop %es; mov %es,%ecx; lcall $0x08,$0x100040; out %al,$0xf4; .org 0x40; mov $0x66,%edx; lret
  lgdt: [0x0f, 0x01, 0x05, 0x00, 0x00, 0x20, 0x00, 0x0f, 0x01, 0x0d, 0x08, 0x00, 0x20, 0x00, 0x0f, 0x01, 0x15, 0x10, 0x00, 0x20, 0x00, 0x0f, 0x01, 0x1d, 0x18, 0x00, 0x20, 0x00, 0x66, 0xb8, 0x28, 0x00, 0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xcb, 0xe6, 0xf4], // sgdt 0x200000; sidt 0x200008; lgdt 0x200010; lidt 0x200018; mov $0x28,%ax; ltr %ax; str %ebx; out %al,$0xf4
  nonflat: [0x66, 0xb8, 0x30, 0x00, 0x8e, 0xd8, 0xe6, 0xf4], // mov $0x30,%ax; mov %ax,%ds; out %al,$0xf4
  cr0: [0x0f, 0x20, 0xc0, 0x83, 0xe0, 0xfe, 0x0f, 0x22, 0xc0, 0xe6, 0xf4], // mov %cr0,%eax; and $0xfffffffe,%eax; mov %eax,%cr0; out %al,$0xf4
  cr0pg: [0x0f, 0x20, 0xc0, 0x83, 0xe0, 0xfe, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xe6, 0xf4], // mov %cr0,%eax; and $0xfffffffe,%eax; or $0x80000000,%eax; mov %eax,%cr0; out %al,$0xf4
  popfring3: [0x68, 0x02, 0x32, 0x00, 0x00, 0x9d, 0x9c, 0x58, 0xcd, 0x80], // push $0x3202; popf; pushf; pop %eax; int $0x80
  rdtscring3: [0x31, 0xc0, 0x0f, 0x31, 0xcd, 0x80], // xor %eax,%eax; rdtsc; int $0x80
  nops: [0x0f, 0x1f, 0x04, 0x00, 0x66, 0x0f, 0x1f, 0x04, 0x00, 0x66, 0x90, 0x9b, 0xf3, 0x90, 0xe6, 0xf4], // nopl 0(%eax,%eax,1); nopw 0(%eax,%eax,1); xchg %ax,%ax; fwait; rep nop; out %al,$0xf4
};

type Regs = Partial<Record<'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi', number>>;
const NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;

function exec(code: number[], init: Regs = {}, prep?: (m: ReturnType<typeof makeMachine>) => void) {
  const m = makeMachine(8 << 20);
  setupSystem(m);
  m.cpu.regs[4] = KSTACK;
  for (const [k, v] of Object.entries(init)) m.cpu.regs[NAMES.indexOf(k as (typeof NAMES)[number])] = v;
  load(m, CODE, code);
  prep?.(m);
  const e = runToStop(m);
  return { m, e, regs: Object.fromEntries(NAMES.map((n, k) => [n, m.cpu.regs[k] >>> 0])) as Record<string, number> };
}

/** Start in ring 3: CS 0x1B, SS 0x23, ESP 0x90000, IF clear (an exec() prep). */
function toRing3(m: ReturnType<typeof makeMachine>): void {
  m.cpu.setEflags(2);
  m.cpu.cpl = 3;
  m.cpu.sreg[1] = 0x1b;
  m.cpu.sreg[2] = 0x23;
  m.cpu.regs[4] = 0x90000;
}

describe('instructions', () => {
  it('MOVZX/MOVSX at every width', () => {
    const { regs, e } = exec(P.movx, { ecx: 0x8081, edi: 0x12340000 });
    expect(e).toBe(EXIT_STOP);
    expect(regs).toMatchObject({ eax: 0x81, ebx: 0xffffff81, edx: 0x8081, esi: 0xffff8081, edi: 0x1234ff81 });
  });

  it('SETcc and CMOVcc', () => {
    const { regs } = exec(P.setcc, { eax: 3, ebx: -1, ecx: -1, esi: 0x11, edi: 0x22, edx: 0, ebp: 0x33 });
    expect(regs).toMatchObject({ ebx: 0xffff0101, ecx: 0xffff0000, edx: 0x11, ebp: 0x33 });
  });

  it('XCHG and XADD', () => {
    const { regs } = exec(P.xchg, { eax: 1, ebx: 2, ecx: 0x1122, edx: 10, esi: 20 });
    expect(regs).toMatchObject({ eax: 2, ebx: 1, ecx: 0x2211, edx: 20, esi: 30 });
  });

  it('CMPXCHG success and failure', () => {
    const { regs, m } = exec(P.cmpxchg);
    expect(regs).toMatchObject({ ebx: 1, esi: 5, edi: 5, eax: 5 });
    expect(r32(m, 0x200000)).toBe(5);
  });

  it('CMPXCHG8B success and failure', () => {
    const { regs, m } = exec(P.cx8);
    expect(regs).toMatchObject({ eax: 0, edx: 4, esi: 1 });
    expect(r32(m, 0x200000)).toBe(3);
    expect(r32(m, 0x200004)).toBe(4);
  });

  it('BSWAP, BSF, BSR', () => {
    expect(exec(P.bswap).regs).toMatchObject({ eax: 0x44332211, ebx: 7, edx: 7 });
  });

  it('PUSH imm/ESP, 16-bit push/pop, PUSHA/POPA', () => {
    const { regs } = exec(P.stack, { eax: 0xdead0000 });
    expect(regs).toMatchObject({ eax: 0xdead1234, ebx: KSTACK - 4, ecx: 0x12345678, esp: KSTACK });
  });

  it('ENTER and LEAVE', () => {
    expect(exec(P.enter).regs).toMatchObject({ ebx: KSTACK - 4, ecx: KSTACK - 20, edx: 0x1111, esi: KSTACK });
  });

  it('CALL/RET, indirect CALL and RET imm16', () => {
    expect(exec(P.call).regs).toMatchObject({ eax: 9, ebx: 7, esp: KSTACK });
    expect(exec(P.callind).regs).toMatchObject({ ebx: 0x55, esp: KSTACK });
  });

  it('LEA with SIB, scale and displacements', () => {
    expect(exec(P.lea).regs).toMatchObject({ eax: 0x1028, edx: 12, esi: 0xfff });
  });

  it('REP MOVSB/MOVSD forward and MOVSB backward', () => {
    const fill = (m: ReturnType<typeof makeMachine>) => {
      for (let k = 0; k < 32; k++) m.mem[0x200000 + k] = k + 1;
    };
    const f = exec(P.repmovs, {}, fill);
    expect(f.regs).toMatchObject({ ecx: 0, esi: 0x20001a, edi: 0x20011a });
    expect(Array.from(f.m.mem.subarray(0x200100, 0x20011b))).toEqual([...Array.from({ length: 26 }, (_, k) => k + 1), 0]);
    const b = exec(P.repmovsback, {}, fill);
    expect(b.regs).toMatchObject({ ecx: 0, esi: 0x1fffff, edi: 0x2000ff });
    expect(Array.from(b.m.mem.subarray(0x200100, 0x20010b))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]);
    expect(b.m.cpu.getEflags() & 0x400).toBe(0);
  });

  it('a long REP yields to the run loop in chunks and resumes at the same instruction', () => {
    // mov edi, 0x200000; mov ecx, 0x30000; mov al, 0x5a; rep stosb; out 0xf4, al
    const code = [0xbf, 0, 0, 0x20, 0, 0xb9, 0, 0, 3, 0, 0xb0, 0x5a, 0xf3, 0xaa, 0xe6, 0xf4];
    const m = makeMachine(8 << 20);
    load(m, CODE, code);
    m.cpu.run(3);
    m.cpu.run(1);
    const left = m.cpu.regs[1];
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(0x30000);
    expect(m.cpu.eip).toBe(CODE + 12);
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.cpu.regs[1]).toBe(0);
    expect(m.cpu.regs[7]).toBe(0x230000);
    expect(m.mem[0x22ffff]).toBe(0x5a);
    expect(m.mem[0x230000]).toBe(0);
  });

  it('REP STOSD, STOSB, STOSW', () => {
    const { regs, m } = exec(P.stos);
    for (let k = 0; k < 5; k++) expect(r32(m, 0x200000 + 4 * k)).toBe(0xabcd1234);
    expect(Array.from(m.mem.subarray(0x200014, 0x200018))).toEqual([0x34, 0x34, 0x12, 0]);
    expect(regs).toMatchObject({ ecx: 0, edi: 0x200017 });
  });

  it('REPE CMPSB stops at the first difference; REPNE SCASB at the first match', () => {
    const c = exec(P.cmps, {}, (m) => {
      for (let k = 0; k < 16; k++) m.mem[0x200000 + k] = m.mem[0x200100 + k] = k;
      m.mem[0x200105] = 99;
    });
    expect(c.regs).toMatchObject({ ebx: 10, edx: 0x200006 });
    expect(c.m.cpu.getEflags() & 0x40).toBe(0);
    const s = exec(P.scas, {}, (m) => {
      m.mem[0x200007] = 0x42;
    });
    expect(s.regs).toMatchObject({ ebx: 92, edx: 0x200008 });
    expect(s.m.cpu.getEflags() & 0x40).toBe(0x40);
  });

  it('LODSD/LODSW/LODSB', () => {
    const { regs } = exec(P.lods, {}, (m) => {
      w32(m, 0x200000, 0x44332211);
      m.mem[0x200004] = 0x55;
      m.mem[0x200005] = 0x66;
      m.mem[0x200006] = 0x77;
    });
    expect(regs).toMatchObject({ ebx: 0x44332211, eax: 0x44336677, esi: 0x200007 });
  });

  it('LAHF/SAHF', () => {
    const { regs } = exec(P.lahf, { eax: 0 });
    expect(regs).toMatchObject({ ebx: 0xd700, eax: 0x0200 });
  });

  it('CBW/CWDE/CDQ/CWD', () => {
    expect(exec(P.cbw).regs).toMatchObject({ ebx: 0xff80, ecx: 0xffff8000, esi: 0xffffffff, edi: 0xffffffff });
  });

  it('LOOP and JECXZ', () => {
    expect(exec(P.loop).regs).toMatchObject({ eax: 5, ecx: 0 });
  });

  it('16-bit operand size keeps the upper half and sets 16-bit OF', () => {
    const { regs, m } = exec(P.op16);
    expect(regs).toMatchObject({ ebx: 0xffff9233, ecx: 0x11117fff });
    expect(m.cpu.getEflags() & 0x800).toBe(0x800);
  });

  it('CPUID: vendor, family, feature bits, vCPU index', () => {
    const { regs } = exec(P.cpuid);
    expect(regs).toMatchObject({ esi: 0x64616853, edi: 0x6956776f, ebp: 0x21726f73, eax: 0x633, ebx: 0, ecx: 0 });
    expect(regs.edx & 1).toBe(0); // no FPU
    expect(regs.edx & ((1 << 4) | (1 << 15) | (1 << 8))).toBe((1 << 4) | (1 << 15) | (1 << 8));
  });

  it('RDTSC reads virtual time exactly, mid-block', () => {
    const { regs } = exec(P.rdtsc, {}, (m) => {
      m.cpu.haltedTicks = 1000;
    });
    expect(regs).toMatchObject({ eax: 1002, edx: 0 });
  });

  it('IN/OUT with DX and immediate ports at 8/16/32 bits', () => {
    const { regs, m } = exec(P.inout, {}, (mm) => {
      mm.io.inValue = 0x12345678;
    });
    expect(regs.ebx).toBe(0x12345678);
    expect(regs.eax & 0xff).toBe(0x78);
    expect(m.io.writes.slice(0, 2)).toEqual([
      [0x3f8, 1, 0x41],
      [0x3f8, 2, 0x4142],
    ]);
  });

  it('shifts by 1 and by imm8, RCR through carry, SHLD imm', () => {
    expect(exec(P.shiftimm).regs).toMatchObject({ ebx: 0x80000001, ecx: 0x0f, eax: 0, edx: 8 });
  });

  it('BTS/BT with a register offset address the right dword (negative offsets too)', () => {
    const { regs, m } = exec(P.btmem);
    expect(regs.eax & 0xffff).toBe(0x0100);
    expect(r32(m, 0x200000)).toBe(0x80000000);
    expect(r32(m, 0x200004)).toBe(8);
  });

  it('MUL/IMUL 64-bit products, IMUL imm', () => {
    expect(exec(P.mul).regs).toMatchObject({ ebx: 1, esi: 0xfffffffe, eax: 0xffffffeb, edi: 0xffffffff, ebp: 0xffffffdd });
  });

  it('DIV/IDIV quotient and remainder signs', () => {
    expect(exec(P.div).regs).toMatchObject({ ebx: 2, eax: 0xfffffff2, esi: 0xfffffffe });
  });

  it('multi-byte NOPs, FWAIT and PAUSE', () => {
    const { e, m } = exec(P.nops);
    expect(e).toBe(EXIT_STOP);
    expect(m.cpu.eip >>> 0).toBe(CODE + P.nops.length);
  });
});

describe('segments and system registers', () => {
  it('far JMP/CALL/RET through GDT selectors, MOV/PUSH/POP segment registers', () => {
    const { regs, m } = exec(P.farjmp);
    expect(regs).toMatchObject({ ebx: 0x10, ecx: 0x10, edx: 0x66, esp: KSTACK });
    expect(m.cpu.sreg[1]).toBe(0x08);
  });

  it('SGDT/SIDT/LGDT/LIDT/LTR/STR (LTR marks the TSS busy)', () => {
    const { regs, m } = exec(P.lgdt, {}, (mm) => {
      mm.mem[0x200010] = 0x2f;
      w32(mm, 0x200012, GDT);
      mm.mem[0x200018] = 0xff;
      mm.mem[0x200019] = 0x07;
      w32(mm, 0x20001a, 0x2000);
    });
    expect(m.mem[0x200000] | (m.mem[0x200001] << 8)).toBe(6 * 8 - 1);
    expect(r32(m, 0x200002)).toBe(GDT);
    expect(r32(m, 0x20000a)).toBe(0x2000);
    expect(regs.ebx).toBe(0x28);
    expect(m.cpu.trSel).toBe(0x28);
    expect((r32(m, GDT + 0x28 + 4) >> 8) & 0xf).toBe(0xb);
  });

  it('a non-flat data segment is refused with a GuestError naming the selector', () => {
    expect(() =>
      exec(P.nonflat, {}, (m) => {
        w32(m, GDT + 0x30, 0x1000ffff);
        w32(m, GDT + 0x34, 0x00cf9200);
        m.cpu.gdtLimit = 7 * 8 - 1;
      }),
    ).toThrow(/selector 0x30.*base 0x1000.*flat/);
  });

  it('clearing CR0.PE is refused; a selector beyond the GDT limit is #GP(selector)', () => {
    expect(() => exec(P.cr0)).toThrow(GuestError);
    const { m } = exec(P.nonflat);
    expect(stoppedInHandler(m)).toBe(13);
    expect(r32(m, m.cpu.regs[4])).toBe(0x30);
  });

  it('CR0 with PG set and PE clear is #GP(0), CR0 unchanged (the SDM; QEMU 7.2 turns paging on, so cputest cannot hold it)', () => {
    const { m } = exec(P.cr0pg);
    expect(stoppedInHandler(m)).toBe(13);
    expect(r32(m, m.cpu.regs[4])).toBe(0);
    expect(m.cpu.cr0 & 0x80000001).toBe(1);
  });

  it('RDTSC at CPL 3 is #GP(0) under CR4.TSD, and runs without it', () => {
    const ring3 = (tsd: boolean) => (m: ReturnType<typeof makeMachine>): void => {
      toRing3(m);
      if (tsd) m.cpu.cr4 |= 4;
    };
    const { m } = exec(P.rdtscring3, {}, ring3(true));
    expect(stoppedInHandler(m)).toBe(13);
    expect(r32(m, m.cpu.regs[4])).toBe(0); // the error code
    expect(m.cpu.regs[0]).toBe(0); // RDTSC did not write EAX
    const free = exec(P.rdtscring3, {}, ring3(false));
    expect(stoppedInHandler(free.m)).toBe(0x80);
    expect(free.regs.eax).not.toBe(0);
  });

  it('an interrupt from CPL 3 through a TSS too short for ESP0/SS0 raises #TS(TR), which escalates to a triple fault', () => {
    const { m, e } = exec([0xcd, 0x80], {}, (mm) => {
      toRing3(mm);
      mm.cpu.trLimit = 8; // SS0 (offset 8, 2 bytes) lies past it
    });
    expect(e).toBe(EXIT_TRIPLE_FAULT);
    expect(m.cpu.tripleFaultFirst).toBe(10);
  });

  it('IRET and far RET to a non-conforming code segment whose DPL is not the selector\'s RPL are #GP(selector)', () => {
    // pushf; push $0x18 (the ring 3 code descriptor with RPL 0); push $0x100000; iret
    const { m } = exec([0x9c, 0x6a, 0x18, 0x68, 0x00, 0x00, 0x10, 0x00, 0xcf]);
    expect(stoppedInHandler(m)).toBe(13);
    expect(r32(m, m.cpu.regs[4])).toBe(0x18);
    expect(m.cpu.cpl).toBe(0);
    // and a far RET: push $0x18; push $0x100000; lret
    const r = exec([0x6a, 0x18, 0x68, 0x00, 0x00, 0x10, 0x00, 0xcb]).m;
    expect(stoppedInHandler(r)).toBe(13);
    expect(r32(r, r.cpu.regs[4])).toBe(0x18);
  });

  it('a valid descriptor past the GDT limit is #GP(selector): the limit is checked, not only what lies there', () => {
    // mov $0x10,%ax; mov %ax,%ds; out %al,$0xf4 with the limit cut below the data descriptor
    const { m } = exec([0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0xe6, 0xf4], {}, (mm) => {
      mm.cpu.gdtLimit = 0x0f;
    });
    expect(stoppedInHandler(m)).toBe(13);
    expect(r32(m, m.cpu.regs[4])).toBe(0x10);
  });

  it('a flat data descriptor that is not present is #NP(selector) for DS, #SS(selector) for SS', () => {
    const notPresent = (mm: ReturnType<typeof makeMachine>): void => {
      w32(mm, GDT + 0x30, 0x0000ffff);
      w32(mm, GDT + 0x34, 0x00cf1200); // the ring 0 data descriptor with P clear
      mm.cpu.gdtLimit = 7 * 8 - 1;
    };
    const ds = exec(P.nonflat, {}, notPresent).m;
    expect(stoppedInHandler(ds)).toBe(11);
    expect(r32(ds, ds.cpu.regs[4])).toBe(0x30);
    // mov $0x30,%ax; mov %ax,%ss; out %al,$0xf4
    const ss = exec([0x66, 0xb8, 0x30, 0x00, 0x8e, 0xd0, 0xe6, 0xf4], {}, notPresent).m;
    expect(stoppedInHandler(ss)).toBe(12);
    expect(r32(ss, ss.cpu.regs[4])).toBe(0x30);
  });

  describe('privilege checks of control transfers (each survived every test when disabled)', () => {
    /** Stopped in handler `v` with error code `err` on the (ring 0) stack. */
    const faulted = (m: ReturnType<typeof makeMachine>, v: number, err: number): void => {
      expect(stoppedInHandler(m)).toBe(v);
      expect(r32(m, m.cpu.regs[4])).toBe(err);
    };

    it('IRET and far RET from CPL 3 to a selector with RPL 0 are #GP(selector)', () => {
      // pushf; push $0x08; push $0x100000; iret  /  push $0x08; push $0x100000; lret
      faulted(exec([0x9c, 0x6a, 0x08, 0x68, 0x00, 0x00, 0x10, 0x00, 0xcf], {}, toRing3).m, 13, 0x08);
      faulted(exec([0x6a, 0x08, 0x68, 0x00, 0x00, 0x10, 0x00, 0xcb], {}, toRing3).m, 13, 0x08);
    });

    it('an interrupt gate whose code segment is less privileged than the CPL is #GP(selector)', () => {
      // int $0x41, whose gate names the ring 3 code segment, from ring 0
      const { m } = exec([0xcd, 0x41], {}, (mm) => gate(mm, IDT, 0x41, HANDLERS + 0x41 * 16, 3, 0xe, 0x1b));
      faulted(m, 13, 0x18);
    });

    it('a far JMP to the null selector is #GP(0); to a code descriptor not present, #NP(selector)', () => {
      faulted(exec([0xea, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00]).m, 13, 0); // ljmp $0, $0x100000
      const np = exec([0xea, 0x00, 0x00, 0x10, 0x00, 0x30, 0x00], {}, (mm) => {
        w32(mm, GDT + 0x30, 0x0000ffff);
        w32(mm, GDT + 0x34, 0x00cf1a00); // ring 0 code, P clear
        mm.cpu.gdtLimit = 7 * 8 - 1;
      }).m;
      faulted(np, 11, 0x30);
    });

    it('IRET to CPL 3 with a bad SS: null #GP(0), wrong DPL #GP(SS), not present #NP(SS) as on QEMU (the SDM: #SS)', () => {
      // push $ss; push $0x90000; pushf; push $0x1b; push $0x100000; iret
      const iretTo = (ss: number) =>
        exec([0x6a, ss, 0x68, 0x00, 0x00, 0x09, 0x00, 0x9c, 0x6a, 0x1b, 0x68, 0x00, 0x00, 0x10, 0x00, 0xcf], {}, (mm) => {
          w32(mm, GDT + 0x30, 0x0000ffff);
          w32(mm, GDT + 0x34, 0x00cf7200); // ring 3 data, P clear
          mm.cpu.gdtLimit = 7 * 8 - 1;
        }).m;
      faulted(iretTo(0x03), 13, 0);
      faulted(iretTo(0x13), 13, 0x10);
      faulted(iretTo(0x33), 11, 0x30);
      const ok = iretTo(0x23);
      expect(ok.cpu.cpl).toBe(3);
      expect(ok.cpu.sreg[2]).toBe(0x23);
    });

    it('an interrupt from CPL 3 whose TSS names a bad SS0 is #TS(SS0), as on QEMU, escalating to a triple fault', () => {
      // SS0 null, a code segment, the ring 3 data segment, a data segment not present, past the GDT
      for (const ss0 of [0, 0x08, 0x23, 0x30, 0x40]) {
        const { m, e } = exec([0xcd, 0x80], {}, (mm) => {
          toRing3(mm);
          w32(mm, TSS + 8, ss0);
          w32(mm, GDT + 0x30, 0x0000ffff);
          w32(mm, GDT + 0x34, 0x00cf1200);
          mm.cpu.gdtLimit = 7 * 8 - 1;
        });
        expect(e, `SS0 ${ss0}`).toBe(EXIT_TRIPLE_FAULT);
        expect(m.cpu.tripleFaultFirst, `SS0 ${ss0}`).toBe(10);
      }
    });
  });

  it('POPF at CPL 3 cannot change IF or IOPL', () => {
    const { regs } = exec(P.popfring3, {}, toRing3);
    expect(regs.eax & 0x3200).toBe(0);
  });
});

describe('self-modifying code', () => {
  it('a store into the next instruction of the same block takes effect', () => {
    expect(exec(P.smcsame).regs.eax).toBe(7);
  });

  it('a store into an already decoded block invalidates it', () => {
    const { m } = exec(P.smcloop);
    expect(m.cpu.regs[0]).toBe(1);
    expect(runToStop(m)).toBe(EXIT_STOP);
    expect(m.cpu.regs[0]).toBe(5);
    expect(m.cpu.code.invalidations).toBeGreaterThan(0);
  });

  it('invalidateCode() drops decoded code after a store the Cpu did not make', () => {
    const { m } = exec([0xb8, 1, 0, 0, 0, 0xe6, 0xf4, 0xeb, 0xf7]);
    expect(m.cpu.regs[0]).toBe(1);
    m.mem[CODE + 1] = 9;
    m.cpu.invalidateCode(CODE >>> 12);
    runToStop(m);
    expect(m.cpu.regs[0]).toBe(9);
  });

  it('data stores elsewhere in a code page do not invalidate its code', () => {
    // mov [CODE+0x800], eax; out
    const { m } = exec([0xa3, 0x00, 0x08, 0x10, 0x00, 0xe6, 0xf4], { eax: 0x55 });
    expect(r32(m, CODE + 0x800)).toBe(0x55);
    expect(m.cpu.code.invalidations).toBe(0);
  });
});
