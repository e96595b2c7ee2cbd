// KVM's clear_flush_young, seen from reclaim: a guest page the guest keeps using through its
// spte (the host pte's young bit is never set by such accesses; only the spte's accessed bit
// knows) must be kept by reclaim over a page the guest stopped using. A clear_flush_young that
// answers "not young" without looking at the sptes (issue 8's performance bug) makes reclaim
// swap out the hot pages first, and the guest pays for it in swap-ins.

import { describe, expect, it } from 'vitest';
import { PTE_YOUNG } from '../../src/host/page-table.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import type { Vm } from '../../src/hv/vm.js';
import { GuestDriver } from './guest-driver.js';
import { smallVm, spteFor } from './helpers.js';

const DATA = 16;
const N = 12;
const SPTE_A = 0x20;

function frameOf(vm: Vm, gfn: number): number {
  return vm.host.frameAt(vm.mm, vm.hva + gfn * 4096);
}

describe('clear_flush_young: pages the guest uses through sptes survive reclaim', () => {
  it('hot pages (touched through sptes after aging) are kept, cold ones go to swap, and no hot page is swapped in again', () => {
    const { host, vm } = smallVm({ frames: 256, swapPages: 256 });
    const d = new GuestDriver(vm);
    // Hot and cold pages interleaved in LRU order, the oldest one hot: reclaim meets each hot
    // page before the cold page next to it, so only the young answer can save it.
    const hot: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < N; i++) {
      hot.push(DATA + 2 * i);
      cold.push(DATA + 2 * i + 1);
    }
    for (const g of [...hot, ...cold].sort((a, b) => a - b)) d.store(g * 4096, 0x5000 + g);
    // Age everything (host ptes and sptes), then drop cached translations so that the next
    // guest access walks the spte again and sets its accessed bit.
    host.clearYoung(vm.mm, vm.hva, vm.hva + 128 * 4096);
    vm.flushRemoteTlbs();
    for (const g of hot) expect(spteFor(vm, g * 4096) & SPTE_A).toBe(0);
    for (const g of hot) expect(d.load(g * 4096)).toBe(0x5000 + g);
    for (const g of hot) {
      expect(spteFor(vm, g * 4096) & SPTE_A).toBe(SPTE_A);
      expect(vm.mm.pt.get((vm.hva >>> 12) + g) & PTE_YOUNG).toBe(0); // only the spte knows
    }

    const swapOuts = host.stats.swapOuts;
    expect(host.reclaim(N)).toBe(N);
    expect(host.stats.swapOuts - swapOuts).toBe(N);
    for (const g of cold) expect(frameOf(vm, g)).toBe(-1);
    for (const g of hot) expect(frameOf(vm, g)).toBeGreaterThanOrEqual(0);
    expect(vm.stats.age_young).toBeGreaterThanOrEqual(N);

    // The guest goes on with its hot pages: no swap-in.
    const swapIns = host.stats.swapIns;
    for (const g of hot) expect(d.load(g * 4096)).toBe(0x5000 + g);
    expect(host.stats.swapIns).toBe(swapIns);
    for (const g of cold) expect(d.load(g * 4096)).toBe(0x5000 + g);
    expect(host.stats.swapIns - swapIns).toBe(N);
    checkVmInvariants(vm);
    host.checkInvariants();
  });
});
