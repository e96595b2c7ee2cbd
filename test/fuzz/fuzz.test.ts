// The fuzzer that stays: a short seeded sweep of every case kind (mutated images, ISA and system
// streams, hostile guests) through the same code as `bench fuzz`, on worker threads of the built
// bundle with the wall-time watchdog, comparing native with shadow (tiny host), the interpreter
// with the compiler under each, and a sample with QEMU. It must find nothing. Plus the parts the sweep relies on: the runtime bytes match their
// source, the watchdog turns a case that outlives its bound into a hang finding with a saved,
// replayable reproducer, the shrinker, and the comparisons.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FuzzPool } from '../../bench/fuzz-pool.js';
import { fuzzSweep, loadFuzzImages, type FuzzOptions } from '../../bench/fuzz.js';
import { caseAt, caseImage, compareRuns, EAGER_JIT_HOT, runCase, runNative, withCompiler, type RunOutcome } from '../../src/sim/fuzz/fuzz-case.js';
import { jitStats } from '../../src/cpu/jit/compile.js';
import { wasmStats } from '../../src/cpu/jit/wasm-region.js';
import * as A from '../../src/cpu/exec-alu.js';
import { wasmTemplates } from '../../src/cpu/jit/wasm-templates.js';
import { TdpVcpuMmu } from '../../src/hv/tdp/tdp-vcpu.js';
import { shrinkIndices } from '../../src/sim/fuzz/shrink.js';
import { buildStreamGuest } from '../../src/sim/fuzz/stream-guest.js';
import { ALLF, replayDefined, type StreamItem } from '../../src/sim/fuzz/stream-item.js';
import { STREAM_RUNTIME_BASE64 } from '../../src/sim/fuzz/stream-runtime.js';
import { qemuAvailable } from '../../bench/qemu.js';
import { BIN, ROOT, cli, tempDir } from '../cli/helpers.js';

const haveQemu = qemuAvailable();
const inCi = Boolean(process.env.CI);
const silentOut = { stdout: () => {}, stderr: () => {} };

function sweepOptions(o: Partial<FuzzOptions>): FuzzOptions {
  return { cases: 100, first: 0, seed: 1, jobs: 2, out: tempDir('fuzz'), qemuEvery: 0, timeoutMs: 30_000, maxFindings: 5, json: true, entry: BIN, ...o };
}

describe('fuzz sweep', () => {
  it('240 seeded cases of every kind: no internal error, multi-line error, hang, native/shadow, interpreter/compiler or QEMU difference', async () => {
    if (!haveQemu && inCi) throw new Error('qemu-system-i386 is required under CI=true');
    if (!haveQemu) console.warn('[fuzz] qemu-system-i386 not found: the sweep runs without its QEMU sample');
    const opts = sweepOptions({ cases: 240, seed: 2026, qemuEvery: haveQemu ? 3 : 0 });
    const s = await fuzzSweep(opts, silentOut);
    const found = s.saved.map((f) => `${f.kind}: ${f.detail} (${f.case}; ${f.replay})`).join('\n');
    expect(s.findings, found).toBe(0);
    expect(readdirSync(opts.out)).toEqual([]); // nothing saved when nothing was found
    // The sample covers what it claims: every kind, and guests that exit, are refused, triple
    // fault and run out of budget.
    for (const k of ['image', 'isa', 'system', 'hostile']) expect(s.kinds[k] ?? 0, k).toBeGreaterThan(15);
    for (const status of ['0', '2', '3', '4']) expect(s.outcomes[status] ?? 0, `native exit ${status}`).toBeGreaterThan(0);
    if (haveQemu) expect(s.qemuComparisons).toBeGreaterThan(5);
    // most cases get hot enough for the compiler's runs to compile regions
    expect(s.compiledCases).toBeGreaterThan(120);
  });

  it('a case that outlives the wall-time bound is a hang: its worker is replaced, and the finding is shrunk, saved and replayable', async () => {
    const opts = sweepOptions({ cases: 1, first: 3, timeoutMs: 1, maxFindings: 1 });
    const s = await fuzzSweep(opts, silentOut);
    expect(s.findingsByKind).toEqual({ hang: 1 });
    const f = s.saved[0]!;
    expect(existsSync(f.elf)).toBe(true);
    const rec = JSON.parse(readFileSync(f.json, 'utf8'));
    expect(rec).toMatchObject({ kind: 'hang', seed: 1, index: 3 });
    expect(rec.commands[0]).toMatch(/^shadowvisor run .*\.elf --mem \d+M --max-insns \d+ --mmu native$/);
    expect(f.replay).toBe(`shadowvisor bench fuzz --replay ${f.json}`);
    // The saved image is a bootable guest, and with the normal bound the case is no hang.
    const r = cli(['run', f.elf, ...rec.commands[0].split(' ').slice(3)]);
    expect(r.status, r.stderr).not.toBe(70);
    const replay = cli(['bench', 'fuzz', '--replay', f.json]);
    expect(replay.status, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/^does not reproduce any more \(was hang/m);
  });

  it('the pool answers a hang within its bound and keeps serving with a fresh worker', async () => {
    const images = loadFuzzImages();
    const pool = new FuzzPool(1, images, 30_000, BIN);
    try {
      const spec = caseAt(1, 1, images.names.length);
      const t0 = performance.now();
      const hung = await pool.run(spec, 1);
      expect(hung.hang).toBe(true);
      expect(performance.now() - t0).toBeLessThan(5000);
      const ok = await pool.run(spec);
      expect(ok.hang).toBe(false);
      if (!ok.hang) expect(ok.result.findings).toEqual([]);
    } finally {
      await pool.close();
    }
  });
});

describe('fuzz CLI', () => {
  it('bench fuzz --json prints one summary object; bad options and bad reproducers are one line, status 2', () => {
    const out = tempDir('fuzz-cli');
    const r = cli(['bench', 'fuzz', '--cases', '12', '--seed', '7', '--qemu-every', '0', '--json', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ bench: 'fuzz', cases: 12, seed: 7, findings: 0, command: 'shadowvisor bench fuzz --cases 12 --seed 7 --jobs 1' });
    const bad = cli(['bench', 'fuzz', '--cases', 'many']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const garbage = join(out, 'garbage.json');
    writeFileSync(garbage, 'not json');
    const g = cli(['bench', 'fuzz', '--replay', garbage]);
    expect(g.status).toBe(2);
    expect(g.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('mutated images through `shadowvisor run`: status 2 with one line, or a run; never 70 or a stack trace', () => {
    const images = loadFuzzImages();
    const dir = tempDir('fuzz-run');
    let refused = 0;
    for (let i = 0, n = 0; n < 6; i++) {
      const spec = caseAt(5, i, images.names.length);
      if (spec.kind !== 'image') continue;
      n++;
      const file = join(dir, `m${i}.elf`);
      // the same bytes the in-process runs judge
      const res = runCase(spec, images);
      writeFileSync(file, caseImage(spec, images).image);
      for (const mmu of ['native', 'shadow']) {
        const r = cli(['run', file, '--mmu', mmu, '--mem', '8M', '--max-insns', '300000', ...(mmu === 'shadow' ? ['--host-mem', '512K'] : [])], { encoding: 'latin1' });
        expect(r.status, `${file} ${mmu}: ${r.stderr}`).not.toBe(70);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        if (r.status === 2) {
          refused++;
          expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        }
        // the CLI and the fuzzer's in-process runner agree on the outcome
        expect(r.status).toBe((mmu === 'native' ? res.native : res.shadow).status);
      }
    }
    expect(refused).toBeGreaterThan(0);
  });
});


describe('the fuzzer finds a wrong compiler', () => {
  // The guard on the jit-interp finding: a WebAssembly template that decrements for INC r32
  // (the interpreter's handler stays right) must be reported; with the template restored the
  // same case finds nothing.
  it('INC r32 compiled as DEC: a jit-interp finding; none once the template is right', async () => {
    const images = loadFuzzImages();
    const right = wasmTemplates.get(A.opInc32R)!;
    let index = -1;
    wasmTemplates.set(A.opInc32R, wasmTemplates.get(A.opDec32R)!);
    try {
      for (let k = 0; k < 40 && index < 0; k++) {
        if (runCase(caseAt(1, k, images.names.length), images).findings.some((f) => f.kind === 'jit-interp')) index = k;
      }
    } finally {
      wasmTemplates.set(A.opInc32R, right);
    }
    expect(index, 'a case among the first 40 shows it').toBeGreaterThanOrEqual(0);
    const fixed = runCase(caseAt(1, index, images.names.length), images);
    expect(fixed.findings).toEqual([]);
    expect(fixed.compiled, 'the case compiles regions').toBeGreaterThan(0);
  });
});

describe('the fuzzer finds a wrong two-dimensional MMU', () => {
  // The guard on the native-tdp finding: a TDP vCPU whose INVLPG drops nothing from its TLB
  // (guest writes to a PTE then reach the old frame, as they do not natively) must be reported;
  // with INVLPG restored the same case finds nothing.
  it('INVLPG ignored under tdp: a native-tdp finding; none once it flushes again', () => {
    const images = loadFuzzImages();
    const proto = TdpVcpuMmu.prototype;
    const right = Object.getOwnPropertyDescriptor(proto, 'onInvlpg')!;
    let index = -1;
    Object.defineProperty(proto, 'onInvlpg', { ...right, value: function (this: TdpVcpuMmu): void { this.mmu.tdpStats.invlpgs++; } });
    try {
      for (let k = 0; k < 60 && index < 0; k++) {
        if (runCase(caseAt(1, k, images.names.length), images).findings.some((f) => f.kind === 'native-tdp')) index = k;
      }
    } finally {
      Object.defineProperty(proto, 'onInvlpg', right);
    }
    expect(index, 'a case among the first 60 shows it').toBeGreaterThanOrEqual(0);
    expect(runCase(caseAt(1, index, images.names.length), images).findings).toEqual([]);
  });
});

describe('fuzz parts', () => {
  it('the runtime bytes are what stream-runtime.S assembles to (scripts/fuzz-runtime.mjs)', () => {
    const as = spawnSync('as', ['--version'], { stdio: 'ignore' });
    if (as.status !== 0) {
      if (inCi) throw new Error('GNU as (binutils) is required under CI=true');
      console.warn('[fuzz] GNU as not found: the runtime source check is skipped');
      return;
    }
    const r = spawnSync(process.execPath, ['-e', "import('./scripts/fuzz-runtime.mjs').then(m => process.stdout.write(m.runtimeModule(m.assembleRuntime())))"], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'src/sim/fuzz/stream-runtime.ts'), 'utf8'));
    expect(STREAM_RUNTIME_BASE64.length).toBeGreaterThan(1000);
  });

  it('the shrinker finds a minimal subset', async () => {
    const all = Array.from({ length: 40 }, (_, k) => k);
    const { keep } = await shrinkIndices(all, async (k) => k.includes(3) && k.includes(29));
    expect(keep).toEqual([3, 29]);
    expect((await shrinkIndices(all, async () => true)).keep).toEqual([]);
  });

  it('a shrunk stream is a well-formed guest: the same items at new addresses, flags re-derived', () => {
    const spec = { seed: 99, profile: { paging: true, ring3: false, system: true, qemu: true, hostile: false }, count: 60 };
    const full = buildStreamGuest(spec);
    const half = buildStreamGuest({ ...spec, keep: full.items.map((_, k) => k).filter((k) => k % 2 === 0) });
    expect(half.kept).toEqual(full.items.filter((_, k) => k % 2 === 0));
    expect(half.image.length).toBe(full.image.length); // paging images carry their page tables
    // An item that reads CF after one that leaves it undefined is refused for QEMU (-1).
    const mul: StreamItem = { bytes: [0xf7, 0xe1], lens: [2], relocs: [], needs: 0, keep: CF_OF, set: 0, what: 'mul' };
    const adc: StreamItem = { bytes: [0x11, 0xc8], lens: [2], relocs: [], needs: 1, keep: 0, set: ALLF, what: 'adc' };
    expect(replayDefined([mul])).toBe(CF_OF);
    expect(replayDefined([mul, adc])).toBe(ALLF); // CF is defined after MUL, and ADC sets them all
    expect(replayDefined([{ ...mul, keep: 0x800 }, adc])).toBe(-1);
  });

  it('a finding\'s replay compiles what the fuzzer\'s run compiled: withCompiler is `run --jit on --jit-hot 20`', () => {
    // cputest: both tiers (JavaScript for the blocks WebAssembly does not cover)
    const path = join(ROOT, 'guest-images', 'cputest.elf');
    const image = new Uint8Array(readFileSync(path));
    const js0 = { ...jitStats };
    const w0 = { ...wasmStats };
    const ours = withCompiler(true, () => runNative(image, 64 << 20, 50_000_000));
    expect(ours.v.status).toBe(0);
    const inProcess = { js: jitStats.regions - js0.regions, jsInsns: jitStats.insns - js0.insns, wasm: wasmStats.regions - w0.regions, wasmInsns: wasmStats.insns - w0.insns };
    expect(inProcess.wasm + inProcess.js).toBe(ours.compiled);
    expect(inProcess.wasm).toBeGreaterThan(0);
    expect(inProcess.js).toBeGreaterThan(0);
    const r = cli(['run', path, '--mmu', 'native', '--jit', 'on', '--jit-hot', String(EAGER_JIT_HOT), '--log-level', 'info']);
    expect(r.status).toBe(0);
    const line = r.stderr.split('\n').find((l) => l.includes('jit: compiled regions'));
    expect(line, r.stderr).toBeDefined();
    const logged = JSON.parse(line!) as { regions: number; insns: number; wasm: { regions: number; insns: number } };
    expect({ js: logged.regions, jsInsns: logged.insns, wasm: logged.wasm.regions, wasmInsns: logged.wasm.insns }).toEqual(inProcess);
  });

  it('compareRuns names the first difference', () => {
    const a: RunOutcome = { status: 0, reason: 'exit', message: 'm', serial: 'R 1\nH 2 3\n', instructions: 10, regs: [1, 2] };
    expect(compareRuns(a, { ...a })).toBe('');
    expect(compareRuns(a, { ...a, status: 3 })).toMatch(/^exit status 0 vs 3/);
    expect(compareRuns(a, { ...a, serial: 'R 1\nH 2 4\n' })).toMatch(/^serial differs at byte 8/);
    expect(compareRuns(a, { ...a, instructions: 11 })).toBe('instructions retired 10 vs 11');
    expect(compareRuns(a, { ...a, regs: [1, 5] })).toBe('ecx 2 vs 5');
  });
});

const CF_OF = 0x801;
