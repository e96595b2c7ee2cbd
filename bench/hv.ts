// `shadowvisor bench hv`: what the hypervisor's MMUs cost. cpubench, a paging-heavy guest
// (pagestress: many address spaces, CR3 switches, page-table writes) and a TLB-miss-heavy one
// (bench/tlbstress: 32 MiB touched at random, one address space) under --mmu native, shadow and
// tdp side by side (target: cpubench shadow <= 1.10x native time), with what explains each
// result: exits to KVM, emulated page-table writes, memory references per TLB miss. Then the raw
// fault path (faults per second, demand_paging_test style) and the price of an invalidation per
// zapped page (memslot_perf_test's "unmap" style: MADV_DONTNEED over faulted-in guest memory).

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ACC_WRITE } from '../src/cpu/ports.js';
import { MAX_FRAMES } from '../src/host/frames.js';
import { Host } from '../src/host/host.js';
import { MADV_DONTNEED } from '../src/host/constants.js';
import { pageFault, FAULT_FIXED, type FaultResult } from '../src/hv/shadow/page-fault.js';
import { Vm } from '../src/hv/vm.js';
import { NativeMachine } from '../src/machine/native-machine.js';
import { nullLogger } from '../src/obs/log.js';
import { prepareGuest, runPrepared } from '../src/sim/run-guest.js';
import type { NativeMmu } from '../src/cpu/paging.js';
import { Simulation } from '../src/sim/simulation.js';
import type { BenchOut } from './index.js';
import { parseBenchArgs } from './args.js';
import { parseCount } from '../src/cli/args.js';

const HELP = `Usage: shadowvisor bench hv [options]

Measures the shadow MMU and the TDP MMU against the native MMU on the same guests (cpubench,
pagestress, bench/tlbstress), with the counters that explain the difference, then the fault
path and the cost of invalidations.

Options:
  --short         cpubench-short instead of cpubench, and a shorter tlbstress (a quick run)
  --pages N       guest pages for the fault and zap measurements (default 16384 = 64 MiB)
  --json          one JSON object per line instead of a table
  -h, --help      show this help
`;

const imageUrl = (name: string): string => fileURLToPath(new URL(`../guest-images/${name}`, import.meta.url));
const MEM = 64 * 1024 * 1024;

/**
 * CPU seconds this process has used (user + system). The guest table compares three runs of the
 * same single-threaded work: on a machine shared with other jobs wall time mostly measures the
 * others, CPU time measures us.
 */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** One guest under one MMU: time, output and the counters that explain the time. */
interface MmuRun {
  seconds: number;
  out: string;
  instructions: number;
  tlbMisses: number;
  /** Paging-structure entries read per TLB miss (native: guest PDE/PTE; shadow: shadow PDE +
   *  spte; tdp: guest PDE/PTE and the gpa->hpa entries for every guest-physical reference). */
  refsPerMiss: number;
  /** Exits to KVM: shadow page faults (incl. guest #PF reflected) or EPT violations. */
  exits: number;
  /** Guest page-table writes KVM had to emulate (shadow only: write-protected guest tables). */
  emulatedPtWrites: number;
  /** Guest CR3 writes: a KVM intercept (root switch) under shadow, hardware only under tdp. */
  cr3Writes: number;
}

interface GuestRow {
  image: string;
  instructions: number;
  native: MmuRun;
  shadow: MmuRun;
  tdp: MmuRun;
  /** shadow / native and tdp / native wall time. */
  shadowRatio: number;
  tdpRatio: number;
  sameOutput: boolean;
  /** Which hypervisor MMU was faster here, and why (from the counters). */
  winner: 'shadow' | 'tdp' | 'tie';
  reason: string;
}

function timeNative(image: Uint8Array, cmdline?: string): MmuRun {
  const bytes: number[] = [];
  const m = new NativeMachine({ image, ramBytes: MEM, cmdline, output: { write: (b) => void bytes.push(b) } });
  const t0 = cpuSeconds();
  const r = m.run();
  const seconds = cpuSeconds() - t0;
  const w = (m.cpu.mmu as NativeMmu).walker;
  const misses = m.cpu.stats.tlbMisses;
  return { seconds, out: Buffer.from(bytes).toString('latin1'), instructions: r.instructions, tlbMisses: misses, refsPerMiss: misses > 0 ? w.refs / misses : 0, exits: 0, emulatedPtWrites: 0, cr3Writes: 0 };
}

/**
 * Count the entries shadow paging's hardware walk reads: the root's shadow PDE, then (if that is
 * present) the spte. Done from outside the engine (the vCPU's Mmu is wrapped for this run), so
 * the shadow MMU itself is the ordinary one; the wrapper costs shadow a little wall time.
 */
function countShadowRefs(vm: Vm): { n: number } {
  const c = { n: 0 };
  for (const v of vm.vcpus) {
    const m = v.vmmu;
    const translate = m.translate.bind(m);
    m.translate = (cpu, lin, acc) => {
      const root = m.root;
      if (root !== null && root.valid) c.n += root.spt[lin >>> 22]! & 1 ? 2 : 1;
      return translate(cpu, lin, acc);
    };
  }
  return c;
}

function timeHv(image: Uint8Array, mmu: 'shadow' | 'tdp', cmdline?: string): MmuRun {
  const bytes: number[] = [];
  const t0 = cpuSeconds();
  const p = prepareGuest({ image, memBytes: MEM, cmdline, mmu, output: { write: (b) => void bytes.push(b) }, log: nullLogger });
  const shadowRefs = mmu === 'shadow' ? countShadowRefs(p.vm) : null;
  const g = runPrepared(p);
  const seconds = cpuSeconds() - t0;
  const vm = g.vm;
  const misses = vm.vcpus.reduce((a, v) => a + v.cpu.stats.tlbMisses, 0);
  const t = vm.tdp?.tdpStats;
  return {
    seconds,
    out: Buffer.from(bytes).toString('latin1'),
    instructions: g.result.instructions,
    tlbMisses: misses,
    refsPerMiss: t !== undefined ? (t.guestRefs + t.tdpRefs) / Math.max(1, t.misses) : shadowRefs!.n / Math.max(1, misses),
    exits: vm.stats.pf_taken,
    emulatedPtWrites: vm.stats.pf_emulate,
    cr3Writes: t !== undefined ? t.cr3Writes : vm.stats.tlb_flush,
  };
}

function strip(r: MmuRun): Omit<MmuRun, 'out'> {
  const { out: _out, ...rest } = r;
  return rest;
}

/** The reason a row came out the way it did, in the counters' words. */
function explain(n: MmuRun, s: MmuRun, t: MmuRun, winner: 'shadow' | 'tdp' | 'tie'): string {
  const walk = `walk refs per TLB miss ${s.refsPerMiss.toFixed(2)} shadow vs ${t.refsPerMiss.toFixed(2)} tdp over ${s.tlbMisses}/${t.tlbMisses} misses (${Math.round(s.refsPerMiss * s.tlbMisses)} vs ${Math.round(t.refsPerMiss * t.tlbMisses)} refs)`;
  const exits = `exits to KVM ${s.exits} shadow (${s.emulatedPtWrites} emulated page-table writes, ${s.cr3Writes} CR3/paging-mode intercepts) vs ${t.exits} tdp (EPT violations; ${t.cr3Writes} CR3 writes left to the processor)`;
  // The winner's advantage first: tdp wins by not exiting, shadow by its shorter walk.
  const [first, second] = winner === 'tdp' ? [exits, walk] : [walk, exits];
  return `${first}; ${second}; native: ${n.tlbMisses} misses at ${n.refsPerMiss.toFixed(2)} refs`;
}

function guestRow(name: string, cmdline?: string): GuestRow | null {
  const path = imageUrl(name);
  if (!existsSync(path)) return null;
  const image = readFileSync(path);
  const native = timeNative(image, cmdline);
  const shadow = timeHv(image, 'shadow', cmdline);
  const tdp = timeHv(image, 'tdp', cmdline);
  // Within 5% of native time of each other is a tie: run-to-run noise is about that big.
  const winner = Math.abs(shadow.seconds - tdp.seconds) < 0.05 * native.seconds ? 'tie' : shadow.seconds < tdp.seconds ? 'shadow' : 'tdp';
  return {
    image: name,
    instructions: native.instructions,
    native,
    shadow,
    tdp,
    shadowRatio: shadow.seconds / native.seconds,
    tdpRatio: tdp.seconds / native.seconds,
    sameOutput: native.out === shadow.out && native.out === tdp.out,
    winner,
    reason: explain(native, shadow, tdp, winner),
  };
}

/** Fault `pages` guest pages in through the real fault path (paging off: gfn = gva page). */
function faultAndZap(pages: number): { faultsPerSecond: number; zapNsPerPage: number; zapped: number } {
  const host = new Host({ frames: pages + 1024, swapPages: 16, seed: 1 });
  const vm = new Vm({ host, memBytes: pages * 4096, log: nullLogger, output: { write: () => {} }, maxShadowPages: 4096 });
  const v = vm.vcpus[0]!;
  const out: FaultResult = { gfn: 0, hva: 0, errno: 0 };
  const t0 = performance.now();
  for (let g = 0; g < pages; g++) {
    const it = pageFault(vm, v.cpu, v.vmmu, v.walker, g * 4096, ACC_WRITE, out);
    let r = it.next();
    while (!r.done) r = it.next();
    if (r.value !== FAULT_FIXED) throw new Error(`fault on gfn ${g} returned ${r.value}`);
  }
  const faultSeconds = (performance.now() - t0) / 1000;
  const before = vm.stats.sptes_zapped_by_invalidation;
  const t1 = performance.now();
  host.madvise(vm.mm, vm.hva, pages * 4096, MADV_DONTNEED);
  const zapSeconds = (performance.now() - t1) / 1000;
  const zapped = vm.stats.sptes_zapped_by_invalidation - before;
  vm.destroy();
  return { faultsPerSecond: pages / faultSeconds, zapNsPerPage: (zapSeconds * 1e9) / pages, zapped };
}

/**
 * The top of the supported host RAM range: a 4 GiB host (MAX_FRAMES) whose low 2 GiB + 1 MiB are
 * taken first, so the guest runs entirely on frames >= 2^19, whose `frame << 12` byte offsets
 * do not fit a signed 32-bit integer. Untouched frames cost no memory.
 */
function topOfRange(name: string): { seconds: number; sameOutput: boolean; lowestFrame: number; highestFrame: number; instructions: number } | null {
  const path = imageUrl(name);
  if (!existsSync(path)) return null;
  const image = readFileSync(path);
  const n = timeNative(image);
  const host = new Host({ frames: MAX_FRAMES, swapPages: 4096, seed: 1 });
  const reserved = (1 << 19) + 256;
  for (let k = 0; k < reserved; k++) host.ft.allocRaw();
  const bytes: number[] = [];
  const vm = new Vm({ host, memBytes: MEM, log: nullLogger, output: { write: (b) => void bytes.push(b) } });
  vm.boot(image);
  const sim = new Simulation(host, { seed: 1 });
  const run = sim.addVm(vm);
  const t0 = performance.now();
  sim.runUntilDone();
  const seconds = (performance.now() - t0) / 1000;
  let lowest = -1;
  let highest = -1;
  for (let f = reserved; f < MAX_FRAMES; f++) {
    if (host.ft.refcount[f]! > 0) {
      if (lowest < 0) lowest = f;
      highest = f;
    }
  }
  return { seconds, sameOutput: Buffer.from(bytes).toString('latin1') === n.out, lowestFrame: lowest, highestFrame: highest, instructions: run.result!.instructions };
}

export async function main(argv: string[], out: BenchOut): Promise<number> {
  const values = parseBenchArgs('hv', argv, {
        short: { type: 'boolean' },
        pages: { type: 'string' },
        json: { type: 'boolean' },
  }, HELP, out);
  if (typeof values === 'number') return values;
  let pages: number;
  try {
    pages = values.pages === undefined ? 16384 : parseCount('--pages', values.pages, 16, 1 << 20);
  } catch (e) {
    out.stderr(`shadowvisor: bench hv: ${(e as Error).message}\n`);
    return 2;
  }
  const json = values.json === true;
  let status = 0;
  const guests: { name: string; cmdline?: string }[] = [
    { name: values.short ? 'cpubench-short.elf' : 'cpubench.elf' },
    { name: 'pagestress.elf' },
    { name: 'bench/tlbstress.elf', cmdline: values.short ? 'accesses=200000' : 'accesses=1000000' },
  ];
  if (!json) {
    out.stdout(`bench hv: native vs shadow vs tdp MMU, 64 MiB guests (CPU seconds; x = time / native)\n`);
    out.stdout(
      `${'image'.padEnd(20)}${'instructions'.padStart(13)}${'native'.padStart(8)}${'shadow'.padStart(15)}${'tdp'.padStart(15)}  ${'TLB misses n/s/t'.padEnd(26)}${'refs/miss n/s/t'.padEnd(17)}${'exits s/t'.padEnd(14)}${'PT emul s'.padStart(9)}  output\n`,
    );
  }
  // Warm the JavaScript engine's compiled code for all three paths first: otherwise whichever MMU
  // runs first pays for it, and the short runs would mostly measure that.
  const warm = imageUrl('hello.elf');
  if (existsSync(warm)) for (let k = 0; k < 3; k++) guestRow('hello.elf');
  for (const g of guests) {
    const row = guestRow(g.name, g.cmdline);
    if (row === null) {
      out.stderr(`shadowvisor: bench hv: ${g.name} not found (make -C guest-images)\n`);
      status = 1;
      continue;
    }
    if (!row.sameOutput) status = 1;
    if (json) out.stdout(`${JSON.stringify({ bench: 'hv', kind: 'guest', ...row, native: strip(row.native), shadow: strip(row.shadow), tdp: strip(row.tdp) })}\n`);
    else {
      const { native: n, shadow: s, tdp: t } = row;
      const cell = (r: MmuRun): string => `${r.seconds.toFixed(2)} (${(r.seconds / n.seconds).toFixed(2)}x)`;
      out.stdout(
        `${row.image.padEnd(20)}${String(row.instructions).padStart(13)}${n.seconds.toFixed(2).padStart(8)}${cell(s).padStart(15)}${cell(t).padStart(15)}  ` +
          `${`${n.tlbMisses}/${s.tlbMisses}/${t.tlbMisses}`.padEnd(26)}${`${n.refsPerMiss.toFixed(2)}/${s.refsPerMiss.toFixed(2)}/${t.refsPerMiss.toFixed(2)}`.padEnd(17)}` +
          `${`${s.exits}/${t.exits}`.padEnd(14)}${String(s.emulatedPtWrites).padStart(9)}  ${row.sameOutput ? 'same' : 'DIFFERS'}\n`,
      );
      out.stdout(`${''.padEnd(20)}-> ${row.winner === 'tie' ? 'a tie (within 5% of native time)' : `${row.winner} faster`}: ${row.reason}\n`);
    }
  }
  const fz = faultAndZap(pages);
  if (json) out.stdout(`${JSON.stringify({ bench: 'hv', kind: 'fault-zap', pages, faults_per_second: fz.faultsPerSecond, zap_ns_per_page: fz.zapNsPerPage, zapped: fz.zapped })}\n`);
  else {
    out.stdout(`\nfault path: ${pages} write faults (gup, zero-fill, spte, rmap): ${Math.round(fz.faultsPerSecond)} faults/s\n`);
    out.stdout(`invalidation: MADV_DONTNEED over ${pages} mapped pages zapped ${fz.zapped} sptes: ${fz.zapNsPerPage.toFixed(0)} ns per page (zap + host unmap + free)\n`);
  }
  const top = topOfRange('pagestress.elf');
  if (top === null) {
    out.stderr('shadowvisor: bench hv: pagestress.elf not found (make -C guest-images)\n');
    status = 1;
  } else {
    if (!top.sameOutput || top.lowestFrame < 1 << 19) status = 1;
    if (json) out.stdout(`${JSON.stringify({ bench: 'hv', kind: 'host-4g', image: 'pagestress.elf', ...top })}\n`);
    else
      out.stdout(
        `4 GiB host, guest on frames ${top.lowestFrame}..${top.highestFrame} (>= 2^19): pagestress.elf ${top.instructions} instructions in ${top.seconds.toFixed(2)} s, output ${top.sameOutput ? 'same as native' : 'DIFFERS from native'}\n`,
      );
  }
  return status;
}
