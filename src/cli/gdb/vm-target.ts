// The debug target of a run under the hypervisor (`--mmu shadow` or `tdp`): the VM's vCPUs, and
// guest-physical memory through memslot -> hva -> the host's page there now. Reads never fault:
// a page the host has swapped out is read from the swap cache or the swap device, one it never
// populated reads as the zeros its first touch would map (Host.peekPage), so the debugger sees
// what the guest would read, as on QEMU, and attaching gdb changes nothing the host or KVM would
// do. Writes go the way KVM's kvm_write_guest goes (through the host, which may break COW or
// swap in, and drops decoded code of the frame), and the shadow MMU hears of a write into a
// guest page table it shadows.

import type { Cpu } from '../../cpu/cpu.js';
import type { Vm } from '../../hv/vm.js';
import { trackWrite } from '../../hv/shadow/track-write.js';
import { SPTE_NONLEAF, SPTE_P } from '../../hv/shadow/spte.js';
import type { EventRing } from '../../obs/event-ring.js';
import { readEvents } from '../../obs/event-ring.js';
import { lineFormatterFor, type SlotLookup } from '../trace-format.js';
import type { DebugTarget } from './debug-target.js';
import type { GuestPhys } from './guest-peek.js';

const hex = (v: number | null, w = 8): string => (v === null ? '-' : `0x${(v >>> 0).toString(16).padStart(w, '0')}`);

export class VmTarget implements DebugTarget {
  readonly cpus: readonly Cpu[];
  readonly phys: GuestPhys;
  /** The page a read copies (Host.peekPage) before it takes its bytes. */
  private readonly page = new Uint8Array(4096);

  constructor(
    private readonly vm: Vm,
    private readonly ring: EventRing | null,
  ) {
    this.cpus = vm.vcpus.map((v) => v.cpu);
    this.phys = {
      read: (gpa, len) => {
        const out = new Uint8Array(len);
        return this.phys.readInto(gpa, out, 0, len) ? out : null;
      },
      readInto: (gpa, out, off, len) => {
        const slot = vm.memslots.find(gpa >>> 12);
        if (slot === null) return false;
        const hva = slot.gfnToHva(gpa >>> 12);
        // A resident page is read where it is; any other through peekPage's copy (swap, zeros).
        const frame = vm.host.pageAt(vm.mm, hva);
        let src = vm.host.ram;
        let at = frame * 4096 + (gpa & 0xfff);
        if (frame < 0) {
          if (!vm.host.peekPage(vm.mm, hva, this.page)) return false;
          src = this.page;
          at = gpa & 0xfff;
        }
        for (let k = 0; k < len; k++) out[off + k] = src[at + k]!;
        return true;
      },
      isRam: (gpa) => vm.memslots.find(gpa >>> 12) !== null && !vm.mm.dead,
      write: (gpa, bytes) => {
        const slot = vm.memslots.find(gpa >>> 12);
        if (slot === null || vm.mm.dead) return false;
        // The write may fault the page in and reclaim on the way; the host's preemption points
        // must not run vCPU steps while the debugger holds the guest.
        const hook = vm.host.onPreempt;
        vm.host.onPreempt = null;
        try {
          vm.guestMem.write(gpa, bytes);
        } finally {
          vm.host.onPreempt = hook;
        }
        // Decoded code of the frame is dropped by the host's onFrameWrite hook, as for any
        // write through the host (a COW copy, swap-in).
        const gfn = gpa >>> 12;
        if (vm.mmu.isWriteTracked(gfn)) trackWrite(vm.mmu, gfn, gpa & 0xfff, bytes.length);
        return true;
      },
    };
  }

  translate(vcpu: number, gva: number): string[] {
    const t = this.vm.describeTranslation(gva, vcpu);
    const cpu = this.cpus[vcpu]!;
    const lines = [`translate ${hex(gva)} on vcpu${vcpu} (CR0 ${hex(cpu.cr0)}, CR3 ${hex(cpu.cr3)}, CR4 ${hex(cpu.cr4)}; --mmu ${t.mmu})`];
    const row = (k: string, v: string): number => lines.push(`  ${k.padEnd(10)} ${v}`);
    row('GVA', hex(gva));
    if (cpu.cr0 & 0x80000000) {
      const out = ' (its table page is swapped out in the host: read from swap, not swapped in)';
      row('guest PDE', t.pde === null ? 'unreadable: the host has no bytes for its table page' : hex(t.pde) + (t.pdeSwapped ? out : ''));
      if (t.pte !== null) row('guest PTE', hex(t.pte) + (t.pteSwapped ? out : ''));
    } else row('guest walk', 'paging off: GPA = GVA');
    row('GPA', t.gpa === null ? 'none: the guest has no mapping here (an access raises #PF in the guest)' : hex(t.gpa));
    if (t.gpa !== null) {
      row('HVA', t.hva === null ? 'none: no memslot (MMIO)' : hex(t.hva));
      if (t.hva !== null) row('HPA', t.hpa === null ? 'none: the host page is not resident (swapped out or never touched)' : hex(t.hpa));
    }
    row(t.mmu === 'tdp' ? 'TDP entry' : 'spte', t.entry === null ? 'none: the next access faults into KVM' : `${hex(t.entry)} (${t.text.split('; ')[1] ?? ''})`);
    return lines;
  }

  sptes(vcpu: number): string[] {
    const vm = this.vm;
    const tdp = vm.tdp;
    if (tdp !== null) {
      return [`--mmu tdp: one gpa->hpa table for the VM (not per guest CR3): ${tdp.leaves} leaf entries in ${tdp.tables} tables`, "  'monitor translate ADDR' shows the TDP entry of one address"];
    }
    const v = vm.vcpus[vcpu]!;
    const root = v.vmmu.root;
    const lines = [`shadow MMU: ${vm.mmu.count} shadow pages; vcpu${vcpu} CR3 ${hex(v.cpu.cr3)}`];
    if (root === null) {
      lines.push('  no root loaded (the next guest instruction loads one)');
      return lines;
    }
    lines.push(`  root sp ${root.id} (guest table gfn ${hex(root.gfn, 0)}): present PDE slots and their shadow page tables:`);
    let shown = 0;
    for (let i = 0; i < 1024; i++) {
      const spde = root.spt[i]!;
      if (!(spde & SPTE_P)) continue;
      if (shown++ >= 64) continue;
      const base = hex(i << 22);
      if (!(spde & SPTE_NONLEAF)) {
        lines.push(`  [${String(i).padStart(4)}] ${base}: leaf spte ${hex(spde)}`);
        continue;
      }
      const sp = vm.mmu.pages[spde >>> 12];
      if (sp === null || sp === undefined) lines.push(`  [${String(i).padStart(4)}] ${base}: sp ${spde >>> 12} (freed)`);
      else lines.push(`  [${String(i).padStart(4)}] ${base}: sp ${sp.id} (gfn ${hex(sp.gfn, 0)}), ${sp.presentCount} present sptes`);
    }
    if (shown > 64) lines.push(`  ... ${shown - 64} more slots`);
    if (shown === 0) lines.push('  none yet');
    return lines;
  }

  hostCounters(): string[] {
    const lines: string[] = [];
    const group = (title: string, rec: object): void => {
      const cells: string[] = [];
      for (const [k, v] of Object.entries(rec)) {
        if (typeof v === 'number' && v !== 0) cells.push(`${k} ${v}`);
        else if (typeof v === 'string' && v !== '') cells.push(`${k}: ${v}`);
      }
      lines.push(`${title}:`);
      for (let i = 0; i < cells.length; i += 4) lines.push(`  ${cells.slice(i, i + 4).join(', ')}`);
      if (cells.length === 0) lines.push('  all zero');
    };
    const h = this.vm.host;
    lines.push(`host: ${h.ft.nrFree} of ${h.ft.nrFrames} frames free`);
    group('host counters', h.stats);
    group('kvm counters', this.vm.stats);
    return lines;
  }

  events(n: number): string[] {
    const ring = this.ring;
    if (ring === null) return ['no event ring in this run'];
    const all = readEvents(ring);
    const shown = all.slice(Math.max(0, all.length - n));
    if (shown.length === 0) return ['no events yet'];
    const slots: SlotLookup = (gfn) => {
      const s = this.vm.memslots.find(gfn);
      return s === null ? null : { baseGfn: s.baseGfn, hva: s.hva };
    };
    const fmt = lineFormatterFor(shown, slots);
    const head = ring.overwritten > 0 ? [`(the ring holds the last ${ring.size} of ${ring.emitted} events)`] : [];
    return [...head, ...shown.map((e) => fmt.line(e))];
  }
}
