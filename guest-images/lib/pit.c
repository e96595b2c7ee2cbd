/* 8254 PIT channel 0 as a periodic tick source (input clock 1.193182 MHz). Mirrors Linux's
 * i8253 clockevent init: mode 2 (rate generator), lobyte then hibyte of the divisor. */
#include "runtime.h"

void pit_set_periodic(uint16_t divisor) {
  outb(0x43, 0x34); /* channel 0, access lobyte/hibyte, mode 2, binary */
  outb(0x40, (uint8_t)(divisor & 0xFF));
  outb(0x40, (uint8_t)(divisor >> 8));
}
