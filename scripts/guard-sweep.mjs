// The guard sweep (README "Every guarded fault in the CPU, disabled one at a time"): each one-line
// guard `if (COND) c.raise(...)` / `this.raise(...)` in the given sources is turned into
// `if (false) ...` in a scratch git worktree, the given tests run against it, and the guard is
// reported killed (a test failed) or SURVIVED. Not part of `npm test`: about 2-3 minutes per guard.
//
//   node scripts/guard-sweep.mjs --list                     the guards it would disable
//   node scripts/guard-sweep.mjs [--tests "test/cpu test/parity"] [src/cpu/*.ts ...]
//
// A survivor is either an equivalent mutant (another check raises the same fault) or a guard no
// test holds: write the test that fails without it.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const GUARD = /if \((.*)\) (c|this)\.raise\(/;

const args = process.argv.slice(2);
const list = args.includes('--list');
const ti = args.indexOf('--tests');
const tests = ti >= 0 ? args[ti + 1].split(/\s+/).filter(Boolean) : ['test/cpu', 'test/parity'];
const files = args.filter((a, k) => a.endsWith('.ts') && args[k - 1] !== '--tests');
const sources = files.length > 0 ? files : readdirSync(join(ROOT, 'src/cpu')).filter((f) => f.endsWith('.ts')).sort().map((f) => `src/cpu/${f}`);

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
    lines[g.line - 1] = lines[g.line - 1].replace(GUARD, 'if (false) $2.raise(');
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
