// One cell of the swap-reliability benchmark: K VMs running an integrity guest (memhog) on one
// simulated host whose RAM is the guests' total divided by the overcommit ratio, in one memory
// coherence mode, with optional KSM and host events (fork, MADV_DONTNEED), for a fixed guest
// instruction budget per VM. Everything here is deterministic for a given spec and seed; the
// driver (bench/swap.ts) adds wall time.

import { Host } from '../host/host.js';
import type { HostStats } from '../host/stats.js';
import { Prng } from '../host/prng.js';
import type { MemoryMode } from '../hv/shadow/page-fault.js';
import { KvmStats } from '../hv/stats.js';
import { Vm, type HvMmuKind } from '../hv/vm.js';
import type { Logger } from '../obs/log.js';
import { DontneedTask, ForkTask, MprotectTask } from './host-workload.js';
import { Simulation, type VmRun } from './simulation.js';

export interface SwapCellSpec {
  image: Uint8Array;
  /** Multiboot command line of every guest (memhog options). */
  cmdline: string;
  vms: number;
  guestMemBytes: number;
  hostMemBytes: number;
  swapBytes: number;
  mode: MemoryMode;
  /** The hypervisor's MMU (default shadow). */
  mmu?: HvMmuKind;
  ksm: boolean;
  /** Fork a VM process every N scheduler steps (0: never). */
  forkEvery: number;
  /** MADV_DONTNEED a run of scratch pages every N scheduler steps (0: never). */
  dontneedEvery: number;
  /** mprotect a run of guest RAM read-only and back every N scheduler steps (0: never). */
  mprotectEvery?: number;
  /** Guest-physical range the guests promise not to verify (memhog's scratch), for DONTNEED. */
  scratch: { offset: number; len: number };
  insnsPerVm: number;
  seed: number;
  log: Logger;
  /** Scheduler steps with no guest progress at all before the cell counts as stalled. */
  stallSteps?: number;
  /** Called every 1024 scheduler steps with live figures; return true to abandon the cell (Ctrl-C). */
  onTick?: (live: SwapCellLive) => boolean;
}

/** Live figures of a running cell, for progress displays. */
export interface SwapCellLive {
  instructions: number;
  vmsRunning: number;
  swapOuts: number;
  swapIns: number;
  staleAccesses: number;
}

export interface VmOutcome {
  name: string;
  exitCode: number;
  reason: string;
  message: string;
  instructions: number;
  output: string;
  verified: number;
  corrupt: number;
  staleAccesses: number;
}

export interface SwapCellOutcome {
  vms: VmOutcome[];
  instructions: number;
  host: HostStats;
  kvm: KvmStats;
  forks: number;
  discards: number;
  stalled: boolean;
  aborted: boolean;
  schedulerSteps: number;
}

/** Parse memhog's last progress line (`verified=V corrupt=C`) and its corrupt-page reports. */
export function parseIntegrity(output: string): { verified: number; corrupt: number } {
  let verified = 0;
  let corrupt = 0;
  const re = /verified=(\d+) corrupt=(\d+)/g;
  for (let m = re.exec(output); m !== null; m = re.exec(output)) {
    verified = Number(m[1]);
    corrupt = Number(m[2]);
  }
  // Pages reported corrupt after the last progress line still count.
  const tail = output.slice(output.lastIndexOf('corrupt=') + 1);
  corrupt += (tail.match(/corrupt page/g) ?? []).length;
  return { verified, corrupt };
}

/** Bytes to a string, one char per byte (no Buffer: the engine also runs in browsers). */
function latin1(bytes: number[]): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.slice(i, i + 8192));
  return s;
}

function sumStats(into: KvmStats, from: KvmStats): void {
  for (const [k, v] of Object.entries(from)) {
    if (typeof v === 'number') (into as unknown as Record<string, number>)[k]! += v;
    else if (k === 'notifier_calls') for (const [n, c] of Object.entries(v as Record<string, number>)) into.notifier_calls[n] = (into.notifier_calls[n] ?? 0) + c;
  }
}

/**
 * A cell in progress. advance() runs a bounded number of scheduler steps so a caller can return
 * to its event loop between chunks (progress output, Ctrl-C); runSwapCell() runs it in one go.
 */
export class SwapCellRun {
  private readonly host: Host;
  private readonly vms: Vm[] = [];
  private readonly outputs: number[][] = [];
  private readonly sim: Simulation;
  private readonly runs: VmRun[];
  private readonly fork: ForkTask | null;
  private readonly dontneed: DontneedTask | null;
  private readonly stallSteps: number;
  private lastProgress = 0;
  private lastInsns = -1;
  private stalled = false;
  private aborted = false;
  private finished = false;

  constructor(private readonly spec: SwapCellSpec) {
    const host = new Host({ frames: Math.floor(spec.hostMemBytes / 4096), swapPages: Math.floor(spec.swapBytes / 4096), seed: spec.seed, log: spec.log });
    this.host = host;
    for (let i = 0; i < spec.vms; i++) {
      const bytes: number[] = [];
      this.outputs.push(bytes);
      const vm = new Vm({
        host,
        name: `vm${i}`,
        memBytes: spec.guestMemBytes,
        mode: spec.mode,
        mmu: spec.mmu,
        ksm: spec.ksm,
        detect: true,
        log: spec.log,
        output: { write: (b: number) => void bytes.push(b) },
      });
      vm.boot(spec.image, `${spec.cmdline} seed=${spec.seed * 31 + i + 1}`);
      this.vms.push(vm);
    }
    this.sim = new Simulation(host, { seed: spec.seed, ksmEvery: spec.ksm ? 16 : 0 });
    this.runs = this.vms.map((vm) => this.sim.addVm(vm, spec.insnsPerVm));
    const prng = new Prng(spec.seed ^ 0xf00d);
    this.fork = spec.forkEvery > 0 ? new ForkTask(host, this.vms, spec.forkEvery, prng) : null;
    this.dontneed =
      spec.dontneedEvery > 0 ? new DontneedTask(host, this.vms, spec.dontneedEvery, prng, spec.scratch.offset, spec.scratch.len) : null;
    const every = spec.mprotectEvery ?? 0;
    if (every > 0) this.sim.addTask(new MprotectTask(host, this.vms, every, prng));
    if (this.fork !== null) this.sim.addTask(this.fork);
    if (this.dontneed !== null) this.sim.addTask(this.dontneed);
    this.stallSteps = spec.stallSteps ?? 200_000;
  }

  private total(): number {
    return this.runs.reduce((n, r) => n + r.instructions(), 0);
  }

  get done(): boolean {
    return this.finished;
  }

  /** Stop at the next step boundary (Ctrl-C): the outcome says `aborted`. */
  abort(): void {
    this.aborted = true;
    this.finished = true;
  }

  /** Run up to `maxSteps` scheduler steps; returns true once the cell is over. */
  advance(maxSteps: number): boolean {
    if (this.finished) return true;
    const sim = this.sim;
    const stopAt = sim.sched.steps + maxSteps;
    sim.runUntilDone(() => {
      const steps = sim.sched.steps;
      if (steps >= stopAt) return true;
      if ((steps & 1023) !== 0) return false;
      const n = this.total();
      if (this.spec.onTick !== undefined) {
        const live: SwapCellLive = {
          instructions: n,
          vmsRunning: this.runs.filter((r) => r.result === null).length,
          swapOuts: this.host.stats.swapOuts,
          swapIns: this.host.stats.swapIns,
          staleAccesses: this.vms.reduce((k, v) => k + v.stats.stale_accesses, 0),
        };
        if (this.spec.onTick(live)) {
          this.aborted = true;
          return true;
        }
      }
      if (n !== this.lastInsns) {
        this.lastInsns = n;
        this.lastProgress = steps;
      } else if (steps - this.lastProgress > this.stallSteps) {
        this.stalled = true;
        return true;
      }
      return false;
    });
    if (this.aborted || this.stalled || this.runs.every((r) => r.result !== null)) this.finished = true;
    return this.finished;
  }

  outcome(): SwapCellOutcome {
    this.fork?.reapAll();
    const kvm = new KvmStats();
    const vms: VmOutcome[] = this.runs.map((r, i) => {
      const vm = this.vms[i]!;
      sumStats(kvm, vm.stats);
      const output = latin1(this.outputs[i]!);
      const { verified, corrupt } = parseIntegrity(output);
      const res = r.result;
      return {
        name: vm.name,
        exitCode: res?.exitCode ?? -1,
        reason: res?.reason ?? (this.stalled ? 'stalled' : 'interrupted'),
        message: res?.message ?? '',
        instructions: r.instructions(),
        output,
        verified,
        corrupt,
        staleAccesses: vm.stats.stale_accesses,
      };
    });
    return {
      vms,
      instructions: this.total(),
      host: this.host.stats,
      kvm,
      forks: this.fork?.count ?? 0,
      discards: this.dontneed?.count ?? 0,
      stalled: this.stalled,
      aborted: this.aborted,
      schedulerSteps: this.sim.sched.steps,
    };
  }
}

export function runSwapCell(spec: SwapCellSpec): SwapCellOutcome {
  const cell = new SwapCellRun(spec);
  while (!cell.advance(1 << 30));
  return cell.outcome();
}

/** What a finished cell's outcome was, worst first (the swap benchmark's `outcome` column, the web page's verdict). */
export function classifyOutcome(o: SwapCellOutcome): string {
  if (o.aborted) return 'interrupted';
  const reasons = o.vms.map((v) => v.reason);
  if (reasons.includes('oom-killed')) return 'oom-killed';
  if (o.stalled) return 'stalled';
  if (reasons.includes('triple-fault') || reasons.includes('guest-error')) return 'crashed';
  if (o.vms.some((v) => v.corrupt > 0)) return 'corrupt';
  if (o.vms.some((v) => v.staleAccesses > 0)) return 'stale';
  if (reasons.includes('efault')) return 'efault';
  if (o.vms.every((v) => v.reason === 'budget' || (v.reason === 'exit' && v.exitCode === 0))) return 'ok';
  return reasons.find((r) => r !== 'budget' && r !== 'exit') ?? 'failed';
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The demo's verdict ("every page intact", "3 guests crashed on recycled memory, ..."), plus OOM kills. */
export function verdictOf(o: SwapCellOutcome, mode: MemoryMode): string {
  if (o.aborted) return 'stopped before the end';
  const crashed = o.vms.filter((v) => v.reason === 'triple-fault' || v.reason === 'guest-error').length;
  const corrupt = o.vms.reduce((n, v) => n + v.corrupt, 0);
  const stale = o.vms.reduce((n, v) => n + v.staleAccesses, 0);
  const efault = o.vms.filter((v) => v.reason === 'efault').length;
  const parts: string[] = [];
  if (o.host.oomKills > 0) {
    const why = mode === 'pin' ? 'pinned memory could not be reclaimed' : 'the host ran out of memory';
    parts.push(`OOM-killed: ${why} (${plural(o.host.oomKills, 'VM')} killed, ${plural(o.host.reclaimFailPinned, 'reclaim attempt')} refused by pins)`);
  }
  if (efault > 0) parts.push(`${plural(efault, 'guest')} could not fault in memory (EFAULT)`);
  if (o.stalled) parts.push('stalled: no guest made progress');
  if (corrupt > 0) parts.push(plural(corrupt, 'corrupt page'));
  if (crashed > 0) parts.push(`${plural(crashed, 'guest')} crashed on recycled memory`);
  if (stale > 0) parts.push(plural(stale, 'stale access', 'stale accesses'));
  if (parts.length === 0) return classifyOutcome(o) === 'ok' ? 'every page intact' : `finished: ${classifyOutcome(o)}`;
  return parts.join(', ');
}
