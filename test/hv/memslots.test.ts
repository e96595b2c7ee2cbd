// Invariant 22: after a memslot is deleted no spte maps its gfns, and a memslot update never
// completes while an invalidation is between start and end (both would let start and end see
// different slots). Also: gfns outside every slot read as all ones (GUEST-ABI), through an MMIO
// spte, and a slot added later turns them into memory.

import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_PRIVATE, MADV_DONTNEED, PROT_READ, PROT_WRITE } from '../../src/host/constants.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import { GuestDriver } from './guest-driver.js';
import { smallVm, spteFor } from './helpers.js';

const EXTRA_GFN = 512; // far above the 128-page RAM slot
const EXTRA = EXTRA_GFN * 4096;

function withExtraSlot() {
  const env = smallVm();
  const { host, vm } = env;
  const hva = host.mmap(vm.mm, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  return { ...env, hva, g: new GuestDriver(vm) };
}

describe('invariant 22: memslot changes', () => {
  it('a gfn outside every slot reads all ones; adding a slot makes it memory; deleting it zaps its sptes', () => {
    const { vm, hva, g } = withExtraSlot();
    expect(g.load(EXTRA) >>> 0).toBe(0xffffffff);
    g.store(EXTRA, 5); // dropped
    expect(g.load(EXTRA) >>> 0).toBe(0xffffffff);
    expect(vm.stats.pf_mmio_spte_created).toBe(1);
    expect(vm.addMemslot(1, EXTRA_GFN, 16, hva)).toBe(true);
    g.store(EXTRA, 7);
    expect(g.load(EXTRA)).toBe(7);
    expect(spteFor(vm, EXTRA) & 1).toBe(1);
    checkVmInvariants(vm);
    expect(vm.deleteMemslot(1)).toBe(true);
    expect(spteFor(vm, EXTRA) & 1).toBe(0);
    expect(vm.stats.sptes_present).toBe(0);
    checkVmInvariants(vm);
    expect(g.load(EXTRA) >>> 0).toBe(0xffffffff);
    // RAM is still RAM.
    g.store(16 * 4096, 3);
    expect(g.load(16 * 4096)).toBe(3);
  });

  it('an update requested during an invalidation waits for its end', () => {
    const { host, vm, hva, g } = withExtraSlot();
    vm.addMemslot(1, EXTRA_GFN, 16, hva);
    g.store(EXTRA, 1);
    let deferred: boolean | null = null;
    let slotsDuringWindow = -1;
    host.onPreempt = (label) => {
      if (label !== 'after-start' || deferred !== null) return;
      deferred = !vm.deleteMemslot(1);
      slotsDuringWindow = vm.memslots.slots.length;
    };
    host.madvise(vm.mm, vm.hva + 20 * 4096, 4096, MADV_DONTNEED); // any invalidation of this mm
    host.onPreempt = null;
    expect(deferred).toBe(true);
    expect(slotsDuringWindow).toBe(2); // start and end saw the same slots
    expect(vm.memslots.slots.length).toBe(1); // applied once the invalidation ended
    expect(vm.inv.activeInvalidateCount).toBe(0);
    expect(spteFor(vm, EXTRA) & 1).toBe(0);
    checkVmInvariants(vm);
  });

  it('GUEST-ABI: a debug-level log line names a guest-physical address outside RAM', () => {
    const lines: { obj: object; msg?: string }[] = [];
    const log = {
      trace: () => {},
      debug: (obj: object, msg?: string) => void lines.push({ obj, msg }),
      info: () => {},
      warn: () => {},
      error: () => {},
      enabled: (l: string) => l !== 'trace',
    };
    const { vm } = smallVm({ log });
    const g = new GuestDriver(vm);
    expect(g.load(EXTRA) >>> 0).toBe(0xffffffff);
    expect(lines).toContainEqual({ obj: { vm: 'vm0', gpa: '0x200000' }, msg: 'guest-physical address outside RAM' });
  });
});
