// Bundles the CLI (src/cli/main.ts) and everything it imports into one executable ESM file.
// pino is CommonJS, so the banner gives the bundle a `require` of its own.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const out = 'dist/shadowvisor.mjs';
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __svCreateRequire } from 'node:module';\nconst require = __svCreateRequire(import.meta.url);",
  },
});
chmodSync(out, 0o755);
