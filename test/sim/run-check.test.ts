// `run --check`: the explorer's per-step checkers behind the run command. A rule switched off
// (--inject) is reported by the invariant checker after the step that broke it, with the
// checker's message and exit status 5; the default --check-every still stops the run (the
// stale-access detector, or the checker a few steps later); without --check the same run goes
// on into corruption; a clean run passes every check.

import { describe, expect, it } from 'vitest';
import { cli, expectBadInput } from '../cli/helpers.js';

const MEMHOG = ['run', 'guest-images/memhog.elf', '--mem', '4M', '--host-mem', '512K', '--cmdline', 'mib=1 iters=30'];

describe('run --check', () => {
  it('reports a broken invariant at the step that broke it', () => {
    const r = cli([...MEMHOG, '--inject', 'no-zap-in-start', '--check', '--check-every', '1']);
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/broken invariant after scheduler step \d+: vm0: invariant 1: spte for gfn \d+ maps frame \d+ but the host PTE maps -1/);
  });

  it('stops the same run at the default interval too, and without --check it runs into corruption', () => {
    const every = cli([...MEMHOG, '--inject', 'no-zap-in-start', '--check']);
    expect(every.status).toBe(5);
    const unchecked = cli([...MEMHOG, '--inject', 'no-zap-in-start']);
    expect(unchecked.status).not.toBe(5);
    expect(unchecked.status).not.toBe(0);
  });

  it('a clean run passes every check at every step', () => {
    const r = cli([...MEMHOG, '--check', '--check-every', '1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('memhog: done verified=');
  });

  it('bad input is one line', () => {
    expectBadInput(cli([...MEMHOG, '--check-every', '4']), /--check-every needs --check/);
    expectBadInput(cli([...MEMHOG, '--inject', 'nope']), /--inject: unknown bug 'nope'/);
    expectBadInput(cli([...MEMHOG, '--check', '--check-every', '0']), /--check-every/);
  });
});
