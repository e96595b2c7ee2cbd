// `npm pack` ships a working package: the tarball holds the bundle and the guest images and
// nothing of the sources or tests, and installed globally into an empty prefix, offline and
// without dev dependencies (the bundle carries pino and pino-pretty; nothing is fetched), it gives
// a `shadowvisor` that runs a shipped guest and writes the browser page (which embeds memhog).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let tmp = '';
let tarball = '';
let files: string[] = [];

beforeAll(() => {
  tmp = tempDir('pack');
  // The bundle is fresh (test/global-setup.ts), so pack without running `prepare` again while
  // other suites are using dist/.
  const out = execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8' });
  const info = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(tmp, info[0]!.filename);
  files = info[0]!.files.map((f) => f.path).sort();
});

describe('npm pack', () => {
  it('ships the bundle, every guest image and the README, and no sources or tests', () => {
    expect(files).toContain('dist/shadowvisor.mjs');
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    for (const elf of ['hello.elf', 'memhog.elf', 'memhog-mp.elf', 'cputest.elf', 'cpubench.elf', 'cpubench-short.elf', 'pagetest.elf']) {
      expect(files).toContain(`guest-images/${elf}`);
    }
    for (const f of files) expect(f, f).not.toMatch(/^(src|test|bench|scripts)\/|\.ts$|\.map$/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.dependencies ?? {}).toEqual({}); // nothing for an installer to fetch
  });

  it('installs globally offline without dev dependencies and runs a shipped guest', () => {
    const prefix = join(tmp, 'prefix');
    const install = spawnSync(npm, ['install', '--global', '--prefix', prefix, '--omit=dev', '--offline', '--no-audit', '--no-fund', tarball], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, npm_config_cache: join(tmp, 'npm-cache') }, // an empty cache: nothing to lean on
    });
    expect(install.status, install.stderr).toBe(0);
    const pkgDir = join(prefix, 'lib', 'node_modules', 'shadowvisor');
    expect(existsSync(join(pkgDir, 'node_modules'))).toBe(false); // no runtime dependencies installed
    const bin = join(prefix, 'bin', 'shadowvisor');
    const cwd = tempDir('pack-cwd'); // not the project: nothing from the work tree can help
    const run = spawnSync(bin, ['run', join(pkgDir, 'guest-images', 'hello.elf')], { cwd, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Hello from a shadowvisor guest!\n/);
    expect(run.stderr).toBe('');
    const version = spawnSync(bin, ['--version'], { cwd, encoding: 'utf8' });
    expect(version.stdout).toBe(`shadowvisor ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`);
    const web = spawnSync(bin, ['web', '--out', join(cwd, 'page')], { cwd, encoding: 'utf8', timeout: 60_000 });
    expect(web.status, web.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'page', 'index.html'), 'utf8')).toMatch(/^<!doctype html>/i);
  });
});
