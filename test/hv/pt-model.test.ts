// Property test of the shadow MMU against a model (invariants 1, 2, 4, 10, 11, 14): a guest that
// edits its own page tables, flushes with INVLPG or CR3 loads, switches between two address
// spaces and reads and writes memory, while the host swaps, merges (KSM), forks and discards
// (MADV_DONTNEED) the VM's pages at random. After every step the hypervisor's state must agree
// with the host's and with a fresh guest walk, and every value the guest reads must be the one a
// plain model of guest memory predicts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MADV_DONTNEED } from '../../src/host/constants.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import type { Vm } from '../../src/hv/vm.js';
import { GuestDriver } from './guest-driver.js';
import { smallVm } from './helpers.js';
import type { Mm } from '../../src/host/mm.js';

const PT0 = 1; // identity map of the first 128 pages (code, page tables, data)
const PD = [3, 4]; // two address spaces
const PT = [5, 6]; // their playground page tables (linear 0x400000..)
const SPARE = [7, 8]; // a second table per address space: `retable` repoints PDE 1 between them
const DATA = 64; // data pages gfn 64..79
const NDATA = 16;
const NPLAY = 16; // playground slots per address space
const PLAY = 0x400000;
const P = 1;
const W = 2;

type Op =
  | { k: 'map'; as: number; slot: number; data: number; w: boolean }
  | { k: 'unmap'; as: number; slot: number }
  | { k: 'read'; slot: number; off: number }
  | { k: 'write'; slot: number; off: number; val: number }
  | { k: 'retable'; as: number }
  | { k: 'switch' }
  | { k: 'reload' }
  | { k: 'dontneed'; data: number }
  | { k: 'reclaim'; n: number }
  | { k: 'ksm' }
  | { k: 'fork' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('map' as const), as: fc.nat(1), slot: fc.nat(NPLAY - 1), data: fc.nat(NDATA - 1), w: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unmap' as const), as: fc.nat(1), slot: fc.nat(NPLAY - 1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('read' as const), slot: fc.nat(NPLAY - 1), off: fc.nat(3).map((x) => x * 1024) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('write' as const), slot: fc.nat(NPLAY - 1), off: fc.nat(3).map((x) => x * 1024), val: fc.integer() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('retable' as const), as: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'switch' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'reload' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dontneed' as const), data: fc.nat(NDATA - 1) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('reclaim' as const), n: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'ksm' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'fork' as const }) },
);

/** Guest memory as the guest should see it: words at offsets 0/1024/2048/3072 of data pages. */
class Model {
  /** Playground entries of each table, by table gfn. */
  tables = new Map<number, Int32Array>([...PT, ...SPARE].map((t) => [t, new Int32Array(NPLAY)]));
  /** The table PDE 1 of each address space points at now. */
  link = [PT[0]!, PT[1]!];
  get pte(): Int32Array[] {
    return [this.tables.get(this.link[0]!)!, this.tables.get(this.link[1]!)!];
  }
  words = new Map<number, number>(); // gfn*4096+off -> value
  cur = 0;
  get(gfn: number, off: number): number {
    return this.words.get(gfn * 4096 + off) ?? 0;
  }
}

function bootPaging(vm: Vm, g: GuestDriver): void {
  const put = (gpa: number, v: number): void => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    vm.host.accessUser(vm.mm, vm.hva + gpa, b, true);
  };
  for (let i = 0; i < 128; i++) put(PT0 * 4096 + i * 4, (i << 12) | P | W);
  for (let a = 0; a < 2; a++) {
    put(PD[a]! * 4096, (PT0 << 12) | P | W);
    put(PD[a]! * 4096 + 4, (PT[a]! << 12) | P | W);
  }
  g.setCr3(PD[0]! << 12);
  g.setCr0(0x80010011);
}

function runOps(ops: Op[], mode: 'notifier' | 'pin'): void {
  const { host, vm } = smallVm({ mode, ksm: true, frames: 160, swapPages: 256, guestPages: 128 });
  const m = new Model();
  const children: { mm: Mm; snapshot: Map<number, number> }[] = [];
  const g = new GuestDriver(vm);
  bootPaging(vm, g);
  checkVmInvariants(vm);
  for (const op of ops) {
    switch (op.k) {
      case 'map':
      case 'unmap': {
        const v = op.k === 'map' ? ((DATA + op.data) << 12) | P | (op.w ? W : 0) : 0;
        m.pte[op.as]![op.slot] = v;
        // The guest's store to its page table traps (write-tracked) and is emulated.
        g.storeInvlpg(m.link[op.as]! * 4096 + op.slot * 4, v, PLAY + op.slot * 4096);
        break;
      }
      case 'retable': {
        // Repoint the address space's PDE 1 at its other table: a directory write that must drop
        // the old link; a full flush makes it visible (paging-structure caches may hold the PDE).
        const other = m.link[op.as] === PT[op.as] ? SPARE[op.as]! : PT[op.as]!;
        m.link[op.as] = other;
        g.store(PD[op.as]! * 4096 + 4, (other << 12) | P | W);
        g.reloadCr3();
        break;
      }
      case 'read': {
        const pte = m.pte[m.cur]![op.slot]!;
        if (!(pte & P)) break;
        const got = g.load(PLAY + op.slot * 4096 + op.off);
        expect(got).toBe(m.get(pte >>> 12, op.off));
        break;
      }
      case 'write': {
        const pte = m.pte[m.cur]![op.slot]!;
        if (!(pte & P) || !(pte & W)) break;
        g.store(PLAY + op.slot * 4096 + op.off, op.val);
        m.words.set((pte >>> 12) * 4096 + op.off, op.val | 0);
        break;
      }
      case 'switch':
        m.cur ^= 1;
        g.setCr3(PD[m.cur]! << 12);
        break;
      case 'reload':
        g.reloadCr3();
        break;
      case 'dontneed':
        host.madvise(vm.mm, vm.hva + (DATA + op.data) * 4096, 4096, MADV_DONTNEED);
        for (let off = 0; off < 4096; off += 1024) m.words.delete((DATA + op.data) * 4096 + off);
        break;
      case 'reclaim':
        host.reclaim(op.n);
        break;
      case 'ksm':
        host.ksmdStep(256);
        break;
      case 'fork':
        if (children.length < 3) children.push({ mm: host.fork(vm.mm), snapshot: new Map(m.words) });
        break;
    }
    checkVmInvariants(vm);
    host.checkInvariants();
  }
  // A forked child keeps the memory of the moment it was forked, whatever the guest wrote since.
  const word = new Uint8Array(4);
  for (const c of children) {
    for (let g = DATA; g < DATA + NDATA; g++) {
      for (let off = 0; off < 4096; off += 1024) {
        host.accessUser(c.mm, vm.hva + g * 4096 + off, word, false);
        expect(new DataView(word.buffer).getInt32(0, true)).toBe(c.snapshot.get(g * 4096 + off) ?? 0);
      }
    }
    host.mmput(c.mm);
  }
  if (mode === 'notifier') expect(vm.stats.pinned_pages).toBe(0);
  vm.destroy();
  host.checkInvariants();
}

describe('shadow MMU vs a model of guest memory, under host events', () => {
  it('notifier mode: guest reads always see the model, all invariants hold after every step', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }), (ops) => runOps(ops, 'notifier')),
      { numRuns: 200, seed: 4242 },
    );
  });

  it('pin mode: the same guest-visible results (pins keep frames alive, no notifier needed)', () => {
    fc.assert(
      fc.property(fc.array(opArb.filter((o) => o.k !== 'fork' && o.k !== 'dontneed'), { minLength: 1, maxLength: 40, size: 'max' }), (ops) => runOps(ops, 'pin')),
      { numRuns: 80, seed: 99 },
    );
  });
});
