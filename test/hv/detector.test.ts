// The stale-access detector beyond freed frames: pages the host replaced (COW) or
// write-protected (fork, mprotect) while the frame lives on. In notifier mode it must stay silent
// through the same host events; in pin and none modes it must report the accesses that bypass
// the host, without changing what the guest sees.

import { describe, expect, it } from 'vitest';
import { PROT_READ, PROT_WRITE } from '../../src/host/constants.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import type { MemoryMode } from '../../src/hv/shadow/page-fault.js';
import { GuestDriver } from './guest-driver.js';
import { smallVm } from './helpers.js';

const DATA = 16 * 4096;

function setup(mode: MemoryMode) {
  const { host, vm } = smallVm({ mode });
  const g = new GuestDriver(vm);
  g.store(DATA, 1);
  return { host, vm, g };
}

describe('stale detector: replaced and write-protected pages', () => {
  it('notifier mode: fork, COW, mprotect leave nothing stale', () => {
    const { host, vm, g } = setup('notifier');
    const child = host.fork(vm.mm);
    g.store(DATA, 2);
    host.mprotect(vm.mm, vm.hva + DATA, 4096, PROT_READ);
    expect(g.load(DATA)).toBe(2);
    host.mprotect(vm.mm, vm.hva + DATA, 4096, PROT_READ | PROT_WRITE);
    g.store(DATA, 3);
    host.mmput(child);
    expect(vm.stats.stale_accesses).toBe(0);
    checkVmInvariants(vm);
  });

  it('none mode: a guest write after fork goes into the page the child shares, and is reported', () => {
    const { host, vm, g } = setup('none');
    const child = host.fork(vm.mm);
    g.store(DATA, 2); // through the old writable spte: bypasses COW
    expect(vm.stats.stale_accesses).toBeGreaterThan(0);
    expect(vm.staleRecords[0]).toMatchObject({ gva: DATA, gfn: 16, write: true });
    const b = new Uint8Array(4);
    host.accessUser(child, vm.hva + DATA, b, false);
    expect(new DataView(b.buffer).getInt32(0, true)).toBe(2); // the child's memory changed: the bug
    expect(g.load(DATA)).toBe(2);
    host.mmput(child);
  });

  it('pin mode: after the host copies the page on a write of its own, the guest keeps the old copy, reported', () => {
    const { host, vm, g } = setup('pin');
    const child = host.fork(vm.mm); // a plain (not long-term) pin: fork COW-shares the frame
    const pinned = host.frameAt(vm.mm, vm.hva + DATA);
    host.accessUser(vm.mm, vm.hva + DATA, new Uint8Array([9, 0, 0, 0]), true); // the VMM writes guest RAM
    expect(host.stats.cowBreaks).toBeGreaterThan(0);
    expect(host.frameAt(vm.mm, vm.hva + DATA)).not.toBe(pinned);
    expect(vm.stats.stale_accesses).toBe(0);
    expect(g.load(DATA)).toBe(1); // the guest still reads its pinned, now orphaned, copy
    expect(vm.stats.stale_accesses).toBe(1);
    expect(vm.staleRecords[0]).toMatchObject({ gva: DATA, gfn: 16, frame: pinned, write: false });
    host.mmput(child);
  });

  it('none mode: mprotect(RO) then a guest write is reported, and memory is still written (no EFAULT)', () => {
    const { host, vm, g } = setup('none');
    host.mprotect(vm.mm, vm.hva + DATA, 4096, PROT_READ);
    g.store(DATA, 5);
    expect(vm.stats.stale_accesses).toBeGreaterThan(0);
    expect(g.load(DATA)).toBe(5);
  });
});
