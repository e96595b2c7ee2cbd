/* idtmap: the interrupt-gate map. Vector 0x40's gate takes every type (the 16 system types,
 * and code/data descriptors with S=1), DPL 0-3 and P 0/1; INT 0x40 then runs from CPL 0 and
 * CPL 3, and INT3 and UD2 through gates of DPL 0 and 3 and both 32-bit kinds. One line per
 * case: the vector that reached a handler, its error code, and what the handler saw (CS, the
 * saved EFLAGS' IF, IF inside the handler, whether the stack switched). Compared with QEMU by
 * test/parity/idtmap.test.ts. */
#include "map-setup.h"

#define VEC 0x40

static uint8_t user_stack[4096] __attribute__((aligned(16)));
uint32_t im_user_esp;
volatile uint32_t im_which; /* 0: INT 0x40, 1: INT3, 2: UD2 */
volatile uint32_t seen_vec, seen_err, seen_cs, seen_if, seen_inner_if, seen_user_ss, seen_count;
void im_user(void);
void im_kernel(void);

__asm__(".text\n"
        ".globl im_user, im_kernel\n"
        "im_user:\n"
        "  movl im_user_esp, %esp\n"
        "  call im_body\n"
        "  int $0x81\n"
        "im_kernel:\n"
        "  pushl %ebx\n"
        "  call im_body\n"
        "  popl %ebx\n"
        "  ret\n"
        "im_body:\n"
        "  movl $im_done, trap_recover\n"
        "  movl im_which, %eax\n"
        "  cmpl $1, %eax\n"
        "  je 1f\n"
        "  cmpl $2, %eax\n"
        "  je 2f\n"
        "  int $0x40\n"
        "  jmp 3f\n"
        "1: int3\n"
        "  jmp 3f\n"
        "2: ud2\n"
        "3: movl $0, trap_recover\n"
        "im_done:\n"
        "  ret\n");

static uint64_t *idt_base(void) {
  struct __attribute__((packed)) { uint16_t limit; uint32_t base; } r;
  __asm__ volatile("sidt %0" : "=m"(r));
  return (uint64_t *)r.base;
}

static void handler(struct trapframe *tf) {
  uint32_t fl;
  __asm__ volatile("pushfl; popl %0" : "=r"(fl));
  seen_vec = tf->vector;
  seen_err = tf->err;
  seen_cs = tf->cs;
  seen_if = (tf->eflags >> 9) & 1;
  seen_inner_if = (fl >> 9) & 1;
  seen_user_ss = (tf->cs & 3) ? tf->user_ss : 0;
  seen_count++;
  if (tf->vector == 6) tf->eip += 2; /* past the UD2 */
}

/* One case: the gate of `vec` set to the raw type/attribute byte `attr`, then `which` from `cpl`. */
static void run_case(int vec, uint32_t attr, int cpl, uint32_t which) {
  uint64_t *idt = idt_base();
  uint64_t saved = idt[vec];
  idt[vec] = (saved & ~((uint64_t)0xFF << 40)) | ((uint64_t)attr << 40);
  trap_set_handler(vec, handler);
  seen_vec = seen_err = seen_cs = seen_if = seen_inner_if = seen_user_ss = 0xEE;
  seen_count = 0;
  im_which = which;
  uint32_t before = trap_count;
  /* IF=1 in the code that raises the event, so an interrupt gate's clearing shows */
  if (cpl == 3) enter_user((uint32_t)im_user, im_user_esp, 0x202);
  else {
    __asm__ volatile("sti");
    im_kernel();
    __asm__ volatile("cli");
  }
  int trapped = trap_count != before;
  idt[vec] = saved;
  trap_set_handler(vec, 0);
  printf("%s vec=%02x attr=%02x cpl=%d -> ", which == 0 ? "int40" : which == 1 ? "int3 " : "ud2  ", vec, attr, cpl);
  if (seen_count) printf("handled v=%02x err=%x cs=%x if=%u inner_if=%u ss=%x\n", seen_vec, seen_err, seen_cs, seen_if, seen_inner_if, seen_user_ss);
  else if (trapped) printf("fault v=%02x err=%x\n", trap_last_vector, trap_last_err);
  else printf("nothing\n");
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  im_user_esp = map_setup(user_stack, sizeof user_stack);
  uint32_t n = 0;
  /* every gate type byte for INT 0x40: P (0x80), DPL (0x60), S (0x10) and type (0x0F), but the
   * task gate (type 5) and the 16-bit gates (6, 7), which the ABI refuses with a clear error */
  for (uint32_t attr = 0; attr < 0x100; attr++) {
    uint32_t type = attr & 0x1F;
    if (type == 5 || type == 6 || type == 7) continue;
    for (int cpl = 0; cpl < 4; cpl += 3, n++) run_case(VEC, attr, cpl, 0);
  }
  /* INT3 and #UD through 32-bit interrupt and trap gates of every DPL */
  for (uint32_t which = 1; which < 3; which++)
    for (uint32_t attr = 0x8E; attr <= 0xEF; attr += 0x20)
      for (uint32_t t = 0; t < 2; t++)
        for (int cpl = 0; cpl < 4; cpl += 3, n++) run_case(which == 1 ? 3 : 6, attr | t, cpl, which);
  printf("idtmap: %u cases\n", n);
  return 0;
}
