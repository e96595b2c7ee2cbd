// `shadowvisor --version`: the package version, put into the bundle by scripts/build.mjs (esbuild
// define) and read from package.json when the CLI runs from sources (tests).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const SHADOWVISOR_VERSION: string;

export function version(): string {
  if (typeof SHADOWVISOR_VERSION === 'string') return SHADOWVISOR_VERSION;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'shadowvisor' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one level up
    }
  }
  return 'unknown';
}
