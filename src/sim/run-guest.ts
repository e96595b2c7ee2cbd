// Boot one guest image on the hypervisor (`shadowvisor run --mmu shadow`): a simulated host with
// the requested RAM and swap, one VM process on it, the scheduler with kswapd (and ksmd with
// --ksm), run to completion. The CLI and the tests share this so both see the same machine.

import { jitDefault } from '../cpu/jit/compile.js';
import { allocRam } from '../cpu/jit/wasm-arena.js';
import { MAX_FRAMES } from '../host/frames.js';
import { Host } from '../host/host.js';
import type { SwapStore } from '../host/swap.js';
import type { ByteSink } from '../machine/uart16550.js';
import type { RunResult } from '../machine/run-loop.js';
import type { Logger } from '../obs/log.js';
import type { EventRing } from '../obs/event-ring.js';
import type { MemoryMode } from '../hv/shadow/page-fault.js';
import { Vm, type HvMmuKind } from '../hv/vm.js';
import { Simulation, type SimOptions, type VmRun } from './simulation.js';

export interface GuestRunOptions {
  image: Uint8Array;
  memBytes: number;
  /** Host RAM; default: defaultHostMemBytes (no pressure). */
  hostMemBytes?: number;
  /** Swap device size; default: the guest memory size. */
  swapBytes?: number;
  vcpus?: number;
  mode?: MemoryMode;
  /** The hypervisor's MMU (default shadow). */
  mmu?: HvMmuKind;
  ksm?: boolean;
  check?: boolean;
  /** Stale detector on without stopping the VM (counts and, when tracing, records). */
  detect?: boolean;
  seed?: number;
  maxInsns?: number;
  cmdline?: string;
  input?: Uint8Array;
  output: ByteSink;
  log: Logger;
  /** Guest instructions per scheduling step (smaller interleaves host work more finely). */
  slice?: number;
  /** Backing store of the swap device (default: in memory). */
  swapStore?: SwapStore;
  /** Trace ring (`shadowvisor trace`): the VM's slow paths and the host tasks record events. */
  ring?: EventRing;
  /** The hv and host invariant checkers after every `checkEvery`-th scheduling step (`run --check`). */
  checkInvariants?: boolean;
  checkEvery?: number;
  /** The explorer's chooser and window check (SimOptions.chooser, checkInside). */
  chooser?: SimOptions['chooser'];
  checkInside?: SimOptions['checkInside'];
}

export interface GuestRun {
  result: RunResult;
  vm: Vm;
  host: Host;
  sim: Simulation;
}

/** Bytes as the size flags spell them (4G, 512M, 300K, or plain bytes). */
function sizeText(n: number): string {
  for (const [unit, k] of [['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) if (n % k === 0) return `${n / k}${unit}`;
  return `${n} bytes`;
}

/**
 * The default host RAM for a guest of `memBytes`: "no pressure". The host's watermarks scale with
 * its RAM (min + low + high come to about 1/32 of it, as min_free_kbytes does), so a fixed 8 MiB
 * of headroom is not enough above about 336 MiB: the guest touching all its memory would wake
 * kswapd and swap. Guest + 8 MiB + 1/16 of the guest keeps free memory above the high watermark
 * for every guest size.
 */
export function defaultHostMemBytes(memBytes: number): number {
  return memBytes + 8 * 1024 * 1024 + Math.ceil(memBytes / 16 / 4096) * 4096;
}

/** A host sized for these options; throws RangeError with a one-line message when they cannot fit. */
export function hostFor(opts: Pick<GuestRunOptions, 'memBytes' | 'hostMemBytes' | 'swapBytes' | 'seed' | 'log' | 'swapStore'>): Host {
  const hostMem = opts.hostMemBytes ?? defaultHostMemBytes(opts.memBytes);
  const swap = opts.swapBytes ?? opts.memBytes;
  if (hostMem % 4096 !== 0 || swap % 4096 !== 0) throw new RangeError('host memory and swap sizes must be multiples of 4 KiB');
  if (hostMem < 64 * 1024) throw new RangeError(`host memory of ${hostMem} bytes is too small (at least 64 KiB)`);
  if (hostMem > MAX_FRAMES * 4096) {
    throw new RangeError(`host memory of ${sizeText(hostMem)} is more than a simulated host can have (at most 4G: its RAM is one ArrayBuffer)`);
  }
  if (opts.memBytes > hostMem + swap) {
    throw new RangeError(
      `guest memory (${opts.memBytes / 1048576} MiB) is larger than the host can ever hold: ${hostMem / 1048576} MiB RAM + ${swap / 1048576} MiB swap`,
    );
  }
  return new Host({
    frames: hostMem / 4096,
    swapPages: swap / 4096,
    seed: opts.seed ?? 1,
    log: opts.log,
    swapStore: opts.swapStore,
    allocRam: (n) => allocRam(n, jitDefault()),
  });
}

/** A booted, not yet started guest: the CLI hooks its console before running it. */
export interface PreparedGuest {
  vm: Vm;
  host: Host;
  sim: Simulation;
  run: VmRun;
}

/** Build the host and the VM and load the image; throws ImageError / RangeError on bad input. */
export function prepareGuest(opts: GuestRunOptions): PreparedGuest {
  const host = hostFor(opts);
  const vm = new Vm({
    host,
    memBytes: opts.memBytes,
    vcpus: opts.vcpus ?? 1,
    mode: opts.mode ?? 'notifier',
    mmu: opts.mmu,
    ksm: opts.ksm,
    check: opts.check,
    detect: opts.detect,
    log: opts.log,
    output: opts.output,
    input: opts.input,
    ring: opts.ring,
  });
  vm.boot(opts.image, opts.cmdline);
  const sim = new Simulation(host, {
    seed: opts.seed ?? 1,
    slice: opts.slice,
    ksmEvery: opts.ksm === true ? 16 : 0,
    ring: opts.ring,
    checkInvariants: opts.checkInvariants,
    checkEvery: opts.checkEvery,
    chooser: opts.chooser,
    checkInside: opts.checkInside,
  });
  const run = sim.addVm(vm, opts.maxInsns ?? Infinity);
  return { vm, host, sim, run };
}

/** Run a prepared guest to its end. */
export function runPrepared(p: PreparedGuest): GuestRun {
  p.sim.runUntilDone();
  return { result: p.run.result!, vm: p.vm, host: p.host, sim: p.sim };
}

export function runGuest(opts: GuestRunOptions): GuestRun {
  return runPrepared(prepareGuest(opts));
}
