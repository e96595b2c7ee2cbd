// The swap benchmark's data: one grid cell per (mode, overcommit ratio), one JSON-lines row per
// cell (SwapRow, snake_case keys), vitest-style `--shard i/n` slicing, the option-list parsers
// and the plain-text table for stdout. No Linux counterpart: the counters mirror /proc/vmstat.

import { MEMORY_MODES, type MemoryMode } from '../src/hv/shadow/page-fault.js';

// The one MemoryMode type and its list, re-exported for the benchmark's modules.
export { MEMORY_MODES, type MemoryMode };

/** One grid cell; `index` is its position in the whole grid and never changes with sharding. */
export interface SwapCell {
  index: number;
  mode: MemoryMode;
  overcommit: number;
}

export interface SwapRow {
  bench: 'swap';
  mode: MemoryMode;
  overcommit: number;
  vms: number;
  guest_mem_mib: number;
  host_mem_mib: number;
  swap_mib: number;
  ksm: boolean;
  fork_every: number;
  dontneed_every: number;
  insns: number;
  seed: number;
  cell: number;
  /** Every VM ran its budget or finished without OOM kill, stall or detected corruption. */
  completed: boolean;
  /** 'ok' | 'oom-killed' | 'stalled' | 'corrupt' | 'stale' | 'efault' | 'interrupted' ... */
  outcome: string;
  /** Guest instructions/s relative to the unpressured run (1.0 = same speed); 0 if not completed. */
  guest_speed_ratio: number;
  guest_mips: number;
  wall_seconds: number;
  swap_outs: number;
  swap_ins: number;
  pinned_reclaim_failures: number;
  ksm_merges: number;
  cow_breaks: number;
  invalidations: number;
  sptes_zapped: number;
  remote_tlb_flushes: number;
  fault_retries: number;
  stale_accesses: number;
  corrupt_pages: number;
  verified_pages: number;
  oom_kills: number;
}

type FieldType = 'number' | 'boolean' | 'string';

/** The schema, in the order rows are written; merge validates every input line against it. */
export const SWAP_ROW_FIELDS: readonly { key: keyof SwapRow; type: FieldType }[] = [
  { key: 'bench', type: 'string' },
  { key: 'mode', type: 'string' },
  { key: 'overcommit', type: 'number' },
  { key: 'vms', type: 'number' },
  { key: 'guest_mem_mib', type: 'number' },
  { key: 'host_mem_mib', type: 'number' },
  { key: 'swap_mib', type: 'number' },
  { key: 'ksm', type: 'boolean' },
  { key: 'fork_every', type: 'number' },
  { key: 'dontneed_every', type: 'number' },
  { key: 'insns', type: 'number' },
  { key: 'seed', type: 'number' },
  { key: 'cell', type: 'number' },
  { key: 'completed', type: 'boolean' },
  { key: 'outcome', type: 'string' },
  { key: 'guest_speed_ratio', type: 'number' },
  { key: 'guest_mips', type: 'number' },
  { key: 'wall_seconds', type: 'number' },
  { key: 'swap_outs', type: 'number' },
  { key: 'swap_ins', type: 'number' },
  { key: 'pinned_reclaim_failures', type: 'number' },
  { key: 'ksm_merges', type: 'number' },
  { key: 'cow_breaks', type: 'number' },
  { key: 'invalidations', type: 'number' },
  { key: 'sptes_zapped', type: 'number' },
  { key: 'remote_tlb_flushes', type: 'number' },
  { key: 'fault_retries', type: 'number' },
  { key: 'stale_accesses', type: 'number' },
  { key: 'corrupt_pages', type: 'number' },
  { key: 'verified_pages', type: 'number' },
  { key: 'oom_kills', type: 'number' },
];

/** Every counter of a row at zero: the row of a cell that did not run, and the base of test fixtures. */
export const ZERO_COUNTERS = {
  swap_outs: 0,
  swap_ins: 0,
  pinned_reclaim_failures: 0,
  ksm_merges: 0,
  cow_breaks: 0,
  invalidations: 0,
  sptes_zapped: 0,
  remote_tlb_flushes: 0,
  fault_retries: 0,
  stale_accesses: 0,
  corrupt_pages: 0,
  verified_pages: 0,
  oom_kills: 0,
} satisfies Partial<SwapRow>;

/** Fields measured with the wall clock: they differ between two runs of the same cell. */
export const WALL_CLOCK_FIELDS: readonly (keyof SwapRow)[] = ['guest_mips', 'wall_seconds', 'guest_speed_ratio'];

/**
 * Checks that `v` (a parsed JSON line) has every SwapRow field with the right type.
 * Returns null when it does, else a short reason ("field 'swap_outs' is missing").
 */
export function swapRowProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.bench !== 'swap') return `not a swap benchmark row (bench is ${JSON.stringify(o.bench) ?? 'missing'})`;
  for (const f of SWAP_ROW_FIELDS) {
    const x = o[f.key];
    if (x === undefined) return `field '${f.key}' is missing`;
    if (typeof x !== f.type || (f.type === 'number' && !Number.isFinite(x))) {
      return `field '${f.key}' should be a ${f.type === 'number' ? 'finite number' : f.type}, got ${JSON.stringify(x)}`;
    }
  }
  if (!(MEMORY_MODES as readonly string[]).includes(o.mode as string)) return `field 'mode' should be one of ${MEMORY_MODES.join(', ')}, got ${JSON.stringify(o.mode)}`;
  if (!Number.isSafeInteger(o.cell) || (o.cell as number) < 0) return `field 'cell' should be a non-negative integer, got ${JSON.stringify(o.cell)}`;
  return null;
}

/** One JSON line (with its newline) in schema order; keys a newer writer added come last, kept. */
export function rowToJson(row: SwapRow): string {
  const o: Record<string, unknown> = {};
  for (const f of SWAP_ROW_FIELDS) o[f.key] = row[f.key];
  for (const [k, x] of Object.entries(row)) if (!(k in o)) o[k] = x;
  return `${JSON.stringify(o)}\n`;
}

/** MemoryMode-major: every ratio of the first mode, then the next mode. index = position. */
export function buildGrid(modes: MemoryMode[], overcommits: number[]): SwapCell[] {
  const cells: SwapCell[] = [];
  for (const mode of modes) for (const overcommit of overcommits) cells.push({ index: cells.length, mode, overcommit });
  return cells;
}

/**
 * The slice of the grid shard i/n runs (vitest and playwright style): cells whose index mod n is
 * i-1. Every cell lands in exactly one of the n shards, and a cell keeps its index, so the merged
 * output of all shards is the same grid whatever n was.
 */
export function shardCells(cells: SwapCell[], shard: { index: number; count: number } | null): SwapCell[] {
  if (shard === null) return cells.slice();
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new Error(`shard ${index}/${count}: expected i/n with 1 <= i <= n`);
  }
  return cells.filter((c) => c.index % count === index - 1);
}

/** "2/4" -> { index: 2, count: 4 }. */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  if (m === null) throw new Error(`--shard: expected i/n such as 2/4, got '${s}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`--shard: the shard count must be at least 1, got '${s}'`);
  if (!Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new Error(`--shard: the shard index must be between 1 and ${count}, got '${s}'`);
  }
  return { index, count };
}

/** "a, b,c" -> ['a', 'b', 'c']; empty items and repeats are errors. */
export function parseList(flag: string, s: string): string[] {
  const items = s.split(',').map((x) => x.trim());
  if (items.some((x) => x === '')) throw new Error(`${flag}: empty item in list '${s}' (expected a comma-separated list)`);
  const seen = new Set<string>();
  for (const x of items) {
    if (seen.has(x)) throw new Error(`${flag}: '${x}' appears twice in '${s}'`);
    seen.add(x);
  }
  return items;
}

export function parseModes(s: string, flag = '--modes'): MemoryMode[] {
  return parseList(flag, s).map((x) => {
    if (!(MEMORY_MODES as readonly string[]).includes(x)) throw new Error(`${flag}: unknown mode '${x}' (expected some of ${MEMORY_MODES.join(',')})`);
    return x as MemoryMode;
  });
}

/** "0.5,1,1.5" -> [0.5, 1, 1.5]: positive numbers, kept in the order given. */
export function parseRatios(s: string, flag = '--overcommit'): number[] {
  const items = parseList(flag, s);
  const out = items.map((x) => {
    const v = /^(\d+(\.\d*)?|\.\d+)$/.test(x) ? Number(x) : Number.NaN;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag}: '${x}' is not a positive number (expected a list such as 0.5,1,2)`);
    return v;
  });
  const seen = new Set<number>();
  for (const v of out) {
    if (seen.has(v)) throw new Error(`${flag}: ratio ${v} appears twice in '${s}'`);
    seen.add(v);
  }
  return out;
}

// ---- the stdout table ----

interface Column {
  head: string;
  /** Left-aligned (text) or right-aligned (numbers). */
  left?: boolean;
  cell(r: SwapRow): string;
}

const int = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));

const COLUMNS: readonly Column[] = [
  { head: 'cell', cell: (r) => String(r.cell) },
  { head: 'mode', left: true, cell: (r) => r.mode },
  { head: 'ratio', cell: (r) => String(r.overcommit) },
  { head: 'done', left: true, cell: (r) => (r.completed ? 'yes' : 'NO') },
  { head: 'outcome', left: true, cell: (r) => r.outcome },
  { head: 'speed', cell: (r) => r.guest_speed_ratio.toFixed(2) },
  { head: 'MIPS', cell: (r) => r.guest_mips.toFixed(1) },
  { head: 'swp-out', cell: (r) => int(r.swap_outs) },
  { head: 'swp-in', cell: (r) => int(r.swap_ins) },
  { head: 'pin-fail', cell: (r) => int(r.pinned_reclaim_failures) },
  { head: 'ksm', cell: (r) => int(r.ksm_merges) },
  { head: 'cow', cell: (r) => int(r.cow_breaks) },
  { head: 'inval', cell: (r) => int(r.invalidations) },
  { head: 'zapped', cell: (r) => int(r.sptes_zapped) },
  { head: 'flush', cell: (r) => int(r.remote_tlb_flushes) },
  { head: 'retry', cell: (r) => int(r.fault_retries) },
  { head: 'stale', cell: (r) => int(r.stale_accesses) },
  { head: 'corrupt', cell: (r) => int(r.corrupt_pages) },
  { head: 'verified', cell: (r) => int(r.verified_pages) },
  { head: 'oom', cell: (r) => int(r.oom_kills) },
];

const LEGEND = `  ratio     overcommit: total guest memory / host RAM
  done      every VM ran its budget with no OOM kill, stall or detected corruption
  speed     guest instructions/s relative to the unpressured run (1.00 = no slowdown; 0 = did not complete)
  MIPS      million guest instructions per wall-clock second
  swp-out   pages written to swap                 swp-in    pages read back from swap
  pin-fail  reclaim attempts refused because the hypervisor held a pin on the page
  ksm       KSM merges                            cow       copy-on-write breaks
  inval     notifier invalidations                zapped    sptes zapped
  flush     remote TLB flushes                    retry     faults retried because an invalidation raced them
  stale     accesses to a freed or replaced frame caught by the detector
  corrupt   pages the guests found with wrong contents
  verified  pages the guests checked              oom       VMs OOM-killed
`;

/** A one-line description of the sweep shared by `rows`, or null when rows disagree on it. */
export function describeSweep(rows: SwapRow[]): string | null {
  const r = rows[0];
  if (r === undefined) return null;
  const same = rows.every(
    (x) =>
      x.vms === r.vms &&
      x.guest_mem_mib === r.guest_mem_mib &&
      x.swap_mib === r.swap_mib &&
      x.ksm === r.ksm &&
      x.fork_every === r.fork_every &&
      x.dontneed_every === r.dontneed_every &&
      x.insns === r.insns &&
      x.seed === r.seed,
  );
  if (!same) return null;
  const events = [r.fork_every > 0 ? `fork every ${r.fork_every}` : '', r.dontneed_every > 0 ? `MADV_DONTNEED every ${r.dontneed_every}` : '']
    .filter((x) => x !== '')
    .join(', ');
  return (
    `${r.vms} VM${r.vms === 1 ? '' : 's'} x ${r.guest_mem_mib} MiB, ${r.swap_mib} MiB swap, KSM ${r.ksm ? 'on' : 'off'}` +
    `${events === '' ? '' : `, ${events}`}, ${r.insns} instructions per VM, seed ${r.seed}`
  );
}

/** Aligned text: a short header explaining the columns, then one line per row (in the given order). */
export function formatTable(rows: SwapRow[]): string {
  const sweep = describeSweep(rows);
  let s = `swap benchmark: ${rows.length} cell${rows.length === 1 ? '' : 's'}${sweep === null ? '' : `; ${sweep}`}\n${LEGEND}\n`;
  const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
  const widths = COLUMNS.map((c, i) => Math.max(c.head.length, ...cells.map((line) => line[i]!.length)));
  const fmt = (items: string[]): string =>
    items
      .map((x, i) => (COLUMNS[i]!.left ? x.padEnd(widths[i]!) : x.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  s += `${fmt(COLUMNS.map((c) => c.head))}\n`;
  for (const line of cells) s += `${fmt(line)}\n`;
  return s;
}
