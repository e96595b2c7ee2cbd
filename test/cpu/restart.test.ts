// Restartability and alternate Mmus: a compiled workload must give the same checksum and the
// same retired-instruction count natively, under an Mmu that exits (XLATE_EXIT) on the first
// touch of every page and access kind (as a shadow MMU does), and under an Mmu that serves pages
// as TLB_NOCACHE one-off translations with trackedWrite. Also the stale-access detector hook.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../src/cpu/cpu.js';
import { NativeMmu } from '../../src/cpu/paging.js';
import {
  ACC_FETCH,
  EXIT_BUDGET,
  EXIT_MMU,
  EXIT_STOP,
  type Mmu,
  TLB_NOCACHE,
  XLATE_EXIT,
  XLATE_OK,
} from '../../src/cpu/ports.js';
import { ExitingMmu, CpuOf, load, makeMachine, setupPaging } from './harness.js';

const bin = readFileSync(new URL('./fixtures/workload.bin', import.meta.url));
const meta = JSON.parse(readFileSync(new URL('./fixtures/workload.json', import.meta.url), 'utf8')) as {
  entry: number;
  checksum: number;
};

/** Serves every data page as a one-off (TLB_NOCACHE) translation; records tracked writes. */
class NocacheMmu extends ExitingMmu {
  tracked = 0;
  override translate(cpu: Cpu, lin: number, acc: number): number {
    if ((acc & ACC_FETCH) !== 0 || (lin >>> 12) % 3 !== 0) return this.inner.translate(cpu, lin, acc);
    cpu.xlatePage = lin >>> 12; // paging is off: identity
    cpu.xlateFlags = TLB_NOCACHE;
    return XLATE_OK;
  }
  override trackedWrite(cpu: Cpu, lin: number, phys: number, size: number): void {
    expect(phys).toBe(lin >>> 0);
    expect(size).toBeGreaterThan(0);
    this.tracked++;
  }
}

function runWorkload(mmu?: (inner: NativeMmu) => Mmu, paging = false, churn = false) {
  const m = makeMachine(16 << 20, mmu);
  load(m, 0x100000, bin);
  m.cpu.eip = meta.entry;
  if (paging) setupPaging(m);
  let exits = 0;
  let e = 0;
  for (let k = 0; k < 1_000_000; k++) {
    e = m.cpu.run(churn ? 3001 : 50_000_000);
    if (e === EXIT_MMU) exits++;
    else if (e === EXIT_BUDGET && churn) {
      // Forget every translation: the next accesses exit again, mid-loop, mid-REP.
      m.cpu.tlb.flushAll();
      (m.cpu.mmu as ExitingMmu).seen.clear();
    } else break;
  }
  expect(e).toBe(EXIT_STOP);
  const out = m.io.out;
  const sum = (out[0] | (out[1] << 8) | (out[2] << 16) | (out[3] << 24)) >>> 0;
  return { sum, icount: m.cpu.icount, exits, cpu: m.cpu };
}

describe('compiled workload', () => {
  const native = runWorkload();

  it('gives the checksum of the same C compiled natively', () => {
    expect(native.sum).toBe(meta.checksum);
    expect(native.icount).toBeGreaterThan(100_000);
  });

  it('is unchanged when every first access exits to the Mmu (instructions restart cleanly)', () => {
    const r = runWorkload((inner) => new ExitingMmu(inner), false, true);
    expect(r.exits).toBeGreaterThan(1000);
    expect(r.sum).toBe(meta.checksum);
    expect(r.icount).toBe(native.icount);
  });

  it('is unchanged with paging on (identity map) and first-touch exits', () => {
    const r = runWorkload((inner) => new ExitingMmu(inner), true, true);
    expect(r.exits).toBeGreaterThan(1000);
    expect(r.sum).toBe(meta.checksum);
    expect(r.icount).toBe(native.icount);
  });

  it('is unchanged through TLB_NOCACHE translations, and every store is reported', () => {
    let mmu: NocacheMmu | null = null;
    const r = runWorkload((inner) => (mmu = new NocacheMmu(inner)));
    expect(r.sum).toBe(meta.checksum);
    expect(r.icount).toBe(native.icount);
    expect((mmu as unknown as NocacheMmu).tracked).toBeGreaterThan(1000);
  });

  it('run(n) retires exactly n instructions per slice and the total is the same', () => {
    const m = makeMachine(16 << 20);
    load(m, 0x100000, bin);
    m.cpu.eip = meta.entry;
    let e = EXIT_BUDGET;
    let slices = 0;
    while (e === EXIT_BUDGET) {
      const before = m.cpu.icount;
      e = m.cpu.run(9973);
      if (e === EXIT_BUDGET) expect(m.cpu.icount - before).toBe(9973);
      slices++;
    }
    expect(e).toBe(EXIT_STOP);
    expect(m.cpu.icount).toBe(native.icount);
    expect(slices).toBeGreaterThan(10);
  });

  it('the stale-access hook fires on a TLB hit whose frame generation changed', () => {
    const m = makeMachine(16 << 20);
    const gen = new Int32Array(16 << 8);
    m.cpu.frameGen = gen;
    const stale: Array<[number, number, boolean]> = [];
    m.cpu.onStale = (_c, lin, page, write) => stale.push([lin, page, write]);
    // mov eax,[0x200000]; mov eax,[0x200000]; out 0xf4,al
    load(m, 0x100000, [0xa1, 0, 0, 0x20, 0, 0xa1, 0, 0, 0x20, 0, 0xe6, 0xf4]);
    m.cpu.run(1);
    expect(stale).toEqual([]);
    gen[0x200]++;
    m.cpu.run(10);
    expect(stale).toEqual([[0x200000, 0x200, false]]);
  });
});

export type { CpuOf };
