/* pagestress: a miniature multiprocess kernel that keeps the MMU busy: eight ring 3 processes,
 * each with its own page directory, switched by the PIT timer and by yields (CR3 writes), with
 * demand-zero paging, unmap + INVLPG + frame reuse, and a fork that copies an address space.
 * Mirrors the mm duties of Linux's scheduler (switch_mm), do_anonymous_page, zap_page_range and
 * dup_mmap at toy scale. Self-checking: every process's result is recomputed in ring 0 on plain
 * memory; the output does not depend on where the timer happens to preempt. */
#include "runtime.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_PS 0x080u
#define PF_P 1u

#define NPROC 8
#define NPARENT 4
#define DATA_VA 0x40000000u
#define DATA_PAGES 16
#define STACK_TOP 0x80000000u
#define STACK_PAGES 2
#define ROUNDS 60
#define STRIDE 32 /* words sampled per page: 1024 / STRIDE */

enum { SYS_GETPID = 1, SYS_YIELD, SYS_UNMAP, SYS_FORK, SYS_EXIT };
enum { P_UNUSED, P_RUNNABLE, P_DONE };

struct proc {
  int state;
  uint32_t pd;
  struct trapframe tf;
  uint32_t result, errors;
};

static struct proc procs[NPROC];
static int cur;
static uint32_t kpd;
static uint32_t switches, preemptions, forks, demand_faults, unmaps, kills;
static uint8_t trap_stack[16384] __attribute__((aligned(16)));
static uint32_t ref_buf[DATA_PAGES * 1024] __attribute__((aligned(4096)));

/* ---- frames: a bump allocator plus a free stack, so unmapped frames are reused quickly ---- */
static uint32_t next_frame = 0x00400000u;
static uint32_t free_stack[4096];
static uint32_t free_top;

static uint32_t alloc_frame(void) {
  uint32_t f;
  if (free_top) f = free_stack[--free_top];
  else {
    f = next_frame;
    next_frame += 4096;
    if (next_frame > 0x03C00000u) { printf("pagestress: out of frames\n"); exit(0x7a); }
  }
  memset((void *)f, 0, 4096);
  return f;
}

static void free_frame(uint32_t f) { free_stack[free_top++] = f; }

/* ---- address spaces ------------------------------------------------------------------- */
static uint32_t *pte_slot(uint32_t pd, uint32_t va, int create) {
  uint32_t *dir = (uint32_t *)pd;
  uint32_t pde = dir[va >> 22];
  if (!(pde & PTE_P)) {
    if (!create) return 0;
    pde = alloc_frame() | PTE_P | PTE_W | PTE_U;
    dir[va >> 22] = pde;
  }
  return &((uint32_t *)(pde & ~0xFFFu))[(va >> 12) & 1023];
}

static uint32_t *pt_low;

static uint32_t new_pd(void) {
  uint32_t pd = alloc_frame();
  uint32_t *dir = (uint32_t *)pd;
  dir[0] = (uint32_t)pt_low | PTE_P | PTE_W | PTE_U; /* code, kernel data: shared */
  for (uint32_t i = 1; i < 16; i++) dir[i] = (i << 22) | PTE_P | PTE_W | PTE_PS;
  return pd;
}

/* Frees every private frame (the data and stack page tables and what they map) and the PD. */
static void free_pd(uint32_t pd) {
  uint32_t *dir = (uint32_t *)pd;
  for (uint32_t i = 16; i < 1024; i++) {
    if (!(dir[i] & PTE_P)) continue;
    uint32_t *pt = (uint32_t *)(dir[i] & ~0xFFFu);
    for (uint32_t j = 0; j < 1024; j++)
      if (pt[j] & PTE_P) free_frame(pt[j] & ~0xFFFu);
    free_frame((uint32_t)pt);
  }
  free_frame(pd);
}

/* fork: copy every private page eagerly into fresh frames */
static uint32_t copy_pd(uint32_t src) {
  uint32_t dst = new_pd();
  uint32_t *sdir = (uint32_t *)src, *ddir = (uint32_t *)dst;
  for (uint32_t i = 16; i < 1024; i++) {
    if (!(sdir[i] & PTE_P)) continue;
    uint32_t *spt = (uint32_t *)(sdir[i] & ~0xFFFu);
    uint32_t dpt = alloc_frame();
    ddir[i] = dpt | (sdir[i] & 0xFFFu & ~0x60u);
    for (uint32_t j = 0; j < 1024; j++) {
      if (!(spt[j] & PTE_P)) continue;
      uint32_t f = alloc_frame();
      memcpy((void *)f, (void *)(spt[j] & ~0xFFFu), 4096);
      ((uint32_t *)dpt)[j] = f | (spt[j] & 0xFFFu & ~0x60u);
    }
  }
  return dst;
}

/* ---- the workload: runs in ring 3 on DATA_VA and in ring 0 on ref_buf ------------------- */
static inline uint32_t mix(uint32_t h, uint32_t v) { return h ^ (v + 0x9E3779B9u + (h << 6) + (h >> 2)); }
static inline uint32_t val(uint32_t seed, uint32_t r, uint32_t i) { return mix(mix(seed, r), i) | 1u; }

static inline uint32_t sys2(uint32_t nr, uint32_t a, uint32_t b) {
  uint32_t r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory");
  return r;
}

/* Writes and verifies a sampled pattern each round; every third round unmaps one page and
 * checks that it comes back zero-filled. The hash depends only on `seed`, never on what the
 * memory held before, so the ring 0 replay gives the same value. */
static uint32_t workload(uint32_t seed, volatile uint32_t *data, int user, uint32_t *errors) {
  uint32_t h = seed;
  for (uint32_t r = 0; r < ROUNDS; r++) {
    for (uint32_t i = 0; i < DATA_PAGES * 1024; i += STRIDE) data[i] = val(seed, r, i);
    for (uint32_t i = 0; i < DATA_PAGES * 1024; i += STRIDE) {
      uint32_t v = data[i];
      if (v != val(seed, r, i)) (*errors)++;
      h = mix(h, v);
    }
    if (r % 3 == 2) {
      uint32_t page = (r * 7 + seed) % DATA_PAGES;
      volatile uint32_t *p = data + page * 1024;
      if (user) sys2(SYS_UNMAP, (uint32_t)p, 0);
      else for (uint32_t i = 0; i < 1024; i++) p[i] = 0;
      for (uint32_t i = 0; i < 1024; i += STRIDE / 4)
        if (p[i] != 0) (*errors)++;
    }
    if (user && r % 4 == 1) sys2(SYS_YIELD, 0, 0);
  }
  return h;
}

static uint32_t memhash(volatile uint32_t *data) {
  uint32_t h = 0;
  for (uint32_t i = 0; i < DATA_PAGES * 1024; i += 1) h = mix(h, data[i]);
  return h;
}

/* Each parent runs a phase, forks, checks the child got a private copy, and both run a second
 * phase with their own seeds. */
static void user_main(void) {
  volatile uint32_t *data = (volatile uint32_t *)DATA_VA;
  uint32_t errors = 0;
  uint32_t pid = sys2(SYS_GETPID, 0, 0);
  uint32_t h1 = workload(pid, data, 1, &errors);
  uint32_t snap = memhash(data);
  uint32_t child = sys2(SYS_FORK, 0, 0);
  uint32_t seed;
  if (child == 0) {
    pid = sys2(SYS_GETPID, 0, 0);
    if (memhash(data) != snap) errors++;
    sys2(SYS_YIELD, 0, 0); /* let the parent scribble over its own copy */
    sys2(SYS_YIELD, 0, 0);
    if (memhash(data) != snap) errors++;
    seed = pid;
  } else {
    for (uint32_t i = 0; i < DATA_PAGES * 1024; i += 64) data[i] = ~data[i];
    seed = pid + 100;
  }
  uint32_t h2 = workload(seed, data, 1, &errors);
  sys2(SYS_EXIT, mix(h1, h2), errors);
  for (;;) {
  }
}

/* ---- scheduling and traps --------------------------------------------------------------- */
static int pick_next(void) {
  for (int i = 1; i <= NPROC; i++) {
    int j = (cur + i) % NPROC;
    if (procs[j].state == P_RUNNABLE) return j;
  }
  return -1;
}

static void switch_to(struct trapframe *tf, int n) {
  cur = n;
  write_cr3(procs[n].pd);
  *tf = procs[n].tf;
  switches++;
}

static void yield_from(struct trapframe *tf) {
  int n = pick_next();
  if (n < 0 || n == cur) return;
  procs[cur].tf = *tf;
  switch_to(tf, n);
}

static void finish(struct trapframe *tf, uint32_t result, uint32_t errors) {
  struct proc *p = &procs[cur];
  p->result = result;
  p->errors = errors;
  p->state = P_DONE;
  write_cr3(kpd);
  free_pd(p->pd);
  int n = pick_next();
  if (n < 0) leave_user(0);
  switch_to(tf, n);
}

static void timer_handler(struct trapframe *tf) {
  pic_eoi(0);
  if (tf->cs & 3) {
    preemptions++;
    yield_from(tf);
  }
}

static void syscall_handler(struct trapframe *tf) {
  switch (tf->eax) {
    case SYS_GETPID: tf->eax = (uint32_t)cur; break;
    case SYS_YIELD: tf->eax = 0; yield_from(tf); break;
    case SYS_UNMAP: {
      uint32_t *pte = pte_slot(procs[cur].pd, tf->ebx, 0);
      if (pte && (*pte & PTE_P)) {
        free_frame(*pte & ~0xFFFu);
        *pte = 0;
        invlpg(tf->ebx); /* before the frame can be handed to anyone else */
        unmaps++;
      }
      tf->eax = 0;
      break;
    }
    case SYS_FORK: {
      int c = cur + NPARENT;
      if (c >= NPROC || procs[c].state != P_UNUSED) { tf->eax = 0xFFFFFFFFu; break; }
      procs[c].pd = copy_pd(procs[cur].pd);
      procs[c].tf = *tf;
      procs[c].tf.eax = 0;
      procs[c].state = P_RUNNABLE;
      tf->eax = (uint32_t)c;
      forks++;
      break;
    }
    case SYS_EXIT: finish(tf, tf->ebx, tf->ecx); break;
    default: tf->eax = 0xFFFFFFFFu; break;
  }
}

static void pf_handler(struct trapframe *tf) {
  uint32_t cr2 = read_cr2();
  if ((tf->cs & 3) && !(tf->err & PF_P) && cr2 - DATA_VA < DATA_PAGES * 4096u) {
    *pte_slot(procs[cur].pd, cr2, 1) = alloc_frame() | PTE_P | PTE_W | PTE_U;
    demand_faults++;
    return;
  }
  if (tf->cs & 3) {
    printf("pagestress: pid %u killed: #PF cr2=%x err=%x eip=%x\n", (uint32_t)cur, cr2, tf->err, tf->eip);
    kills++;
    finish(tf, 0, 1);
    return;
  }
  printf("pagestress: kernel #PF cr2=%x err=%x eip=%x\n", cr2, tf->err, tf->eip);
  exit(0x7d);
}

static void fault_handler(struct trapframe *tf) {
  if (tf->cs & 3) {
    printf("pagestress: pid %u killed: vector %u err=%x eip=%x\n", (uint32_t)cur, tf->vector, tf->err, tf->eip);
    kills++;
    finish(tf, 0, 1);
    return;
  }
  printf("pagestress: kernel trap %u err=%x eip=%x\n", tf->vector, tf->err, tf->eip);
  exit(0x7c);
}

static void make_process(int i) {
  struct proc *p = &procs[i];
  p->pd = new_pd();
  for (uint32_t k = 1; k <= STACK_PAGES; k++) *pte_slot(p->pd, STACK_TOP - k * 4096, 1) = alloc_frame() | PTE_P | PTE_W | PTE_U;
  memset(&p->tf, 0, sizeof p->tf);
  p->tf.eip = (uint32_t)user_main;
  p->tf.cs = USER_CS;
  p->tf.eflags = 0x202;
  p->tf.user_esp = STACK_TOP - 4; /* a never-used return address (zero) sits there */
  p->tf.user_ss = USER_DS;
  p->tf.ds = p->tf.es = USER_DS;
  p->state = P_RUNNABLE;
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  printf("pagestress: start\n");
  gdt_init();
  idt_init();
  pic_remap(IRQ_BASE, IRQ_BASE + 8);
  trap_set_handler(14, pf_handler);
  trap_set_handler(13, fault_handler);
  trap_set_handler(6, fault_handler);
  trap_set_handler(0, fault_handler);
  trap_set_handler(IRQ_BASE, timer_handler);
  trap_set_handler(0x80, syscall_handler);
  idt_set_dpl(0x80, 3);
  tss_set_kernel_stack((uint32_t)trap_stack + sizeof trap_stack);

  pt_low = (uint32_t *)alloc_frame();
  for (uint32_t i = 1; i < 1024; i++) pt_low[i] = (i << 12) | PTE_P | PTE_W | PTE_U;
  kpd = new_pd();
  write_cr4(read_cr4() | 0x10);
  write_cr3(kpd);
  write_cr0(read_cr0() | 0x80010000u);

  for (int i = 0; i < NPARENT; i++) make_process(i);
  pit_set_periodic(298); /* ~4 kHz preemption: QEMU runs this in milliseconds */
  pic_unmask(0);
  cur = 0;
  write_cr3(procs[0].pd);
  enter_user(procs[0].tf.eip, procs[0].tf.user_esp, 0x202);
  pic_mask(0);
  write_cr3(kpd);

  /* replay every process's computation in ring 0 on plain memory */
  uint32_t failed = 0, checksum = 0;
  for (int i = 0; i < NPROC; i++) {
    uint32_t errs = 0, parent = (uint32_t)(i < NPARENT ? i : i - NPARENT);
    uint32_t h1 = workload(parent, ref_buf, 0, &errs);
    uint32_t h2 = workload(i < NPARENT ? parent + 100 : (uint32_t)i, ref_buf, 0, &errs);
    uint32_t want = mix(h1, h2);
    int ok = procs[i].state == P_DONE && procs[i].errors == 0 && procs[i].result == want && errs == 0;
    printf("pagestress: pid %u result %08x %s\n", (uint32_t)i, procs[i].result, ok ? "ok" : "FAILED");
    if (!ok) failed++;
    checksum = mix(checksum, procs[i].result);
  }
  int ok_counts = forks == NPARENT && kills == 0 && unmaps == (2 * NPARENT + (NPROC - NPARENT)) * (ROUNDS / 3);
  if (!ok_counts) {
    printf("pagestress: counts wrong: forks %u kills %u unmaps %u\n", forks, kills, unmaps);
    failed++;
  }
  if (preemptions == 0) {
    printf("pagestress: the timer never preempted a process\n");
    failed++;
  }
  printf("pagestress: checksum=%08x\n", checksum);
  printf(failed ? "pagestress: FAIL\n" : "pagestress: PASS\n");
  return (int)failed;
}
