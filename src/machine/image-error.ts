// ImageError: a guest image refused before the VM starts (GUEST-ABI "Image format"). The message
// is one line naming the problem; the CLI prints it and exits with status 2. Mirrors the checks
// of QEMU's hw/i386/multiboot.c and the kernel's binfmt_elf elf_check_arch/load checks.

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}
