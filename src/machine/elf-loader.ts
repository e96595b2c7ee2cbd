// ELF32 executables for the i386 guest: header and program-header validation, then PT_LOAD
// segments copied to guest-physical p_paddr with the bss tail zeroed. Mirrors the checks of the
// kernel's fs/binfmt_elf.c (elf_check_arch, elf_read_implies_exec aside) and QEMU's load_elf32.

import type { GuestPhysWriter } from './guest-phys-writer.js';
import { ImageError } from './image-error.js';

const EHDR_SIZE = 52;
const PHDR_SIZE = 32;
const ET_EXEC = 2;
const EM_386 = 3;
const PT_LOAD = 1;
const PT_INTERP = 3;
/** Guests may not load below 1 MiB: the low area holds the Multiboot info, VGA and the BIOS. */
export const MIN_LOAD_ADDRESS = 0x100000;

export interface ElfSegment {
  /** Index of the program header. */
  index: number;
  offset: number;
  paddr: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfImage {
  /** e_entry as given (linear). */
  entry: number;
  /** Guest-physical address where execution starts (paging is off at entry). */
  entryPhys: number;
  /** PT_LOAD segments with p_memsz > 0, in file order. */
  segments: ElfSegment[];
}

const MACHINE_NAMES: Record<number, string> = { 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V' };
const TYPE_NAMES: Record<number, string> = { 0: 'ET_NONE', 1: 'ET_REL (object file)', 3: 'ET_DYN (shared object or PIE)', 4: 'ET_CORE' };

const hex = (v: number): string => `0x${v.toString(16)}`;

/** Validate `file` as an i386 executable whose segments fit in `ramBytes` of guest RAM. */
export function parseElf32(file: Uint8Array, ramBytes: number): ElfImage {
  if (file.length < 4 || file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) {
    throw new ImageError(file.length === 0 ? 'empty file, not an ELF image' : 'not an ELF image (bad magic)');
  }
  if (file.length < EHDR_SIZE) {
    throw new ImageError(`truncated ELF header (${file.length} bytes, need ${EHDR_SIZE})`);
  }
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const cls = file[4]!;
  if (cls !== 1) {
    throw new ImageError(cls === 2 ? 'ELF64 image: a 32-bit (ELFCLASS32) i386 image is required' : `unsupported ELF class ${cls}`);
  }
  if (file[5] !== 1) throw new ImageError('big-endian ELF: a little-endian (ELFDATA2LSB) image is required');
  if (file[6] !== 1) throw new ImageError(`unsupported ELF version ${file[6]}`);
  const type = dv.getUint16(16, true);
  if (type !== ET_EXEC) {
    throw new ImageError(`ELF type ${TYPE_NAMES[type] ?? type}: a statically linked executable (ET_EXEC) is required`);
  }
  const machine = dv.getUint16(18, true);
  if (machine !== EM_386) {
    const name = MACHINE_NAMES[machine];
    throw new ImageError(`wrong ELF machine ${machine}${name ? ` (${name})` : ''}: EM_386 (3) is required`);
  }
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  if (phnum === 0 || phoff === 0) throw new ImageError('ELF image has no program headers');
  if (phentsize !== PHDR_SIZE) throw new ImageError(`ELF program header size ${phentsize}, expected ${PHDR_SIZE}`);
  if (phoff + phnum * PHDR_SIZE > file.length) {
    throw new ImageError('truncated ELF: program header table extends past the end of the file');
  }

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * PHDR_SIZE;
    const ptype = dv.getUint32(ph, true);
    if (ptype === PT_INTERP) throw new ImageError('dynamically linked ELF (PT_INTERP): a static executable is required');
    if (ptype !== PT_LOAD) continue;
    const seg: ElfSegment = {
      index: i,
      offset: dv.getUint32(ph + 4, true),
      vaddr: dv.getUint32(ph + 8, true),
      paddr: dv.getUint32(ph + 12, true),
      filesz: dv.getUint32(ph + 16, true),
      memsz: dv.getUint32(ph + 20, true),
    };
    if (seg.filesz > seg.memsz) {
      throw new ImageError(`segment ${i}: p_filesz (${hex(seg.filesz)}) larger than p_memsz (${hex(seg.memsz)})`);
    }
    if (seg.offset + seg.filesz > file.length) {
      throw new ImageError(`truncated ELF: segment ${i} data extends past the end of the file`);
    }
    if (seg.memsz === 0) continue;
    const end = seg.paddr + seg.memsz;
    if (seg.paddr < MIN_LOAD_ADDRESS) {
      throw new ImageError(`segment ${i} at ${hex(seg.paddr)} lies below 1 MiB`);
    }
    if (end > ramBytes) {
      throw new ImageError(
        `segment ${i} (${hex(seg.paddr)}-${hex(end - 1)}) lies outside guest RAM (${formatBytes(ramBytes)})`,
      );
    }
    segments.push(seg);
  }
  if (segments.length === 0) throw new ImageError('ELF image has no loadable (PT_LOAD) segments');

  const byAddr = [...segments].sort((a, b) => a.paddr - b.paddr);
  for (let k = 1; k < byAddr.length; k++) {
    const a = byAddr[k - 1]!;
    const b = byAddr[k]!;
    if (a.paddr + a.memsz > b.paddr) {
      throw new ImageError(`segments ${a.index} and ${b.index} overlap at ${hex(b.paddr)}`);
    }
  }

  // e_entry is linear; with paging off it runs at the physical address the segment was loaded to.
  const home = segments.find((s) => entry >= s.vaddr && entry - s.vaddr < s.memsz);
  if (home === undefined) throw new ImageError(`entry point ${hex(entry)} lies outside every loaded segment`);
  return { entry, entryPhys: entry - home.vaddr + home.paddr, segments };
}

/** Copy a validated image's segments into guest-physical memory and zero their bss tails. */
export function loadElfSegments(file: Uint8Array, image: ElfImage, mem: GuestPhysWriter): void {
  for (const s of image.segments) {
    if (s.filesz > 0) mem.write(s.paddr, file.subarray(s.offset, s.offset + s.filesz));
    if (s.memsz > s.filesz) mem.zero(s.paddr + s.filesz, s.memsz - s.filesz);
  }
}

export function formatBytes(n: number): string {
  if (n % 0x40000000 === 0) return `${n / 0x40000000} GiB`;
  if (n % 0x100000 === 0) return `${n / 0x100000} MiB`;
  if (n % 0x400 === 0) return `${n / 0x400} KiB`;
  return `${n} bytes`;
}
