/* The IDT (256 32-bit gates to the isr.S stubs) and the C side of trap dispatch: per-vector
 * handlers plus a one-shot recovery point for instructions expected to fault. Mirrors Linux's
 * idt_table / set_intr_gate and the fixup-table idea behind ex_handler_default. */
#include "runtime.h"

extern char isr_stubs[];

static uint64_t idt[256] __attribute__((aligned(8)));
static trap_handler_t handlers[256];

volatile uint32_t trap_recover;
volatile uint32_t trap_last_vector, trap_last_err, trap_last_eip, trap_count;

static void set_gate(int v, uint8_t type_attr) {
  uint32_t off = (uint32_t)isr_stubs + 16u * (uint32_t)v;
  idt[v] = (uint64_t)(off & 0xFFFF) | ((uint64_t)KERNEL_CS << 16) | ((uint64_t)type_attr << 40) |
           ((uint64_t)(off >> 16) << 48);
}

void idt_init(void) {
  for (int v = 0; v < 256; v++) set_gate(v, 0x8E); /* present, DPL 0, 32-bit interrupt gate */
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr = { sizeof idt - 1, (uint32_t)idt };
  __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void idt_set_dpl(int v, int dpl) {
  idt[v] = (idt[v] & ~((uint64_t)3 << 45)) | ((uint64_t)(dpl & 3) << 45);
}

void idt_set_trap_gate(int v, int is_trap) {
  idt[v] = (idt[v] & ~((uint64_t)1 << 40)) | ((uint64_t)(is_trap ? 1 : 0) << 40);
}

void idt_set_present(int v, int present) {
  idt[v] = (idt[v] & ~((uint64_t)1 << 47)) | ((uint64_t)(present ? 1 : 0) << 47);
}

void trap_set_handler(int v, trap_handler_t h) { handlers[v] = h; }

void trap_dispatch(struct trapframe *tf) {
  if (handlers[tf->vector]) {
    handlers[tf->vector](tf);
    return;
  }
  if (trap_recover && tf->vector < 32) {
    trap_last_vector = tf->vector;
    trap_last_err = tf->err;
    trap_last_eip = tf->eip;
    trap_count++;
    tf->eip = trap_recover;
    trap_recover = 0;
    return;
  }
  printf("unexpected trap: vector %u err %x eip %x cs %x\n", tf->vector, tf->err, tf->eip, tf->cs);
  exit(0x7e);
}
