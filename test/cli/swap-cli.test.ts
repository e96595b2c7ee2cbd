// The headline surfaces as users run them: `npm start` (the demo), `bench swap` with a report,
// Ctrl-C leaving a valid partial report, and `bench merge` over shard files.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'dist', 'shadowvisor.mjs');
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
let dir = '';

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'sv-swap-'));
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

  it('Ctrl-C stops the sweep and leaves a valid partial report', async () => {
    const out = join(dir, 'partial');
    const child = spawn(process.execPath, [BIN, 'bench', 'swap', '--vms', '2', '--guest-mem', '8M', '--insns', '60000000', '--report', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Interrupt once the first grid cell is under way (the baseline's record is out).
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (/baseline/.test(stderr)) {
          clearInterval(t);
          child.kill('SIGINT');
          resolve();
        }
      }, 50);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/partial/i);
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
  });

  it('bench merge combines shard outputs into the same table', () => {
    const a = cli([...small, '--shard', '1/2', '--json']);
    const b = cli([...small, '--shard', '2/2', '--json']);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    writeFileSync(join(dir, 'a.jsonl'), a.stdout);
    writeFileSync(join(dir, 'b.jsonl'), b.stdout);
    const m = cli(['bench', 'merge', join(dir, 'b.jsonl'), join(dir, 'a.jsonl'), '--json']);
    expect(m.status).toBe(0);
    const cells = m.stdout.trim().split('\n').map((l) => JSON.parse(l).cell);
    expect(cells).toEqual([0, 1, 2, 3]);
  });
});
