/* cputest: the CPU self-test guest. Each instruction group runs under inline asm with EFLAGS
 * captured by PUSHF and is compared against (a) tables gcc folds at compile time from plain C
 * and C models of the SDM pseudocode, and (b) hand-written constants derived from the Intel SDM.
 * Only architecturally defined results are compared (undefined flags are masked out), so the
 * output is identical on every correct IA-32 implementation; QEMU is the oracle.
 * Output: one `group NAME: N checks, M failed` line per group, then `cputest: PASS` or `FAIL`;
 * the exit value is the number of failed groups. */
#include "runtime.h"

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define DF 0x400u
#define OF 0x800u
#define ARITH (CF | PF | AF | ZF | SF | OF)
#define LOGIC (CF | PF | ZF | SF | OF) /* AF is undefined after AND/OR/XOR/TEST */

/* ------------------------------------------------------------------------------------------ */
/* Group bookkeeping                                                                          */

static const char *g_name;
static uint32_t g_checks, g_fails, groups_failed, groups_run;

static void group_begin(const char *name) {
  g_name = name;
  g_checks = 0;
  g_fails = 0;
}

static void group_end(void) {
  printf("group %s: %u checks, %u failed\n", g_name, g_checks, g_fails);
  groups_run++;
  if (g_fails) groups_failed++;
}

/* One comparison. The first few failures of a group are printed in full so a bug report can
 * name the instruction, its operands and both values. */
static void check(const char *what, uint32_t a, uint32_t b, uint32_t got, uint32_t exp) {
  g_checks++;
  if (got == exp) return;
  g_fails++;
  if (g_fails <= 6) printf("  FAIL %s %s a=%x b=%x: got %x expected %x\n", g_name, what, a, b, got, exp);
}

static inline uint32_t get_eflags(void) {
  uint32_t f;
  __asm__ volatile("pushfl; popl %0" : "=r"(f));
  return f;
}

/* ------------------------------------------------------------------------------------------ */
/* Compile-time reference model of the arithmetic flags (constant expressions only).         */

#define MASK(N) ((N) == 32 ? 0xFFFFFFFFu : (uint32_t)((1ull << (N)) - 1))
#define TR(v, N) ((uint32_t)(v) & MASK(N))
#define MSB(v, N) ((TR(v, N) >> ((N) - 1)) & 1u)
#define PAR(r) (((0x9669u >> ((((r) & 0xFFu) ^ (((r) & 0xFFu) >> 4)) & 0xFu)) & 1u) ? PF : 0u)
#define SZP(r, N) ((TR(r, N) == 0 ? ZF : 0u) | (MSB(r, N) ? SF : 0u) | PAR(TR(r, N)))

#define R_ADD(a, b, c, N) TR(TR(a, N) + TR(b, N) + (c), N)
#define F_ADD(a, b, c, N)                                                                  \
  (SZP(R_ADD(a, b, c, N), N) |                                                             \
   (((uint64_t)TR(a, N) + TR(b, N) + (c)) > MASK(N) ? CF : 0u) |                           \
   ((((a) ^ (b) ^ R_ADD(a, b, c, N)) & 0x10u) ? AF : 0u) |                                 \
   (MSB(~((a) ^ (b)) & ((a) ^ R_ADD(a, b, c, N)), N) ? OF : 0u))
#define R_SUB(a, b, c, N) TR(TR(a, N) - TR(b, N) - (c), N)
#define F_SUB(a, b, c, N)                                                                  \
  (SZP(R_SUB(a, b, c, N), N) |                                                             \
   (((uint64_t)TR(b, N) + (c)) > TR(a, N) ? CF : 0u) |                                     \
   ((((a) ^ (b) ^ R_SUB(a, b, c, N)) & 0x10u) ? AF : 0u) |                                 \
   (MSB(((a) ^ (b)) & ((a) ^ R_SUB(a, b, c, N)), N) ? OF : 0u))
#define R_AND(a, b, c, N) TR((a) & (b), N)
#define R_OR(a, b, c, N) TR((a) | (b), N)
#define R_XOR(a, b, c, N) TR((a) ^ (b), N)
#define F_AND(a, b, c, N) SZP(R_AND(a, b, c, N), N)
#define F_OR(a, b, c, N) SZP(R_OR(a, b, c, N), N)
#define F_XOR(a, b, c, N) SZP(R_XOR(a, b, c, N), N)

/* The edge values every binary ALU op is run over (truncated to the operand size). */
#define EDGES_A(X, ...)                                                                      \
  X(0x00000000u, __VA_ARGS__) X(0x00000001u, __VA_ARGS__) X(0x0000000Fu, __VA_ARGS__)       \
  X(0x0000007Fu, __VA_ARGS__) X(0x00000080u, __VA_ARGS__) X(0x000000FFu, __VA_ARGS__)       \
  X(0x00007FFFu, __VA_ARGS__) X(0x00008000u, __VA_ARGS__) X(0x0000FFFFu, __VA_ARGS__)       \
  X(0x7FFFFFFFu, __VA_ARGS__) X(0x80000000u, __VA_ARGS__) X(0xFFFFFFFFu, __VA_ARGS__)       \
  X(0x12345678u, __VA_ARGS__)
#define EDGES_B(X, ...)                                                                      \
  X(0x00000000u, __VA_ARGS__) X(0x00000001u, __VA_ARGS__) X(0x0000000Fu, __VA_ARGS__)       \
  X(0x0000007Fu, __VA_ARGS__) X(0x00000080u, __VA_ARGS__) X(0x000000FFu, __VA_ARGS__)       \
  X(0x00007FFFu, __VA_ARGS__) X(0x00008000u, __VA_ARGS__) X(0x0000FFFFu, __VA_ARGS__)       \
  X(0x7FFFFFFFu, __VA_ARGS__) X(0x80000000u, __VA_ARGS__) X(0xFFFFFFFFu, __VA_ARGS__)       \
  X(0x12345678u, __VA_ARGS__)
#define NEDGE 13
#define NPAIR (NEDGE * NEDGE)

struct ent {
  uint32_t a, b, r, f;
};

#define ENT(b, a, OP, N, C) {TR(a, N), TR(b, N), R_##OP(a, b, C, N), F_##OP(a, b, C, N)},
#define ROW(a, OP, N, C) EDGES_B(ENT, a, OP, N, C)
#define TABLE(name, OP, N, C) static const struct ent name[NPAIR] = {EDGES_A(ROW, OP, N, C)};

TABLE(t_add8, ADD, 8, 0)
TABLE(t_add16, ADD, 16, 0)
TABLE(t_add32, ADD, 32, 0)
TABLE(t_adc8, ADD, 8, 1)
TABLE(t_adc16, ADD, 16, 1)
TABLE(t_adc32, ADD, 32, 1)
TABLE(t_sub8, SUB, 8, 0)
TABLE(t_sub16, SUB, 16, 0)
TABLE(t_sub32, SUB, 32, 0)
TABLE(t_sbb8, SUB, 8, 1)
TABLE(t_sbb16, SUB, 16, 1)
TABLE(t_sbb32, SUB, 32, 1)
TABLE(t_and8, AND, 8, 0)
TABLE(t_and16, AND, 16, 0)
TABLE(t_and32, AND, 32, 0)
TABLE(t_or8, OR, 8, 0)
TABLE(t_or16, OR, 16, 0)
TABLE(t_or32, OR, 32, 0)
TABLE(t_xor8, XOR, 8, 0)
TABLE(t_xor16, XOR, 16, 0)
TABLE(t_xor32, XOR, 32, 0)

/* ------------------------------------------------------------------------------------------ */
/* Binary ALU instructions in three encodings: reg,reg / reg,mem (memory destination) /      */
/* mem,reg (memory source).                                                                    */

typedef uint32_t (*binop_fn)(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout);

#define FLAGS_IN "pushl %[fin]\n\tpopfl\n\t"
#define FLAGS_OUT "\n\tpushfl\n\tpopl %[fo]"

#define DEF_RR(fn, T, ins)                                                                   \
  static uint32_t fn(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout) {                 \
    T x = (T)a, y = (T)b;                                                                    \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %[y], %[x]" FLAGS_OUT                                    \
                     : [x] "+q"(x), [fo] "=&r"(f)                                            \
                     : [y] "q"(y), [fin] "r"(fin)                                            \
                     : "cc");                                                                \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
#define DEF_MD(fn, T, ins)                                                                   \
  static uint32_t fn(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout) {                 \
    volatile T x = (T)a;                                                                     \
    T y = (T)b;                                                                              \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %[y], %[x]" FLAGS_OUT                                    \
                     : [x] "+m"(x), [fo] "=&r"(f)                                            \
                     : [y] "q"(y), [fin] "r"(fin)                                            \
                     : "cc", "memory");                                                      \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
#define DEF_MS(fn, T, ins)                                                                   \
  static uint32_t fn(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout) {                 \
    T x = (T)a;                                                                              \
    volatile T y = (T)b;                                                                     \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %[y], %[x]" FLAGS_OUT                                    \
                     : [x] "+q"(x), [fo] "=&r"(f)                                            \
                     : [y] "m"(y), [fin] "r"(fin)                                            \
                     : "cc", "memory");                                                      \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
#define DEF_ALU(op)                                                                          \
  DEF_RR(op##_rr8, uint8_t, #op) DEF_RR(op##_rr16, uint16_t, #op)                            \
  DEF_RR(op##_rr32, uint32_t, #op)                                                           \
  DEF_MD(op##_md8, uint8_t, #op "b") DEF_MD(op##_md16, uint16_t, #op "w")                    \
  DEF_MD(op##_md32, uint32_t, #op "l")                                                       \
  DEF_MS(op##_ms8, uint8_t, #op) DEF_MS(op##_ms16, uint16_t, #op)                            \
  DEF_MS(op##_ms32, uint32_t, #op)

DEF_ALU(add)
DEF_ALU(adc)
DEF_ALU(sub)
DEF_ALU(sbb)
DEF_ALU(and)
DEF_ALU(or)
DEF_ALU(xor)
DEF_ALU(cmp)
DEF_RR(test_rr8, uint8_t, "test")
DEF_RR(test_rr16, uint16_t, "test")
DEF_RR(test_rr32, uint32_t, "test")
DEF_MD(test_md8, uint8_t, "testb")
DEF_MD(test_md16, uint16_t, "testw")
DEF_MD(test_md32, uint32_t, "testl")

/* Runs one encoding of one op over its table. `writes` is 0 for CMP/TEST (destination kept). */
static void alu_run(const char *name, binop_fn fn, const struct ent *t, uint32_t fin, uint32_t fmask, int writes) {
  for (int i = 0; i < NPAIR; i++) {
    uint32_t fo;
    uint32_t r = fn(t[i].a, t[i].b, fin, &fo);
    check(name, t[i].a, t[i].b, r, writes ? t[i].r : t[i].a);
    check(name, t[i].a, t[i].b, fo & fmask, t[i].f & fmask);
  }
}

#define ALU3(label, op, N, tab, fin, mask, writes)                                           \
  alu_run(label " r,r", op##_rr##N, tab, fin, mask, writes);                                 \
  alu_run(label " m,r", op##_md##N, tab, fin, mask, writes);                                 \
  alu_run(label " r,m", op##_ms##N, tab, fin, mask, writes);

/* Each op runs with all input arithmetic flags clear and all set (except where CF is an input,
 * adc/sbb), so a flag an op should overwrite cannot leak through. */
#define ALU_GROUP(N)                                                                         \
  static void group_alu##N(void) {                                                           \
    group_begin("alu" #N);                                                                   \
    ALU3("add", add, N, t_add##N, 0x002, ARITH, 1)                                           \
    ALU3("add", add, N, t_add##N, 0x8D7, ARITH, 1)                                           \
    ALU3("adc0", adc, N, t_add##N, 0x8D6, ARITH, 1)                                          \
    ALU3("adc1", adc, N, t_adc##N, 0x003, ARITH, 1)                                          \
    ALU3("sub", sub, N, t_sub##N, 0x002, ARITH, 1)                                           \
    ALU3("sub", sub, N, t_sub##N, 0x8D7, ARITH, 1)                                           \
    ALU3("sbb0", sbb, N, t_sub##N, 0x8D6, ARITH, 1)                                          \
    ALU3("sbb1", sbb, N, t_sbb##N, 0x003, ARITH, 1)                                          \
    ALU3("cmp", cmp, N, t_sub##N, 0x002, ARITH, 0)                                           \
    ALU3("cmp", cmp, N, t_sub##N, 0x8D7, ARITH, 0)                                           \
    ALU3("and", and, N, t_and##N, 0x002, LOGIC, 1)                                           \
    ALU3("and", and, N, t_and##N, 0x8D7, LOGIC, 1)                                           \
    ALU3("or", or, N, t_or##N, 0x002, LOGIC, 1)                                              \
    ALU3("or", or, N, t_or##N, 0x8D7, LOGIC, 1)                                              \
    ALU3("xor", xor, N, t_xor##N, 0x002, LOGIC, 1)                                           \
    ALU3("xor", xor, N, t_xor##N, 0x8D7, LOGIC, 1)                                           \
    alu_run("test r,r", test_rr##N, t_and##N, 0x002, LOGIC, 0);                              \
    alu_run("test m,r", test_md##N, t_and##N, 0x8D7, LOGIC, 0);                              \
    group_end();                                                                             \
  }

ALU_GROUP(8)
ALU_GROUP(16)
ALU_GROUP(32)

/* ------------------------------------------------------------------------------------------ */
/* INC / DEC / NEG / NOT: compile-time tables over the edge values, register and memory forms. */

struct uent {
  uint32_t a, r, f;
};
#define R_INC(a, N) R_ADD(a, 1u, 0, N)
#define F_INC(a, N) (F_ADD(a, 1u, 0, N) & ~CF)
#define R_DEC(a, N) R_SUB(a, 1u, 0, N)
#define F_DEC(a, N) (F_SUB(a, 1u, 0, N) & ~CF)
#define R_NEG(a, N) R_SUB(0u, a, 0, N)
#define F_NEG(a, N) F_SUB(0u, a, 0, N)
#define R_NOT(a, N) TR(~(a), N)
#define F_NOT(a, N) 0u
#define UENT(a, OP, N) {TR(a, N), R_##OP(a, N), F_##OP(a, N)},
#define UTABLE(name, OP, N) static const struct uent name[NEDGE] = {EDGES_A(UENT, OP, N)};

UTABLE(u_inc8, INC, 8)
UTABLE(u_inc16, INC, 16)
UTABLE(u_inc32, INC, 32)
UTABLE(u_dec8, DEC, 8)
UTABLE(u_dec16, DEC, 16)
UTABLE(u_dec32, DEC, 32)
UTABLE(u_neg8, NEG, 8)
UTABLE(u_neg16, NEG, 16)
UTABLE(u_neg32, NEG, 32)
UTABLE(u_not8, NOT, 8)
UTABLE(u_not16, NOT, 16)
UTABLE(u_not32, NOT, 32)

typedef uint32_t (*unop_fn)(uint32_t a, uint32_t fin, uint32_t *fout);
#define DEF_UR(fn, T, ins)                                                                   \
  static uint32_t fn(uint32_t a, uint32_t fin, uint32_t *fout) {                             \
    T x = (T)a;                                                                              \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %[x]" FLAGS_OUT : [x] "+q"(x), [fo] "=&r"(f) : [fin] "r"(fin) : "cc"); \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
#define DEF_UM(fn, T, ins)                                                                   \
  static uint32_t fn(uint32_t a, uint32_t fin, uint32_t *fout) {                             \
    volatile T x = (T)a;                                                                     \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %[x]" FLAGS_OUT : [x] "+m"(x), [fo] "=&r"(f) : [fin] "r"(fin) : "cc", "memory"); \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
#define DEF_UNARY(op)                                                                        \
  DEF_UR(op##_r8, uint8_t, #op) DEF_UR(op##_r16, uint16_t, #op) DEF_UR(op##_r32, uint32_t, #op) \
  DEF_UM(op##_m8, uint8_t, #op "b") DEF_UM(op##_m16, uint16_t, #op "w") DEF_UM(op##_m32, uint32_t, #op "l")
DEF_UNARY(inc)
DEF_UNARY(dec)
DEF_UNARY(neg)
DEF_UNARY(not)

/* `keep` are the flags the instruction leaves alone (CF for INC/DEC, all for NOT). */
static void unary_run(const char *name, unop_fn fn, const struct uent *t, uint32_t keep, uint32_t fmask) {
  static const uint32_t fins[2] = {0x002, 0x8D7};
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < NEDGE; i++) {
      uint32_t fo, r = fn(t[i].a, fins[k], &fo);
      check(name, t[i].a, fins[k], r, t[i].r);
      check(name, t[i].a, fins[k], fo & fmask, ((t[i].f & ~keep) | (fins[k] & keep)) & fmask);
    }
  }
}

#define UNARY_SIZE(N)                                                                        \
  unary_run("inc r" #N, inc_r##N, u_inc##N, CF, ARITH);                                      \
  unary_run("inc m" #N, inc_m##N, u_inc##N, CF, ARITH);                                      \
  unary_run("dec r" #N, dec_r##N, u_dec##N, CF, ARITH);                                      \
  unary_run("dec m" #N, dec_m##N, u_dec##N, CF, ARITH);                                      \
  unary_run("neg r" #N, neg_r##N, u_neg##N, 0, ARITH);                                       \
  unary_run("neg m" #N, neg_m##N, u_neg##N, 0, ARITH);                                       \
  unary_run("not r" #N, not_r##N, u_not##N, ARITH, ARITH);                                   \
  unary_run("not m" #N, not_m##N, u_not##N, ARITH, ARITH);

static void group_unary(void) {
  group_begin("incdecnegnot");
  UNARY_SIZE(8)
  UNARY_SIZE(16)
  UNARY_SIZE(32)
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Hand-written SDM cases: immediate and accumulator encodings, partial registers.            */

#define HAND_A(label, text, a0, fi, exp_r, exp_f, fmask)                                    \
  do {                                                                                       \
    uint32_t x = (a0), f;                                                                    \
    __asm__ volatile(FLAGS_IN text FLAGS_OUT : [x] "+a"(x), [fo] "=&r"(f) : [fin] "r"(fi) : "cc"); \
    check(label, a0, fi, x, exp_r);                                                         \
    check(label " flags", a0, fi, f & (fmask), exp_f);                                      \
  } while (0)
#define HAND_AC(label, text, a0, c0, fi, exp_r, exp_f, fmask)                               \
  do {                                                                                       \
    uint32_t x = (a0), y = (c0), f;                                                          \
    __asm__ volatile(FLAGS_IN text FLAGS_OUT : [x] "+a"(x), [fo] "=&r"(f) : [y] "c"(y), [fin] "r"(fi) : "cc"); \
    check(label, a0, c0, x, exp_r);                                                          \
    check(label " flags", a0, c0, f & (fmask), exp_f);                                       \
  } while (0)

static void group_alu_sdm(void) {
  group_begin("alu-sdm");
  HAND_AC("add32 7fffffff+1", "addl %[y], %[x]", 0x7FFFFFFFu, 1u, 0x2, 0x80000000u, 0x894, ARITH);
  HAND_AC("add32 ffffffff+1", "addl %[y], %[x]", 0xFFFFFFFFu, 1u, 0x2, 0u, 0x055, ARITH);
  HAND_AC("add8 80+80", "addb %b[y], %b[x]", 0x80u, 0x80u, 0x2, 0u, 0x845, ARITH);
  HAND_AC("sub32 0-1", "subl %[y], %[x]", 0u, 1u, 0x2, 0xFFFFFFFFu, 0x095, ARITH);
  HAND_AC("sub32 80000000-1", "subl %[y], %[x]", 0x80000000u, 1u, 0x2, 0x7FFFFFFFu, 0x814, ARITH);
  HAND_AC("adc32 ffffffff+0+1", "adcl %[y], %[x]", 0xFFFFFFFFu, 0u, 0x3, 0u, 0x055, ARITH);
  HAND_AC("sbb16 0-0-1", "sbbw %w[y], %w[x]", 0u, 0u, 0x3, 0xFFFFu, 0x095, ARITH);
  HAND_AC("and32", "andl %[y], %[x]", 0xF0F0F0F0u, 0x0FF00FF0u, 0x8D7, 0x00F000F0u, 0x004, LOGIC);
  HAND_AC("xor8 55^55", "xorb %b[y], %b[x]", 0x55u, 0x55u, 0x2, 0u, 0x044, LOGIC);
  HAND_AC("or16", "orw %w[y], %w[x]", 0x8000u, 0x0001u, 0x2, 0x8001u, 0x080, LOGIC);
  HAND_AC("cmp32 5-7", "cmpl %[y], %[x]", 5u, 7u, 0x2, 5u, 0x091, ARITH);
  HAND_A("inc8 7f", "incb %b[x]", 0x7Fu, 0x3, 0x80u, 0x891, ARITH);
  HAND_A("dec32 0", "decl %[x]", 0u, 0x2, 0xFFFFFFFFu, 0x094, ARITH);
  HAND_A("neg32 80000000", "negl %[x]", 0x80000000u, 0x2, 0x80000000u, 0x885, ARITH);
  HAND_A("neg8 0", "negb %b[x]", 0u, 0x8D7, 0u, 0x044, ARITH);
  HAND_A("not32", "notl %[x]", 0x0F0F0F0Fu, 0x8D7, 0xF0F0F0F0u, 0x8D5, ARITH);
  /* accumulator and sign-extended immediate encodings (04/05/66 05/83/81) */
  HAND_A("add al,imm8", "addb $0x80, %b[x]", 0x80u, 0x2, 0u, 0x845, ARITH);
  HAND_A("add ax,imm16", "addw $0x1234, %w[x]", 0xEDCCu, 0x2, 0u, 0x055, ARITH);
  HAND_A("sub eax,imm32", "subl $0x12345678, %[x]", 0x12345678u, 0x2, 0u, 0x044, ARITH);
  HAND_AC("add ecx,-1 (83)", "addl $-1, %[y]\n\tmovl %[y], %[x]", 0u, 1u, 0x2, 0u, 0x055, ARITH);
  HAND_A("adc eax,imm8", "adcl $0x7f, %[x]", 0u, 0x3, 0x80u, 0x010, ARITH);
  HAND_A("sbb ax,imm8", "sbbw $1, %w[x]", 0x8000u, 0x2, 0x7FFFu, 0x814, ARITH);
  HAND_A("cmp al,imm8", "cmpb $0x80, %b[x]", 0x7Fu, 0x2, 0x7Fu, 0x885, ARITH);
  HAND_A("test al,imm8", "testb $0x80, %b[x]", 0x80u, 0x8D7, 0x80u, 0x080, LOGIC);
  HAND_A("test eax,imm32", "testl $0x00010000, %[x]", 0xFFFEFFFFu, 0x2, 0xFFFEFFFFu, 0x044, LOGIC);
  HAND_A("and eax,imm8 -16", "andl $-16, %[x]", 0x1234567Fu, 0x2, 0x12345670u, 0x000, LOGIC);
  HAND_A("or al,imm8", "orb $0x0F, %b[x]", 0x12345600u, 0x2, 0x1234560Fu, 0x004, LOGIC);
  HAND_A("xor ax,imm16", "xorw $0xFFFF, %w[x]", 0x12340000u, 0x2, 0x1234FFFFu, 0x084, LOGIC);
  /* partial registers: high-byte and 16-bit writes keep the rest of the register */
  HAND_A("add ah,imm8", "addb $0x10, %h[x]", 0x12345678u, 0x2, 0x12346678u, 0x004, ARITH);
  HAND_A("xchg ah,al", "xchgb %h[x], %b[x]", 0x12345678u, 0x2, 0x12347856u, 0x000, 0);
  HAND_A("mov ax,imm16", "movw $0xFFFF, %w[x]", 0x12345678u, 0x2, 0x1234FFFFu, 0x000, 0);
  HAND_A("inc ax wraps", "incw %w[x]", 0x1234FFFFu, 0x2, 0x12340000u, 0x054, ARITH);
  HAND_AC("mov ch to al", "movb %h[y], %b[x]", 0xAAAAAAAAu, 0x1234u, 0x2, 0xAAAAAA12u, 0, 0);
  HAND_AC("add ch,cl", "addb %b[y], %h[y]\n\tmovl %[y], %[x]", 0u, 0x0180u, 0x2, 0x8180u, 0x084, ARITH & ~AF);
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Shifts and rotates. The C model follows the SDM pseudocode bit by bit (a loop, unlike the   */
/* instruction it checks) and reports which flags are architecturally defined for the case.   */

enum { SH_SHL, SH_SHR, SH_SAR, SH_ROL, SH_ROR, SH_RCL, SH_RCR };
static const char *const sh_names[7] = {"shl", "shr", "sar", "rol", "ror", "rcl", "rcr"};

static uint32_t ref_shift(int op, int n, uint32_t a, uint32_t cnt, uint32_t fin, uint32_t *fexp, uint32_t *fmask) {
  uint32_t mask = n == 32 ? 0xFFFFFFFFu : (1u << n) - 1, top = 1u << (n - 1);
  uint32_t c = cnt & 31, cf = fin & CF, orig = a & mask;
  a = orig;
  *fexp = fin;
  *fmask = ARITH;
  if (c == 0) return a; /* masked count 0: nothing changes, not even flags */
  uint32_t of = 0;
  if (op <= SH_SAR) {
    for (uint32_t i = 0; i < c; i++) {
      if (op == SH_SHL) { cf = (a & top) ? 1 : 0; a = (a << 1) & mask; }
      else if (op == SH_SHR) { cf = a & 1; a >>= 1; }
      else { cf = a & 1; a = (a >> 1) | (a & top); }
    }
    if (op == SH_SHL) of = ((a & top) ? 1 : 0) ^ cf;
    else if (op == SH_SHR) of = (orig & top) ? 1 : 0;
    *fexp = (a == 0 ? ZF : 0) | ((a & top) ? SF : 0) | PAR(a) | (cf ? CF : 0) | (of ? OF : 0);
    *fmask = ZF | SF | PF | CF | OF;
    if (c != 1) *fmask &= ~OF;
    if (op != SH_SAR && c >= (uint32_t)n) *fmask &= ~CF; /* SHL/SHR: CF undefined when count >= size */
    return a;
  }
  if (op == SH_ROL || op == SH_ROR) {
    uint32_t t = c % (uint32_t)n;
    for (uint32_t i = 0; i < t; i++) {
      if (op == SH_ROL) a = ((a << 1) | ((a & top) ? 1 : 0)) & mask;
      else a = (a >> 1) | ((a & 1) ? top : 0);
    }
    if (op == SH_ROL) { cf = a & 1; of = ((a & top) ? 1 : 0) ^ cf; }
    else { cf = (a & top) ? 1 : 0; of = cf ^ ((a & (top >> 1)) ? 1 : 0); }
  } else {
    uint32_t t = n == 8 ? c % 9 : n == 16 ? c % 17 : c;
    if (op == SH_RCR) of = ((a & top) ? 1 : 0) ^ cf; /* RCR: OF from the operand before rotating */
    for (uint32_t i = 0; i < t; i++) {
      if (op == SH_RCL) { uint32_t out = (a & top) ? 1 : 0; a = ((a << 1) | cf) & mask; cf = out; }
      else { uint32_t out = a & 1; a = (a >> 1) | (cf ? top : 0); cf = out; }
    }
    if (op == SH_RCL) of = ((a & top) ? 1 : 0) ^ cf;
  }
  /* Rotates touch only CF and OF; OF is defined for a count of 1 only. */
  *fexp = (fin & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0);
  if (c != 1) *fmask &= ~OF;
  return a;
}

typedef uint32_t (*shift_fn)(uint32_t a, uint32_t cnt, uint32_t fin, uint32_t *fout);
#define DEF_SH_CL(fn, T, ins)                                                                \
  static uint32_t fn(uint32_t a, uint32_t cnt, uint32_t fin, uint32_t *fout) {               \
    T x = (T)a;                                                                              \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %%cl, %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : "c"(cnt), [fin] "r"(fin) : "cc"); \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
#define DEF_SH_M(fn, T, ins)                                                                 \
  static uint32_t fn(uint32_t a, uint32_t cnt, uint32_t fin, uint32_t *fout) {               \
    volatile T x = (T)a;                                                                     \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %%cl, %[x]" FLAGS_OUT : [x] "+m"(x), [fo] "=&r"(f) : "c"(cnt), [fin] "r"(fin) : "cc", "memory"); \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
/* Shift by an immediate: one function per count, selected by a switch. */
#define SH_IMM_CASE(k, ins)                                                                  \
  case k: __asm__ volatile(FLAGS_IN ins " $" #k ", %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [fin] "r"(fin) : "cc"); break;
#define DEF_SH_I(fn, T, ins)                                                                 \
  static uint32_t fn(uint32_t a, uint32_t cnt, uint32_t fin, uint32_t *fout) {               \
    T x = (T)a;                                                                              \
    uint32_t f = 0;                                                                          \
    switch (cnt) {                                                                           \
      SH_IMM_CASE(0, ins) SH_IMM_CASE(1, ins) SH_IMM_CASE(2, ins) SH_IMM_CASE(7, ins)        \
      SH_IMM_CASE(8, ins) SH_IMM_CASE(9, ins) SH_IMM_CASE(15, ins) SH_IMM_CASE(16, ins)      \
      SH_IMM_CASE(17, ins) SH_IMM_CASE(31, ins) SH_IMM_CASE(32, ins) SH_IMM_CASE(33, ins)    \
    }                                                                                        \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
/* The D0/D1 "by one" encodings (gas emits them for a count of $1 anyway; this spells them). */
#define DEF_SH_1(fn, T, ins)                                                                 \
  static uint32_t fn(uint32_t a, uint32_t cnt, uint32_t fin, uint32_t *fout) {               \
    T x = (T)a;                                                                              \
    uint32_t f;                                                                              \
    (void)cnt;                                                                               \
    __asm__ volatile(FLAGS_IN ins " %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [fin] "r"(fin) : "cc"); \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
#define DEF_SH_ALL(op)                                                                       \
  DEF_SH_CL(op##_cl8, uint8_t, #op "b") DEF_SH_CL(op##_cl16, uint16_t, #op "w") DEF_SH_CL(op##_cl32, uint32_t, #op "l") \
  DEF_SH_M(op##_m8, uint8_t, #op "b") DEF_SH_M(op##_m16, uint16_t, #op "w") DEF_SH_M(op##_m32, uint32_t, #op "l") \
  DEF_SH_I(op##_i8, uint8_t, #op "b") DEF_SH_I(op##_i16, uint16_t, #op "w") DEF_SH_I(op##_i32, uint32_t, #op "l") \
  DEF_SH_1(op##_one8, uint8_t, #op "b") DEF_SH_1(op##_one16, uint16_t, #op "w") DEF_SH_1(op##_one32, uint32_t, #op "l")
DEF_SH_ALL(shl)
DEF_SH_ALL(shr)
DEF_SH_ALL(sar)
DEF_SH_ALL(rol)
DEF_SH_ALL(ror)
DEF_SH_ALL(rcl)
DEF_SH_ALL(rcr)

#define SH_FNS(op) {op##_cl8, op##_cl16, op##_cl32}, {op##_m8, op##_m16, op##_m32}, {op##_i8, op##_i16, op##_i32}, {op##_one8, op##_one16, op##_one32}
static const shift_fn sh_fns[7][4][3] = {
    {SH_FNS(shl)}, {SH_FNS(shr)}, {SH_FNS(sar)}, {SH_FNS(rol)}, {SH_FNS(ror)}, {SH_FNS(rcl)}, {SH_FNS(rcr)},
};

static const uint32_t sh_vals[] = {0u, 1u, 0x7Fu, 0x80u, 0x81u, 0xFFu, 0x7FFFu, 0x8000u, 0x8001u,
                                   0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0x12345678u, 0xC0000001u};
static const uint32_t sh_counts[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33};

static void group_shift(void) {
  static const char *const form_names[4] = {"cl", "mem", "imm", "by1"};
  static const uint32_t fins[2] = {0x002, 0x8D7};
  static const int sizes[3] = {8, 16, 32};
  char label[24];
  group_begin("shift-rotate");
  for (int op = 0; op < 7; op++)
    for (int form = 0; form < 4; form++)
      for (int s = 0; s < 3; s++) {
        /* label = "<op><size> <form>" */
        int l = 0;
        for (const char *p = sh_names[op]; *p; p++) label[l++] = *p;
        if (sizes[s] == 8) label[l++] = '8';
        else { label[l++] = sizes[s] == 16 ? '1' : '3'; label[l++] = sizes[s] == 16 ? '6' : '2'; }
        label[l++] = ' ';
        for (const char *p = form_names[form]; *p; p++) label[l++] = *p;
        label[l] = 0;
        for (unsigned v = 0; v < sizeof sh_vals / 4; v++)
          for (unsigned k = 0; k < sizeof sh_counts / 4; k++)
            for (int fi = 0; fi < 2; fi++) {
              uint32_t cnt = form == 3 ? 1 : sh_counts[k];
              if (form == 3 && k) continue;
              uint32_t fexp, fmask, fo;
              uint32_t exp = ref_shift(op, sizes[s], sh_vals[v], cnt, fins[fi], &fexp, &fmask);
              uint32_t r = sh_fns[op][form][s](sh_vals[v], cnt, fins[fi], &fo);
              check(label, sh_vals[v], cnt | (fins[fi] << 8), r, exp);
              check(label, sh_vals[v], cnt | (fins[fi] << 8), fo & fmask, fexp & fmask);
            }
      }
  group_end();
}

/* Hand-written SDM cases for shifts and rotates. */
static void group_shift_sdm(void) {
  group_begin("shift-sdm");
  HAND_AC("shl32 by 1 80000000", "shll %%cl, %[x]", 0x80000000u, 1, 0x2, 0u, 0x845, CF | ZF | SF | PF | OF);
  HAND_AC("shl32 by 31", "shll %%cl, %[x]", 3u, 31, 0x2, 0x80000000u, 0x085, CF | ZF | SF | PF);
  HAND_AC("shl32 by 32 = no-op", "shll %%cl, %[x]", 0x12345678u, 32, 0x8D7, 0x12345678u, 0x8D5, ARITH);
  HAND_AC("shr32 by 1 1", "shrl %%cl, %[x]", 1u, 1, 0x2, 0u, 0x045, CF | ZF | SF | PF | OF);
  HAND_AC("shr32 by 1 80000000", "shrl %%cl, %[x]", 0x80000000u, 1, 0x2, 0x40000000u, 0x804, CF | ZF | SF | PF | OF);
  HAND_AC("sar32 by 31", "sarl %%cl, %[x]", 0x80000000u, 31, 0x2, 0xFFFFFFFFu, 0x084, CF | ZF | SF | PF);
  HAND_AC("sar8 by 9", "sarb %%cl, %b[x]", 0x80u, 9, 0x2, 0xFFu, 0x085, CF | ZF | SF | PF);
  HAND_AC("sar32 by 1", "sarl %%cl, %[x]", 0xFFFFFFFFu, 1, 0x8D6, 0xFFFFFFFFu, 0x085, CF | ZF | SF | PF | OF);
  HAND_AC("shr16 by 4", "shrw %%cl, %w[x]", 0xABCD1234u, 4, 0x2, 0xABCD0123u, 0x000, CF | ZF | SF | PF);
  HAND_AC("rol32 by 4", "roll %%cl, %[x]", 0x12345678u, 4, 0x2, 0x23456781u, 0x001, CF);
  HAND_AC("rol8 by 8 sets CF", "rolb %%cl, %b[x]", 0x01u, 8, 0x2, 0x01u, 0x001, CF);
  HAND_AC("ror32 by 1", "rorl %%cl, %[x]", 1u, 1, 0x2, 0x80000000u, 0x801, CF | OF);
  HAND_AC("ror16 by 17", "rorw %%cl, %w[x]", 0x0001u, 17, 0x2, 0x8000u, 0x001, CF);
  HAND_AC("rcl32 by 1", "rcll %%cl, %[x]", 0x80000000u, 1, 0x3, 1u, 0x801, CF | OF);
  HAND_AC("rcl8 by 9 = no-op", "rclb %%cl, %b[x]", 0x55u, 9, 0x3, 0x55u, 0x001, CF | ZF | SF | PF | AF);
  HAND_AC("rcl8 by 8", "rclb %%cl, %b[x]", 0x81u, 8, 0x2, 0x40u, 0x001, CF);
  HAND_AC("rcr32 by 1", "rcrl %%cl, %[x]", 1u, 1, 0x2, 0u, 0x001, CF | OF);
  HAND_AC("rcr16 by 16", "rcrw %%cl, %w[x]", 0x8000u, 16, 0x3, 0x0001u, 0x001, CF);
  HAND_A("shl eax,imm 4", "shll $4, %[x]", 0x1F000001u, 0x2, 0xF0000010u, 0x081, CF | ZF | SF | PF);
  HAND_A("sar ax,imm 15", "sarw $15, %w[x]", 0x00008000u, 0x2, 0x0000FFFFu, 0x084, ZF | SF | PF);
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* MUL / IMUL (one, two and three operands) / DIV / IDIV with #DE.                            */

struct ment {
  uint32_t a, b, lo, hi, f;
};
#define SX(v, N) ((int64_t)(((int32_t)(TR(v, N) << (32 - (N)))) >> (32 - (N))))
#define MU_FULL(a, b, N) ((uint64_t)TR(a, N) * (uint64_t)TR(b, N))
#define MS_FULL(a, b, N) ((uint64_t)(SX(a, N) * SX(b, N)))
#define MENT_MUL(b, a, N) {TR(a, N), TR(b, N), TR(MU_FULL(a, b, N), N), TR(MU_FULL(a, b, N) >> (N), N), \
                           TR(MU_FULL(a, b, N) >> (N), N) ? (CF | OF) : 0u},
#define MENT_IMUL(b, a, N) {TR(a, N), TR(b, N), TR(MS_FULL(a, b, N), N), TR(MS_FULL(a, b, N) >> (N), N), \
                            (int64_t)MS_FULL(a, b, N) != SX(MS_FULL(a, b, N), N) ? (CF | OF) : 0u},
#define MROW(a, OP, N) EDGES_B(MENT_##OP, a, N)
#define MTABLE(name, OP, N) static const struct ment name[NPAIR] = {EDGES_A(MROW, OP, N)};
MTABLE(m_mul8, MUL, 8)
MTABLE(m_mul16, MUL, 16)
MTABLE(m_mul32, MUL, 32)
MTABLE(m_imul8, IMUL, 8)
MTABLE(m_imul16, IMUL, 16)
MTABLE(m_imul32, IMUL, 32)

typedef uint32_t (*mul_fn)(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout, uint32_t *hi);
#define DEF_MUL1(fn, ins, N)                                                                 \
  static uint32_t fn(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout, uint32_t *hi) {   \
    uint32_t x = a, d = 0xDEADBEEFu, f;                                                      \
    if (N == 8) {                                                                            \
      uint8_t y = (uint8_t)b;                                                                \
      __asm__ volatile(FLAGS_IN ins "b %[y]" FLAGS_OUT : "+a"(x), [fo] "=&r"(f) : [y] "q"(y), [fin] "r"(fin) : "cc"); \
      *hi = (x >> 8) & 0xFF;                                                                 \
      x &= 0xFF;                                                                             \
    } else if (N == 16) {                                                                    \
      uint16_t y = (uint16_t)b;                                                              \
      __asm__ volatile(FLAGS_IN ins "w %[y]" FLAGS_OUT : "+a"(x), "+d"(d), [fo] "=&r"(f) : [y] "r"(y), [fin] "r"(fin) : "cc"); \
      *hi = (d & 0xFFFF) | ((d & 0xFFFF0000u) == 0xDEAD0000u ? 0 : 0x10000); /* upper DX kept */ \
      x &= 0xFFFF;                                                                           \
    } else {                                                                                 \
      volatile uint32_t y = b;                                                               \
      __asm__ volatile(FLAGS_IN ins "l %[y]" FLAGS_OUT : "+a"(x), "=d"(d), [fo] "=&r"(f) : [y] "m"(y), [fin] "r"(fin) : "cc"); \
      *hi = d;                                                                               \
    }                                                                                        \
    *fout = f;                                                                               \
    return x;                                                                                \
  }
DEF_MUL1(mul1_8, "mul", 8)
DEF_MUL1(mul1_16, "mul", 16)
DEF_MUL1(mul1_32, "mul", 32)
DEF_MUL1(imul1_8, "imul", 8)
DEF_MUL1(imul1_16, "imul", 16)
DEF_MUL1(imul1_32, "imul", 32)
static uint32_t imul2_16(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout, uint32_t *hi) {
  uint16_t x = (uint16_t)a, y = (uint16_t)b;
  uint32_t f;
  __asm__ volatile(FLAGS_IN "imulw %[y], %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [y] "r"(y), [fin] "r"(fin) : "cc");
  *fout = f;
  *hi = 0;
  return x;
}
static uint32_t imul2_32(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout, uint32_t *hi) {
  uint32_t x = a, f;
  volatile uint32_t y = b;
  __asm__ volatile(FLAGS_IN "imull %[y], %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [y] "m"(y), [fin] "r"(fin) : "cc");
  *fout = f;
  *hi = 0;
  return x;
}

static void mul_run(const char *name, mul_fn fn, const struct ment *t, int check_hi) {
  for (int i = 0; i < NPAIR; i++) {
    uint32_t fo, hi, lo = fn(t[i].a, t[i].b, 0x8D7, &fo, &hi);
    check(name, t[i].a, t[i].b, lo, t[i].lo);
    if (check_hi) check(name, t[i].a, t[i].b, hi, t[i].hi);
    check(name, t[i].a, t[i].b, fo & (CF | OF), t[i].f);
  }
}

/* DIV/IDIV r/m32 cases: EDX:EAX / divisor, expectations folded at compile time. */
#define DIV32_CASES(X)                                                                       \
  X(0u, 100u, 7u) X(0u, 0xFFFFFFFFu, 1u) X(0u, 0xFFFFFFFFu, 0xFFFFFFFFu) X(1u, 0u, 2u)      \
  X(0xFFFFFFFEu, 0xFFFFFFFFu, 0xFFFFFFFFu) X(1u, 0u, 1u) X(0u, 5u, 0u)                       \
  X(0x12345678u, 0x9ABCDEF0u, 0x87654321u) X(0u, 100u, 0xFFFFFFF9u)                        \
  X(0xFFFFFFFFu, 0xFFFFFF9Cu, 7u) X(0xFFFFFFFFu, 0x80000000u, 0xFFFFFFFFu)                 \
  X(0xFFFFFFFFu, 0x80000000u, 1u) X(0u, 0x80000000u, 0xFFFFFFFFu) X(0u, 0x7FFFFFFFu, 0u)    \
  X(0x3FFFFFFFu, 0xFFFFFFFFu, 0x80000000u) X(0x40000000u, 0u, 0x80000000u)                 \
  X(0xC0000000u, 0u, 0x80000000u) X(0xBFFFFFFFu, 0xFFFFFFFFu, 0x80000000u)
struct dent {
  uint32_t hi, lo, d, uq, ur, ude, sq, sr, sde;
};
#define DN(hi, lo) (((uint64_t)(hi) << 32) | (lo))
#define DSN(hi, lo) ((int64_t)DN(hi, lo))
#define DSD(d) ((int64_t)(int32_t)(d))
#define DUQ(hi, lo, d) ((d) ? DN(hi, lo) / (d) : 0)
#define DSQ(hi, lo, d) ((d) ? DSN(hi, lo) / DSD(d) : 0)
#define DENT(hi, lo, d)                                                                      \
  {hi, lo, d, (uint32_t)DUQ(hi, lo, d), (uint32_t)((d) ? DN(hi, lo) % (d) : 0), (d) == 0 || DUQ(hi, lo, d) > 0xFFFFFFFFu, \
   (uint32_t)DSQ(hi, lo, d), (uint32_t)((d) ? DSN(hi, lo) % DSD(d) : 0),                   \
   (d) == 0 || DSQ(hi, lo, d) > 0x7FFFFFFF || DSQ(hi, lo, d) < -0x80000000ll},
static const struct dent div32_cases[] = {DIV32_CASES(DENT)};

/* Returns 1 when the instruction raised #DE (and checks the fault was precise: vector 0, EIP
 * of the DIV itself, EDX:EAX untouched). */
#define DEF_DIV(fn, ins, LOADS, TYPE, CONS)                                                  \
  static int fn(uint32_t *eax, uint32_t *edx, uint32_t d) {                                  \
    uint32_t a = *eax, dd = *edx, ip, before = trap_count;                                   \
    TYPE y = (TYPE)d;                                                                        \
    __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %[ip]\n0:\t" ins " %[y]\n\tmovl $0, trap_recover\n1:" \
                     : "+a"(a), "+d"(dd), [ip] "=&r"(ip)                                     \
                     : [y] CONS(y)                                                           \
                     : "cc", "memory");                                                      \
    if (trap_count != before) {                                                              \
      check(ins " #DE vector", *edx, *eax, trap_last_vector, 0);                             \
      check(ins " #DE eip", *edx, *eax, trap_last_eip, ip);                                  \
      check(ins " #DE regs kept", *edx, *eax, a ^ *eax ^ dd ^ *edx, 0);                      \
      return 1;                                                                              \
    }                                                                                        \
    *eax = a;                                                                                \
    *edx = dd;                                                                               \
    return 0;                                                                                \
  }
DEF_DIV(div_r32, "divl", , uint32_t, "r")
DEF_DIV(idiv_r32, "idivl", , uint32_t, "r")
DEF_DIV(div_r16, "divw", , uint16_t, "r")
DEF_DIV(idiv_r16, "idivw", , uint16_t, "r")
DEF_DIV(div_r8, "divb", , uint8_t, "q")
DEF_DIV(idiv_r8, "idivb", , uint8_t, "q")
static int div_m32(uint32_t *eax, uint32_t *edx, uint32_t d) {
  uint32_t a = *eax, dd = *edx, before = trap_count;
  volatile uint32_t y = d;
  __asm__ volatile("movl $1f, trap_recover\n\tdivl %[y]\n\tmovl $0, trap_recover\n1:" : "+a"(a), "+d"(dd) : [y] "m"(y) : "cc", "memory");
  if (trap_count != before) return 1;
  *eax = a;
  *edx = dd;
  return 0;
}

static void group_muldiv(void) {
  group_begin("muldiv");
  mul_run("mul8", mul1_8, m_mul8, 1);
  mul_run("mul16", mul1_16, m_mul16, 1);
  mul_run("mul32", mul1_32, m_mul32, 1);
  mul_run("imul8", imul1_8, m_imul8, 1);
  mul_run("imul16", imul1_16, m_imul16, 1);
  mul_run("imul32", imul1_32, m_imul32, 1);
  mul_run("imul16 r,r", imul2_16, m_imul16, 0);
  mul_run("imul32 r,m", imul2_32, m_imul32, 0);
  /* three-operand IMUL, imm8 and imm32 encodings (hand-computed) */
  {
    uint32_t r, f, s = 0x40000000u;
    __asm__ volatile(FLAGS_IN "imull $3, %[s], %[r]" FLAGS_OUT : [r] "=&r"(r), [fo] "=&r"(f) : [s] "r"(s), [fin] "r"(0x2u) : "cc");
    check("imul r,r,imm8", s, 3, r, 0xC0000000u);
    check("imul r,r,imm8 flags", s, 3, f & (CF | OF), CF | OF);
    s = 0xFFFFFFFFu;
    __asm__ volatile(FLAGS_IN "imull $-128, %[s], %[r]" FLAGS_OUT : [r] "=&r"(r), [fo] "=&r"(f) : [s] "r"(s), [fin] "r"(0x8D7u) : "cc");
    check("imul r,r,-128", s, 0, r, 128u);
    check("imul r,r,-128 flags", s, 0, f & (CF | OF), 0);
    s = 0x12345u;
    __asm__ volatile(FLAGS_IN "imull $100000, %[s], %[r]" FLAGS_OUT : [r] "=&r"(r), [fo] "=&r"(f) : [s] "r"(s), [fin] "r"(0x2u) : "cc");
    check("imul r,r,imm32", s, 100000, r, 0xBC712920u); /* 74565 * 100000 = 0x1BC712920 */
    check("imul r,r,imm32 flags", s, 100000, f & (CF | OF), CF | OF);
    uint16_t w = 0x00FF, wr;
    __asm__ volatile(FLAGS_IN "imulw $0x0101, %[s], %[r]" FLAGS_OUT : [r] "=&r"(wr), [fo] "=&r"(f) : [s] "r"(w), [fin] "r"(0x2u) : "cc");
    check("imul16 r,r,imm16", w, 0x101, wr, 0xFFFFu); /* 255 * 257 = 65535: -1 as int16, overflow */
    check("imul16 r,r,imm16 flags", w, 0x101, f & (CF | OF), CF | OF);
  }
  /* SDM hand cases for MUL/IMUL one operand */
  {
    uint32_t fo, hi, lo;
    lo = mul1_32(0xFFFFFFFFu, 0xFFFFFFFFu, 0x2, &fo, &hi);
    check("mul32 ffffffff^2 lo", 0, 0, lo, 1u);
    check("mul32 ffffffff^2 hi", 0, 0, hi, 0xFFFFFFFEu);
    lo = imul1_32(0xFFFFFFFFu, 0xFFFFFFFFu, 0x2, &fo, &hi);
    check("imul32 -1*-1", lo, hi, lo | hi, 1u);
    check("imul32 -1*-1 flags", 0, 0, fo & (CF | OF), 0);
    lo = imul1_8(0x80u, 0xFFu, 0x2, &fo, &hi); /* -128 * -1 = 128 = 0x0080 in AX */
    check("imul8 -128*-1", lo, hi, (hi << 8) | lo, 0x0080u);
    check("imul8 -128*-1 flags", 0, 0, fo & (CF | OF), CF | OF);
  }
  /* DIV/IDIV 32-bit from the compile-time table */
  for (unsigned i = 0; i < sizeof div32_cases / sizeof div32_cases[0]; i++) {
    const struct dent *t = &div32_cases[i];
    uint32_t eax = t->lo, edx = t->hi;
    int de = div_r32(&eax, &edx, t->d);
    check("div32 #DE", t->hi, t->lo, (uint32_t)de, t->ude);
    if (!de) {
      check("div32 q", t->hi, t->lo, eax, t->uq);
      check("div32 r", t->hi, t->lo, edx, t->ur);
    }
    eax = t->lo, edx = t->hi;
    de = div_m32(&eax, &edx, t->d);
    check("div32 m #DE", t->hi, t->lo, (uint32_t)de, t->ude);
    if (!de) check("div32 m q", t->hi, t->lo, eax, t->uq);
    eax = t->lo, edx = t->hi;
    de = idiv_r32(&eax, &edx, t->d);
    check("idiv32 #DE", t->hi, t->lo, (uint32_t)de, t->sde);
    if (!de) {
      check("idiv32 q", t->hi, t->lo, eax, t->sq);
      check("idiv32 r", t->hi, t->lo, edx, t->sr);
    }
  }
  /* DIV/IDIV 8 and 16-bit against C (32-bit arithmetic is enough there) */
  {
    static const uint32_t dividends[] = {0, 1, 100, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x12345678u, 0xFFFF8000u, 0x80000000u, 0x7FFFFFFFu};
    static const uint32_t divisors[] = {0, 1, 2, 3, 7, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF};
    for (unsigned i = 0; i < sizeof dividends / 4; i++)
      for (unsigned j = 0; j < sizeof divisors / 4; j++) {
        uint32_t n = dividends[i], d = divisors[j];
        /* 8-bit: AX / r8 -> AL quotient, AH remainder */
        {
          uint32_t ax = n & 0xFFFF, d8 = d & 0xFF, eax = 0xAB000000u | ax, edx = 0x5555u;
          int expde = d8 == 0 || ax / (d8 ? d8 : 1) > 0xFF;
          int de = div_r8(&eax, &edx, d8);
          check("div8 #DE", ax, d8, (uint32_t)de, (uint32_t)expde);
          if (!de && !expde) check("div8", ax, d8, eax, 0xAB000000u | ((ax % d8) << 8) | (ax / d8));
          int32_t sn = (int16_t)ax, sd = (int8_t)d8;
          int32_t sq = sd ? sn / sd : 0;
          expde = sd == 0 || sq > 127 || sq < -128;
          eax = 0xAB000000u | ax;
          de = idiv_r8(&eax, &edx, d8);
          check("idiv8 #DE", ax, d8, (uint32_t)de, (uint32_t)expde);
          if (!de && !expde) check("idiv8", ax, d8, eax, 0xAB000000u | (((uint32_t)(sn % sd) & 0xFF) << 8) | ((uint32_t)sq & 0xFF));
        }
        /* 16-bit: DX:AX / r16 -> AX quotient, DX remainder (upper halves kept) */
        {
          uint32_t d16 = d & 0xFFFF, eax = 0xAAAA0000u | (n & 0xFFFF), edx = 0xBBBB0000u | (n >> 16);
          uint32_t q = d16 ? n / d16 : 0;
          int expde = d16 == 0 || q > 0xFFFF;
          int de = div_r16(&eax, &edx, d16);
          check("div16 #DE", n, d16, (uint32_t)de, (uint32_t)expde);
          if (!de && !expde) {
            check("div16 q", n, d16, eax, 0xAAAA0000u | q);
            check("div16 r", n, d16, edx, 0xBBBB0000u | (n % d16));
          }
          int32_t sn = (int32_t)n, sd = (int16_t)d16;
          /* DX:AX = 0x80000000 / -1 must raise #DE, but QEMU 7.2 (the oracle) performs that
           * division on the host and dies of SIGFPE, so the case is left out. */
          int ovf = sd == -1 && sn == (int32_t)0x80000000u;
          if (ovf) continue;
          int32_t sq = sd && !ovf ? sn / sd : 0;
          expde = sd == 0 || ovf || sq > 32767 || sq < -32768;
          eax = 0xAAAA0000u | (n & 0xFFFF), edx = 0xBBBB0000u | (n >> 16);
          de = idiv_r16(&eax, &edx, d16);
          check("idiv16 #DE", n, d16, (uint32_t)de, (uint32_t)expde);
          if (!de && !expde) {
            check("idiv16 q", n, d16, eax, 0xAAAA0000u | ((uint32_t)sq & 0xFFFF));
            check("idiv16 r", n, d16, edx, 0xBBBB0000u | ((uint32_t)(sn % sd) & 0xFFFF));
          }
        }
      }
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* BT / BTS / BTR / BTC (register, immediate and memory forms), BSF / BSR, BSWAP.             */

enum { BT_BT, BT_BTS, BT_BTR, BT_BTC };

static uint32_t bt_reg(int op, int n, uint32_t a, uint32_t off, uint32_t fin, uint32_t *fout) {
  uint32_t f;
  if (n == 32) {
    switch (op) {
      case BT_BT: __asm__ volatile(FLAGS_IN "btl %[o], %[x]" FLAGS_OUT : [x] "+r"(a), [fo] "=&r"(f) : [o] "r"(off), [fin] "r"(fin) : "cc"); break;
      case BT_BTS: __asm__ volatile(FLAGS_IN "btsl %[o], %[x]" FLAGS_OUT : [x] "+r"(a), [fo] "=&r"(f) : [o] "r"(off), [fin] "r"(fin) : "cc"); break;
      case BT_BTR: __asm__ volatile(FLAGS_IN "btrl %[o], %[x]" FLAGS_OUT : [x] "+r"(a), [fo] "=&r"(f) : [o] "r"(off), [fin] "r"(fin) : "cc"); break;
      default: __asm__ volatile(FLAGS_IN "btcl %[o], %[x]" FLAGS_OUT : [x] "+r"(a), [fo] "=&r"(f) : [o] "r"(off), [fin] "r"(fin) : "cc"); break;
    }
  } else {
    uint16_t x = (uint16_t)a, o = (uint16_t)off;
    switch (op) {
      case BT_BT: __asm__ volatile(FLAGS_IN "btw %[o], %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [o] "r"(o), [fin] "r"(fin) : "cc"); break;
      case BT_BTS: __asm__ volatile(FLAGS_IN "btsw %[o], %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [o] "r"(o), [fin] "r"(fin) : "cc"); break;
      case BT_BTR: __asm__ volatile(FLAGS_IN "btrw %[o], %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [o] "r"(o), [fin] "r"(fin) : "cc"); break;
      default: __asm__ volatile(FLAGS_IN "btcw %[o], %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [o] "r"(o), [fin] "r"(fin) : "cc"); break;
    }
    a = x;
  }
  *fout = f;
  return a;
}

/* Memory forms with a register bit offset address outside the operand: the offset is signed
 * and selects the dword (word) at base + 4 * (offset >> 5) (base + 2 * (offset >> 4)). */
static uint32_t bt_mem(int op, int n, uint32_t *base, uint32_t off, uint32_t fin) {
  uint32_t f;
  if (n == 32) {
    switch (op) {
      case BT_BT: __asm__ volatile(FLAGS_IN "btl %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(off), [fin] "r"(fin) : "cc", "memory"); break;
      case BT_BTS: __asm__ volatile(FLAGS_IN "btsl %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(off), [fin] "r"(fin) : "cc", "memory"); break;
      case BT_BTR: __asm__ volatile(FLAGS_IN "btrl %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(off), [fin] "r"(fin) : "cc", "memory"); break;
      default: __asm__ volatile(FLAGS_IN "lock btcl %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(off), [fin] "r"(fin) : "cc", "memory"); break;
    }
  } else {
    uint16_t o = (uint16_t)off;
    switch (op) {
      case BT_BT: __asm__ volatile(FLAGS_IN "btw %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(o), [fin] "r"(fin) : "cc", "memory"); break;
      case BT_BTS: __asm__ volatile(FLAGS_IN "btsw %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(o), [fin] "r"(fin) : "cc", "memory"); break;
      case BT_BTR: __asm__ volatile(FLAGS_IN "btrw %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(o), [fin] "r"(fin) : "cc", "memory"); break;
      default: __asm__ volatile(FLAGS_IN "btcw %[o], (%[b])" FLAGS_OUT : [fo] "=&r"(f) : [b] "r"(base), [o] "r"(o), [fin] "r"(fin) : "cc", "memory"); break;
    }
  }
  return f;
}

static uint32_t bit_apply(int op, uint32_t v, uint32_t bit) {
  return op == BT_BTS ? v | bit : op == BT_BTR ? v & ~bit : op == BT_BTC ? v ^ bit : v;
}

static void group_bitops(void) {
  static const char *const names[4] = {"bt", "bts", "btr", "btc"};
  static const uint32_t vals[] = {0u, 0xFFFFFFFFu, 0x80000001u, 0x12345678u, 0x00008000u};
  static const uint32_t offs[] = {0, 1, 7, 15, 16, 31, 32, 33, 47, 63};
  static const int32_t moffs[] = {-32, -17, -1, 0, 5, 31, 32, 63, 64, 95};
  group_begin("bitops");
  for (int op = 0; op < 4; op++) {
    for (unsigned v = 0; v < sizeof vals / 4; v++)
      for (unsigned k = 0; k < sizeof offs / 4; k++)
        for (uint32_t fin = 0x002; fin <= 0x042; fin += 0x040) { /* ZF clear, then set: it must be kept */
          uint32_t fo, r;
          uint32_t bit = 1u << (offs[k] & 31);
          r = bt_reg(op, 32, vals[v], offs[k], fin, &fo);
          check(names[op], vals[v], offs[k], r, bit_apply(op, vals[v], bit));
          check(names[op], vals[v], offs[k], fo & (CF | ZF), ((vals[v] & bit) ? CF : 0) | (fin & ZF));
          bit = 1u << (offs[k] & 15);
          r = bt_reg(op, 16, vals[v], offs[k], fin, &fo);
          check(names[op], vals[v], offs[k] | 0x1600, r, bit_apply(op, vals[v] & 0xFFFF, bit));
          check(names[op], vals[v], offs[k] | 0x1600, fo & (CF | ZF), ((vals[v] & bit) ? CF : 0) | (fin & ZF));
        }
    for (unsigned k = 0; k < sizeof moffs / 4; k++)
      for (int n = 16; n <= 32; n += 16) {
        uint32_t buf[5] = {0x11111111u, 0x80000001u, 0xF0F0F0F0u, 0x12345678u, 0xFFFF0000u};
        uint32_t exp[5];
        memcpy(exp, buf, sizeof exp);
        int32_t off = moffs[k];
        uint32_t f;
        if (n == 32) {
          int idx = 1 + (off >> 5);
          uint32_t bit = 1u << (off & 31), old = exp[idx] & bit;
          exp[idx] = bit_apply(op, exp[idx], bit);
          f = bt_mem(op, 32, &buf[1], (uint32_t)off, 0x002);
          check(names[op], (uint32_t)off, 32, f & CF, old ? CF : 0);
        } else {
          uint16_t *w = (uint16_t *)exp;
          int idx = 2 + (off >> 4);
          uint16_t bit = (uint16_t)(1u << (off & 15)), old = w[idx] & bit;
          w[idx] = (uint16_t)bit_apply(op, w[idx], bit);
          f = bt_mem(op, 16, &buf[1], (uint32_t)off, 0x002);
          check(names[op], (uint32_t)off, 16, f & CF, old ? CF : 0);
        }
        for (int i = 0; i < 5; i++) check(names[op], (uint32_t)off, (uint32_t)n, buf[i], exp[i]);
      }
  }
  /* immediate forms: the immediate is taken modulo the operand size, also for memory operands */
  {
    uint32_t x = 0x00000008u, f;
    volatile uint32_t m[2] = {0x00000008u, 0xFFFFFFFFu};
    __asm__ volatile(FLAGS_IN "btl $3, %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [fin] "r"(0x2u) : "cc");
    check("bt r,imm", x, 3, f & CF, CF);
    __asm__ volatile(FLAGS_IN "btsl $35, %[x]" FLAGS_OUT : [x] "+m"(m[0]), [fo] "=&r"(f) : [fin] "r"(0x2u) : "cc", "memory");
    check("bts m,imm 35 -> bit 3 of same dword", m[0], m[1], f & CF, CF);
    check("bts m,imm 35 next dword untouched", m[0], m[1], m[1], 0xFFFFFFFFu);
    __asm__ volatile(FLAGS_IN "btrl $31, %[x]" FLAGS_OUT : [x] "+m"(m[1]), [fo] "=&r"(f) : [fin] "r"(0x2u) : "cc", "memory");
    check("btr m,imm 31", m[1], 31, m[1], 0x7FFFFFFFu);
    check("btr m,imm 31 CF", m[1], 31, f & CF, CF);
    __asm__ volatile(FLAGS_IN "btcl $0, %[x]" FLAGS_OUT : [x] "+r"(x), [fo] "=&r"(f) : [fin] "r"(0x3u) : "cc");
    check("btc r,imm 0", x, 0, x, 0x00000009u);
    check("btc r,imm 0 CF", x, 0, f & CF, 0);
    uint16_t w = 0x8000;
    __asm__ volatile(FLAGS_IN "btw $31, %[x]" FLAGS_OUT : [x] "+r"(w), [fo] "=&r"(f) : [fin] "r"(0x2u) : "cc");
    check("bt r16,imm 31 -> bit 15", w, 31, f & CF, CF);
  }
  /* BSF / BSR: ZF set and destination left alone (not checked: undefined) for a zero source */
  {
    static const uint32_t bvals[] = {0u, 1u, 2u, 0x80u, 0x8000u, 0x10000u, 0x80000000u, 0xFFFFFFFFu, 0x00F00F00u, 0x12345678u};
    for (unsigned i = 0; i < sizeof bvals / 4; i++) {
      uint32_t v = bvals[i], r = 0, f, lo = 0, hi = 0;
      for (int b = 31; b >= 0; b--) if (v & (1u << b)) lo = (uint32_t)b;
      for (int b = 0; b < 32; b++) if (v & (1u << b)) hi = (uint32_t)b;
      __asm__ volatile(FLAGS_IN "bsfl %[v], %[r]" FLAGS_OUT : [r] "+r"(r), [fo] "=&r"(f) : [v] "rm"(v), [fin] "r"(0x8D7u) : "cc");
      check("bsf32 ZF", v, 0, f & ZF, v ? 0 : ZF);
      if (v) check("bsf32", v, 0, r, lo);
      __asm__ volatile(FLAGS_IN "bsrl %[v], %[r]" FLAGS_OUT : [r] "+r"(r), [fo] "=&r"(f) : [v] "rm"(v), [fin] "r"(0x002u) : "cc");
      check("bsr32 ZF", v, 0, f & ZF, v ? 0 : ZF);
      if (v) check("bsr32", v, 0, r, hi);
      uint16_t w = (uint16_t)v, wr = 0;
      lo = hi = 0;
      for (int b = 15; b >= 0; b--) if (w & (1u << b)) lo = (uint32_t)b;
      for (int b = 0; b < 16; b++) if (w & (1u << b)) hi = (uint32_t)b;
      __asm__ volatile(FLAGS_IN "bsfw %[v], %[r]" FLAGS_OUT : [r] "+r"(wr), [fo] "=&r"(f) : [v] "r"(w), [fin] "r"(0x002u) : "cc");
      check("bsf16 ZF", w, 0, f & ZF, w ? 0 : ZF);
      if (w) check("bsf16", w, 0, wr, lo);
      __asm__ volatile(FLAGS_IN "bsrw %[v], %[r]" FLAGS_OUT : [r] "+r"(wr), [fo] "=&r"(f) : [v] "r"(w), [fin] "r"(0x002u) : "cc");
      check("bsr16 ZF", w, 0, f & ZF, w ? 0 : ZF);
      if (w) check("bsr16", w, 0, wr, hi);
    }
    uint32_t r = 0x11111111u, f, z = 0;
    __asm__ volatile(FLAGS_IN "bsfl %[v], %[r]" FLAGS_OUT : [r] "+r"(r), [fo] "=&r"(f) : [v] "r"(0x00010000u), [fin] "r"(0x8D7u) : "cc");
    check("bsf sdm", 0x10000, 0, r, 16);
    __asm__ volatile(FLAGS_IN "bsrl %[v], %[r]" FLAGS_OUT : [r] "+r"(r), [fo] "=&r"(f) : [v] "r"(z), [fin] "r"(0x002u) : "cc");
    check("bsr sdm zero src ZF", 0, 0, f & ZF, ZF);
  }
  /* BSWAP (hand constants: a C byte swap would itself compile to BSWAP) */
  {
    static const uint32_t in[4] = {0x12345678u, 0x000000FFu, 0x80000001u, 0xDEADBEEFu};
    static const uint32_t out[4] = {0x78563412u, 0xFF000000u, 0x01000080u, 0xEFBEADDEu};
    for (int i = 0; i < 4; i++) {
      uint32_t x = in[i];
      __asm__ volatile("bswap %0" : "+r"(x));
      check("bswap", in[i], 0, x, out[i]);
      uint32_t y = in[i];
      __asm__ volatile("bswap %0" : "+a"(y));
      check("bswap eax", in[i], 0, y, out[i]);
    }
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* XADD and CMPXCHG (register and memory destinations, with and without LOCK).               */

#define DEF_XADD(fn, T, ins, DCONS)                                                          \
  static uint32_t fn(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout, uint32_t *src) {  \
    T x = (T)a, y = (T)b;                                                                    \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %[y], %[x]" FLAGS_OUT : [x] DCONS(x), [y] "+q"(y), [fo] "=&r"(f) : [fin] "r"(fin) : "cc", "memory"); \
    *fout = f;                                                                               \
    *src = y;                                                                                \
    return x;                                                                                \
  }
DEF_XADD(xadd_r8, uint8_t, "xaddb", "+q")
DEF_XADD(xadd_r16, uint16_t, "xaddw", "+q")
DEF_XADD(xadd_r32, uint32_t, "xaddl", "+q")
DEF_XADD(xadd_m8, uint8_t, "lock xaddb", "+m")
DEF_XADD(xadd_m16, uint16_t, "xaddw", "+m")
DEF_XADD(xadd_m32, uint32_t, "lock xaddl", "+m")

/* CMPXCHG dest, src: compares the accumulator with dest. */
#define DEF_CMPXCHG(fn, T, ins, DCONS)                                                       \
  static uint32_t fn(uint32_t acc, uint32_t d, uint32_t s, uint32_t fin, uint32_t *fout, uint32_t *accout) { \
    T x = (T)d, y = (T)s, a = (T)acc;                                                        \
    uint32_t f;                                                                              \
    __asm__ volatile(FLAGS_IN ins " %[y], %[x]" FLAGS_OUT : [x] DCONS(x), "+a"(a), [fo] "=&r"(f) : [y] "q"(y), [fin] "r"(fin) : "cc", "memory"); \
    *fout = f;                                                                               \
    *accout = a;                                                                             \
    return x;                                                                                \
  }
DEF_CMPXCHG(cx_r8, uint8_t, "cmpxchgb", "+q")
DEF_CMPXCHG(cx_r16, uint16_t, "cmpxchgw", "+r")
DEF_CMPXCHG(cx_r32, uint32_t, "cmpxchgl", "+r")
DEF_CMPXCHG(cx_m8, uint8_t, "lock cmpxchgb", "+m")
DEF_CMPXCHG(cx_m16, uint16_t, "cmpxchgw", "+m")
DEF_CMPXCHG(cx_m32, uint32_t, "lock cmpxchgl", "+m")

static void group_xadd_cmpxchg(void) {
  typedef uint32_t (*xadd_fn)(uint32_t, uint32_t, uint32_t, uint32_t *, uint32_t *);
  typedef uint32_t (*cx_fn)(uint32_t, uint32_t, uint32_t, uint32_t, uint32_t *, uint32_t *);
  static const xadd_fn xf[6] = {xadd_r8, xadd_r16, xadd_r32, xadd_m8, xadd_m16, xadd_m32};
  static const cx_fn cf[6] = {cx_r8, cx_r16, cx_r32, cx_m8, cx_m16, cx_m32};
  static const struct ent *const addt[3] = {t_add8, t_add16, t_add32};
  static const struct ent *const subt[3] = {t_sub8, t_sub16, t_sub32};
  static const uint32_t smask[3] = {0xFFu, 0xFFFFu, 0xFFFFFFFFu};
  group_begin("xadd-cmpxchg");
  for (int k = 0; k < 6; k++) {
    const struct ent *t = addt[k % 3];
    for (int i = 0; i < NPAIR; i++) {
      uint32_t fo, src, r = xf[k](t[i].a, t[i].b, 0x8D7, &fo, &src);
      check("xadd dest", t[i].a, t[i].b, r, t[i].r);
      check("xadd src", t[i].a, t[i].b, src, t[i].a);
      check("xadd flags", t[i].a, t[i].b, fo & ARITH, t[i].f);
    }
    t = subt[k % 3];
    for (int i = 0; i < NPAIR; i++) {
      uint32_t fo, acc, s = 0x5AC3A55Au & smask[k % 3];
      uint32_t r = cf[k](t[i].a, t[i].b, s, 0x002, &fo, &acc);
      int eq = t[i].a == t[i].b;
      check("cmpxchg dest", t[i].a, t[i].b, r, eq ? s : t[i].b);
      check("cmpxchg acc", t[i].a, t[i].b, acc, eq ? t[i].a : t[i].b);
      check("cmpxchg flags", t[i].a, t[i].b, fo & ARITH, t[i].f);
    }
  }
  /* SDM: on success ZF=1 and the destination takes the source; on failure EAX takes dest */
  {
    uint32_t fo, acc, r = cx_m32(7, 7, 9, 0x2, &fo, &acc);
    check("cmpxchg equal", r, acc, (r << 8) | acc | (fo & ZF), (9u << 8) | 7u | ZF);
    r = cx_r32(7, 8, 9, 0x2, &fo, &acc);
    check("cmpxchg differ", r, acc, (r << 8) | acc | (fo & ZF), (8u << 8) | 8u);
    uint32_t src;
    r = xadd_m32(0xFFFFFFFFu, 1, 0x2, &fo, &src);
    check("xadd wrap", r, src, r | src | (fo & ARITH), 0xFFFFFFFFu | 0x055u);
  }
  /* LOCK-prefixed read-modify-write arithmetic on memory */
  {
    volatile uint32_t m = 41;
    __asm__ volatile("lock incl %0" : "+m"(m) : : "cc", "memory");
    __asm__ volatile("lock addl $100, %0" : "+m"(m) : : "cc", "memory");
    __asm__ volatile("lock orl $0x80000000, %0" : "+m"(m) : : "cc", "memory");
    __asm__ volatile("lock decl %0" : "+m"(m) : : "cc", "memory");
    check("lock inc/add/or/dec", 0, 0, m, 0x80000000u + 141u);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Condition codes: SETcc (register and memory), CMOVcc (32-bit register, 16-bit memory) and  */
/* Jcc (rel8 and rel32) for all 16 conditions over all 32 combinations of OF SF ZF PF CF.    */

#define CCS(X) X(o, 0) X(no, 1) X(b, 2) X(ae, 3) X(e, 4) X(ne, 5) X(be, 6) X(a, 7) X(s, 8) X(ns, 9) \
  X(p, 10) X(np, 11) X(l, 12) X(ge, 13) X(le, 14) X(g, 15)

/* Returns a 5-bit vector: setcc reg, setcc mem, cmovcc r32, cmovcc r16<-m16, jcc short/near. */
#define DEF_CC(cc, idx)                                                                      \
  static uint32_t cc_##cc(uint32_t fin) {                                                    \
    uint8_t s1;                                                                              \
    volatile uint8_t s2 = 0x55;                                                              \
    uint32_t c32 = 0, one = 1;                                                               \
    uint16_t c16 = 0x1234;                                                                   \
    volatile uint16_t m16 = 0x0001;                                                          \
    uint32_t js = 0, jn = 0;                                                                 \
    __asm__ volatile("pushl %[fin]\n\tpopfl\n\t"                                             \
                     "set" #cc " %[s1]\n\t"                                                  \
                     "set" #cc " %[s2]\n\t"                                                  \
                     "cmov" #cc "l %[one], %[c32]\n\t"                                       \
                     "cmov" #cc "w %[m16], %w[c16]\n\t"                                      \
                     "j" #cc " 1f\n\t"                                                       \
                     "jmp 2f\n"                                                              \
                     "1:\tmovl $1, %[js]\n"                                                  \
                     "2:\tj" #cc " 3f\n\t"                                                   \
                     ".fill 160, 1, 0x90\n\t"                                                \
                     "jmp 4f\n"                                                              \
                     "3:\tmovl $1, %[jn]\n"                                                  \
                     "4:"                                                                    \
                     : [s1] "=q"(s1), [s2] "+m"(s2), [c32] "+r"(c32), [c16] "+r"(c16), [js] "+r"(js), [jn] "+r"(jn) \
                     : [fin] "r"(fin), [one] "r"(one), [m16] "m"(m16)                        \
                     : "cc", "memory");                                                      \
    return (uint32_t)(s1 == 1) | ((uint32_t)(s2 == 1) << 1) | (c32 << 2) | ((uint32_t)(c16 == 1) << 3) | \
           ((js & jn) << 4) | ((uint32_t)((s1 > 1) || (s2 > 1) || (c16 != 1 && c16 != 0x1234) || (js != jn)) << 5); \
  }
CCS(DEF_CC)
#define CC_FN(cc, idx) cc_##cc,
static uint32_t (*const cc_fns[16])(uint32_t) = {CCS(CC_FN)};

static int cond_model(int cc, uint32_t f) {
  int cf = !!(f & CF), zf = !!(f & ZF), sf = !!(f & SF), of = !!(f & OF), pf = !!(f & PF), r;
  switch (cc >> 1) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf | zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    default: r = zf | (sf != of); break;
  }
  return (cc & 1) ? !r : r;
}

static uint32_t cc_bitmap(uint32_t fin) {
  uint32_t m = 0;
  for (int cc = 0; cc < 16; cc++) if (cc_fns[cc](fin) & 1) m |= 1u << cc;
  return m;
}

static void group_cond(void) {
  static const uint32_t bits[5] = {CF, PF, ZF, SF, OF};
  group_begin("setcc-cmovcc-jcc");
  for (uint32_t combo = 0; combo < 32; combo++) {
    uint32_t fin = 0x002;
    for (int b = 0; b < 5; b++) if (combo & (1u << b)) fin |= bits[b];
    for (int cc = 0; cc < 16; cc++) {
      uint32_t v = cc_fns[cc](fin);
      uint32_t want = cond_model(cc, fin) ? 0x1F : 0;
      check("cc", (uint32_t)cc, fin, v, want);
    }
  }
  /* Hand-derived truth tables (bit n = condition n: o no b ae e ne be a s ns p np l ge le g) */
  check("cc none", 0, 0x002, cc_bitmap(0x002), 0xAAAAu);
  check("cc all", 0, 0x8C7, cc_bitmap(0x8C7), 0x6555u);
  check("cc SF", 0, 0x082, cc_bitmap(0x082), 0x59AAu);
  check("cc OF SF", 0, 0x882, cc_bitmap(0x882), 0xA9A9u);
  check("cc CF", 0, 0x003, cc_bitmap(0x003), 0xAA66u);
  /* A compare and its signed/unsigned branches, as gcc emits them */
  {
    uint32_t r = 0;
    __asm__ volatile("cmpl $1, %[a]\n\t"
                     "jb 1f\n\t" "leal 1(%[r]), %[r]\n" /* LEA: leaves the flags alone */
                     "1:\tjl 2f\n\t" "leal 2(%[r]), %[r]\n"
                     "2:\tja 3f\n\t" "leal 4(%[r]), %[r]\n"
                     "3:\tjg 4f\n\t" "leal 8(%[r]), %[r]\n"
                     "4:"
                     : [r] "+r"(r) : [a] "r"(0xFFFFFFFFu) : "cc");
    /* -1 vs 1: unsigned above (not below), signed less (not greater) */
    check("cmp branches", 0xFFFFFFFFu, 1, r, 0x1 | 0x8);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* String instructions: MOVS STOS LODS CMPS SCAS, 8/16/32, REP/REPE/REPNE, DF=0 and DF=1.     */

static uint8_t sbuf[256] __attribute__((aligned(4)));
static uint8_t dbuf[256] __attribute__((aligned(4)));

static void fill_pattern(uint8_t *p, unsigned n, uint8_t seed) {
  for (unsigned i = 0; i < n; i++) p[i] = (uint8_t)(seed + i * 7);
}

static void group_string(void) {
  group_begin("string");
  static const unsigned sizes[3] = {1, 2, 4};
  for (int s = 0; s < 3; s++) {
    unsigned sz = sizes[s], n = 13;
    /* REP MOVS forward and backward */
    for (int dir = 0; dir < 2; dir++) {
      fill_pattern(sbuf, 256, 0x11);
      memset(dbuf, 0xEE, 256);
      uint32_t si, di, c = n;
      uint8_t *src = sbuf + 16, *dst = dbuf + 16;
      si = (uint32_t)(dir ? src + (n - 1) * sz : src);
      di = (uint32_t)(dir ? dst + (n - 1) * sz : dst);
      uint32_t si0 = si, di0 = di;
      if (sz == 1) __asm__ volatile("cmpl $0, %3\n\tje 1f\n\tstd\n1:\trep movsb\n\tcld" : "+S"(si), "+D"(di), "+c"(c) : "r"(dir) : "cc", "memory");
      else if (sz == 2) __asm__ volatile("cmpl $0, %3\n\tje 1f\n\tstd\n1:\trep movsw\n\tcld" : "+S"(si), "+D"(di), "+c"(c) : "r"(dir) : "cc", "memory");
      else __asm__ volatile("cmpl $0, %3\n\tje 1f\n\tstd\n1:\trep movsl\n\tcld" : "+S"(si), "+D"(di), "+c"(c) : "r"(dir) : "cc", "memory");
      check("rep movs data", sz, dir, (uint32_t)memcmp(dst, src, n * sz), 0);
      check("rep movs guard lo", sz, dir, dst[-1], 0xEE);
      check("rep movs guard hi", sz, dir, dst[n * sz], 0xEE);
      check("rep movs esi", sz, dir, si, dir ? si0 - n * sz : si0 + n * sz);
      check("rep movs edi", sz, dir, di, dir ? di0 - n * sz : di0 + n * sz);
      check("rep movs ecx", sz, dir, c, 0);
    }
    /* REP STOS forward and backward */
    for (int dir = 0; dir < 2; dir++) {
      memset(dbuf, 0xEE, 256);
      uint32_t di, c = n, v = 0xA1B2C3D4u;
      uint8_t *dst = dbuf + 32;
      di = (uint32_t)(dir ? dst + (n - 1) * sz : dst);
      uint32_t di0 = di;
      if (sz == 1) __asm__ volatile("cmpl $0, %3\n\tje 1f\n\tstd\n1:\trep stosb\n\tcld" : "+D"(di), "+c"(c) : "a"(v), "r"(dir) : "cc", "memory");
      else if (sz == 2) __asm__ volatile("cmpl $0, %3\n\tje 1f\n\tstd\n1:\trep stosw\n\tcld" : "+D"(di), "+c"(c) : "a"(v), "r"(dir) : "cc", "memory");
      else __asm__ volatile("cmpl $0, %3\n\tje 1f\n\tstd\n1:\trep stosl\n\tcld" : "+D"(di), "+c"(c) : "a"(v), "r"(dir) : "cc", "memory");
      int bad = 0;
      for (unsigned i = 0; i < n * sz; i++) if (dst[i] != (uint8_t)(v >> (8 * (i % sz)))) bad++;
      check("rep stos data", sz, dir, (uint32_t)bad, 0);
      check("rep stos guards", sz, dir, (uint32_t)dst[-1] | ((uint32_t)dst[n * sz] << 8), 0xEEEEu);
      check("rep stos edi", sz, dir, di, dir ? di0 - n * sz : di0 + n * sz);
      check("rep stos ecx", sz, dir, c, 0);
    }
    /* LODS, both directions; the rest of EAX is kept for 8/16-bit */
    for (int dir = 0; dir < 2; dir++) {
      fill_pattern(sbuf, 256, 0x40);
      uint32_t si = (uint32_t)(sbuf + 8), si0 = si, a = 0x99999999u;
      if (sz == 1) __asm__ volatile("cmpl $0, %2\n\tje 1f\n\tstd\n1:\tlodsb\n\tcld" : "+S"(si), "+a"(a) : "r"(dir) : "cc", "memory");
      else if (sz == 2) __asm__ volatile("cmpl $0, %2\n\tje 1f\n\tstd\n1:\tlodsw\n\tcld" : "+S"(si), "+a"(a) : "r"(dir) : "cc", "memory");
      else __asm__ volatile("cmpl $0, %2\n\tje 1f\n\tstd\n1:\tlodsl\n\tcld" : "+S"(si), "+a"(a) : "r"(dir) : "cc", "memory");
      uint32_t want = 0;
      memcpy(&want, sbuf + 8, sz);
      if (sz < 4) want |= 0x99999999u & ~((1u << (8 * sz)) - 1);
      check("lods value", sz, dir, a, want);
      check("lods esi", sz, dir, si, dir ? si0 - sz : si0 + sz);
    }
    /* REPE CMPS: equal prefix of k elements, first difference at k */
    for (unsigned k = 0; k <= n; k++) {
      fill_pattern(sbuf, 256, 0x21);
      memcpy(dbuf, sbuf, 256);
      if (k < n) dbuf[k * sz + sz - 1] ^= 0x80; /* differ in the top byte of element k */
      uint32_t si = (uint32_t)sbuf, di = (uint32_t)dbuf, c = n, f;
      if (sz == 1) __asm__ volatile("repe cmpsb\n\tpushfl\n\tpopl %3" : "+S"(si), "+D"(di), "+c"(c), "=r"(f) : : "cc", "memory");
      else if (sz == 2) __asm__ volatile("repe cmpsw\n\tpushfl\n\tpopl %3" : "+S"(si), "+D"(di), "+c"(c), "=r"(f) : : "cc", "memory");
      else __asm__ volatile("repe cmpsl\n\tpushfl\n\tpopl %3" : "+S"(si), "+D"(di), "+c"(c), "=r"(f) : : "cc", "memory");
      unsigned stop = k < n ? k + 1 : n;
      check("repe cmps ecx", sz, k, c, n - stop);
      check("repe cmps esi", sz, k, si, (uint32_t)sbuf + stop * sz);
      check("repe cmps edi", sz, k, di, (uint32_t)dbuf + stop * sz);
      check("repe cmps ZF", sz, k, f & ZF, k < n ? 0 : ZF);
      if (k < n) {
        /* flags are those of CMP src_elem, dst_elem; top bit of dst flipped */
        uint32_t x = 0, y = 0;
        memcpy(&x, sbuf + k * sz, sz);
        memcpy(&y, dbuf + k * sz, sz);
        uint32_t cfw = x < y ? CF : 0;
        check("repe cmps CF", x, y, f & CF, cfw);
      }
    }
    /* REPNE SCAS: find an element at index k (or not at all) */
    for (unsigned k = 0; k <= n; k++) {
      for (unsigned i = 0; i < n * sz; i++) dbuf[i] = (uint8_t)(0x30 + i);
      uint32_t v = 0xA5A5A5A5u;
      if (k < n) memcpy(dbuf + k * sz, &v, sz);
      uint32_t di = (uint32_t)dbuf, c = n, f;
      if (sz == 1) __asm__ volatile("repne scasb\n\tpushfl\n\tpopl %2" : "+D"(di), "+c"(c), "=r"(f) : "a"(v) : "cc", "memory");
      else if (sz == 2) __asm__ volatile("repne scasw\n\tpushfl\n\tpopl %2" : "+D"(di), "+c"(c), "=r"(f) : "a"(v) : "cc", "memory");
      else __asm__ volatile("repne scasl\n\tpushfl\n\tpopl %2" : "+D"(di), "+c"(c), "=r"(f) : "a"(v) : "cc", "memory");
      unsigned stop = k < n ? k + 1 : n;
      check("repne scas ecx", sz, k, c, n - stop);
      check("repne scas edi", sz, k, di, (uint32_t)dbuf + stop * sz);
      check("repne scas ZF", sz, k, f & ZF, k < n ? ZF : 0);
    }
  }
  /* strlen the way gcc's inline expansion does it: repne scasb with ECX = -1 */
  {
    static const char str[] = "shadowvisor";
    uint32_t di = (uint32_t)str, c = 0xFFFFFFFFu;
    __asm__ volatile("repne scasb" : "+D"(di), "+c"(c) : "a"(0) : "cc", "memory");
    check("strlen via scasb", 0, 0, ~c - 1, 11);
  }
  /* REP with ECX = 0 does nothing, not even to the flags */
  {
    uint32_t si = (uint32_t)sbuf, di = (uint32_t)dbuf, c = 0, f;
    dbuf[0] = 0x5A;
    sbuf[0] = 0xA5;
    __asm__ volatile("pushl $0x8D7\n\tpopfl\n\trep movsb\n\trepe cmpsb\n\tpushfl\n\tpopl %3" : "+S"(si), "+D"(di), "+c"(c), "=r"(f) : : "cc", "memory");
    check("rep ecx=0", si, di, (si - (uint32_t)sbuf) | (di - (uint32_t)dbuf) | dbuf[0], 0x5A);
    check("rep ecx=0 flags", 0, 0, f & ARITH, 0x8D5);
  }
  /* single CMPS/SCAS flags, hand-derived */
  {
    uint32_t si = (uint32_t)sbuf, di = (uint32_t)dbuf, f;
    sbuf[0] = 0x00;
    dbuf[0] = 0x01;
    __asm__ volatile("cmpsb\n\tpushfl\n\tpopl %2" : "+S"(si), "+D"(di), "=r"(f) : : "cc", "memory");
    check("cmpsb 0-1", 0, 1, f & ARITH, 0x095);
    di = (uint32_t)dbuf;
    memcpy(dbuf, "\x00\x00\x00\x80", 4);
    __asm__ volatile("scasl\n\tpushfl\n\tpopl %1" : "+D"(di), "=r"(f) : "a"(0u) : "cc", "memory");
    check("scasl 0-80000000", 0, 0x80000000u, f & ARITH, 0x885);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* MOVZX / MOVSX / CBW / CWDE / CWD / CDQ / XCHG / flag instructions.                        */

static void group_movx(void) {
  group_begin("movx-xchg-flags");
  for (int i = 0; i < NEDGE; i++) {
    uint32_t v = t_add32[i * NEDGE].a, r;
    volatile uint8_t mb = (uint8_t)v;
    volatile uint16_t mw = (uint16_t)v;
    __asm__ volatile("movzbl %b1, %0" : "=r"(r) : "q"(v));
    check("movzbl", v, 0, r, v & 0xFF);
    __asm__ volatile("movsbl %b1, %0" : "=r"(r) : "q"(v));
    check("movsbl", v, 0, r, (v & 0x80) ? (v | 0xFFFFFF00u) : (v & 0xFF));
    __asm__ volatile("movzwl %w1, %0" : "=r"(r) : "r"(v));
    check("movzwl", v, 0, r, v & 0xFFFF);
    __asm__ volatile("movswl %1, %0" : "=r"(r) : "m"(mw));
    check("movswl m", v, 0, r, (v & 0x8000) ? (v | 0xFFFF0000u) : (v & 0xFFFF));
    __asm__ volatile("movzbl %1, %0" : "=r"(r) : "m"(mb));
    check("movzbl m", v, 0, r, v & 0xFF);
    r = 0xABCD0000u;
    __asm__ volatile("movsbw %b1, %w0" : "+r"(r) : "q"(v));
    check("movsbw keeps upper", v, 0, r, 0xABCD0000u | ((v & 0x80) ? (0xFF00u | (v & 0xFF)) : (v & 0xFF)));
    r = 0xABCD0000u;
    __asm__ volatile("movzbw %b1, %w0" : "+r"(r) : "q"(v));
    check("movzbw keeps upper", v, 0, r, 0xABCD0000u | (v & 0xFF));
  }
  {
    uint32_t a = 0x12345680u, d = 0x55555555u;
    __asm__ volatile("cbtw" : "+a"(a));
    check("cbw", 0x80, 0, a, 0x1234FF80u);
    a = 0x00008000u;
    __asm__ volatile("cwtl" : "+a"(a));
    check("cwde", 0x8000, 0, a, 0xFFFF8000u);
    a = 0x00008000u;
    __asm__ volatile("cwtd" : "+a"(a), "+d"(d));
    check("cwd", 0x8000, 0, d, 0x5555FFFFu);
    a = 0x80000000u;
    __asm__ volatile("cltd" : "+a"(a), "=d"(d));
    check("cdq neg", a, 0, d, 0xFFFFFFFFu);
    a = 0x7FFFFFFFu;
    __asm__ volatile("cltd" : "+a"(a), "=d"(d));
    check("cdq pos", a, 0, d, 0);
  }
  {
    uint32_t x = 0x11111111u, y = 0x22222222u;
    volatile uint32_t m = 0x33333333u;
    __asm__ volatile("xchgl %0, %1" : "+r"(x), "+r"(y));
    check("xchg r,r", x, y, x ^ 0x22222222u ^ y ^ 0x11111111u, 0);
    __asm__ volatile("xchgl %0, %1" : "+r"(x), "+m"(m) : : "memory");
    check("xchg r,m", x, m, x ^ 0x33333333u ^ m ^ 0x22222222u, 0);
    uint32_t a = 0xAAAA1111u, c = 0xCCCC2222u;
    __asm__ volatile("xchgw %w0, %w1" : "+a"(a), "+c"(c));
    check("xchg ax,cx", a, c, a ^ 0xAAAA2222u ^ c ^ 0xCCCC1111u, 0);
    __asm__ volatile("xchgb %b0, %b1" : "+a"(a), "+c"(c));
    check("xchg al,cl", a, c, a ^ 0xAAAA2211u ^ c ^ 0xCCCC1122u, 0);
    __asm__ volatile("xchgl %%eax, %%ecx" : "+a"(a), "+c"(c)); /* the one-byte 0x91 form */
    check("xchg eax,ecx", a, c, a ^ 0xCCCC1122u, 0);
  }
  {
    uint32_t f;
    __asm__ volatile("pushl $0x2\n\tpopfl\n\tstc\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
    check("stc", 0, 0, f & ARITH, CF);
    __asm__ volatile("pushl $0x8D7\n\tpopfl\n\tclc\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
    check("clc", 0, 0, f & ARITH, 0x8D4);
    __asm__ volatile("pushl $0x2\n\tpopfl\n\tcmc\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
    check("cmc", 0, 0, f & ARITH, CF);
    __asm__ volatile("std\n\tpushfl\n\tpopl %0\n\tcld" : "=r"(f) : : "cc");
    check("std", 0, 0, f & DF, DF);
    __asm__ volatile("cld\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
    check("cld", 0, 0, f & DF, 0);
    __asm__ volatile("pushl $0xCD7\n\tpopfl\n\tpushfl\n\tpopl %0\n\tcld" : "=r"(f) : : "cc");
    check("popf/pushf", 0, 0, f & 0xFFF, 0xCD7);
    __asm__ volatile("pushl $0x8028\n\tpopfl\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
    check("popf reserved bits", 0, 0, f & 0xFFFF, 0x0002); /* bit 1 reads 1; bits 3, 5, 15 read 0 */
    uint32_t a = 0x0000D500u;
    __asm__ volatile("pushl $0x2\n\tpopfl\n\tsahf\n\tpushfl\n\tpopl %0" : "=r"(f) : "a"(a) : "cc");
    check("sahf", a, 0, f & ARITH, 0x0D5);
    __asm__ volatile("pushl $0x8D7\n\tpopfl\n\tmovl $0, %%eax\n\tlahf" : "=a"(a) : : "cc");
    check("lahf", 0, 0, a, 0xD700u);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Stack, control flow and addressing (the assembly half in cputest-asm.S).                   */

extern uint32_t asm_out[64];
extern uint32_t asm_memval;
void asm_pushad(void);
void asm_push_forms(void);
void asm_enter_leave(void);
void asm_calls(void);
void asm_loops(void);
void asm_modrm(void);

static void expect_out(const char *what, const uint32_t *want, int n) {
  for (int i = 0; i < n; i++) check(what, (uint32_t)i, 0, asm_out[i], want[i]);
}

static void group_stack_flow(void) {
  group_begin("stack-flow");
  memset(asm_out, 0, sizeof asm_out);
  asm_pushad();
  {
    uint32_t sp = asm_out[8];
    const uint32_t want[17] = {0xD1D1D1D1u, 0x5E5E5E5Eu, 0xB5B5B5B5u, sp - 0, 0xB3B3B3B3u, 0xD2D2D2D2u, 0xC1C1C1C1u, 0xA0A0A0A0u,
                               sp, 0xA0A0A0A0u, 0xC1C1C1C1u, 0xD2D2D2D2u, 0xB3B3B3B3u, 0xB5B5B5B5u, 0x5E5E5E5Eu, 0xD1D1D1D1u, sp};
    expect_out("pushad/popad", want, 17);
  }
  memset(asm_out, 0, sizeof asm_out);
  asm_push_forms();
  {
    const uint32_t want[11] = {0xFFFFFFFFu, 0x12345678u, 0xCAFEBABEu, 0xCAFEBABEu, 10, 0x1234, 0xFFFF1234u, 0, 0x10, 0x10, 8};
    expect_out("push/pop forms", want, 11);
  }
  memset(asm_out, 0, sizeof asm_out);
  asm_enter_leave();
  {
    const uint32_t want[5] = {4, 16, 0, 0, 0};
    expect_out("enter/leave", want, 5);
  }
  memset(asm_out, 0, sizeof asm_out);
  asm_calls();
  {
    const uint32_t want[11] = {0, 2, 0x1D1D, 0x1D1D, 0, 0x22, 0x08, 0, 0, 7, 0x08};
    expect_out("call/ret/jmp/far", want, 11);
  }
  memset(asm_out, 0, sizeof asm_out);
  asm_loops();
  {
    const uint32_t want[7] = {5, 0, 3, 7, 9, 0, 0x600D};
    expect_out("loop/jecxz", want, 7);
  }
  memset(asm_out, 0, sizeof asm_out);
  asm_modrm();
  {
    const uint32_t want[24] = {0x1010, 0xFFC, 0x12346678u, 0x1080, 0x1108, 0x140, 0x3000, 0x80000FFFu,
                               0x40000, 0x40024, 0x40020, 0x1234, 4, 2, 0x600, 0x31F,
                               0x12345678u, 0x1010, 0x180, 0xCAFEBABEu, 0x111111CAu, 0x77771234u, 0xCAFEBABEu, 0x34CAFEBAu};
    expect_out("modrm/sib/moffs", want, 24);
  }
  /* a switch statement gcc compiles to a jump table, and calls through a function-pointer array */
  {
    uint32_t acc = 0;
    for (volatile uint32_t i = 0; i < 12; i++) {
      switch (i) {
        case 0: acc += 3; break;
        case 1: acc ^= 0x55; break;
        case 2: acc *= 7; break;
        case 3: acc -= 1; break;
        case 4: acc <<= 2; break;
        case 5: acc |= 0x1000; break;
        case 6: acc += 0x77; break;
        case 7: acc ^= acc >> 3; break;
        case 8: acc += 8; break;
        default: acc += i; break;
      }
    }
    /* 3 -> 0x56 -> 0x25A -> 0x259 -> 0x964 -> 0x1964 -> 0x19DB -> 0x19DB^0x33B=0x1AE0 -> 0x1AE8 -> +9+10+11 */
    check("switch jump table", 0, 0, acc, 0x1B06u);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Exceptions and software interrupts: #UD, #BP, INT n, #GP on a bad selector.               */

static volatile uint32_t int40_seen, int40_eip, int40_cs, int40_eflags;

static void int40_handler(struct trapframe *tf) {
  int40_seen++;
  int40_eip = tf->eip;
  int40_cs = tf->cs;
  int40_eflags = tf->eflags;
  tf->eax = tf->eax * 2 + 1; /* the handler's register changes reach the interrupted code */
}

static void group_exceptions(void) {
  group_begin("exceptions");
  uint32_t before, ip;
  /* #UD: UD2 and UD0 fault with EIP at the instruction */
  before = trap_count;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %0\n0:\tud2\n\tmovl $0, trap_recover\n1:" : "=&r"(ip) : : "memory");
  check("ud2 taken", 0, 0, trap_count - before, 1);
  check("ud2 vector", 0, 0, trap_last_vector, 6);
  check("ud2 eip", 0, 0, trap_last_eip, ip);
  before = trap_count;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %0\n0:\t.byte 0x0f, 0xff, 0xc0\n\tmovl $0, trap_recover\n1:" : "=&r"(ip) : : "memory");
  check("ud0 vector", 0, 0, (trap_count - before) | (trap_last_vector << 8), 1 | (6 << 8));
  /* LOCK only on a read-modify-write of memory by a lockable instruction; #UD elsewhere */
  {
    static const struct { const char *what; uint32_t want; } lk[] = {
      {"lock add reg", 6}, {"lock nop", 6}, {"lock inc reg", 6}, {"lock add mem", 0}, {"lock xadd mem", 0}};
    static volatile uint32_t m = 5;
    for (uint32_t k = 0; k < 5; k++) {
      uint32_t got, a = 1;
      before = trap_count;
      trap_last_vector = 0;
      switch (k) {
        case 0: __asm__ volatile("movl $1f, trap_recover\n\t.byte 0xf0, 0x01, 0xc8\n\tmovl $0, trap_recover\n1:" : "+a"(a) : : "ecx", "cc", "memory"); break;
        case 1: __asm__ volatile("movl $1f, trap_recover\n\t.byte 0xf0, 0x90\n\tmovl $0, trap_recover\n1:" : : : "memory"); break;
        case 2: __asm__ volatile("movl $1f, trap_recover\n\t.byte 0xf0, 0x40\n\tmovl $0, trap_recover\n1:" : "+a"(a) : : "cc", "memory"); break;
        case 3: __asm__ volatile("movl $1f, trap_recover\n\tlock addl %0, %1\n\tmovl $0, trap_recover\n1:" : "+r"(a), "+m"(m) : : "cc", "memory"); break;
        default: __asm__ volatile("movl $1f, trap_recover\n\tlock xaddl %0, %1\n\tmovl $0, trap_recover\n1:" : "+r"(a), "+m"(m) : : "cc", "memory"); break;
      }
      got = (trap_count - before) ? trap_last_vector : 0;
      check(lk[k].what, k, 0, got, lk[k].want);
    }
    check("lock mem results", 0, 0, m, 7);
  }
  /* #BP: a trap, EIP after the INT3 */
  before = trap_count;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %0\n\tint3\n0:\tmovl $0, trap_recover\n1:" : "=&r"(ip) : : "memory");
  check("int3 vector", 0, 0, (trap_count - before) | (trap_last_vector << 8), 1 | (3 << 8));
  check("int3 eip after", 0, 0, trap_last_eip, ip);
  /* INT n through an interrupt gate: return address, CS, IF cleared, handler's EAX returned */
  trap_set_handler(0x40, int40_handler);
  {
    uint32_t a = 20, f;
    __asm__ volatile("pushl $0x8D7\n\tpopfl\n\tint $0x40\n0:\tpushfl\n\tpopl %1\n\tmovl $0b, %2" : "+a"(a), "=r"(f), "=r"(ip) : : "cc", "memory");
    check("int 0x40 delivered", 0, 0, int40_seen, 1);
    check("int 0x40 eip", 0, 0, int40_eip, ip);
    check("int 0x40 cs", 0, 0, int40_cs, KERNEL_CS);
    check("int 0x40 saved eflags", 0, 0, int40_eflags & 0xFFF, 0x8D7);
    check("int 0x40 eax", 0, 0, a, 41);
    check("iret restores flags", 0, 0, f & 0xFFF, 0x8D7);
  }
  trap_set_handler(0x40, 0);
  /* #GP(selector): loading DS with a selector past the GDT limit */
  before = trap_count;
  __asm__ volatile("movl $1f, trap_recover\n\tmovw $0x1238, %%ax\n\tmovw %%ax, %%ds\n\tmovl $0, trap_recover\n1:\tmovw $0x10, %%ax\n\tmovw %%ax, %%ds"
                   : : : "eax", "memory");
  check("#GP bad selector", 0, 0, (trap_count - before) | (trap_last_vector << 8), 1 | (13 << 8));
  check("#GP error code", 0, 0, trap_last_err, 0x1238);
  /* #DE through the IDT was checked in muldiv; check one more time with a memory operand */
  {
    uint32_t a = 1, d = 0;
    before = trap_count;
    int de = div_m32(&a, &d, 0);
    check("#DE m32", 0, 0, (uint32_t)de | ((trap_count - before) << 4) | (trap_last_vector << 8), 0x11);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Single-step: with EFLAGS.TF set, a #DB trap follows each instruction that began with TF set,  */
/* with EIP after it and DR6.BS set; not a POPF that sets TF, not an INT n (its gate clears TF). */
/* A REP string instruction traps after each iteration, EIP still on it until the last. The     */
/* trace of EIPs is printed, so the parity test holds it to QEMU byte for byte.                  */

static volatile uint32_t ss_count, ss_eip[32], ss_tf_saved, ss_dr6;

static void db_handler(struct trapframe *tf) {
  if (ss_count < 32) ss_eip[ss_count] = tf->eip;
  ss_count++;
  ss_tf_saved |= tf->eflags & 0x100;
  uint32_t d;
  __asm__ volatile("mov %%dr6, %0" : "=r"(d));
  ss_dr6 = d;
}

extern char ss_start[];

static void group_single_step(void) {
  group_begin("single-step");
  static uint8_t src[4] = {1, 2, 3, 4}, dst[4];
  uint32_t a = 5;
  uint8_t *sp = src, *dp = dst;
  ss_count = 0;
  int40_seen = 0;
  __asm__ volatile("mov %0, %%dr6" : : "r"(0u));
  trap_set_handler(1, db_handler);
  trap_set_handler(0x40, int40_handler);
  __asm__ volatile("movl $3, %%ecx\n\t"
                   "cld\n\t"
                   "pushfl\n\t"
                   "orl $0x100, (%%esp)\n\t"
                   "popfl\n" /* sets TF: no trap after it */
                   "ss_start: nop\n\t"
                   "movw %%ss, %%dx\n\t"
                   "movw %%dx, %%ss\n\t" /* MOV SS */
                   "nop\n\t"
                   "addl $7, %%eax\n"
                   "ss_rep: rep movsb\n\t" /* three iterations */
                   "int $0x40\n"            /* the handler runs with TF clear */
                   "ss_after_int: pushfl\n\t"
                   "andl $~0x100, (%%esp)\n\t"
                   "popfl\n" /* clears TF: traced, as TF was set when it began */
                   "ss_end: nop\n\t"
                   "nop"
                   : "+a"(a), "+S"(sp), "+D"(dp)
                   :
                   : "ecx", "edx", "memory", "cc");
  trap_set_handler(1, 0);
  trap_set_handler(0x40, 0);
  printf("  single-step: %u traps:", ss_count);
  for (uint32_t k = 0; k < ss_count && k < 32; k++) printf(" %x", ss_eip[k] - (uint32_t)ss_start);
  printf(" dr6.bs=%x tf-saved=%x int40=%u\n", (ss_dr6 >> 14) & 1, ss_tf_saved >> 8, int40_seen);
  /* EIPs from ss_start, by the instruction lengths: after NOP 1, MOV DX,SS 4, none after MOV SS
   * (8E D2 ends at 7) but one after the NOP that follows it at 7, ADD a, REP MOVSB a a c,
   * none after INT 0x40, PUSHF f, AND 16, the POPF that clears TF 17. */
  static const uint32_t want[] = {1, 4, 7, 0xa, 0xa, 0xa, 0xc, 0xf, 0x16, 0x17};
  check("single-step traps", 0, 0, ss_count, 10);
  for (uint32_t k = 0; k < 10; k++) check("single-step eip", k, 0, ss_eip[k] - (uint32_t)ss_start, want[k]);
  check("dr6.bs and saved tf", 0, 0, ((ss_dr6 >> 14) & 1) | (ss_tf_saved >> 7), 3);
  check("rep movsb copied", 0, 0, dst[0] | (dst[1] << 8) | (dst[2] << 16), 0x030201u);
  check("int 0x40 ran once", 0, 0, int40_seen, 1);
  check("eax through the handler", 0, 0, a, (5 + 7) * 2 + 1);
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* System state: descriptor-table registers, control registers, segment registers, CPUID,     */
/* RDTSC and port I/O.                                                                         */

/* The vector and error code of the trap the asm between trap_recover and its label raised, as
 * (vector << 16) | error, or 0xffff when it ran without one. */
#define SYS_TRAP(asm_text, ...)                                                                   \
  ({                                                                                              \
    uint32_t before_ = trap_count;                                                                \
    __asm__ volatile("movl $1f, trap_recover\n\t" asm_text "\n\tmovl $0, trap_recover\n1:" __VA_ARGS__); \
    trap_count != before_ ? (trap_last_vector << 16) | (trap_last_err & 0xffff) : 0xffffu;        \
  })

static uint64_t ltr_gdt[8] __attribute__((aligned(8)));

/* LTR's checks, in the SDM's order: a descriptor that is not an available 32-bit TSS
 * #GP(selector), then one not present #NP(selector). (A null selector is #GP(0) here, as the SDM
 * says; QEMU loads it as an unusable TR, so cputest leaves it out.) And MOV CRn: CR1 and
 * CR5-CR7 are #UD either way. (CR0 with PG set and PE clear is #GP(0) here, as the SDM says;
 * QEMU 7.2 turns paging on, so test/cpu checks that one.) DR4 and DR5: DR6 and DR7 unless
 * CR4.DE, then #UD. Each LTR case faults: TR stays. */
static void system_refusals(void) {
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } old = {0, 0}, g;
  __asm__ volatile("sgdt %0" : "=m"(old));
  const uint64_t *cur = (const uint64_t *)(uintptr_t)old.base;
  for (int k = 0; k < 6; k++) ltr_gdt[k] = cur[k];
  /* the loaded TSS's descriptor as an available TSS (type 9) with P clear, at selector 0x30 */
  ltr_gdt[6] = (ltr_gdt[5] & ~((uint64_t)0x8f << 40)) | ((uint64_t)0x09 << 40);
  ltr_gdt[7] = ltr_gdt[5] & ~((uint64_t)0x80 << 40); /* the busy TSS (type 11), not present */
  g.limit = sizeof ltr_gdt - 1;
  g.base = (uint32_t)ltr_gdt;
  __asm__ volatile("lgdt %0" : : "m"(g) : "memory");
  uint32_t nd = SYS_TRAP("ltr %w0", : : "r"(KERNEL_DS) : "memory");
  uint32_t nb = SYS_TRAP("ltr %w0", : : "r"(TSS_SEL) : "memory"); /* busy: not available */
  uint32_t np = SYS_TRAP("ltr %w0", : : "r"(0x30) : "memory");
  uint32_t nbp = SYS_TRAP("ltr %w0", : : "r"(0x38) : "memory"); /* busy and not present: the type first */
  __asm__ volatile("lgdt %0" : : "m"(old) : "memory");
  check("ltr data segment", 0, 0, nd, (13u << 16) | KERNEL_DS);
  check("ltr busy tss", 0, 0, nb, (13u << 16) | TSS_SEL);
  check("ltr tss not present", 0, 0, np, (11u << 16) | 0x30);
  check("ltr busy, not present", 0, 0, nbp, (13u << 16) | 0x38);
  check("mov eax, cr1", 0, 0, SYS_TRAP(".byte 0x0f, 0x20, 0xc8", : : : "eax", "memory"), 6u << 16);
  check("mov cr5, eax", 0, 0, SYS_TRAP("xorl %%eax, %%eax\n\t.byte 0x0f, 0x22, 0xe8", : : : "eax", "memory"), 6u << 16);
  check("mov eax, cr7", 0, 0, SYS_TRAP(".byte 0x0f, 0x20, 0xf8", : : : "eax", "memory"), 6u << 16);
  /* DR4 and DR5 alias DR6 and DR7 unless CR4.DE makes them #UD */
  uint32_t cr4 = read_cr4(), dr6 = 0;
  check("mov eax, dr4 (alias of dr6)", 0, 0, SYS_TRAP("movl %%dr4, %%eax\n\tmovl %%eax, %0", : "=m"(dr6) : : "eax", "memory"), 0xffffu);
  write_cr4(cr4 | 8);
  check("mov eax, dr4 under CR4.DE", 0, 0, SYS_TRAP("movl %%dr4, %%eax", : : : "eax", "memory"), 6u << 16);
  check("mov dr5, eax under CR4.DE", 0, 0, SYS_TRAP("xorl %%eax, %%eax\n\tmovl %%eax, %%dr5", : : : "eax", "memory"), 6u << 16);
  write_cr4(cr4);
  check("dr4 read dr6's fixed bits", 0, 0, dr6 & 0xffff0ff0u, 0xffff0ff0u);
}

static void group_system(void) {
  group_begin("system");
  system_refusals();
  {
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } g = {0, 0}, i = {0, 0};
    __asm__ volatile("sgdt %0\n\tsidt %1" : "=m"(g), "=m"(i));
    check("sgdt limit", 0, 0, g.limit, 47);
    check("sgdt base nonzero", 0, 0, g.base != 0, 1);
    check("sidt limit", 0, 0, i.limit, 2047);
  }
  {
    uint32_t cr0 = read_cr0();
    check("cr0.PE", cr0, 0, cr0 & 1, 1);
    check("cr0.PG off", cr0, 0, cr0 >> 31, 0);
    uint32_t cr4 = read_cr4();
    write_cr4(cr4 | 0x10);
    check("cr4.PSE set", cr4, 0, read_cr4() & 0x10, 0x10);
    write_cr4(cr4 & ~0x10u);
    check("cr4.PSE clear", cr4, 0, read_cr4() & 0x10, 0);
    uint32_t v = 0xC0FFEE00u, r;
    __asm__ volatile("movl %1, %%cr2\n\tmovl %%cr2, %0" : "=r"(r) : "r"(v));
    check("cr2 write/read", v, 0, r, v);
  }
  {
    uint32_t cs = 0, ds = 0, ss = 0, fs = 0;
    __asm__ volatile("movw %%cs, %w0\n\tmovw %%ds, %w1\n\tmovw %%ss, %w2" : "+r"(cs), "+r"(ds), "+r"(ss));
    check("cs", 0, 0, cs & 0xFFFF, KERNEL_CS);
    check("ds", 0, 0, ds & 0xFFFF, KERNEL_DS);
    check("ss", 0, 0, ss & 0xFFFF, KERNEL_DS);
    __asm__ volatile("movw %w1, %%fs\n\tmovw %%fs, %w0\n\tmovw %w2, %%fs" : "+r"(fs) : "r"(USER_DS), "r"(KERNEL_DS));
    check("fs <- user data", 0, 0, fs & 0xFFFF, USER_DS);
  }
  {
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0));
    check("cpuid max leaf", a, 0, a >= 1, 1);
    uint32_t printable = 1;
    uint32_t w[3] = {b, d, c};
    for (int k = 0; k < 3; k++)
      for (int j = 0; j < 4; j++) {
        uint8_t ch = (uint8_t)(w[k] >> (8 * j));
        if (ch < 0x20 || ch > 0x7E) printable = 0;
      }
    check("cpuid vendor printable", b, d, printable, 1);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    check("cpuid.1 cpu index 0", a, b, b >> 24, 0);
  }
  {
    uint64_t t0 = rdtsc(), t1, t2;
    volatile uint32_t sink = 0;
    for (int i = 0; i < 1000; i++) sink += (uint32_t)i;
    t1 = rdtsc();
    for (int i = 0; i < 1000; i++) sink += (uint32_t)i;
    t2 = rdtsc();
    check("rdtsc increases", 0, 0, t1 > t0, 1);
    check("rdtsc increases again", 0, 0, t2 > t1, 1);
  }
  {
    /* the PIC's interrupt mask register reads back what OCW1 wrote: IN/OUT imm8 and DX forms */
    outb(0x21, 0xA5);
    check("in al,imm8", 0, 0, inb(0x21), 0xA5);
    uint32_t v;
    __asm__ volatile("movw $0xA1, %%dx\n\tmovb $0x3C, %%al\n\toutb %%al, %%dx\n\tmovl $0x12345600, %%eax\n\tinb %%dx, %%al" : "=a"(v) : : "edx");
    check("in al,dx keeps upper eax", 0, 0, v, 0x1234563Cu);
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* SHLD / SHRD (count in CL and immediate, 16 and 32 bits).                                    */

/* SDM pseudocode, bit by bit. 16-bit counts above 16 are undefined and are not tested. */
static uint32_t ref_shxd(int right, int n, uint32_t d, uint32_t s, uint32_t cnt, uint32_t fin, uint32_t *fexp, uint32_t *fmask) {
  uint32_t mask = n == 32 ? 0xFFFFFFFFu : 0xFFFFu, top = 1u << (n - 1), c = cnt & 31, cf = 0;
  d &= mask;
  s &= mask;
  *fexp = fin;
  *fmask = ARITH;
  if (c == 0) return d;
  uint32_t r = d;
  for (uint32_t i = 0; i < c; i++) {
    if (right) {
      cf = r & 1;
      r = (r >> 1) | ((s & 1) ? top : 0);
      s = (s >> 1) | (cf ? top : 0); /* only the low bits of s ever enter r for c <= n */
    } else {
      cf = (r & top) ? 1 : 0;
      r = ((r << 1) | ((s & top) ? 1 : 0)) & mask;
      s = (s << 1) & mask;
    }
  }
  uint32_t of = ((r ^ d) & top) ? 1 : 0; /* sign change, defined for a count of 1 */
  *fexp = (r == 0 ? ZF : 0) | ((r & top) ? SF : 0) | PAR(r) | (cf ? CF : 0) | (of ? OF : 0);
  *fmask = CF | ZF | SF | PF | (c == 1 ? OF : 0);
  return r;
}

#define SHXD_CL(ins, T, d, s, cnt, fi_, fo_)                                                  \
  ({ T _x = (T)(d), _y = (T)(s); uint32_t _f;                                                \
     __asm__ volatile(FLAGS_IN ins " %%cl, %[y], %[x]" FLAGS_OUT : [x] "+r"(_x), [fo] "=&r"(_f) : [y] "r"(_y), "c"(cnt), [fin] "r"(fi_) : "cc"); \
     (fo_) = _f; (uint32_t)_x; })
#define SHXD_I(ins, T, k, d, s, fi_, fo_)                                                     \
  ({ T _x = (T)(d), _y = (T)(s); uint32_t _f;                                                \
     __asm__ volatile(FLAGS_IN ins " $" #k ", %[y], %[x]" FLAGS_OUT : [x] "+r"(_x), [fo] "=&r"(_f) : [y] "r"(_y), [fin] "r"(fi_) : "cc"); \
     (fo_) = _f; (uint32_t)_x; })

static void group_shxd(void) {
  static const uint32_t dv[] = {0u, 1u, 0x80000000u, 0xFFFFFFFFu, 0x12345678u, 0x8001u, 0x7FFFFFFFu};
  static const uint32_t sv[] = {0u, 0xFFFFFFFFu, 0x9ABCDEF0u, 0x00008000u};
  static const uint32_t cnts[] = {0, 1, 2, 4, 8, 15, 16, 17, 31, 32, 33};
  group_begin("shld-shrd");
  for (unsigned i = 0; i < sizeof dv / 4; i++)
    for (unsigned j = 0; j < sizeof sv / 4; j++)
      for (unsigned k = 0; k < sizeof cnts / 4; k++)
        for (uint32_t fin = 0x002; fin <= 0x8D7; fin += 0x8D5) {
          uint32_t c = cnts[k], fo, fexp, fmask, exp, r;
          exp = ref_shxd(0, 32, dv[i], sv[j], c, fin, &fexp, &fmask);
          r = SHXD_CL("shldl", uint32_t, dv[i], sv[j], c, fin, fo);
          check("shld32", dv[i], sv[j] ^ c, r, exp);
          check("shld32 flags", dv[i], sv[j] ^ c, fo & fmask, fexp & fmask);
          exp = ref_shxd(1, 32, dv[i], sv[j], c, fin, &fexp, &fmask);
          r = SHXD_CL("shrdl", uint32_t, dv[i], sv[j], c, fin, fo);
          check("shrd32", dv[i], sv[j] ^ c, r, exp);
          check("shrd32 flags", dv[i], sv[j] ^ c, fo & fmask, fexp & fmask);
          if ((c & 31) > 16) continue;
          exp = ref_shxd(0, 16, dv[i], sv[j], c, fin, &fexp, &fmask);
          r = SHXD_CL("shldw", uint16_t, dv[i], sv[j], c, fin, fo);
          check("shld16", dv[i], sv[j] ^ c, r, exp);
          check("shld16 flags", dv[i], sv[j] ^ c, fo & fmask, fexp & fmask);
          exp = ref_shxd(1, 16, dv[i], sv[j], c, fin, &fexp, &fmask);
          r = SHXD_CL("shrdw", uint16_t, dv[i], sv[j], c, fin, fo);
          check("shrd16", dv[i], sv[j] ^ c, r, exp);
          check("shrd16 flags", dv[i], sv[j] ^ c, fo & fmask, fexp & fmask);
        }
  /* immediate counts and hand-derived SDM cases */
  {
    uint32_t fo, r;
    r = SHXD_I("shldl", uint32_t, 4, 0x12345678u, 0x9ABCDEF0u, 0x2u, fo);
    check("shld imm 4", 0, 0, r, 0x23456789u);
    check("shld imm 4 flags", 0, 0, fo & (CF | ZF | SF | PF), 0x001);
    r = SHXD_I("shrdl", uint32_t, 8, 0x12345678u, 0x9ABCDEF0u, 0x2u, fo);
    check("shrd imm 8", 0, 0, r, 0xF0123456u);
    check("shrd imm 8 flags", 0, 0, fo & (CF | ZF | SF | PF), 0x084);
    r = SHXD_I("shldl", uint32_t, 1, 0x40000000u, 0u, 0x2u, fo);
    check("shld imm 1 OF", 0, 0, r, 0x80000000u);
    check("shld imm 1 OF flags", 0, 0, fo & (CF | ZF | SF | PF | OF), 0x884);
    r = SHXD_I("shrdl", uint32_t, 31, 0x80000000u, 1u, 0x2u, fo);
    check("shrd imm 31", 0, 0, r, 0x00000003u);
    check("shrd imm 31 CF", 0, 0, fo & CF, 0);
    r = SHXD_I("shldw", uint16_t, 16, 0xAAAAu, 0x5555u, 0x2u, fo);
    check("shld16 imm 16", 0, 0, r, 0x5555u);
    check("shld16 imm 16 CF", 0, 0, fo & CF, 0);
    r = SHXD_I("shrdw", uint16_t, 3, 0x000Fu, 0x0001u, 0x2u, fo);
    check("shrd16 imm 3", 0, 0, r, 0x2001u);
    check("shrd16 imm 3 CF", 0, 0, fo & CF, CF);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* 64-bit arithmetic as gcc compiles it for i386 (ADD/ADC, SUB/SBB, MUL/IMUL sums, SHLD/SHRD  */
/* with a count test and CMOV, 64-bit compares); expectations are folded by gcc at compile time */
/* from the same C expressions on constants.                                                   */

static volatile uint64_t v64[8] = {0x0000000000000000ull, 0x00000000FFFFFFFFull, 0x0000000100000000ull, 0x7FFFFFFFFFFFFFFFull,
                                   0x8000000000000000ull, 0xFFFFFFFFFFFFFFFFull, 0x123456789ABCDEF0ull, 0xFEDCBA9876543210ull};
static volatile uint32_t vshift[6] = {0, 1, 31, 32, 33, 63};

#define C64(e0, e1, e2, e3, e4, e5, e6, e7) {e0, e1, e2, e3, e4, e5, e6, e7}
#define OVER_I(EXPR) C64(EXPR(0), EXPR(1), EXPR(2), EXPR(3), EXPR(4), EXPR(5), EXPR(6), EXPR(7))
#define V(i) ((i) == 0 ? 0x0000000000000000ull : (i) == 1 ? 0x00000000FFFFFFFFull : (i) == 2 ? 0x0000000100000000ull : \
              (i) == 3 ? 0x7FFFFFFFFFFFFFFFull : (i) == 4 ? 0x8000000000000000ull : (i) == 5 ? 0xFFFFFFFFFFFFFFFFull : \
              (i) == 6 ? 0x123456789ABCDEF0ull : 0xFEDCBA9876543210ull)
#define ADD_NEXT(i) (V(i) + V((i + 3) & 7))
#define SUB_NEXT(i) (V(i) - V((i + 5) & 7))
#define MUL_NEXT(i) (V(i) * V((i + 6) & 7))
#define SMUL_NEXT(i) ((uint64_t)((int64_t)(int32_t)(uint32_t)V(i) * (int64_t)(int32_t)(uint32_t)(V((i + 1) & 7) >> 7)))
#define LT_NEXT(i) ((uint64_t)((int64_t)V(i) < (int64_t)V((i + 2) & 7)) | ((uint64_t)(V(i) < V((i + 2) & 7)) << 1))
static const uint64_t e_add[8] = OVER_I(ADD_NEXT), e_sub[8] = OVER_I(SUB_NEXT), e_mul[8] = OVER_I(MUL_NEXT);
static const uint64_t e_smul[8] = OVER_I(SMUL_NEXT), e_lt[8] = OVER_I(LT_NEXT);
#define SHL_S(i, k) (V(i) << ((k) == 0 ? 0 : (k) == 1 ? 1 : (k) == 2 ? 31 : (k) == 3 ? 32 : (k) == 4 ? 33 : 63))
#define SHR_S(i, k) (V(i) >> ((k) == 0 ? 0 : (k) == 1 ? 1 : (k) == 2 ? 31 : (k) == 3 ? 32 : (k) == 4 ? 33 : 63))
#define SAR_S(i, k) ((uint64_t)((int64_t)V(i) >> ((k) == 0 ? 0 : (k) == 1 ? 1 : (k) == 2 ? 31 : (k) == 3 ? 32 : (k) == 4 ? 33 : 63)))
#define ROW6(M, i) {M(i, 0), M(i, 1), M(i, 2), M(i, 3), M(i, 4), M(i, 5)}
#define TAB6(M) {ROW6(M, 0), ROW6(M, 1), ROW6(M, 2), ROW6(M, 3), ROW6(M, 4), ROW6(M, 5), ROW6(M, 6), ROW6(M, 7)}
static const uint64_t e_shl[8][6] = TAB6(SHL_S), e_shr[8][6] = TAB6(SHR_S), e_sar[8][6] = TAB6(SAR_S);

static void check64(const char *what, uint32_t i, uint64_t got, uint64_t exp) {
  check(what, i, 0, (uint32_t)got, (uint32_t)exp);
  check(what, i, 1, (uint32_t)(got >> 32), (uint32_t)(exp >> 32));
}

static void group_arith64(void) {
  group_begin("arith64");
  for (uint32_t i = 0; i < 8; i++) {
    check64("add64", i, v64[i] + v64[(i + 3) & 7], e_add[i]);
    check64("sub64", i, v64[i] - v64[(i + 5) & 7], e_sub[i]);
    check64("mul64", i, v64[i] * v64[(i + 6) & 7], e_mul[i]);
    check64("imul32x32", i, (uint64_t)((int64_t)(int32_t)(uint32_t)v64[i] * (int64_t)(int32_t)(uint32_t)(v64[(i + 1) & 7] >> 7)), e_smul[i]);
    check64("cmp64", i, (uint64_t)((int64_t)v64[i] < (int64_t)v64[(i + 2) & 7]) | ((uint64_t)(v64[i] < v64[(i + 2) & 7]) << 1), e_lt[i]);
    for (uint32_t k = 0; k < 6; k++) {
      check64("shl64", i * 8 + k, v64[i] << vshift[k], e_shl[i][k]);
      check64("shr64", i * 8 + k, v64[i] >> vshift[k], e_shr[i][k]);
      check64("sar64", i * 8 + k, (uint64_t)((int64_t)v64[i] >> vshift[k]), e_sar[i][k]);
    }
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Decimal adjusts (DAA DAS AAA AAS AAM AAD): gcc never emits them, hand-written BCD code does.  */
/* Every AL with every CF/AF against the SDM's pseudocode, on the flags the SDM defines; the     */
/* printed hash covers every flag, so the parity test holds the undefined ones to QEMU's.        */

#define BCD_FLAGS(insn, ax, fin, f)                                                            \
  __asm__ volatile("pushl %2\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl %1" : "+a"(ax), "=&r"(f) : "r"(fin) : "cc")

static uint32_t bcd_szp(uint32_t al) {
  uint32_t ones = 0;
  for (uint32_t b = al; b; b >>= 1) ones += b & 1;
  return (al & 0x80 ? SF : 0) | (al == 0 ? ZF : 0) | (ones & 1 ? 0 : PF);
}

static void group_bcd(void) {
  group_begin("bcd");
  uint32_t hash = 2166136261u;
  for (uint32_t k = 0; k < 4 * 256 * 4; k++) {
    uint32_t op = k >> 10, al = (k >> 2) & 0xFF, cf = k & 1, af = (k >> 1) & 1;
    uint32_t ah = (al * 7 + 3) & 0xFF;
    uint32_t ax = 0xABCD0000u | (ah << 8) | al, fin = 0x2 | (cf ? CF : 0) | (af ? AF : 0) | (k & 4 ? OF | SF : ZF | PF), f;
    uint32_t want, wantf, mask;
    switch (op) {
      case 0: { /* DAA */
        BCD_FLAGS("daa", ax, fin, f);
        uint32_t r = al, c = 0, a = 0;
        if ((al & 0xF) > 9 || af) { r = (r + 6) & 0xFF; a = 1; }
        if (al > 0x99 || cf) { r = (r + 0x60) & 0xFF; c = 1; }
        want = (ah << 8) | r; wantf = (c ? CF : 0) | (a ? AF : 0) | bcd_szp(r); mask = CF | AF | SF | ZF | PF;
        break;
      }
      case 1: { /* DAS */
        BCD_FLAGS("das", ax, fin, f);
        uint32_t r = al, c = 0, a = 0;
        if ((al & 0xF) > 9 || af) { c = cf || al < 6; r = (r - 6) & 0xFF; a = 1; }
        if (al > 0x99 || cf) { r = (r - 0x60) & 0xFF; c = 1; }
        want = (ah << 8) | r; wantf = (c ? CF : 0) | (a ? AF : 0) | bcd_szp(r); mask = CF | AF | SF | ZF | PF;
        break;
      }
      case 2: { /* AAA: AX += 0x106 */
        BCD_FLAGS("aaa", ax, fin, f);
        uint32_t x = (ah << 8) | al, adj = (al & 0xF) > 9 || af;
        if (adj) x = (x + 0x106) & 0xFFFF;
        want = (x & 0xFF00) | (x & 0xF); wantf = adj ? CF | AF : 0; mask = CF | AF;
        break;
      }
      default: { /* AAS: AX -= 6, AH -= 1 */
        BCD_FLAGS("aas", ax, fin, f);
        uint32_t x = (ah << 8) | al, adj = (al & 0xF) > 9 || af;
        if (adj) x = (x - 6 - 0x100) & 0xFFFF;
        want = (x & 0xFF00) | (x & 0xF); wantf = adj ? CF | AF : 0; mask = CF | AF;
        break;
      }
    }
    check("adjust ax", k, ax, ax, 0xABCD0000u | want);
    check("adjust flags", k, ax, f & mask, wantf);
    hash = (hash ^ (ax & 0xFFFF) ^ ((f & 0x8D5) << 16)) * 16777619u;
  }
  /* AAM ib / AAD ib for every AL at a few bases (their flags: SF ZF PF of the new AL) */
#define AAMD(b)                                                                                \
  do {                                                                                         \
    uint32_t ax = 0x12340000u | (((al * 13) & 0xFF) << 8) | al, f, r;                        \
    BCD_FLAGS(".byte 0xd4, " #b, ax, fin, f);                                                  \
    check("aam " #b, al, ax, ax, 0x12340000u | ((al / b) << 8) | (al % b));                    \
    check("aam flags", al, ax, f & (SF | ZF | PF), bcd_szp(al % b));                           \
    hash = (hash ^ (ax & 0xFFFF) ^ ((f & 0x8D5) << 16)) * 16777619u;                           \
    ax = 0x12340000u | (((al * 13) & 0xFF) << 8) | al;                                         \
    r = (((al * 13) & 0xFF) * b + al) & 0xFF;                                                  \
    BCD_FLAGS(".byte 0xd5, " #b, ax, fin, f);                                                  \
    check("aad " #b, al, ax, ax, 0x12340000u | r);                                             \
    check("aad flags", al, ax, f & (SF | ZF | PF), bcd_szp(r));                                \
    hash = (hash ^ (ax & 0xFFFF) ^ ((f & 0x8D5) << 16)) * 16777619u;                           \
  } while (0)
  for (uint32_t al = 0; al < 256; al++) {
    uint32_t fin = 0x2 | (al & 1 ? CF | AF | OF : 0);
    AAMD(10);
    AAMD(16);
    AAMD(7);
    AAMD(1);
    AAMD(255);
  }
  /* AAM 0 divides by zero: #DE, EIP at the AAM, AX untouched */
  {
    uint32_t before = trap_count, ip, ax = 0x1234;
    __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %0\n0:\t.byte 0xd4, 0\n\tmovl $0, trap_recover\n1:"
                     : "=&r"(ip), "+a"(ax) : : "memory");
    check("aam 0 #DE", 0, 0, (trap_count - before) | (trap_last_vector << 8), 1);
    check("aam 0 eip", 0, 0, trap_last_eip, ip);
    check("aam 0 ax", 0, 0, ax, 0x1234);
  }
  printf("  bcd: hash %x\n", hash);
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Legacy instructions gcc never emits but start-up and system code may: the far-pointer loads */
/* (LES LDS LSS LFS LGS), BOUND (#BR), ARPL, SALC, and the descriptor queries LAR LSL VERR VERW, */
/* checked against the SDM's pseudocode on this runtime's GDT. The accessed bit of a descriptor */
/* type is masked: QEMU sets it in the GDT on a segment load, we never write descriptors.       */

struct __attribute__((packed)) farp32 { uint32_t off; uint16_t sel; };
struct __attribute__((packed)) farp16 { uint16_t off; uint16_t sel; };
static struct farp32 lg_fp __attribute__((used));
static struct farp16 lg_fp16 __attribute__((used));
static int32_t lg_bnd[2] __attribute__((used));
static int16_t lg_bnd16[2] __attribute__((used));
static uint16_t lg_sel __attribute__((used));

/* Run `insn` (which may fault) with EFLAGS = fin; f gets EFLAGS after, or fin's if it faulted. */
#define LG_RUN(insn, a, c, fin, f)                                                             \
  __asm__ volatile("movl $1f, trap_recover\n\tpushl %3\n\tpopfl\n\t" insn "\n\tmovl $0, trap_recover\n1:\tpushfl\n\tpopl %2" \
                   : "+a"(a), "+c"(c), "=&r"(f) : "r"(fin) : "cc", "memory")

static uint32_t lg_trap(uint32_t before) { return trap_count != before ? 0x100u | trap_last_vector : 0; }

static uint32_t lg_read_seg(int which) {
  uint32_t v = 0;
  if (which == 0) __asm__ volatile("movw %%es, %w0" : "+r"(v));
  else if (which == 3) __asm__ volatile("movw %%ds, %w0" : "+r"(v));
  else if (which == 4) __asm__ volatile("movw %%fs, %w0" : "+r"(v));
  else __asm__ volatile("movw %%gs, %w0" : "+r"(v));
  return v & 0xFFFF;
}

static void lg_restore_segs(void) {
  __asm__ volatile("movw %w0, %%es\n\tmovw %w0, %%ds\n\tmovw %w0, %%fs\n\tmovw %w0, %%gs" : : "r"(KERNEL_DS) : "memory");
}

static void group_legacy(void) {
  group_begin("legacy");
  uint32_t hash = 2166136261u, before, a, c, f, ip;
#define LG_HASH(v) (hash = (hash ^ (uint32_t)(v)) * 16777619u)
  /* far-pointer loads: the segment register and the GPR both loaded */
  lg_fp.off = 0x12345678u;
  lg_fp.sel = USER_DS;
  a = 0; c = 0xAAAAAAAAu;
  before = trap_count;
  LG_RUN("lfs lg_fp, %%ecx", a, c, 0x2u, f);
  check("lfs", 0, 0, c ^ lg_read_seg(4) ^ lg_trap(before), 0x12345678u ^ USER_DS);
  c = 0xAAAAAAAAu;
  LG_RUN("lgs lg_fp, %%ecx", a, c, 0x2u, f);
  check("lgs", 0, 0, c ^ lg_read_seg(5), 0x12345678u ^ USER_DS);
  lg_fp.sel = KERNEL_DS;
  c = 0;
  LG_RUN("les lg_fp, %%ecx", a, c, 0x2u, f);
  check("les", 0, 0, c ^ lg_read_seg(0), 0x12345678u ^ KERNEL_DS);
  c = 0;
  LG_RUN("lds lg_fp, %%ecx", a, c, 0x2u, f);
  check("lds", 0, 0, c ^ lg_read_seg(3), 0x12345678u ^ KERNEL_DS);
  lg_restore_segs();
  /* 16-bit form: a 16-bit offset into CX, the rest of ECX kept */
  lg_fp16.off = 0xBEEF;
  lg_fp16.sel = USER_DS;
  c = 0x55550000u;
  LG_RUN("lfs lg_fp16, %%cx", a, c, 0x2u, f);
  check("lfs 16-bit", 0, 0, c ^ lg_read_seg(4), 0x5555BEEFu ^ USER_DS);
  lg_restore_segs();
  /* LSS: SS:ESP from memory (ESP 16 lower), no visible change of SS; no interrupt shadow */
  {
    uint32_t got, want, ss = 0;
    __asm__ volatile("movl %%esp, %1\n\tsubl $16, %1\n\tmovl %1, lg_fp\n\tmovw %w3, lg_fp+4\n\t"
                     "lss lg_fp, %%esp\n\tmovl %%esp, %0\n\taddl $16, %%esp\n\tmovw %%ss, %w2"
                     : "=&r"(got), "=&r"(want), "+r"(ss) : "r"(KERNEL_DS) : "memory");
    check("lss esp", 0, 0, got, want);
    check("lss ss", 0, 0, ss & 0xFFFF, KERNEL_DS);
  }
  /* a faulting load changes neither register: past the GDT limit #GP(sel), RPL 3 on a DPL 0   */
  /* data segment #GP(sel), a register operand #UD                                              */
  lg_fp.sel = 0x1238;
  c = 0x77777777u;
  before = trap_count;
  LG_RUN("lgs lg_fp, %%ecx", a, c, 0x2u, f);
  check("lgs bad selector", c, trap_last_err, c ^ lg_read_seg(5) ^ lg_trap(before) ^ (trap_last_err << 12), 0x77777777u ^ KERNEL_DS ^ 0x10Du ^ (0x1238u << 12));
  lg_fp.sel = KERNEL_DS | 3;
  c = 0x66666666u;
  before = trap_count;
  LG_RUN("lds lg_fp, %%ecx", a, c, 0x2u, f);
  check("lds rpl 3", c, trap_last_err, c ^ lg_read_seg(3) ^ lg_trap(before) ^ (trap_last_err << 12), 0x66666666u ^ KERNEL_DS ^ 0x10Du ^ (KERNEL_DS << 12));
  lg_restore_segs();
  before = trap_count;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %0\n0:\t.byte 0xc5, 0xc8\n\tmovl $0, trap_recover\n1:" : "=&r"(ip) : : "memory");
  check("lds register #UD", 0, 0, lg_trap(before) | (trap_last_eip == ip ? 0x1000u : 0), 0x1106u);
  before = trap_count;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %0\n0:\t.byte 0x0f, 0xb2, 0xc8\n\tmovl $0, trap_recover\n1:" : "=&r"(ip) : : "memory");
  check("lss register #UD", 0, 0, lg_trap(before) | (trap_last_eip == ip ? 0x1000u : 0), 0x1106u);
  lg_restore_segs();

  /* BOUND: inclusive signed bounds; #BR (vector 5) at the instruction otherwise */
  {
    static const int32_t idx[] = {0, 5, 10, -1, 11, (int32_t)0x80000000u, 0x7FFFFFFF, -7, -8, -9};
    lg_bnd[0] = -8;
    lg_bnd[1] = 10;
    for (uint32_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
      uint32_t v = (uint32_t)idx[k], want = (idx[k] < -8 || idx[k] > 10) ? 0x105u : 0;
      before = trap_count;
      __asm__ volatile("movl $1f, trap_recover\n\tmovl $0f, %0\n0:\tboundl %1, lg_bnd\n\tmovl $0, trap_recover\n1:" : "=&r"(ip) : "r"(v) : "memory");
      check("bound32", k, v, lg_trap(before) | (want && trap_last_eip != ip ? 0x1000u : 0), want);
    }
    lg_bnd16[0] = -2;
    lg_bnd16[1] = 3;
    static const uint32_t idx16[] = {0xFFFF, 0xFFFE, 0xFFFD, 3, 4, 0x12340000u};
    for (uint32_t k = 0; k < sizeof idx16 / sizeof idx16[0]; k++) {
      int32_t s = (int16_t)idx16[k];
      uint32_t want = (s < -2 || s > 3) ? 0x105u : 0;
      before = trap_count;
      __asm__ volatile("movl $1f, trap_recover\n\tboundw %w0, lg_bnd16\n\tmovl $0, trap_recover\n1:" : : "r"(idx16[k]) : "memory");
      check("bound16", k, idx16[k], lg_trap(before), want);
    }
    before = trap_count;
    __asm__ volatile("movl $1f, trap_recover\n\t.byte 0x62, 0xc1\n\tmovl $0, trap_recover\n1:" : : : "memory");
    check("bound register #UD", 0, 0, lg_trap(before), 0x106u);
  }

  /* ARPL: the destination's RPL raised to the source's, ZF=1; else ZF=0; other flags kept */
  for (uint32_t k = 0; k < 32; k++) {
    uint32_t dst = 0xABCD0000u | ((k * 0x1111u) & 0xFFF0u) | (k & 3), src = 0x5A5A0000u | ((k >> 2) & 3);
    uint32_t fin = 0x2 | (k & 16 ? CF | OF | SF | ZF | AF | PF : 0), want = dst;
    uint32_t up = (dst & 3) < (src & 3);
    if (up) want = (dst & ~3u) | (src & 3);
    a = dst;
    c = src;
    LG_RUN("arpl %%cx, %%ax", a, c, fin, f);
    check("arpl reg", k, dst, a, want);
    check("arpl reg flags", k, dst, f & 0x8D5, (fin & 0x8D5 & ~ZF) | (up ? ZF : 0));
    LG_HASH(a ^ (f << 16));
    lg_sel = (uint16_t)dst;
    c = src;
    LG_RUN("arpl %%cx, lg_sel", a, c, fin, f);
    check("arpl mem", k, dst, lg_sel, want & 0xFFFF);
    check("arpl mem flags", k, dst, f & 0x8D5, (fin & 0x8D5 & ~ZF) | (up ? ZF : 0));
  }

  /* SALC: AL = CF ? FF : 00, nothing else changes */
  for (uint32_t k = 0; k < 4; k++) {
    uint32_t fin = 0x2 | (k & 1 ? CF : 0) | (k & 2 ? ZF | OF | SF : 0);
    a = 0x12345678u;
    LG_RUN(".byte 0xd6", a, c, fin, f);
    check("salc", k, 0, a, k & 1 ? 0x123456FFu : 0x12345600u);
    check("salc flags", k, 0, f & 0x8D5, fin & 0x8D5);
  }

  /* LAR / LSL / VERR / VERW over every GDT selector, at each RPL, and past the limit */
  {
    static const uint32_t lar_want[6] = {0, 0x00C09A00u, 0x00C09200u, 0x00C0FA00u, 0x00C0F200u, 0x00008B00u};
    static const uint32_t lsl_want[6] = {0, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0x67u};
    for (uint32_t sel = 0; sel < 0x40; sel++) {
      /* An LDT selector (TI=1) with no LDT loaded: ZF=0 here; QEMU reads its reset LDTR (base 0, */
      /* limit 0xFFFF) and answers from whatever lies at physical 0. Outside the ABI (GDT only).  */
      if (sel & 4) continue;
      uint32_t e = sel >> 3, rpl = sel & 3, ti = sel & 4, fin = 0x2 | (sel & 8 ? CF | SF : OF | PF);
      uint32_t in = e < 6 && ti == 0 && e != 0;
      uint32_t dpl = (e == 3 || e == 4) ? 3 : 0;
      uint32_t vis = in && dpl >= rpl; /* CPL 0; no conforming segments in this GDT */
      uint32_t zlar = vis, zlsl = vis;
      uint32_t zverr = vis && e != 5, zverw = vis && (e == 2 || e == 4);
      a = sel;
      c = 0xDEADBEEFu;
      LG_RUN("lar %%ax, %%ecx", a, c, fin, f);
      check("lar zf", sel, c, f & 0x8D5, (fin & 0x8D5 & ~ZF) | (zlar ? ZF : 0));
      check("lar value", sel, f, c & ~0x100u, (zlar ? lar_want[e] : 0xDEADBEEFu) & ~0x100u);
      LG_HASH((c & ~0x100u) ^ f);
      c = 0xDEADBEEFu;
      LG_RUN("lsl %%ax, %%ecx", a, c, fin, f);
      check("lsl zf", sel, c, f & 0x8D5, (fin & 0x8D5 & ~ZF) | (zlsl ? ZF : 0));
      check("lsl value", sel, f, c, zlsl ? lsl_want[e] : 0xDEADBEEFu);
      LG_HASH(c ^ f);
      c = 0xDEADBEEFu;
      LG_RUN("lsl %%ax, %%cx", a, c, fin, f);
      check("lsl 16-bit", sel, f, c, zlsl ? 0xDEAD0000u | (lsl_want[e] & 0xFFFF) : 0xDEADBEEFu);
      LG_RUN("verr %%ax", a, c, fin, f);
      check("verr", sel, 0, f & 0x8D5, (fin & 0x8D5 & ~ZF) | (zverr ? ZF : 0));
      LG_RUN("verw %%ax", a, c, fin, f);
      check("verw", sel, 0, f & 0x8D5, (fin & 0x8D5 & ~ZF) | (zverw ? ZF : 0));
      LG_HASH(f);
    }
    /* memory operands */
    lg_sel = KERNEL_DS;
    c = 0;
    LG_RUN("lar lg_sel, %%ecx", a, c, 0x2u, f);
    check("lar mem", 0, f, (c & ~0x100u) | (f & ZF), 0x00C09200u | ZF);
    LG_RUN("lsl lg_sel, %%ecx", a, c, 0x2u, f);
    check("lsl mem", 0, f, c ^ (f & ZF), 0xFFFFFFFFu ^ ZF);
    LG_RUN("verw lg_sel", a, c, 0x2u, f);
    check("verw mem", 0, 0, f & ZF, ZF);
  }
  printf("  legacy: hash %x\n", hash);
#undef LG_HASH
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* 16-bit addressing (address-size prefix 0x67): every ModRM rm with mod 0, 1 and 2 ([BX+SI]   */
/* ... [BX], disp8 sign-extended, disp16, mod 0 rm 6 a bare disp16), only the low 16 bits of   */
/* each register counting, the sum wrapping at 64 KiB; LEA; a read-modify-write. The data is   */
/* at 0x6000, low memory written here first (QEMU's firmware leaves its own bytes below 1 MiB). */

#define A16_LOW 0x6000u
#define A16_SET "pushl %%ebp\n\tmovl $0x9abc6100, %%ebp\n\tmovl $0xabcd6010, %%ebx\n\tmovl $0x12340020, %%esi\n\tmovl $0x56780040, %%edi\n\t"
#define A16_LOAD(modrm, disp) \
  __asm__ volatile(A16_SET ".byte 0x67, 0x8b, " #modrm disp "\n\tpopl %%ebp" : "=a"(got) : : "ebx", "esi", "edi", "memory")

/* Low memory from address 0 (laundered through asm so the compiler sees no null pointer). */
static volatile uint8_t *a16_mem(void) {
  uint32_t z = 0;
  __asm__("" : "+r"(z));
  return (volatile uint8_t *)z;
}

static uint32_t a16_read(uint32_t a) {
  const volatile uint8_t *m = a16_mem();
  return m[a] | (m[a + 1] << 8) | (m[a + 2] << 16) | ((uint32_t)m[a + 3] << 24);
}

/* The address of rm/mod under BX=0x6010 SI=0x0020 DI=0x0040 BP=0x6100 with displacement d. */
static uint32_t a16_addr(uint32_t mod, uint32_t rm, uint32_t d) {
  static const uint32_t base[8] = {0x6010 + 0x20, 0x6010 + 0x40, 0x6100 + 0x20, 0x6100 + 0x40, 0x20, 0x40, 0x6100, 0x6010};
  if (mod == 0 && rm == 6) return d & 0xFFFF;
  return (base[rm] + d) & 0xFFFF;
}

static void group_addr16(void) {
  group_begin("addr16");
  volatile uint8_t *low = (volatile uint8_t *)A16_LOW;
  for (uint32_t k = 0; k < 0x400; k++) low[k] = (uint8_t)(k * 13 + 7);
  /* SI and DI alone point below 0x6000: give them data too */
  volatile uint8_t *zero = a16_mem();
  for (uint32_t k = 0x20; k < 0x60; k++) zero[k] = (uint8_t)(k ^ 0xA5);
  uint32_t got, hash = 2166136261u;
#define A16_CASE(mod, rm, modrm, disp, d)                                            \
  do {                                                                               \
    A16_LOAD(modrm, disp);                                                           \
    check("mov eax,[" #mod "/" #rm "]", mod, rm, got, a16_read(a16_addr(mod, rm, d))); \
    hash = (hash ^ got) * 16777619u;                                                 \
  } while (0)
  A16_CASE(0, 0, 0x00, "", 0);
  A16_CASE(0, 1, 0x01, "", 0);
  A16_CASE(0, 2, 0x02, "", 0);
  A16_CASE(0, 3, 0x03, "", 0);
  A16_CASE(0, 4, 0x04, "", 0);
  A16_CASE(0, 5, 0x05, "", 0);
  A16_CASE(0, 6, 0x06, ", 0x44, 0x61", 0x6144);
  A16_CASE(0, 7, 0x07, "", 0);
  A16_CASE(1, 0, 0x40, ", 0x08", 8);
  A16_CASE(1, 1, 0x41, ", 0xf8", 0xFFFFFFF8u);
  A16_CASE(1, 2, 0x42, ", 0x11", 0x11);
  A16_CASE(1, 3, 0x43, ", 0x7f", 0x7f);
  A16_CASE(1, 4, 0x44, ", 0x05", 5);
  A16_CASE(1, 5, 0x45, ", 0x03", 3);
  A16_CASE(1, 6, 0x46, ", 0x80", 0xFFFFFF80u);
  A16_CASE(1, 7, 0x47, ", 0x30", 0x30);
  A16_CASE(2, 0, 0x80, ", 0x04, 0x01", 0x104);
  A16_CASE(2, 1, 0x81, ", 0x00, 0x01", 0x100);
  A16_CASE(2, 2, 0x82, ", 0x10, 0x00", 0x10);
  A16_CASE(2, 3, 0x83, ", 0xf0, 0xff", 0xFFF0);
  A16_CASE(2, 4, 0x84, ", 0x00, 0x60", 0x6000);
  A16_CASE(2, 5, 0x85, ", 0x80, 0x60", 0x6080);
  A16_CASE(2, 6, 0x86, ", 0x00, 0x01", 0x100);
  A16_CASE(2, 7, 0x87, ", 0x01, 0x00", 1);
  /* the sum wraps at 64 KiB: BP=0xF000 + DI=0x7000 = 0x16000 -> 0x6000 */
  __asm__ volatile("pushl %%ebp\n\tmovl $0x1234f000, %%ebp\n\tmovl $0x00007000, %%edi\n\t.byte 0x67, 0x8b, 0x03\n\tpopl %%ebp"
                   : "=a"(got) : : "edi", "memory");
  check("[bp+di] wraps", 0, 0, got, a16_read(0x6000));
  /* LEA gives the 16-bit address, zero-extended into EAX */
  __asm__ volatile(A16_SET ".byte 0x67, 0x8d, 0x40, 0xf0\n\tpopl %%ebp" : "=a"(got) : : "ebx", "esi", "edi");
  check("lea eax,[bx+si-16]", 0, 0, got, 0x6020);
  __asm__ volatile("pushl %%ebp\n\tmovl $0x0000ffff, %%ebp\n\tmovl $0x00000002, %%esi\n\t.byte 0x67, 0x8d, 0x02\n\tpopl %%ebp"
                   : "=a"(got) : : "esi");
  check("lea wraps", 0, 0, got, 1);
  /* a read-modify-write: add [bx+di+8], eax */
  {
    uint32_t before = a16_read(0x6010 + 0x40 + 8), v = 0x01020304u;
    __asm__ volatile(A16_SET ".byte 0x67, 0x01, 0x41, 0x08\n\tpopl %%ebp" : "+a"(v) : : "ebx", "esi", "edi", "memory", "cc");
    check("add [bx+di+8],eax", 0, 0, a16_read(0x6058), before + 0x01020304u);
  }
  /* LOOP and JCXZ count CX under the prefix: ECX 0x00010002 loops twice (CX 2 -> 1 -> 0) and
   * keeps its upper half; JCXZ with ECX 0x00010000 jumps (CX is 0), JECXZ would not */
  {
    uint32_t c = 0x00010002u, n = 0;
    __asm__ volatile("1: incl %1\n\t.byte 0x67, 0xe2, 0xfc" : "+c"(c), "+r"(n) : : "cc");
    check("loop cx", c, 0, n | (c & 0xFFFF0000u), 0x00010002u);
    check("loop cx keeps ecx high", 0, 0, c, 0x00010000u);
    uint32_t taken = 0;
    c = 0x00010000u;
    __asm__ volatile("movl $0, %0\n\t.byte 0x67, 0xe3, 0x02\n\tjmp 2f\n\tmovl $1, %0\n2:" : "=&r"(taken) : "c"(c));
    check("jcxz cx", 0, 0, taken, 1);
  }
  printf("  addr16: hash %x\n", hash);
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* INVLPG and 4 MiB pages: INVLPG of any address in a large page drops the whole translation,   */
/* not the one 4 KiB piece a TLB may keep. Two pieces are cached, the PDE moves to another       */
/* frame, INVLPG names a third piece. Identity-mapped 4 MiB pages for the rest; paging off after. */

static uint32_t pse_pd[1024] __attribute__((aligned(4096)));

static void group_pse_invlpg(void) {
  group_begin("pse-invlpg");
  const uint32_t va = 0x80000000u, a = 0x400000u, b = 0; /* two 4 MiB frames inside 8 MiB of RAM */
  /* physical = linear below 64 MiB, paging on or off */
#define PHYS(x) (*(volatile uint32_t *)(uintptr_t)(x))
  PHYS(a + 0x3F0000u) = 0xAAAA0001u;
  PHYS(a + 0x3FFFFCu) = 0xAAAA0002u;
  PHYS(b + 0x3F0000u) = 0xBBBB0001u;
  PHYS(b + 0x3FFFFCu) = 0xBBBB0002u;
  for (uint32_t i = 0; i < 1024; i++) pse_pd[i] = i < 16 ? (i << 22) | 0x83u : 0; /* P W PS */
  volatile uint32_t *pde = &pse_pd[va >> 22]; /* ordered with the accesses through it */
  *pde = a | 0x83u;
  uint32_t cr0 = read_cr0(), cr3 = read_cr3(), cr4 = read_cr4();
  write_cr4(cr4 | 0x10);
  write_cr3((uint32_t)pse_pd);
  write_cr0(cr0 | 0x80000000u);
  volatile uint32_t *v = (volatile uint32_t *)va;
  uint32_t first = v[0x3F0000u / 4] ^ v[0x3FFFFCu / 4]; /* both pieces now cached */
  *pde = b | 0x83u;
  invlpg(va);
  uint32_t moved = v[0x3F0000u / 4];
  v[0x3FFFFCu / 4] = 0x600Du;
  *pde = a | 0x83u;
  invlpg(va + 0x3FF000u);
  uint32_t back = v[0x3F0000u / 4], back2 = v[0x3FFFFCu / 4];
  write_cr0(cr0);
  write_cr3(cr3);
  write_cr4(cr4);
  check("before the move", 0, 0, first, 0xAAAA0001u ^ 0xAAAA0002u);
  check("INVLPG of piece 0 drops piece 0x3f0", 0, 0, moved, 0xBBBB0001u);
  check("INVLPG of piece 0 drops piece 0x3ff", 0, 0, PHYS(b + 0x3FFFFCu), 0x600Du);
  check("old frame untouched", 0, 0, PHYS(a + 0x3FFFFCu), 0xAAAA0002u);
#undef PHYS
  check("INVLPG of piece 0x3ff drops piece 0x3f0", 0, 0, back, 0xAAAA0001u);
  check("and piece 0x3ff", 0, 0, back2, 0xAAAA0002u);
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Encodings: every NOP form gas pads with, prefixes in either order, redundant segment        */
/* overrides, and high-byte register operands.                                                 */

static void group_encodings(void) {
  group_begin("encodings");
  {
    uint32_t a = 0x1234u, b;
    __asm__ volatile(".byte 0x90\n\t"
                     ".byte 0x66, 0x90\n\t"
                     ".byte 0x0f, 0x1f, 0x00\n\t"
                     ".byte 0x0f, 0x1f, 0x40, 0x00\n\t"
                     ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\t"
                     ".byte 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00\n\t"
                     ".byte 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00\n\t"
                     ".byte 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00\n\t"
                     ".byte 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00\n\t"
                     ".byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00\n\t"
                     ".byte 0x8d, 0x76, 0x00\n\t"                         /* lea 0(%esi),%esi */
                     ".byte 0x8d, 0xb4, 0x26, 0x00, 0x00, 0x00, 0x00\n\t" /* lea 0(%esi,%eiz),%esi */
                     ".byte 0x8d, 0x74, 0x26, 0x00\n\t"
                     ".byte 0x89, 0xf6\n\t"                               /* mov %esi,%esi */
                     "movl %1, %0"
                     : "=r"(b) : "r"(a) : "esi", "memory");
    check("nop forms", a, 0, b, 0x1234u);
  }
  {
    /* F3 66 A5 (REP before the operand-size prefix) = rep movsw, same as 66 F3 A5 */
    uint16_t src[4] = {0x1111, 0x2222, 0x3333, 0x4444}, dst[4] = {0, 0, 0, 0};
    uint32_t si = (uint32_t)src, di = (uint32_t)dst, c = 3;
    __asm__ volatile("cld\n\t.byte 0xf3, 0x66, 0xa5" : "+S"(si), "+D"(di), "+c"(c) : : "memory");
    check("f3 66 a5", c, di - (uint32_t)dst, (uint32_t)dst[2] << 16 | dst[3], 0x33330000u);
    check("f3 66 a5 regs", c, 0, c | (di - (uint32_t)dst), 6);
  }
  {
    /* segment overrides and a DS prefix on plain loads (flat, so no effect) */
    volatile uint32_t m = 0xFEEDFACEu;
    uint32_t r1, r2, r3;
    __asm__ volatile(".byte 0x3e\n\tmovl %3, %0\n\t"
                     "movl %%es:%3, %1\n\t"
                     "movl %%ss:%3, %2"
                     : "=&r"(r1), "=&r"(r2), "=&r"(r3) : "m"(m));
    check("ds/es/ss override loads", r1, r2, r1 ^ r2 ^ r3, 0xFEEDFACEu);
    uint32_t r = 0;
    __asm__ volatile(".byte 0x64, 0x8b, 0x05\n\t.long asm_memval\n\t" : "=a"(r)); /* mov %fs:abs32, %eax */
    check("fs moffs via modrm", r, 0, r, 0xCAFEBABEu);
    __asm__ volatile(".byte 0x2e, 0x3e, 0x26, 0x8b, 0x05\n\t.long asm_memval" : "=a"(r)); /* several overrides */
    check("stacked overrides", r, 0, r, 0xCAFEBABEu);
  }
  {
    uint32_t a = 0x00008000u, r;
    __asm__ volatile("movsbl %h1, %0" : "=r"(r) : "Q"(a));
    check("movsbl ah", a, 0, r, 0xFFFFFF80u);
    a = 0x0000FF00u;
    __asm__ volatile("movzbl %h1, %0" : "=r"(r) : "Q"(a));
    check("movzbl ah", a, 0, r, 0xFFu);
    volatile uint8_t mb = 0x81;
    uint32_t f;
    __asm__ volatile(FLAGS_IN "testb $0x80, %1" FLAGS_OUT : [fo] "=&r"(f) : "m"(mb), [fin] "r"(0x2u) : "cc");
    check("test m8,imm8", 0, 0, f & LOGIC, SF);
    volatile uint16_t mw = 0x7FFF;
    __asm__ volatile("addw $1, %0" : "+m"(mw) : : "cc");
    check("add m16,imm8", 0, 0, mw, 0x8000u);
    __asm__ volatile("sbbl %0, %0" : "=r"(r) : "0"(5u), "r"(0) : "cc");
    __asm__ volatile(FLAGS_IN "sbbl %[x], %[x]" FLAGS_OUT : [x] "=r"(r), [fo] "=&r"(f) : [fin] "r"(0x3u), "0"(5u) : "cc");
    check("sbb r,r with CF", 0, 0, r, 0xFFFFFFFFu);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* Self-modifying code: x86 makes a store to an instruction visible to the next fetch of it,   */
/* even the very next instruction and even one that straddles a page boundary; a processor    */
/* that caches decoded instructions must invalidate them on every write.                      */

static uint8_t codebuf[3 * 4096] __attribute__((aligned(4096)));

typedef uint32_t (*code_fn)(void);

static void emit_mov_eax_ret(uint8_t *p, uint32_t imm) {
  p[0] = 0xB8; /* mov $imm32, %eax */
  memcpy(p + 1, &imm, 4);
  p[5] = 0xC3; /* ret */
}

static void group_smc(void) {
  group_begin("self-modifying-code");
  /* a) rewrite a routine between calls */
  emit_mov_eax_ret(codebuf, 0x11111111u);
  check("smc call 1", 0, 0, ((code_fn)codebuf)(), 0x11111111u);
  for (uint32_t i = 0; i < 20; i++) {
    *(volatile uint32_t *)(codebuf + 1) = 0x22220000u + i;
    check("smc rewrite imm", i, 0, ((code_fn)codebuf)(), 0x22220000u + i);
  }
  /* b) an instruction that rewrites the immediate of the instruction right after it */
  {
    uint8_t *p = codebuf + 64;
    uint32_t target = (uint32_t)(p + 7 + 1); /* imm8 of the "mov $0, %al" below */
    p[0] = 0xC6; p[1] = 0x05;                /* movb $imm8, target */
    memcpy(p + 2, &target, 4);
    p[6] = 0x5A;
    p[7] = 0xB0; p[8] = 0x00;                /* mov $0x00, %al */
    p[9] = 0xC3;
    check("smc next insn", 0, 0, ((code_fn)p)() & 0xFF, 0x5A);
    p[6] = 0xA5;
    check("smc next insn again", 0, 0, ((code_fn)p)() & 0xFF, 0xA5);
    /* and in a loop, where a translated block would otherwise be reused */
    uint32_t bad = 0;
    for (uint32_t i = 0; i < 50; i++) {
      p[6] = (uint8_t)i;
      if ((((code_fn)p)() & 0xFF) != i) bad++;
    }
    check("smc next insn loop", 0, 0, bad, 0);
  }
  /* c) an instruction straddling a page boundary, modified in its second page */
  {
    uint8_t *p = codebuf + 4096 - 2;
    emit_mov_eax_ret(p, 0x33333333u);
    check("smc straddle", 0, 0, ((code_fn)p)(), 0x33333333u);
    codebuf[4096 + 1] = 0x77; /* third byte of the immediate, in the second page */
    check("smc straddle modified 2nd page", 0, 0, ((code_fn)p)(), 0x33773333u);
    codebuf[4096 - 1] = 0x44; /* first byte of the immediate, in the first page */
    check("smc straddle modified 1st page", 0, 0, ((code_fn)p)(), 0x33773344u);
  }
  /* d) code copied in with REP MOVSB, then replaced with REP STOSL + a patch */
  {
    uint8_t tmpl[6];
    emit_mov_eax_ret(tmpl, 0xC0DEC0DEu);
    uint8_t *dst = codebuf + 2 * 4096 + 100;
    uint32_t si = (uint32_t)tmpl, di = (uint32_t)dst, c = 6;
    __asm__ volatile("rep movsb" : "+S"(si), "+D"(di), "+c"(c) : : "memory");
    check("smc via rep movsb", 0, 0, ((code_fn)dst)(), 0xC0DEC0DEu);
    di = (uint32_t)dst, c = 2;
    __asm__ volatile("rep stosl" : "+D"(di), "+c"(c) : "a"(0x90909090u) : "memory"); /* NOPs */
    dst[8] = 0x31; dst[9] = 0xC0; dst[10] = 0x40; dst[11] = 0xC3; /* xor %eax,%eax; inc %eax; ret */
    check("smc via rep stosl", 0, 0, ((code_fn)dst)(), 1);
  }
  group_end();
}

/* ------------------------------------------------------------------------------------------ */
/* main                                                                                        */

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  gdt_init();
  idt_init();
  pic_remap(IRQ_BASE, IRQ_BASE + 8); /* every IRQ masked: nothing may interrupt the checks */
  printf("cputest: start\n");
  group_alu8();
  group_alu16();
  group_alu32();
  group_unary();
  group_alu_sdm();
  group_shift();
  group_shift_sdm();
  group_shxd();
  group_muldiv();
  group_bitops();
  group_xadd_cmpxchg();
  group_cond();
  group_string();
  group_movx();
  group_stack_flow();
  group_exceptions();
  group_system();
  group_smc();
  group_arith64();
  group_bcd();
  group_pse_invlpg();
  group_encodings();
  group_legacy();
  group_addr16();
  group_single_step();
  printf("cputest: %u groups, %u failed\n", groups_run, groups_failed);
  printf(groups_failed ? "cputest: FAIL\n" : "cputest: PASS\n");
  return (int)groups_failed;
}
