/* printf-lite for guest images: %d %u %x %s %c with an optional '0' flag and width, plus %%.
 * Mirrors the role of the kernel's early_printk; output goes byte by byte to COM1. */
#include "runtime.h"

typedef __builtin_va_list va_list;
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, t) __builtin_va_arg(ap, t)
#define va_end(ap) __builtin_va_end(ap)

static int emit_num(uint32_t v, unsigned base, int neg, int width, char pad) {
  char buf[12];
  int n = 0, out = 0;
  do {
    unsigned d = v % base;
    buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  int len = n + (neg ? 1 : 0);
  if (neg && pad == '0') { serial_putc('-'); out++; }
  for (; len < width; len++, out++) serial_putc(pad);
  if (neg && pad != '0') { serial_putc('-'); out++; }
  while (n) { serial_putc(buf[--n]); out++; }
  return out;
}

int printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int out = 0;
  for (; *fmt; fmt++) {
    if (*fmt != '%') { serial_putc(*fmt); out++; continue; }
    fmt++;
    char pad = ' ';
    int width = 0;
    if (*fmt == '0') { pad = '0'; fmt++; }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    switch (*fmt) {
      case 'd': {
        int32_t v = va_arg(ap, int32_t);
        out += v < 0 ? emit_num(0u - (uint32_t)v, 10, 1, width, pad) : emit_num((uint32_t)v, 10, 0, width, pad);
        break;
      }
      case 'u': out += emit_num(va_arg(ap, uint32_t), 10, 0, width, pad); break;
      case 'x': out += emit_num(va_arg(ap, uint32_t), 16, 0, width, pad); break;
      case 'c': serial_putc((char)va_arg(ap, int)); out++; break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        int len = 0;
        while (s[len]) len++;
        for (; len < width; width--, out++) serial_putc(' ');
        while (*s) { serial_putc(*s++); out++; }
        break;
      }
      case '%': serial_putc('%'); out++; break;
      case 0: fmt--; break;
      default: serial_putc('%'); serial_putc(*fmt); out += 2; break;
    }
  }
  va_end(ap);
  return out;
}
