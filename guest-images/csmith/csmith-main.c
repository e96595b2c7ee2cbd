/* The guest side of `shadowvisor bench csmith`: a csmith program (built with -Dmain=csmith_main
 * and include/ in front of the system headers) linked with the guest runtime. It supplies what
 * a hosted C program would get from libc and libgcc: printf with the formats csmith prints
 * (%X, %lX, %llX, %d, %u, %s, %c), strcmp, and the 64-bit division helpers gcc calls on i386
 * (__udivdi3 and friends, as libgcc has them: a 32-bit libgcc is not installed on every machine).
 * Runs at ring 0 with paging off, or (-DCSMITH_USER) in ring 3 under paging; the program's
 * exit status is kmain's return value. */
#include "runtime.h"
#include <stdarg.h>

int csmith_main(void);

static void put_number(unsigned long long v, unsigned base, int upper) {
  char buf[24];
  int n = 0;
  do {
    unsigned d = (unsigned)(v % base);
    buf[n++] = d < 10 ? '0' + d : (upper ? 'A' : 'a') + d - 10;
    v /= base;
  } while (v != 0);
  while (n > 0) serial_putc(buf[--n]);
}

int csmith_printf(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  for (; *f; f++) {
    if (*f != '%') {
      serial_putc(*f);
      continue;
    }
    f++;
    int longs = 0; /* l: long (32 bits here), ll: long long */
    while (*f == 'l') {
      longs++;
      f++;
    }
    switch (*f) {
    case 's': print_str(va_arg(ap, const char *)); break;
    case 'c': serial_putc((char)va_arg(ap, int)); break;
    case 'd': {
      long long v = longs >= 2 ? va_arg(ap, long long) : va_arg(ap, int);
      if (v < 0) serial_putc('-');
      put_number(v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10, 0);
      break;
    }
    case 'u': put_number(longs >= 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 10, 0); break;
    case 'x':
    case 'X': put_number(longs >= 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 16, *f == 'X'); break;
    case '%': serial_putc('%'); break;
    default: serial_putc('%'); serial_putc(*f); break;
    }
  }
  va_end(ap);
  return 0;
}

int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) {
    a++;
    b++;
  }
  return (unsigned char)*a - (unsigned char)*b;
}

/* Shift-and-subtract division: quotient of n / d, remainder in *rem (d != 0: csmith's safe
 * arithmetic never divides by zero). */
static unsigned long long udivmod(unsigned long long n, unsigned long long d, unsigned long long *rem) {
  unsigned long long q = 0, r = 0;
  for (int i = 63; i >= 0; i--) {
    r = (r << 1) | ((n >> i) & 1);
    if (r >= d) {
      r -= d;
      q |= 1ULL << i;
    }
  }
  if (rem) *rem = r;
  return q;
}
static unsigned long long magnitude(long long v) { return v < 0 ? -(unsigned long long)v : (unsigned long long)v; }

unsigned long long __udivdi3(unsigned long long n, unsigned long long d) { return udivmod(n, d, 0); }
unsigned long long __umoddi3(unsigned long long n, unsigned long long d) {
  unsigned long long r;
  udivmod(n, d, &r);
  return r;
}
long long __divdi3(long long n, long long d) {
  unsigned long long q = udivmod(magnitude(n), magnitude(d), 0);
  return (n < 0) != (d < 0) ? -(long long)q : (long long)q;
}
long long __moddi3(long long n, long long d) {
  unsigned long long r;
  udivmod(magnitude(n), magnitude(d), &r);
  return n < 0 ? -(long long)r : (long long)r;
}

#ifndef CSMITH_USER
int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  return csmith_main();
}
#else
/* Built with -DCSMITH_USER: the program runs in ring 3 under paging, as a user process would.
 * The first 32 MiB are identity-mapped with 4 KiB user pages (page 0 not present), and IOPL 3
 * lets the program's printf reach COM1; it ends with INT 0x80, whose handler returns its value. */
#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define TABLES 8

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_tables[TABLES][1024] __attribute__((aligned(4096)));
static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static uint8_t user_stack[256 * 1024] __attribute__((aligned(16)));

static void user_main(void) {
  int r = csmith_main();
  __asm__ volatile("int $0x80" : : "a"(r) : "memory");
  for (;;) {
  }
}

static void exit_syscall(struct trapframe *tf) { leave_user(tf->eax); }

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  gdt_init();
  idt_init();
  trap_set_handler(0x80, exit_syscall);
  idt_set_dpl(0x80, 3);
  tss_set_kernel_stack((uint32_t)(kernel_stack + sizeof kernel_stack));
  for (uint32_t t = 0; t < TABLES; t++) {
    for (uint32_t k = 0; k < 1024; k++) page_tables[t][k] = ((t * 1024 + k) << 12) | PTE_P | PTE_W | PTE_U;
    page_dir[t] = (uint32_t)page_tables[t] | PTE_P | PTE_W | PTE_U;
  }
  page_tables[0][0] = 0;
  write_cr3((uint32_t)page_dir);
  write_cr0(read_cr0() | 0x80010000u); /* PG | WP */
  return (int)enter_user((uint32_t)user_main, (uint32_t)(user_stack + sizeof user_stack), 0x3002);
}
#endif
