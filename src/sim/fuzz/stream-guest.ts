// A fuzz case of the "stream" kinds as a bootable guest: the seeded choices of one case (initial
// registers and flags, the gates, page tables with their rights and aliases, CR0.WP, CR4.PSE)
// plus its generated instruction stream, laid out around stream-runtime.S as one Multiboot ELF.
// A subset of the items (`keep`, from shrinking) gives a smaller, still well-formed guest.

import { Prng } from '../../host/prng.js';
import { buildElf } from './elf-image.js';
import {
  ALIAS_CODE_VA,
  BASE,
  BEYOND_RAM_GPA,
  CFG,
  CFG_GATES,
  IDTR_ALT,
  IMAGE_END,
  KSTACK,
  LENTAB,
  PD,
  PT0,
  PT1,
  SCRATCH,
  SCRATCH_EBP,
  SCRATCH_PAGES,
  STREAM,
  STREAM_MAX,
  USER_STACK,
} from './stream-layout.js';
import { StreamGen } from './stream-gen.js';
import { EBP_PAGE } from './stream-gen-state.js';
import { ALLF, RELOC_ALIAS, replayDefined, type StreamItem, type StreamProfile } from './stream-item.js';
import { STREAM_RUNTIME_BASE64 } from './stream-runtime.js';

export interface StreamCaseSpec {
  /** Everything about the case derives from this seed. */
  seed: number;
  profile: StreamProfile;
  /** Items generated. */
  count: number;
  /** Indices of the items kept (a shrunk case); all when absent. */
  keep?: number[];
}

export interface StreamGuest {
  image: Uint8Array;
  items: StreamItem[];
  /** The kept items in order. */
  kept: StreamItem[];
  /** Flags the dump prints (the rest are masked as undefined); -1 when a kept item reads an
   *  undefined flag (a subset that QEMU need not reproduce). */
  defined: number;
}

let runtimeBytes: Uint8Array | null = null;
function runtime(): Uint8Array {
  if (runtimeBytes === null) {
    const s = atob(STREAM_RUNTIME_BASE64);
    runtimeBytes = new Uint8Array(s.length);
    for (let k = 0; k < s.length; k++) runtimeBytes[k] = s.charCodeAt(k);
  }
  return runtimeBytes;
}

const P = 1;
const RW = 2;
const US = 4;
const PS = 0x80;

export function buildStreamGuest(spec: StreamCaseSpec): StreamGuest {
  const rnd = new Prng(spec.seed ^ 0x5eed);
  const p = spec.profile;
  const items = new StreamGen(spec.seed, p).generate(spec.count);
  const keepSet = spec.keep === undefined ? null : new Set(spec.keep);
  const kept = items.filter((_, k) => keepSet === null || keepSet.has(k));
  const defined = replayDefined(kept);

  const seg = new Uint8Array(IMAGE_END - BASE);
  const dv = new DataView(seg.buffer);
  seg.set(runtime(), 0);
  const cfg = (off: number, v: number): void => dv.setUint32(CFG - BASE + off, v >>> 0, true);

  // Initial registers (EBP points into scratch; ESP is the runtime's), flags.
  for (const r of [0, 1, 2, 3, 6, 7]) cfg(r * 4, rnd.nextU32());
  cfg(20, SCRATCH_EBP);
  cfg(32, 0x2 | (rnd.nextU32() & ALLF));
  cfg(36, (~ALLF | Math.max(0, defined)) >>> 0);
  cfg(52, p.ring3 ? 1 : 0);
  cfg(60, STREAM);
  cfg(68, SCRATCH);
  cfg(72, SCRATCH + SCRATCH_PAGES * 4096);
  cfg(76, p.paging ? PD : 0);
  cfg(80, p.paging ? PT1 + 4096 : 0);
  cfg(92, USER_STACK);
  // Gates: exceptions DPL 0 except #BP/#OF (INT3/INTO from ring 3), 0x30 the end, 0x31..0x3f
  // software interrupts of either DPL, interrupt or trap gates, some not present (#NP).
  for (let v = 0; v < 0x40; v++) {
    let attr = 0x8e;
    if (v === 3 || v === 4 || v === 0x30) attr = 0xee;
    else if (v > 0x30) attr = [0x8e, 0xee, 0x8f, 0xef, 0xee, 0][rnd.below(6)]!;
    seg[CFG_GATES - BASE + v] = attr;
  }
  for (let k = 0; k < SCRATCH_PAGES; k++) {
    dv.setUint16(IDTR_ALT - BASE + k * 8, 0x40 * 8 - 1, true);
    dv.setUint32(IDTR_ALT - BASE + k * 8 + 2, SCRATCH + k * 4096, true);
  }

  if (p.paging) {
    const wp = rnd.below(2) === 1;
    const pse = rnd.below(2) === 1;
    cfg(40, 0x80000000 | (wp ? 0x10000 : 0));
    cfg(44, PD);
    cfg(48, pse ? 0x10 : 0);
    const pte = (table: number, idx: number, v: number): void => dv.setUint32(table - BASE + idx * 4, v >>> 0, true);
    pte(PD, 0, PT0 | P | RW | US);
    pte(PD, 1, PT1 | P | RW | US);
    pte(PD, 2, 0 | P | RW | US | PS);
    // Identity 0..4 MiB: supervisor by default; the stream and the user stack for ring 3 too.
    for (let k = 0; k < 1024; k++) pte(PT0, k, (k << 12) | P | RW);
    for (let k = STREAM >>> 12; k < LENTAB >>> 12; k++) pte(PT0, k, (k << 12) | P | RW | US);
    for (let k = KSTACK >>> 12; k < USER_STACK >>> 12; k++) pte(PT0, k, (k << 12) | P | RW | US);
    // Scratch pages: mostly user+writable, else read-only, supervisor, not present, another
    // scratch frame (an alias), and in hostile cases a frame outside RAM (with the same rights,
    // which must hold there too).
    const scratchPte = (k: number): number => {
      const rights = [P | RW | US, P | RW | US, P | RW | US, P | US, P | RW, 0, P][rnd.below(7)]!;
      if (p.hostile && !p.qemu && rnd.below(5) === 0) return BEYOND_RAM_GPA + rnd.below(16) * 4096 + (rights | P);
      const frame = rnd.below(5) === 0 ? rnd.below(SCRATCH_PAGES) : k;
      return SCRATCH + frame * 4096 + rights;
    };
    for (let k = 0; k < SCRATCH_PAGES; k++) {
      const keepRmwPages = p.qemu && (k === EBP_PAGE || k === EBP_PAGE - 1);
      pte(PT0, (SCRATCH >>> 12) + k, keepRmwPages ? SCRATCH + k * 4096 + (P | RW | US) : scratchPte(k));
      pte(PT1, 16 + k, scratchPte(k));
    }
    for (let k = 0; k < 8; k++) pte(PT1, k, (STREAM + k * 4096) | P | RW | US);
    // The page tables seen again at ALIAS_PT_VA; user-writable only where no ring-3 code could
    // change a PTE without the INVLPG it cannot execute.
    for (let k = 0; k < 3; k++) pte(PT1, 8 + k, (PD + k * 4096) | P | RW | (p.hostile && !p.ring3 ? US : 0));
  }

  // The stream: kept items back to back, relocated, then INT 0x30; the length table marks
  // every instruction start.
  let at = 0;
  const code = seg.subarray(STREAM - BASE, STREAM - BASE + STREAM_MAX);
  const lentab = seg.subarray(LENTAB - BASE, LENTAB - BASE + STREAM_MAX);
  for (const it of kept) {
    if (at + it.bytes.length + 2 > STREAM_MAX) break;
    code.set(it.bytes, at);
    for (const r of it.relocs) {
      const target = at + r.add;
      dv.setUint32(STREAM - BASE + at + r.at, r.kind === RELOC_ALIAS ? ALIAS_CODE_VA + target : STREAM + target, true);
    }
    let o = at;
    for (const len of it.lens) {
      lentab[o] = len;
      o += len;
    }
    at += it.bytes.length;
  }
  code.set([0xcd, 0x30], at);
  lentab[at] = 2;
  at += 2;
  cfg(64, at);

  // The scratch area's first contents: a second segment of seeded bytes.
  const scratch = new Uint8Array(SCRATCH_PAGES * 4096);
  const sv = new DataView(scratch.buffer);
  for (let k = 0; k < scratch.length; k += 4) sv.setUint32(k, rnd.nextU32(), true);
  const filesz = p.paging ? seg.length : LENTAB - BASE + at;
  const image = buildElf({
    segments: [
      { paddr: BASE, data: seg.subarray(0, filesz), memsz: seg.length },
      { paddr: SCRATCH, data: scratch },
    ],
    entry: BASE,
  });
  return { image, items, kept, defined };
}
