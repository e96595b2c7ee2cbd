// The compiler's contract, checked by difference: every guest image, the instruction-stream
// fuzzer's cases and (under the shadow MMU with a host so small that code pages are swapped out
// and back under compiled code, and with KSM merging them) traced runs give the same serial
// bytes, exit, registers, statistics and trace events with --jit on as with --jit off. Each run
// with the compiler must actually have compiled code, or the comparison would prove nothing.

import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { flushCompiled, jitStats, jitTuning, setJitDefault } from '../../src/cpu/jit/compile.js';
import { wasmStats } from '../../src/cpu/jit/wasm-region.js';
import type { Cpu } from '../../src/cpu/cpu.js';
import { CODE_CACHE_LIMITS } from '../../src/cpu/code-cache.js';
import { NativeMachine } from '../../src/machine/native-machine.js';
import { EventRing } from '../../src/obs/event-ring.js';
import { nullLogger } from '../../src/obs/log.js';
import { runGuest } from '../../src/sim/run-guest.js';
import { caseAt, runCase } from '../../src/sim/fuzz/fuzz-case.js';
import { loadFuzzImages } from '../../bench/fuzz.js';

const DIR = join(resolve(fileURLToPath(new URL('../..', import.meta.url))), 'guest-images');
const images = readdirSync(DIR)
  .filter((f) => f.endsWith('.elf') && f !== 'cpubench.elf' && f !== 'intbench.elf')
  .sort();
const img = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, name)));

const savedTuning = { ...jitTuning };
const savedLimits = { ...CODE_CACHE_LIMITS };
afterEach(() => {
  setJitDefault(false);
  Object.assign(jitTuning, savedTuning);
  Object.assign(CODE_CACHE_LIMITS, savedLimits);
});
type Tier = 'js' | 'wasm';
/** Compile after 40 runs (these runs are short; WebAssembly regions after 20), JavaScript
 *  regions of `maxBlocks` blocks; `tier` js: JavaScript regions only. */
const tune = (maxBlocks: number, tier: Tier): void =>
  void Object.assign(jitTuning, { hot: 40, wasmHot: 20, maxBlocks, insnsPerByte: 0, wasm: tier === 'wasm' });

/** Everything a run shows besides wall time. */
function cpuView(c: Cpu): object {
  return {
    icount: c.icount,
    regs: [...c.regs],
    eip: c.eip,
    eflags: c.getEflags(),
    cr: [c.cr0, c.cr2, c.cr3, c.cr4],
    hits: c.stats.tlbHits,
    misses: c.stats.tlbMisses,
    decoded: c.stats.blocksDecoded,
    interrupts: c.stats.interrupts,
    exceptions: [...c.stats.exceptions],
    halted: c.haltedTicks,
  };
}

/** Runs f with the compiler on or off; `compiled` counts the regions compiled in the tier that
 *  jitTuning.wasm selects (with WebAssembly, blocks it cannot state still go to JavaScript). */
function withJit<T>(on: boolean, f: () => T): { v: T; compiled: number } {
  setJitDefault(on);
  const before = jitTuning.wasm ? wasmStats.regions : jitStats.regions;
  try {
    const v = f();
    return { v, compiled: (jitTuning.wasm ? wasmStats.regions : jitStats.regions) - before };
  } finally {
    setJitDefault(false);
  }
}

/** Blocks of c's code cache that run compiled code (either tier). */
function compiledBlocks(c: Cpu): number {
  let n = 0;
  for (const t of c.code.pages) if (t !== undefined) for (const b of t) if (b !== undefined && b.jfn !== null) n++;
  return n;
}

function native(name: string, maxInsns: number): object {
  const out: number[] = [];
  const m = new NativeMachine({ image: img(name), ramBytes: 32 << 20, output: { write: (b) => void out.push(b) } });
  const r = m.run(maxInsns);
  return { out: Buffer.from(out).toString('latin1'), r, cpu: cpuView(m.cpu) };
}

/** The trace ring's events in order (kind, vCPU, virtual time, fields). */
function events(ring: EventRing): number[][] {
  const ev: number[][] = [];
  for (let s = ring.oldestSeq; s < ring.emitted; s++) {
    const f: number[] = [ring.kindOf(s), ring.vcpuOf(s), ring.timeOf(s)];
    for (let k = 0; k < 5; k++) f.push(ring.field(s, k));
    ev.push(f);
  }
  return ev;
}

function shadow(name: string, maxInsns: number, hostMemBytes: number | undefined, ksm: boolean, mmu: 'shadow' | 'tdp' = 'shadow'): object {
  const out: number[] = [];
  const ring = new EventRing(1 << 16);
  const g = runGuest({
    image: img(name),
    memBytes: 8 << 20,
    mmu,
    hostMemBytes,
    ksm,
    maxInsns,
    seed: 3,
    output: { write: (b) => void out.push(b) },
    log: nullLogger,
    ring,
  });
  return {
    out: Buffer.from(out).toString('latin1'),
    r: g.result,
    cpus: g.vm.vcpus.map((v) => cpuView(v.cpu)),
    vm: g.vm.stats,
    host: g.host.stats,
    emitted: ring.emitted,
    events: events(ring),
  };
}

describe('--jit on and off give the same machine', () => {
  const tiers = (names: readonly string[]): Array<[string, Tier]> => names.flatMap((n) => [[n, 'js'], [n, 'wasm']] as Array<[string, Tier]>);
  it.each(tiers(images))('native: %s, %s regions', (name, tier) => {
    tune(1, tier);
    const off = withJit(false, () => native(name, 2_000_000));
    const on = withJit(true, () => native(name, 2_000_000));
    expect(on.compiled, 'the compiler ran').toBeGreaterThan(0);
    expect(on.v).toEqual(off.v);
  });

  // Tiny host: the guest's code pages are reclaimed and swapped back in while compiled; KSM
  // merges identical pages (COW breaks on the next write). The trace ring records every fault,
  // invalidation and refault with its virtual time.
  it.each(
    (
      [
        ['cputest.elf', 2_000_000, 1 << 20, false],
        ['pagestress.elf', 1_500_000, 1 << 20, true],
        ['cpubench-short.elf', 1_500_000, 768 << 10, true],
        ['smp.elf', 1_500_000, 1 << 20, false],
      ] as const
    ).flatMap((c) => [[...c, 'js'], [...c, 'wasm']] as Array<[string, number, number, boolean, Tier]>),
  )('shadow, tiny host: %s (%s insns, host %s bytes, ksm %s), %s regions', (name, maxInsns, host, ksm, tier) => {
    tune(16, tier);
    const off = withJit(false, () => shadow(name, maxInsns, host, ksm));
    const on = withJit(true, () => shadow(name, maxInsns, host, ksm));
    expect(on.compiled, 'the compiler ran').toBeGreaterThan(0);
    expect((off.v as { emitted: number }).emitted, 'the host swapped under the guest').toBeGreaterThan(100);
    expect(on.v).toEqual(off.v);
  });

  // The vCPU's state slot and the link table lie past RAM in the WebAssembly memory: with 2 GiB
  // of host RAM their byte addresses pass 2^31, and a signed index into them read and wrote
  // nothing (every compiled run died in its first region, status 70).
  // Compiled code must also run the same way there: the same exits and tail calls between
  // regions as with a 64 MiB host (neither swaps), which a link table written at negative
  // indices (links never mirrored, every move between regions an exit) does not give.
  it.each(['shadow', 'tdp'] as const)('a 2 GiB host (%s): compiled regions run, same machine, same exits and chains as a 64 MiB host', (mmu) => {
    tune(16, 'wasm');
    const off = withJit(false, () => shadow('cpubench-short.elf', 1_500_000, 2 ** 31, false, mmu));
    const ways = (host: number): { v: object; compiled: number; exits: number[]; chains: number } => {
      const e0 = [...wasmStats.exits];
      const c0 = wasmStats.chains;
      const r = withJit(true, () => shadow('cpubench-short.elf', 1_500_000, host, false, mmu));
      return { ...r, exits: wasmStats.exits.map((x, k) => x - e0[k]!), chains: wasmStats.chains - c0 };
    };
    const on = ways(2 ** 31);
    const small = ways(64 << 20);
    expect(on.compiled, 'the compiler ran').toBeGreaterThan(0);
    expect(on.v).toEqual(off.v);
    expect(small.chains, 'regions chain').toBeGreaterThan(0);
    expect([on.exits, on.chains]).toEqual([small.exits, small.chains]);
  });

  it.each(['js', 'wasm'] as const)('tdp MMU, tiny host: pagestress.elf, %s regions', (tier) => {
    tune(4, tier);
    const off = withJit(false, () => shadow('pagestress.elf', 1_500_000, 1 << 20, false, 'tdp'));
    const on = withJit(true, () => shadow('pagestress.elf', 1_500_000, 1 << 20, false, 'tdp'));
    expect(on.compiled, 'the compiler ran').toBeGreaterThan(0);
    expect(on.v).toEqual(off.v);
  });

  // The cap on compiled code (jitTuning.wasmMaxBytes, jsMaxBytes): the next compile past it
  // drops all compiled code of the cache (flushCompiled) and what is still hot compiles again.
  it.each(['js', 'wasm'] as const)('compiled code past its cap is flushed and compiled again, exactly: %s regions', (tier) => {
    tune(1, tier);
    // A few regions' worth each (a cap far below the hot code's size would flush at every compile)
    jitTuning.wasmMaxBytes = 16384;
    jitTuning.jsMaxBytes = 131072;
    const f0 = jitStats.flushes;
    const off = withJit(false, () => native('cpubench-short.elf', 6_000_000));
    const on = withJit(true, () => native('cpubench-short.elf', 6_000_000));
    const flushes = jitStats.flushes - f0;
    expect(flushes, 'the cap was reached more than once').toBeGreaterThan(1);
    // a flush empties the cache: several regions fit before the next one (not one per compile)
    expect(on.compiled, 'regions compiled again after each flush').toBeGreaterThan(3 * flushes);
    expect(on.v).toEqual(off.v);
  });

  it.each(['js', 'wasm'] as const)('flushCompiled leaves no compiled block and no live region; the run goes on exactly: %s regions', (tier) => {
    tune(1, tier);
    // WebAssembly: only wasmHot may compile again (a block past it must have started counting again)
    if (tier === 'wasm') jitTuning.hot = 1e9;
    const split = (jit: boolean): { v: object; before: number; after: number; regions: number; again: number } => {
      setJitDefault(jit);
      try {
        const out: number[] = [];
        const m = new NativeMachine({ image: img('cpubench-short.elf'), ramBytes: 32 << 20, output: { write: (b) => void out.push(b) } });
        m.run(4_000_000);
        const before = compiledBlocks(m.cpu);
        if (jit) flushCompiled(m.cpu);
        const after = compiledBlocks(m.cpu);
        const regions = m.cpu.warena?.liveRegions() ?? 0;
        const r = m.run(20_000_000);
        return { v: { out: Buffer.from(out).toString('latin1'), r, cpu: cpuView(m.cpu) }, before, after, regions, again: compiledBlocks(m.cpu) };
      } finally {
        setJitDefault(false);
      }
    };
    const off = split(false);
    const on = split(true);
    expect(on.before, 'blocks were compiled before the flush').toBeGreaterThan(0);
    expect(on.after, 'no block is left compiled').toBe(0);
    expect(on.regions, 'no WebAssembly region is left in the table').toBe(0);
    expect(on.again, 'hot blocks compiled again').toBeGreaterThan(0);
    expect(on.v).toEqual(off.v);
  });

  // The decoded-block cache's own bound (CODE_CACHE_LIMITS): emptied like a page written over,
  // compiled code and links with it. Tiny limits flush it every few hundred instructions decoded.
  it.each(['js', 'wasm'] as const)('a full decoded-block cache is emptied; the guest computes the same, exactly alike with the compiler: %s regions', (tier) => {
    tune(4, tier);
    const run = (jit: boolean): { v: { out: string; r: unknown; cpu: object }; flushes: number; held: number; blocks: number; slots: number; compiled: number } => {
      const w = withJit(jit, () => {
        const out: number[] = [];
        const m = new NativeMachine({ image: img('cpubench-short.elf'), ramBytes: 32 << 20, output: { write: (b) => void out.push(b) } });
        const r = m.run(6_000_000);
        let blocks = 0;
        for (const t of m.cpu.code.pages) if (t !== undefined) for (const b of t) if (b !== undefined) blocks++;
        const slots = m.cpu.warena?.slotsHeld() ?? 0;
        return { v: { out: Buffer.from(out).toString('latin1'), r, cpu: cpuView(m.cpu) }, flushes: m.cpu.code.capacityFlushes, held: m.cpu.code.heldInsns, blocks, slots };
      });
      return { ...w.v, compiled: w.compiled };
    };
    const roomy = run(false);
    expect(roomy.flushes, 'default limits: no flush').toBe(0);
    Object.assign(CODE_CACHE_LIMITS, { insns: 300, pages: 3 });
    const off = run(false);
    const on = run(true);
    expect(off.flushes, 'the limit was reached again and again').toBeGreaterThan(5);
    expect(off.held, 'at most one block past the limit').toBeLessThanOrEqual(300 + 64);
    expect(on.compiled, 'the compiler ran').toBeGreaterThan(0);
    expect(on.flushes).toBe(off.flushes);
    // the dropped blocks gave their WebAssembly link slots back (else the arena fills up)
    expect(on.slots, 'slots held by the blocks the cache holds, no more').toBeLessThanOrEqual(on.blocks);
    expect(on.v).toEqual(off.v);
    // what the guest computed does not depend on the cache (only the decode and TLB counters do)
    const guest = (x: typeof off): object => ({ out: x.v.out, r: x.v.r, regs: (x.v.cpu as { regs: number[] }).regs, icount: (x.v.cpu as { icount: number }).icount });
    expect(guest(off)).toEqual(guest(roomy));
  });

  it('a full decoded-block cache under the shadow MMU on a tiny host with KSM: identical with the compiler', () => {
    tune(16, 'wasm');
    Object.assign(CODE_CACHE_LIMITS, { insns: 200, pages: 2 });
    const off = withJit(false, () => shadow('pagestress.elf', 1_500_000, 1 << 20, true));
    const on = withJit(true, () => shadow('pagestress.elf', 1_500_000, 1 << 20, true));
    expect(on.compiled, 'the compiler ran').toBeGreaterThan(0);
    expect(on.v).toEqual(off.v);
  });

  // smp.elf: two vCPUs share the code cache, so one vCPU's flush drops the other's regions too
  it.each(['pagestress.elf', 'smp.elf'])('shadow, tiny host, KSM, both caps tiny: flushes change nothing: %s', (name) => {
    tune(16, 'wasm');
    jitTuning.wasmMaxBytes = 2048;
    jitTuning.jsMaxBytes = 8192;
    const f0 = jitStats.flushes;
    const off = withJit(false, () => shadow(name, 1_500_000, 1 << 20, true));
    const on = withJit(true, () => shadow(name, 1_500_000, 1 << 20, true));
    expect(jitStats.flushes - f0, 'the cap was reached').toBeGreaterThan(0);
    expect(on.v).toEqual(off.v);
  });

  // runCase itself runs each MMU with the interpreter and with the compiler (bench fuzz's
  // jit-interp finding); here with regions of 4 blocks, in each tier.
  it.each(['js', 'wasm'] as const)('fuzzer streams and mutated images: native and shadow, identical outcomes, %s regions', (tier) => {
    const fuzzImages = loadFuzzImages();
    tune(4, tier);
    let compiled = 0;
    for (let k = 0; k < 24; k++) {
      const r = runCase(caseAt(77, k, fuzzImages.names.length), fuzzImages);
      compiled += r.compiled;
      expect(r.findings.filter((f) => f.kind === 'jit-interp'), `case ${k}`).toEqual([]);
    }
    expect(compiled, 'the compiler ran').toBeGreaterThan(0);
  });
});
