// Builds tiny ELF32/Multiboot guest images in memory for loader and CLI tests, so they do not
// depend on guest-images/. Every field can be broken on purpose.

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
