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
  /** Memory references of the processor's page walks per TLB miss (native and tdp runs). */
  walk?: WalkStats;
}

/** What TLB misses cost the page walker: guest PDE/PTE reads, and under TDP the gpa->hpa entries
 *  read for every guest-physical reference (2-D walk: up to (2+1)*(2+1)-1 = 8 per miss). */
export interface WalkStats {
  misses: number;
  guestRefs: number;
  tdpRefs: number;
  refsPerMiss: number;
  maxRefsPerMiss: number;
  /** TDP only: walks that exited to KVM (EPT violations), and those on a guest table reference. */
  tdpViolations?: number;
  tdpViolationsInWalk?: number;
  /** TDP only: guest CR3 writes and INVLPGs, handled by the processor alone. */
  cr3Writes?: number;
  invlpgs?: number;
}

/** WalkStats from counters (refsPerMiss to 3 decimals). */
export function walkStats(misses: number, guestRefs: number, tdpRefs: number, maxRefsPerMiss: number, extra: Partial<WalkStats> = {}): WalkStats {
  const refsPerMiss = misses > 0 ? Math.round(((guestRefs + tdpRefs) / misses) * 1000) / 1000 : 0;
  return { misses, guestRefs, tdpRefs, refsPerMiss, maxRefsPerMiss, ...extra };
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
  const w = s.walk;
  if (w !== undefined) {
    const tdp = w.tdpViolations === undefined ? '' : `, gpa->hpa ${int(w.tdpRefs)}; EPT violations ${int(w.tdpViolations)} (${int(w.tdpViolationsInWalk ?? 0)} on a guest table)`;
    rows.push(['walk refs per miss', `${w.refsPerMiss} (max ${w.maxRefsPerMiss}; ${int(w.misses)} misses, guest PDE/PTE ${int(w.guestRefs)}${tdp})`]);
  }
  return rows.map(([k, v]) => `${k.padEnd(22)}${v}\n`).join('');
}

/** `--stats` of a shadow-MMU run: the processor's figures (summed over vCPUs), KVM's counters
 *  under their kernel names, and the host mm's. Everything but seconds/mips is deterministic. */
export interface ShadowRunStats extends RunStats {
  vcpus: number;
  mode: string;
  /** The hypervisor's MMU: shadow or tdp. */
  mmu?: string;
  kvm: Record<string, number | Record<string, number>>;
  host: Record<string, number | string>;
  stale: { vcpu: number; gva: number; gfn: number; frame: number; write: boolean }[];
}

export interface ShadowRunSource {
  result: RunResult;
  vm: {
    mode: string;
    mmuKind?: string;
    tdp?: { tdpStats: { misses: number; guestRefs: number; tdpRefs: number; maxRefsPerMiss: number; tdpViolations: number; tdpViolationsInWalk: number; cr3Writes: number; invlpgs: number } } | null;
    vcpus: { cpu: CpuStatsSource }[];
    stats: object;
    staleRecords: { vcpu: number; gva: number; gfn: number; frame: number; write: boolean }[];
  };
  host: { stats: object };
}

export function collectShadowStats(g: ShadowRunSource, seconds: number): ShadowRunStats {
  const cpus = g.vm.vcpus.map((v) => v.cpu);
  const exceptions = new Float64Array(32);
  let tlbHits = 0;
  let tlbMisses = 0;
  let haltedTicks = 0;
  for (const c of cpus) {
    c.stats.exceptions.forEach((n, i) => (exceptions[i] += n));
    tlbHits += c.stats.tlbHits;
    tlbMisses += c.stats.tlbMisses;
    haltedTicks += c.haltedTicks;
  }
  const base = collectStats({ haltedTicks, stats: { exceptions, tlbHits, tlbMisses } }, g.result, seconds);
  const t = g.vm.tdp?.tdpStats;
  if (t !== undefined) {
    base.walk = walkStats(t.misses, t.guestRefs, t.tdpRefs, t.maxRefsPerMiss, {
      tdpViolations: t.tdpViolations,
      tdpViolationsInWalk: t.tdpViolationsInWalk,
      cr3Writes: t.cr3Writes,
      invlpgs: t.invlpgs,
    });
  }
  return {
    ...base,
    vcpus: cpus.length,
    mode: g.vm.mode,
    ...(g.vm.mmuKind === 'tdp' ? { mmu: 'tdp' } : {}),
    kvm: withZapAverage({ ...(g.vm.stats as Record<string, number | Record<string, number>>) }),
    host: { ...(g.host.stats as Record<string, number | string>) },
    stale: g.vm.staleRecords,
  };
}

/** KVM has no such counter; users ask "how many sptes does one invalidation zap", so say it. */
function withZapAverage(kvm: Record<string, number | Record<string, number>>): Record<string, number | Record<string, number>> {
  const n = kvm.invalidations as number;
  const zapped = kvm.sptes_zapped_by_invalidation as number;
  kvm.sptes_zapped_per_invalidation = n > 0 ? Math.round((zapped / n) * 1000) / 1000 : 0;
  return kvm;
}

export function formatShadowStats(s: ShadowRunStats): string {
  let out = formatStatsTable(s);
  out += `${'vCPUs / mode'.padEnd(22)}${s.vcpus} / ${s.mode}${s.mmu === undefined ? '' : ` (--mmu ${s.mmu})`}\n`;
  const group = (title: string, rec: Record<string, unknown>): void => {
    const cells: string[] = [];
    for (const [k, v] of Object.entries(rec)) {
      if (typeof v === 'number') {
        if (v !== 0) cells.push(`${k} ${int(v)}`);
      } else if (typeof v === 'string') {
        if (v !== '') cells.push(`${k}: ${v}`);
      } else if (v !== null && typeof v === 'object') {
        for (const [k2, v2] of Object.entries(v as Record<string, number>)) cells.push(`${k2} ${int(v2)}`);
      }
    }
    out += `${title.padEnd(22)}${cells.length === 0 ? 'none' : cells.join(', ')}\n`;
  };
  const { notifier_calls, ...kvm } = s.kvm as Record<string, unknown>;
  group('kvm', kvm);
  group('notifier calls', (notifier_calls ?? {}) as Record<string, unknown>);
  group('host', s.host);
  for (const st of s.stale) {
    out += `${'stale access'.padEnd(22)}vcpu ${st.vcpu} ${st.write ? 'write' : 'read'} gva 0x${st.gva.toString(16)} gfn ${st.gfn} frame ${st.frame}\n`;
  }
  return out;
}
