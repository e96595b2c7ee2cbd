// One swap-reliability cell as the web page runs it: the page's few knobs (mode, VMs, guest MiB,
// overcommit, KSM, seed, budget) become a SwapCellSpec for memhog, and SwapCellRun is advanced in
// fixed chunks of scheduler steps, sampling the live figures after each one. No host events (fork,
// DONTNEED) are scheduled, so reading outcome() between chunks changes nothing in the run.

import type { MemoryMode } from '../hv/shadow/page-fault.js';
import { nullLogger } from '../obs/log.js';
import { classifyOutcome, SwapCellRun, verdictOf, type SwapCellOutcome, type SwapCellSpec } from '../sim/swap-cell.js';

export { classifyOutcome, verdictOf };

const MIB = 1024 * 1024;
/** memhog's area starts above its image and page tables (GUEST-ABI: flat layout from 2 MiB). */
const MEMHOG_BASE = 2 * MIB;

export const WEB_MODES: readonly MemoryMode[] = ['notifier', 'pin', 'none'];

export interface WebCellParams {
  mode: MemoryMode;
  /** 1 to 4 VMs. */
  vms: number;
  /** Guest RAM of each VM, in MiB (4 to 64). */
  guestMib: number;
  /** Total guest RAM / host RAM. */
  overcommit: number;
  ksm: boolean;
  seed: number;
  /** Guest instructions each VM runs before it counts as done. */
  insnsPerVm: number;
  /** The hypervisor's MMU (default shadow; the page's #mmu=tdp). */
  mmu?: 'shadow' | 'tdp';
}

/** The demo's cell (`npm start`): 3 VMs x 16 MiB at overcommit 2, 40 M instructions each. */
export const WEB_DEFAULTS: WebCellParams = { mode: 'notifier', vms: 3, guestMib: 16, overcommit: 2, ksm: false, seed: 1, insnsPerVm: 40_000_000 };

/** Check what a page (or a hand-edited URL) asked for; a bad value is an Error with a readable message. */
export function checkParams(p: WebCellParams): WebCellParams {
  const int = (name: string, v: number, lo: number, hi: number): number => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${name}: expected an integer from ${lo} to ${hi}, got ${v}`);
    return v;
  };
  if (!WEB_MODES.includes(p.mode)) throw new Error(`mode: expected notifier, pin or none, got ${String(p.mode)}`);
  if (!(p.overcommit >= 0.25 && p.overcommit <= 8)) throw new Error(`overcommit: expected 0.25 to 8, got ${p.overcommit}`);
  if (p.mmu !== undefined && p.mmu !== 'shadow' && p.mmu !== 'tdp') throw new Error(`mmu: expected shadow or tdp, got ${String(p.mmu)}`);
  return {
    mode: p.mode,
    vms: int('vms', p.vms, 1, 4),
    guestMib: int('guest MiB', p.guestMib, 4, 64),
    overcommit: p.overcommit,
    ksm: p.ksm === true,
    seed: int('seed', p.seed, 0, 2 ** 31 - 1),
    insnsPerVm: int('instructions per VM', p.insnsPerVm, 1000, 1e10),
    ...(p.mmu === 'tdp' ? { mmu: 'tdp' as const } : {}),
  };
}

/** Host RAM for the parameters: the guests' total over the ratio, in whole pages. */
export function hostBytesOf(p: WebCellParams): number {
  return Math.floor((p.vms * p.guestMib * MIB) / p.overcommit / 4096) * 4096;
}

/** The SwapCellSpec the bench would build for the same cell (bench/swap.ts memhogArgs, flat layout). */
export function webCellSpec(params: WebCellParams, image: Uint8Array): SwapCellSpec {
  const p = checkParams(params);
  const guest = p.guestMib * MIB;
  const mib = Math.max(1, Math.floor((guest - MEMHOG_BASE) / MIB));
  const perPages = mib * 256;
  const scratchPages = Math.floor(perPages / 8);
  return {
    image,
    cmdline: `mib=${mib} iters=0 report=64 procs=1`,
    vms: p.vms,
    guestMemBytes: guest,
    hostMemBytes: hostBytesOf(p),
    swapBytes: p.vms * guest,
    mode: p.mode,
    ...(p.mmu === 'tdp' ? { mmu: p.mmu } : {}),
    ksm: p.ksm,
    forkEvery: 0,
    dontneedEvery: 0,
    scratch: { offset: MEMHOG_BASE + (perPages - scratchPages) * 4096, len: scratchPages * 4096 },
    insnsPerVm: p.insnsPerVm,
    seed: p.seed,
    log: nullLogger,
  };
}

/** One VM's line in the page's status table. */
export interface WebVmState {
  name: string;
  /** 'running' until the VM stops; then the run loop's reason (budget, exit, triple-fault, oom-killed, ...). */
  state: string;
  exitCode: number;
  instructions: number;
  verified: number;
  corrupt: number;
  staleAccesses: number;
  /** memhog's last line on its serial console (its latest `verified=V corrupt=C` progress). */
  lastLine: string;
}

/** The live figures the page draws, all plain numbers and strings (structured-clone friendly). */
export interface WebSnapshot {
  done: boolean;
  schedulerSteps: number;
  instructions: number;
  swapOuts: number;
  swapIns: number;
  staleAccesses: number;
  invalidations: number;
  sptesZapped: number;
  remoteTlbFlushes: number;
  faultRetries: number;
  pinnedReclaimFailures: number;
  oomKills: number;
  ksmMerges: number;
  verified: number;
  corrupt: number;
  vms: WebVmState[];
  /** Once done: ok, oom-killed, stalled, crashed, corrupt, stale, efault (bench/swap.ts's words). */
  outcome: string | null;
  /** Once done: the demo's closing words for the run. */
  verdict: string | null;
}

/** Fields of one series sample, in order; the series is flat (stride SERIES_FIELDS.length). */
export const SERIES_FIELDS = ['instructions', 'swapOuts', 'swapIns', 'staleAccesses', 'sptesZapped', 'pinnedReclaimFailures'] as const;


function lastLine(output: string): string {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const l = lines[lines.length - 1] ?? '';
  return l.length > 120 ? `${l.slice(0, 117)}...` : l;
}

/** A cell being run for the page: SwapCellRun plus its sampled series. */
export class WebCell {
  readonly params: WebCellParams;
  readonly spec: SwapCellSpec;
  private readonly run: SwapCellRun;
  /** Samples after every chunk, SERIES_FIELDS per sample; deterministic for the parameters. */
  readonly series: number[] = [];
  private finished = false;

  constructor(params: WebCellParams, image: Uint8Array) {
    this.params = checkParams(params);
    this.spec = webCellSpec(this.params, image);
    this.run = new SwapCellRun(this.spec);
    this.sample(this.snapshot());
  }

  get done(): boolean {
    return this.finished;
  }

  /** Run up to `steps` scheduler steps and sample; returns the snapshot after them. */
  advance(steps: number): WebSnapshot {
    if (!this.finished) this.finished = this.run.advance(steps);
    const s = this.snapshot();
    this.sample(s);
    return s;
  }

  /** Stop at the next step boundary: the outcome says interrupted. */
  stop(): WebSnapshot {
    this.run.abort();
    this.finished = true;
    return this.snapshot();
  }

  private sample(s: WebSnapshot): void {
    for (const f of SERIES_FIELDS) this.series.push(s[f]);
  }

  snapshot(): WebSnapshot {
    const o = this.run.outcome();
    const k = o.kvm;
    const done = this.finished;
    return {
      done,
      schedulerSteps: o.schedulerSteps,
      instructions: o.instructions,
      swapOuts: o.host.swapOuts,
      swapIns: o.host.swapIns,
      staleAccesses: o.vms.reduce((n, v) => n + v.staleAccesses, 0),
      invalidations: k.invalidations,
      sptesZapped: k.sptes_zapped_by_invalidation,
      remoteTlbFlushes: k.remote_tlb_flush,
      faultRetries: k.pf_retry_in_progress + k.pf_retry_seq + k.pf_retry_unsafe,
      pinnedReclaimFailures: o.host.reclaimFailPinned,
      oomKills: o.host.oomKills,
      ksmMerges: o.host.ksmMerges,
      verified: o.vms.reduce((n, v) => n + v.verified, 0),
      corrupt: o.vms.reduce((n, v) => n + v.corrupt, 0),
      vms: o.vms.map((v) => ({
        name: v.name,
        // A VM with no result yet reads 'interrupted' in outcome(): mid-run that means running.
        state: v.exitCode === -1 && v.reason === 'interrupted' && !done ? 'running' : v.reason,
        exitCode: v.exitCode,
        instructions: v.instructions,
        verified: v.verified,
        corrupt: v.corrupt,
        staleAccesses: v.staleAccesses,
        lastLine: lastLine(v.output),
      })),
      outcome: done ? classifyOutcome(o) : null,
      verdict: done ? verdictOf(o, this.params.mode) : null,
    };
  }
}
