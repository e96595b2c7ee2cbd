// The swap benchmark's story, asserted on a small grid (issue: "Expected and asserted by tests"):
// notifier mode completes every ratio with zero stale accesses and zero corrupt pages; pin mode
// cannot reclaim pinned guest memory and stalls or OOMs above ratio 1; none mode shows corruption
// above ratio 1 (the detector always, the guests by their own checks or by crashing on recycled
// memory). Also: the same seed gives the same counters, and shards merge back into the grid.

import { describe, expect, it } from 'vitest';
import { main as swapMain } from '../../bench/swap.js';
import { mergeRows } from '../../bench/merge.js';
import { WALL_CLOCK_FIELDS, type SwapRow } from '../../bench/swap-rows.js';

async function run(args: string[]): Promise<{ status: number; rows: SwapRow[]; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await swapMain([...args, '--json'], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  const rows = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SwapRow);
  return { status, rows, stderr };
}

const GRID = ['--vms', '2', '--guest-mem', '8M', '--overcommit', '0.5,1.5,3', '--insns', '12000000', '--seed', '5'];

function deterministic(r: SwapRow): Record<string, unknown> {
  const o: Record<string, unknown> = { ...r };
  for (const k of WALL_CLOCK_FIELDS) delete o[k];
  return o;
}

describe('bench swap: the three modes tell the story', () => {
  it('notifier completes everything; pin fails above 1; none is corrupted above 1', async () => {
    const { status, rows } = await run(GRID);
    expect(status).toBe(0);
    expect(rows).toHaveLength(9);
    const cell = (mode: string, ratio: number): SwapRow => rows.find((r) => r.mode === mode && r.overcommit === ratio)!;
    for (const ratio of [0.5, 1.5, 3]) {
      const n = cell('notifier', ratio);
      expect(n.completed).toBe(true);
      expect(n.stale_accesses).toBe(0);
      expect(n.corrupt_pages).toBe(0);
      expect(n.verified_pages).toBeGreaterThan(0);
      expect(n.pinned_reclaim_failures).toBe(0);
    }
    // Under pressure the notifier path really ran: pages went to swap and came back.
    expect(cell('notifier', 3).swap_outs).toBeGreaterThan(0);
    expect(cell('notifier', 3).swap_ins).toBeGreaterThan(0);
    expect(cell('notifier', 3).invalidations).toBeGreaterThan(0);
    expect(cell('notifier', 3).sptes_zapped).toBeGreaterThan(0);
    // No pressure: every mode is fine.
    for (const mode of ['pin', 'none']) expect(cell(mode, 0.5).completed).toBe(true);
    for (const ratio of [1.5, 3]) {
      const p = cell('pin', ratio);
      expect(p.completed).toBe(false);
      expect(['oom-killed', 'stalled']).toContain(p.outcome);
      expect(p.pinned_reclaim_failures).toBeGreaterThan(0);
      expect(p.stale_accesses).toBe(0);
      const z = cell('none', ratio);
      expect(z.completed).toBe(false);
      expect(z.stale_accesses).toBeGreaterThan(0);
      expect(z.corrupt_pages > 0 || z.outcome === 'crashed').toBe(true);
    }
  });

  it('notifier mode stays intact under KSM, forks, balloon discards and write-protect passes', async () => {
    const { status, rows } = await run([
      '--vms', '2', '--guest-mem', '8M', '--modes', 'notifier', '--overcommit', '1.5,3', '--insns', '12000000',
      '--ksm', '--fork-every', '50', '--dontneed-every', '30', '--mprotect-every', '40', '--seed', '3',
    ]);
    expect(status).toBe(0);
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.completed).toBe(true);
      expect(r.stale_accesses).toBe(0);
      expect(r.corrupt_pages).toBe(0);
      expect(r.verified_pages).toBeGreaterThan(0);
      expect(r.ksm_merges).toBeGreaterThan(0);
      expect(r.cow_breaks).toBeGreaterThan(0);
      expect(r.invalidations).toBeGreaterThan(0);
    }
  });

  it('is deterministic per seed, and shards merge back into the whole grid', async () => {
    const args = ['--vms', '2', '--guest-mem', '6M', '--modes', 'notifier,none', '--overcommit', '1,2', '--insns', '6000000', '--seed', '9'];
    const whole = await run(args);
    const again = await run(args);
    expect(again.rows.map(deterministic)).toEqual(whole.rows.map(deterministic));
    const s1 = await run([...args, '--shard', '1/2']);
    const s2 = await run([...args, '--shard', '2/2']);
    expect(s1.rows.length + s2.rows.length).toBe(whole.rows.length);
    const merged = mergeRows([
      { name: 's2', text: s2.rows.map((r) => JSON.stringify(r)).join('\n') },
      { name: 's1', text: s1.rows.map((r) => JSON.stringify(r)).join('\n') },
    ]);
    expect(merged.map(deterministic)).toEqual(whole.rows.map(deterministic));
  });

  it('refuses bad flags with one line and status 2', async () => {
    for (const bad of [['--modes', 'magic'], ['--overcommit', '0'], ['--shard', '3/2'], ['--guest-mem', '1M'], ['--vms', 'x']]) {
      const { status, stderr } = await run(bad);
      expect(status).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
