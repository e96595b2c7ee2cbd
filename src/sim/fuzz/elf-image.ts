// Builds ELF32/Multiboot images in memory: the fuzzer's generated guests and the loader and CLI
// tests' tiny images (test/machine/tiny-elf.ts re-exports it). Every field can be broken on purpose.

export interface TinySegment {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  /** Defaults to data.length. */
  memsz?: number;
  /** Override p_offset (to point past the end of the file). */
  offset?: number;
  type?: number;
}

export interface TinyElfOptions {
  segments: TinySegment[];
  entry: number;
  cls?: number;
  data?: number;
  type?: number;
  machine?: number;
  /** null = no Multiboot header. */
  multiboot?: { flags?: number; checksumDelta?: number; offset?: number } | null;
}

const MB_MAGIC = 0x1badb002;

export function buildElf(o: TinyElfOptions): Uint8Array {
  const phnum = o.segments.length;
  const headers = 52 + 32 * phnum;
  const mbOff = o.multiboot === null ? -1 : (o.multiboot?.offset ?? align(headers, 4));
  let cursor = mbOff >= 0 ? Math.max(headers, mbOff + 12) : headers;
  const offsets: number[] = [];
  for (const s of o.segments) {
    cursor = align(cursor, 4);
    offsets.push(cursor);
    cursor += s.data.length;
  }
  const file = new Uint8Array(Math.max(cursor, mbOff + 12));
  const dv = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, o.cls ?? 1, o.data ?? 1, 1], 0);
  dv.setUint16(16, o.type ?? 2, true);
  dv.setUint16(18, o.machine ?? 3, true);
  dv.setUint32(20, 1, true);
  dv.setUint32(24, o.entry, true);
  dv.setUint32(28, 52, true);
  dv.setUint16(40, 52, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, phnum, true);
  o.segments.forEach((s, i) => {
    const ph = 52 + 32 * i;
    dv.setUint32(ph, s.type ?? 1, true);
    dv.setUint32(ph + 4, s.offset ?? offsets[i]!, true);
    dv.setUint32(ph + 8, s.vaddr ?? s.paddr, true);
    dv.setUint32(ph + 12, s.paddr, true);
    dv.setUint32(ph + 16, s.data.length, true);
    dv.setUint32(ph + 20, s.memsz ?? s.data.length, true);
    dv.setUint32(ph + 24, 5, true);
    file.set(s.data, offsets[i]!);
  });
  if (mbOff >= 0) {
    const flags = o.multiboot?.flags ?? 0;
    dv.setUint32(mbOff, MB_MAGIC, true);
    dv.setUint32(mbOff + 4, flags, true);
    dv.setUint32(mbOff + 8, (-(MB_MAGIC + flags) + (o.multiboot?.checksumDelta ?? 0)) >>> 0, true);
  }
  return file;
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
