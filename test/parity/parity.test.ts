// QEMU parity: every guest image in guest-images/ boots under qemu-system-i386 (the oracle) and
// under `shadowvisor run --mmu native`, once in the interpreter and once with the compiler on
// (`--jit on --jit-hot 40`: blocks compiled after 40 runs, no compile budget, so short images
// run mostly compiled code); the serial bytes must be identical, the exit statuses must agree
// (ours = v & 0xff, QEMU's = (v << 1) | 1), and each image's own PASS line must be there, so two
// equally broken runs cannot pass. Each of the three runs happens once per image (QEMU's is
// shared by both comparisons), all three started together by the first test of the image so
// they overlap on the cores. Without QEMU: fail in CI, skip visibly elsewhere.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuAvailable, qemuGuestExit, runOnQemu, runProgram, type GuestRun } from '../../bench/qemu.js';
import { BIN, ROOT } from '../cli/helpers.js';

const IMAGES_DIR = join(ROOT, 'guest-images');

/** Images too long for the test suite (their short variants are run instead). */
const LONG_IMAGES = new Set(['cpubench.elf', 'intbench.elf']);

/** What each image prints only when its own checks passed (a new image must register here). */
const PASS_MARKERS: Record<string, RegExp> = {
  'hello.elf': /^hello: PASS$/m,
  'cputest.elf': /^cputest: PASS$/m,
  // cpufuzz cannot judge its own hashes: completing is its pass line, QEMU's bytes are the check
  'cpufuzz.elf': /^cpufuzz: done 3072 blocks, hash [0-9a-f]{8}$/m,
  'pagetest.elf': /^pagetest: PASS$/m,
  'cpubench-short.elf': /^cpubench-short: OK checksum=[0-9a-f]{8}$/m,
  'intbench-short.elf': /^intbench-short: OK$/m,
  'pagestress.elf': /^pagestress: PASS$/m,
  'memhog.elf': /^memhog: done verified=[1-9][0-9]* corrupt=0$/m,
  'memhog-mp.elf': /^memhog: done verified=[1-9][0-9]* corrupt=0$/m,
  'smp.elf': /^smp: PASS$/m,
  'gdbdemo.elf': /^gdbdemo: PASS$/m,
};

/** A safety net so a CPU bug that loops forever ends the run (exit status 4) instead of hanging. */
const MAX_INSNS = '2000000000';
const RUN_TIMEOUT_MS = 60_000;

/** The compiler's setting for parity: hot after 40 whole-block runs (the default, 20000, leaves
 *  short images almost entirely in the interpreter). */
const JIT_ARGS = ['--jit', 'on', '--jit-hot', '40', '--log-level', 'info'];

const images = readdirSync(IMAGES_DIR)
  .filter((f) => f.endsWith('.elf') && !LONG_IMAGES.has(f))
  .sort();

const haveQemu = qemuAvailable();
const inCi = Boolean(process.env.CI);

if (!haveQemu && !inCi) {
  console.warn(
    '\n[parity] qemu-system-i386 not found: SKIPPING the QEMU parity tests ' +
      '(install the Debian package qemu-system-x86; in CI these tests fail instead)\n',
  );
}

function serialText(run: GuestRun): string {
  // latin1 maps every byte to one character, so string equality is byte equality and a failure
  // shows a readable diff.
  return run.stdout.toString('latin1');
}

function describeRun(name: string, run: GuestRun): string {
  const tail = run.stdout.toString('latin1').split('\n').slice(-8).join('\n');
  return `${name}: status ${run.status}${run.timedOut ? ' (timed out)' : ''}\n--- serial tail ---\n${tail}\n--- stderr ---\n${run.stderr.slice(0, 2000)}`;
}

/** The regions a `--jit on` run compiled, from its 'jit: compiled regions' log line (stderr);
 *  null when the line is missing. */
function compiledRegions(run: GuestRun): number | null {
  for (const line of run.stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const o = JSON.parse(line) as { msg?: string; regions?: number; wasm?: { regions?: number } };
    // both tiers: JavaScript regions, and WebAssembly ones
    if (o.msg === 'jit: compiled regions') return o.regions === undefined || o.wasm?.regions === undefined ? null : o.regions + o.wasm.regions;
  }
  return null;
}

/** Ours against QEMU's run of the same image: bytes, exit status, the image's own PASS line. */
function expectSameAsQemu(q: GuestRun, ours: GuestRun, marker: RegExp): void {
  expect(ours.timedOut, describeRun('shadowvisor', ours)).toBe(false);
  expect(serialText(ours), describeRun('shadowvisor', ours)).toBe(serialText(q));
  const v = qemuGuestExit(q.status);
  expect(v, describeRun('qemu', q)).not.toBeNull();
  expect(ours.status, describeRun('shadowvisor', ours)).toBe((v as number) & 0xff);
  expect(serialText(ours)).toMatch(marker);
}

/** f's promise, made on the first call; the no-op catch only keeps an early failure from being
 *  an unhandled rejection before the test that awaits it (which still sees it). */
function once(f: () => Promise<GuestRun>): () => Promise<GuestRun> {
  let p: Promise<GuestRun> | undefined;
  return () => {
    if (p === undefined) {
      p = f();
      p.catch(() => {});
    }
    return p;
  };
}

describe('QEMU parity', () => {
  it('has guest images to compare, each with a registered PASS line', () => {
    expect(images.length).toBeGreaterThanOrEqual(4);
    for (const img of images) expect(PASS_MARKERS[img], `no PASS marker registered for ${img}`).toBeDefined();
  });

  if (!haveQemu) {
    if (inCi) {
      it('requires qemu-system-i386 in CI', () => {
        throw new Error(
          'qemu-system-i386 is not installed but CI is set: the parity tests cannot run. ' +
            'Install it (apt-get install -y qemu-system-x86), as .ci/run does.',
        );
      });
    } else {
      it.skip('qemu-system-i386 not installed: parity tests skipped', () => {});
    }
    return;
  }

  for (const img of images) {
    const path = join(IMAGES_DIR, img);
    const marker = PASS_MARKERS[img] ?? /(?!)/; // never matches: the registration test names the image

    describe(img, () => {
      const ourArgs = [BIN, 'run', path, '--mmu', 'native', '--max-insns', MAX_INSNS];
      const qemu = once(() => runOnQemu(path, RUN_TIMEOUT_MS));
      // the interpreter explicitly (the compiler is on by default)
      const interpreted = once(() => runProgram(process.execPath, [...ourArgs, '--jit', 'off'], RUN_TIMEOUT_MS, { cwd: ROOT }));
      const compiled = once(() => runProgram(process.execPath, [...ourArgs, ...JIT_ARGS], RUN_TIMEOUT_MS, { cwd: ROOT }));

      it('passes its own checks on QEMU (the oracle)', async () => {
        void interpreted();
        void compiled();
        const q = await qemu();
        expect(q.timedOut, describeRun('qemu', q)).toBe(false);
        expect(serialText(q), describeRun('qemu', q)).toMatch(marker);
        expect(qemuGuestExit(q.status), describeRun('qemu', q)).toBe(0);
      }, RUN_TIMEOUT_MS + 10_000);

      it('prints the same bytes and exit status under shadowvisor --mmu native (interpreter)', async () => {
        const [q, ours] = await Promise.all([qemu(), interpreted()]);
        expectSameAsQemu(q, ours, marker);
      }, 2 * RUN_TIMEOUT_MS + 10_000);

      it('prints the same bytes and exit status with the compiler on (--jit on --jit-hot 40)', async () => {
        const [q, ours] = await Promise.all([qemu(), compiled()]);
        expectSameAsQemu(q, ours, marker);
        // A run that compiled nothing would only repeat the interpreter's comparison.
        expect(compiledRegions(ours), describeRun('shadowvisor --jit on', ours)).toBeGreaterThan(0);
      }, 2 * RUN_TIMEOUT_MS + 10_000);
    });
  }
});
