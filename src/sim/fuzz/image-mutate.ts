// Mutations of a committed guest image for the fuzzer's "image" kind: a seeded list of edits to
// the ELF header, the program headers, the Multiboot header, segment bytes, or the file length.
// The loader must refuse the result with one line (status 2) or boot it; whatever the guest then
// does, it must end cleanly within its budget. Each edit is independent, so a shrunk case keeps a
// subset of the list.

import { Prng } from '../../host/prng.js';

export interface Mutation {
  /** 'byte': set file[at] = value; 'u32': set the little-endian word at `at`; 'cut': truncate to `at`. */
  op: 'byte' | 'u32' | 'cut';
  at: number;
  value: number;
  what: string;
}

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffff000, 0x100000, 0x9f000, 0x1000, 52, 32];

function u32(img: Uint8Array, at: number): number {
  return at + 4 <= img.length ? (img[at]! | (img[at + 1]! << 8) | (img[at + 2]! << 16) | (img[at + 3]! << 24)) >>> 0 : 0;
}

/** Where the Multiboot header is in the first 8 KiB (-1: none). */
function multibootAt(img: Uint8Array): number {
  for (let k = 0; k + 12 <= Math.min(img.length, 8192); k += 4) if (u32(img, k) === 0x1badb002) return k;
  return -1;
}

/** The seeded edits of one case (1 to 6 of them). */
export function mutationsFor(img: Uint8Array, seed: number): Mutation[] {
  const rnd = new Prng(seed);
  const phoff = u32(img, 28);
  const phnum = img.length >= 46 ? img[44]! | (img[45]! << 8) : 0;
  const mb = multibootAt(img);
  const list: Mutation[] = [];
  const n = 1 + rnd.below(rnd.below(2) === 0 ? 2 : 6);
  const value = (): number => (rnd.below(2) === 0 ? INTERESTING[rnd.below(INTERESTING.length)]! : rnd.nextU32());
  for (let k = 0; k < n; k++) {
    const w = rnd.below(10);
    if (w === 0) {
      // an ELF header field (e_ident bytes, type, machine, entry, phoff, sizes, counts)
      const fields = [4, 5, 6, 16, 18, 24, 28, 40, 42, 44];
      const at = fields[rnd.below(fields.length)]!;
      if (at <= 6 || at === 16 || at === 18 || at >= 40) list.push({ op: 'byte', at, value: value() & 0xff, what: `ehdr+${at}` });
      else list.push({ op: 'u32', at, value: value(), what: `ehdr+${at}` });
    } else if (w <= 3 && phnum > 0) {
      // a program header field: type, offset, vaddr, paddr, filesz, memsz, flags
      const ph = phoff + 32 * rnd.below(phnum);
      const f = 4 * rnd.below(7);
      list.push({ op: 'u32', at: ph + f, value: value(), what: `phdr@${ph}+${f}` });
    } else if (w === 4 && mb >= 0) {
      const f = 4 * rnd.below(3);
      list.push({ op: 'u32', at: mb + f, value: rnd.below(2) === 0 ? (u32(img, mb + f) ^ (1 << rnd.below(32))) >>> 0 : value(), what: `multiboot+${f}` });
    } else if (w === 5) {
      list.push({ op: 'cut', at: rnd.below(img.length), value: 0, what: 'truncate' });
    } else {
      // bytes of the file anywhere: code, data, headers
      const at = rnd.below(img.length);
      list.push({ op: 'byte', at, value: rnd.below(2) === 0 ? img[at]! ^ (1 << rnd.below(8)) : rnd.below(256), what: `byte@${at}` });
    }
  }
  return list;
}

/** Apply the edits in order to a copy of the image. */
export function applyMutations(img: Uint8Array, list: readonly Mutation[]): Uint8Array {
  let out = img.slice();
  for (const m of list) {
    if (m.op === 'cut') out = out.slice(0, Math.min(m.at, out.length));
    else if (m.op === 'byte') {
      if (m.at < out.length) out[m.at] = m.value;
    } else {
      for (let k = 0; k < 4; k++) if (m.at + k < out.length) out[m.at + k] = (m.value >>> (8 * k)) & 0xff;
    }
  }
  return out;
}
