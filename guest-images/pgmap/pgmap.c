/* pgmap: the page-protection map. Every combination of PDE flags (P RW US), PTE flags (P RW US),
 * CR0.WP, CPL (0, 3) and access (read, write, execute) on a 4 KiB page, and of PDE flags with
 * PS (4 MiB page), runs once from a freshly flushed TLB with A and D clear. One line each: the
 * exception (v=ff: none), its error code, whether CR2 named the access, the A/D bits the walk
 * left in the PDE and the PTE, and what the access read or left in memory. Compared line by line
 * with QEMU under every MMU by test/parity/pgmap.test.ts. */
#include "map-setup.h"

#define TV 0x40000000u /* the test page's linear address: PDE 256 */
#define RET_OFF 0x800  /* a RET in the test page, for the execute access */
#define NKINDS 13      /* read, write, execute, eight read-modify-writes, MOVS and SETcc m8 */

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t kernel_pt[1024] __attribute__((aligned(4096)));
static uint32_t test_pt[1024] __attribute__((aligned(4096)));
static uint8_t test_frame[4096] __attribute__((aligned(4096)));
static uint8_t other_frame[4096] __attribute__((aligned(4096))); /* the crossing cases' fixed page */
static uint8_t user_stack[4096] __attribute__((aligned(16)));

volatile uint32_t acc_kind, acc_value, acc_addr, exec_addr;

static inline void write_cr2(uint32_t v) { __asm__ volatile("mov %0, %%cr2" : : "r"(v) : "memory"); }
uint32_t pg_user_esp;
void pg_access(void);      /* ring 0: the access, result in acc_value */
void pg_user_access(void); /* ring 3: the access, then INT 0x81 */

/* The access (acc_kind: an index into KIND_NAME) at acc_addr / exec_addr. A #PF resumes at
 * pg_done with acc_value as it was (0xDEAD). pg_access keeps ESI and EDI for the C caller. */
__asm__(".text\n"
        ".globl pg_access, pg_user_access\n"
        "pg_access:\n"
        "  pushl %ebx\n"
        "  pushl %esi\n"
        "  pushl %edi\n"
        "  call pg_body\n"
        "  popl %edi\n"
        "  popl %esi\n"
        "  popl %ebx\n"
        "  ret\n"
        "pg_user_access:\n"
        "  movl pg_user_esp, %esp\n"
        "  call pg_body\n"
        "  int $0x81\n"
        "pg_body:\n"
        "  movl $pg_done, trap_recover\n"
        "  movl acc_addr, %ecx\n"
        "  movl acc_kind, %eax\n"
        "  jmp *pg_kinds(,%eax,4)\n"
        "k_read: movl (%ecx), %ebx\n"
        "  movl %ebx, acc_value\n"
        "  jmp 3f\n"
        "k_write: movl $0x5a5a5a5a, (%ecx)\n"
        "  movl $1, acc_value\n"
        "  jmp 3f\n"
        "k_exec: movl exec_addr, %eax\n"
        "  call *%eax\n"
        "  movl $2, acc_value\n"
        "  jmp 3f\n"
        "k_add: addl $0x11111111, (%ecx)\n"
        "  movl $3, acc_value\n"
        "  jmp 3f\n"
        "k_xchg: movl $0x77777777, %ebx\n"
        "  xchgl %ebx, (%ecx)\n"
        "  movl %ebx, acc_value\n"
        "  jmp 3f\n"
        "k_lock: lock addl $0x22222222, (%ecx)\n"
        "  movl $5, acc_value\n"
        "  jmp 3f\n"
        "k_not: notl (%ecx)\n"
        "  movl $6, acc_value\n"
        "  jmp 3f\n"
        "k_incb: incb (%ecx)\n"
        "  movl $7, acc_value\n"
        "  jmp 3f\n"
        /* the comparison fails (EAX is not the old value): CMPXCHG still writes the old value back */
        "k_cmpxchg: movl $0x12345678, %eax\n"
        "  movl $0x33333333, %ebx\n"
        "  cmpxchgl %ebx, (%ecx)\n"
        "  movl %eax, acc_value\n"
        "  jmp 3f\n"
        "k_bts: btsl $3, (%ecx)\n"
        "  movl $9, acc_value\n"
        "  jmp 3f\n"
        "k_shl: shll $1, (%ecx)\n"
        "  movl $10, acc_value\n"
        "  jmp 3f\n"
        /* MOVSD from the dword 8 bytes on to the dword under test: a read, then a write */
        "k_movs: leal 8(%ecx), %esi\n"
        "  movl %ecx, %edi\n"
        "  cld\n"
        "  movsl\n"
        "  movl $11, acc_value\n"
        "  jmp 3f\n"
        "k_sete: sete (%ecx)\n"
        "  movl $12, acc_value\n"
        "3: movl $0, trap_recover\n"
        "pg_done:\n"
        "  ret\n"
        ".section .rodata\n"
        ".balign 4\n"
        "pg_kinds: .long k_read, k_write, k_exec, k_add, k_xchg, k_lock, k_not, k_incb, k_cmpxchg, k_bts, k_shl, k_movs, k_sete\n"
        ".text\n");

static const char *const KIND_NAME[NKINDS] = {"read ", "write", "exec ", "add  ", "xchg ", "lock ", "not  ", "incb ",
                                              "cmpxc", "bts  ", "shl  ", "movs ", "sete "};

/* Access `kind` at `addr` (an execute at `exec`) from `cpl`, CR2 cleared first; whether it trapped. */
static int run_access(uint32_t addr, uint32_t exec, int kind, int cpl) {
  acc_addr = addr;
  exec_addr = exec;
  acc_kind = (uint32_t)kind;
  acc_value = 0xDEAD;
  write_cr2(0);
  uint32_t before = trap_count;
  if (cpl == 3) enter_user((uint32_t)pg_user_access, pg_user_esp, 0x2);
  else pg_access();
  return trap_count != before;
}

static void run_case(uint32_t pde, uint32_t pte, int wp, int cpl, int kind) {
  page_dir[TV >> 22] = pde;
  test_pt[0] = pte;
  for (int k = 0; k < 4096; k++) test_frame[k] = (uint8_t)(k * 5 + 1);
  test_frame[RET_OFF] = 0xC3;
  uint32_t cr0 = read_cr0();
  write_cr0(wp ? cr0 | 0x10000u : cr0 & ~0x10000u);
  write_cr3((uint32_t)page_dir); /* the whole TLB goes */
  /* a 4 MiB page maps TV to physical 0: reach test_frame through it */
  uint32_t base = (pde & 0x80) ? TV + (uint32_t)test_frame : TV;
  int trapped = run_access(base + 4, base + RET_OFF, kind, cpl);
  uint32_t cr2 = read_cr2();
  uint32_t want_cr2 = kind == 2 ? exec_addr : acc_addr;
  uint32_t mem = test_frame[4] | (test_frame[5] << 8) | (test_frame[6] << 16) | ((uint32_t)test_frame[7] << 24);
  printf("pde=%03x pte=%03x wp=%d cpl=%d %s v=%02x err=%x cr2=%s pdeAD=%02x pteAD=%02x val=%x mem=%x\n", pde & 0xfff,
         pte & 0xfff, wp, cpl, KIND_NAME[kind], trapped ? trap_last_vector : 0xff,
         trapped ? trap_last_err : 0, !trapped ? "-" : cr2 == want_cr2 ? "ok" : "BAD", page_dir[TV >> 22] & 0x60,
         (pde & 0x80) ? 0 : test_pt[0] & 0x60, acc_value, mem);
  write_cr0(cr0);
}

/* An access that straddles two pages: bytes 0xffe-0x1001 from TV. `first` says which of TV's
 * two PTEs (test_pt[0] or [1]) carries `pte` (test_frame, the page under test); the other maps
 * other_frame present, writable and user. Prints CR2 as an offset from TV, both PTEs' A/D bits
 * and the four bytes at the access, so a partial write or a fault on the wrong page shows. */
static void run_cross(int first, uint32_t pte, int wp, int cpl, int kind) {
  page_dir[TV >> 22] = (uint32_t)test_pt | 7;
  uint32_t fixed = (uint32_t)other_frame | 7;
  test_pt[0] = first ? pte : fixed;
  test_pt[1] = first ? fixed : pte;
  for (int k = 0; k < 4096; k++) {
    test_frame[k] = (uint8_t)(k * 5 + 1);
    other_frame[k] = (uint8_t)(k * 3 + 2);
  }
  test_frame[RET_OFF] = 0xC3;
  uint8_t *lo = first ? test_frame : other_frame, *hi = first ? other_frame : test_frame;
  uint32_t cr0 = read_cr0();
  write_cr0(wp ? cr0 | 0x10000u : cr0 & ~0x10000u);
  write_cr3((uint32_t)page_dir);
  int trapped = run_access(TV + 0xffe, TV + (first ? 0 : 0x1000) + RET_OFF, kind, cpl);
  uint32_t mem = lo[0xffe] | (lo[0xfff] << 8) | (hi[0] << 16) | ((uint32_t)hi[1] << 24);
  printf("cross %s pte=%03x wp=%d cpl=%d %s v=%02x err=%x cr2=%x AD=%02x,%02x val=%x mem=%x\n", first ? "first " : "second",
         pte & 0xfff, wp, cpl, KIND_NAME[kind], trapped ? trap_last_vector : 0xff, trapped ? trap_last_err : 0,
         trapped ? read_cr2() - TV : 0, test_pt[0] & 0x60, test_pt[1] & 0x60, acc_value, mem);
  write_cr0(cr0);
  test_pt[1] = 0;
}

/* ---- Ring 3 stack, string and indirect-transfer instructions on the page under test ----------
 * The page under test is TV+0x1000 (test_pt[1]); TV (test_pt[0]) is other_frame, present,
 * writable and user, so accesses that run down or up across TV+0x1000 touch both. uo_user runs
 * one instruction with every register loaded from uo_in, and stores every register to uo_out
 * where it ended: after the instruction, or at the fault (trap_recover resumes at uo_done with
 * the registers the fault left, which is how the map sees ESP, ECX, ESI and EDI mid-way). */
#define UO 0x40001000u /* TV + 0x1000: the page under test */
enum { UO_EAX, UO_EBX, UO_ECX, UO_EDX, UO_ESI, UO_EDI, UO_EBP, UO_ESP, UO_KIND, UO_N };
volatile uint32_t uo_in[UO_N], uo_out[UO_N + 1];
void uo_user(void);
__asm__(".text\n"
        ".globl uo_user\n"
        "uo_user:\n"
        "  movl $uo_done, trap_recover\n"
        "  movl uo_in+32, %eax\n"
        "  movl uo_kinds(,%eax,4), %eax\n"
        "  movl %eax, uo_jump\n"
        "  movl uo_in+4, %ebx\n"
        "  movl uo_in+8, %ecx\n"
        "  movl uo_in+12, %edx\n"
        "  movl uo_in+16, %esi\n"
        "  movl uo_in+20, %edi\n"
        "  movl uo_in+24, %ebp\n"
        "  movl uo_in+28, %esp\n"
        "  movl uo_in+0, %eax\n"
        "  jmp *uo_jump\n"
        "u_push: pushl $0x12345678\n"
        "  jmp 3f\n"
        "u_pop: popl %ebx\n"
        "  jmp 3f\n"
        "u_popm: popl (%edi)\n"
        "  jmp 3f\n"
        "u_pushm: pushl (%ecx)\n"
        "  jmp 3f\n"
        "u_call: call u_target\n"
        "  jmp 3f\n"
        "u_ret: ret\n"
        "u_reti: ret $8\n"
        "u_calli: call *(%ecx)\n"
        "  jmp 3f\n"
        "u_pusha: pushal\n"
        "  jmp 3f\n"
        "u_popa: popal\n"
        "  jmp 3f\n"
        "u_pushf: pushfl\n"
        "  jmp 3f\n"
        "u_popf: popfl\n"
        "  jmp 3f\n"
        "u_enter: enter $16, $0\n"
        "  jmp 3f\n"
        "u_enter3: enter $8, $3\n"
        "  jmp 3f\n"
        "u_leave: leave\n"
        "  jmp 3f\n"
        "u_movs: cld\n"
        "  rep movsl\n"
        "  jmp 3f\n"
        "u_stos: cld\n"
        "  rep stosl\n"
        "  jmp 3f\n"
        "u_lods: cld\n"
        "  rep lodsl\n"
        "  jmp 3f\n"
        "u_scas: cld\n"
        "  repne scasb\n"
        "  jmp 3f\n"
        "u_movsd: std\n"
        "  rep movsb\n"
        "  cld\n"
        "  jmp 3f\n"
        "u_target: movl $0x7a, %edx\n"
        "  jmp 3f\n"
        "3: movl $0, trap_recover\n"
        "uo_done:\n"
        "  cld\n"
        "  movl %eax, uo_out+0\n"
        "  movl %ebx, uo_out+4\n"
        "  movl %ecx, uo_out+8\n"
        "  movl %edx, uo_out+12\n"
        "  movl %esi, uo_out+16\n"
        "  movl %edi, uo_out+20\n"
        "  movl %ebp, uo_out+24\n"
        "  movl %esp, uo_out+28\n"
        "  lahf\n"
        "  movb %ah, uo_out+36\n"
        "  int $0x81\n"
        ".section .rodata\n"
        ".balign 4\n"
        "uo_kinds: .long u_push, u_pop, u_popm, u_pushm, u_call, u_ret, u_reti, u_calli, u_pusha, u_popa, u_pushf,"
        " u_popf, u_enter, u_enter3, u_leave, u_movs, u_stos, u_lods, u_scas, u_movsd, u_push\n"
        ".bss\n"
        ".balign 4\n"
        "uo_jump: .skip 4\n"
        ".text\n");
extern const char u_target[];

/* name, ESP, ECX, ESI, EDI, EBP (offsets from UO when marked REL, else absolute) */
#define REL 0x80000000u
static const struct { const char *name; uint32_t esp, ecx, esi, edi, ebp; } UO_OPS[] = {
    {"push  ", REL | 0x100, 0, 0, 0, 0},
    {"pop   ", REL | 0x100, 0, 0, 0, 0},
    {"pop m ", REL | 0x100, 0, 0, REL | (uint32_t)-0x800, 0},    /* stack under test, dest fine */
    {"push m", 0, REL | 0x40, 0, 0, 0},                          /* source under test */
    {"call  ", REL | 0x100, 0, 0, 0, 0},
    {"ret   ", REL | 0x100, 0, 0, 0, 0},
    {"ret 8 ", REL | 0x100, 0, 0, 0, 0},
    {"call m", 0, REL | 0x40, 0, 0, 0},                          /* target read from the page */
    {"pusha ", REL | 0x10, 0, 0, 0, 0},                          /* 4 dwords here, 4 below */
    {"popa  ", REL | (uint32_t)-0x10, 0, 0, 0, 0},               /* 4 dwords below, 4 here */
    {"pushf ", REL | 0x100, 0, 0, 0, 0},
    {"popf  ", REL | 0x104, 0, 0, 0, 0},
    {"enter ", REL | 0x100, 0, 0, 0, REL | 0x200},
    {"enter3", REL | 0x100, 0, 0, 0, REL | 0x200},               /* copies [ebp-4], [ebp-8] */
    {"leave ", 0, 0, 0, 0, REL | 0x200},
    {"movs  ", 0, 4, REL | (uint32_t)-0x800, REL | (uint32_t)-8, 0}, /* 2 dwords below, 2 here */
    {"stos  ", 0, 4, 0, REL | (uint32_t)-8, 0},
    {"lods  ", 0, 4, REL | (uint32_t)-8, 0, 0},
    {"scas  ", 0, 6, 0, REL | (uint32_t)-3, 0},
    {"movs -", 0, 6, REL | (uint32_t)-0x800, REL | 2, 0},        /* DF=1: down from +2 to -3 */
    {"push x", REL | 2, 0, 0, 0, 0},                             /* the dword straddles */
};
#define UO_KINDS (sizeof UO_OPS / sizeof UO_OPS[0])

static uint32_t uo_val(uint32_t v, uint32_t fallback) { return v == 0 ? fallback : (v & REL) ? UO + (uint32_t)((int32_t)(v << 1) >> 1) : v; }

static uint32_t fnv(const uint8_t *p, uint32_t n, uint32_t h) {
  for (uint32_t k = 0; k < n; k++) h = (h ^ p[k]) * 16777619u;
  return h;
}

static void run_user_op(uint32_t pte, uint32_t kind) {
  page_dir[TV >> 22] = (uint32_t)test_pt | 7;
  test_pt[0] = (uint32_t)other_frame | 7;
  test_pt[1] = pte;
  for (int k = 0; k < 4096; k++) {
    test_frame[k] = (uint8_t)(k * 5 + 1);
    other_frame[k] = (uint8_t)(k * 3 + 2);
  }
  /* return addresses and call targets where RET, RET 8 and CALL m read them */
  *(volatile uint32_t *)(test_frame + 0x100) = (uint32_t)u_target;
  *(volatile uint32_t *)(test_frame + 0x40) = (uint32_t)u_target;
  *(volatile uint32_t *)(test_frame + 0x1f8) = UO + 0x300; /* ENTER's outer frame pointers */
  *(volatile uint32_t *)(test_frame + 0x1fc) = UO + 0x304;
  *(volatile uint32_t *)(test_frame + 0x200) = UO + 0x400; /* LEAVE's saved EBP */
  *(volatile uint32_t *)(test_frame + 0x104) = 0x8d5;      /* POPF: OF SF ZF AF PF CF, IF clear */
  write_cr3((uint32_t)page_dir);
  uo_in[UO_EAX] = 0xeeeeeeee;
  uo_in[UO_EBX] = 0x0b0b0b0b;
  uo_in[UO_EDX] = 0x0d0d0d0d;
  uo_in[UO_ECX] = uo_val(UO_OPS[kind].ecx, 0x0c0c0c0c);
  uo_in[UO_ESI] = uo_val(UO_OPS[kind].esi, 0x05050505);
  uo_in[UO_EDI] = uo_val(UO_OPS[kind].edi, 0x0d1d1d1d);
  uo_in[UO_EBP] = uo_val(UO_OPS[kind].ebp, 0x0b1b1b1b);
  uo_in[UO_ESP] = uo_val(UO_OPS[kind].esp, pg_user_esp - 64);
  uo_in[UO_KIND] = kind;
  write_cr2(0);
  uint32_t before = trap_count;
  enter_user((uint32_t)uo_user, pg_user_esp, 0x2);
  int trapped = trap_count != before;
  printf("user %s pte=%03x v=%02x err=%x cr2=%x", UO_OPS[kind].name, pte & 0xfff, trapped ? trap_last_vector : 0xff,
         trapped ? trap_last_err : 0, trapped ? read_cr2() - TV : 0);
  static const char *const reg[] = {"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp"};
  for (int r = 0; r < 8; r++) {
    int32_t d = (int32_t)(uo_out[r] - uo_in[r]);
    if (d != 0) printf(" %s%c%x", reg[r], d < 0 ? '-' : '+', d < 0 ? (uint32_t)-d : (uint32_t)d);
  }
  printf(" fl=%02x AD=%02x,%02x mem=%08x\n", uo_out[UO_N] & 0xd5, test_pt[0] & 0x60, test_pt[1] & 0x60,
         fnv(test_frame, 4096, fnv(other_frame, 4096, 2166136261u)));
  test_pt[1] = 0;
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  pg_user_esp = map_setup(user_stack, sizeof user_stack);
  /* the first 4 MiB identity-mapped, user and writable, so ring 3 can run this code */
  for (uint32_t i = 0; i < 1024; i++) kernel_pt[i] = (i << 12) | 7;
  page_dir[0] = (uint32_t)kernel_pt | 7;
  write_cr3((uint32_t)page_dir);
  write_cr4(read_cr4() | 0x10); /* PSE, for the 4 MiB cases */
  write_cr0(read_cr0() | 0x80000000u);
  uint32_t n = 0;
  for (uint32_t pdef = 0; pdef < 8; pdef++)
    for (uint32_t ptef = 0; ptef < 8; ptef++)
      for (int wp = 0; wp < 2; wp++)
        for (int cpl = 0; cpl < 4; cpl += 3)
          for (int kind = 0; kind < NKINDS; kind++, n++)
            run_case((uint32_t)test_pt | (pdef & 1) | (pdef & 2) | ((pdef & 4)), (uint32_t)test_frame | ptef, wp, cpl, kind);
  /* 4 MiB pages: PDE with PS maps TV..TV+4M to physical 0 (the identity-mapped kernel region,
   * where test_frame is: the access lands at test_frame's offset within it) */
  for (uint32_t pdef = 0; pdef < 8; pdef++)
    for (int wp = 0; wp < 2; wp++)
      for (int cpl = 0; cpl < 4; cpl += 3)
        for (int kind = 0; kind < NKINDS; kind++, n++) run_case(0x80 | pdef, 0, wp, cpl, kind);
  for (int first = 1; first >= 0; first--)
    for (uint32_t ptef = 0; ptef < 8; ptef++)
      for (int wp = 0; wp < 2; wp++)
        for (int cpl = 0; cpl < 4; cpl += 3)
          for (int kind = 0; kind < NKINDS; kind++, n++) run_cross(first, (uint32_t)test_frame | ptef, wp, cpl, kind);
  for (uint32_t ptef = 0; ptef < 8; ptef++)
    for (uint32_t kind = 0; kind < UO_KINDS; kind++, n++) run_user_op((uint32_t)test_frame | ptef, kind);
  printf("pgmap: %u cases\n", n);
  return 0;
}
