/* COM1 transmit path (16550A THR/LSR), the guest console. Mirrors Linux's early serial console
 * (serial_putc in arch/x86/boot/early_serial_console.c): poll LSR.THRE, write THR. */
#include "runtime.h"

#define COM1 0x3F8
#define UART_LSR 5
#define UART_LSR_THRE 0x20

void serial_putc(char c) {
  /* Wait as long as it takes: QEMU holds THRE clear while its host-side writer is blocked (a
   * slow pipe reader), and a byte written then would overwrite the pending one and be lost. */
  while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE)) {
  }
  outb(COM1, (uint8_t)c);
}

void print_str(const char *s) {
  while (*s) serial_putc(*s++);
}
