/* The tiny freestanding runtime every guest image links against: port I/O, COM1 console,
 * printf-lite, the 0xF4 exit device, descriptor tables, traps, PIC and PIT. It plays the part of
 * the few arch/x86 helpers (outb/inb, set_intr_gate, load_TR_desc) a real kernel would have. */
#ifndef GUEST_RUNTIME_H
#define GUEST_RUNTIME_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned int size_t;
typedef unsigned int uintptr_t;

#define NULL ((void *)0)

/* ---- port I/O (io.h) ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* ---- console and exit (serial.c, printf.c, exit.c) ---- */
void serial_putc(char c);
void print_str(const char *s); /* no newline appended */
int printf(const char *fmt, ...);
__attribute__((noreturn)) void exit(uint32_t value);

/* ---- string.c: gcc may emit calls to these even in freestanding code ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ---- Multiboot information (the fields the ABI promises) ---- */
struct multiboot_info {
  uint32_t flags;
  uint32_t mem_lower;
  uint32_t mem_upper;
  uint32_t boot_device;
  uint32_t cmdline;
};
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* ---- cmdline.c: `key=value` options on the Multiboot command line ---- */
const char *multiboot_cmdline(uint32_t magic, const struct multiboot_info *mbi); /* NULL if none */
uint32_t cmdline_uint(const char *cmdline, const char *key, uint32_t dflt);

/* ---- segments (gdt.c) ---- */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS (0x18 | 3)
#define USER_DS (0x20 | 3)
#define TSS_SEL 0x28
void gdt_init(void);                 /* flat ring 0/3 code+data, a TSS; reloads all segments */
void tss_set_kernel_stack(uint32_t esp0);

/* ---- traps (idt.c, isr.S) ---- */
struct trapframe {
  uint32_t es, ds;
  uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
  uint32_t vector, err;
  uint32_t eip, cs, eflags;
  uint32_t user_esp, user_ss; /* valid only when (cs & 3) != 0 */
};
typedef void (*trap_handler_t)(struct trapframe *tf);
void idt_init(void);                             /* all 256 vectors -> trap_dispatch */
void idt_set_dpl(int vector, int dpl);           /* gate DPL (for INT n from ring 3) */
void idt_set_trap_gate(int vector, int is_trap); /* trap gate keeps IF, interrupt gate clears it */
void idt_set_present(int vector, int present);   /* clear P to provoke a fault during delivery */
void trap_set_handler(int vector, trap_handler_t h);

/* A one-shot recovery point for instructions expected to fault: when a trap arrives while
 * trap_recover is non-zero, it is recorded in trap_last_* and execution continues at
 * trap_recover (which is then cleared). Set it from inline asm with `movl $1f, trap_recover`. */
extern volatile uint32_t trap_recover;
extern volatile uint32_t trap_last_vector, trap_last_err, trap_last_eip, trap_count;

/* ---- ring 3 (usermode.S) ---- */
/* Runs user code at `eip` on `user_esp` with `eflags` in ring 3; returns the code a trap handler
 * passes to leave_user(). The caller must have set the TSS kernel stack. */
uint32_t enter_user(uint32_t eip, uint32_t user_esp, uint32_t eflags);
__attribute__((noreturn)) void leave_user(uint32_t code);

/* ---- control registers ---- */
static inline uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr3(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline uint64_t rdtsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }

/* ---- 8259A PIC and 8254 PIT (pic.c, pit.c) ---- */
#define IRQ_BASE 0x20
void pic_remap(uint8_t master_base, uint8_t slave_base); /* all IRQs masked afterwards */
void pic_unmask(int irq);
void pic_mask(int irq);
void pic_eoi(int irq);
void pit_set_periodic(uint16_t divisor);                 /* channel 0, mode 2, lobyte/hibyte */

#endif
