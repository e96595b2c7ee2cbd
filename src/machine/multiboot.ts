// Multiboot v1 boot protocol for ELF kernels: find and check the header in the image's first
// 8 KiB, load the ELF, build the Multiboot information structure in low guest RAM and give the
// register state a multiboot loader leaves. Mirrors QEMU's hw/i386/multiboot.c (load_multiboot).

import { type ElfImage, loadElfSegments, parseElf32 } from './elf-loader.js';
import type { GuestPhysWriter } from './guest-phys-writer.js';
import { ImageError } from './image-error.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** EAX at entry. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** Header flags we honour: bit 0 (page-align modules), bit 1 (memory information). */
export const MULTIBOOT_SUPPORTED_FLAGS = 0x3;
const SEARCH_LIMIT = 8192;
/** Where the information structure goes: low RAM, below the 0xA0000 hole, above the IVT/BDA. */
export const MULTIBOOT_INFO_ADDR = 0x9000;
const MULTIBOOT_CMDLINE_ADDR = 0x9100;
/** Room for the command line between 0x9100 and the end of that area (0x9fff). */
export const MULTIBOOT_CMDLINE_MAX = 0xeff;
const MULTIBOOT_INFO_SIZE = 88;
const MBI_FLAG_MEM = 1 << 0;
const MBI_FLAG_CMDLINE = 1 << 2;

export interface MultibootHeader {
  offset: number;
  flags: number;
}

/** The Multiboot header: 4-byte aligned in the first 8 KiB, with magic + flags + checksum = 0. */
export function findMultibootHeader(file: Uint8Array): MultibootHeader {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const limit = Math.min(SEARCH_LIMIT, file.length) - 12;
  let badChecksumAt = -1;
  for (let off = 0; off <= limit; off += 4) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    const checksum = dv.getUint32(off + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) {
      if (badChecksumAt < 0) badChecksumAt = off;
      continue;
    }
    if (flags & ~MULTIBOOT_SUPPORTED_FLAGS) {
      throw new ImageError(
        `unsupported Multiboot header flags 0x${flags.toString(16)} (only bits 0 and 1 are supported)`,
      );
    }
    return { offset: off, flags };
  }
  if (badChecksumAt >= 0) {
    throw new ImageError(`Multiboot header at offset 0x${badChecksumAt.toString(16)} has a bad checksum`);
  }
  throw new ImageError('no Multiboot header in the first 8 KiB of the image');
}

/** Build the information structure; returns its guest-physical address (EBX at entry). */
export function writeMultibootInfo(mem: GuestPhysWriter, ramBytes: number, cmdline?: string): number {
  const info = new Uint8Array(MULTIBOOT_INFO_SIZE);
  const dv = new DataView(info.buffer);
  let flags = MBI_FLAG_MEM;
  dv.setUint32(4, 640, true); // mem_lower: KiB of conventional memory
  dv.setUint32(8, Math.floor(ramBytes / 1024) - 1024, true); // mem_upper: KiB above 1 MiB
  if (cmdline !== undefined) {
    const bytes = new TextEncoder().encode(cmdline);
    if (bytes.length > MULTIBOOT_CMDLINE_MAX) {
      throw new RangeError(`command line longer than ${MULTIBOOT_CMDLINE_MAX} bytes`);
    }
    const z = new Uint8Array(bytes.length + 1);
    z.set(bytes);
    mem.write(MULTIBOOT_CMDLINE_ADDR, z);
    flags |= MBI_FLAG_CMDLINE;
    dv.setUint32(16, MULTIBOOT_CMDLINE_ADDR, true);
  }
  dv.setUint32(0, flags, true);
  mem.write(MULTIBOOT_INFO_ADDR, info);
  return MULTIBOOT_INFO_ADDR;
}

/** Register state at entry (GUEST-ABI "State at entry"). */
export interface BootState {
  eip: number;
  eax: number;
  ebx: number;
  elf: ElfImage;
  header: MultibootHeader;
}

export interface LoadOptions {
  ramBytes: number;
  cmdline?: string;
  mem: GuestPhysWriter;
}

/** Validate everything first, then write: a refused image leaves guest memory untouched. */
export function loadMultibootImage(file: Uint8Array, opts: LoadOptions): BootState {
  if (opts.cmdline !== undefined && new TextEncoder().encode(opts.cmdline).length > MULTIBOOT_CMDLINE_MAX) {
    throw new RangeError(`command line longer than ${MULTIBOOT_CMDLINE_MAX} bytes`);
  }
  const elf = parseElf32(file, opts.ramBytes);
  const header = findMultibootHeader(file);
  loadElfSegments(file, elf, opts.mem);
  const ebx = writeMultibootInfo(opts.mem, opts.ramBytes, opts.cmdline);
  return { eip: elf.entryPhys, eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx, elf, header };
}
