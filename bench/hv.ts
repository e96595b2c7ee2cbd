// `shadowvisor bench hv`: what the shadow MMU costs. cpubench and a paging-heavy guest
// (pagestress: many address spaces, CR3 switches, page-table writes) under --mmu shadow against
// --mmu native (target: cpubench shadow <= 1.10x native time), the raw fault path (faults per
// second, demand_paging_test style) and the price of an invalidation per zapped page
// (memslot_perf_test's "unmap" style: MADV_DONTNEED over faulted-in guest memory).

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
import { runGuest } from '../src/sim/run-guest.js';
import { Simulation } from '../src/sim/simulation.js';
import type { BenchOut } from './index.js';
import { parseBenchArgs } from './args.js';
import { parseCount } from '../src/cli/args.js';

const HELP = `Usage: shadowvisor bench hv [options]

Measures the shadow MMU against the native MMU on the same guests, the fault path and the
cost of invalidations.

Options:
  --short         cpubench-short instead of cpubench (a quick run)
  --pages N       guest pages for the fault and zap measurements (default 16384 = 64 MiB)
  --json          one JSON object per line instead of a table
  -h, --help      show this help
`;

const imageUrl = (name: string): string => fileURLToPath(new URL(`../guest-images/${name}`, import.meta.url));
const MEM = 64 * 1024 * 1024;

interface GuestPair {
  image: string;
  instructions: number;
  nativeSeconds: number;
  shadowSeconds: number;
  ratio: number;
  sameOutput: boolean;
  faults: number;
}

function timeNative(image: Uint8Array): { seconds: number; out: string; instructions: number } {
  const bytes: number[] = [];
  const m = new NativeMachine({ image, ramBytes: MEM, output: { write: (b) => void bytes.push(b) } });
  const t0 = performance.now();
  const r = m.run();
  return { seconds: (performance.now() - t0) / 1000, out: Buffer.from(bytes).toString('latin1'), instructions: r.instructions };
}

function timeShadow(image: Uint8Array): { seconds: number; out: string; faults: number } {
  const bytes: number[] = [];
  const t0 = performance.now();
  const g = runGuest({ image, memBytes: MEM, output: { write: (b) => void bytes.push(b) }, log: nullLogger });
  return { seconds: (performance.now() - t0) / 1000, out: Buffer.from(bytes).toString('latin1'), faults: g.vm.stats.pf_fixed };
}

function pair(name: string): GuestPair | null {
  const path = imageUrl(name);
  if (!existsSync(path)) return null;
  const image = readFileSync(path);
  const n = timeNative(image);
  const s = timeShadow(image);
  return {
    image: name,
    instructions: n.instructions,
    nativeSeconds: n.seconds,
    shadowSeconds: s.seconds,
    ratio: s.seconds / n.seconds,
    sameOutput: n.out === s.out,
    faults: s.faults,
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
  const guests = [values.short ? 'cpubench-short.elf' : 'cpubench.elf', 'pagestress.elf'];
  if (!json) out.stdout(`bench hv: shadow MMU vs native MMU, 64 MiB guests\n${'image'.padEnd(22)}${'instructions'.padStart(14)}${'native s'.padStart(10)}${'shadow s'.padStart(10)}${'ratio'.padStart(8)}${'faults'.padStart(9)}  output\n`);
  for (const name of guests) {
    const p = pair(name);
    if (p === null) {
      out.stderr(`shadowvisor: bench hv: ${name} not found (make -C guest-images)\n`);
      status = 1;
      continue;
    }
    if (!p.sameOutput) status = 1;
    if (json) out.stdout(`${JSON.stringify({ bench: 'hv', kind: 'guest', ...p })}\n`);
    else
      out.stdout(
        `${p.image.padEnd(22)}${String(p.instructions).padStart(14)}${p.nativeSeconds.toFixed(2).padStart(10)}${p.shadowSeconds.toFixed(2).padStart(10)}${(p.ratio.toFixed(2) + 'x').padStart(8)}${String(p.faults).padStart(9)}  ${p.sameOutput ? 'same' : 'DIFFERS'}\n`,
      );
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
