// Vitest global setup: build dist/shadowvisor.mjs once before any test file runs, so the suites
// that spawn the CLI (test/cli, test/bench) all run the same fresh bundle and none rebuilds it
// while another is using it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
}
