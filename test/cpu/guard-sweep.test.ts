// scripts/guard-sweep.mjs, the sweep that disables each guarded fault of the CPU, or each check of
// the invariant checkers, in turn (README): its --list finds the guards it would disable, so a
// change of style that hid them from its pattern shows here. (The sweep itself takes hours; it
// is not run by npm test.)

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/helpers.js';

const sweep = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'scripts/guard-sweep.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });

/** The guards `--list` names (one line each), checked against its closing count. */
function listed(...args: string[]): string[] {
  const r = sweep(...args, '--list');
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  const n = Number(/^(\d+) guards$/.exec(lines.pop()!)?.[1]);
  expect(lines.length).toBe(n);
  return lines;
}

describe('guard sweep', () => {
  it('--list names every one-line guarded raise in src/cpu, with its file and line', () => {
    const lines = listed();
    expect(lines.length).toBeGreaterThanOrEqual(50);
    for (const l of lines) expect(l).toMatch(/^src\/cpu\/[a-z0-9-]+\.ts:\d+ if \(.*\) (c|this)\.raise\(/);
    expect(lines.some((l) => l.includes('c.raise(10, err)'))).toBe(true); // checkTssStackSeg
    expect(lines.some((l) => /CR4_TSD/.test(l))).toBe(true);
  });

  it('--kind check --list names every one-line fail() of the invariant checkers; an unknown kind is one line, status 2', () => {
    const lines = listed('--kind', 'check');
    expect(lines.length).toBeGreaterThanOrEqual(45);
    for (const l of lines) expect(l).toMatch(/^src\/(hv\/check|hv\/tdp\/tdp-check|host\/invariants)\.ts:\d+ if \(.*\) fail\(/);
    for (const file of ['hv/check', 'hv/tdp/tdp-check', 'host/invariants']) expect(lines.some((l) => l.startsWith(`src/${file}.ts:`))).toBe(true);
    const bad = sweep('--kind', 'nope', '--list');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("guard-sweep: --kind is raise or check, not 'nope'\n");
  });
});
