/* Flat GDT (ring 0 and ring 3 code and data) and the one 32-bit TSS that supplies SS0:ESP0 for
 * interrupts from ring 3. Mirrors Linux's per-CPU gdt_page and cpu_tss_rw / load_TR_desc. */
#include "runtime.h"

struct tss32 {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt;
  uint16_t trap, iomap_base;
};

static struct tss32 tss __attribute__((aligned(16)));
static uint64_t gdt[6] __attribute__((aligned(8)));

static uint64_t tss_descriptor(uint32_t base, uint32_t limit) {
  /* Present, DPL 0, type 9 (available 32-bit TSS), byte granularity. */
  return (uint64_t)(limit & 0xFFFF) | ((uint64_t)(base & 0xFFFFFF) << 16) | ((uint64_t)0x89 << 40) |
         ((uint64_t)((limit >> 16) & 0xF) << 48) | ((uint64_t)(base >> 24) << 56);
}

void gdt_init(void) {
  gdt[0] = 0;
  gdt[1] = 0x00CF9A000000FFFFull; /* ring 0 code, base 0, limit 4 GiB */
  gdt[2] = 0x00CF92000000FFFFull; /* ring 0 data */
  gdt[3] = 0x00CFFA000000FFFFull; /* ring 3 code */
  gdt[4] = 0x00CFF2000000FFFFull; /* ring 3 data */
  memset(&tss, 0, sizeof tss);
  tss.ss0 = KERNEL_DS;
  tss.iomap_base = sizeof tss; /* no I/O bitmap: ring 3 port access faults */
  gdt[5] = tss_descriptor((uint32_t)&tss, sizeof tss - 1);

  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr = { sizeof gdt - 1, (uint32_t)gdt };
  __asm__ volatile(
      "lgdt %0\n\t"
      "ljmp %1, $1f\n"
      "1:\n\t"
      "movw %w2, %%ax\n\t"
      "movw %%ax, %%ds\n\t"
      "movw %%ax, %%es\n\t"
      "movw %%ax, %%fs\n\t"
      "movw %%ax, %%gs\n\t"
      "movw %%ax, %%ss\n\t"
      "movw %w3, %%ax\n\t"
      "ltr %%ax"
      :
      : "m"(gdtr), "i"(KERNEL_CS), "i"(KERNEL_DS), "i"(TSS_SEL)
      : "eax", "memory");
}

void tss_set_kernel_stack(uint32_t esp0) { tss.esp0 = esp0; }
