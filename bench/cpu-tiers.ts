// The execution tiers side by side (part of `shadowvisor bench cpu`): the interpreter and the
// compiler (src/cpu/jit) on cpubench and intbench, under the native MMU and the shadow MMU, in
// one process and one run, with QEMU TCG's figure on the same images when qemu-system-i386 is
// installed. Every run of an image must print the same serial bytes and retire the same number
// of instructions (the compiler's contract); the table shows wall and CPU-time MIPS (the machine
// may be shared: CPU time is the steadier figure), the compiler's speed-up and the shadow MMU's
// cost, and what compiling took (regions, pages, source text, our milliseconds; V8's own optimising
// compile runs on background threads, which the CPU-beyond-wall column shows). Tier `jit` is the
// compiler as `--jit on` runs it (WebAssembly regions, JavaScript ones for blocks WebAssembly
// cannot state); `jit-js` (native MMU only) the JavaScript tier alone, for comparison. The
// compiled tiers, a second or less each, run COMPILED_RUNS times, native and shadow alternating,
// and the row is the run with the least wall time (neighbours on a shared machine only ever add
// time); the shadow MMU's cost is the median over those rounds of shadow / native, each pair
// measured back to back. The interpreter runs once per MMU.

import { jitStats, jitTuning, setJitDefault } from '../src/cpu/jit/compile.js';
import { wasmStats } from '../src/cpu/jit/wasm-region.js';
import { NativeMachine } from '../src/machine/native-machine.js';
import { nullLogger } from '../src/obs/log.js';
import { prepareGuest, runPrepared } from '../src/sim/run-guest.js';
import type { BenchOut } from './index.js';
import { QEMU, qemuAvailable, runQemuTimed as runQemu } from './qemu.js';

const MEM = 64 * 1024 * 1024;
const COMPILED_RUNS = 5;

export interface TierRun {
  image: string;
  mmu: 'native' | 'shadow';
  tier: Tier;
  instructions: number;
  seconds: number;
  cpuSeconds: number;
  mips: number;
  cpuMips: number;
  exitCode: number;
  output: string;
  regions: number;
  compileMs: number;
  sourceBytes: number;
  pages: number;
  wasmRegions: number;
  wasmBytes: number;
  wasmPages: number;
}
type Tier = 'interp' | 'jit' | 'jit-js';

function runTier(name: string, image: Uint8Array, mmu: 'native' | 'shadow', tier: Tier): TierRun {
  setJitDefault(tier !== 'interp');
  const wasmWas = jitTuning.wasm;
  jitTuning.wasm = tier === 'jit';
  const before = { ...jitStats };
  const wbefore = { ...wasmStats };
  const bytes: number[] = [];
  const output = { write: (b: number): void => void bytes.push(b) };
  try {
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    let instructions: number;
    let exitCode: number;
    if (mmu === 'native') {
      const m = new NativeMachine({ image, ramBytes: MEM, output });
      const r = m.run();
      instructions = r.instructions;
      exitCode = r.reason === 'exit' ? r.exitCode : -1;
    } else {
      const r = runPrepared(prepareGuest({ image, memBytes: MEM, output, log: nullLogger })).result;
      instructions = r.instructions;
      exitCode = r.reason === 'exit' ? r.exitCode : -1;
    }
    const seconds = (performance.now() - t0) / 1000;
    const u = process.cpuUsage(u0);
    const cpuSeconds = (u.user + u.system) / 1e6;
    return {
      image: name,
      mmu,
      tier,
      instructions,
      seconds,
      cpuSeconds,
      mips: instructions / seconds / 1e6,
      cpuMips: instructions / cpuSeconds / 1e6,
      exitCode,
      output: Buffer.from(bytes).toString('latin1'),
      regions: jitStats.regions - before.regions,
      compileMs: jitStats.compileMs - before.compileMs + wasmStats.compileMs - wbefore.compileMs,
      sourceBytes: jitStats.sourceBytes - before.sourceBytes,
      pages: jitStats.pages - before.pages,
      wasmRegions: wasmStats.regions - wbefore.regions,
      wasmBytes: wasmStats.bytes - wbefore.bytes,
      wasmPages: wasmStats.pages - wbefore.pages,
    };
  } finally {
    setJitDefault(false);
    jitTuning.wasm = wasmWas;
  }
}

const f1 = (n: number): string => n.toFixed(1);

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/**
 * Run every tier on every image; print the table (or JSON lines). Returns 1 when a run's
 * output, instruction count or exit status differs from the image's first run, or from QEMU.
 */
export function runTiers(images: { name: string; path: string; bytes: Uint8Array }[], opts: { qemu: boolean; json: boolean }, out: BenchOut): number {
  let status = 0;
  const haveQemu = opts.qemu && qemuAvailable();
  if (!opts.json) {
    out.stdout(
      `\nexecution tiers (one process; jit and jit-js: the fastest of ${COMPILED_RUNS} runs; the machine may be shared, so CPU-time MIPS is the steadier figure;\n` +
        `cpu-wall: CPU seconds beyond wall time, i.e. V8's background threads: its optimising compiler and GC)\n` +
        `${'image'.padEnd(20)}${'mmu'.padEnd(8)}${'tier'.padEnd(8)}${'instructions'.padStart(14)}${'seconds'.padStart(9)}${'MIPS'.padStart(8)}${'cpuMIPS'.padStart(9)}${'cpu-wall'.padStart(9)}${'regions'.padStart(9)}${'pages'.padStart(7)}${'compile ms'.padStart(12)}${'src KiB'.padStart(9)}${'wasm rg'.padStart(9)}${'wasm KiB'.padStart(10)}\n`,
    );
  }
  for (const img of images) {
    const runs: TierRun[] = [];
    const check = (r: TierRun): void => {
      const f = runs[0];
      if (f !== undefined && (r.output !== f.output || r.instructions !== f.instructions) || r.exitCode !== 0) {
        out.stderr(`shadowvisor: bench cpu: ${img.name} ${r.mmu} ${r.tier}: output, instructions or exit status differ from ${f?.mmu ?? r.mmu} ${f?.tier ?? r.tier} (exit ${r.exitCode})\n`);
        status = 1;
      }
    };
    // The interpreter once per MMU; then the compiled tiers in rounds, native and shadow one
    // after the other, so a neighbour's burst lands on both halves of a pair: the shadow MMU's
    // cost is the median of the rounds' shadow / native ratios, not a ratio of two runs minutes apart.
    const interp = { native: runTier(img.name, img.bytes, 'native', 'interp'), shadow: null as TierRun | null };
    check(interp.native);
    runs.push(interp.native);
    interp.shadow = runTier(img.name, img.bytes, 'shadow', 'interp');
    check(interp.shadow);
    const best = new Map<string, TierRun>();
    const wallRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let k = 0; k < COMPILED_RUNS; k++) {
      const round: TierRun[] = [];
      for (const [mmu, tier] of [['native', 'jit'], ['shadow', 'jit'], ['native', 'jit-js']] as const) {
        const r = runTier(img.name, img.bytes, mmu, tier);
        check(r);
        round.push(r);
        const key = `${mmu} ${tier}`;
        const b = best.get(key);
        if (b === undefined || r.seconds < b.seconds) best.set(key, r);
      }
      wallRatios.push(round[1]!.seconds / round[0]!.seconds);
      cpuRatios.push(round[1]!.cpuSeconds / round[0]!.cpuSeconds);
    }
    runs.push(best.get('native jit')!, best.get('native jit-js')!, interp.shadow, best.get('shadow jit')!);
    for (const r of runs) {
      const tier = r.tier;
      if (opts.json) {
        const { output: _o, ...row } = r;
        out.stdout(`${JSON.stringify({ bench: 'cpu', tiers: true, ...row })}\n`);
      } else {
        out.stdout(
          `${img.name.padEnd(20)}${r.mmu.padEnd(8)}${tier.padEnd(8)}${r.instructions.toLocaleString('en-US').padStart(14)}${r.seconds.toFixed(2).padStart(9)}${f1(r.mips).padStart(8)}${f1(r.cpuMips).padStart(9)}${(r.cpuSeconds - r.seconds).toFixed(2).padStart(9)}` +
            `${(tier !== 'interp' ? String(r.regions) : '-').padStart(9)}${(tier !== 'interp' ? String(r.pages) : '-').padStart(7)}${(tier !== 'interp' ? f1(r.compileMs) : '-').padStart(12)}${(tier !== 'interp' ? f1(r.sourceBytes / 1024) : '-').padStart(9)}` +
            `${(tier === 'jit' ? String(r.wasmRegions) : '-').padStart(9)}${(tier === 'jit' ? f1(r.wasmBytes / 1024) : '-').padStart(10)}\n`,
        );
      }
    }
    const get = (mmu: string, tier: string): TierRun => runs.find((r) => r.mmu === mmu && r.tier === tier)!;
    const speedup = get('native', 'interp').cpuSeconds / get('native', 'jit').cpuSeconds;
    const shadowI = get('shadow', 'interp').cpuSeconds / get('native', 'interp').cpuSeconds;
    const shadowJ = median(wallRatios);
    const shadowJcpu = median(cpuRatios);
    let qemuText = 'QEMU not run';
    let qemuMips = 0;
    if (haveQemu) {
      const q = runQemu(img.path);
      qemuMips = get('native', 'jit').instructions / q.seconds / 1e6;
      const match = q.output === runs[0]!.output;
      qemuText = `QEMU TCG ${q.seconds.toFixed(2)} s wall incl. boot = ${f1(qemuMips)} MIPS; compiler CPU-time MIPS / QEMU MIPS = ${(get('native', 'jit').cpuMips / qemuMips).toFixed(2)}; output ${match ? 'matches' : 'DIFFERS'}`;
      if (!match || q.status !== 1) {
        out.stderr(`shadowvisor: bench cpu: ${img.name}: QEMU ${match ? `exit status ${q.status}, expected 1` : 'serial output differs from ours'}\n`);
        status = 1;
      }
    } else if (opts.qemu) qemuText = `${QEMU} not found on PATH, comparison skipped`;
    if (opts.json) {
      out.stdout(`${JSON.stringify({ bench: 'cpu', tiers: true, image: img.name, jitSpeedup: speedup, shadowOverNativeInterp: shadowI, shadowOverNativeJit: shadowJ, shadowOverNativeJitCpu: shadowJcpu, shadowOverNativeJitRounds: wallRatios, qemuMips })}\n`);
    } else {
      const j = get('native', 'jit');
      const perPage =
        `${f1(j.compileMs)} ms, ${f1(j.wasmBytes / 1024)} KiB of WebAssembly in ${j.wasmRegions} regions over ${j.wasmPages} pages` +
        (j.wasmPages > 0 ? ` (${(j.compileMs / j.wasmPages).toFixed(1)} ms and ${(j.wasmBytes / 1024 / j.wasmPages).toFixed(1)} KiB per page)` : '') +
        (j.pages > 0 ? `, ${(j.sourceBytes / 1024 / j.pages).toFixed(1)} KiB of JavaScript per page with JavaScript regions` : '');
      out.stdout(
        `${img.name}: compiler / interpreter = ${speedup.toFixed(2)}x (CPU time; JavaScript tier alone ${(get('native', 'interp').cpuSeconds / get('native', 'jit-js').cpuSeconds).toFixed(2)}x); shadow / native = ${shadowI.toFixed(2)} interp (CPU time, one run each), jit median of ${COMPILED_RUNS} paired rounds ${shadowJ.toFixed(2)} wall (rounds ${wallRatios.map((x) => x.toFixed(2)).join(' ')}), ${shadowJcpu.toFixed(2)} CPU; compiling: ${perPage}; ${qemuText}\n`,
      );
    }
  }
  return status;
}
