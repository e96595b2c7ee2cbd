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
  acc_addr = base + 4;
  exec_addr = base + RET_OFF;
  acc_kind = (uint32_t)kind;
  acc_value = 0xDEAD;
  write_cr2(0);
  uint32_t before = trap_count;
  if (cpl == 3) enter_user((uint32_t)pg_user_access, pg_user_esp, 0x2);
  else pg_access();
  int trapped = trap_count != before;
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
  acc_addr = TV + 0xffe;
  exec_addr = TV + (first ? 0 : 0x1000) + RET_OFF;
  acc_kind = (uint32_t)kind;
  acc_value = 0xDEAD;
  write_cr2(0);
  uint32_t before = trap_count;
  if (cpl == 3) enter_user((uint32_t)pg_user_access, pg_user_esp, 0x2);
  else pg_access();
  int trapped = trap_count != before;
  uint32_t mem = lo[0xffe] | (lo[0xfff] << 8) | (hi[0] << 16) | ((uint32_t)hi[1] << 24);
  printf("cross %s pte=%03x wp=%d cpl=%d %s v=%02x err=%x cr2=%x AD=%02x,%02x val=%x mem=%x\n", first ? "first " : "second",
         pte & 0xfff, wp, cpl, KIND_NAME[kind], trapped ? trap_last_vector : 0xff, trapped ? trap_last_err : 0,
         trapped ? read_cr2() - TV : 0, test_pt[0] & 0x60, test_pt[1] & 0x60, acc_value, mem);
  write_cr0(cr0);
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
  printf("pgmap: %u cases\n", n);
  return 0;
}
