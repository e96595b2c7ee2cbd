// DESIGN: "the engine imports no node: module and touches no DOM, so the same engine runs in the
// CLI, in tests, in worker threads and in a browser page". Checked for real: the engine is bundled
// for the browser platform (a node: import anywhere in it fails the build), and the bundle boots
// a guest inside a bare JavaScript realm that has no process, Buffer, require or timers (only the
// Web-platform TextEncoder/TextDecoder and performance a page would have).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const ENTRY = `
import { runGuest } from './src/sim/run-guest.ts';
import { runSwapCell } from './src/sim/swap-cell.ts';
import { nullLogger } from './src/obs/log.ts';
globalThis.__engine = { runGuest, runSwapCell, nullLogger };
`;

async function bundle(): Promise<string> {
  const r = await build({
    stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    write: false,
    logLevel: 'silent',
    // No fallbacks: a Node built-in reached from the engine must fail the build.
    external: [],
  });
  return r.outputFiles[0]!.text;
}

describe('the engine runs outside Node', () => {
  it('bundles for the browser with no node: module', async () => {
    const code = await bundle();
    expect(code).not.toMatch(/["']node:/);
    expect(code).not.toMatch(/\brequire\(/);
  });

  it('boots a guest and a swap cell in a realm with no Node globals', async () => {
    const code = await bundle();
    // Only Web-platform globals a browser page or worker also has.
    const realm = createContext({ performance: { now: () => 0 }, TextEncoder, TextDecoder });
    for (const g of ['process', 'Buffer', 'require', 'setTimeout', 'setImmediate']) {
      expect(runInContext(`typeof ${g}`, realm)).toBe('undefined');
    }
    runInContext(code, realm);
    const image = new Uint8Array(readFileSync(`${ROOT}guest-images/hello.elf`));
    const memhog = new Uint8Array(readFileSync(`${ROOT}guest-images/memhog.elf`));
    realm.image = image;
    realm.memhog = memhog;
    const out = runInContext(
      `(() => {
        const bytes = [];
        const e = globalThis.__engine;
        const g = e.runGuest({ image, memBytes: 8 << 20, hostMemBytes: 256 << 10, output: { write: (b) => bytes.push(b) }, log: e.nullLogger, check: true });
        const cell = e.runSwapCell({ image: memhog, cmdline: 'mib=2 iters=0 report=64', vms: 2, guestMemBytes: 4 << 20, hostMemBytes: 4 << 20,
          swapBytes: 8 << 20, mode: 'notifier', ksm: false, forkEvery: 0, dontneedEvery: 0, scratch: { offset: 0, len: 0 },
          insnsPerVm: 3000000, seed: 1, log: e.nullLogger });
        return JSON.stringify({ text: String.fromCharCode(...bytes), exit: g.result.exitCode,
          cell: cell.vms.map((v) => [v.reason, v.corrupt, v.staleAccesses, v.verified]), swapOuts: cell.host.swapOuts });
      })()`,
      realm,
    );
    const r = JSON.parse(out);
    expect(r.text).toContain('hello: PASS');
    expect(r.exit).toBe(0);
    expect(r.cell).toEqual([
      ['budget', 0, 0, expect.any(Number)],
      ['budget', 0, 0, expect.any(Number)],
    ]);
    expect(r.swapOuts).toBeGreaterThan(0);
  });
});
