/* segmap: the segment-load map. Every GDT selector (index 0-7 past the GDT's end, every RPL; no
 * LDT selectors: none is loaded, and QEMU would read its reset LDTR) into DS, ES, FS, GS and SS
 * by MOV, and into CS by far JMP and far CALL (but the TSS: a task switch, which the ABI refuses),
 * from CPL 0 and CPL 3. One line per case: loaded (the selector now in the register) or the
 * fault and its error code. Compared with QEMU by test/parity/system-maps.test.ts. */
#include "map-setup.h"

static uint8_t user_stack[4096] __attribute__((aligned(16)));
uint32_t sm_user_esp;
volatile uint32_t sm_sel, sm_reg, sm_got;
struct __attribute__((packed)) { uint32_t off; uint16_t sel; } sm_far;
void sm_user(void);
void sm_kernel(void);

/* sm_reg: 0 ES, 2 SS, 3 DS, 4 FS, 5 GS (MOV), 6 far JMP, 7 far CALL. The register's value after
 * goes to sm_got; segment registers are restored before anything else touches memory through
 * them (the %ss: stores). A far JMP/CALL that loads CS lands on sm_far_target. */
__asm__(".text\n"
        ".globl sm_user, sm_kernel, sm_far_target\n"
        "sm_user:\n"
        "  movl sm_user_esp, %esp\n"
        "  call sm_body\n"
        "  int $0x81\n"
        "sm_kernel:\n"
        "  pushl %ebx\n"
        "  call sm_body\n"
        "  popl %ebx\n"
        "  ret\n"
        "sm_body:\n"
        "  pushl %ebp\n"
        "  movl %esp, %ebp\n"
        "  movl $sm_done, trap_recover\n"
        "  movl sm_sel, %eax\n"
        "  movl sm_reg, %ecx\n"
        "  movw %ds, %bx\n"
        "  cmpl $0, %ecx\n  jne 1f\n  movw %ax, %es\n  movw %es, %dx\n  jmp 9f\n"
        "1: cmpl $2, %ecx\n  jne 1f\n  movw %ss, %bx\n  movw %ax, %ss\n  movw %ss, %dx\n  movw %bx, %ss\n  movw %ds, %bx\n  jmp 9f\n"
        "1: cmpl $3, %ecx\n  jne 1f\n  movw %ax, %ds\n  movw %ds, %dx\n  movw %bx, %ds\n  jmp 9f\n"
        "1: cmpl $4, %ecx\n  jne 1f\n  movw %ax, %fs\n  movw %fs, %dx\n  jmp 9f\n"
        "1: cmpl $5, %ecx\n  jne 1f\n  movw %ax, %gs\n  movw %gs, %dx\n  jmp 9f\n"
        "1: cmpl $6, %ecx\n  jne 1f\n  ljmp *sm_far\n"
        "1: lcall *sm_far\n"
        "sm_far_target:\n"
        "  movw %cs, %dx\n"
        "  movl %ebp, %esp\n"
        "9:\n"
        "  movzwl %dx, %edx\n"
        "  movl %edx, %ss:sm_got\n"
        "  movl $0, %ss:trap_recover\n"
        "sm_done:\n"
        "  popl %ebp\n"
        "  ret\n");

extern char sm_far_target[];

static void run_case(uint32_t sel, uint32_t reg, int cpl) {
  sm_sel = sel;
  sm_reg = reg;
  sm_got = 0xEEEE;
  sm_far.off = (uint32_t)sm_far_target;
  sm_far.sel = (uint16_t)sel;
  uint32_t before = trap_count;
  if (cpl == 3) enter_user((uint32_t)sm_user, sm_user_esp, 0x2);
  else sm_kernel();
  int trapped = trap_count != before;
  /* back to the kernel's own selectors (a far transfer may have left CS elsewhere at ring 0) */
  __asm__ volatile("movw %w0, %%es\n\tmovw %w0, %%fs\n\tmovw %w0, %%gs" : : "r"(KERNEL_DS) : "memory");
  static const char *const names[8] = {"es", "?", "ss", "ds", "fs", "gs", "jmp", "call"};
  printf("%s sel=%02x cpl=%d -> ", names[reg], sel, cpl);
  if (trapped) printf("fault v=%02x err=%x\n", trap_last_vector, trap_last_err);
  else printf("loaded %x\n", sm_got);
}

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  sm_user_esp = map_setup(user_stack, sizeof user_stack);
  uint32_t n = 0;
  static const uint32_t regs[] = {0, 2, 3, 4, 5, 6, 7};
  for (uint32_t r = 0; r < sizeof regs / sizeof regs[0]; r++)
    for (uint32_t sel = 0; sel < 0x40; sel++) {
      if (sel & 4) continue;                          /* LDT selectors */
      if (regs[r] >= 6 && (sel >> 3) == 5) continue;  /* the TSS: a task switch */
      for (int cpl = 0; cpl < 4; cpl += 3, n++) run_case(sel, regs[r], cpl);
    }
  printf("segmap: %u cases\n", n);
  return 0;
}
