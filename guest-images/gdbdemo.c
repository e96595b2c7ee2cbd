/* gdbdemo: a guest to practise gdb on (`shadowvisor run --gdb PORT --gdb-wait gdbdemo.elf`,
 * README "Debug your guest"). Built with -g. It turns paging on (the first 4 MiB identity-mapped
 * with 4 KiB pages, so `monitor translate &counter` shows a whole GVA->GPA->HVA->HPA chain), then
 * calls step_counter() in a loop: a function to break at, a global `counter` to print and to
 * watch, and a checksum printed at the end so a debugged run can be compared with a plain one
 * (PASS when they are what an undisturbed run computes). */
#include "runtime.h"

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_table[1024] __attribute__((aligned(4096)));

volatile uint32_t counter; /* read it, watch it */
uint32_t checksum;

__attribute__((noinline)) uint32_t step_counter(uint32_t i) {
  counter = counter + i;
  return counter * 3u + 1u;
}

static void paging_on(void) {
  for (uint32_t i = 0; i < 1024; i++) page_table[i] = (i << 12) | 3; /* present, writable */
  page_dir[0] = (uint32_t)page_table | 3;
  write_cr3((uint32_t)page_dir);
  write_cr0(read_cr0() | 0x80000000u);
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)mbi;
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) return 1;
  paging_on();
  printf("gdbdemo: paging on\n");
  for (uint32_t i = 1; i <= 10; i++) checksum = checksum * 31u + step_counter(i);
  printf("gdbdemo: counter=%u checksum=%x\n", counter, checksum);
  /* 1 + 2 + ... + 10, unless a debugger changed something on the way */
  if (counter != 55 || checksum != 0xb96b69a) {
    printf("gdbdemo: FAIL (changed under a debugger?)\n");
    return 1;
  }
  printf("gdbdemo: PASS\n");
  return 0;
}
