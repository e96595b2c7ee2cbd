// The explorer's scenarios: small set-ups that put one kind of host mm event against vCPU
// accesses and faults on the same few guest pages (reference/kvm-mmu.md §1.6, §3): each builds a
// fresh host and VM, gives its pages known contents, faults them in, and returns the actors
// (scripted vCPUs, host tasks) whose steps the explorer interleaves. Small on purpose: a run is a
// few hundred steps, so thousands of schedules fit in a second.

import { EXIT_SIGNAL } from '../../cpu/cpu.js';
import { Host } from '../../host/host.js';
import { MADV_DONTNEED, MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../host/constants.js';
import type { Mm } from '../../host/mm.js';
import { PageSwapStore } from '../../host/swap.js';
import { pageFault, type FaultResult } from '../../hv/shadow/page-fault.js';
import type { MemoryMode } from '../../hv/shadow/page-fault.js';
import { Vm } from '../../hv/vm.js';
import { nullLogger } from '../../obs/log.js';
import type { EventRing } from '../../obs/event-ring.js';
import { GuestActor, GuestModel, HostActor, MEM_GONE, MEM_LOOSE, MEM_RO, MEM_RW, r, w, type Actor, type GuestOp, type HostOp } from './actors.js';
import type { Bug } from './bugs.js';
import type { RunOptions, RunOutcome } from './engine.js';

export interface World {
  host: Host;
  vm: Vm;
  model: GuestModel;
  actors: Actor[];
  guests: GuestActor[];
  /** vCPUs may start a fault (gup) at after-start of the host operations of this scenario. */
  gupInWindow: boolean;
  /** Checks when the run is over: a message, or null. */
  finalChecks: (() => string | null)[];
}

export interface Scenario {
  name: string;
  what: string;
  /** A scripted scenario: its world, whose actors the explorer engine interleaves. */
  build?(bug: Bug | null, ring?: EventRing | null): World;
  /** A scenario that runs itself under the chooser (a guest image on the simulation engine). */
  run?(o: RunOptions): RunOutcome;
}

interface BaseOpts {
  pages: number;
  /** gfns the model covers (pages beyond guest RAM are other slots or unbacked). */
  modelPages?: number;
  vcpus?: number;
  mode?: MemoryMode;
  ksm?: boolean;
  frames?: number;
  /** Page fill byte per gfn (default: distinct per page). */
  fill?: (gfn: number) => number;
  /** Runs on the new host before guest memory is populated (older pages sit nearer the LRU tail). */
  before?: (host: Host) => void;
  /** Swap slots (default 64; 0: anonymous memory cannot be reclaimed at all). */
  swapPages?: number;
}

const word = (b: number): number => (b * 0x01010101) | 0;

class Builder {
  readonly host: Host;
  readonly vm: Vm;
  readonly model: GuestModel;
  readonly actors: Actor[] = [];
  readonly guests: GuestActor[] = [];
  readonly finalChecks: (() => string | null)[] = [];
  private readonly hostActors: HostActor[] = [];

  constructor(bug: Bug | null, o: BaseOpts, ring: EventRing | null) {
    const swap = o.swapPages ?? 64;
    this.host = new Host({ frames: o.frames ?? 64, swapPages: swap, swapStore: new PageSwapStore(swap), seed: 1 });
    this.vm = new Vm({
      host: this.host,
      memBytes: o.pages * 4096,
      vcpus: o.vcpus ?? 1,
      mode: o.mode ?? 'notifier',
      ksm: o.ksm === true,
      detect: true,
      log: nullLogger,
      output: { write: () => {} },
      ring,
    });
    if (bug !== null) bug.apply(this.vm.inject, this.host);
    o.before?.(this.host);
    this.model = new GuestModel(o.modelPages ?? o.pages);
    const fill = o.fill ?? ((g: number) => (g * 37 + 11) & 0xff);
    for (let g = 0; g < o.pages; g++) this.fillPage(this.vm.mm, this.vm.hva + g * 4096, g, fill(g));
    for (let g = o.pages; g < this.model.gfns; g++) this.model.acc[g] = MEM_LOOSE;
    this.finalChecks.push(() => this.hostView());
  }

  fillPage(mm: Mm, hva: number, gfn: number, byte: number): void {
    this.host.accessUser(mm, hva, new Uint8Array(4096).fill(byte), true);
    this.model.val[gfn] = word(byte);
    this.model.acc[gfn] = MEM_RW;
  }

  /** Fault `gfns` in on every vCPU now (sptes and TLB entries exist when the run starts). */
  prefault(gfns: readonly number[]): void {
    const out: FaultResult = { gfn: 0, hva: 0, errno: 0 };
    for (const v of this.vm.vcpus) {
      for (const g of gfns) {
        for (let tries = 0; tries < 8; tries++) {
          try {
            v.cpu.readAcc(g * 4096, 4, 0);
            break;
          } catch (e) {
            if (e !== EXIT_SIGNAL) throw e;
            const gen = pageFault(this.vm, v.cpu, v.vmmu, v.walker, g * 4096, 0, out);
            while (!gen.next().done);
          }
        }
      }
    }
  }

  guest(vcpu: number, script: GuestOp[]): void {
    const a = new GuestActor(this.actors.length, this.vm, vcpu, script, this.model, () => this.hostActors.some((h) => h.runnable()));
    this.actors.push(a);
    this.guests.push(a);
  }

  hostTask(name: string, ops: HostOp[], concurrent = false): void {
    const a = new HostActor(this.actors.length, name, ops, this.model, concurrent);
    this.actors.push(a);
    this.hostActors.push(a);
  }

  world(gupInWindow = false): World {
    return { host: this.host, vm: this.vm, model: this.model, actors: this.actors, guests: this.guests, gupInWindow, finalChecks: this.finalChecks };
  }

  // ---- host operations (model update at the operation's start, its linearisation point) -----

  pageout(g: number): HostOp {
    return { name: `pageout gfn ${g}`, run: () => { this.host.madvise(this.vm.mm, this.vm.hva + g * 4096, 4096, MADV_PAGEOUT); } };
  }

  dontneed(g: number): HostOp {
    return {
      name: `MADV_DONTNEED gfn ${g}`,
      run: () => {
        if (this.model.acc[g] !== MEM_LOOSE) this.model.val[g] = 0;
        this.host.madvise(this.vm.mm, this.vm.hva + g * 4096, 4096, MADV_DONTNEED);
      },
    };
  }

  mprotect(first: number, n: number, writable: boolean): HostOp {
    return {
      name: `mprotect gfn ${first}..${first + n - 1} ${writable ? 'RW' : 'RO'}`,
      run: () => {
        for (let g = first; g < first + n; g++) this.model.acc[g] = writable ? MEM_RW : MEM_RO;
        this.host.mprotect(this.vm.mm, this.vm.hva + first * 4096, n * 4096, writable ? PROT_READ | PROT_WRITE : PROT_READ);
      },
    };
  }

  ksmScan(pages: number): HostOp {
    return { name: `ksmd scan ${pages}`, run: () => this.host.ksmdStep(pages) };
  }

  reclaim(pages: number): HostOp {
    return { name: `reclaim ${pages}`, run: () => { this.host.reclaim(pages); } };
  }

  /** fork, then (a later step) the child checks it still sees the memory of fork time, and exits. */
  forkPair(): [HostOp, HostOp] {
    let child: Mm | null = null;
    let snapshot: Int32Array | null = null;
    let acc: Uint8Array | null = null;
    return [
      {
        name: 'fork',
        run: () => {
          snapshot = this.model.val.slice();
          acc = this.model.acc.slice();
          child = this.host.fork(this.vm.mm);
        },
      },
      {
        name: 'child checks its copy and exits',
        run: () => {
          if (child === null) return;
          const buf = new Uint8Array(4);
          const dv = new DataView(buf.buffer);
          for (let g = 0; g < this.model.gfns; g++) {
            if (acc![g] === MEM_LOOSE || acc![g] === MEM_GONE) continue;
            if (this.host.accessUser(child, this.vm.hva + g * 4096, buf, false) !== 4) continue;
            const v = dv.getInt32(0, true);
            if (v !== snapshot![g]) this.model.fail(`fork child: gfn ${g} = 0x${(v >>> 0).toString(16)}, expected its fork-time 0x${(snapshot![g]! >>> 0).toString(16)} (a guest write leaked into the child)`);
          }
          this.host.mmput(child);
          child = null;
        },
      },
    ];
  }

  exit(): HostOp {
    return {
      name: 'VMM process exits (exit_mmap)',
      run: () => {
        this.model.acc.fill(MEM_GONE);
        this.host.mmput(this.vm.mm);
      },
    };
  }

  /** What the host itself reads at each page at the end (lost writes show here). */
  private hostView(): string | null {
    if (this.vm.dead) return null;
    const buf = new Uint8Array(4);
    const dv = new DataView(buf.buffer);
    for (let g = 0; g < this.model.gfns; g++) {
      const acc = this.model.acc[g];
      if (acc !== MEM_RW && acc !== MEM_RO) continue;
      const slot = this.vm.memslots.find(g);
      if (slot === null) continue;
      if (this.host.accessUser(this.vm.mm, slot.gfnToHva(g), buf, false) !== 4) return `host: gfn ${g} not readable at the end`;
      const v = dv.getInt32(0, true);
      if (v !== this.model.val[g]) return `host: gfn ${g} = 0x${(v >>> 0).toString(16)} at the end, but the guest last wrote 0x${(this.model.val[g]! >>> 0).toString(16)} (a write went to a page the host no longer maps)`;
    }
    return null;
  }
}

const V = (n: number): number => 0x5a000000 + n;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'swap-fault',
    what: 'MADV_PAGEOUT (try_to_unmap, swap-out) of two pages against vCPU reads and writes that fault them back in',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4 }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [r(1), w(1, V(1)), r(2), r(1), w(2, V(2)), r(1), r(2), w(1, V(3)), r(1)]);
      b.hostTask('reclaim', [b.pageout(1), b.pageout(2), b.pageout(1), b.pageout(2)]);
      return b.world(true);
    },
  },
  {
    name: 'swap-race',
    what: 'the race of reference §1.6 at its smallest: one vCPU read fault against one swap-out of the same page',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4 }, ring ?? null);
      b.prefault([2]);
      // One read: a stale spte is caught by invariant 1 the step it is installed, so a second
      // read would only add choice points (PCT's k) without adding a way to fail.
      b.guest(0, [r(1)]);
      b.hostTask('reclaim', [b.pageout(1)]);
      return b.world(true);
    },
  },
  {
    name: 'swap-fault-pin',
    what: 'swap-fault with a pin-mode VM (no notifier; every spte holds a page reference)',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4, mode: 'pin' }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [r(1), w(1, V(1)), r(2), r(1), w(2, V(2)), r(1), r(2), w(1, V(3)), r(1)]);
      b.hostTask('reclaim', [b.pageout(1), b.pageout(2), b.pageout(1), b.pageout(2)]);
      return b.world(true);
    },
  },
  {
    name: 'ksm-write',
    what: 'ksmd merging identical guest pages (write_protect_page, replace_page) against guest reads and a write that breaks the merge',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 6, ksm: true, fill: (g) => (g === 0 ? 0x11 : 0x77) }, ring ?? null);
      b.host.ksmdStep(6); // first pass: every page's checksum recorded
      b.prefault([1, 2, 3, 4]);
      b.guest(0, [r(1), r(2), r(3), w(3, V(1)), r(2), r(1), r(4), r(3), r(2)]);
      b.hostTask('ksmd', [b.ksmScan(6), b.ksmScan(6), b.ksmScan(6)]);
      return b.world(true);
    },
  },
  {
    name: 'fork-write',
    what: 'the VMM forks (copy_page_range write-protects the parent) while the guest writes; the child must keep the fork-time contents',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4 }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [w(1, V(1)), r(2), w(2, V(2)), w(1, V(3)), r(1), w(2, V(4)), r(2)]);
      const [f1, c1] = b.forkPair();
      const [f2, c2] = b.forkPair();
      b.hostTask('vmm', [f1, c1, f2, c2]);
      return b.world();
    },
  },
  {
    name: 'dontneed-read',
    what: 'MADV_DONTNEED (a balloon) zaps pages while the guest reads and writes them: reads after the zap see zeros',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4 }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [r(1), r(2), w(1, V(1)), r(1), r(2), w(2, V(2)), r(2), r(1)]);
      b.hostTask('balloon', [b.dontneed(1), b.dontneed(2), b.dontneed(1)]);
      return b.world(true);
    },
  },
  {
    name: 'mprotect-write',
    what: 'mprotect read-only and back (a dirty tracker) while the guest writes: no write may land while the range is read-only',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4 }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [w(1, V(1)), w(2, V(2)), r(1), w(1, V(3)), w(2, V(4)), r(2), w(1, V(5))]);
      b.hostTask('tracker', [b.mprotect(1, 2, false), b.mprotect(1, 2, true), b.mprotect(1, 2, false), b.mprotect(1, 2, true)]);
      return b.world();
    },
  },
  {
    name: 'release',
    what: 'the VMM process exits (exit_mmap: ->release first, then unmap and free) while two vCPUs still run',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4, vcpus: 2 }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [r(1), w(1, V(1)), r(2), r(1), r(2)]);
      b.guest(1, [r(2), r(1), w(2, V(2)), r(2), r(1)]);
      b.hostTask('vmm', [b.exit()]);
      return b.world();
    },
  },
  {
    name: 'memslot-fault',
    what: 'the VMM deletes a memslot (KVM_SET_USER_MEMORY_REGION) while the host zaps part of it and the guest faults on it',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4, modelPages: 20 }, ring ?? null);
      const hva = b.host.mmap(b.vm.mm, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      for (let i = 0; i < 4; i++) b.fillPage(b.vm.mm, hva + i * 4096, 16 + i, 0x30 + i);
      b.vm.addMemslot(1, 16, 4, hva);
      b.prefault([16, 17]);
      b.guest(0, [r(16), r(17), w(16, V(1)), r(1), r(17), r(16), r(2), r(1)]);
      b.hostTask('balloon', [
        { name: 'MADV_DONTNEED gfn 16-17', run: () => { b.model.val[16] = 0; b.model.val[17] = 0; b.host.madvise(b.vm.mm, hva, 2 * 4096, MADV_DONTNEED); } },
      ]);
      b.hostTask('vmm', [
        { name: 'delete memslot 1', run: () => { for (let g = 16; g < 20; g++) b.model.acc[g] = MEM_LOOSE; b.vm.deleteMemslot(1); } },
      ], true);
      return b.world();
    },
  },
  {
    name: 'tlb-remote',
    what: 'two vCPUs with cached translations while the host zaps and swaps the pages: the remote TLB flush must reach the other vCPU',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4, vcpus: 2 }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [r(1), r(2), w(1, V(1)), r(1), r(2)]);
      b.guest(1, [r(1), r(2), r(1), r(2), r(1), r(2)]);
      b.hostTask('balloon', [b.dontneed(1), b.pageout(2), b.dontneed(2)]);
      return b.world(true);
    },
  },
  {
    name: 'mixed',
    what: 'two vCPUs against swap-out, MADV_DONTNEED, mprotect, ksmd and fork at once',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 6, vcpus: 2, ksm: true, fill: (g) => (g >= 4 ? 0x66 : (g * 37 + 11) & 0xff) }, ring ?? null);
      b.host.ksmdStep(6);
      b.prefault([1, 2, 3, 4, 5]);
      b.guest(0, [r(1), w(2, V(1)), r(4), r(3), w(1, V(2)), r(5), r(2), w(3, V(3)), r(1)]);
      b.guest(1, [r(2), r(5), w(4, V(4)), r(1), r(3), w(2, V(5)), r(4), r(2)]);
      const [f, c] = b.forkPair();
      b.hostTask('reclaim', [b.pageout(1), b.dontneed(3), b.pageout(2)]);
      b.hostTask('mm', [b.mprotect(2, 2, false), b.ksmScan(6), b.mprotect(2, 2, true), f, c]);
      return b.world();
    },
  },
  {
    name: 'migrate-fault',
    what: 'page migration (compaction, NUMA balancing: MMU_NOTIFY_MIGRATE) moves guest pages to new frames while the guest reads and writes them',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 4 }, ring ?? null);
      b.prefault([1, 2]);
      b.guest(0, [r(1), w(1, V(1)), r(2), r(1), w(2, V(2)), r(2), r(1), w(1, V(3)), r(1)]);
      const migrate = (g: number): HostOp => ({ name: `migrate gfn ${g}`, run: () => { b.host.migratePage(b.vm.mm, b.vm.hva + g * 4096); } });
      b.hostTask('kcompactd', [migrate(1), migrate(2), migrate(1), migrate(2)]);
      return b.world();
    },
  },
  {
    name: 'oom-reap',
    what: 'a growing host process runs the host out of memory; the OOM killer picks the VM process, the OOM reaper unmaps it with non-blockable ranges while its vCPUs run, then exit_mmap',
    build(bug, ring) {
      const b = new Builder(bug, { pages: 20, vcpus: 2, frames: 32, swapPages: 0 }, ring ?? null);
      b.prefault([1, 2, 3]);
      b.guest(0, [r(1), w(1, V(1)), r(2), r(3), r(1), r(2)]);
      b.guest(1, [r(2), r(3), w(2, V(2)), r(1), r(3)]);
      const hog = b.host.createMm();
      const at = b.host.mmap(hog, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      const ops: HostOp[] = [];
      for (let i = 0; i < 4; i++) {
        ops.push({
          name: `hog touches 4 more pages`,
          run: () => {
            b.host.accessUser(hog, at + i * 4 * 4096, new Uint8Array(4 * 4096).fill(0xee), true);
            if (b.vm.dead) b.model.acc.fill(MEM_GONE); // the OOM killer chose the VM process
          },
        });
      }
      b.hostTask('hog', ops);
      b.finalChecks.push(() => (b.vm.dead ? null : 'the OOM killer did not pick the VM process'));
      return b.world();
    },
  },
  {
    name: 'hot-reclaim',
    what: 'a memory-tight host reclaims while the guest keeps touching a hot set of pages (aging through clear_flush_young)',
    build(bug, ring) {
      // A cold process, older on the LRU, whose pages reclaim should take instead of the guest's hot ones.
      const before = (host: Host): void => {
        const cold = host.createMm();
        const at = host.mmap(cold, 32 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        host.accessUser(cold, at, new Uint8Array(32 * 4096).fill(0x99), true);
      };
      const b = new Builder(bug, { pages: 8, frames: 64, before }, ring ?? null);
      b.prefault([0, 1, 2, 3]);
      const script: GuestOp[] = [];
      for (let i = 0; i < 160; i++) script.push(r(0, 4)); // the hot set, once per step
      b.guest(0, script);
      const ops: HostOp[] = [];
      for (let i = 0; i < 48; i++) ops.push(b.reclaim(1));
      b.hostTask('kswapd', ops);
      return b.world();
    },
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** The scenarios a clean sweep covers (every one). */
export const SCENARIO_NAMES: readonly string[] = SCENARIOS.map((s) => s.name);
