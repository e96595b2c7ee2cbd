/* pagetest: a small kernel that exercises x86 32-bit paging and protection the way an OS does:
 * own GDT/TSS/IDT, identity map with 4 KiB and 4 MiB (PSE) pages, demand paging from the #PF
 * handler, A/D bits, CR0.WP, INVLPG, two address spaces, ring 3 with INT 0x80 syscalls, and the
 * PIT timer through the remapped PIC. Mirrors the duties of Linux's paging_init, do_page_fault,
 * switch_mm and the entry/syscall path. Only behaviour x86 guarantees is checked, so the output
 * is identical on any correct implementation. Exit value = number of failed tests. */
#include "runtime.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u
#define PF_P 1u
#define PF_W 2u
#define PF_U 4u

#define DEMAND_BASE 0x40000000u /* 4 MiB window of demand-paged 4 KiB pages */
#define USER_DEMAND 0x40200000u /* its upper half is demand-mapped for ring 3 */
#define WP_PAGE 0x40020000u     /* read-only page made writable by the #PF handler */
#define SPLIT_VA 0x50000000u    /* same VA, different frame in each address space */
#define BIG_VA 0x80000000u      /* a 4 MiB page mapped at setup */
#define BIG_PHYS 0x01000000u
#define BIG_DEMAND_VA 0xC0000000u /* a 4 MiB page mapped by the #PF handler */
#define BIG_DEMAND_PHYS 0x01400000u

static uint32_t failures;
static uint32_t *pd_a, *pd_b, *pt_low, *pt_demand;
static uint32_t next_frame = 0x00400000u; /* frame pool: 4 MiB .. 16 MiB, kernel-only */

static uint8_t secret_page[4096] __attribute__((aligned(4096)));  /* supervisor-only */
static uint8_t ro_page[4096] __attribute__((aligned(4096))) = {1}; /* user, read-only */
static uint8_t user_stack[16384] __attribute__((aligned(4096)));
static uint8_t trap_stack[16384] __attribute__((aligned(16)));

static volatile uint32_t pf_count, pf_last_cr2, pf_last_err, pf_last_eip;
static volatile uint32_t pf_last_ecx, pf_last_esi, pf_last_edi;
/* One prepared mapping the #PF handler installs when the fault hits that page. */
static volatile uint32_t pending_va = 1, pending_frame;
static volatile uint32_t df_count, df_err;
static volatile uint32_t ticks, user_ticks;
static volatile uint32_t user_fault_vector, user_fault_err;

static void report(const char *name, int ok) {
  printf("pagetest: %s %s\n", name, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

static uint32_t alloc_frame(void) {
  uint32_t f = next_frame;
  next_frame += 4096;
  memset((void *)f, 0, 4096);
  return f;
}

static uint32_t *pte_of(uint32_t *pd, uint32_t va) {
  uint32_t *pt = (uint32_t *)(pd[va >> 22] & ~0xFFFu);
  return &pt[(va >> 12) & 1023];
}

/* ---- traps ---------------------------------------------------------------------------- */

/* Demand paging and the few faults the tests provoke on purpose. Anything else from ring 3
 * ends the user program; anything else from ring 0 uses the trap_recover point or stops. */
static void pf_handler(struct trapframe *tf) {
  uint32_t cr2 = read_cr2(), err = tf->err;
  pf_count++;
  pf_last_cr2 = cr2;
  pf_last_err = err;
  pf_last_eip = tf->eip;
  pf_last_ecx = tf->ecx;
  pf_last_esi = tf->esi;
  pf_last_edi = tf->edi;
  if ((cr2 & ~0xFFFu) == pending_va && !(err & PF_P)) {
    *pte_of(pd_a, cr2) = pending_frame | PTE_P | PTE_W;
    pending_va = 1;
    return;
  }
  if (cr2 - DEMAND_BASE < 0x400000u && !(err & PF_P) && cr2 - WP_PAGE >= 0x1000u) {
    uint32_t f = alloc_frame();
    uint32_t page = cr2 & ~0xFFFu;
    for (uint32_t i = 0; i < 1024; i++) ((uint32_t *)f)[i] = page + 4 * i; /* recognisable contents */
    *pte_of(pd_a, cr2) = f | PTE_P | PTE_W | (cr2 >= USER_DEMAND ? PTE_U : 0);
    return; /* a not-present entry is never cached: no flush needed */
  }
  if ((cr2 & ~0xFFFu) == WP_PAGE && (err & (PF_P | PF_W)) == (PF_P | PF_W) && !(tf->cs & 3)) {
    *pte_of(pd_a, cr2) |= PTE_W;
    invlpg(cr2);
    return;
  }
  if (cr2 - BIG_DEMAND_VA < 0x400000u && !(err & PF_P)) {
    pd_a[cr2 >> 22] = BIG_DEMAND_PHYS | PTE_P | PTE_W | PTE_PS;
    return;
  }
  if (tf->cs & 3) {
    user_fault_vector = 14;
    user_fault_err = err;
    leave_user(0x100 | 14);
  }
  if (trap_recover) {
    tf->eip = trap_recover;
    trap_recover = 0;
    return;
  }
  printf("pagetest: unexpected #PF cr2=%x err=%x eip=%x\n", cr2, err, tf->eip);
  exit(0x7d);
}

/* #DF: the saved CS:EIP are undefined, so it never returns to them; the test that provokes it
 * leaves through trap_recover. */
static void df_handler(struct trapframe *tf) {
  df_count++;
  df_err = tf->err;
  if (trap_recover) {
    tf->eip = trap_recover;
    trap_recover = 0;
    return;
  }
  printf("pagetest: unexpected #DF\n");
  exit(0x7b);
}

static void user_fault_handler(struct trapframe *tf) {
  if (tf->cs & 3) {
    user_fault_vector = tf->vector;
    user_fault_err = tf->err;
    leave_user(0x100 | tf->vector);
  }
  printf("pagetest: unexpected kernel trap %u err=%x eip=%x\n", tf->vector, tf->err, tf->eip);
  exit(0x7c);
}

static void timer_handler(struct trapframe *tf) {
  ticks++;
  if (tf->cs & 3) user_ticks++;
  pic_eoi(0);
}

enum { SYS_WRITE = 1, SYS_EXIT = 2, SYS_TICKS = 3, SYS_WHOAMI = 4, SYS_IF = 5 };

static void syscall_handler(struct trapframe *tf) {
  switch (tf->eax) {
    case SYS_WRITE: print_str((const char *)tf->ebx); tf->eax = 0; break;
    case SYS_EXIT: leave_user(tf->ebx);
    case SYS_TICKS: tf->eax = ticks; break;
    case SYS_WHOAMI: {
      /* what the kernel sees of the caller: CPL 3, user SS, and a frame on the TSS stack */
      uint32_t here = (uint32_t)tf, ok = 0;
      if ((tf->cs & 3) == 3) ok |= 1;
      if (tf->user_ss == USER_DS) ok |= 2;
      if (here >= (uint32_t)trap_stack && here < (uint32_t)trap_stack + sizeof trap_stack) ok |= 4;
      if (tf->user_esp > (uint32_t)user_stack && tf->user_esp <= (uint32_t)user_stack + sizeof user_stack) ok |= 8;
      tf->eax = ok;
      break;
    }
    case SYS_IF: {
      /* IF inside the handler: cleared by an interrupt gate, kept by a trap gate */
      uint32_t f;
      __asm__ volatile("pushfl; popl %0" : "=r"(f));
      tf->eax = (f >> 9) & 1;
      break;
    }
    default: tf->eax = 0xFFFFFFFFu; break;
  }
}

/* ---- ring 3 programs (they touch only user pages: their code, stack, strings, ticks) --- */

static inline uint32_t syscall1(uint32_t nr, uint32_t a) {
  uint32_t r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a) : "memory");
  return r;
}

static void user_hello(void) {
  syscall1(SYS_WRITE, (uint32_t)"pagetest: hello from ring 3\n");
  syscall1(SYS_EXIT, syscall1(SYS_WHOAMI, 0));
}
static void user_read_secret(void) {
  volatile uint8_t *p = secret_page;
  syscall1(SYS_EXIT, p[100]);
}
static void user_write_ro(void) {
  volatile uint8_t *p = ro_page;
  p[8] = 1;
  syscall1(SYS_EXIT, 0);
}
static void user_cli(void) {
  __asm__ volatile("cli");
  syscall1(SYS_EXIT, 0);
}
static void user_hlt(void) {
  __asm__ volatile("hlt");
  syscall1(SYS_EXIT, 0);
}
static void user_int81(void) {
  __asm__ volatile("int $0x81");
  syscall1(SYS_EXIT, 0);
}
static void user_inb(void) {
  (void)inb(0x21);
  syscall1(SYS_EXIT, 0);
}
static void user_demand(void) {
  volatile uint32_t *p = (volatile uint32_t *)(USER_DEMAND + 0x3010);
  uint32_t v = *p; /* handler fills the page with its own addresses */
  p[1] = v + 1;
  syscall1(SYS_EXIT, p[1] == USER_DEMAND + 0x3011 ? 0x55 : 0xEE);
}
static void user_spin_ticks(void) {
  uint32_t t0 = ticks;
  while (ticks < t0 + 3) {
  }
  syscall1(SYS_EXIT, 0x77);
}

static void user_popf(void) {
  uint32_t f;
  /* POPF at CPL 3 with IOPL 0 silently keeps IF and IOPL: no fault */
  __asm__ volatile("pushfl\n\tpopl %0\n\tandl $~0x200, %0\n\torl $0x3000, %0\n\tpushl %0\n\tpopfl\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
  syscall1(SYS_EXIT, ((f >> 9) & 1) | (((f >> 12) & 3) << 1));
}
static void user_mov_cr0(void) {
  uint32_t v;
  __asm__ volatile("movl %%cr0, %0" : "=r"(v));
  syscall1(SYS_EXIT, v);
}
static void user_invlpg(void) {
  __asm__ volatile("invlpg (%0)" : : "r"(0x1000) : "memory");
  syscall1(SYS_EXIT, 0);
}

static void user_if_state(void) {
  uint32_t a, b;
  __asm__ volatile("int $0x80" : "=a"(a) : "a"(SYS_IF) : "memory");
  __asm__ volatile("int $0x82" : "=a"(b) : "a"(SYS_IF) : "memory");
  syscall1(SYS_EXIT, a | (b << 1));
}
static void user_div0(void) {
  volatile uint32_t z = 0;
  syscall1(SYS_EXIT, 100 / z);
}
static void user_ud2(void) {
  __asm__ volatile("ud2");
  syscall1(SYS_EXIT, 0);
}
static void user_int3(void) {
  __asm__ volatile("int3");
  syscall1(SYS_EXIT, 0);
}
static void user_load_kernel_ds(void) {
  __asm__ volatile("movw $0x13, %%ax\n\tmovw %%ax, %%ds" : : : "eax", "memory");
  syscall1(SYS_EXIT, 0);
}

static uint32_t run_user(void (*fn)(void)) {
  uint32_t *sp = (uint32_t *)(user_stack + sizeof user_stack) - 1;
  *sp = 0; /* a return address that is never used */
  user_fault_vector = 0;
  user_fault_err = 0xFFFFFFFFu;
  return enter_user((uint32_t)fn, (uint32_t)sp, 0x202);
}

/* ---- setup ---------------------------------------------------------------------------- */

static void setup_paging(void) {
  pd_a = (uint32_t *)alloc_frame();
  pt_low = (uint32_t *)alloc_frame();
  pt_demand = (uint32_t *)alloc_frame();
  /* 0-4 MiB: 4 KiB pages, user-accessible (the image holds the ring 3 code), page 0 absent */
  for (uint32_t i = 1; i < 1024; i++) pt_low[i] = (i << 12) | PTE_P | PTE_W | PTE_U;
  pt_low[(uint32_t)secret_page >> 12] &= ~PTE_U;
  pt_low[(uint32_t)ro_page >> 12] &= ~PTE_W;
  pd_a[0] = (uint32_t)pt_low | PTE_P | PTE_W | PTE_U;
  /* 4-64 MiB: 4 MiB identity pages, kernel only */
  for (uint32_t i = 1; i < 16; i++) pd_a[i] = (i << 22) | PTE_P | PTE_W | PTE_PS;
  pd_a[DEMAND_BASE >> 22] = (uint32_t)pt_demand | PTE_P | PTE_W | PTE_U;
  pd_a[BIG_VA >> 22] = BIG_PHYS | PTE_P | PTE_W | PTE_PS;
  /* the split VA: one page table per address space, each mapping a different frame */
  uint32_t *pt_sa = (uint32_t *)alloc_frame(), *pt_sb = (uint32_t *)alloc_frame();
  uint32_t fa = alloc_frame(), fb = alloc_frame();
  *(uint32_t *)fa = 0xAAAA0001u;
  *(uint32_t *)fb = 0xBBBB0002u;
  pt_sa[0] = fa | PTE_P | PTE_W;
  pt_sb[0] = fb | PTE_P | PTE_W;
  pd_a[SPLIT_VA >> 22] = (uint32_t)pt_sa | PTE_P | PTE_W;
  pd_b = (uint32_t *)alloc_frame();
  memcpy(pd_b, pd_a, 4096);
  pd_b[SPLIT_VA >> 22] = (uint32_t)pt_sb | PTE_P | PTE_W;

  write_cr4(read_cr4() | 0x10); /* PSE */
  write_cr3((uint32_t)pd_a);
  write_cr0(read_cr0() | 0x80010000u); /* PG | WP */
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_demand(void) {
  pf_count = 0;
  volatile uint32_t *p = (volatile uint32_t *)(DEMAND_BASE + 0x1008);
  uint32_t v = *p;
  report("demand read fault resolved", v == DEMAND_BASE + 0x1008 && pf_count == 1);
  report("demand read cr2 and error code", pf_last_cr2 == DEMAND_BASE + 0x1008 && pf_last_err == 0);
  volatile uint32_t *q = (volatile uint32_t *)(DEMAND_BASE + 0x2000);
  *q = 0x12345678u;
  report("demand write fault resolved", *q == 0x12345678u && pf_count == 2);
  report("demand write error code W", pf_last_cr2 == DEMAND_BASE + 0x2000 && pf_last_err == PF_W);
  (void)*p;
  report("no fault once mapped", pf_count == 2);
}

static void test_accessed_dirty(void) {
  uint32_t va = DEMAND_BASE + 0x10000, f = alloc_frame();
  uint32_t *pte = pte_of(pd_a, va);
  *pte = f | PTE_P | PTE_W;
  pd_a[va >> 22] &= ~(PTE_A | PTE_D);
  invlpg(va);
  (void)*(volatile uint32_t *)va;
  report("read sets A, not D", (*pte & (PTE_A | PTE_D)) == PTE_A);
  report("walk sets PDE A", (pd_a[va >> 22] & PTE_A) != 0);
  *(volatile uint32_t *)(va + 4) = 1;
  report("write sets D", (*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D));
  report("PDE of a page table gets no D", (pd_a[va >> 22] & PTE_D) == 0);
  /* 4 MiB page: A and D live in the PDE */
  pd_a[BIG_VA >> 22] &= ~(PTE_A | PTE_D);
  invlpg(BIG_VA + 0x123450);
  (void)*(volatile uint32_t *)(BIG_VA + 0x123450);
  report("4M read sets A only", (pd_a[BIG_VA >> 22] & (PTE_A | PTE_D)) == PTE_A);
  *(volatile uint32_t *)(BIG_VA + 0x123450) = 0xB16B00B5u;
  report("4M write sets D", (pd_a[BIG_VA >> 22] & (PTE_A | PTE_D)) == (PTE_A | PTE_D));
}

static void test_big_pages(void) {
  *(volatile uint32_t *)(BIG_VA + 0x3FFFFC) = 0x4D1B0000u;
  report("4M page maps its physical range", *(volatile uint32_t *)(BIG_PHYS + 0x3FFFFC) == 0x4D1B0000u &&
                                                *(volatile uint32_t *)(BIG_PHYS + 0x123450) == 0xB16B00B5u);
  pf_count = 0;
  *(volatile uint32_t *)(BIG_DEMAND_VA + 0x200004) = 0xC0DE;
  report("4M demand fault resolved", pf_count == 1 && pf_last_cr2 == BIG_DEMAND_VA + 0x200004 && pf_last_err == PF_W &&
                                         *(volatile uint32_t *)(BIG_DEMAND_PHYS + 0x200004) == 0xC0DE);
}

static void test_write_protect(void) {
  uint32_t *pte = pte_of(pd_a, WP_PAGE);
  *pte = alloc_frame() | PTE_P; /* read-only, supervisor */
  pf_count = 0;
  *(volatile uint32_t *)(WP_PAGE + 0x40) = 7;
  report("CR0.WP=1: kernel write to read-only page faults", pf_count == 1 && pf_last_err == (PF_P | PF_W) &&
                                                                pf_last_cr2 == WP_PAGE + 0x40);
  report("write completes after the handler", *(volatile uint32_t *)(WP_PAGE + 0x40) == 7 && (*pte & PTE_W));
  *pte &= ~PTE_W;
  invlpg(WP_PAGE);
  write_cr0(read_cr0() & ~0x00010000u);
  pf_count = 0;
  *(volatile uint32_t *)(WP_PAGE + 0x44) = 9;
  write_cr0(read_cr0() | 0x00010000u);
  report("CR0.WP=0: kernel writes read-only page", pf_count == 0 && *(volatile uint32_t *)(WP_PAGE + 0x44) == 9);
}

static void test_invlpg_cr3(void) {
  uint32_t va = DEMAND_BASE + 0x30000, f1 = alloc_frame(), f2 = alloc_frame();
  *(uint32_t *)f1 = 0x1111u;
  *(uint32_t *)f2 = 0x2222u;
  uint32_t *pte = pte_of(pd_a, va);
  *pte = f1 | PTE_P | PTE_W;
  uint32_t a = *(volatile uint32_t *)va;
  *pte = f2 | PTE_P | PTE_W;
  invlpg(va);
  uint32_t b = *(volatile uint32_t *)va;
  report("INVLPG makes a changed PTE visible", a == 0x1111u && b == 0x2222u);
  *pte = f1 | PTE_P | PTE_W;
  write_cr3(read_cr3());
  report("CR3 reload makes a changed PTE visible", *(volatile uint32_t *)va == 0x1111u);
  *pte = 0;
  invlpg(va);
  pf_count = 0;
  uint32_t got = *(volatile uint32_t *)va;
  /* the demand handler maps a fresh page (not present, inside the window): the refault is visible */
  report("unmapped page faults again after INVLPG", pf_count == 1 && pf_last_cr2 == va && got == va);
}

static void test_address_spaces(void) {
  volatile uint32_t *p = (volatile uint32_t *)SPLIT_VA;
  uint32_t in_a = *p;
  write_cr3((uint32_t)pd_b);
  uint32_t in_b = *p;
  *p = 0xBBBB0003u;
  write_cr3((uint32_t)pd_a);
  uint32_t back = *p;
  write_cr3((uint32_t)pd_b);
  uint32_t b2 = *p;
  write_cr3((uint32_t)pd_a);
  report("CR3 switch changes the translation", in_a == 0xAAAA0001u && in_b == 0xBBBB0002u);
  report("writes stay in their address space", back == 0xAAAA0001u && b2 == 0xBBBB0003u);
}

static void test_null_and_kernel_faults(void) {
  uint32_t v = 0;
  pf_count = 0;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl 0, %0\n\tmovl $0, trap_recover\n1:" : "+r"(v) : : "memory");
  report("null page faults (not present, read)", pf_count == 1 && pf_last_cr2 == 0 && pf_last_err == 0);
  pf_count = 0;
  __asm__ volatile("movl $1f, trap_recover\n\tmovl $5, 0x3FFFFFF0\n\tmovl $0, trap_recover\n1:" : : : "memory");
  report("unmapped kernel write faults", pf_count == 1 && pf_last_cr2 == 0x3FFFFFF0u && pf_last_err == PF_W);
}

typedef uint32_t (*code_fn)(void);

static void test_straddle(void) {
  /* data access across a page boundary whose two pages are not physically contiguous */
  uint32_t va = DEMAND_BASE + 0x60000, f1 = alloc_frame(), gap = alloc_frame(), f2 = alloc_frame();
  (void)gap;
  *pte_of(pd_a, va) = f1 | PTE_P | PTE_W;
  *pte_of(pd_a, va + 0x1000) = f2 | PTE_P | PTE_W;
  *(volatile uint32_t *)(va + 0xFFE) = 0x11223344u;
  report("straddling write splits across frames", *(volatile uint16_t *)(f1 + 0xFFE) == 0x3344 &&
                                                      *(volatile uint16_t *)f2 == 0x1122 &&
                                                      *(volatile uint16_t *)(f1 + 0x1000) == 0);
  *(volatile uint8_t *)(f1 + 0xFFF) = 0xAB;
  *(volatile uint8_t *)(f2 + 0) = 0xCD;
  *(volatile uint8_t *)(f2 + 1) = 0xEF;
  report("straddling read joins two frames", *(volatile uint32_t *)(va + 0xFFD) == 0xCDAB4400u);

  /* an instruction whose tail lies in a not-present page: #PF at the second page, EIP at the
   * instruction's first byte, fetch error code without any I/D bit (32-bit paging has no NX) */
  uint32_t cva = DEMAND_BASE + 0x70000, c1 = alloc_frame(), c2 = alloc_frame();
  *pte_of(pd_a, cva) = c1 | PTE_P | PTE_W;
  uint8_t *head = (uint8_t *)(c1 + 0xFFE), *tail = (uint8_t *)c2;
  head[0] = 0xB8; head[1] = 0x78; /* mov $0x12345678, %eax; ret */
  tail[0] = 0x56; tail[1] = 0x34; tail[2] = 0x12; tail[3] = 0xC3;
  pending_va = cva + 0x1000;
  pending_frame = c2;
  pf_count = 0;
  uint32_t r = ((code_fn)(cva + 0xFFE))();
  report("fetch across into a not-present page: #PF there, resumed", r == 0x12345678u && pf_count == 1 &&
                                                                       pf_last_cr2 == cva + 0x1000 &&
                                                                       pf_last_eip == cva + 0xFFE);
  report("instruction fetch #PF error code has no I/D bit", pf_last_err == 0);
  /* a jump straight into a not-present page */
  uint32_t jva = DEMAND_BASE + 0x80000, j1 = alloc_frame();
  *(uint8_t *)j1 = 0x31; *(uint8_t *)(j1 + 1) = 0xC0; *(uint8_t *)(j1 + 2) = 0xC3; /* xor %eax,%eax; ret */
  pending_va = jva;
  pending_frame = j1;
  pf_count = 0;
  r = ((code_fn)jva)();
  report("call into a not-present page: #PF with CR2 = EIP", r == 0 && pf_count == 1 && pf_last_cr2 == jva &&
                                                              pf_last_eip == jva && pf_last_err == 0);
}

static void test_rep_fault(void) {
  /* REP MOVSB faulting half-way: at the fault the registers describe the completed iterations,
   * and the instruction resumes from there after the handler maps the page */
  static uint8_t src[6000];
  for (uint32_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 13 + 5);
  uint32_t dva = DEMAND_BASE + 0x90000, d1 = alloc_frame(), d2 = alloc_frame();
  *pte_of(pd_a, dva) = d1 | PTE_P | PTE_W;
  pending_va = dva + 0x1000;
  pending_frame = d2;
  pf_count = 0;
  uint32_t si = (uint32_t)src, di = dva + 0x100, c = sizeof src;
  __asm__ volatile("cld\n\trep movsb" : "+S"(si), "+D"(di), "+c"(c) : : "memory");
  report("REP MOVSB faults mid-way with precise ECX/ESI/EDI", pf_count == 1 && pf_last_cr2 == dva + 0x1000 &&
                                                               pf_last_ecx == sizeof src - 0xF00 &&
                                                               pf_last_esi == (uint32_t)src + 0xF00 &&
                                                               pf_last_edi == dva + 0x1000);
  report("REP MOVSB completes after the fault", c == 0 && memcmp((void *)(dva + 0x100), src, sizeof src) == 0);
}

static void test_smc_alias(void) {
  /* code written through one virtual alias and executed through another: invalidation of
   * cached instructions must follow the physical frame, not the virtual address */
  uint32_t wva = DEMAND_BASE + 0xA0000, xva = DEMAND_BASE + 0xB0000, fr = alloc_frame();
  *pte_of(pd_a, wva) = fr | PTE_P | PTE_W;
  *pte_of(pd_a, xva) = fr | PTE_P;
  volatile uint8_t *w = (volatile uint8_t *)wva;
  w[0] = 0xB8; w[1] = 1; w[2] = 0; w[3] = 0; w[4] = 0; w[5] = 0xC3;
  uint32_t a = ((code_fn)xva)();
  w[1] = 2;
  uint32_t b = ((code_fn)xva)();
  w[2] = 3;
  uint32_t c = ((code_fn)xva)();
  report("code modified through another virtual alias", a == 1 && b == 2 && c == 0x302);
}

static void test_cmov_fault(void) {
  /* CMOVcc reads its memory source even when the condition is false (SDM: temp := SRC) */
  uint32_t v = 7;
  pf_count = 0;
  __asm__ volatile("movl $1f, trap_recover\n\txorl %%ecx, %%ecx\n\tcmovnel 0x3FFFF000, %0\n\tmovl $0, trap_recover\n1:"
                   : "+r"(v) : : "ecx", "cc", "memory");
  report("CMOVcc with a false condition still faults on its source", pf_count == 1 && pf_last_cr2 == 0x3FFFF000u && v == 7);
}

static void test_double_fault(void) {
  /* #DE whose gate is not present: the #NP raised while delivering it is contributory, so the
   * processor delivers #DF (error code 0) instead */
  idt_set_present(0, 0);
  df_count = 0;
  uint32_t a = 1, d = 0, z = 0;
  __asm__ volatile("movl $1f, trap_recover\n\tdivl %2\n\tmovl $0, trap_recover\n1:" : "+a"(a), "+d"(d) : "r"(z) : "cc", "memory");
  idt_set_present(0, 1);
  report("fault while delivering #DE raises #DF", df_count == 1 && df_err == 0);
}

static void test_user(void) {
  tss_set_kernel_stack((uint32_t)trap_stack + sizeof trap_stack);
  uint32_t r = run_user(user_hello);
  report("ring 3 syscalls through INT 0x80", r == 0xF);
  pf_count = 0;
  r = run_user(user_read_secret);
  report("ring 3 read of supervisor page: #PF U|P", r == (0x100 | 14) && user_fault_err == (PF_U | PF_P) &&
                                                        pf_last_cr2 == (uint32_t)secret_page + 100);
  r = run_user(user_write_ro);
  report("ring 3 write of read-only page: #PF U|W|P", r == (0x100 | 14) && user_fault_err == (PF_U | PF_W | PF_P) &&
                                                         pf_last_cr2 == (uint32_t)ro_page + 8);
  r = run_user(user_cli);
  report("ring 3 CLI: #GP(0)", r == (0x100 | 13) && user_fault_err == 0);
  r = run_user(user_hlt);
  report("ring 3 HLT: #GP(0)", r == (0x100 | 13) && user_fault_err == 0);
  r = run_user(user_int81);
  report("ring 3 INT to a DPL 0 gate: #GP(vector*8+2)", r == (0x100 | 13) && user_fault_err == 0x81 * 8 + 2);
  r = run_user(user_inb);
  report("ring 3 IN without IOPL: #GP(0)", r == (0x100 | 13) && user_fault_err == 0);
  r = run_user(user_if_state);
  report("interrupt gate clears IF, trap gate keeps it", r == 2);
  r = run_user(user_div0);
  report("ring 3 divide by zero: #DE to ring 0", r == (0x100 | 0));
  r = run_user(user_ud2);
  report("ring 3 UD2: #UD", r == (0x100 | 6));
  r = run_user(user_int3);
  report("ring 3 INT3 through a DPL 0 gate: #GP(3*8+2)", r == (0x100 | 13) && user_fault_err == 3 * 8 + 2);
  idt_set_dpl(3, 3);
  r = run_user(user_int3);
  idt_set_dpl(3, 0);
  report("ring 3 INT3 through a DPL 3 gate: #BP", r == (0x100 | 3));
  r = run_user(user_load_kernel_ds);
  report("ring 3 loading a DPL 0 data selector: #GP(selector)", r == (0x100 | 13) && user_fault_err == 0x10);
  r = run_user(user_popf);
  report("ring 3 POPF keeps IF and IOPL", r == 1);
  r = run_user(user_mov_cr0);
  report("ring 3 MOV from CR0: #GP(0)", r == (0x100 | 13) && user_fault_err == 0);
  r = run_user(user_invlpg);
  report("ring 3 INVLPG: #GP(0)", r == (0x100 | 13) && user_fault_err == 0);
  pf_count = 0;
  r = run_user(user_demand);
  report("ring 3 demand paging: #PF U then resumes", r == 0x55 && pf_count == 1 && pf_last_err == (PF_U));
}

static void test_timer(void) {
  pic_remap(IRQ_BASE, IRQ_BASE + 8);
  pit_set_periodic(1193); /* about 1 kHz */
  pic_unmask(0);
  ticks = 0;
  sti();
  while (ticks < 5) __asm__ volatile("hlt");
  cli();
  report("PIT IRQ0 wakes HLT: 5 ticks", ticks >= 5);
  user_ticks = 0;
  uint32_t r = run_user(user_spin_ticks);
  report("timer interrupts ring 3 (stack switch via TSS)", r == 0x77 && user_ticks >= 3);
  pic_mask(0);
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  printf("pagetest: start\n");
  /* Exact mem_lower/mem_upper differ between loaders (QEMU 7.2 reports 639 and 64384 KiB for
   * -m 64, GUEST-ABI promises 640 and 64512), so only their plausibility is checked. */
  report("multiboot hand-over", magic == MULTIBOOT_BOOTLOADER_MAGIC && (mbi->flags & 1) && mbi->mem_lower >= 600 &&
                                    mbi->mem_lower <= 640 && mbi->mem_upper >= 60 * 1024 && mbi->mem_upper <= 64512);
  gdt_init();
  idt_init();
  pic_remap(IRQ_BASE, IRQ_BASE + 8);
  trap_set_handler(14, pf_handler);
  trap_set_handler(13, user_fault_handler);
  trap_set_handler(6, user_fault_handler);
  trap_set_handler(8, df_handler);
  trap_set_handler(0, user_fault_handler);
  trap_set_handler(3, user_fault_handler);
  trap_set_handler(0x82, syscall_handler);
  idt_set_dpl(0x82, 3);
  idt_set_trap_gate(0x82, 1);
  trap_set_handler(IRQ_BASE + 0, timer_handler);
  trap_set_handler(0x80, syscall_handler);
  idt_set_dpl(0x80, 3);
  trap_set_handler(0x81, syscall_handler); /* DPL 0: ring 3 may not use it */
  setup_paging();
  report("paging enabled", (read_cr0() & 0x80000000u) && read_cr3() == (uint32_t)pd_a);
  test_demand();
  test_accessed_dirty();
  test_big_pages();
  test_write_protect();
  test_invlpg_cr3();
  test_address_spaces();
  test_null_and_kernel_faults();
  test_straddle();
  test_rep_fault();
  test_smc_alias();
  test_cmov_fault();
  test_double_fault();
  test_user();
  test_timer();
  printf("pagetest: %u failed\n", failures);
  printf(failures ? "pagetest: FAIL\n" : "pagetest: PASS\n");
  return (int)failures;
}
