import { describe, expect, it } from 'vitest';
import { parseElf32 } from '../../src/machine/elf-loader.js';
import { flatRamWriter } from '../../src/machine/guest-phys-writer.js';
import { ImageError } from '../../src/machine/image-error.js';
import {
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_INFO_ADDR,
  findMultibootHeader,
  loadMultibootImage,
} from '../../src/machine/multiboot.js';
import { buildElf, printAndExit, tinyGuest } from './tiny-elf.js';

const MiB = 0x100000;
const RAM = 4 * MiB;

function load(file: Uint8Array, ramBytes = RAM, cmdline?: string) {
  const ram = new Uint8Array(ramBytes);
  const boot = loadMultibootImage(file, { ramBytes, cmdline, mem: flatRamWriter(ram) });
  return { ram, boot };
}

function refusal(file: Uint8Array, ramBytes = RAM): string {
  try {
    load(file, ramBytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('image was accepted');
}

const code = printAndExit('hi', 0);

describe('ELF/Multiboot loader: accepted images', () => {
  it('copies PT_LOAD to p_paddr, zeroes bss, sets the entry registers and Multiboot info', () => {
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    const file = buildElf({
      segments: [
        { paddr: 0x100000, data: code },
        { paddr: 0x200000, data, memsz: 0x100 },
      ],
      entry: 0x100000,
      multiboot: { flags: 3 },
    });
    const ram = new Uint8Array(RAM).fill(0xcc);
    const boot = loadMultibootImage(file, { ramBytes: RAM, mem: flatRamWriter(ram) });
    expect(boot.eip).toBe(0x100000);
    expect(boot.eax).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(boot.ebx).toBe(MULTIBOOT_INFO_ADDR);
    expect([...ram.subarray(0x100000, 0x100000 + code.length)]).toEqual([...code]);
    expect([...ram.subarray(0x200000, 0x200005)]).toEqual([1, 2, 3, 4, 5]);
    expect(ram.subarray(0x200005, 0x200100).every((b) => b === 0)).toBe(true);
    expect(ram[0x200100]).toBe(0xcc); // past p_memsz: untouched
    const dv = new DataView(ram.buffer);
    expect(dv.getUint32(MULTIBOOT_INFO_ADDR, true)).toBe(1); // flags: mem only
    expect(dv.getUint32(MULTIBOOT_INFO_ADDR + 4, true)).toBe(640);
    expect(dv.getUint32(MULTIBOOT_INFO_ADDR + 8, true)).toBe(RAM / 1024 - 1024);
  });

  it('passes a command line with flag bit 2', () => {
    const { ram, boot } = load(tinyGuest(code), RAM, 'console=ttyS0 x=1');
    const dv = new DataView(ram.buffer);
    expect(dv.getUint32(boot.ebx, true)).toBe(1 | 4);
    const p = dv.getUint32(boot.ebx + 16, true);
    expect(p).toBeLessThan(0xa0000);
    const s = new TextDecoder().decode(ram.subarray(p, ram.indexOf(0, p)));
    expect(s).toBe('console=ttyS0 x=1');
  });

  it('starts a higher-half style image at the physical address of e_entry', () => {
    const file = buildElf({ segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: code }], entry: 0xc0100004 });
    expect(load(file).boot.eip).toBe(0x100004);
  });

  it('finds the Multiboot header anywhere 4-aligned in the first 8 KiB', () => {
    const big = new Uint8Array(0x1800);
    big.set(code);
    const file = buildElf({ segments: [{ paddr: 0x100000, data: big }], entry: 0x100000, multiboot: { offset: 0x1ff0 } });
    expect(findMultibootHeader(file).offset).toBe(0x1ff0);
  });
});

describe('ELF/Multiboot loader: every refusal is an ImageError naming the problem', () => {
  const good = tinyGuest(code);

  it('empty and truncated files', () => {
    expect(refusal(new Uint8Array(0))).toMatch(/empty/);
    expect(refusal(good.subarray(0, 30))).toMatch(/truncated ELF header/);
    // Cut inside the program header table.
    expect(refusal(good.subarray(0, 60))).toMatch(/truncated ELF: program header/);
    // Cut inside the segment's bytes.
    expect(refusal(good.subarray(0, good.length - 3))).toMatch(/truncated ELF: segment 0 data/);
  });

  it('wrong class, data encoding, type and machine', () => {
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code }], entry: MiB, cls: 2 }))).toMatch(/ELF64/);
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code }], entry: MiB, data: 2 }))).toMatch(/big-endian/);
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code }], entry: MiB, type: 3 }))).toMatch(/ET_DYN/);
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code }], entry: MiB, type: 1 }))).toMatch(/ET_REL/);
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code }], entry: MiB, machine: 62 }))).toMatch(
      /wrong ELF machine 62 \(x86-64\)/,
    );
  });

  it('a dynamically linked image', () => {
    const f = buildElf({
      segments: [
        { paddr: MiB, data: code },
        { paddr: 0, data: new Uint8Array(4), type: 3 },
      ],
      entry: MiB,
    });
    expect(refusal(f)).toMatch(/PT_INTERP/);
  });

  it('no loadable segment', () => {
    const f = buildElf({ segments: [{ paddr: MiB, data: code, type: 4 }], entry: MiB });
    expect(refusal(f)).toMatch(/no loadable/);
  });

  it('no Multiboot header, bad checksum, unsupported flags, header past 8 KiB', () => {
    const seg = [{ paddr: MiB, data: code }];
    expect(refusal(buildElf({ segments: seg, entry: MiB, multiboot: null }))).toMatch(/no Multiboot header/);
    expect(refusal(buildElf({ segments: seg, entry: MiB, multiboot: { checksumDelta: 1 } }))).toMatch(/bad checksum/);
    expect(refusal(buildElf({ segments: seg, entry: MiB, multiboot: { flags: 0x10000 } }))).toMatch(
      /unsupported Multiboot header flags 0x10000/,
    );
    expect(refusal(buildElf({ segments: seg, entry: MiB, multiboot: { flags: 4 } }))).toMatch(/flags 0x4/);
    const big = new Uint8Array(0x2100);
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: big }], entry: MiB, multiboot: { offset: 0x2000 } }))).toMatch(
      /no Multiboot header/,
    );
    // Misaligned header: not found.
    expect(refusal(buildElf({ segments: seg, entry: MiB, multiboot: { offset: 0x56 } }))).toMatch(/no Multiboot header/);
  });

  it('segments below 1 MiB, beyond RAM, overlapping, and p_filesz > p_memsz', () => {
    expect(refusal(buildElf({ segments: [{ paddr: 0x8000, data: code }], entry: 0x8000 }))).toMatch(/below 1 MiB/);
    expect(refusal(buildElf({ segments: [{ paddr: RAM - 2, data: code }], entry: RAM - 2 }))).toMatch(
      /outside guest RAM \(4 MiB\)/,
    );
    // bss running past the end of RAM counts too.
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code, memsz: RAM }], entry: MiB }))).toMatch(
      /outside guest RAM/,
    );
    // A segment near 4 GiB must not wrap around.
    expect(refusal(buildElf({ segments: [{ paddr: 0xfffffff0, data: code }], entry: 0xfffffff0 }))).toMatch(
      /outside guest RAM/,
    );
    const overlap = buildElf({
      segments: [
        { paddr: MiB, data: code, memsz: 0x1000 },
        { paddr: MiB + 0x800, data: code },
      ],
      entry: MiB,
    });
    expect(refusal(overlap)).toMatch(/segments 0 and 1 overlap at 0x100800/);
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code, memsz: 2 }], entry: MiB }))).toMatch(
      /p_filesz .* larger than p_memsz/,
    );
  });

  it('entry outside every loaded segment', () => {
    expect(refusal(buildElf({ segments: [{ paddr: MiB, data: code }], entry: 0x300000 }))).toMatch(
      /entry point 0x300000 lies outside every loaded segment/,
    );
  });

  it('random bytes, deterministic seeds: always an ImageError, never another exception', () => {
    let x = 12345;
    const rnd = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x >>> 24;
    };
    for (let n = 0; n < 200; n++) {
      const f = new Uint8Array(8 + ((n * 37) % 3000)).map(rnd);
      if (n % 2 === 0) f.set([0x7f, 0x45, 0x4c, 0x46], 0); // get past the magic sometimes
      if (n % 4 === 0) f.set([1, 1, 1], 4);
      expect(() => load(f)).toThrow(ImageError);
    }
  });

  it('a refused image leaves guest memory untouched', () => {
    const ram = new Uint8Array(RAM);
    const f = buildElf({ segments: [{ paddr: MiB, data: code }], entry: MiB, multiboot: null });
    expect(() => loadMultibootImage(f, { ramBytes: RAM, mem: flatRamWriter(ram) })).toThrow(ImageError);
    expect(ram.every((b) => b === 0)).toBe(true);
  });

  it('parseElf32 reports the segments it validated', () => {
    const img = parseElf32(good, RAM);
    expect(img.segments).toHaveLength(1);
    expect(img.segments[0]!.paddr).toBe(MiB);
  });
});
