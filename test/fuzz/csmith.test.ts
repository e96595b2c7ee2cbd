// `bench csmith` in small: one csmith program built by gcc at two option sets (one in ring 3
// under paging, one in ring 0 without), run on QEMU and four ways on shadowvisor, must agree
// everywhere; a run that disagrees must come out as a finding with its program, image and
// replay command kept. Plus what the comparison rests on: QEMU's console read from a file (a
// pipe left unread while our runs hold the event loop filled up, and QEMU lost the last byte of
// a 155 KB output when the guest exited), and RunOutcome.serial, which past 64 KiB keeps the
// length and a hash, so a late difference shows.
// Needs csmith, gcc and qemu-system-i386: under CI=true their absence fails (.ci/run installs
// them), elsewhere the tests skip with a warning.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csmithSweep, VARIANTS, type CsmithOptions, type CsmithVariant } from '../../bench/csmith.js';
import { runProgram } from '../../bench/qemu.js';
import { compareRuns, serialText, type RunOutcome } from '../../src/sim/fuzz/fuzz-case.js';
import { tempDir } from '../cli/helpers.js';

const inCi = Boolean(process.env.CI);
const silentOut = { stdout: () => {}, stderr: () => {} };

function options(o: Partial<CsmithOptions>): CsmithOptions {
  return { programs: 1, seed: 2, opts: ['-O1', '-O2 -march=i386'], maxInsns: 300_000_000, timeoutMs: 60_000, out: tempDir('csmith'), maxFindings: 10, json: true, ...o };
}

/** The sweep's summary, or null (skipped with a warning) when a tool is missing outside CI. */
async function sweep(o: CsmithOptions, variants = VARIANTS) {
  const s = await csmithSweep(o, silentOut, variants);
  if (typeof s === 'string') {
    if (inCi) throw new Error(`bench csmith: ${s}; under CI=true .ci/run installs csmith, libcsmith-dev, gcc and qemu-system-x86`);
    console.warn(`[csmith] skipped: ${s}`);
    return null;
  }
  return s;
}

describe('bench csmith', () => {
  it('a csmith program at -O1 (ring 0) and -O2 -march=i386 (ring 3, paging): QEMU, native interpreter and compiler, shadow on a 64 KiB host, tdp with KSM agree', async () => {
    const s = await sweep(options({}));
    if (s === null) return;
    expect(s.findings.map((f) => `${f.opt} ${f.run}: ${f.detail}`)).toEqual([]);
    expect(s.builds).toBe(2);
    expect(s.ring3Builds).toBe(1); // -O1 in ring 0, -O2 -march=i386 in ring 3 under paging
    expect(s.skipped).toBe(0);
    expect(s.runs).toBe(2 * VARIANTS.length);
    // csmith printed a checksum per global, and the tiny host really swapped under the shadow MMU
    expect(s.swapOuts).toBeGreaterThan(0);
    expect(s.swapIns).toBeGreaterThan(0);
    expect(s.ksmMerges).toBeGreaterThan(0); // and KSM merged pages under tdp
    expect(s.outputBytes).toBeGreaterThan(2 * (1 << 16)); // past serialText's 64 KiB: compared by hash
    // csmith writes platform.info into its working directory (even for --version): never ours
    expect(existsSync(join(process.cwd(), 'platform.info'))).toBe(false);
  }, 180_000);

  it('a run that differs from QEMU, or from the native interpreter only in instructions retired, is a finding, kept with its program, image and replay command', async () => {
    const ref = VARIANTS[0]!;
    const budget = 10_000; // the native interpreter stopped early: exit status 4 and a short output
    const cut: CsmithVariant = { ...ref, name: 'cut short', run: (image, _max, s) => ref.run(image, budget, s) };
    // the same output and status as QEMU, one instruction more than the reference
    const extra: CsmithVariant = { ...ref, name: 'one more', run: (image, max, s) => ({ ...ref.run(image, max, s), instructions: ref.run(image, max, s).instructions + 1 }) };
    const out = tempDir('csmith-finding');
    const s = await sweep(options({ opts: ['-O2'], out }), [ref, cut, extra]);
    if (s === null) return;
    expect(s.findings.map((f) => f.run)).toEqual(['cut short', 'one more']);
    expect(s.findings[1]!.detail).toMatch(/^vs the native interpreter: instructions retired \d+ vs \d+$/);
    const f = s.findings[0]!;
    expect(f.run).toBe('cut short');
    expect(f.detail).toMatch(/^vs QEMU: exit status 4 vs 0/);
    expect(existsSync(join(f.dir, 'p2.c'))).toBe(true);
    expect(existsSync(join(f.dir, 'p2_O2.elf'))).toBe(true);
    expect(readFileSync(join(f.dir, 'qemu.out'), 'latin1')).toMatch(/checksum = [0-9A-F]+\n$/);
    // one directory for the build, naming both runs that differed with their replay commands
    expect(s.findings[1]!.dir).toBe(f.dir);
    const readme = readFileSync(join(f.dir, 'README.txt'), 'utf8');
    expect(readme.match(/^shadowvisor run --mmu native --jit off --max-insns \d+ \S+p2_O2\.elf$/gm)).toHaveLength(2);
    expect(readme).toMatch(/^cut short: vs QEMU: exit status 4 vs 0/m);
    expect(readme).toMatch(/^one more: vs the native interpreter: instructions retired/m);
  }, 180_000);

  it('past --max-findings builds, a finding is counted but its files are not kept', async () => {
    const ref = VARIANTS[0]!;
    const cut: CsmithVariant = { ...ref, name: 'cut short', run: (image, _max, s) => ref.run(image, 10_000, s) };
    const out = join(tempDir('csmith-cap'), 'findings');
    const s = await sweep(options({ opts: ['-O2'], out, maxFindings: 0 }), [ref, cut]);
    if (s === null) return;
    expect(s.findings.map((f) => [f.run, f.dir])).toEqual([['cut short', '']]);
    expect(existsSync(out)).toBe(false);
  }, 180_000);

  it('a build the native interpreter cannot finish within --max-insns is skipped, not compared', async () => {
    const s = await sweep(options({ opts: ['-O2'], maxInsns: 10_000 }));
    if (s === null) return;
    expect([s.builds, s.skipped, s.runs, s.findings.length]).toEqual([1, 1, 0, 0]);
  }, 180_000);
});

describe('runProgram', () => {
  it('gives the child a regular file as stdout even without stdoutFile, and removes it afterwards', async () => {
    // QEMU's stdout is O_NONBLOCK: a full pipe or socket at the guest's last byte loses it (CI saw
    // a final newline go missing); a regular file is never full
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith(`shadowvisor-stdout-${process.pid}-`));
    const r = await runProgram('sh', ['-c', '[ -f /dev/stdout ] && echo regular || echo not-a-file'], 30_000);
    expect(r.stdout.toString()).toBe('regular\n');
    const after = readdirSync(tmpdir()).filter((f) => f.startsWith(`shadowvisor-stdout-${process.pid}-`));
    expect(after).toEqual(before);
  });

  it('reads the whole output back from the file, though this thread was busy while it was written', async () => {
    const file = join(tempDir('stdout-file'), 'out');
    const run = runProgram(process.execPath, ['-e', "process.stdout.write('x'.repeat(200000) + 'end')"], 30_000, { stdoutFile: file });
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // the event loop is held, as bench csmith's own runs hold it while QEMU runs
    }
    const r = await run;
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBe(200_003);
    expect(r.stdout.subarray(-3).toString()).toBe('end');
    expect(readFileSync(file).length).toBe(200_003);
  });
});

describe('serialText', () => {
  it('keeps short output whole, and past 64 KiB its length and a hash of all of it', () => {
    expect(serialText([104, 105])).toBe('hi');
    const long = new Uint8Array(70_000).fill(65);
    const a = serialText(long);
    expect(a.startsWith('A'.repeat(1 << 16))).toBe(true);
    expect(a).toMatch(/\.\.\.\(70000 bytes, FNV-1a [0-9a-f]{8}\)$/);
    const late = long.slice();
    late[69_999] = 66; // a difference after the first 64 KiB, same length
    expect(serialText(late)).not.toBe(a);
    const outcome = (serial: string): RunOutcome => ({ status: 0, reason: 'exit', message: '', serial, instructions: 1, regs: [] });
    expect(compareRuns(outcome(a), outcome(serialText(late)))).toMatch(/^serial differs past its first 64 KiB: 70000 bytes, FNV-1a [0-9a-f]{8} vs 70000 bytes, FNV-1a [0-9a-f]{8}$/);
    expect(compareRuns(outcome(a), outcome(serialText(long.subarray(0, 69_999))))).toMatch(/69999 bytes/);
  });
});
