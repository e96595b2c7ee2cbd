// `shadowvisor bench csmith`: random C programs against QEMU. For each seed, csmith writes a
// program that computes over globals, structs, bitfields, pointers and 8- to 64-bit arithmetic
// and prints a checksum of every global; the machine's gcc builds it as a guest at each
// optimisation level (guest-images/csmith: the runtime, printf and libgcc's 64-bit division).
// Every other build runs the program in ring 3 under paging (identity-mapped 4 KiB user pages),
// the others in ring 0 with paging off. qemu-system-i386 runs each build once and shadowvisor
// four ways: the native MMU with the interpreter and with the compiler, the shadow MMU on a host
// far smaller than the guest (code and data swapped out and back under compiled code) with the
// compiler, and tdp with the interpreter and KSM merging the guest's identical pages. A finding
// is a run whose serial output or exit status differs from QEMU's, or whose instructions
// retired, final registers, output or status differ from the native interpreter's (the
// compiler's and the hypervisor's contract). Findings are kept under --out with the program, the
// image and the commands that replay them. Progress on stderr, the table on stdout. Needs csmith
// (Debian: csmith, libcsmith-dev), gcc and qemu-system-i386: without them it says which is
// missing and measures nothing.

import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCount } from '../src/cli/args.js';
import { guestImagePath } from '../src/cli/paths.js';
import { defaultHostMemBytes } from '../src/sim/run-guest.js';
import { compareRuns, EAGER_JIT_HOT, runNative, runShadow, withCompiler, type RunOutcome } from '../src/sim/fuzz/fuzz-case.js';
import { parseBenchArgs } from './args.js';
import type { BenchOut } from './index.js';
import { QEMU, qemuArgs, qemuAvailable, qemuCommand, qemuDiff, runProgram } from './qemu.js';

const DEFAULT_OPTS = ['-O0', '-O1', '-O2', '-Os', '-O3', '-O2 -march=i386'];

const HELP = `Usage: shadowvisor bench csmith [options]

Random C programs (csmith) built as guests with gcc at several optimisation levels (every other
build in ring 3 under paging, the rest in ring 0 without), run on qemu-system-i386 and on
shadowvisor: native MMU with the interpreter and with the compiler, shadow MMU on a 64 KiB host
(constant swapping) with the compiler, tdp with the interpreter and KSM. Every run must print
QEMU's output (a checksum of every global variable) and exit as QEMU did; the compiler and the
hypervisor must also retire the native interpreter's instructions and end in its registers.
Needs csmith (Debian: csmith libcsmith-dev), gcc and qemu-system-i386.

Options:
  --programs N      programs to generate (default 10, what 'bench all' runs)
  --seed S          csmith seed of the first program (default 1); program k uses S + k
  --opt=LIST        gcc option sets, comma-separated, written with '=' as they begin with '-'
                    (default --opt='${DEFAULT_OPTS.join(',')}')
  --max-insns N     instruction budget of one shadowvisor run (default 300000000); a build
                    the native interpreter cannot finish within it is skipped
  --timeout-ms N    QEMU's wall-time bound per run; a build QEMU cannot finish is skipped
                    (default 30000)
  --out DIR         where findings go (default ./csmith-findings; created on the first finding)
  --max-findings N  keep the files of at most N builds with findings (default 10; all are counted)
  --json            one JSON object on stdout instead of the table
  -h, --help        show this help

Exit status: 0 when every run agreed (or a tool is missing: nothing measured, said on stderr),
1 when some run did not, 2 on bad options.
`;

const RAM = 64 * 1024 * 1024;
/** The shadow MMU's host: 64 KiB of RAM (16 frames, the least a host may have) for a 64 MiB
 *  guest. A csmith program touches 40 to 100 pages, so its code and data are swapped out and
 *  back all along (at 1 MiB nothing was: its pages fit). */
const TINY_HOST = 64 * 1024;

/** guest-images/Makefile's CFLAGS (without -O2 and the warnings) and LDFLAGS. */
const CFLAGS = ['-m32', '-march=i686', '-ffreestanding', '-fno-pic', '-fno-pie', '-fno-stack-protector', '-mgeneral-regs-only', '-fno-asynchronous-unwind-tables', '-fno-tree-loop-distribute-patterns'];
const LDFLAGS = ['-m32', '-nostdlib', '-static', '-no-pie', '-Wl,-melf_i386', '-Wl,--build-id=none', '-Wl,-z,max-page-size=0x1000', '-Wl,-z,noexecstack'];
/** Where Debian and a source install put csmith.h. */
const CSMITH_INCLUDES = ['/usr/include/csmith', '/usr/local/include/csmith', '/usr/local/include/csmith-2.3.0'];

export interface CsmithOptions {
  programs: number;
  seed: number;
  opts: string[];
  maxInsns: number;
  timeoutMs: number;
  out: string;
  /** Builds whose findings are kept under `out` (the rest are counted). */
  maxFindings: number;
  json: boolean;
}

export interface CsmithFinding {
  seed: number;
  opt: string;
  run: string;
  detail: string;
  /** Where its files are, or empty when --max-findings builds were kept already. */
  dir: string;
}

export interface CsmithSummary {
  programs: number;
  builds: number;
  /** Builds whose program ran in ring 3 under paging (the others: ring 0, paging off). */
  ring3Builds: number;
  /** Builds not compared: longer than --max-insns on the native interpreter, or than
   *  --timeout-ms on QEMU. */
  skipped: number;
  runs: number;
  instructions: number;
  /** Pages the tiny host swapped in and out under the shadow MMU's runs. */
  swapIns: number;
  swapOuts: number;
  /** Pages KSM merged under the tdp runs. */
  ksmMerges: number;
  outputBytes: number;
  qemuSeconds: number;
  shadowvisorSeconds: number;
  findings: CsmithFinding[];
}

/** The tools, or what is missing (one line). Run in `dir`: csmith writes platform.info into
 *  its working directory, even for --version. */
function findTools(dir: string): { include: string } | string {
  const missing: string[] = [];
  const ok = (cmd: string, args: string[]): boolean => {
    const r = spawnSync(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    return !r.error && r.status === 0;
  };
  if (!ok('csmith', ['--version'])) missing.push('csmith');
  const include = [process.env.CSMITH_INCLUDE ?? '', ...CSMITH_INCLUDES].find((d) => d !== '' && existsSync(join(d, 'csmith.h')));
  if (include === undefined) missing.push('csmith.h (libcsmith-dev, or CSMITH_INCLUDE=dir)');
  if (!ok('gcc', ['--version'])) missing.push('gcc');
  if (!qemuAvailable()) missing.push(QEMU);
  return missing.length > 0 || include === undefined ? `missing ${missing.join(', ')}` : { include };
}

/** Run a build step; throws with its first line of output when it fails. */
function tool(cmd: string, args: string[], cwd: string): Buffer {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? r.stderr.toString().split('\n').find((l) => /error/i.test(l)) ?? `status ${r.status}`;
    throw new Error(`${cmd} ${args.slice(-3).join(' ')}: ${why}`);
  }
  return r.stdout;
}

/** The guest runtime (guest-images/lib) and csmith-main.c, compiled once into `dir`: the objects
 *  of a ring 0 guest without paging, and of one whose program runs in ring 3 under paging. */
function buildRuntime(dir: string): { ring0: string[]; ring3: string[] } {
  const lib = guestImagePath('lib');
  const objs: string[] = [];
  for (const f of readdirSync(lib).sort()) {
    if (!/\.(c|S)$/.test(f)) continue;
    const o = join(dir, `${f.replace(/\.(c|S)$/, '')}.o`);
    tool('gcc', f.endsWith('.S') ? ['-m32', '-c', join(lib, f), '-o', o] : [...CFLAGS, '-O2', `-I${lib}`, '-c', join(lib, f), '-o', o], dir);
    objs.push(o);
  }
  const main = (o: string, defs: string[]): string => {
    tool('gcc', [...CFLAGS, '-O2', ...defs, `-I${lib}`, '-c', guestImagePath('csmith/csmith-main.c'), '-o', join(dir, o)], dir);
    return join(dir, o);
  };
  return { ring0: [...objs, main('csmith-main.o', [])], ring3: [...objs, main('csmith-main-user.o', ['-DCSMITH_USER'])] };
}

/** csmith's program for `seed`, printing every global's checksum. */
function generate(seed: number, dir: string): string {
  const src = tool('csmith', ['--no-argc', '--seed', String(seed)], dir).toString('latin1');
  // --no-argc leaves print_hash_value 0 (only the final checksum): a checksum per global
  // variable says where two runs part, and compares far more state.
  const full = src.replace('int print_hash_value = 0;', 'int print_hash_value = 1;');
  if (full === src) throw new Error(`csmith --seed ${seed}: no print_hash_value to switch on`);
  const path = join(dir, `p${seed}.c`);
  writeFileSync(path, full);
  return path;
}

function build(src: string, opt: string, runtime: string[], include: string, out: string): void {
  const obj = `${out}.o`;
  // -ffunction-sections with --gc-sections: at -O0 csmith's unused floating-point helpers are
  // emitted and would need libgcc's soft-float routines.
  tool('gcc', [...CFLAGS, ...opt.split(/\s+/).filter((s) => s !== ''), '-w', '-ffunction-sections', `-I${guestImagePath('csmith/include')}`, `-I${include}`, '-Dmain=csmith_main', '-c', src, '-o', obj], resolve(out, '..'));
  tool('gcc', [...LDFLAGS, '-Wl,--gc-sections', '-T', guestImagePath('link.ld'), ...runtime, obj, '-o', out], resolve(out, '..'));
}

/** One way shadowvisor runs a build: its name, the `shadowvisor run` flags that replay it. */
export interface CsmithVariant {
  name: string;
  flags: string;
  run(image: Uint8Array, maxInsns: number, s: CsmithSummary): RunOutcome;
}

/** The four runs of every build; the first is the reference the others must match exactly. */
export const VARIANTS: readonly CsmithVariant[] = [
  { name: 'native interpreter', flags: '--mmu native --jit off', run: (image, max) => withCompiler(false, () => runNative(image, RAM, max)).v },
  { name: 'native compiler', flags: `--mmu native --jit on --jit-hot ${EAGER_JIT_HOT}`, run: (image, max) => withCompiler(true, () => runNative(image, RAM, max)).v },
  {
    name: 'shadow compiler, 64 KiB host',
    flags: `--mmu shadow --host-mem 64K --jit on --jit-hot ${EAGER_JIT_HOT}`,
    run: (image, max, s) =>
      withCompiler(true, () =>
        runShadow(image, RAM, max, TINY_HOST, 'shadow', {
          onEnd: (p) => {
            s.swapIns += p.host.stats.swapIns;
            s.swapOuts += p.host.stats.swapOuts;
          },
        }),
      ).v,
  },
  {
    name: 'tdp interpreter, KSM',
    flags: '--mmu tdp --ksm --jit off',
    run: (image, max, s) =>
      withCompiler(false, () => runShadow(image, RAM, max, defaultHostMemBytes(RAM), 'tdp', { ksm: true, onEnd: (p) => void (s.ksmMerges += p.host.stats.ksmMerges) })).v,
  },
];

/** The sweep; a string when a tool is missing (nothing was run). Tests may pass other variants. */
export async function csmithSweep(opts: CsmithOptions, out: BenchOut, variants: readonly CsmithVariant[] = VARIANTS): Promise<CsmithSummary | string> {
  const work = mkdtempSync(join(tmpdir(), 'shadowvisor-csmith-'));
  try {
    return await sweepIn(work, opts, out, variants);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function sweepIn(work: string, opts: CsmithOptions, out: BenchOut, variants: readonly CsmithVariant[]): Promise<CsmithSummary | string> {
  const tools = findTools(work);
  if (typeof tools === 'string') return tools;
  const s: CsmithSummary = { programs: 0, builds: 0, ring3Builds: 0, skipped: 0, runs: 0, instructions: 0, swapIns: 0, swapOuts: 0, ksmMerges: 0, outputBytes: 0, qemuSeconds: 0, shadowvisorSeconds: 0, findings: [] };
  const runtime = buildRuntime(work);
  /** Builds whose findings are kept under --out. */
  const saved = new Set<string>();
  for (let k = 0; k < opts.programs; k++) {
    const seed = opts.seed + k;
    const src = generate(seed, work);
    s.programs++;
    for (let j = 0; j < opts.opts.length; j++) {
      const opt = opts.opts[j]!;
      // every other build runs the program in ring 3 under paging: guest page tables for the
      // MMUs to walk (and, on the tiny host, to lose to swap), user-mode protection checks
      const user = (seed + j) % 2 === 1;
      const tag = `p${seed}${opt.replace(/[^A-Za-z0-9]+/g, '_')}${user ? '_ring3' : ''}`;
      const elf = join(work, `${tag}.elf`);
      build(src, opt, user ? runtime.ring3 : runtime.ring0, tools.include, elf);
      s.builds++;
      if (user) s.ring3Builds++;
      const t0 = performance.now();
      // QEMU's console to a file: our runs below hold the event loop, so a pipe would fill
      const stop = new AbortController();
      const qemu = runProgram(...qemuCommand(qemuArgs(elf)), opts.timeoutMs, { stdoutFile: `${elf}.qemu-out`, signal: stop.signal });
      const image = new Uint8Array(readFileSync(elf));
      const t1 = performance.now();
      // The reference first: a program longer than the budget is not run the other ways.
      const first = variants[0]!.run(image, opts.maxInsns, s);
      const long = first.reason === 'budget';
      if (long) stop.abort(); // not compared whatever QEMU prints: do not wait for it
      const runs = long ? [] : variants.map((v, vi) => ({ ...v, o: vi === 0 ? first : v.run(image, opts.maxInsns, s) }));
      s.shadowvisorSeconds += (performance.now() - t1) / 1000;
      const q = await qemu;
      s.qemuSeconds += (performance.now() - t0) / 1000;
      if (long || q.timedOut) {
        s.skipped++;
        const why = long ? `runs past --max-insns ${opts.maxInsns}` : `QEMU did not finish in ${opts.timeoutMs} ms`;
        out.stderr(`bench csmith: seed ${seed} ${opt}: ${why}: not compared\n`);
        continue;
      }
      const ref = runs[0]!.o;
      s.outputBytes += q.stdout.length;
      for (const r of runs) {
        s.runs++;
        s.instructions += r.o.instructions;
        let detail = qemuDiff(r.o, q).detail;
        if (detail !== '') detail = `vs QEMU: ${detail}`;
        else if (r !== runs[0]) {
          detail = compareRuns(r.o, ref);
          if (detail !== '') detail = `vs the native interpreter: ${detail}`;
        }
        if (detail === '') continue;
        // One directory per build, its README naming every run that differed; past
        // --max-findings builds, findings are counted but not kept.
        const dir = resolve(opts.out, tag);
        const keep = saved.has(tag) || saved.size < opts.maxFindings;
        const replay = `shadowvisor run ${r.flags} --max-insns ${opts.maxInsns} ${join(dir, `${tag}.elf`)}`;
        if (keep && !saved.has(tag)) {
          saved.add(tag);
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, `p${seed}.c`), readFileSync(src));
          writeFileSync(join(dir, `${tag}.elf`), image);
          writeFileSync(join(dir, 'qemu.out'), q.stdout);
          const where = user ? 'ring 3 under paging' : 'ring 0, paging off';
          writeFileSync(join(dir, 'README.txt'), `csmith --seed ${seed}, gcc ${opt}, ${where}\n${QEMU} ${qemuArgs(join(dir, `${tag}.elf`)).join(' ')}\n`);
        }
        if (keep) appendFileSync(join(dir, 'README.txt'), `\n${r.name}: ${detail}\n${replay}\n`);
        s.findings.push({ seed, opt, run: r.name, detail, dir: keep ? dir : '' });
        out.stderr(`bench csmith: FINDING seed ${seed} ${opt} ${r.name}: ${detail}\n  replay: ${replay}\n`);
      }
    }
    out.stderr(`bench csmith: program ${k + 1}/${opts.programs} (seed ${seed}): ${opts.opts.length} builds, ${s.findings.length} findings so far\n`);
  }
  return s;
}

function formatSummary(s: CsmithSummary, opts: CsmithOptions): string {
  const lines = [
    `bench csmith: ${s.programs} csmith program${s.programs === 1 ? '' : 's'} (seeds ${opts.seed}..${opts.seed + opts.programs - 1}) x ${opts.opts.length} gcc option sets (${opts.opts.join(', ')})`,
    `builds compared with QEMU       ${s.builds - s.skipped} of ${s.builds} (${s.ring3Builds} built for ring 3 under paging, the rest for ring 0 without; ${s.skipped} skipped: longer than --max-insns or QEMU's --timeout-ms)`,
    `shadowvisor runs                ${s.runs} (native interpreter, native compiler, shadow compiler on a 64 KiB host, tdp interpreter with KSM)`,
    `tiny host's swapping            ${s.swapOuts.toLocaleString('en-US')} pages out, ${s.swapIns.toLocaleString('en-US')} in (shadow runs)`,
    `KSM                             ${s.ksmMerges.toLocaleString('en-US')} pages merged (tdp runs)`,
    `instructions retired            ${s.instructions.toLocaleString('en-US')}`,
    `QEMU output compared            ${s.outputBytes.toLocaleString('en-US')} bytes, against each run (a checksum per global variable)`,
    `seconds                         shadowvisor ${s.shadowvisorSeconds.toFixed(1)} (all runs), QEMU ${s.qemuSeconds.toFixed(1)} (wall, alongside)`,
    `findings                        ${s.findings.length}`,
    ...s.findings.map((f) => `  seed ${f.seed} ${f.opt} ${f.run}: ${f.detail}${f.dir === '' ? ' (not kept: --max-findings)' : ` (${f.dir})`}`),
  ];
  return `${lines.join('\n')}\n`;
}

export async function main(argv: string[], out: BenchOut): Promise<number> {
  const v = parseBenchArgs(
    'csmith',
    argv,
    {
      programs: { type: 'string' },
      seed: { type: 'string' },
      opt: { type: 'string' },
      'max-insns': { type: 'string' },
      'timeout-ms': { type: 'string' },
      out: { type: 'string' },
      'max-findings': { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
    out,
  );
  if (typeof v === 'number') return v;
  let opts: CsmithOptions;
  try {
    const list = (v.opt ?? DEFAULT_OPTS.join(',')).split(',').map((o) => o.trim());
    if (list.some((o) => !/^(-[A-Za-z0-9=_.+-]+\s*)+$/.test(o))) throw new Error(`--opt must be comma-separated gcc options, not ${JSON.stringify(v.opt)}`);
    opts = {
      programs: v.programs === undefined ? 10 : parseCount('--programs', v.programs, 1),
      seed: v.seed === undefined ? 1 : parseCount('--seed', v.seed, 0),
      opts: list,
      maxInsns: v['max-insns'] === undefined ? 300_000_000 : parseCount('--max-insns', v['max-insns'], 1),
      timeoutMs: v['timeout-ms'] === undefined ? 30_000 : parseCount('--timeout-ms', v['timeout-ms'], 100),
      out: v.out ?? 'csmith-findings',
      maxFindings: v['max-findings'] === undefined ? 10 : parseCount('--max-findings', v['max-findings'], 0),
      json: v.json ?? false,
    };
  } catch (e) {
    out.stderr(`shadowvisor: bench csmith: ${(e as Error).message}\n`);
    return 2;
  }
  let s: CsmithSummary | string;
  try {
    s = await csmithSweep(opts, out);
  } catch (e) {
    out.stderr(`shadowvisor: bench csmith: ${(e as Error).message.split('\n')[0]}\n`);
    return 1;
  }
  if (typeof s === 'string') {
    out.stderr(`shadowvisor: bench csmith: ${s}: nothing measured\n`);
    if (opts.json) out.stdout(`${JSON.stringify({ skipped: s })}\n`);
    return 0;
  }
  out.stdout(opts.json ? `${JSON.stringify(s)}\n` : formatSummary(s, opts));
  return s.findings.length === 0 ? 0 : 1;
}
