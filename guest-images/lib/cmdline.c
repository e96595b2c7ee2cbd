/* The Multiboot command line: `key=value` options separated by spaces, as memhog and smp take
 * them (a kernel's parse_args, reduced to unsigned decimal values). */
#include "runtime.h"

const char *multiboot_cmdline(uint32_t magic, const struct multiboot_info *mbi) {
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mbi->flags & 4)) return NULL;
  return (const char *)mbi->cmdline;
}

uint32_t cmdline_uint(const char *cmdline, const char *key, uint32_t dflt) {
  if (cmdline == NULL) return dflt;
  for (const char *p = cmdline; *p; p++) {
    if (p != cmdline && p[-1] != ' ') continue;
    const char *k = key;
    const char *q = p;
    while (*k && *q == *k) { k++; q++; }
    if (*k || *q != '=') continue;
    uint32_t v = 0;
    for (q++; *q >= '0' && *q <= '9'; q++) v = v * 10 + (uint32_t)(*q - '0');
    return v;
  }
  return dflt;
}
