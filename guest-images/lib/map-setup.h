/* The start every system map shares (opmap, pgmap, idtmap, segmap): flat GDT with a TSS, the IDT,
 * every IRQ masked, and a way back from ring 3: INT 0x81 (a DPL 3 gate) abandons the user run and
 * returns from enter_user(). Header-only, so only the maps carry it. */
#ifndef MAP_SETUP_H
#define MAP_SETUP_H
#include "runtime.h"

static uint8_t map_kernel_stack[4096] __attribute__((aligned(16)));

static void map_back_to_ring0(struct trapframe *tf) {
  (void)tf;
  leave_user(0);
}

/* Set the machine up; returns the initial ESP for ring 3 runs (the top of `user_stack`). */
static inline uint32_t map_setup(uint8_t *user_stack, uint32_t size) {
  gdt_init();
  idt_init();
  pic_remap(IRQ_BASE, IRQ_BASE + 8); /* every IRQ masked */
  trap_set_handler(0x81, map_back_to_ring0);
  idt_set_dpl(0x81, 3);
  tss_set_kernel_stack((uint32_t)(map_kernel_stack + sizeof map_kernel_stack));
  return (uint32_t)(user_stack + size);
}
#endif
