/* hello: the smallest guest. Prints a greeting over COM1 and exits with 0 through port 0xF4;
 * it checks the Multiboot hand-over (EAX magic, EBX info flags) like any multiboot kernel. */
#include "runtime.h"

int kmain(uint32_t magic, struct multiboot_info *mbi) {
  printf("Hello from a shadowvisor guest!\n");
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mbi->flags & 1)) {
    printf("hello: bad multiboot hand-over\n");
    return 1;
  }
  printf("hello: PASS\n");
  return 0;
}
