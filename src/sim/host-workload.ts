// Host-side workload tasks that stir the VM processes' memory while guests run, so every
// mmu_notifier path gets exercised under the scheduler: a VMM that forks (copy_page_range
// write-protects the parent: COW breaks follow) and a balloon-like driver that discards guest
// pages with MADV_DONTNEED. Both pick their targets with the simulation's seeded PRNG.

import type { Host } from '../host/host.js';
import { MADV_DONTNEED } from '../host/constants.js';
import type { Mm } from '../host/mm.js';
import { Prng } from '../host/prng.js';
import type { Vm } from '../hv/vm.js';
import type { Task } from './scheduler.js';

/** Every `every` scheduler picks, fork one VM process; the child lives `lifetime` picks, then exits. */
export class ForkTask implements Task {
  readonly name = 'fork';
  readonly weight = 1;
  private countdown: number;
  private readonly children: { mm: Mm; ttl: number }[] = [];
  forks = 0;

  constructor(
    private readonly host: Host,
    private readonly vms: Vm[],
    private readonly every: number,
    private readonly prng: Prng,
    private readonly lifetime = 8,
  ) {
    this.countdown = every;
  }

  runnable(): boolean {
    return this.vms.some((v) => !v.dead) || this.children.length > 0;
  }

  step(): void {
    for (let i = this.children.length - 1; i >= 0; i--) {
      const c = this.children[i]!;
      if (--c.ttl <= 0) {
        this.host.mmput(c.mm);
        this.children.splice(i, 1);
      }
    }
    if (--this.countdown > 0) return;
    this.countdown = this.every;
    const live = this.vms.filter((v) => !v.dead);
    if (live.length === 0) return;
    const vm = live[this.prng.below(live.length)]!;
    this.children.push({ mm: this.host.fork(vm.mm), ttl: this.lifetime });
    this.forks++;
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
export class DontneedTask implements Task {
  readonly name = 'dontneed';
  readonly weight = 1;
  private countdown: number;
  discards = 0;

  constructor(
    private readonly host: Host,
    private readonly vms: Vm[],
    private readonly every: number,
    private readonly prng: Prng,
    private readonly offset: number,
    private readonly len: number,
    private readonly maxPages = 16,
  ) {
    this.countdown = every;
  }

  runnable(): boolean {
    return this.vms.some((v) => !v.dead);
  }

  step(): void {
    if (--this.countdown > 0) return;
    this.countdown = this.every;
    const live = this.vms.filter((v) => !v.dead);
    if (live.length === 0 || this.len < 4096) return;
    const vm = live[this.prng.below(live.length)]!;
    const pages = 1 + this.prng.below(this.maxPages);
    const first = this.prng.below(Math.max(1, this.len / 4096 - pages + 1));
    const start = vm.hva + this.offset + first * 4096;
    this.host.madvise(vm.mm, start, Math.min(pages * 4096, this.offset + this.len - first * 4096), MADV_DONTNEED);
    this.discards++;
  }
}
