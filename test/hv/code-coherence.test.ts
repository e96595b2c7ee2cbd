// Decoded instructions must follow every change to a frame's bytes, not only the guest's own
// stores: the host zero-fills, swaps in, copies (COW, fork) and writes guest memory (the VMM's
// copy_to_user), like DMA that the instruction cache snoops on real hardware.

import { describe, expect, it } from 'vitest';
import { MADV_DONTNEED } from '../../src/host/constants.js';
import { CODE_GPA, GuestDriver } from './guest-driver.js';
import { smallVm } from './helpers.js';

const OFF = 0x800; // a routine of our own in the driver's code page

function writeRoutine(vm: ReturnType<typeof smallVm>['vm'], eax: number): void {
  // mov eax, imm32 ; hlt
  const code = new Uint8Array([0xb8, eax & 0xff, (eax >>> 8) & 0xff, (eax >>> 16) & 0xff, eax >>> 24, 0xf4]);
  vm.host.accessUser(vm.mm, vm.hva + CODE_GPA + OFF, code, true);
}

describe('decoded code follows host writes to frames', () => {
  it('a VMM write into a code page the guest already ran is seen at once', () => {
    const { vm } = smallVm();
    const g = new GuestDriver(vm);
    writeRoutine(vm, 1);
    expect(g.call(OFF, 0)).toBe(1);
    writeRoutine(vm, 2); // the page stays mapped: no invalidation reaches KVM, only the byte change
    expect(g.call(OFF, 0)).toBe(2);
  });

  it('after the code page is swapped out and back in, the guest runs the right bytes', () => {
    const { host, vm } = smallVm({ frames: 64, swapPages: 256 });
    const g = new GuestDriver(vm);
    writeRoutine(vm, 3);
    expect(g.call(OFF, 0)).toBe(3);
    for (let i = 0; i < 8; i++) g.store((40 + i) * 4096, i); // other pages, then push everything out
    host.reclaim(64);
    expect(host.stats.swapOuts).toBeGreaterThan(0);
    expect(g.call(OFF, 0)).toBe(3);
  });

  it('a discarded code page reads back as zeros, and zeros are what runs', () => {
    const { host, vm } = smallVm();
    const g = new GuestDriver(vm);
    writeRoutine(vm, 4);
    expect(g.call(OFF, 0)).toBe(4);
    host.madvise(vm.mm, vm.hva + CODE_GPA, 4096, MADV_DONTNEED);
    new GuestDriver(vm); // reinstall the routines (the page is zero now)
    writeRoutine(vm, 5);
    expect(g.call(OFF, 0)).toBe(5);
  });
});
