// `shadowvisor web [--out DIR]`: write DIR/index.html, a self-contained page that runs the real
// engine (bundled for the browser at build time, scripts/build.mjs) in a Web Worker, with the
// memhog guest embedded, so a student can run swap cells in each coherence mode and compare them.

import { preparePageDir, writePage } from './html-file.js';
import { readInputFile } from './input-file.js';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError, parseCommandArgs } from './args.js';
import { writeStderr, writeStdout } from './output.js';
import { guestImagePath } from './paths.js';
import { renderWebPage } from './web-page.js';

/** The browser bundle of src/web/engine-entry.ts, put in by scripts/build.mjs (esbuild define). */
declare const SHADOWVISOR_WEB_ENGINE: string;

export const WEB_HELP = `Usage: shadowvisor web [--out DIR]

Write DIR/index.html (default DIR: ./shadowvisor-web): one self-contained page that runs the
simulator itself in the browser (a Web Worker; inline CSS and script, the memhog guest
embedded, nothing fetched, opens from file://). Pick a coherence mode (notifier, pin, none),
VMs, guest RAM, overcommit, KSM and seed, press Run, and watch swap-outs, stale accesses,
zapped sptes and each VM's state live; runs stay on the page to compare.
A URL hash starts runs on load: index.html#autorun=all (or notifier, pin, none, or trace:
the traced preset, whose timeline, chains and player open on the page), with
&vms=3&mib=16&ratio=2&ksm=1&seed=1&insns=40000000 to set the controls, and &mmu=tdp to
run every cell on the TDP MMU instead of the shadow MMU.

Options:
  --out DIR          where to write index.html (default ./shadowvisor-web)
  -h, --help         show this help
`;

/** The engine bundle, or null when running from sources (the bundle is made by the build). */
export function webEngine(): string | null {
  return typeof SHADOWVISOR_WEB_ENGINE === 'string' ? SHADOWVISOR_WEB_ENGINE : null;
}

export function webCommand(argv: string[]): number {
  const { values, positionals } = parseCommandArgs('web', argv, {
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    writeStdout(WEB_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`web: unexpected argument '${positionals[0]}'`);
  const dir = values.out ?? 'shadowvisor-web';
  if (dir === '') throw new UsageError('web: --out: empty directory name');
  const engine = webEngine();
  if (engine === null) throw new Error("the browser engine is bundled at build time: run 'npm run build' and use dist/shadowvisor.mjs");
  const memhog = readInputFile('image', guestImagePath('memhog.elf')); // before DIR is made
  preparePageDir(dir, 'web: --out');
  const html = renderWebPage({ engine, memhog });
  const path = writePage(dir, html, 'web');
  writeStderr(`shadowvisor web: page written to ${path}\nOpen ${pathToFileURL(resolve(path)).href} in a browser.\n`);
  return 0;
}
