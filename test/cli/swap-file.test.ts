// `--swap-file PATH` holds guest memory, secrets included: it never clobbers a file that is not
// ours (and never the image being run), is 0600 while it exists, is gone when the run ends however
// it ends, and a device that fails ends the VM with "swap device I/O error" (exit 135), not an
// OOM kill. And it is a real swap device: a run swapping through it sees what an in-memory one does.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SWAP_FILE_MAGIC } from '../../src/cli/swap-file.js';
import { BIN, ROOT, cli, expectBadInput, expectOneLine, spawnCli, tempDir, track, until } from './helpers.js';

let dir = '';
let memhog = '';
/** memhog swapping hard: 12 MiB of working set on 4 MiB of host RAM. */
const SWAPPING = ['--mem', '16M', '--host-mem', '4M', '--cmdline', 'mib=12 iters=300'];
/** The same, running long enough to be caught mid-run. */
const LONG = ['--mem', '16M', '--host-mem', '4M', '--cmdline', 'mib=12 iters=100000000 report=1'];

beforeAll(() => {
  dir = tempDir('swapfile');
  memhog = join(dir, 'memhog.elf');
  copyFileSync(join(ROOT, 'guest-images', 'memhog.elf'), memhog);
});

const stripTimes = (json: string): Record<string, unknown> => {
  const o = JSON.parse(json.trimEnd().split('\n').pop()!);
  delete o.seconds;
  delete o.mips;
  return o;
};

describe('--swap-file is a swap device', () => {
  it('a run swapping through the file gives the output and counters of the in-memory device, and the file is gone after', () => {
    const path = join(dir, 'swap1');
    const mem = cli(['run', ...SWAPPING, '--stats', '--json', memhog]);
    const file = cli(['run', ...SWAPPING, '--stats', '--json', '--swap-file', path, memhog]);
    expect(mem.status).toBe(0);
    expect(file.status, file.stderr).toBe(0);
    expect(file.stdout).toBe(mem.stdout);
    expect(file.stdout).toMatch(/corrupt=0/);
    const [a, b] = [stripTimes(mem.stderr), stripTimes(file.stderr)];
    expect(b).toEqual(a);
    expect((a.host as { swapOuts: number; swapIns: number }).swapIns).toBeGreaterThan(100);
    expect(existsSync(path)).toBe(false);
  });
});

describe('--swap-file never clobbers the user\'s files', () => {
  it('refuses the guest image being run, even with --swap-file-overwrite, and leaves it intact', () => {
    const before = readFileSync(memhog);
    for (const extra of [[], ['--swap-file-overwrite']]) {
      expectBadInput(cli(['run', ...SWAPPING, ...extra, '--swap-file', memhog, memhog]), /--swap-file: '.*memhog\.elf' is the guest image being run; refusing to overwrite it/);
      expect(readFileSync(memhog).equals(before)).toBe(true);
    }
    // The same file under another name (a hard link would be too; a relative path is enough here).
    expectBadInput(cli(['run', ...SWAPPING, '--swap-file', 'memhog.elf', memhog], { cwd: dir }), /is the guest image being run/);
    expect(readFileSync(memhog).equals(before)).toBe(true);
  });

  it('refuses the --input file', () => {
    const input = join(dir, 'input.txt');
    writeFileSync(input, 'keep me');
    expectBadInput(cli(['run', '--input', input, '--swap-file', input, '--swap-file-overwrite', memhog]), /is the --input file/);
    expect(readFileSync(input, 'utf8')).toBe('keep me');
  });

  it('refuses an existing file that is not one of ours unless --swap-file-overwrite; then replaces and removes it', () => {
    const path = join(dir, 'precious.txt');
    writeFileSync(path, 'my thesis');
    expectBadInput(cli(['run', ...SWAPPING, '--swap-file', path, memhog]), /'.*precious\.txt' exists and is not a shadowvisor swap file \(--swap-file-overwrite replaces it\)/);
    expect(readFileSync(path, 'utf8')).toBe('my thesis');
    const r = cli(['run', ...SWAPPING, '--swap-file', path, '--swap-file-overwrite', memhog]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a swap file a killed run left behind (it carries our header)', async () => {
    const path = join(dir, 'left-behind');
    const child = spawnCli(['run', ...LONG, '--swap-file', path, memhog]);
    const t = track(child);
    try {
      await until(() => t.stdout.split('\n').length > 20, 60_000, 'memhog progress');
    } finally {
      child.kill('SIGKILL'); // nothing can clean up after SIGKILL
    }
    await t.done;
    expect(readFileSync(path).subarray(0, SWAP_FILE_MAGIC.length).toString()).toBe(SWAP_FILE_MAGIC);
    const r = cli(['run', ...SWAPPING, '--swap-file', path, memhog]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses what cannot be a swap file before the VM starts: no directory, a read-only place, not a regular file', () => {
    expectBadInput(cli(['run', ...SWAPPING, '--swap-file', join(dir, 'no', 'such', 'dir'), memhog]), /--swap-file: cannot create '.*': ENOENT/);
    expectBadInput(cli(['run', ...SWAPPING, '--swap-file', '/proc/shadowvisor-swap', memhog]), /--swap-file: cannot create '\/proc\/shadowvisor-swap'/);
    expectBadInput(cli(['run', ...SWAPPING, '--swap-file', '/dev/null', '--swap-file-overwrite', memhog]), /'\/dev\/null' exists and is not a regular file/);
    expectBadInput(cli(['run', ...SWAPPING, '--swap-file', dir, memhog]), /exists and is not a regular file/);
    expectBadInput(cli(['run', '--swap-file-overwrite', memhog]), /--swap-file-overwrite needs --swap-file/);
  });
});

describe('--swap-file while the VM runs and after', () => {
  it('is 0600 with our header while the VM runs, and removed on SIGINT (130) and SIGTERM (143)', async () => {
    for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const path = join(dir, `live-${sig}`);
      const child = spawnCli(['run', ...LONG, '--swap-file', path, memhog]);
      const t = track(child);
      try {
        await until(() => t.stdout.split('\n').length > 20, 60_000, 'memhog progress');
        const st = statSync(path);
        expect(st.mode & 0o777).toBe(0o600);
        expect(st.size).toBeGreaterThan(4096); // pages were swapped out to it
        expect(readFileSync(path).subarray(0, SWAP_FILE_MAGIC.length).toString()).toBe(SWAP_FILE_MAGIC);
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      }
      child.kill(sig);
      const end = await t.done;
      expect(end.status, t.stderr).toBe(status);
      expect(existsSync(path)).toBe(false);
    }
  });

  it('is removed when the run ends in an error (budget exhausted, exit 4)', () => {
    const path = join(dir, 'budget');
    const r = cli(['run', ...SWAPPING, '--max-insns', '5000000', '--swap-file', path, memhog]);
    expect(r.status).toBe(4);
    expect(existsSync(path)).toBe(false);
  });
});

describe('a failing swap device', () => {
  // A file size limit (ulimit -f, in KiB) makes writes past 64 KiB of the file fail with EFBIG,
  // as a full disk fails them with ENOSPC: the VM ends with its own status, not an OOM kill.
  it('ends the VM with "swap device I/O error", exit 135, stats if asked, the file removed', () => {
    const path = join(dir, 'limited');
    const q = (a: string) => `'${a}'`;
    const args = ['run', ...SWAPPING, '--stats', '--swap-file', path, memhog].map(q).join(' ');
    const r = spawnSync('bash', ['-c', `ulimit -f 64; exec "${process.execPath}" "${BIN}" ${args}`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(135);
    const lines = r.stderr.split('\n');
    expectOneLine(`${lines[0]}\n`, /^shadowvisor: swap device I\/O error: writing slot \d+ of '.*limited' failed \(EFBIG: file too large\)\n$/);
    expect(r.stderr).toMatch(/exit\s+135 \(swap-io-error\)/);
    expect(r.stderr).not.toMatch(/out of memory|killed/i);
    expect(existsSync(path)).toBe(false);
  });
});
