// The benchmark registry: every `shadowvisor bench NAME` module, in the order `bench all` runs
// them. Each module exports main(argv, out) and prints a table (or --json lines) on out.stdout.

import { main as cpuMain } from './cpu.js';
import { main as swapMain } from './swap.js';
import { main as scaleMain } from './scale.js';
import { main as hostMain } from './host.js';
import { main as hvMain } from './hv.js';
import { main as exploreMain } from './explore.js';
import { main as fuzzMain } from './fuzz.js';
import { main as csmithMain } from './csmith.js';

export interface BenchOut {
  stdout(s: string): void;
  stderr(s: string): void;
}

/** Returns the process exit status (0 = measured and self-checks passed). */
export type BenchMain = (argv: string[], out: BenchOut) => Promise<number>;

export interface BenchEntry {
  name: string;
  summary: string;
  main: BenchMain;
}

export const BENCHES: BenchEntry[] = [
  { name: 'cpu', summary: 'cpubench on the native machine, then interpreter vs compiler (native, shadow) on cpubench and intbench: MIPS, and QEMU when installed', main: cpuMain },
  { name: 'host', summary: 'the simulated host mm: metadata per frame, faults, reclaim, KSM, notifier cost', main: hostMain },
  { name: 'swap', summary: 'the headline: K VMs overcommitting host RAM in notifier, pin and none modes', main: swapMain },
  { name: 'scale', summary: 'cost growth with total guest memory, 64 MiB to 2 GiB: time and simulator RAM per simulated GiB', main: scaleMain },
  { name: 'hv', summary: 'the shadow MMU against native: cpubench and pagestress, fault path, invalidation cost', main: hvMain },
  { name: 'explore', summary: 'the schedule explorer: runs to first detection per injected bug and scheduler, shrunk size, clean runs/s', main: exploreMain },
  { name: 'fuzz', summary: 'mutated images, random instruction streams and hostile guests: native vs shadow vs QEMU', main: fuzzMain },
  { name: 'csmith', summary: 'random C programs (csmith) built with gcc at each -O level: QEMU vs native, compiler, shadow on a tiny host, tdp', main: csmithMain },
];
