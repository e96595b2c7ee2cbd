/* The opcode-map sweep: every one-byte and 0F opcode, memory and register forms, each reg field
 * (stubs from opmap-gen.mjs), run from known registers, flags, stack and buffer. One line per
 * form: the exception it raised (v=ff: none), where (off: bytes from the opcode), the error
 * code, a hash of the registers and the buffer after it, and the arithmetic flags. Compared line
 * by line with QEMU by test/parity/opmap.test.ts, which lists the forms that differ by design. */
#include "map-setup.h"

uint32_t saved_esp;
uint32_t res[9];
/* The scratch buffer sits where its address (buf+128 = 0x00F8F8F8, the memory operand's disp32)
 * decodes harmlessly when an opcode without a ModRM leaves those bytes to run as instructions:
 * CLC CLC CLC and ADD AL,BH, nothing that reaches memory outside RAM (which reads differently on
 * QEMU). 16 MiB: run it with --mem 64M, as QEMU's -m 64. */
#define buf ((uint8_t *)0x00F8F878)

struct opmap_test { uint32_t insn; uint32_t code; };
void run_test(uint32_t insn);
void run_test_user(void);
extern uint32_t target;
uint32_t user_esp;
static uint8_t user_stack[4096] __attribute__((aligned(16)));

extern struct opmap_test opmap_tests[];
extern uint32_t opmap_count;

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  (void)magic;
  (void)mbi;
  user_esp = map_setup(user_stack, sizeof user_stack);
  printf("opmap: %u forms\n", opmap_count);
  for (uint32_t i = 0; i < opmap_count; i++) {
    for (int k = 0; k < 512; k++) buf[k] = (uint8_t)(k * 7 + 3);
    for (int k = 0; k < 9; k++) res[k] = 0;
    uint32_t before = trap_count;
    if (opmap_tests[i].code & 0x800) {
      target = opmap_tests[i].insn;
      enter_user((uint32_t)run_test_user, user_esp, 0x2);
    } else {
      run_test(opmap_tests[i].insn);
    }
    int trapped = trap_count != before;
    uint32_t h = 2166136261u;
    for (int k = 0; k < 8; k++) h = (h ^ res[k]) * 16777619u;
    for (int k = 0; k < 512; k++) h = (h ^ buf[k]) * 16777619u;
    uint32_t c = opmap_tests[i].code;
    printf("%s%s%s%02x/%u%s v=%02x off=%x err=%x h=%08x f=%03x\n", c & 0x800 ? "r3 " : "", c & 0x400 ? "66 " : "", c & 0x100 ? "0f " : "", c & 0xff, c >> 12, c & 0x200 ? "r" : "m",
           trapped ? trap_last_vector : 0xff, trapped ? trap_last_eip - opmap_tests[i].insn : 0, trapped ? trap_last_err : 0, h,
           res[8] & 0x8d5);
  }
  printf("opmap: done\n");
  return 0;
}
