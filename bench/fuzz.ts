// `shadowvisor bench fuzz`: the long fuzz sweep. Cases (src/sim/fuzz/fuzz-case.ts) are mutated
// guest images, random instruction streams (ISA, system, paging) and hostile guests, each run
// under --mmu native and --mmu shadow with a tiny host, each with the interpreter and with the
// compiler, on --jobs worker threads with a wall-time watchdog; a sample of the QEMU-comparable
// streams also runs on qemu-system-i386. Findings (status 70, a multi-line error, a hang, a
// native/shadow, interpreter/compiler or QEMU difference) are
// shrunk to minimal reproducers, written as .elf + .json under --out, and printed with the
// command that replays them. Progress on stderr, the summary on stdout (--json: one object).

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { guestImagePath } from '../src/cli/paths.js';
import {
  QEMU_DIFFERENCES,
  caseAt,
  caseImage,
  caseMachine,
  EAGER_JIT_HOT,
  describeCase,
  runCase,
  type CaseResult,
  type CaseSpec,
  type Finding,
  type FindingKind,
  type FuzzImages,
  type RunOutcome,
} from '../src/sim/fuzz/fuzz-case.js';
import { shrinkIndices } from '../src/sim/fuzz/shrink.js';
import { qemuArgs, qemuAvailable, qemuCommand, qemuDiff, runProgram } from './qemu.js';
import { parseBenchArgs } from './args.js';
import { FuzzPool, bundleEntry, type PoolAnswer } from './fuzz-pool.js';
import type { BenchOut } from './index.js';

const HELP = `Usage: shadowvisor bench fuzz [options]

Fuzz the machine: mutated guest images, random instruction streams drawn from GUEST-ABI.md
(integer ISA in 8/16/32-bit forms, string instructions with REP, system instructions, paging
with aliases and churn) and hostile guests (PTEs outside RAM, page-table writes through
aliases, self-modifying code through aliases, an IDT or stack on a not-present page). Each case
runs under --mmu native and --mmu shadow on a tiny host (constant swapping); a sample of the
streams also runs on qemu-system-i386. Both MMUs run each case twice: on the interpreter and
with the compiler (eager: regions after 20-40 block runs). A finding is an internal error
(status 70), a multi-line error, a hang past the wall-time bound, a native/shadow difference,
an interpreter/compiler difference or a QEMU difference; each is shrunk to a minimal reproducer (.elf + .json under --out) and printed with
the command that replays it.

Options:
  --cases N         cases to run (default 500, what 'bench all' runs)
  --seed S          sweep seed (default 1): the same seed gives the same cases and results
  --first I         index of the first case (default 0): cases I .. I+N-1 of the seed's sequence
  --jobs N          worker threads (default 1; needs the built CLI bundle)
  --out DIR         where reproducers go (default ./fuzz-findings; created on the first finding)
  --qemu-every N    run every Nth QEMU-comparable stream on QEMU too (default 20; 0 = never)
  --timeout-ms N    wall-time bound of one case before it counts as a hang (default 20000)
  --max-findings N  shrink and save at most N distinct findings (default 10)
  --replay FILE     rerun the reproducer FILE.json and say whether the finding still shows
  --json            one JSON object on stdout instead of the table
  -h, --help        show this help

Exit status: 0 when no case found anything, 1 when some did, 2 on bad options.
`;

export interface FuzzOptions {
  cases: number;
  first: number;
  seed: number;
  jobs: number;
  out: string;
  qemuEvery: number;
  timeoutMs: number;
  maxFindings: number;
  json: boolean;
  /** Worker entry (the CLI bundle); tests pass dist/shadowvisor.mjs. */
  entry?: string;
}

export interface SavedFinding {
  kind: FindingKind;
  detail: string;
  index: number;
  case: string;
  elf: string;
  json: string;
  replay: string;
  shrunkFrom: number;
  shrunkTo: number;
}

export interface FuzzSummary {
  bench: 'fuzz';
  seed: number;
  cases: number;
  jobs: number;
  seconds: number;
  casesPerSecond: number;
  kinds: Record<string, number>;
  outcomes: Record<string, number>;
  qemuComparisons: number;
  /** Cases whose runs with the compiler on compiled at least one region (the rest compare the
   *  interpreter with itself: too short or too straight to get hot). */
  compiledCases: number;
  findings: number;
  findingsByKind: Record<string, number>;
  /** Every case that found something (the first 1000), in index order. */
  findingCases: { index: number; kind: FindingKind }[];
  saved: SavedFinding[];
  command: string;
}

/** The committed guest images (the ones the "image" kind mutates). */
export function loadFuzzImages(): FuzzImages {
  const dir = dirname(guestImagePath('hello.elf'));
  const names = readdirSync(dir).filter((f) => f.endsWith('.elf')).sort();
  return { names, bytes: names.map((n) => new Uint8Array(readFileSync(join(dir, n)))) };
}

const num = (flag: string, v: string | undefined, def: number, min: number): number => {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${flag}: expected an integer >= ${min}, got '${v}'`);
  return Number(v);
};

export async function main(argv: string[], out: BenchOut): Promise<number> {
  const v = parseBenchArgs(
    'fuzz',
    argv,
    {
      cases: { type: 'string' },
      seed: { type: 'string' },
      first: { type: 'string' },
      jobs: { type: 'string' },
      out: { type: 'string' },
      'qemu-every': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'max-findings': { type: 'string' },
      replay: { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
    out,
  );
  if (typeof v === 'number') return v;
  let opts: FuzzOptions;
  try {
    opts = {
      cases: num('cases', v.cases, 500, 1),
      seed: num('seed', v.seed, 1, 0),
      first: num('first', v.first, 0, 0),
      jobs: num('jobs', v.jobs, 1, 1),
      out: v.out ?? 'fuzz-findings',
      qemuEvery: num('qemu-every', v['qemu-every'], 20, 0),
      timeoutMs: num('timeout-ms', v['timeout-ms'], 20000, 100),
      maxFindings: num('max-findings', v['max-findings'], 10, 0),
      json: v.json ?? false,
    };
  } catch (e) {
    out.stderr(`shadowvisor: bench fuzz: ${(e as Error).message}\n`);
    return 2;
  }
  if (v.replay !== undefined) return replay(v.replay, opts, out);
  const s = await fuzzSweep(opts, out);
  out.stdout(opts.json ? `${JSON.stringify(s)}\n` : formatSummary(s));
  return s.findings === 0 ? 0 : 1;
}

/** Runs cases in this thread (tests without a bundle) or on the pool, with the same answers. */
interface Runner {
  run(spec: CaseSpec): Promise<PoolAnswer>;
  close(): Promise<void>;
}

function makeRunner(opts: FuzzOptions, images: FuzzImages, jobs: number, timeoutMs: number): Runner {
  const entry = opts.entry ?? bundleEntry();
  if (entry === null) {
    // From sources (vitest): in-process, bounded only by the instruction budgets.
    return {
      run: async (spec) => {
        const t0 = performance.now();
        const result = runCase(spec, images);
        return { hang: false, result, seconds: (performance.now() - t0) / 1000 };
      },
      close: async () => {},
    };
  }
  const pool = new FuzzPool(jobs, images, timeoutMs, entry);
  return { run: (spec) => pool.run(spec), close: () => pool.close() };
}

interface QemuVerdict {
  detail: string;
  status: number | null;
  serial: string;
}

let qemuDir: string | null = null;

/** Run the image on QEMU and compare with our native run ('' detail when they agree). */
async function qemuCompare(image: Uint8Array, native: RunOutcome, timeoutMs: number): Promise<QemuVerdict> {
  qemuDir ??= mkdtempSync(join(tmpdir(), 'sv-fuzz-qemu-'));
  const path = join(qemuDir, `case-${process.pid}-${Math.random().toString(36).slice(2)}.elf`);
  writeFileSync(path, image);
  try {
    // QEMU_DIFFERENCES are avoided by the generator, not masked in the comparison
    return qemuDiff(native, await runProgram(...qemuCommand(qemuArgs(path)), timeoutMs));
  } finally {
    rmSync(path, { force: true });
  }
}

const signature = (f: Finding): string => `${f.kind}:${f.detail.replace(/[0-9a-f]{2,}|\d+/g, '#').slice(0, 60)}`;

export async function fuzzSweep(opts: FuzzOptions, out: BenchOut): Promise<FuzzSummary> {
  const images = loadFuzzImages();
  const runner = makeRunner(opts, images, opts.jobs, opts.timeoutMs);
  const haveQemu = opts.qemuEvery > 0 && qemuAvailable();
  if (opts.qemuEvery > 0 && !haveQemu) out.stderr('fuzz: qemu-system-i386 not found: no QEMU comparisons\n');
  const t0 = performance.now();
  const kinds: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const findingsByKind: Record<string, number> = {};
  const firstOf = new Map<string, { index: number; spec: CaseSpec; finding: Finding }>();
  let findings = 0;
  let qemuComparisons = 0;
  let compiledCases = 0;
  let qemuSeen = 0;
  let done = 0;
  let lastProgress = 0;
  const tty = process.stderr.isTTY === true;

  const findingCases: { index: number; kind: FindingKind }[] = [];
  const note = (index: number, spec: CaseSpec, f: Finding): void => {
    findings++;
    if (findingCases.length < 1000) findingCases.push({ index, kind: f.kind });
    findingsByKind[f.kind] = (findingsByKind[f.kind] ?? 0) + 1;
    // The lowest case index of each kind of finding is kept, whatever order the workers
    // answered in, so the same seed saves the same reproducers with any --jobs.
    const sig = signature(f);
    const had = firstOf.get(sig);
    if (had === undefined || had.index > index) {
      if (had === undefined) out.stderr(`${tty ? '\r\x1b[K' : ''}fuzz: case ${index}: ${f.kind}: ${f.detail} (${describeCase(spec, images)})\n`);
      firstOf.set(sig, { index, spec, finding: f });
    }
  };

  const progress = (force: boolean): void => {
    const now = performance.now();
    if (!force && now - lastProgress < (tty ? 250 : 10000)) return;
    lastProgress = now;
    const rate = done / Math.max(1e-3, (now - t0) / 1000);
    const line = `fuzz: ${done}/${opts.cases} cases, ${rate.toFixed(0)}/s, ${findings} findings, ${qemuComparisons} on QEMU`;
    out.stderr(tty ? `\r\x1b[K${line}` : `${line}\n`);
  };

  const qemuJobs: Promise<void>[] = [];
  let qemuInFlight = 0;
  const one = async (index: number): Promise<void> => {
    const spec = caseAt(opts.seed, index, images.names.length);
    const kind = spec.kind === 'image' ? 'image' : spec.stream.profile.hostile ? 'hostile' : spec.stream.profile.system ? 'system' : 'isa';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    const a = await runner.run(spec);
    if (a.hang) {
      outcomes.hang = (outcomes.hang ?? 0) + 1;
      note(index, spec, { kind: 'hang', detail: `no answer within ${opts.timeoutMs} ms` });
    } else {
      const o = `${a.result.native.status}`;
      outcomes[o] = (outcomes[o] ?? 0) + 1;
      if (a.result.compiled > 0) compiledCases++;
      for (const f of a.result.findings) note(index, spec, f);
      if (haveQemu && spec.kind === 'stream' && spec.stream.profile.qemu && a.result.findings.length === 0 && qemuSeen++ % opts.qemuEvery === 0) {
        // QEMU runs alongside the pool, at most as many at once as there are jobs.
        while (qemuInFlight >= opts.jobs) await Promise.race(qemuJobs);
        qemuInFlight++;
        const job = (async () => {
          const { image } = caseImage(spec, images);
          const q = await qemuCompare(image, a.result.native, Math.max(opts.timeoutMs, 20000));
          qemuComparisons++;
          if (q.detail !== '') note(index, spec, { kind: 'qemu', detail: q.detail });
        })().finally(() => {
          qemuInFlight--;
          qemuJobs.splice(qemuJobs.indexOf(job), 1);
        });
        qemuJobs.push(job);
      }
    }
    done++;
    progress(false);
  };

  // Keep every worker busy: at most 2 * jobs cases in flight.
  let next = opts.first;
  const end = opts.first + opts.cases;
  const lanes = Array.from({ length: Math.max(1, opts.jobs * 2) }, async () => {
    while (next < end) await one(next++);
  });
  await Promise.all(lanes);
  await Promise.all(qemuJobs);
  progress(true);
  if (tty) out.stderr('\n');
  const seconds = (performance.now() - t0) / 1000;

  const saved: SavedFinding[] = [];
  for (const { index, spec, finding } of [...firstOf.values()].sort((a, b) => a.index - b.index).slice(0, opts.maxFindings)) {
    saved.push(await saveReproducer(opts, images, runner, index, spec, finding, out));
  }
  await runner.close();
  if (qemuDir !== null) rmSync(qemuDir, { recursive: true, force: true });
  qemuDir = null;
  return {
    bench: 'fuzz',
    seed: opts.seed,
    cases: opts.cases,
    jobs: opts.jobs,
    seconds,
    casesPerSecond: opts.cases / seconds,
    kinds,
    outcomes,
    qemuComparisons,
    compiledCases,
    findings,
    findingsByKind,
    findingCases: findingCases.sort((a, b) => a.index - b.index),
    saved,
    command: `shadowvisor bench fuzz --cases ${opts.cases} --seed ${opts.seed}${opts.first ? ` --first ${opts.first}` : ''} --jobs ${opts.jobs}`,
  };
}

/** Whether `spec` still shows a finding of this kind. */
async function reproduces(kind: FindingKind, spec: CaseSpec, images: FuzzImages, runner: Runner, timeoutMs: number): Promise<{ yes: boolean; result?: CaseResult; qemu?: QemuVerdict }> {
  if (spec.kind === 'stream' && kind === 'qemu' && caseImage(spec, images).defined < 0) return { yes: false };
  const a = await runner.run(spec);
  if (a.hang) return { yes: kind === 'hang' };
  if (kind === 'qemu') {
    if (a.result.findings.length > 0) return { yes: false };
    const q = await qemuCompare(caseImage(spec, images).image, a.result.native, Math.max(timeoutMs, 20000));
    return { yes: q.detail !== '', result: a.result, qemu: q };
  }
  return { yes: a.result.findings.some((f) => f.kind === kind), result: a.result };
}

function withKeep(spec: CaseSpec, keep: number[]): CaseSpec {
  return spec.kind === 'image' ? { ...spec, keep } : { kind: 'stream', stream: { ...spec.stream, keep } };
}

function machineFlags(spec: CaseSpec): { native: string; shadow: string; tdp: string } {
  const m = caseMachine(spec);
  const mem = `--mem ${m.ram / 1048576}M --max-insns ${m.maxInsns}`;
  const host = `--host-mem ${m.hostMem / 1024}K --swap ${m.ram / 1048576}M --seed 1`;
  return { native: `${mem} --mmu native`, shadow: `${mem} --mmu shadow ${host}`, tdp: `${mem} --mmu tdp ${host}` };
}

async function saveReproducer(
  opts: FuzzOptions,
  images: FuzzImages,
  runner: Runner,
  index: number,
  spec: CaseSpec,
  finding: Finding,
  out: BenchOut,
): Promise<SavedFinding> {
  const parts = caseImage(spec, images).items;
  const all = Array.from({ length: parts }, (_, k) => k);
  const maxAttempts = finding.kind === 'hang' ? 12 : finding.kind === 'qemu' ? 80 : 200;
  out.stderr(`fuzz: shrinking case ${index} (${finding.kind}, ${parts} parts)\n`);
  const { keep } = await shrinkIndices(all, async (k) => (await reproduces(finding.kind, withKeep(spec, k), images, runner, opts.timeoutMs)).yes, maxAttempts);
  const shrunk = withKeep(spec, keep);
  const final = await reproduces(finding.kind, shrunk, images, runner, opts.timeoutMs);
  const detail = final.qemu?.detail ?? final.result?.findings.find((f) => f.kind === finding.kind)?.detail ?? finding.detail;
  mkdirSync(opts.out, { recursive: true });
  const base = join(opts.out, `seed${opts.seed}-case${index}-${finding.kind}`);
  const { image } = caseImage(shrunk, images);
  writeFileSync(`${base}.elf`, image);
  const flags = machineFlags(shrunk);
  const replay = `shadowvisor bench fuzz --replay ${base}.json`;
  const record = {
    kind: finding.kind,
    detail,
    found: finding.detail,
    seed: opts.seed,
    index,
    case: describeCase(shrunk, images),
    spec: shrunk,
    image: images.names[shrunk.kind === 'image' ? shrunk.image : -1] ?? null,
    native: final.result?.native,
    shadow: final.result?.shadow,
    tdp: final.result?.tdp,
    qemu: final.qemu ? { status: final.qemu.status, serial: final.qemu.serial } : undefined,
    replay,
    commands: [
      `shadowvisor run ${base}.elf ${flags.native}`,
      `shadowvisor run ${base}.elf ${flags.shadow}`,
      `shadowvisor run ${base}.elf ${flags.tdp}`,
      `qemu-system-i386 -kernel ${base}.elf -m 64 -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot`,
      // an interpreter/compiler difference: the interpreter alone, then the compiler as eager
      // as the fuzzer runs it (compare their output and `--stats`)
      ...(finding.kind === 'jit-interp'
        ? [`shadowvisor run ${base}.elf ${flags.native} --jit off --stats`, `shadowvisor run ${base}.elf ${flags.native} --jit on --jit-hot ${EAGER_JIT_HOT} --stats`]
        : []),
    ],
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
  out.stderr(`fuzz: ${finding.kind} in case ${index}, ${parts} parts shrunk to ${keep.length}: ${detail}\n  replay: ${replay}\n`);
  return { kind: finding.kind, detail, index, case: record.case, elf: `${base}.elf`, json: `${base}.json`, replay, shrunkFrom: parts, shrunkTo: keep.length };
}

async function replay(file: string, opts: FuzzOptions, out: BenchOut): Promise<number> {
  let rec: { kind: FindingKind; spec: CaseSpec; detail: string };
  try {
    rec = JSON.parse(readFileSync(resolve(file), 'utf8'));
    if (typeof rec.kind !== 'string' || typeof rec.spec !== 'object') throw new Error('not a fuzz reproducer');
  } catch (e) {
    out.stderr(`shadowvisor: bench fuzz: --replay ${file}: ${(e as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  const images = loadFuzzImages();
  const runner = makeRunner(opts, images, 1, opts.timeoutMs);
  try {
    const r = await reproduces(rec.kind, rec.spec, images, runner, opts.timeoutMs);
    const res = r.result;
    const line = (name: string, o: RunOutcome | undefined): string =>
      o === undefined ? '' : `${name.padEnd(7)} status ${o.status} (${o.reason}), ${o.instructions} instructions: ${o.message}\n`;
    out.stdout(`case: ${describeCase(rec.spec, images)}\n${line('native', res?.native)}${line('shadow', res?.shadow)}`);
    if (r.qemu) out.stdout(`qemu    status ${r.qemu.status}: ${r.qemu.detail || 'same serial and status as native'}\n`);
    const now = r.qemu?.detail || res?.findings.map((f) => `${f.kind}: ${f.detail}`).join('; ') || '';
    out.stdout(r.yes ? `still reproduces (${rec.kind}): ${now || rec.detail}\n` : `does not reproduce any more (was ${rec.kind}: ${rec.detail})\n`);
    return r.yes ? 1 : 0;
  } finally {
    await runner.close();
  }
}

export function formatSummary(s: FuzzSummary): string {
  const kv = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  let t = `fuzz: ${s.cases} cases in ${s.seconds.toFixed(1)} s (${s.casesPerSecond.toFixed(1)} cases/s), seed ${s.seed}, ${s.jobs} job(s)\n`;
  t += `  kinds:        ${kv(s.kinds)}\n`;
  t += `  native exit:  ${kv(s.outcomes)}\n`;
  t += `  QEMU:         ${s.qemuComparisons} streams compared\n`;
  t += `  compiler:     regions compiled in ${s.compiledCases} cases (each case also runs with it, compared with the interpreter)\n`;
  t += `  findings:     ${s.findings}${s.findings ? ` (${kv(s.findingsByKind)}) in cases ${s.findingCases.map((f) => f.index).join(' ')}` : ''}\n`;
  for (const f of s.saved) t += `  ${f.kind}: ${f.detail}\n    ${f.case}, shrunk ${f.shrunkFrom} -> ${f.shrunkTo}\n    replay: ${f.replay}\n`;
  return t;
}

export { QEMU_DIFFERENCES };
