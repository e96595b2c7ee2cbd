// `shadowvisor explore` as users run it: the catalogue listing, a found-and-shrunk bug with exit
// status 1 and its replay and trace commands, byte-identical replays, a clean sweep with exit
// status 0, and one-line errors for bad input.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, expectBadInput, tempDir } from '../cli/helpers.js';

describe('explore CLI', () => {
  it('--list-bugs --json prints one object per catalogued bug', () => {
    const r = cli(['explore', '--list-bugs', '--json']);
    expect(r.status).toBe(0);
    const bugs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; kind: string; what: string; rule: string });
    expect(bugs.length).toBeGreaterThanOrEqual(11);
    for (const b of bugs) {
      expect(['correctness', 'performance', 'control']).toContain(b.kind);
      expect(b.what.length).toBeGreaterThan(20);
      expect(b.rule.length).toBeGreaterThan(10);
    }
    expect(bugs.filter((b) => b.kind === 'control').map((b) => b.name)).toEqual(['change_pte-outside-start-end-in-place']);
  });

  it('finds, shrinks and prints a replayable schedule; the replay fails identically, byte for byte', () => {
    const r = cli(['explore', '--inject', 'no-retry-check', '--scenario', 'swap-race']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/before: \d+ preemptions?, \d+ context switches, \d+ choice points/);
    const sched = /minimal schedule: (\S+)/.exec(r.stdout)![1]!;
    expect(r.stdout).toContain(`replay: shadowvisor explore --replay ${sched}`);
    expect(r.stdout).toContain(`trace:  shadowvisor trace --schedule ${sched}`);
    const a = cli(['explore', '--replay', sched]);
    const b = cli(['explore', '--schedule', sched]);
    expect(a.status).toBe(1);
    expect(a.stdout).toMatch(/FAILED at step \d+: hv-invariant-1/);
    expect(b.stdout).toBe(a.stdout);
    const t1 = cli(['trace', '--schedule', sched]);
    const t2 = cli(['trace', '--schedule', sched]);
    expect(t1.status).toBe(1);
    expect(t1.stdout).toBe(t2.stdout);
    expect(t1.stdout).toMatch(/-- step \d+: reclaim/);
    expect(t1.stdout).toContain('SPTE_SET');
    expect(t1.stdout).toContain('== failure: hv-invariant-1');
  });

  it('trace --schedule STR --html DIR: the trace page with the schedule, its choice points and steps', () => {
    const sched = 'sv1:swap-race:no-retry-check:a2b';
    const dir = join(tempDir('sv-sched-html-'), 'page');
    const r = cli(['trace', '--schedule', sched, '--html', dir]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAILED at step \d+: hv-invariant-1/);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).toContain('<h2 id="schedule">Schedule</h2>');
    expect(html).toContain(`<code>${sched}</code>`);
    expect(html).toContain('hv-invariant-1: invariant 1: spte for gfn 1');
    expect(html).toContain(`shadowvisor explore --replay ${sched}`);
    // The preempting pick (b: option 1 of 2 at the third choice point) is the reclaim step.
    expect(html).toMatch(/<tr id="step-3"><td>3<\/td><td>reclaim<\/td><td>its own step<\/td><td>#3 pick: option 1 of 2 <b>\(preempts\)<\/b><\/td>/);
    expect(html).toContain('Causal chains'); // the rest is trace --html's page
    expectBadInput(cli(['trace', '--schedule', sched, '--html', dir, '--json']), /--html DIR or --json/);
  });

  it('--image: a guest of its own, found, shrunk, and replayed by the printed command', () => {
    const img = ['--image', 'guest-images/memhog.elf', '--cmdline', 'mib=1 iters=20', '--host-mem', '512K'];
    const r = cli(['explore', ...img, '--inject', 'no-zap-in-start', '--scheduler', 'random', '--runs', '3']);
    expect(r.status).toBe(1);
    const m = /replay: shadowvisor (explore --replay (sv1:image-[0-9a-f]{8}:no-zap-in-start:\S+) (.*))\n/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(m![3]).toBe("--image guest-images/memhog.elf --cmdline 'mib=1 iters=20' --host-mem 512K");
    const again = cli(['explore', '--replay', m![2]!, ...img]);
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/FAILED at step \d+: hv-invariant-/);
    expectBadInput(cli(['explore', '--replay', m![2]!]), /replay it with --image FILE/);
    expectBadInput(cli(['explore', '--replay', m![2]!, ...img.slice(0, 4)]), /recorded for image-[0-9a-f]{8}, but this image and these options are image-/);
    expectBadInput(cli(['explore', '--cmdline', 'x']), /--cmdline needs --image FILE/);
  });

  it('a clean sweep finds nothing and exits 0; --json ends with the summary', () => {
    const r = cli(['explore', '--scenario', 'mprotect-write', '--scheduler', 'random', '--runs', '40', '--json']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.type === 'run')).toHaveLength(40);
    expect(lines[lines.length - 1]).toMatchObject({ type: 'summary', runs: 40, failures: 0 });
  });

  it('the same sweep prints the same stdout, byte for byte; its speed goes to stderr', () => {
    const args = ['explore', '--scenario', 'swap-race', '--scheduler', 'pct', '--runs', '30'];
    const a = cli(args);
    const b = cli(args);
    expect(a.status).toBe(0);
    expect(a.stdout).toBe('swap-race (pct): 30 runs, 0 failing; PCT bound: 50 runs for a depth-3 bug (n=2 actors, k=5 steps)\n');
    expect(b.stdout).toBe(a.stdout);
    expect(a.stderr).toMatch(/explore: swap-race \(pct\): 30 runs in \d+\.\d s, [\d.]+ runs\/s/);
  });

  it('dfs says when it exhausted the space', () => {
    const r = cli(['explore', '--scenario', 'swap-race', '--scheduler', 'dfs', '--seeds', '1..5000']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/schedule space exhausted \(preemption bound 2\)/);
  });

  it('bad input is one line and exit status 2', () => {
    expectBadInput(cli(['explore', '--inject', 'nope']), /unknown bug 'nope'/);
    expectBadInput(cli(['explore', '--seeds', '9..3']), /--seeds: 9\.\.3 is empty/);
    expectBadInput(cli(['explore', '--replay', 'sv1:swap-race:-:aZ']), /unexpected "Z"/);
    expectBadInput(cli(['explore', '--replay', 'sv1:nope:-:-']), /unknown scenario 'nope'/);
    expectBadInput(cli(['explore', '--shard', '3/3']), /need 0 <= i < n/);
    expectBadInput(cli(['explore', '--scheduler', 'dfs', '--jobs', '2']), /--jobs needs/);
  });
});
