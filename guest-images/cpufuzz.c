/* cpufuzz: a differential fuzzer for the integer ISA. A seeded generator writes blocks of random
 * instructions (ALU, shifts, multiply, bit ops, SETcc/CMOVcc/Jcc, moves, LEA/SIB, push/pop, ...)
 * in 8/16/32-bit, register and memory forms, into a code buffer; each block runs from a random
 * register and flag state and the final registers, scratch memory and flags are hashed. The
 * generator tracks which flags are architecturally defined and never lets an instruction consume
 * an undefined one, so the hashes are the same on every correct IA-32: QEMU is the oracle, the
 * parity test compares the lines. Rewriting the buffer for every block also exercises the
 * invalidation of cached decoded code. Multiboot cmdline `dump=N` prints block N in full. */
#include "runtime.h"

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define OF 0x800u
#define ALLF (CF | PF | AF | ZF | SF | OF)

#define BATCHES 48
#define BLOCKS_PER_BATCH 64
#define INSNS_PER_BLOCK 24

/* Register state handed to the block: EAX ECX EDX EBX ESI EDI, EFLAGS, then results. */
struct fuzz_state {
  uint32_t eax, ecx, edx, ebx, esi, edi, eflags;
};
void fuzz_run(const uint8_t *code, struct fuzz_state *st, uint8_t *ebp);

static uint8_t code[4096] __attribute__((aligned(4096)));
static uint8_t scratch[384] __attribute__((aligned(16)));
static uint8_t *cp;
static uint32_t def; /* flags whose value is architecturally defined at this point */
static uint32_t rng_state = 0x1F2E3D4Cu;

static uint32_t rnd(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng_state = x;
  return x;
}

static void e8(uint32_t b) { *cp++ = (uint8_t)b; }
static void e16(uint32_t v) { e8(v); e8(v >> 8); }
static void e32(uint32_t v) { e16(v); e16(v >> 16); }

/* 32/16-bit registers the block may use: never ESP or EBP (EBP points at scratch memory). */
static const uint8_t gprs[6] = {0, 1, 2, 3, 6, 7};
static uint32_t reg(void) { return gprs[rnd() % 6]; }
static uint32_t reg8(void) { return rnd() % 8; } /* AL..BH: all harmless */

/* A ModRM r/m operand: a register (mod 3) or [EBP + disp8], which stays inside scratch. */
static void rm_operand(uint32_t regfield, int size, int mem) {
  if (mem) {
    e8(0x45 | (regfield << 3));
    e8(rnd());
  } else {
    e8(0xC0 | (regfield << 3) | (size == 8 ? reg8() : reg()));
  }
}

static void size_prefix(int size) {
  if (size == 16) e8(0x66);
}

static int pick_size(void) {
  uint32_t r = rnd() % 3;
  return r == 0 ? 8 : r == 1 ? 16 : 32;
}

static void imm(int size) {
  if (size == 8) e8(rnd());
  else if (size == 16) e16(rnd());
  else e32(rnd());
}

/* Flags each condition code pair reads. */
static const uint32_t cc_needs[8] = {OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF};
static int cc_ok(uint32_t cc) { return (def & cc_needs[cc >> 1]) == cc_needs[cc >> 1]; }

/* Emits one instruction (or a short idiom); returns 0 if the choice was not allowed here. */
static int gen_insn(int allow_jcc) {
  uint32_t kind = rnd() % 30;
  int size = pick_size(), mem = (rnd() & 3) == 0;
  switch (kind) {
    case 0:
    case 1:
    case 2: { /* ALU op r/m, r or r, r/m */
      uint32_t op = rnd() % 8;
      if ((op == 2 || op == 3) && !(def & CF)) return 0;
      size_prefix(size);
      e8(op * 8 + (size == 8 ? 0 : 1) + (rnd() & 2));
      rm_operand(size == 8 ? reg8() : reg(), size, mem);
      def = (op == 1 || op == 4 || op == 6) ? (ALLF & ~AF) : ALLF;
      return 1;
    }
    case 3:
    case 4: { /* ALU op r/m, imm (80/81/83) or accumulator, imm */
      uint32_t op = rnd() % 8, form = rnd() % 3;
      if ((op == 2 || op == 3) && !(def & CF)) return 0;
      size_prefix(size);
      if (form == 0) {
        e8(op * 8 + (size == 8 ? 4 : 5));
        imm(size);
      } else if (size == 8 || form == 1) {
        e8(size == 8 ? 0x80 : 0x81);
        rm_operand(op, size, mem);
        imm(size);
      } else {
        e8(0x83);
        rm_operand(op, size, mem);
        e8(rnd());
      }
      def = (op == 1 || op == 4 || op == 6) ? (ALLF & ~AF) : ALLF;
      return 1;
    }
    case 5: { /* INC/DEC: CF keeps whatever state it had */
      uint32_t dec = rnd() & 1;
      size_prefix(size);
      if (size != 8 && !mem && (rnd() & 1)) e8(0x40 + dec * 8 + reg());
      else { e8(size == 8 ? 0xFE : 0xFF); rm_operand(dec, size, mem); }
      def = (def & CF) | (ALLF & ~CF);
      return 1;
    }
    case 6: { /* NOT / NEG */
      uint32_t neg = rnd() & 1;
      size_prefix(size);
      e8(size == 8 ? 0xF6 : 0xF7);
      rm_operand(2 + neg, size, mem);
      if (neg) def = ALLF;
      return 1;
    }
    case 7: { /* TEST r/m, r and TEST r/m, imm */
      size_prefix(size);
      if (rnd() & 1) { e8(size == 8 ? 0x84 : 0x85); rm_operand(size == 8 ? reg8() : reg(), size, mem); }
      else { e8(size == 8 ? 0xF6 : 0xF7); rm_operand(0, size, mem); imm(size); }
      def = ALLF & ~AF;
      return 1;
    }
    case 8:
    case 9: { /* shifts and rotates by an immediate (C0/C1) or by one (D0/D1) */
      static const uint8_t ops[7] = {0, 1, 2, 3, 4, 5, 7};
      uint32_t op = ops[rnd() % 7], by1 = (rnd() % 4) == 0, c = by1 ? 1 : rnd() % 40, mc = c & 31;
      if ((op == 2 || op == 3) && !(def & CF)) return 0;
      size_prefix(size);
      e8(by1 ? (size == 8 ? 0xD0 : 0xD1) : (size == 8 ? 0xC0 : 0xC1));
      rm_operand(op, size, mem);
      if (!by1) e8(c);
      if (mc == 0) return 1;
      if (op <= 3) { /* ROL ROR RCL RCR: CF defined, OF only for a count of 1, others kept */
        def |= CF;
        if (mc == 1) def |= OF;
        else def &= ~OF;
      } else { /* SHL SHR SAR */
        def = SF | ZF | PF | (mc == 1 ? OF : 0) | (mc < (uint32_t)size ? CF : 0);
      }
      return 1;
    }
    case 10: { /* MUL / IMUL one operand: CF and OF defined only */
      size_prefix(size);
      e8(size == 8 ? 0xF6 : 0xF7);
      rm_operand(4 + (rnd() & 1), size, mem);
      def = CF | OF;
      return 1;
    }
    case 11: { /* IMUL r, r/m and IMUL r, r/m, imm */
      if (size == 8) size = 32;
      size_prefix(size);
      uint32_t form = rnd() % 3;
      if (form == 0) { e8(0x0F); e8(0xAF); }
      else e8(form == 1 ? 0x6B : 0x69);
      rm_operand(reg(), size, mem);
      if (form == 1) e8(rnd());
      else if (form == 2) imm(size);
      def = CF | OF;
      return 1;
    }
    case 12: { /* BT/BTS/BTR/BTC r/m, imm8 and r, r: CF defined, ZF kept */
      if (size == 8) size = 32;
      size_prefix(size);
      e8(0x0F);
      if (rnd() & 1) { e8(0xBA); rm_operand(4 + (rnd() & 3), size, mem); e8(rnd()); }
      else { e8(0xA3 + 8 * (rnd() & 3)); e8(0xC0 | (reg() << 3) | reg()); }
      def = (def & ZF) | CF;
      return 1;
    }
    case 13: { /* BSF/BSR of a source forced non-zero (a zero source leaves the destination undefined) */
      if (size == 8) size = 32;
      uint32_t src = reg(), bit = rnd() % (uint32_t)size;
      e8(0x81); e8(0xC8 | src); e32(1u << bit); /* or $bit, src */
      size_prefix(size);
      e8(0x0F); e8(0xBC + (rnd() & 1)); e8(0xC0 | (reg() << 3) | src);
      def = ZF;
      return 1;
    }
    case 14: /* BSWAP */
      e8(0x0F); e8(0xC8 + reg());
      return 1;
    case 15: { /* XADD / CMPXCHG, register forms */
      size_prefix(size);
      e8(0x0F);
      e8((rnd() & 1 ? 0xC0 : 0xB0) + (size == 8 ? 0 : 1));
      e8(0xC0 | ((size == 8 ? reg8() : reg()) << 3) | (size == 8 ? reg8() : reg()));
      def = ALLF;
      return 1;
    }
    case 16: { /* SETcc */
      uint32_t cc = rnd() % 16;
      if (!cc_ok(cc)) return 0;
      e8(0x0F); e8(0x90 + cc); rm_operand(0, 8, mem);
      return 1;
    }
    case 17: { /* CMOVcc (the memory source is read whatever the condition) */
      uint32_t cc = rnd() % 16;
      if (!cc_ok(cc)) return 0;
      if (size == 8) size = 32;
      size_prefix(size);
      e8(0x0F); e8(0x40 + cc); rm_operand(reg(), size, mem);
      return 1;
    }
    case 18: { /* Jcc rel8 over one instruction: afterwards only flags defined on both paths */
      uint32_t cc = rnd() % 16;
      if (!allow_jcc || !cc_ok(cc)) return 0;
      uint8_t *j = cp;
      uint32_t before = def;
      cp += 2;
      while (!gen_insn(0)) {
      }
      j[0] = (uint8_t)(0x70 + cc);
      j[1] = (uint8_t)(cp - j - 2);
      def &= before;
      return 1;
    }
    case 19: { /* MOVZX / MOVSX */
      uint32_t sx = rnd() & 1, from16 = rnd() & 1;
      if (!from16 && (rnd() & 1)) e8(0x66); /* r16 <- r/m8 */
      e8(0x0F); e8(0xB6 + sx * 8 + from16); rm_operand(reg(), from16 ? 16 : 8, mem);
      return 1;
    }
    case 20: { /* MOV in its many encodings */
      uint32_t form = rnd() % 3;
      size_prefix(size);
      if (form == 0) { e8((size == 8 ? 0x88 : 0x89) + (rnd() & 2)); rm_operand(size == 8 ? reg8() : reg(), size, mem); }
      else if (form == 1) { e8(size == 8 ? 0xB0 + reg8() : 0xB8 + reg()); imm(size); }
      else { e8(size == 8 ? 0xC6 : 0xC7); rm_operand(0, size, mem); imm(size); }
      return 1;
    }
    case 21: { /* LEA with SIB: base + index*scale + disp8, or index*scale + disp32 */
      uint32_t dst = reg(), scale = rnd() % 4, index = rnd() % 7 == 0 ? 4 : reg();
      e8(0x8D);
      if (rnd() & 1) { e8(0x44 | (dst << 3)); e8((scale << 6) | (index << 3) | reg()); e8(rnd()); }
      else { e8(0x04 | (dst << 3)); e8((scale << 6) | (index << 3) | 5); e32(rnd()); }
      return 1;
    }
    case 22: { /* XCHG */
      size_prefix(size);
      if (size != 8 && !mem && (rnd() & 1)) e8(0x90 + reg());
      else { e8(size == 8 ? 0x86 : 0x87); rm_operand(size == 8 ? reg8() : reg(), size, mem); }
      return 1;
    }
    case 23: { /* SHLD / SHRD imm8 (16-bit counts above 16 are undefined: not generated) */
      if (size == 8) size = 32;
      uint32_t c = rnd() % 40, mc = c & 31;
      if (size == 16 && mc > 16) return 0;
      size_prefix(size);
      e8(0x0F); e8(rnd() & 1 ? 0xA4 : 0xAC); rm_operand(reg(), size, mem); e8(c);
      if (mc) def = CF | SF | ZF | PF | (mc == 1 ? OF : 0);
      return 1;
    }
    case 24: /* CBW CWDE CWD CDQ */
      if (rnd() & 1) e8(0x66);
      e8(0x98 + (rnd() & 1));
      return 1;
    case 25: { /* CLC STC CMC */
      uint32_t w = rnd() % 3;
      if (w == 2 && !(def & CF)) return 0;
      e8(w == 0 ? 0xF8 : w == 1 ? 0xF9 : 0xF5);
      def |= CF;
      return 1;
    }
    case 26: /* LAHF / SAHF */
      if (rnd() & 1) {
        if ((def & (SF | ZF | AF | PF | CF)) != (SF | ZF | AF | PF | CF)) return 0;
        e8(0x9F);
      } else {
        e8(0x9E);
        def |= SF | ZF | AF | PF | CF;
      }
      return 1;
    case 27: { /* PUSH something, POP somewhere */
      uint32_t f = rnd() % 4;
      if (f == 0) { e8(0x50 + reg()); e8(0x58 + reg()); }
      else if (f == 1) { e8(0x6A); e8(rnd()); e8(0x58 + reg()); }
      else if (f == 2) { e8(0x68); e32(rnd()); e8(0x8F); e8(0x45); e8(rnd()); }
      else { e8(0x66); e8(0x50 + reg()); e8(0x66); e8(0x58 + reg()); }
      return 1;
    }
    case 28: { /* ADC/SBB with memory, the carry chains of 64-bit code */
      if (!(def & CF)) return 0;
      size_prefix(size);
      e8((rnd() & 1 ? 0x10 : 0x18) + (size == 8 ? 0 : 1) + (rnd() & 2));
      rm_operand(size == 8 ? reg8() : reg(), size, 1);
      def = ALLF;
      return 1;
    }
    default: { /* DIV/IDIV r32 by a divisor made safe: EDX cleared, divisor forced >= 0x10000 odd */
      uint32_t d = reg();
      if (d == 0 || d == 2) return 0;
      e8(0x81); e8(0xC8 | d); e32(0x00010001u | (rnd() & 0x7FFF0000u)); /* or: divisor in [0x10001, 0x7fffffff] */
      e8(0x31); e8(0xD2);                                                   /* xor %edx, %edx */
      e8(0xF7); e8(0xF0 | d);                                               /* div d: quotient fits */
      def = 0;                                                              /* DIV leaves every flag undefined */
      return 1;
    }
  }
}

static uint32_t mix(uint32_t h, uint32_t v) { return (h ^ v) * 0x01000193u + (h >> 15); }

static int dump_block = -1;

static int parse_dump(const struct multiboot_info *mbi) {
  if (!(mbi->flags & 4) || !mbi->cmdline) return -1;
  const char *s = (const char *)mbi->cmdline;
  for (; *s; s++) {
    if (s[0] == 'd' && s[1] == 'u' && s[2] == 'm' && s[3] == 'p' && s[4] == '=') {
      int v = 0;
      for (s += 5; *s >= '0' && *s <= '9'; s++) v = v * 10 + (*s - '0');
      return v;
    }
  }
  return -1;
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  if (magic == MULTIBOOT_BOOTLOADER_MAGIC) dump_block = parse_dump(mbi);
  gdt_init();
  idt_init(); /* any fault is a generator bug: trap_dispatch reports it and stops */
  printf("cpufuzz: %u batches of %u blocks of %u instructions\n", BATCHES, BLOCKS_PER_BATCH, INSNS_PER_BLOCK);
  uint32_t total = 0;
  for (uint32_t b = 0; b < BATCHES; b++) {
    uint32_t h = 0x811C9DC5u;
    for (uint32_t k = 0; k < BLOCKS_PER_BATCH; k++) {
      uint32_t blk = b * BLOCKS_PER_BATCH + k;
      struct fuzz_state st;
      st.eax = rnd(); st.ecx = rnd(); st.edx = rnd(); st.ebx = rnd(); st.esi = rnd(); st.edi = rnd();
      st.eflags = 0x2 | (rnd() & ALLF);
      for (uint32_t i = 0; i < sizeof scratch; i++) scratch[i] = (uint8_t)rnd();
      cp = code;
      def = ALLF;
      for (int n = 0; n < INSNS_PER_BLOCK;)
        if (gen_insn(1)) n++;
      e8(0xC3); /* ret */
      uint32_t len = (uint32_t)(cp - code);
      struct fuzz_state in = st;
      fuzz_run(code, &st, scratch + 128);
      uint32_t fl = st.eflags & def;
      h = mix(h, st.eax); h = mix(h, st.ecx); h = mix(h, st.edx); h = mix(h, st.ebx);
      h = mix(h, st.esi); h = mix(h, st.edi); h = mix(h, fl); h = mix(h, def);
      for (uint32_t i = 0; i < sizeof scratch; i += 4) h = mix(h, *(uint32_t *)(scratch + i));
      if ((int)blk == dump_block) {
        printf("cpufuzz: block %u in eax=%x ecx=%x edx=%x ebx=%x esi=%x edi=%x flags=%x\n", blk, in.eax, in.ecx, in.edx,
               in.ebx, in.esi, in.edi, in.eflags);
        printf("cpufuzz: block %u code", blk);
        for (uint32_t i = 0; i < len; i++) printf(" %02x", code[i]);
        printf("\ncpufuzz: block %u eax=%x ecx=%x edx=%x ebx=%x esi=%x edi=%x flags=%x defined=%x\n", blk, st.eax, st.ecx,
               st.edx, st.ebx, st.esi, st.edi, fl, def);
      }
    }
    printf("cpufuzz: batch %u hash %08x\n", b, h);
    total = mix(total, h);
  }
  printf("cpufuzz: done %u blocks, hash %08x\n", BATCHES * BLOCKS_PER_BATCH, total);
  return 0;
}
