// What the debugger reads of guest memory under the hypervisor (VmTarget.phys over
// Host.peekPage) against what the guest itself would read: a page in RAM, a page swapped out
// (its slot on the swap device, and in the swap cache), a page never populated (zeros), each
// compared with the bytes a real access returns afterwards, which swaps the page in. Reading
// must change nothing: no fault, no swap-in, no pte. And `monitor translate`'s walk of guest page
// tables the host swapped out, which it reads the same way.

import { describe, expect, it } from 'vitest';
import { MADV_PAGEOUT } from '../../src/host/constants.js';
import { VmTarget } from '../../src/cli/gdb/vm-target.js';
import { smallVm } from '../hv/helpers.js';
import { GuestDriver, identityPaging } from '../hv/guest-driver.js';
import { PTE_P, PTE_RW } from '../../src/cpu/paging.js';

describe('the debugger reads guest memory as the guest would, changing nothing', () => {
  it('resident, swapped out, in the swap cache, never populated: the same bytes a real access reads', () => {
    const { host, vm } = smallVm({ detect: false });
    const target = new VmTarget(vm, null);
    const pattern = (gfn: number): Uint8Array => Uint8Array.from({ length: 4096 }, (_, k) => (gfn * 31 + k * 7) & 0xff);
    for (let gfn = 0; gfn < 8; gfn++) host.accessUser(vm.mm, vm.hva + gfn * 4096, pattern(gfn), true);
    // gfns 0-3 out to swap; 4-7 stay resident; 8 and up never touched
    host.madvise(vm.mm, vm.hva, 4 * 4096, MADV_PAGEOUT);
    for (let gfn = 0; gfn < 4; gfn++) expect(host.frameAt(vm.mm, vm.hva + gfn * 4096), `gfn ${gfn} swapped out`).toBe(-1);
    const swapped = [0, 1, 2, 3].filter((g) => host.pageAt(vm.mm, vm.hva + g * 4096) < 0);
    const cached = [0, 1, 2, 3].filter((g) => host.pageAt(vm.mm, vm.hva + g * 4096) >= 0);
    expect(swapped.length + cached.length).toBe(4);
    expect(swapped.length, "pages whose bytes are only on the swap device").toBeGreaterThan(0);
    const before = { ...host.stats };
    const ptes = Array.from({ length: 16 }, (_, g) => vm.mm.pt.get((vm.hva >>> 12) + g));
    const peeked = Array.from({ length: 16 }, (_, g) => target.phys.read(g * 4096, 4096));
    // nothing changed: counters and ptes
    expect({ ...host.stats }).toEqual(before);
    expect(Array.from({ length: 16 }, (_, g) => vm.mm.pt.get((vm.hva >>> 12) + g))).toEqual(ptes);
    // and what a real access reads (swapping in, zero-filling) is what the debugger read
    for (let g = 0; g < 16; g++) {
      const real = new Uint8Array(4096);
      host.accessUser(vm.mm, vm.hva + g * 4096, real, false);
      expect(peeked[g], `gfn ${g}`).toEqual(real);
      if (g < 8) expect(real).toEqual(pattern(g));
      else expect(real.every((b) => b === 0)).toBe(true);
    }
    expect(host.stats.swapIns + host.stats.swapInsFromCache).toBeGreaterThanOrEqual(4);
    // a short read inside a page, and a guest-physical address outside every memslot
    expect(target.phys.read(5 * 4096 + 100, 3)).toEqual(pattern(5).slice(100, 103));
    expect(target.phys.read(0x7fff000, 4)).toBeNull();
  });
});

describe('monitor translate walks guest page tables the host swapped out, without swapping them in', () => {
  it.each(['shadow', 'tdp'] as const)('--mmu %s: the PDE and PTE read from swap equal what the guest wrote; nothing changes', (mmu) => {
    const { host, vm } = smallVm({ mmu, frames: 512, detect: false });
    const driver = new GuestDriver(vm);
    identityPaging(vm, driver); // PD at gpa 0x10000, PT at 0x11000
    const pt = 0x11000;
    vm.guestMem.writeGpa32(pt + 0x40 * 4, (0x23 << 12) | PTE_P | PTE_RW); // gva 0x40000 -> gpa 0x23000
    driver.store(0x40010, 0x1234);
    const resident = vm.describeTranslation(0x40010);
    expect([resident.pdeSwapped, resident.pteSwapped]).toEqual([false, false]);
    // the guest's PD and PT pages out to swap
    host.madvise(vm.mm, vm.hva + 0x10000, 2 * 4096, MADV_PAGEOUT);
    expect(host.frameAt(vm.mm, vm.hva + 0x10000)).toBe(-1);
    expect(host.frameAt(vm.mm, vm.hva + 0x11000)).toBe(-1);
    const before = { ...host.stats };
    const out = vm.describeTranslation(0x40010);
    expect({ ...host.stats }).toEqual(before);
    expect(host.frameAt(vm.mm, vm.hva + 0x10000)).toBe(-1);
    expect([out.pde, out.pte, out.gpa]).toEqual([resident.pde, resident.pte, 0x23010]);
    expect([out.pdeSwapped, out.pteSwapped]).toEqual([true, true]);
    const lines = new VmTarget(vm, null).translate(0, 0x40010).join('\n');
    expect(lines).toMatch(/guest PDE +0x00011[0-9a-f]{3} \(its table page is swapped out in the host: read from swap, not swapped in\)/);
    expect(lines).toMatch(/guest PTE +0x00023[0-9a-f]{3} \(its table page is swapped out/);
    expect(lines).toContain('GPA        0x00023010');
  });
});
