/* tlbstress: a TLB-miss-heavy guest for `bench hv`. One address space, built once before paging
 * is turned on and never changed again (no CR3 switch, no page-table write, no INVLPG after
 * that): 32 MiB of data mapped with 4 KiB pages, twice as many pages as the processor's 4096 TLB
 * entries, then read-modify-written at random. Almost every access misses the TLB and walks the
 * page tables; nothing ever exits to the hypervisor once the pages are mapped. That is the case
 * where shadow paging wins: its walk reads 2 entries per miss, a two-dimensional (TDP) walk up
 * to 8. Self-checking: a per-page sum kept in kernel memory is compared with a sample of pages,
 * and a hash of every value read is printed (QEMU parity pins it).
 * Options (Multiboot cmdline): accesses=N (default 200000), seed=N (default 1). */
#include "runtime.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define CR0_PG 0x80000000u

#define DATA_VA 0x40000000u
#define DATA_PA 0x00400000u /* 4 MiB */
#define DATA_PAGES 8192u     /* 32 MiB */
#define SAMPLE_STRIDE 64u    /* pages checked at the end: every 64th */

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt_low[1024] __attribute__((aligned(4096)));
static uint32_t pt_data[DATA_PAGES / 1024][1024] __attribute__((aligned(4096)));
static uint32_t page_sum[DATA_PAGES];

static inline uint32_t mix(uint32_t h, uint32_t v) { return h ^ (v + 0x9E3779B9u + (h << 6) + (h >> 2)); }

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  const char *cmdline = multiboot_cmdline(magic, mbi);
  uint32_t accesses = cmdline_uint(cmdline, "accesses", 200000);
  uint32_t x = cmdline_uint(cmdline, "seed", 1) | 1u;

  for (uint32_t i = 0; i < 1024; i++) pt_low[i] = (i << 12) | PTE_P | PTE_W;
  pd[0] = (uint32_t)pt_low | PTE_P | PTE_W;
  for (uint32_t k = 0; k < DATA_PAGES / 1024; k++) {
    for (uint32_t j = 0; j < 1024; j++) pt_data[k][j] = (DATA_PA + (k * 1024 + j) * 4096u) | PTE_P | PTE_W;
    pd[(DATA_VA >> 22) + k] = (uint32_t)pt_data[k] | PTE_P | PTE_W;
  }
  __asm__ volatile("movl %0, %%cr3" : : "r"(pd) : "memory");
  uint32_t cr0;
  __asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("movl %0, %%cr0" : : "r"(cr0 | CR0_PG) : "memory");

  volatile uint32_t *data = (volatile uint32_t *)DATA_VA;
  /* Clear the data (RAM is not promised to be zero: QEMU leaves option ROM copies high up) and
   * touch every page (the hypervisor maps them all here); word 0 = the page's index. */
  uint32_t n = DATA_PAGES * 1024u, va = DATA_VA;
  __asm__ volatile("cld; rep stosl" : "+D"(va), "+c"(n) : "a"(0) : "memory");
  for (uint32_t p = 0; p < DATA_PAGES; p++) {
    data[p * 1024] = p;
    page_sum[p] = p;
  }
  uint32_t h = 0;
  for (uint32_t i = 0; i < accesses; i++) {
    x = x * 1664525u + 1013904223u;
    uint32_t page = (x >> 8) & (DATA_PAGES - 1);
    uint32_t word = (x >> 21) & 1023u;
    uint32_t v = data[page * 1024 + word];
    h = mix(h, v);
    data[page * 1024 + word] = v + (i | 1u);
    page_sum[page] += i | 1u;
  }
  uint32_t bad = 0;
  for (uint32_t p = 0; p < DATA_PAGES; p += SAMPLE_STRIDE) {
    uint32_t s = 0;
    for (uint32_t w = 0; w < 1024; w++) s += data[p * 1024 + w];
    if (s != page_sum[p]) bad++;
  }
  printf("tlbstress: %u pages, %u random accesses, hash %08x\n", DATA_PAGES, accesses, h);
  if (bad) {
    printf("tlbstress: FAIL %u sampled pages disagree\n", bad);
    return 1;
  }
  printf("tlbstress: PASS\n");
  return 0;
}
