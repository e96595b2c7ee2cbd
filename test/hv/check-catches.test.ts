// The hypervisor's checkers (src/hv/check.ts for shadow paging, src/hv/tdp/tdp-check.ts for TDP)
// catch what they claim to: each case builds a sound VM whose guest has run (shadow: paging on,
// guest page tables shadowed, data pages mapped and in the TLB; also paging off, pin mode, and
// TDP), breaks one thing by hand, and requires checkVmInvariants() to throw that check's own
// message. The guard sweep (`scripts/guard-sweep.mjs --kind check`) found that no test saw most
// of these checks fail: disabled one at a time, every test still passed.

import { describe, expect, it } from 'vitest';
import { TLB_SIZE } from '../../src/cpu/tlb.js';
import { PTE_WRITE } from '../../src/host/page-table.js';
import { checkVmInvariants } from '../../src/hv/check.js';
import { isDirect, roleLevel } from '../../src/hv/shadow/role.js';
import { refIndex, refPage, spteRef } from '../../src/hv/shadow/rmap.js';
import type { ShadowPage } from '../../src/hv/shadow/shadow-page.js';
import { SPTE_NONLEAF, SPTE_P, SPTE_PINNED, SPTE_W } from '../../src/hv/shadow/spte.js';
import type { Vm, VmOptions } from '../../src/hv/vm.js';
import { GuestDriver } from './guest-driver.js';
import { smallVm } from './helpers.js';

const PD = 3;
const PT0 = 1;
const DATA = 16;

/** Writes a guest-physical word behind the guest's back (the host's view, no trap). */
function poke(vm: Vm, gpa: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  vm.host.accessUser(vm.mm, vm.hva + gpa, b, true);
}

/** A VM whose guest ran: DATA..DATA+3 written, PT0 read through its identity mapping. */
function sound(opts: Partial<VmOptions> = {}, paging = true): { vm: Vm; d: GuestDriver } {
  const { vm } = smallVm(opts);
  const d = new GuestDriver(vm);
  if (paging) {
    for (let i = 0; i < 128; i++) poke(vm, PT0 * 4096 + i * 4, (i << 12) | 3);
    poke(vm, PD * 4096, (PT0 << 12) | 3);
    d.setCr3(PD << 12);
    d.setCr0(0x80010011);
  }
  for (let g = DATA; g < DATA + 4; g++) d.store(g * 4096, g);
  d.load(PT0 * 4096);
  checkVmInvariants(vm);
  return { vm, d };
}

/** The shadow page and index of the leaf spte mapping guest-physical page gfn. */
function leafOf(vm: Vm, gfn: number): { sp: ShadowPage; i: number } {
  for (const sp of vm.mmu.validPages()) {
    for (let i = 0; i < 1024; i++) {
      const s = sp.spt[i]!;
      if (s & SPTE_P && !(s & SPTE_NONLEAF) && sp.gfns[i] === gfn) return { sp, i };
    }
  }
  throw new Error(`no leaf spte for gfn ${gfn}`);
}

/** A shadow page some non-leaf spte links to, and that link. */
function linked(vm: Vm): { parent: ShadowPage; i: number; child: ShadowPage } {
  for (const sp of vm.mmu.validPages()) {
    for (let i = 0; i < 1024; i++) {
      const s = sp.spt[i]!;
      if (s & SPTE_P && s & SPTE_NONLEAF) return { parent: sp, i, child: vm.mmu.pages[s >>> 12]! };
    }
  }
  throw new Error('no non-leaf spte');
}

/** vCPU 0's TLB slot caching linear page `lin`, optionally one that allows writes. */
function tlbSlot(vm: Vm, lin: number, write = false): number {
  const tlb = vm.vcpus[0]!.cpu.tlb;
  for (let i = 0; i < TLB_SIZE; i++) if (tlb.tagSR[i] === lin >>> 12 && (!write || tlb.tagSW[i] !== -1)) return i;
  throw new Error(`lin 0x${lin.toString(16)} not in the TLB`);
}

/** gfn's rmap list, to edit (made when the gfn has none). */
function rmapList(vm: Vm, gfn: number): number[] {
  const slot = vm.memslots.find(gfn)!;
  return (slot.rmap[gfn - slot.baseGfn] ??= []);
}

/** Moves leaf (sp, i)'s rmap entry from gfn `from` to gfn `to`. */
function moveRmap(vm: Vm, sp: ShadowPage, i: number, from: number, to: number): void {
  const ref = spteRef(sp.id, i);
  const a = rmapList(vm, from);
  a.splice(a.indexOf(ref), 1);
  rmapList(vm, to).push(ref);
}

/** [what is broken, the VM it starts from, how, the message the checker must give] */
type Case = [string, () => { vm: Vm }, (vm: Vm) => void, RegExp];
const shadow = () => sound();
const CASES: Case[] = [
  ['a negative count of invalidations in progress', shadow, (vm) => void (vm.inv.inProgress = -1), /invariant 5: inProgress -1 < 0/],
  ['a negative count of active invalidations', shadow, (vm) => void (vm.inv.activeInvalidateCount = -1), /invariant 5: activeInvalidateCount -1 < 0/],
  ['a non-leaf spte linking to a freed shadow page', shadow, (vm) => void (vm.mmu.pages[linked(vm).child.id] = null), /invariant 14: sp \d+\[\d+\] links to freed sp/],
  ['a link the guest PDE no longer names', shadow, (vm) => poke(vm, PD * 4096, ((PT0 + 40) << 12) | 3), /invariant 11: sp \d+\[0\] links to sp \d+ \(gfn 1\) but the guest PDE now says 0x29003/],
  [
    'a leaf naming a gfn outside every memslot',
    shadow,
    (vm) => {
      const { sp, i } = leafOf(vm, DATA);
      sp.gfns[i] = 1 << 20;
    },
    /invariant 14: sp \d+\[\d+\] maps gfn 1048576 outside every memslot/,
  ],
  [
    'a leaf missing from its rmap',
    shadow,
    (vm) => void (rmapList(vm, DATA).length = 0),
    /invariant 14: spte \d+ \(gfn 16\) missing from the rmap/,
  ],
  [
    'a leaf in its rmap twice',
    shadow,
    (vm) => {
      const { sp, i } = leafOf(vm, DATA);
      rmapList(vm, DATA).push(spteRef(sp.id, i));
    },
    /invariant 14: spte \d+ is in the rmap twice/,
  ],
  [
    'a direct shadow page mapping the wrong gfn',
    () => sound({}, false),
    (vm) => {
      const { sp, i } = leafOf(vm, DATA);
      expect(isDirect(sp.role)).toBe(true);
      sp.gfns[i] = DATA + 1;
      moveRmap(vm, sp, i, DATA, DATA + 1);
    },
    /invariant 14: direct sp \d+\[\d+\] maps gfn 17, expected 16/,
  ],
  [
    'a leaf the guest PTE no longer names',
    shadow,
    (vm) => poke(vm, PT0 * 4096 + DATA * 4, ((DATA + 50) << 12) | 3),
    /invariant 11: sp \d+\[16\] maps gfn 16 but the guest PTE now says 0x42003/,
  ],
  [
    'a shadowed guest page table writable through an spte',
    shadow,
    (vm) => {
      const { sp, i } = leafOf(vm, PT0);
      expect(vm.mmu.isWriteTracked(PT0)).toBe(true);
      sp.spt[i]! |= SPTE_W;
    },
    /invariant 10: gfn 1 is a shadowed guest table but sp \d+\[\d+\] maps it writable/,
  ],
  [
    'a pin-mode spte that holds no page reference',
    () => sound({ mode: 'pin' }),
    (vm) => {
      const { sp, i } = leafOf(vm, DATA);
      sp.spt[i]! &= ~SPTE_PINNED;
    },
    /invariant 8: pin mode spte \d+ holds no page reference/,
  ],
  [
    'a page reference held outside pin mode',
    shadow,
    (vm) => {
      const { sp, i } = leafOf(vm, DATA);
      sp.spt[i]! |= SPTE_PINNED;
    },
    /invariant 8: spte \d+ holds a page reference outside pin mode/,
  ],
  [
    'an spte mapping another frame than the host PTE',
    shadow,
    (vm) => {
      const { sp, i } = leafOf(vm, DATA);
      const other = vm.host.frameAt(vm.mm, vm.hva + (DATA + 1) * 4096);
      sp.spt[i] = ((other << 12) | (sp.spt[i]! & 0xfff)) >>> 0;
    },
    /invariant 1: spte for gfn 16 maps frame \d+ but the host PTE maps \d+/,
  ],
  [
    'a writable spte over a read-only host PTE',
    shadow,
    (vm) => {
      const vpn = (vm.hva + DATA * 4096) >>> 12;
      const { sp, i } = leafOf(vm, DATA);
      expect(sp.spt[i]! & SPTE_W).not.toBe(0);
      vm.mm.pt.set(vpn, vm.mm.pt.get(vpn) & ~PTE_WRITE);
    },
    /invariant 1: spte for gfn 16 is writable but the host PTE is not/,
  ],
  [
    'an spte whose frame was freed since',
    shadow,
    (vm) => {
      const { sp, i } = leafOf(vm, DATA);
      sp.gens[i]!++;
    },
    /invariant 4: spte for gfn 16 maps frame \d+, which was freed since/,
  ],
  ['a present count off by one', shadow, (vm) => void leafOf(vm, DATA).sp.presentCount++, /invariant 14: sp \d+ counts \d+ present sptes, has \d+/],
  [
    'an rmap entry no spte stands behind',
    shadow,
    (vm) => void rmapList(vm, DATA + 10).push(spteRef(9999, 0)),
    /invariant 14: \d+ present leaf sptes but \d+ rmap entries/,
  ],
  ['a parent link no spte makes', shadow, (vm) => void linked(vm).child.parentPtes.push(spteRef(9999, 1)), /invariant 14: sp \d+ parentPtes \[.*\] but linked from \[.*\]/],
  ['a TLB entry under no valid root', shadow, (vm) => void (vm.vcpus[0]!.vmmu.root = null), /invariant 2: vcpu 0 TLB maps \d+ with no valid root/],
  [
    'a TLB entry no spte backs',
    shadow,
    (vm) => {
      const tlb = vm.vcpus[0]!.cpu.tlb;
      tlb.off[tlbSlot(vm, DATA * 4096)]! += 4096 * 7;
    },
    /invariant 2: vcpu 0 TLB maps lin 0x10000 to page \d+, no spte does/,
  ],
  [
    'a writable TLB entry over a read-only spte',
    shadow,
    (vm) => {
      tlbSlot(vm, DATA * 4096, true);
      const { sp, i } = leafOf(vm, DATA);
      sp.spt[i]! &= ~SPTE_W;
    },
    /invariant 2: vcpu 0 TLB may write lin 0x10000 but its spte is read-only/,
  ],
];

const tdp = () => sound({ mmu: 'tdp' }, false);
const TDP_CASES: Case[] = [
  [
    'a leaf outside every memslot',
    tdp,
    (vm) => {
      const t = vm.tdp!;
      const gfn = 1 << 19;
      t.setLeaf(gfn, vm.host.frameAt(vm.mm, vm.hva + DATA * 4096), t.gen(DATA), 0);
    },
    /invariant 22: tdp leaf for gfn 524288 outside every memslot/,
  ],
  ['a pin-mode leaf that holds no page reference', () => sound({ mmu: 'tdp', mode: 'pin' }, false), (vm) => void (vm.tdp!.table(DATA)!.spt[DATA]! &= ~SPTE_PINNED), /invariant 8: pin mode tdp leaf for gfn 16 holds no page reference/],
  ['a page reference held outside pin mode', tdp, (vm) => void (vm.tdp!.table(DATA)!.spt[DATA]! |= SPTE_PINNED), /invariant 8: tdp leaf for gfn 16 holds a page reference outside pin mode/],
  [
    'a leaf mapping another frame than the host PTE',
    tdp,
    (vm) => {
      const t = vm.tdp!.table(DATA)!;
      const other = vm.host.frameAt(vm.mm, vm.hva + (DATA + 1) * 4096);
      t.spt[DATA] = ((other << 12) | (t.spt[DATA]! & 0xfff)) >>> 0;
    },
    /invariant 1: tdp leaf for gfn 16 maps frame \d+ but the host PTE maps \d+/,
  ],
  [
    'a writable leaf over a read-only host PTE',
    tdp,
    (vm) => {
      const vpn = (vm.hva + DATA * 4096) >>> 12;
      expect(vm.tdp!.entry(DATA) & SPTE_W).not.toBe(0);
      vm.mm.pt.set(vpn, vm.mm.pt.get(vpn) & ~PTE_WRITE);
    },
    /invariant 1: tdp leaf for gfn 16 is writable but the host PTE is not/,
  ],
  ['a leaf whose frame was freed since', tdp, (vm) => void vm.tdp!.table(DATA)!.gens[DATA]!++, /invariant 4: tdp leaf for gfn 16 maps frame \d+, which was freed since/],
  ['a leaf count off by one', tdp, (vm) => void vm.tdp!.leaves++, /invariant 14: tdp counts \d+ leaves, has \d+/],
  ['a vCPU without its 2-D walker', tdp, (vm) => void ((vm.vcpus[0] as { tdpMmu: unknown }).tdpMmu = null), /invariant 2: vcpu 0 has no 2-D walker under --mmu tdp/],
  [
    'a TLB entry the leaf of its gfn does not back',
    tdp,
    (vm) => {
      vm.vcpus[0]!.cpu.tlb.off[tlbSlot(vm, DATA * 4096)]! += 4096 * 7;
    },
    /invariant 2: vcpu 0 TLB maps lin 0x10000 to page \d+, the tdp leaf of gfn 16 does not/,
  ],
  [
    'a writable TLB entry over a read-only leaf',
    tdp,
    (vm) => {
      tlbSlot(vm, DATA * 4096, true);
      vm.tdp!.table(DATA)!.spt[DATA]! &= ~SPTE_W;
    },
    /invariant 2: vcpu 0 TLB may write lin 0x10000 but its tdp leaf is read-only/,
  ],
];

for (const [title, cases] of [['shadow MMU', CASES], ['TDP', TDP_CASES]] as const) {
  describe(`checkVmInvariants catches each kind of broken ${title} state`, () => {
    for (const [what, start, breakIt, message] of cases) {
      it(what, () => {
        const { vm } = start();
        breakIt(vm);
        expect(() => checkVmInvariants(vm)).toThrow(message);
      });
    }
  });
}

describe('the sound VMs the cases start from', () => {
  it('shadow with paging: non-direct level-1 leaves for the data, PT0 shadowed and mapped read-only', () => {
    const { vm } = sound();
    const { sp } = leafOf(vm, DATA);
    expect(isDirect(sp.role)).toBe(false);
    expect(roleLevel(sp.role)).toBe(1);
    expect(leafOf(vm, PT0).sp.spt[leafOf(vm, PT0).i]! & SPTE_W).toBe(0);
    const ref = vm.vcpus[0]!.vmmu.leafRef(DATA * 4096);
    expect(refPage(ref)).toBe(sp.id);
    expect(refIndex(ref)).toBe(DATA);
  });
});
