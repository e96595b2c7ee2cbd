// The host benchmark runs, self-checks (swapped-in bytes, subscriber hit counts) and prints
// every metric the issue lists, as JSON lines with --json.

import { expect, test } from 'vitest';
import { main } from '../../bench/host.js';
import { Host } from '../../src/host/host.js';

test('bench host --quick --json prints every metric', async () => {
  let text = '';
  const code = await main(['--quick', '--json', '--frames', '1024'], { stdout: (s) => { text += s; }, stderr: () => {} });
  expect(code).toBe(0);
  const rows = text.trim().split('\n').map((l) => JSON.parse(l) as { metric: string; value: number });
  const names = rows.map((r) => r.metric);
  for (const m of ['bytes_per_frame', 'faults_per_sec_demand_zero', 'faults_per_sec_swap_in', 'reclaim_pages_per_sec',
    'ksm_pages_scanned_per_sec', 'invalidate_range_start_ns_interval_tree_10000', 'invalidate_range_start_ns_plain_list_10000']) {
    expect(names).toContain(m);
  }
  // The figure is measured from the arrays a 1024-frame host allocates (29 bytes + 16 bytes of
  // LRU list heads spread over the frames), not a constant copied into the benchmark.
  const perFrame = rows.find((r) => r.metric === 'bytes_per_frame')!.value;
  expect(perFrame).toBe(Math.round(new Host({ frames: 1024, swapPages: 1 }).ft.metadataBytesPerFrame() * 100) / 100);
  expect(perFrame).toBe(29.02);
  expect(perFrame).toBeLessThanOrEqual(32);
  expect(rows.find((r) => r.metric === 'rmap_bytes_per_mapping')!.value).toBe(12);
  for (const r of rows) expect(r.value).toBeGreaterThan(0);
});

test('bench host rejects bad flags', async () => {
  let err = '';
  expect(await main(['--frames', 'x'], { stdout: () => {}, stderr: (s) => { err += s; } })).toBe(2);
  expect(err).toMatch(/--frames/);
});
