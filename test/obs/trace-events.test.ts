// The events the hypervisor writes into the trace ring, checked against the run itself: tracing
// does not change what the guest does, every counter the ring can be compared with agrees with
// KVM's and the host's statistics, and the order of events shows the mmu_notifier protocol
// (zaps only inside start..end, no spte installed for a gfn while an invalidation covering it is
// in flight, the sequence bumped at every end).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EventRing, readEvents, type TraceEvent } from '../../src/obs/event-ring.js';
import {
  EV_EMULATED_PT_WRITE,
  EV_FAULT,
  EV_GUEST_PF,
  EV_GUP,
  EV_INV_END,
  EV_INV_START,
  EV_RETRY,
  EV_SPTE_SET,
  EV_SPTE_ZAP,
  EV_TLB_FLUSH,
  EV_WALK,
  FLUSH_REMOTE,
  GUP_SWAP_IN,
  GUP_SWAP_CACHE,
  ZAP_INVALIDATION,
} from '../../src/obs/events.js';
import { nullLogger } from '../../src/obs/log.js';
import { runGuest, type GuestRunOptions } from '../../src/sim/run-guest.js';

const dir = fileURLToPath(new URL('../../guest-images/', import.meta.url));
const K = 1024;
const M = 1024 * 1024;

interface Case {
  name: string;
  opts: Omit<GuestRunOptions, 'output' | 'log' | 'image'> & { image: string };
}

const CASES: Case[] = [
  { name: 'pagetest, 256K host', opts: { image: 'pagetest.elf', memBytes: 64 * M, hostMemBytes: 256 * K, seed: 0 } },
  {
    name: 'memhog, 16M guest on a 4M host',
    opts: { image: 'memhog.elf', memBytes: 16 * M, hostMemBytes: 4 * M, seed: 0, maxInsns: 20_000_000, cmdline: 'mib=4 iters=300' },
  },
];

function run(c: Case, ring?: EventRing) {
  const bytes: number[] = [];
  const g = runGuest({ ...c.opts, image: readFileSync(dir + c.opts.image), output: { write: (b) => void bytes.push(b) }, log: nullLogger, ring });
  return { g, out: Buffer.from(bytes).toString('latin1') };
}

const count = (ev: TraceEvent[], kind: number, pred: (e: TraceEvent) => boolean = () => true): number =>
  ev.filter((e) => e.kind === kind && pred(e)).length;

describe.each(CASES)('trace events: $name', (c) => {
  const ring = new EventRing(1 << 18);
  const traced = run(c, ring);
  const plain = run(c);
  const ev = readEvents(ring);
  const s = traced.g.vm.stats;

  it('tracing changes nothing the guest or the statistics can see', () => {
    expect(traced.out).toBe(plain.out);
    expect(traced.g.result).toEqual(plain.g.result);
    expect(traced.g.vm.stats).toEqual(plain.g.vm.stats);
    expect(traced.g.host.stats).toEqual(plain.g.host.stats);
    expect(traced.g.result.exitCode).toBe(0);
    expect(ring.overwritten).toBe(0);
  });

  it('the events agree with the counters', () => {
    expect(count(ev, EV_FAULT)).toBe(s.pf_taken);
    expect(count(ev, EV_GUEST_PF)).toBe(s.pf_guest);
    expect(count(ev, EV_SPTE_SET)).toBe(s.pf_fixed);
    expect(count(ev, EV_RETRY)).toBe(s.pf_retry_in_progress + s.pf_retry_seq + s.pf_retry_unsafe + s.pf_retry_gpte_changed);
    expect(count(ev, EV_GUP)).toBe(traced.g.host.stats.gups + traced.g.host.stats.gupFailures);
    expect(count(ev, EV_EMULATED_PT_WRITE)).toBe(s.mmu_pte_write);
    expect(count(ev, EV_INV_START)).toBe(traced.g.host.stats.notifierStarts);
    expect(count(ev, EV_INV_END)).toBe(traced.g.host.stats.notifierEnds);
    expect(count(ev, EV_SPTE_ZAP, (e) => e.f[2] === ZAP_INVALIDATION)).toBe(s.sptes_zapped_by_invalidation);
    expect(count(ev, EV_TLB_FLUSH, (e) => e.f[1] === FLUSH_REMOTE)).toBe(s.remote_tlb_flush);
    expect(count(ev, EV_GUP, (e) => e.f[4] === GUP_SWAP_IN || e.f[4] === GUP_SWAP_CACHE)).toBeGreaterThan(0);
    expect(s.sptes_zapped_by_invalidation).toBeGreaterThan(0);
  });

  it('shows the protocol: zaps inside start..end, no spte for an invalidated gfn until end, seq bumped at end', () => {
    let depth = 0;
    let lo = Infinity;
    let hi = -Infinity;
    let lastSeq = 0;
    let lastTime = 0;
    for (const e of ev) {
      expect(e.time).toBeGreaterThanOrEqual(lastTime);
      lastTime = e.time;
      if (e.kind === EV_INV_START) {
        if (depth === 0) [lo, hi] = [Infinity, -Infinity];
        depth++;
        if (e.f[3]! >= 0) [lo, hi] = [Math.min(lo, e.f[3]!), Math.max(hi, e.f[4]!)];
      } else if (e.kind === EV_INV_END) {
        depth--;
        expect(e.f[0]).toBeGreaterThanOrEqual(lastSeq);
        lastSeq = e.f[0]!;
      } else if (e.kind === EV_SPTE_ZAP && e.f[2] === ZAP_INVALIDATION) {
        expect(depth).toBeGreaterThan(0);
        expect(e.f[0]).toBeGreaterThanOrEqual(lo);
        expect(e.f[0]).toBeLessThan(hi);
      } else if (e.kind === EV_SPTE_SET && depth > 0) {
        const gfn = e.f[1]!;
        expect(gfn < lo || gfn >= hi, `spte for gfn ${gfn} set inside an invalidation of [${lo}, ${hi})`).toBe(true);
      }
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(lastSeq).toBe(traced.g.vm.inv.seq);
  });

  it('a fault reads FAULT -> WALK -> GUP -> SPTE_SET on its vCPU', () => {
    const sets = ev.filter((e) => e.kind === EV_SPTE_SET);
    expect(sets.length).toBeGreaterThan(0);
    for (const set of sets) {
      const mine = ev.filter((e) => e.vcpu === set.vcpu && e.seq < set.seq && (e.kind === EV_FAULT || e.kind === EV_WALK || e.kind === EV_GUP));
      const [f, w, g] = mine.slice(-3);
      expect([f!.kind, w!.kind, g!.kind]).toEqual([EV_FAULT, EV_WALK, EV_GUP]);
      expect(w!.f[0]).toBe(set.f[0]); // gva
      expect(w!.f[1]).toBe(set.f[1]); // gfn
      expect(g!.f[0]).toBe(set.f[1]);
      expect(g!.f[2]).toBe(set.f[2]); // frame
    }
  });
});
