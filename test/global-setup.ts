// Vitest global setup: build dist/shadowvisor.mjs once before any test file runs, so the suites
// that spawn the CLI (test/cli, test/bench) all run the same fresh bundle and none rebuilds it
// while another is using it. It also gives the run one temporary directory (TMPDIR, which the
// test workers and every program they start inherit) and removes it at the end, so the
// directories and files tests make under os.tmpdir() do not pile up in /tmp run after run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'shadowvisor-tests-'));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
