/* hostile: guests that poke where a VMM's bookkeeping meets the architecture (issue 12). One
 * scenario per run, chosen by `t=N` on the Multiboot command line; each prints what it saw and
 * exits through the exit device, except the ones whose end is a triple fault. Only behaviour x86
 * defines is printed by default, so the serial bytes are comparable with QEMU; `tsc=1` adds
 * virtual-time readings (RDTSC, timer ticks), which only runs on shadowvisor can compare.
 *
 *   t=1  instructions that sync time or flags mid-block, each followed by an increment in the
 *        same block: every counter must end at 1
 *   t=2  long REP MOVS/STOS/CMPS/LODS/SCAS over pages touched for the first time, with the PIT
 *        running: the data checksum (and with tsc=1, the time and tick count they took)
 *   t=3  #PF whose IDT gate lies on a not-present page -> #PF again -> #DF, handled
 *   t=4  every IDT gate on a not-present page: #UD -> #PF -> #DF -> triple fault
 *   t=5  the stack on a not-present page: INT3 -> #PF -> #DF -> triple fault
 *   t=6  guest-physical addresses outside RAM through PTEs with U/S, R/W, CR0.WP: faults,
 *        error codes, and the A/D bits the processor sets
 *   t=7  an exception loop that never retires an instruction: the #UD handler and the stack lie
 *        outside RAM (shadowvisor only: there the handler's bytes read all ones, an invalid
 *        opcode, and the run must stop with a clear message; QEMU reads zeros and runs them)
 */
#include "runtime.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u

/* Beyond the 64 MiB of RAM the ABI's reference command line gives, below any PCI window. */
#define HOLE_GPA 0x08000000u
#define HOLE_VA 0x60000000u /* 4 pages mapping HOLE_GPA with different permissions */
#define IDT_VA 0x61000000u  /* a page of IDT followed by a page left not present */

static uint32_t *pd, *pt_low, *pt_hole, *pt_idt;
static uint32_t next_frame = 0x00400000u;
static int show_time;
static uint8_t user_stack[8192] __attribute__((aligned(4096)));
static uint8_t trap_stack[8192] __attribute__((aligned(16)));

static uint32_t alloc_frame(void) {
  uint32_t f = next_frame;
  next_frame += 4096;
  memset((void *)f, 0, 4096);
  return f;
}

/* Identity map of the first 4 MiB (user, writable; page 0 absent) and 4-64 MiB (kernel). */
static void paging_on(void) {
  pd = (uint32_t *)alloc_frame();
  pt_low = (uint32_t *)alloc_frame();
  for (uint32_t i = 1; i < 1024; i++) pt_low[i] = (i << 12) | PTE_P | PTE_W | PTE_U;
  pd[0] = (uint32_t)pt_low | PTE_P | PTE_W | PTE_U;
  for (uint32_t i = 1; i < 16; i++) pd[i] = (i << 22) | PTE_P | PTE_W | PTE_PS;
  write_cr4(read_cr4() | 0x10);
  write_cr3((uint32_t)pd);
  write_cr0(read_cr0() | 0x80010000u); /* PG | WP */
}

/* ---- t=1: the rest of a block runs once ------------------------------------------------- */

static volatile uint32_t ctr[6];

static void test_block_tail(void) {
  /* Each sequence: the instruction under test, an increment, and a not-taken branch that ends
   * the block without setting EIP, so a stale EIP left by the handler would re-run the tail. */
  __asm__ volatile("rdtsc\n\tincl %0\n\txorl %%ecx, %%ecx\n\tjnz 1f\n1:" : "+m"(ctr[0]) : : "eax", "ecx", "edx", "cc");
  __asm__ volatile("xorl %%eax, %%eax\n\tcpuid\n\tincl %0\n\txorl %%ecx, %%ecx\n\tjnz 1f\n1:" : "+m"(ctr[1]) : : "eax", "ebx", "ecx", "edx", "cc");
  __asm__ volatile("pushfl\n\tincl %0\n\tpopfl\n\tincl %1\n\txorl %%ecx, %%ecx\n\tjnz 1f\n1:" : "+m"(ctr[2]), "+m"(ctr[3]) : : "ecx", "cc");
  __asm__ volatile("movw $0x3fd, %%dx\n\tinb %%dx, %%al\n\tincl %0\n\txorl %%ecx, %%ecx\n\tjnz 1f\n1:" : "+m"(ctr[4]) : : "eax", "ecx", "edx", "cc");
  __asm__ volatile("cli\n\tincl %0\n\txorl %%ecx, %%ecx\n\tjnz 1f\n1:" : "+m"(ctr[5]) : : "ecx", "cc");
  int ok = 1;
  for (int k = 0; k < 6; k++) ok &= ctr[k] == 1;
  printf("hostile: t1 rdtsc=%u cpuid=%u pushf=%u popf=%u in=%u cli=%u\n", ctr[0], ctr[1], ctr[2], ctr[3], ctr[4], ctr[5]);
  printf("hostile: t1 %s\n", ok ? "PASS" : "FAIL");
  exit(ok ? 0 : 1);
}

/* ---- t=2: REP string instructions and virtual time -------------------------------------- */

static volatile uint32_t ticks;
static void timer_handler(struct trapframe *tf) {
  (void)tf;
  ticks++;
  pic_eoi(0);
}

#define REP_SRC 0x01000000u /* 16 MiB: never touched before this test */
#define REP_DST 0x01800000u
#define REP_LEN 0x00300000u /* 3 MiB: 768 pages, far more than 64K iterations */

static void test_rep_time(void) {
  trap_set_handler(IRQ_BASE + 0, timer_handler);
  pit_set_periodic(5000);
  pic_unmask(0);
  sti();
  uint64_t t0 = rdtsc();
  uint32_t n = REP_LEN, d = REP_SRC;
  __asm__ volatile("cld\n\trep stosb" : "+c"(n), "+D"(d) : "a"(0x5a) : "memory");
  for (uint32_t k = 0; k < REP_LEN; k += 4096) *(volatile uint8_t *)(REP_SRC + k) = (uint8_t)(k >> 12);
  uint32_t s = REP_SRC;
  n = REP_LEN / 4;
  d = REP_DST;
  __asm__ volatile("rep movsl" : "+c"(n), "+S"(s), "+D"(d) : : "memory");
  n = REP_LEN;
  s = REP_SRC;
  d = REP_DST;
  __asm__ volatile("repe cmpsb" : "+c"(n), "+S"(s), "+D"(d) : : "memory", "cc");
  uint32_t left_cmps = n;
  /* backwards copy of the first page over the second, then a scan for a byte that is not there */
  n = 4096;
  s = REP_DST + 4095;
  d = REP_DST + 8191;
  __asm__ volatile("std\n\trep movsb\n\tcld" : "+c"(n), "+S"(s), "+D"(d) : : "memory");
  n = REP_LEN;
  d = REP_DST;
  __asm__ volatile("repne scasb" : "+c"(n), "+D"(d) : "a"(0x77) : "memory", "cc");
  uint32_t left_scas = n;
  uint32_t last = 0;
  n = 70000;
  s = REP_SRC;
  __asm__ volatile("rep lodsb" : "+c"(n), "+S"(s), "=a"(last) : : "memory");
  uint64_t t1 = rdtsc();
  cli();
  pic_mask(0);
  uint32_t sum = 0;
  for (uint32_t k = 0; k < REP_LEN; k += 4) sum = sum * 31u + *(volatile uint32_t *)(REP_DST + k);
  printf("hostile: t2 sum=%x cmps_left=%u scas_left=%u lods_last=%x\n", sum, left_cmps, left_scas, last & 0xff);
  if (show_time) printf("hostile: t2 time=%u ticks=%u\n", (uint32_t)(t1 - t0), ticks);
  printf("hostile: t2 done\n");
  exit(0);
}

/* ---- t=3..5: faults while delivering exceptions ----------------------------------------- */

static volatile uint32_t df_seen, df_err, df_cr2;
static void df_handler(struct trapframe *tf) {
  df_seen++;
  df_err = tf->err;
  df_cr2 = read_cr2();
  printf("hostile: t3 #DF err=%x cr2=%x\n", df_err, df_cr2 - IDT_VA);
  printf("hostile: t3 PASS\n");
  exit(0);
}

/* An IDT that starts 9 gates before the end of a present page: gates 0..8 (including #DF) are
 * readable, gates 9 and up (#GP, #PF) lie on the next page, which is not present. */
static void idt_across_hole(uint32_t nr_present_gates) {
  pt_idt = (uint32_t *)alloc_frame();
  pd[IDT_VA >> 22] = (uint32_t)pt_idt | PTE_P | PTE_W;
  uint32_t f = alloc_frame();
  pt_idt[0] = f | PTE_P | PTE_W; /* page IDT_VA present, IDT_VA + 4096 not */
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } cur;
  __asm__ volatile("sidt %0" : "=m"(cur));
  uint32_t base = IDT_VA + 4096 - 8 * nr_present_gates;
  memcpy((void *)base, (void *)cur.base, 8 * nr_present_gates);
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = { 256 * 8 - 1, base };
  __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

static void test_df_handled(void) {
  paging_on();
  trap_set_handler(8, df_handler);
  idt_across_hole(9);
  printf("hostile: t3 touching a not-present page\n");
  /* #PF at 0x00000010 (page 0 is absent); reading gate 14 faults again: #PF + #PF = #DF */
  __asm__ volatile("movl 0x10, %%eax" : : : "eax", "memory");
  printf("hostile: t3 FAIL (no fault)\n");
  exit(1);
}

static void test_triple_idt(void) {
  paging_on();
  idt_across_hole(0);
  printf("hostile: t4 #UD with every gate on a not-present page\n");
  __asm__ volatile("ud2");
  printf("hostile: t4 FAIL (survived)\n");
  exit(1);
}

static void test_triple_stack(void) {
  paging_on();
  printf("hostile: t5 INT3 with the stack on a not-present page\n");
  /* page 0 is absent: ESP = 0x800 makes every push fault, including those of #PF and #DF */
  __asm__ volatile("movl $0x800, %%esp\n\tint3" : : : "memory");
  printf("hostile: t5 FAIL (survived)\n");
  exit(1);
}

/* ---- t=6: PTE permissions on addresses outside RAM -------------------------------------- */

static volatile uint32_t pf_err, pf_cr2, pf_count;
static void pf_recover(struct trapframe *tf) {
  pf_err = tf->err;
  pf_cr2 = read_cr2();
  pf_count++;
  if (tf->cs & 3) leave_user(0x100 | 14);
  if (!trap_recover) {
    printf("hostile: unexpected #PF cr2=%x err=%x eip=%x\n", pf_cr2, pf_err, tf->eip);
    exit(0x7d);
  }
  tf->eip = trap_recover;
  trap_recover = 0;
}
static void syscall_exit(struct trapframe *tf) { leave_user(tf->ebx); }

/* One ring 0 access: returns the #PF error code + 0x100, or 0 when it did not fault. */
static uint32_t k_read(uint32_t va, uint32_t *val) {
  uint32_t c0 = pf_count, v = 0;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl (%1), %0\n\tmovl $0, trap_recover\n1:" : "+r"(v) : "r"(va) : "memory");
  *val = v;
  return pf_count != c0 ? 0x100 | pf_err : 0;
}
static uint32_t k_write(uint32_t va, uint32_t v) {
  uint32_t c0 = pf_count;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl %1, (%0)\n\tmovl $0, trap_recover\n1:" : : "r"(va), "r"(v) : "memory");
  return pf_count != c0 ? 0x100 | pf_err : 0;
}

/* Ring 3 programs: their argument comes in a fixed place they can read. */
static volatile uint32_t user_arg __attribute__((aligned(4096)));
static volatile uint32_t user_val;
static void user_read(void) {
  user_val = *(volatile uint32_t *)user_arg;
  __asm__ volatile("int $0x80" : : "b"(0x55) : "memory");
}
static void user_write(void) {
  *(volatile uint32_t *)user_arg = 0x12345678u;
  __asm__ volatile("int $0x80" : : "b"(0x66) : "memory");
}
static uint32_t u_run(void (*fn)(void), uint32_t va) {
  user_arg = va;
  user_val = 0;
  uint32_t *sp = (uint32_t *)(user_stack + sizeof user_stack) - 1;
  *sp = 0;
  uint32_t r = enter_user((uint32_t)fn, (uint32_t)sp, 0x202);
  return r == (0x100 | 14) ? 0x100 | pf_err : r == 0x55 || r == 0x66 ? 0 : 0xdead;
}

static void test_hole_perms(void) {
  paging_on();
  tss_set_kernel_stack((uint32_t)trap_stack + sizeof trap_stack);
  trap_set_handler(14, pf_recover);
  trap_set_handler(0x80, syscall_exit);
  idt_set_dpl(0x80, 3);
  pt_hole = (uint32_t *)alloc_frame();
  pd[HOLE_VA >> 22] = (uint32_t)pt_hole | PTE_P | PTE_W | PTE_U;
  const uint32_t kern_rw = HOLE_VA, user_ro = HOLE_VA + 0x1000, user_rw = HOLE_VA + 0x2000, kern_ro = HOLE_VA + 0x3000;
  pt_hole[0] = (HOLE_GPA + 0x0000) | PTE_P | PTE_W;
  pt_hole[1] = (HOLE_GPA + 0x1000) | PTE_P | PTE_U;
  pt_hole[2] = (HOLE_GPA + 0x2000) | PTE_P | PTE_W | PTE_U;
  pt_hole[3] = (HOLE_GPA + 0x3000) | PTE_P;
  uint32_t v = 0, r;

  /* ring 0 reads everything; a read sets A only */
  r = k_read(kern_rw, &v);
  /* the value read is not printed: GUEST-ABI reads all ones there, QEMU reads zeros */
  printf("hostile: t6 k-read kern_rw: fault=%x pte=%x\n", r, pt_hole[0] & 0x67);
  r = k_read(user_ro, &v);
  printf("hostile: t6 k-read user_ro: fault=%x pte=%x\n", r, pt_hole[1] & 0x67);
  /* ring 3: supervisor pages fault with U|P (read) and U|W|P (write) */
  printf("hostile: t6 u-read kern_rw: fault=%x\n", u_run(user_read, kern_rw));
  printf("hostile: t6 u-write kern_rw: fault=%x\n", u_run(user_write, kern_rw));
  r = u_run(user_read, user_ro);
  printf("hostile: t6 u-read user_ro: fault=%x\n", r);
  printf("hostile: t6 u-write user_ro: fault=%x\n", u_run(user_write, user_ro));
  r = u_run(user_write, user_rw);
  printf("hostile: t6 u-write user_rw: fault=%x pte=%x\n", r, pt_hole[2] & 0x67);
  /* ring 0 writes: CR0.WP=1 honours R/W, CR0.WP=0 ignores it; a write sets D */
  r = k_write(kern_ro, 1);
  printf("hostile: t6 k-write kern_ro wp=1: fault=%x pte=%x\n", r, pt_hole[3] & 0x67);
  printf("hostile: t6 k-write user_ro wp=1: fault=%x\n", k_write(user_ro, 1));
  write_cr0(read_cr0() & ~0x00010000u);
  r = k_write(kern_ro, 1);
  printf("hostile: t6 k-write kern_ro wp=0: fault=%x pte=%x\n", r, pt_hole[3] & 0x67);
  write_cr0(read_cr0() | 0x00010000u);
  r = k_write(kern_rw, 1);
  printf("hostile: t6 k-write kern_rw: fault=%x pte=%x\n", r, pt_hole[0] & 0x67);
  /* after a read made the spte, a write through the same clean PTE must still set D */
  pt_hole[2] = (HOLE_GPA + 0x2000) | PTE_P | PTE_W | PTE_U;
  invlpg(user_rw);
  r = k_read(user_rw, &v);
  uint32_t pte_after_read = pt_hole[2] & 0x67;
  uint32_t w = k_write(user_rw, 2);
  printf("hostile: t6 k-read then write user_rw: %x pte=%x, %x pte=%x\n", r, pte_after_read, w, pt_hole[2] & 0x67);
  printf("hostile: t6 done\n");
  exit(0);
}

/* ---- t=7: an exception loop ------------------------------------------------------------- */

static void test_exception_loop(void) {
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } cur;
  __asm__ volatile("sidt %0" : "=m"(cur));
  uint32_t *gate6 = (uint32_t *)(cur.base + 6 * 8);
  const uint32_t handler = 0xF1000000u;
  gate6[0] = (gate6[0] & 0xFFFF0000u) | (handler & 0xFFFFu);
  gate6[1] = (gate6[1] & 0x0000FFFFu) | (handler & 0xFFFF0000u);
  printf("hostile: t7 #UD with its handler and the stack outside RAM\n");
  __asm__ volatile("movl $0xF0000000, %%esp\n\tud2" : : : "memory");
  printf("hostile: t7 FAIL (survived)\n");
  exit(1);
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  const char *cmd = multiboot_cmdline(magic, mbi);
  uint32_t t = cmdline_uint(cmd, "t", 0);
  show_time = cmdline_uint(cmd, "tsc", 0) != 0;
  gdt_init();
  idt_init();
  pic_remap(IRQ_BASE, IRQ_BASE + 8);
  printf("hostile: t=%u\n", t);
  switch (t) {
    case 1: test_block_tail(); break;
    case 2: test_rep_time(); break;
    case 3: test_df_handled(); break;
    case 4: test_triple_idt(); break;
    case 5: test_triple_stack(); break;
    case 6: test_hole_perms(); break;
    case 7: test_exception_loop(); break;
    default: break;
  }
  printf("hostile: unknown scenario (t=1..7)\n");
  return 2;
}
