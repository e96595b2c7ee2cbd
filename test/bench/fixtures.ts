// Fabricated swap benchmark rows for the report, table and merge tests: the story the issue
// expects (notifier completes, pin stalls or OOMs above ratio 1, none corrupts above 1).

import { ZERO_COUNTERS, buildGrid, type MemoryMode, type SwapRow } from '../../bench/swap-rows.js';

export function fakeRow(over: Partial<SwapRow> & { cell: number; mode: MemoryMode; overcommit: number }): SwapRow {
  return {
    bench: 'swap',
    vms: 3,
    guest_mem_mib: 16,
    host_mem_mib: Math.round((3 * 16) / over.overcommit),
    swap_mib: 64,
    ksm: false,
    fork_every: 0,
    dontneed_every: 0,
    insns: 1_000_000,
    seed: 1,
    completed: true,
    outcome: 'ok',
    guest_speed_ratio: 1,
    guest_mips: 20.5,
    wall_seconds: 0.25,
    ...ZERO_COUNTERS,
    verified_pages: 12288,
    ...over,
  };
}

export const RATIOS = [0.5, 1, 1.5, 2, 3];

/** The full 3 x 5 grid with plausible figures. */
export function storyRows(): SwapRow[] {
  return buildGrid(['notifier', 'pin', 'none'], RATIOS).map((c) => {
    const over = c.overcommit > 1;
    const base = { cell: c.index, mode: c.mode, overcommit: c.overcommit };
    if (c.mode === 'notifier') {
      const swaps = over ? Math.round(4000 * (c.overcommit - 1)) : 0;
      return fakeRow({
        ...base,
        guest_speed_ratio: over ? 1 / (1 + (c.overcommit - 1) * 0.8) : 1,
        swap_outs: swaps,
        swap_ins: Math.round(swaps * 0.9),
        invalidations: swaps + 10,
        sptes_zapped: swaps * 2,
        remote_tlb_flushes: swaps,
        fault_retries: Math.round(swaps / 50),
      });
    }
    if (c.mode === 'pin') {
      return over
        ? fakeRow({ ...base, completed: false, outcome: c.overcommit >= 2 ? 'oom-killed' : 'stalled', guest_speed_ratio: 0, pinned_reclaim_failures: 150000, oom_kills: c.overcommit >= 2 ? 1 : 0 })
        : fakeRow(base);
    }
    return over
      ? fakeRow({ ...base, completed: false, outcome: 'corrupt', guest_speed_ratio: 0.9, swap_outs: 3000, swap_ins: 2500, stale_accesses: 2_500_000, corrupt_pages: 7 })
      : fakeRow(base);
  });
}

export function toJsonLines(rows: SwapRow[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}
