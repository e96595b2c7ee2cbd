// `shadowvisor bench host`: what the simulated host mm costs. Metadata bytes per frame (struct
// page is 64), fault throughput (demand zero, swap-in), reclaim and KSM scan rates, and the cost
// of one invalidate_range_start with 1 / 100 / 10,000 subscribers, interval tree (5.x
// mmu_interval_notifier) against a plain list of subscribers that each filter the range (4.x).

import { MADV_MERGEABLE, MAP_ANONYMOUS, MAP_PRIVATE, MMU_NOTIFY_CLEAR, PAGE_SIZE, PROT_READ, PROT_WRITE } from '../src/host/constants.js';
import { Host } from '../src/host/host.js';
import type { Mm } from '../src/host/mm.js';
import {
  MmuIntervalNotifier, mmuIntervalNotifierInsert, mmuIntervalSetSeq, MmuNotifier,
  mmuNotifierInvalidateRangeEnd, mmuNotifierInvalidateRangeStart, mmuNotifierRegister,
  type MmuNotifierRange,
} from '../src/host/mmu-notifier.js';

import { parseBenchArgs } from './args.js';
import type { BenchOut } from './index.js';

const HELP = `Usage: shadowvisor bench host [options]

Measures the simulated host memory manager and the mmu_notifier API.

Options:
  --frames N      host frames for the fault/reclaim measurements (default 16384 = 64 MiB)
  --quick         smaller sizes (a few seconds)
  --json          one JSON object per line instead of a table
  -h, --help      show this help
`;

interface Row {
  metric: string;
  value: number;
  unit: string;
  note: string;
}

const RW = PROT_READ | PROT_WRITE;
const PRIV = MAP_PRIVATE | MAP_ANONYMOUS;

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function demandZero(frames: number): Row {
  const h = new Host({ frames, swapPages: 16 });
  const mm = h.createMm();
  const pages = frames - h.wmarkHigh - 8;
  const a = h.mmap(mm, pages * PAGE_SIZE, RW, PRIV);
  const t0 = performance.now();
  for (let i = 0; i < pages; i++) h.putPage(h.gup(mm, a + i * PAGE_SIZE, true));
  const s = seconds(t0);
  return { metric: 'faults_per_sec_demand_zero', value: Math.round(h.stats.zeroFills / s), unit: 'faults/s', note: `${h.stats.zeroFills} faults (gup write)` };
}

/** Pushes every page of [a, a+pages) to swap; returns the seconds reclaim took and pages freed. */
function swapAllOut(h: Host, mm: Mm, a: number, pages: number): { s: number; freed: number } {
  const t0 = performance.now();
  let freed = 0;
  for (let pass = 0; pass < 8 && mm.rss > 0; pass++) freed += h.reclaim(pages);
  return { s: seconds(t0), freed };
}

function swapRows(frames: number): Row[] {
  const h = new Host({ frames, swapPages: frames });
  const mm = h.createMm();
  const pages = Math.floor(frames / 2);
  const a = h.mmap(mm, pages * PAGE_SIZE, RW, PRIV);
  const buf = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < pages; i++) {
    buf.fill(i & 0xff);
    h.accessUser(mm, a + i * PAGE_SIZE, buf, true);
  }
  const out = swapAllOut(h, mm, a, pages);
  const t0 = performance.now();
  for (let i = 0; i < pages; i++) h.putPage(h.gup(mm, a + i * PAGE_SIZE, false));
  const s = seconds(t0);
  let ok = true;
  for (let i = 0; i < pages && ok; i += 97) {
    h.accessUser(mm, a + i * PAGE_SIZE, buf, false);
    ok = buf[0] === (i & 0xff) && buf[PAGE_SIZE - 1] === (i & 0xff);
  }
  if (!ok) throw new Error('bench host: swapped-in bytes differ');
  return [
    { metric: 'reclaim_pages_per_sec', value: Math.round(out.freed / out.s), unit: 'pages/s', note: `${out.freed} pages written to swap and freed` },
    { metric: 'faults_per_sec_swap_in', value: Math.round(h.stats.swapIns / s), unit: 'faults/s', note: `${h.stats.swapIns} swap-ins, bytes verified` },
  ];
}

function ksmRow(frames: number): Row {
  const h = new Host({ frames, swapPages: 16 });
  const mm = h.createMm();
  const pages = Math.floor(frames / 2);
  const a = h.mmap(mm, pages * PAGE_SIZE, RW, PRIV);
  const buf = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < pages; i++) {
    buf.fill(i % 64); // 64 distinct contents: most pages merge
    buf[0] = i % 64;
    h.accessUser(mm, a + i * PAGE_SIZE, buf, true);
  }
  h.madvise(mm, a, pages * PAGE_SIZE, MADV_MERGEABLE);
  const t0 = performance.now();
  h.ksmdStep(3 * pages);
  const s = seconds(t0);
  return {
    metric: 'ksm_pages_scanned_per_sec', value: Math.round(h.stats.ksmPagesScanned / s), unit: 'pages/s',
    note: `${h.stats.ksmPagesScanned} scanned, ${h.stats.ksmMerges} merged into ${h.ksm.pagesShared} KSM pages`,
  };
}

/** Cost of one invalidate_range_start (+ its end) over one page with n subscribers each watching
 *  one distinct page: the itree visits O(log n) nodes; a plain list calls all n subscribers. */
function invalidateRows(n: number, iters: number): Row[] {
  const rows: Row[] = [];
  for (const kind of ['interval_tree', 'plain_list'] as const) {
    const h = new Host({ frames: 8, swapPages: 8 });
    const mm = h.createMm();
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const start = 0x1000_0000 + i * PAGE_SIZE;
      if (kind === 'interval_tree') {
        mmuIntervalNotifierInsert(new MmuIntervalNotifier(), mm, start, PAGE_SIZE, {
          invalidate: (sub, _r, seq) => { hits++; mmuIntervalSetSeq(sub, seq); return true; },
        });
      } else {
        const end = start + PAGE_SIZE;
        mmuNotifierRegister(new MmuNotifier({
          invalidateRangeStart: (_s, r) => { if (r.start < end && start < r.end) hits++; return 0; },
        }), mm);
      }
    }
    const ranges: MmuNotifierRange[] = [];
    for (let k = 0; k < 64; k++) {
      const start = 0x1000_0000 + ((k * 7919) % n) * PAGE_SIZE;
      ranges.push({ mm, start, end: start + PAGE_SIZE, event: MMU_NOTIFY_CLEAR, blockable: true });
    }
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) {
      const r = ranges[i & 63];
      mmuNotifierInvalidateRangeStart(r);
      mmuNotifierInvalidateRangeEnd(r);
    }
    const ns = ((performance.now() - t0) * 1e6) / iters;
    if (hits !== iters) throw new Error(`bench host: ${hits} subscriber hits for ${iters} invalidations`);
    rows.push({ metric: `invalidate_range_start_ns_${kind}_${n}`, value: Math.round(ns), unit: 'ns/call', note: `${n} subscribers, 1-page range, start+end` });
  }
  return rows;
}

export async function main(argv: string[], out: BenchOut): Promise<number> {
  const values = parseBenchArgs('host', argv, { frames: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'boolean' } }, HELP, out);
  if (typeof values === 'number') return values;
  const frames = values.frames !== undefined ? Number(values.frames) : values.quick ? 4096 : 16384;
  if (!Number.isInteger(frames) || frames < 256) {
    out.stderr('bench host: --frames must be an integer >= 256\n');
    return 2;
  }
  const rows: Row[] = [];
  const emit = (r: Row): void => {
    rows.push(r);
    if (values.json) out.stdout(JSON.stringify({ bench: 'host', ...r }) + '\n');
  };
  // Measured from the arrays a host of this size allocates (list heads included), not a constant.
  const sized = new Host({ frames, swapPages: 1 });
  const perFrame = Math.round(sized.bytesPerFrame * 100) / 100;
  const perMapping = Math.round(sized.rmap.bytesPerEntry() * 100) / 100;
  emit({ metric: 'bytes_per_frame', value: perFrame, unit: 'bytes', note: `per-frame metadata arrays of a ${frames}-frame host (Linux struct page: 64)` });
  emit({ metric: 'rmap_bytes_per_mapping', value: perMapping, unit: 'bytes', note: `reverse-map pool entry per mapping (pool starts at one entry per frame, doubles)` });
  emit(demandZero(frames));
  for (const r of swapRows(frames)) emit(r);
  emit(ksmRow(frames));
  const iters = values.quick ? 20_000 : 100_000;
  for (const n of [1, 100, 10_000]) for (const r of invalidateRows(n, n === 10_000 ? iters / 20 : iters)) emit(r);
  if (!values.json) {
    const w = Math.max(...rows.map((r) => r.metric.length));
    const v = Math.max(...rows.map((r) => String(r.value).length));
    out.stdout(`${'metric'.padEnd(w)}  ${'value'.padStart(v)}  unit      note\n`);
    for (const r of rows) out.stdout(`${r.metric.padEnd(w)}  ${String(r.value).padStart(v)}  ${r.unit.padEnd(8)}  ${r.note}\n`);
  }
  return 0;
}
