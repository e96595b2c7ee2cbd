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
// compiled tiers, a second or less each, run COMPILED_RUNS times and the row is the run with the
// least wall time (neighbours on a shared machine only ever add time); the interpreter runs once.

import { spawnSync } from 'node:child_process';
import { jitStats, jitTuning, setJitDefault } from '../src/cpu/jit/compile.js';
import { wasmStats } from '../src/cpu/jit/wasm-region.js';
import { NativeMachine } from '../src/machine/native-machine.js';
import { nullLogger } from '../src/obs/log.js';
import { prepareGuest, runPrepared } from '../src/sim/run-guest.js';
import type { BenchOut } from './index.js';
import { QEMU, qemuArgs, qemuAvailable } from './qemu.js';

const MEM = 64 * 1024 * 1024;
const COMPILED_RUNS = 3;

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

function runQemu(path: string): { seconds: number; output: string; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(QEMU, qemuArgs(path), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  return { seconds: (performance.now() - t0) / 1000, output: r.stdout?.toString('latin1') ?? '', status: r.status };
}

const f1 = (n: number): string => n.toFixed(1);

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
    for (const mmu of ['native', 'shadow'] as const) {
      for (const tier of (mmu === 'native' ? ['interp', 'jit', 'jit-js'] : ['interp', 'jit']) as Tier[]) {
        let r = runTier(img.name, img.bytes, mmu, tier);
        for (let k = 1; k < (tier === 'interp' ? 1 : COMPILED_RUNS); k++) {
          const again = runTier(img.name, img.bytes, mmu, tier);
          if (again.output !== r.output || again.instructions !== r.instructions || again.exitCode !== r.exitCode) {
            out.stderr(`shadowvisor: bench cpu: ${img.name} ${mmu} ${tier}: run ${k + 1} differs from run 1\n`);
            status = 1;
          }
          if (again.seconds < r.seconds) r = again;
        }
        runs.push(r);
        if (opts.json) {
          const { output: _o, ...row } = r;
          out.stdout(`${JSON.stringify({ bench: 'cpu', tiers: true, ...row })}\n`);
        } else {
          out.stdout(
            `${img.name.padEnd(20)}${mmu.padEnd(8)}${tier.padEnd(8)}${r.instructions.toLocaleString('en-US').padStart(14)}${r.seconds.toFixed(2).padStart(9)}${f1(r.mips).padStart(8)}${f1(r.cpuMips).padStart(9)}${(r.cpuSeconds - r.seconds).toFixed(2).padStart(9)}` +
              `${(tier !== 'interp' ? String(r.regions) : '-').padStart(9)}${(tier !== 'interp' ? String(r.pages) : '-').padStart(7)}${(tier !== 'interp' ? f1(r.compileMs) : '-').padStart(12)}${(tier !== 'interp' ? f1(r.sourceBytes / 1024) : '-').padStart(9)}` +
                `${(tier === 'jit' ? String(r.wasmRegions) : '-').padStart(9)}${(tier === 'jit' ? f1(r.wasmBytes / 1024) : '-').padStart(10)}\n`,
          );
        }
        const first = runs[0]!;
        if (r.output !== first.output || r.instructions !== first.instructions || r.exitCode !== 0) {
          out.stderr(`shadowvisor: bench cpu: ${img.name} ${mmu} ${tier}: output, instructions or exit status differ from ${first.mmu} ${first.tier} (exit ${r.exitCode})\n`);
          status = 1;
        }
      }
    }
    const get = (mmu: string, tier: string): TierRun => runs.find((r) => r.mmu === mmu && r.tier === tier)!;
    const speedup = get('native', 'interp').cpuSeconds / get('native', 'jit').cpuSeconds;
    const shadowI = get('shadow', 'interp').cpuSeconds / get('native', 'interp').cpuSeconds;
    const shadowJ = get('shadow', 'jit').cpuSeconds / get('native', 'jit').cpuSeconds;
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
      out.stdout(`${JSON.stringify({ bench: 'cpu', tiers: true, image: img.name, jitSpeedup: speedup, shadowOverNativeInterp: shadowI, shadowOverNativeJit: shadowJ, qemuMips })}\n`);
    } else {
      const j = get('native', 'jit');
      const perPage =
        `${f1(j.compileMs)} ms, ${f1(j.wasmBytes / 1024)} KiB of WebAssembly in ${j.wasmRegions} regions over ${j.wasmPages} pages` +
        (j.wasmPages > 0 ? ` (${(j.compileMs / j.wasmPages).toFixed(1)} ms and ${(j.wasmBytes / 1024 / j.wasmPages).toFixed(1)} KiB per page)` : '') +
        (j.pages > 0 ? `, ${(j.sourceBytes / 1024 / j.pages).toFixed(1)} KiB of JavaScript per page with JavaScript regions` : '');
      out.stdout(
        `${img.name}: compiler / interpreter = ${speedup.toFixed(2)}x (CPU time; JavaScript tier alone ${(get('native', 'interp').cpuSeconds / get('native', 'jit-js').cpuSeconds).toFixed(2)}x); shadow / native time = ${shadowI.toFixed(2)} interp, ${shadowJ.toFixed(2)} jit; compiling: ${perPage}; ${qemuText}\n`,
      );
    }
  }
  return status;
}
