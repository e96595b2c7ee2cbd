// Host-side workload tasks that stir the VM processes' memory while guests run, so every
// mmu_notifier path gets exercised under the scheduler: a VMM that forks (copy_page_range
// write-protects the parent: COW breaks follow), a balloon-like driver that discards guest
// pages with MADV_DONTNEED, and a write-protect pass (mprotect read-only and back, as a dirty
// tracker would). All pick their targets with the simulation's seeded PRNG.

import type { Host } from '../host/host.js';
import { MADV_DONTNEED, PROT_READ, PROT_WRITE } from '../host/constants.js';
import type { Mm } from '../host/mm.js';
import { Prng } from '../host/prng.js';
import type { Vm } from '../hv/vm.js';
import type { Task } from './scheduler.js';

/**
 * A task that acts on one live VM every `every` scheduler picks (the VM chosen by the seeded
 * PRNG). Subclasses say what the action is.
 */
abstract class PeriodicVmTask implements Task {
  abstract readonly name: string;
  readonly weight = 1;
  private countdown: number;
  /** How many times the action ran. */
  count = 0;

  constructor(
    protected readonly host: Host,
    protected readonly vms: Vm[],
    private readonly every: number,
    protected readonly prng: Prng,
  ) {
    this.countdown = every;
  }

  runnable(): boolean {
    return this.vms.some((v) => !v.dead);
  }

  step(): void {
    this.tick();
    if (--this.countdown > 0) return;
    this.countdown = this.every;
    const live = this.vms.filter((v) => !v.dead);
    if (live.length === 0) return;
    if (this.act(live[this.prng.below(live.length)]!)) this.count++;
  }

  /** Called on every pick, due or not. */
  protected tick(): void {}

  /** Do it to `vm`; false if there was nothing to do. */
  protected abstract act(vm: Vm): boolean;
}

/** Every `every` picks, fork one VM process; the child lives `lifetime` picks, then exits. */
export class ForkTask extends PeriodicVmTask {
  readonly name = 'fork';
  private readonly children: { mm: Mm; ttl: number }[] = [];

  constructor(host: Host, vms: Vm[], every: number, prng: Prng, private readonly lifetime = 8) {
    super(host, vms, every, prng);
  }

  override runnable(): boolean {
    return super.runnable() || this.children.length > 0;
  }

  protected override tick(): void {
    for (let i = this.children.length - 1; i >= 0; i--) {
      const c = this.children[i]!;
      if (--c.ttl <= 0) {
        this.host.mmput(c.mm);
        this.children.splice(i, 1);
      }
    }
  }

  protected act(vm: Vm): boolean {
    this.children.push({ mm: this.host.fork(vm.mm), ttl: this.lifetime });
    return true;
  }

  /** Let every child exit now (end of a run). */
  reapAll(): void {
    for (const c of this.children) this.host.mmput(c.mm);
    this.children.length = 0;
  }
}

/**
 * Every `every` picks, MADV_DONTNEED a random run of pages inside [offset, offset + len) of one
 * VM's guest RAM: a balloon returning pages the guest promised not to need (the integrity
 * guests keep such a scratch area and never verify it).
 */
export class DontneedTask extends PeriodicVmTask {
  readonly name = 'dontneed';

  constructor(
    host: Host,
    vms: Vm[],
    every: number,
    prng: Prng,
    private readonly offset: number,
    private readonly len: number,
    private readonly maxPages = 16,
  ) {
    super(host, vms, every, prng);
  }

  protected act(vm: Vm): boolean {
    if (this.len < 4096) return false;
    const pages = 1 + this.prng.below(this.maxPages);
    const first = this.prng.below(Math.max(1, this.len / 4096 - pages + 1));
    const start = vm.hva + this.offset + first * 4096;
    this.host.madvise(vm.mm, start, Math.min(pages * 4096, this.offset + this.len - first * 4096), MADV_DONTNEED);
    return true;
  }
}

/**
 * Every `every` picks, write-protect a random run of one VM's guest RAM and make it writable
 * again (mprotect PROT_READ, then PROT_READ|PROT_WRITE), within one step so the guest never sees
 * the read-only window: each pass is a PROTECTION_VMA invalidation that zaps the sptes, and the
 * guest's next writes refault.
 */
export class MprotectTask extends PeriodicVmTask {
  readonly name = 'mprotect';

  constructor(host: Host, vms: Vm[], every: number, prng: Prng, private readonly maxPages = 64) {
    super(host, vms, every, prng);
  }

  protected act(vm: Vm): boolean {
    const total = vm.memBytes / 4096;
    const pages = Math.min(total, 1 + this.prng.below(this.maxPages));
    const start = vm.hva + this.prng.below(total - pages + 1) * 4096;
    this.host.mprotect(vm.mm, start, pages * 4096, PROT_READ);
    this.host.mprotect(vm.mm, start, pages * 4096, PROT_READ | PROT_WRITE);
    return true;
  }
}
