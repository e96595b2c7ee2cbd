// The guard sweep (README "Every guarded fault in the CPU, disabled one at a time"): each one-line
// guard in the given sources is turned into `if (false) ...` in a scratch git worktree, the given
// tests run against it, and the guard is reported killed (a test failed) or SURVIVED. Two kinds:
//   raise (the default): `if (COND) c.raise(...)` / `this.raise(...)` in src/cpu, the CPU's faults,
//     against test/cpu and test/parity;
//   check: `if (COND) fail(...)` in the invariant checkers (src/hv/check.ts, src/hv/tdp/tdp-check.ts,
//     src/host/invariants.ts), against test/hv, test/host and test/sim: a check no test sees fail
//     is a check that could be broken unnoticed.
// Not part of `npm test`: 1-3 minutes per guard.
//
//   node scripts/guard-sweep.mjs [--kind raise|check] --list           the guards it would disable
//   node scripts/guard-sweep.mjs [--kind K] [--tests "test/a test/b"] [FILE.ts ...]
//
// A survivor is either an equivalent mutant (another check raises the same fault) or a guard no
// test holds: write the test that fails without it.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const KINDS = {
  raise: {
    guard: /if \((.*)\) (c|this)\.raise\(/,
    disabled: 'if (false) $2.raise(',
    tests: ['test/cpu', 'test/parity'],
    sources: () => readdirSync(join(ROOT, 'src/cpu')).filter((f) => f.endsWith('.ts')).sort().map((f) => `src/cpu/${f}`),
  },
  check: {
    guard: /if \((.*)\) fail\(/,
    disabled: 'if (false) fail(',
    tests: ['test/hv', 'test/host', 'test/sim'],
    sources: () => ['src/hv/check.ts', 'src/hv/tdp/tdp-check.ts', 'src/host/invariants.ts'],
  },
};

const args = process.argv.slice(2);
const list = args.includes('--list');
const valueOf = (flag) => (args.indexOf(flag) >= 0 ? args[args.indexOf(flag) + 1] : undefined);
const kindName = valueOf('--kind') ?? 'raise';
const kind = KINDS[kindName];
if (kind === undefined) {
  process.stderr.write(`guard-sweep: --kind is raise or check, not '${kindName}'\n`);
  process.exit(2);
}
const GUARD = kind.guard;
const tests = valueOf('--tests')?.split(/\s+/).filter(Boolean) ?? kind.tests;
const files = args.filter((a, k) => a.endsWith('.ts') && args[k - 1] !== '--tests');
const sources = files.length > 0 ? files : kind.sources();

/** Every guard: file, 1-based line, text. */
const guards = sources.flatMap((f) =>
  readFileSync(join(ROOT, f), 'utf8')
    .split('\n')
    .flatMap((text, k) => (GUARD.test(text) ? [{ file: f, line: k + 1, text: text.trim() }] : [])),
);

if (list) {
  for (const g of guards) process.stdout.write(`${g.file}:${g.line} ${g.text}\n`);
  process.stdout.write(`${guards.length} guards\n`);
  process.exit(0);
}

const wt = mkdtempSync(join(tmpdir(), 'guard-sweep-'));
execFileSync('git', ['-C', ROOT, 'worktree', 'add', '-q', '--detach', wt, 'HEAD']);
symlinkSync(join(ROOT, 'node_modules'), join(wt, 'node_modules'));
const runTests = () => spawnSync('npx', ['vitest', 'run', ...tests, '--bail', '1'], { cwd: wt, stdio: 'ignore', timeout: 900_000 }).status;
let survived = 0;
// Unmutated, the tests must pass: else every guard would read as killed.
let baseline = false;
try {
  baseline = runTests() === 0;
  for (const g of baseline ? guards : []) {
    const path = join(wt, g.file);
    const before = readFileSync(path, 'utf8');
    const lines = before.split('\n');
    lines[g.line - 1] = lines[g.line - 1].replace(GUARD, kind.disabled);
    writeFileSync(path, lines.join('\n'));
    const t0 = Date.now();
    const status = runTests();
    writeFileSync(path, before);
    // null: the run outlived its 15 minutes (a hang is a kill, but say so)
    const verdict = status === 0 ? 'SURVIVED' : status === null ? 'killed (timed out)' : 'killed';
    if (status === 0) survived++;
    process.stdout.write(`${g.file}:${g.line} ${verdict} ${Math.round((Date.now() - t0) / 1000)}s  ${g.text}\n`);
  }
} finally {
  execFileSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', wt]);
  rmSync(wt, { recursive: true, force: true });
}
if (baseline) process.stdout.write(`${guards.length} guards, ${survived} survived\n`);
else {
  process.stderr.write(`guard-sweep: the tests fail with no guard disabled (npx vitest run ${tests.join(' ')}): nothing to learn\n`);
  process.exitCode = 1;
}
