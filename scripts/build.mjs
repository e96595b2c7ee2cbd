// Bundles the CLI (src/cli/main.ts) and everything it imports into one executable ESM file.
// pino is CommonJS, so the banner gives the bundle a `require` of its own.
// First the engine is bundled for the browser (src/web/engine-entry.ts, an IIFE; a node: import
// anywhere in it fails this build): `shadowvisor web` embeds that text in its page, and the CLI
// bundle receives it as the constant SHADOWVISOR_WEB_ENGINE (and package.json's version as
// SHADOWVISOR_VERSION, for --version).
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

const web = await build({
  entryPoints: ['src/web/engine-entry.ts'],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  // es2022 keeps class fields native: lowered to defineProperty calls the engine runs 4x slower.
  target: 'es2022',
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
});

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
  define: { SHADOWVISOR_WEB_ENGINE: JSON.stringify(web.outputFiles[0].text), SHADOWVISOR_VERSION: JSON.stringify(version) },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __svCreateRequire } from 'node:module';\nconst require = __svCreateRequire(import.meta.url);",
  },
});
chmodSync(out, 0o755);
