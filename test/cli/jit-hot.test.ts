// `run --jit-hot N`: the compiler's hotness threshold from the command line (with no compile
// budget), which the QEMU parity test uses to run short images mostly compiled. Checked here:
// bad values are one-line usage errors, the flag makes a short image compile where plain
// `--jit on` compiles nothing, and the compile report stays out of --stats (a log line).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, cli, expectBadInput } from './helpers.js';

const HELLO = join(ROOT, 'guest-images', 'hello.elf');

/** The 'jit: compiled regions' log line of a run (stderr, pino JSON), or null; regions, blocks
 *  and instructions summed over the two tiers (JavaScript, and `wasm`). */
function jitReport(stderr: string): { regions: number; blocks: number; insns: number } | null {
  type Tier = { regions: number; blocks: number; insns: number };
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const o = JSON.parse(line) as { msg?: string; wasm: Tier } & Tier;
    if (o.msg === 'jit: compiled regions') {
      return { regions: o.regions + o.wasm.regions, blocks: o.blocks + o.wasm.blocks, insns: o.insns + o.wasm.insns };
    }
  }
  return null;
}

/** The --stats --json object of a run without its wall-clock fields (the contract's exceptions). */
function statsOf(stderr: string): unknown {
  const line = stderr.split('\n').find((l) => l.startsWith('{"instructions"'));
  expect(line, stderr).toBeDefined();
  const s = JSON.parse(line!) as Record<string, unknown>;
  delete s.seconds;
  delete s.mips;
  return s;
}

describe('run --jit-hot', () => {
  it('is in run --help', () => {
    expect(cli(['run', '--help']).stdout).toMatch(/\n {2}--jit-hot N {9}with --jit on/);
  });

  it('refuses bad values and --jit off: one line, exit status 2', () => {
    expectBadInput(cli(['run', '--jit', 'on', '--jit-hot', '0', HELLO]), /^shadowvisor: --jit-hot: expected 1 to \d+, got '0'\n$/);
    expectBadInput(cli(['run', '--jit', 'on', '--jit-hot', '-3', HELLO]), /--jit-hot: expected a non-negative integer, got '-3'/);
    expectBadInput(cli(['run', '--jit', 'on', '--jit-hot', 'many', HELLO]), /--jit-hot: expected a non-negative integer, got 'many'/);
    expectBadInput(cli(['run', '--jit', 'on', '--jit-hot', '2e3', HELLO]), /--jit-hot: expected a non-negative integer/);
    expectBadInput(cli(['run', '--jit', 'off', '--jit-hot', '40', HELLO]), /--jit-hot needs --jit on/);
  });

  it('compiles a short image that plain --jit on leaves to the interpreter; output and --stats unchanged', () => {
    const plain = cli(['run', '--mmu', 'native', '--jit', 'on', '--log-level', 'info', HELLO]);
    const hot = cli(['run', '--mmu', 'native', '--jit', 'on', '--jit-hot', '2', '--log-level', 'info', '--stats', '--json', HELLO]);
    const off = cli(['run', '--mmu', 'native', '--jit', 'off', '--stats', '--json', HELLO]);
    for (const r of [plain, hot, off]) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(off.stdout);
    }
    expect(off.stdout).toMatch(/^hello: PASS$/m);
    expect(jitReport(plain.stderr), plain.stderr).toMatchObject({ regions: 0 });
    const report = jitReport(hot.stderr);
    expect(report, hot.stderr).not.toBeNull();
    expect(report!.regions).toBeGreaterThan(0);
    expect(report!.insns).toBeGreaterThanOrEqual(report!.blocks);
    // the compile report is a log line, never part of the statistics
    expect(statsOf(hot.stderr)).toEqual(statsOf(off.stderr));
    expect(jitReport(off.stderr)).toBeNull();
  });

  it('the compiler is on by default: --jit-hot alone compiles, and its output is the same', () => {
    const dflt = cli(['run', '--mmu', 'native', '--jit-hot', '2', '--log-level', 'info', HELLO]);
    const off = cli(['run', '--mmu', 'native', '--jit', 'off', HELLO]);
    expect(dflt.status, dflt.stderr).toBe(0);
    expect(dflt.stdout).toBe(off.stdout);
    expect(jitReport(dflt.stderr)?.regions, dflt.stderr).toBeGreaterThan(0);
  });

  it('trace and run --check take --jit but say it compiles nothing under the stale-access detector', () => {
    const args = ['trace', '--mmu', 'shadow', '--log-level', 'info', HELLO];
    const on = cli([...args, '--jit', 'on', '--jit-hot', '2']);
    const off = cli(args);
    expect(on.status, on.stderr).toBe(0);
    expect(off.status, off.stderr).toBe(0);
    expect(on.stderr).toMatch(/^shadowvisor: note: --jit on compiles nothing here: .*stale-access detector.*\n/m);
    expect(off.stderr).not.toMatch(/note: --jit/);
    expect(jitReport(on.stderr)?.regions, on.stderr).toBe(0);
    expect(on.stdout.length).toBeGreaterThan(1000);
    expect(on.stdout).toBe(off.stdout);
    const check = cli(['run', '--check', '--jit', 'on', '--jit-hot', '2', '--log-level', 'info', HELLO]);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stderr).toMatch(/note: --jit on compiles nothing here/);
    expect(jitReport(check.stderr)?.regions, check.stderr).toBe(0);
  });
});
