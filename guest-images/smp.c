/* smp: multi-vCPU coverage (GUEST-ABI "Multiple vCPUs"). Every vCPU enters at smp-entry.S on its
 * own stack and runs two phases separated by barriers: phase 1 with paging off, phase 2 with
 * paging on in every vCPU (a shared static page directory: a 4 MiB identity map and a permuted
 * 4 KiB alias; then a private directory per vCPU with a window it remaps itself, INVLPG).
 * In each phase a vCPU checksums its own memory, and all vCPUs hit shared counters with LOCK
 * XADD, LOCK CMPXCHG and a CMPXCHG spinlock guarding a non-atomic update. vCPU 0 alone touches
 * COM1 and the exit device and prints only after a barrier, in index order, so the output does
 * not depend on scheduling. The vCPU count is the Multiboot cmdline's vcpus=N (default 1); with
 * the default the image is an ordinary single-CPU guest and boots unmodified on QEMU.
 * Page-table rule: no vCPU changes an entry another vCPU can reach (there are no shootdown IPIs);
 * the shared tables are written once, before any vCPU enables paging. */
#include "runtime.h"

#define MAX_CPUS 8                 /* keep in step with smp-entry.S */
#define STACK_BYTES (1u << 14)     /* keep in step with smp-entry.S */

#define REGION_BYTES 0x8000u       /* each vCPU's own memory per phase: 32 KiB */
#define REGION_WORDS (REGION_BYTES / 4)
#define REGION_PAGES (REGION_BYTES / 4096)
#define REGION1 0x00400000u        /* phase 1 regions (physical) */
#define REGION2 0x00500000u        /* phase 2 regions (physical, reached through the alias) */
#define FRAMES 0x00600000u         /* phase 2 window frames: FRAMES_PER_CPU pages per vCPU */
#define FRAMES_PER_CPU 4u
#define ALIAS_VA 0x40000000u       /* the permuted alias of REGION2 (shared page table) */
#define WINDOW_VA 0x80000000u      /* one private page per vCPU, remapped by that vCPU only */
#define ALIAS_PAGES (MAX_CPUS * REGION_PAGES)
#define IDENTITY_PDES 16u          /* 64 MiB of 4 MiB pages */

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x00000010u

#define XADD_ITERS 2000u
#define CAS_ITERS 2000u
#define LOCK_ITERS 300u
#define REMAP_ROUNDS 48u
#define SPIN_LIMIT (1u << 28)      /* a barrier that never fills (vcpus=N but fewer vCPUs) ends in FAIL */

/* The per-vCPU boot stacks smp-entry.S switches to (index i uses [i]). */
uint8_t smp_stacks[MAX_CPUS][STACK_BYTES] __attribute__((aligned(16)));

static uint32_t pd_shared[1024] __attribute__((aligned(4096)));
static uint32_t pt_alias[1024] __attribute__((aligned(4096)));
static uint32_t pd_priv[MAX_CPUS][1024] __attribute__((aligned(4096)));
static uint32_t pt_priv[MAX_CPUS][1024] __attribute__((aligned(4096)));

struct counters {
  volatile uint32_t xadd_count, xadd_sum;
  volatile uint32_t cas_sum;
  volatile uint32_t lock;
  volatile uint32_t cs_count, cs_sum; /* written only under lock, non-atomically */
};
static struct counters ctr[2];

struct result {
  uint32_t sum[2];   /* checksum over the vCPU's region as it read it back, per phase */
  uint32_t window;   /* 0 when every window remap read and wrote the expected frame */
  uint32_t idx;      /* its own CPUID index, as seen by itself */
};
static struct result results[MAX_CPUS];

static volatile uint32_t arrived[2];
static volatile uint32_t go2;
static volatile uint32_t ncpus;

/* ---- atomics (x86 locked instructions) ---- */
static inline uint32_t atomic_xadd(volatile uint32_t *p, uint32_t v) {
  __asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory", "cc");
  return v;
}

static inline uint32_t atomic_cmpxchg(volatile uint32_t *p, uint32_t old, uint32_t new_) {
  uint32_t prev;
  __asm__ volatile("lock cmpxchgl %2, %1" : "=a"(prev), "+m"(*p) : "r"(new_), "0"(old) : "memory", "cc");
  return prev;
}

static void spin_lock(volatile uint32_t *l) {
  while (atomic_cmpxchg(l, 0, 1) != 0) {
    while (*l != 0) {
    }
  }
}

static void spin_unlock(volatile uint32_t *l) {
  __asm__ volatile("" ::: "memory");
  *l = 0; /* a plain store releases on x86 (TSO) */
}

/* Arrive at barrier b and wait for all; 0 if the barrier never filled. */
static int barrier(int b) {
  atomic_xadd(&arrived[b], 1);
  for (uint32_t n = 0; n < SPIN_LIMIT; n++) {
    if (arrived[b] >= ncpus) return 1;
  }
  return 0;
}

/* ---- data patterns ---- */
static uint32_t mix(uint32_t idx, uint32_t k, uint32_t phase) {
  uint32_t x = idx * 0x9E3779B1u ^ k * 0x85EBCA6Bu ^ (phase + 1) * 0xC2B2AE35u;
  x ^= x >> 15;
  x *= 0x2C1B3C6Du;
  x ^= x >> 12;
  return x;
}

static uint32_t fold(uint32_t acc, uint32_t w) { return ((acc << 5) | (acc >> 27)) + w; }

static uint32_t expected_sum(uint32_t idx, uint32_t phase) {
  uint32_t acc = phase + 1;
  for (uint32_t k = 0; k < REGION_WORDS; k++) acc = fold(acc, mix(idx, k, phase));
  return acc;
}

/* The alias page j maps physical page perm(j) of REGION2 (37 is odd, so this is a bijection). */
static uint32_t perm(uint32_t j) { return (j * 37u + 11u) % ALIAS_PAGES; }

/* Word k of vCPU idx's phase-2 region, by its physical (identity-mapped) address. */
static volatile uint32_t *region2_word(uint32_t idx, uint32_t k) {
  uint32_t j = idx * REGION_PAGES + k / 1024;
  return (volatile uint32_t *)(REGION2 + perm(j) * 4096u + (k % 1024) * 4u);
}

static uint32_t region1_sum(uint32_t idx) {
  volatile uint32_t *w = (volatile uint32_t *)(REGION1 + idx * REGION_BYTES);
  uint32_t acc = 1;
  for (uint32_t k = 0; k < REGION_WORDS; k++) acc = fold(acc, w[k]);
  return acc;
}

static uint32_t region2_sum(uint32_t idx) {
  uint32_t acc = 2;
  for (uint32_t k = 0; k < REGION_WORDS; k++) acc = fold(acc, *region2_word(idx, k));
  return acc;
}

/* ---- the shared-counter workload, the same in both phases ---- */
static void hammer(struct counters *c, uint32_t idx) {
  for (uint32_t k = 0; k < XADD_ITERS; k++) {
    atomic_xadd(&c->xadd_count, 1);
    atomic_xadd(&c->xadd_sum, idx + 1);
  }
  for (uint32_t k = 0; k < CAS_ITERS; k++) {
    uint32_t add = idx * CAS_ITERS + k;
    uint32_t old = c->cas_sum;
    for (;;) {
      uint32_t seen = atomic_cmpxchg(&c->cas_sum, old, old + add);
      if (seen == old) break;
      old = seen;
    }
  }
  for (uint32_t k = 0; k < LOCK_ITERS; k++) {
    spin_lock(&c->lock);
    uint32_t n = c->cs_count;
    uint32_t s = c->cs_sum;
    /* widen the window in which another vCPU would see a half-done update */
    for (volatile uint32_t d = 0; d < 8; d++) {
    }
    c->cs_sum = s + n;
    c->cs_count = n + 1;
    spin_unlock(&c->lock);
  }
}

static int check_counters(const char *phase, struct counters *c) {
  uint32_t n = ncpus;
  uint32_t cas_total = n * CAS_ITERS, lock_total = n * LOCK_ITERS;
  uint32_t want_xsum = XADD_ITERS * (n * (n + 1) / 2);
  uint32_t want_cas = (uint32_t)((uint64_t)cas_total * (cas_total - 1) / 2);
  uint32_t want_cs = lock_total * (lock_total - 1) / 2;
  int ok = c->xadd_count == n * XADD_ITERS && c->xadd_sum == want_xsum && c->cas_sum == want_cas &&
           c->cs_count == lock_total && c->cs_sum == want_cs && c->lock == 0;
  printf("smp: %s counters xadd=%u/%u cas=%08x lock=%u/%08x %s\n", phase, c->xadd_count, c->xadd_sum,
         c->cas_sum, c->cs_count, c->cs_sum, ok ? "ok" : "FAIL");
  if (!ok) {
    printf("smp: %s expected xadd=%u/%u cas=%08x lock=%u/%08x\n", phase, n * XADD_ITERS, want_xsum, want_cas,
           lock_total, want_cs);
  }
  return ok;
}

/* ---- phase 1: paging off ---- */
static void phase1(uint32_t idx) {
  volatile uint32_t *w = (volatile uint32_t *)(REGION1 + idx * REGION_BYTES);
  for (uint32_t k = 0; k < REGION_WORDS; k++) w[k] = mix(idx, k, 0);
  hammer(&ctr[0], idx);
  results[idx].sum[0] = region1_sum(idx);
  results[idx].idx = idx;
}

/* ---- paging: the shared tables (vCPU 0, before anyone enables paging) ---- */
static void build_shared_tables(void) {
  for (uint32_t i = 0; i < 1024; i++) pd_shared[i] = 0;
  for (uint32_t i = 0; i < IDENTITY_PDES; i++) pd_shared[i] = (i << 22) | PTE_PS | PTE_W | PTE_P;
  for (uint32_t j = 0; j < 1024; j++) pt_alias[j] = j < ALIAS_PAGES ? (REGION2 + perm(j) * 4096u) | PTE_W | PTE_P : 0;
  pd_shared[ALIAS_VA >> 22] = (uint32_t)pt_alias | PTE_W | PTE_P;
}

static void enable_paging(uint32_t pd) {
  write_cr3(pd);
  write_cr4(read_cr4() | CR4_PSE);
  write_cr0(read_cr0() | CR0_PG);
}

static uint32_t frame_pa(uint32_t idx, uint32_t f) { return FRAMES + (idx * FRAMES_PER_CPU + f) * 4096u; }
static uint32_t frame_tag(uint32_t idx, uint32_t f, uint32_t w) { return mix(idx * FRAMES_PER_CPU + f, w, 7); }

/* A private directory (the shared entries plus a window only this vCPU can reach) and a few
 * remaps of the window's one page, each followed by INVLPG; returns the number of wrong reads. */
static uint32_t window_test(uint32_t idx) {
  uint32_t *pd = pd_priv[idx], *pt = pt_priv[idx];
  uint32_t bad = 0;
  for (uint32_t i = 0; i < 1024; i++) pd[i] = pd_shared[i];
  for (uint32_t i = 0; i < 1024; i++) pt[i] = 0;
  pd[WINDOW_VA >> 22] = (uint32_t)pt | PTE_W | PTE_P;
  for (uint32_t f = 0; f < FRAMES_PER_CPU; f++) {
    volatile uint32_t *fw = (volatile uint32_t *)frame_pa(idx, f);
    for (uint32_t w = 0; w < 1024; w++) fw[w] = frame_tag(idx, f, w);
  }
  write_cr3((uint32_t)pd);
  volatile uint32_t *win = (volatile uint32_t *)WINDOW_VA;
  for (uint32_t r = 0; r < REMAP_ROUNDS; r++) {
    uint32_t f = (r * 3 + idx) % FRAMES_PER_CPU;
    uint32_t w = (r * 97) % 1024;
    pt[0] = frame_pa(idx, f) | PTE_W | PTE_P;
    invlpg(WINDOW_VA);
    if (win[w] != frame_tag(idx, f, w)) bad++;
    if (win[(w + 512) % 1024] != frame_tag(idx, f, (w + 512) % 1024)) bad++;
    /* write a new tag through the window; the frame (seen through the identity map) must have it */
    uint32_t nw = (w + 1) % 1024;
    win[nw] = frame_tag(idx, f, nw + r * 1024);
    if (*(volatile uint32_t *)(frame_pa(idx, f) + nw * 4) != frame_tag(idx, f, nw + r * 1024)) bad++;
    /* the processor set A and D in the entry it used (GUEST-ABI "Paging") */
    if ((pt[0] & (PTE_A | PTE_D)) != (PTE_A | PTE_D)) bad++;
    win[nw] = frame_tag(idx, f, nw); /* restore, so later rounds can check it */
  }
  pt[0] = 0;
  invlpg(WINDOW_VA);
  write_cr3((uint32_t)pd_shared);
  return bad;
}

/* ---- phase 2: paging on in every vCPU ---- */
static void phase2(uint32_t idx) {
  volatile uint32_t *alias = (volatile uint32_t *)(ALIAS_VA + idx * REGION_BYTES);
  for (uint32_t k = 0; k < REGION_WORDS; k++) alias[k] = mix(idx, k, 1);
  hammer(&ctr[1], idx);
  results[idx].sum[1] = region2_sum(idx);
  results[idx].window = window_test(idx);
}

static __attribute__((noreturn)) void ap_stop(void) {
  for (;;) __asm__ volatile("cli; hlt");
}

static int report_phase(uint32_t phase) {
  int ok = 1;
  for (uint32_t i = 0; i < ncpus; i++) {
    uint32_t want = expected_sum(i, phase);
    uint32_t again = phase == 0 ? region1_sum(i) : region2_sum(i);
    int good = results[i].idx == i && results[i].sum[phase] == want && again == want &&
               (phase == 0 || results[i].window == 0);
    if (phase == 0) {
      printf("smp: phase 1 vcpu %u sum=%08x %s\n", i, results[i].sum[0], good ? "ok" : "FAIL");
    } else {
      printf("smp: phase 2 vcpu %u sum=%08x window=%u %s\n", i, results[i].sum[1], results[i].window,
             good ? "ok" : "FAIL");
    }
    if (!good) printf("smp: vcpu %u expected sum=%08x, vcpu 0 read back %08x\n", i, want, again);
    ok &= good;
  }
  return ok;
}

/* The alias entries each vCPU wrote through carry A and D, whichever vCPU got there first. */
static int check_alias_bits(void) {
  uint32_t missing = 0;
  for (uint32_t j = 0; j < ncpus * REGION_PAGES; j++) {
    if ((pt_alias[j] & (PTE_A | PTE_D)) != (PTE_A | PTE_D)) missing++;
  }
  printf("smp: phase 2 alias entries with A|D %u/%u %s\n", ncpus * REGION_PAGES - missing, ncpus * REGION_PAGES,
         missing == 0 ? "ok" : "FAIL");
  return missing == 0;
}

int smp_main(uint32_t magic, struct multiboot_info *mbi, uint32_t idx) {
  const char *cmdline = multiboot_cmdline(magic, mbi);
  uint32_t n = cmdline_uint(cmdline, "vcpus", 1);
  if (idx != 0) {
    /* APs read the count themselves; an AP beyond it takes no part */
    if (n == 0 || n > MAX_CPUS || idx >= n) ap_stop();
    while (ncpus == 0) {
    }
    phase1(idx);
    barrier(0);
    while (go2 == 0) {
    }
    enable_paging((uint32_t)pd_shared);
    phase2(idx);
    barrier(1);
    ap_stop();
  }

  if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mbi->flags & 1)) {
    printf("smp: bad multiboot hand-over\nsmp: FAIL\n");
    return 1;
  }
  if (n == 0 || n > MAX_CPUS) {
    printf("smp: vcpus=%u out of range (1..%u)\nsmp: FAIL\n", n, MAX_CPUS);
    return 1;
  }
  printf("smp: %u vcpu(s)\n", n);
  ncpus = n; /* releases the APs: they start only once the count is published */
  int ok = 1;

  phase1(0);
  if (!barrier(0)) {
    printf("smp: phase 1 barrier: only %u of %u vcpus arrived\nsmp: FAIL\n", arrived[0], n);
    return 1;
  }
  ok &= report_phase(0);
  ok &= check_counters("phase 1", &ctr[0]);

  build_shared_tables();
  enable_paging((uint32_t)pd_shared);
  go2 = 1;
  phase2(0);
  if (!barrier(1)) {
    printf("smp: phase 2 barrier: only %u of %u vcpus arrived\nsmp: FAIL\n", arrived[1], n);
    return 1;
  }
  ok &= report_phase(1);
  ok &= check_counters("phase 2", &ctr[1]);
  ok &= check_alias_bits();
  printf(ok ? "smp: PASS\n" : "smp: FAIL\n");
  return ok ? 0 : 1;
}
