// The `--stats` report of a run: a table for people or one JSON object for programs, always on
// stderr (stdout carries only the guest's console).

import type { RunResult } from '../machine/run-loop.js';
import { VTIME_HZ } from '../machine/virtual-clock.js';

const VECTOR_NAMES: Record<number, string> = { 0: '#DE', 1: '#DB', 3: '#BP', 6: '#UD', 8: '#DF', 13: '#GP', 14: '#PF' };

export interface RunStats {
  instructions: number;
  seconds: number;
  mips: number;
  vtime: number;
  haltedTicks: number;
  tlbHits: number;
  tlbMisses: number;
  /** Exceptions delivered to the guest, by vector (only non-zero ones). */
  exceptions: Record<string, number>;
  exitCode: number;
  reason: string;
}

export interface CpuStatsSource {
  haltedTicks: number;
  stats: { exceptions: Float64Array; tlbHits: number; tlbMisses: number };
}

export function collectStats(cpu: CpuStatsSource, r: RunResult, seconds: number): RunStats {
  const exceptions: Record<string, number> = {};
  cpu.stats.exceptions.forEach((n, v) => {
    if (n > 0) exceptions[String(v)] = n;
  });
  return {
    instructions: r.instructions,
    seconds,
    mips: seconds > 0 ? r.instructions / seconds / 1e6 : 0,
    vtime: r.vtime,
    haltedTicks: cpu.haltedTicks,
    tlbHits: cpu.stats.tlbHits,
    tlbMisses: cpu.stats.tlbMisses,
    exceptions,
    exitCode: r.exitCode,
    reason: r.reason,
  };
}

const int = (n: number): string => n.toLocaleString('en-US');

export function formatStatsTable(s: RunStats): string {
  const exc = Object.entries(s.exceptions)
    .map(([v, n]) => `${VECTOR_NAMES[Number(v)] ?? `vector ${v}`}(${v}) ${int(n)}`)
    .join(', ');
  const rows: [string, string][] = [
    ['instructions retired', int(s.instructions)],
    ['wall seconds', s.seconds.toFixed(3)],
    ['MIPS', s.mips.toFixed(1)],
    ['virtual time', `${int(s.vtime)} ticks (${((s.vtime / VTIME_HZ) * 1000).toFixed(3)} ms at 100 MHz)`],
    ['halted ticks', int(s.haltedTicks)],
    ['TLB hits', int(s.tlbHits)],
    ['TLB misses', int(s.tlbMisses)],
    ['exceptions', exc === '' ? 'none' : exc],
    ['exit', `${s.exitCode} (${s.reason})`],
  ];
  return rows.map(([k, v]) => `${k.padEnd(22)}${v}\n`).join('');
}
