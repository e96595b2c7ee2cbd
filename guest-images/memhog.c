/* memhog: a memory-integrity workload for the swap benchmark. It fills an area of N MiB with
 * page-tagged patterns (every word depends on the page, the word and the page's version), then
 * visits random pages: each visit verifies the whole page against what was last written there
 * and, every other visit, rewrites it with a new version. Any word that differs is corruption:
 * a lost write, a stale frame, another guest's data. The last 1/8 of the area is scratch: written
 * but never verified (the benchmark's balloon may discard it with MADV_DONTNEED).
 *
 * Built twice: memhog.elf runs with paging off over physical memory; memhog-mp.elf (MULTI) runs
 * several "processes", each with its own page directory mapping its own part of the area at the
 * same virtual address, switching CR3 between them, so shadow page tables are under pressure too.
 *
 * Command line (Multiboot cmdline, all optional): mib=N seed=S iters=I report=R procs=P
 * (iters=0: run until stopped from outside). Output: progress lines
 *   memhog: iter=I verified=V corrupt=C
 * every R iterations, and at the end `memhog: done verified=V corrupt=C`; exit 0 iff C == 0. */
#include "runtime.h"

#ifndef MULTI
#define MULTI 0
#endif

#if MULTI
#define AREA_BASE 0x00800000u   /* physical start of the area: above the image and the page tables */
#else
#define AREA_BASE 0x00200000u   /* physical start of the area: 2 MiB, above the image */
#endif
#define VIRT_BASE 0x40000000u   /* where each process sees its part (MULTI) */
#define MAX_PAGES 131072u       /* 512 MiB */
#define MAX_PROCS 8

static uint16_t version[MAX_PAGES];
static uint32_t rng_state;

static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static uint32_t tag(uint32_t page, uint32_t word, uint32_t ver, uint32_t seed) {
  uint32_t x = page * 0x9E3779B1u ^ ver * 0x85EBCA6Bu ^ word * 0xC2B2AE35u ^ seed;
  x ^= x >> 15;
  x *= 0x2C1B3C6Du;
  x ^= x >> 12;
  return x;
}

/* ---- address spaces (MULTI): page directories and tables live below the area ---- */
#if MULTI
#define PD_BASE 0x00400000u     /* one 4 KiB directory per process, then their page tables */
static uint32_t *pd_of(int proc) { return (uint32_t *)(PD_BASE + (uint32_t)proc * 0x1000u); }
static uint32_t *pt_base(int proc, uint32_t tables_per_proc) {
  return (uint32_t *)(PD_BASE + MAX_PROCS * 0x1000u + ((uint32_t)proc * tables_per_proc) * 0x1000u);
}

/* Identity-map the first 8 MiB with 4 MiB pages (kernel, tables) and map the process's part of
 * the area at VIRT_BASE with 4 KiB pages. */
static void build_space(int proc, uint32_t pages_per_proc) {
  uint32_t tables = (pages_per_proc + 1023) / 1024;
  uint32_t *pd = pd_of(proc);
  memset(pd, 0, 4096);
  pd[0] = 0x00000000u | 0x83; /* 4 MiB, P|W|PS */
  pd[1] = 0x00400000u | 0x83;
  uint32_t *pt = pt_base(proc, tables);
  for (uint32_t t = 0; t < tables; t++) {
    uint32_t *table = pt + t * 1024;
    for (uint32_t i = 0; i < 1024; i++) {
      uint32_t n = t * 1024 + i;
      table[i] = n < pages_per_proc ? (AREA_BASE + ((uint32_t)proc * pages_per_proc + n) * 4096u) | 3u : 0;
    }
    pd[(VIRT_BASE >> 22) + t] = (uint32_t)table | 3u;
  }
}
#endif

static uint32_t verified, corrupt, reported;

/* Word w of page g at version ver is base + w * STEP, with base = tag(g, ver): every word differs,
 * and a page of another version, another page or another guest fails on its first word. */
#define STEP 0x9E3779B1u

/* Verify page `g` (global page number) at `base`; count words that are not what we wrote. */
static void verify(const uint32_t *page, uint32_t g, uint32_t seed) {
  uint32_t want = tag(g, 0, version[g], seed);
  uint32_t bad = 0;
  for (uint32_t w = 0; w < 1024; w++, want += STEP) {
    if (page[w] != want) {
      if (bad == 0 && reported < 8) {
        printf("memhog: corrupt page %u word %u: got %x want %x\n", g, w, page[w], want);
        reported++;
      }
      bad++;
    }
  }
  verified++;
  if (bad) corrupt++;
}

static void fill(uint32_t *page, uint32_t g, uint32_t seed) {
  uint32_t v = tag(g, 0, version[g], seed);
  for (uint32_t w = 0; w < 1024; w++, v += STEP) page[w] = v;
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  const char *cmdline = multiboot_cmdline(magic, mbi);
  uint32_t mib = cmdline_uint(cmdline, "mib", 4);
  uint32_t seed = cmdline_uint(cmdline, "seed", 1);
  uint32_t iters = cmdline_uint(cmdline, "iters", 2000);
  uint32_t report = cmdline_uint(cmdline, "report", 250);
  uint32_t procs = cmdline_uint(cmdline, "procs", MULTI ? 4 : 1);
  uint32_t mem_kib = 1024 + mbi->mem_upper;
  if (procs < 1) procs = 1;
  if (procs > MAX_PROCS) procs = MAX_PROCS;
  if (report == 0) report = 250;
  uint32_t pages = mib * 256;
  if (pages == 0 || pages > MAX_PAGES || AREA_BASE / 1024 + mib * 1024 > mem_kib) {
    printf("memhog: mib=%u does not fit in %u KiB of RAM\n", mib, mem_kib);
    return 2;
  }
  uint32_t per = pages / procs;
  pages = per * procs;
  uint32_t scratch = per / 8; /* last `scratch` pages of each process: never verified */
  rng_state = seed * 2654435761u + 1;
  printf("memhog: %u MiB, %u pages, %u process%s, seed %u, %u iterations\n", mib, pages, procs,
         procs == 1 ? "" : "es", seed, iters);

#if MULTI
  for (uint32_t p = 0; p < procs; p++) build_space((int)p, per);
  write_cr4(read_cr4() | 0x10);               /* PSE for the 4 MiB identity pages */
  write_cr3((uint32_t)pd_of(0));
  write_cr0(read_cr0() | 0x80010000u);        /* PG | WP */
#endif

  /* Fill: every page gets version 1. */
  for (uint32_t p = 0; p < procs; p++) {
#if MULTI
    write_cr3((uint32_t)pd_of((int)p));
    uint32_t *area = (uint32_t *)VIRT_BASE;
#else
    uint32_t *area = (uint32_t *)(AREA_BASE + p * per * 4096u);
#endif
    for (uint32_t i = 0; i < per; i++) {
      uint32_t g = p * per + i;
      version[g] = 1;
      fill(area + i * 1024, g, seed);
      /* Re-read an older page now and then: under pressure it has likely been swapped out and
       * back in since it was written, so lost writes show up before the fill is over. */
      if ((i & 15) == 15) {
        uint32_t j = rng() % i;
        if (j < per - scratch) verify(area + j * 1024, p * per + j, seed);
      }
    }
  }

  uint32_t cur = 0;
#if MULTI
  write_cr3((uint32_t)pd_of(0));
#endif
  for (uint32_t it = 1; iters == 0 || it <= iters; it++) {
    if (procs > 1 && (it & 15) == 0) {
      cur = rng() % procs;
#if MULTI
      write_cr3((uint32_t)pd_of((int)cur));
#endif
    }
#if MULTI
    uint32_t *area = (uint32_t *)VIRT_BASE;
#else
    uint32_t *area = (uint32_t *)(AREA_BASE + cur * per * 4096u);
#endif
    uint32_t i = rng() % per;
    uint32_t g = cur * per + i;
    uint32_t *page = area + i * 1024;
    if (i >= per - scratch) {
      page[rng() & 1023] = rng(); /* scratch: contents do not matter */
    } else {
      verify(page, g, seed);
      if (rng() & 1) {
        version[g]++;
        fill(page, g, seed);
      }
    }
    if (it % report == 0) printf("memhog: iter=%u verified=%u corrupt=%u\n", it, verified, corrupt);
  }
  printf("memhog: done verified=%u corrupt=%u\n", verified, corrupt);
  return corrupt ? 1 : 0;
}
