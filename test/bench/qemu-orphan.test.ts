// QEMU dies with the process that started it (bench/qemu.ts qemuCommand): a sweep killed by PID
// (SIGKILL here, which no handler can catch) must not leave qemu-system-i386 running. The child
// is a small bundled script that starts QEMU on a guest that spins forever, through runOnQemu
// as the parity tests and the benches do; the test kills the child and watches QEMU go.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { qemuAvailable } from '../../bench/qemu.js';
import { buildElf } from '../../src/sim/fuzz/elf-image.js';
import { ROOT, until } from '../cli/helpers.js';

const haveQemu = qemuAvailable();
const inCi = Boolean(process.env.CI);
if (!haveQemu && !inCi) console.warn('\n[qemu orphan] qemu-system-i386 not found: SKIPPING (in CI it fails instead)\n');

const dir = mkdtempSync(join(tmpdir(), 'sv-orphan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** PIDs of processes whose command line names `marker`. */
function pids(marker: string): number[] {
  const r = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l !== '').map(Number);
}

describe.skipIf(!haveQemu && !inCi)('QEMU started by a bench or a test', () => {
  it('is killed when the process that started it is killed', async () => {
    expect(haveQemu, 'qemu-system-i386 is required under CI=true (Debian package qemu-system-x86)').toBe(true);
    // jmp $ at the entry: QEMU runs it until someone kills QEMU
    const image = join(dir, `spin-${process.pid}.elf`);
    writeFileSync(image, buildElf({ segments: [{ paddr: 0x100000, data: new Uint8Array([0xeb, 0xfe]) }], entry: 0x100000 }));
    const script = join(dir, 'start-qemu.mjs');
    await build({
      stdin: {
        contents: `import { runOnQemu } from ${JSON.stringify(join(ROOT, 'bench/qemu.ts'))};\nrunOnQemu(${JSON.stringify(image)}, 600000);\nprocess.stdout.write('started\\n');\n`,
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
    });
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await until(() => pids(image).some((p) => p !== child.pid), 20_000, 'QEMU to start');
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      await until(() => pids(image).length === 0, 10_000, 'QEMU to exit once its parent was killed');
    } finally {
      child.kill('SIGKILL');
      for (const p of pids(image)) process.kill(p, 'SIGKILL');
    }
  }, 60_000);
});
