// Builds tiny ELF32/Multiboot guest images in memory for loader and CLI tests, so they do not
// depend on guest-images/. Every field can be broken on purpose.

import { buildElf, type TinyElfOptions } from '../../src/sim/fuzz/elf-image.js';

export { buildElf, type TinyElfOptions, type TinySegment } from '../../src/sim/fuzz/elf-image.js';

/** i386 code: print `text` on COM1, then write `status` to the exit device, then HLT. */
export function printAndExit(text: string, status: number): Uint8Array {
  const b: number[] = [0x66, 0xba, 0xf8, 0x03]; // mov dx, 0x3f8
  for (const ch of new TextEncoder().encode(text)) b.push(0xb0, ch, 0xee); // mov al, ch; out dx, al
  b.push(0xb8, status & 0xff, (status >> 8) & 0xff, (status >> 16) & 0xff, (status >>> 24) & 0xff); // mov eax, status
  b.push(0xe7, 0xf4); // out 0xf4, eax
  b.push(0xf4); // hlt
  return new Uint8Array(b);
}

/** A bootable image whose code starts at 1 MiB. */
export function tinyGuest(code: Uint8Array, extra: Partial<TinyElfOptions> = {}): Uint8Array {
  return buildElf({ segments: [{ paddr: 0x100000, data: code }], entry: 0x100000, ...extra });
}

/** An infinite loop (jmp $). */
export const SPIN = new Uint8Array([0xeb, 0xfe]);
/** cli; hlt */
export const CLI_HLT = new Uint8Array([0xfa, 0xf4]);
