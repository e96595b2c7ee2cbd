// The headline surfaces as users run them: `npm start` (the demo), `bench swap` with a report,
// Ctrl-C leaving a valid partial report (and a marked table and JSON), bad options refused before
// the first cell, `bench merge` over shard files (the README's shard loop), and `bench scale`.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, expectBadInput, spawnCli, tempDir, track, until } from './helpers.js';

let dir = '';

beforeAll(() => {
  dir = tempDir('swap');
});

describe('npm start: the demo', () => {
  it('shows notifier mode intact and none mode corrupted, in a closing table on stdout', () => {
    const r = cli(['demo', '--insns', '20000000']);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const notifier = lines.find((l) => /^notifier\s+\d/.test(l))!;
    const none = lines.find((l) => /^none\s+\d/.test(l))!;
    expect(notifier).toMatch(/^notifier\s+3\/3\s+\d+\s+0\s+0\s+0\s/); // all ok, 0 corrupt, 0 crashed, 0 stale
    expect(none).toMatch(/^none\s+0\/3/);
    expect(r.stdout).toMatch(/notifier\s+every page intact/);
    expect(r.stdout).toMatch(/none\s+.*stale accesses/);
    expect(r.stderr).toMatch(/notifier mode/); // progress went to stderr
  });
});

describe('bench swap from the command line', () => {
  const small = ['bench', 'swap', '--vms', '2', '--guest-mem', '6M', '--modes', 'notifier,none', '--overcommit', '1,2', '--insns', '4000000'];

  it('writes a self-contained HTML report', () => {
    const out = join(dir, 'report');
    const r = cli([...small, '--report', out]);
    expect(r.status).toBe(0);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(html).not.toMatch(/partial/i);
    expect(r.stdout).toMatch(/notifier\s+1\s+yes\s+ok/);
  });

  /** Start a sweep, Ctrl-C it once the baseline is done (a grid cell is running), wait for the end. */
  async function interrupted(args: string[]) {
    const child = spawnCli(['bench', 'swap', '--vms', '2', '--guest-mem', '8M', '--insns', '60000000', ...args]);
    const t = track(child);
    try {
      await until(() => /baseline/.test(t.stderr), 120_000, 'the baseline record');
    } finally {
      child.kill('SIGINT');
    }
    const end = await t.done;
    return { status: end.status, stdout: t.stdout, stderr: t.stderr };
  }

  it('Ctrl-C stops the sweep: a valid partial report, and the table says so too', async () => {
    const out = join(dir, 'partial');
    const r = await interrupted(['--report', out]);
    expect(r.status).toBe(130);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/partial/i);
    expect(r.stdout).toMatch(/^\s+0\s+notifier\s+0\.5\s+NO\s+interrupted\s/m);
    expect(r.stdout).toMatch(/\nPARTIAL RESULTS: interrupted \(Ctrl-C\) after 0 of 15 cells/);
  });

  it('Ctrl-C with --json: the last row is the interrupted cell, and merge calls the grid partial', async () => {
    const r = await interrupted(['--json']);
    expect(r.status).toBe(130);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.at(-1).outcome).toBe('interrupted');
    expect(rows.at(-1).completed).toBe(false);
    writeFileSync(join(dir, 'interrupted.jsonl'), r.stdout);
    const m = cli(['bench', 'merge', join(dir, 'interrupted.jsonl'), '--report', join(dir, 'merged-partial')]);
    expect(m.status).toBe(0);
    expect(readFileSync(join(dir, 'merged-partial', 'index.html'), 'utf8')).toMatch(/Partial results/);
  });

  it('--jobs 2 runs cells on worker threads and prints the same rows as a serial run', () => {
    const strip = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((l) => {
          const o = JSON.parse(l);
          for (const k of ['guest_mips', 'wall_seconds', 'guest_speed_ratio']) delete o[k];
          return o;
        });
    const serial = cli([...small, '--json']);
    const parallel = cli([...small, '--json', '--jobs', '2']);
    expect(serial.status).toBe(0);
    expect(parallel.status).toBe(0);
    expect(strip(parallel.stdout)).toEqual(strip(serial.stdout));
    // Each cell's progress record gives the time the cell ran in its worker, the row's wall_seconds
    // (not the moment between the result arriving and being printed: "ok in 0s").
    const walls = parallel.stdout.trim().split('\n').map((l) => JSON.parse(l).wall_seconds as number);
    const records = [...parallel.stderr.matchAll(/cell \d+\/\d+ (?:notifier|none) x[\d.]+: \S+ in ([\d.]+)s /g)].map((m) => Number(m[1]));
    expect(records).toHaveLength(walls.length);
    for (const w of walls) expect(w).toBeGreaterThan(0);
    // The record shows the cell's seconds to 0.1, the row to 0.001: 2.0501 s prints as 2.1 beside a
    // row's 2.05 (which toFixed(1) makes 2.0), so compare within half a tenth.
    const byValue = (a: number, b: number) => a - b;
    const rs = records.slice().sort(byValue);
    walls.slice().sort(byValue).forEach((w, i) => expect(Math.abs(rs[i]! - w)).toBeLessThanOrEqual(0.0501));
  });

  /** The README's shard loop, run once: its test checks the loop, the next one merges its files. */
  let shardLoop: { r: SpawnSyncReturns<string>; cwd: string } | null = null;
  function readmeShardLoop() {
    if (shardLoop !== null) return shardLoop;
    // README: for i in 1 2 3 4; do npx shadowvisor bench swap --shard $i/4 --json > s$i.jsonl; done
    //         npx shadowvisor bench merge s*.jsonl --report out/
    const flags = small.slice(2).join(' ');
    const sh = `for i in 1 2 3 4; do "${process.execPath}" "${BIN}" bench swap ${flags} --shard $i/4 --json > s$i.jsonl || exit 1; done; ` +
      `"${process.execPath}" "${BIN}" bench merge s*.jsonl --report out/ --json`;
    const cwd = tempDir('shards');
    shardLoop = { r: spawnSync('bash', ['-c', sh], { cwd, encoding: 'utf8', timeout: 120_000 }), cwd };
    return shardLoop;
  }

  it("the README's shard loop produces every shard, and merge puts the whole grid back with no warning", () => {
    const { r } = readmeShardLoop();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).cell)).toEqual([0, 1, 2, 3]);
  });

  it('bench merge combines shard outputs, given in any order, into the same table', () => {
    const { r, cwd } = readmeShardLoop();
    expect(r.status, r.stderr).toBe(0); // every shard ran
    const m = cli(['bench', 'merge', ...[4, 2, 1, 3].map((i) => join(cwd, `s${i}.jsonl`)), '--json']);
    expect(m.status).toBe(0);
    const cells = m.stdout.trim().split('\n').map((l) => JSON.parse(l).cell);
    expect(cells).toEqual([0, 1, 2, 3]);
  });
});

describe('bench swap refuses bad options before the first cell', () => {
  const quick = ['bench', 'swap', '--modes', 'notifier', '--insns', '1000'];
  it('malformed image, impossible sizes, a command line over the Multiboot limit, an unusable --report', () => {
    const garbage = join(dir, 'garbage.elf');
    writeFileSync(garbage, Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) & 0xff));
    const cases: [string[], RegExp][] = [
      [['--image', garbage], /garbage\.elf: no Multiboot header/],
      [['--image', join(dir, 'nope.elf')], /cannot read image '.*nope\.elf': no such file/],
      [['--image', '/dev/zero'], /image '\/dev\/zero' is larger than 256M/],
      [['--vms', '1', '--guest-mem', '4M', '--overcommit', '1000'], /cell 0 \(notifier x1000\): host RAM of 4096 bytes is too small/],
      [['--host-mem', '64K', '--vms', '64'], /--host-mem 64K shared by 64 VMs at ratio 0\.5 leaves less than the 4M per VM/],
      [['--swap', '4K', '--overcommit', '3'], /3 x 16M of guest RAM cannot fit 16M of host RAM \+ 4K of swap/],
      [['--image', 'guest-images/memhog.elf', '--cmdline', 'x'.repeat(5000)], /--cmdline: longer than \d+ bytes \(the Multiboot limit/],
      [['--report', '/proc/shadowvisor-report'], /--report: cannot use '\/proc\/shadowvisor-report' as a directory/],
      [['--report', join(garbage, 'sub')], /--report: cannot use .* \(ENOTDIR\)/],
      [['--vms', '-1'], /--vms: expected a non-negative integer, got '-1'/],
      [['--guest-mem', '3G'], /--guest-mem: 3G is out of range/],
    ];
    for (const [args, pattern] of cases) {
      const r = cli([...quick, ...args], { timeout: 20_000 });
      expectBadInput(r, pattern);
      expect(r.stderr).toMatch(/^shadowvisor: bench swap: /);
    }
  });

  it('sizes read as everywhere else: --guest-mem 4MiB runs', () => {
    const r = cli([...quick, '--vms', '1', '--guest-mem', '4MiB', '--overcommit', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).guest_mem_mib).toBe(4);
  });
});

describe('pages under an unusable directory', () => {
  it('trace --html, web --out and bench merge --report under /proc: one line, no hang', () => {
    for (const args of [
      ['trace', 'guest-images/hello.elf', '--html', '/proc/x'],
      ['web', '--out', '/proc/x/y'],
      ['bench', 'merge', '-', '--report', '/proc/x'],
    ]) {
      const r = cli(args, { timeout: 20_000, input: '' });
      expect(r.signal, args.join(' ')).toBe(null); // not killed by the timeout
      expectBadInput(r, /cannot use '\/proc\/x(\/y)?' as a directory \(ENOENT\)/);
    }
  });
});

describe('bench scale', () => {
  it("a step's RSS does not depend on the steps before it (each runs in a fresh process)", () => {
    const alone = cli(['bench', 'scale', '--sizes', '16', '--vms', '4', '--json']);
    const after = cli(['bench', 'scale', '--sizes', '32,16', '--vms', '4', '--json']);
    expect(alone.status).toBe(0);
    expect(after.status).toBe(0);
    const a = JSON.parse(alone.stdout.trim());
    const rows = after.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.guest_mib)).toEqual([32, 16]);
    for (const r of [a, ...rows]) expect(r.rss_mib).toBeGreaterThan(0);
    // In one process the 16 MiB step after the 32 MiB one read about half its RSS (memory the
    // first step freed went back to the system during the second).
    expect(Math.abs(rows[1].rss_mib - a.rss_mib)).toBeLessThanOrEqual(Math.max(4, a.rss_mib * 0.25));
  });
});
