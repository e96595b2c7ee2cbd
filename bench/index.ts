// The benchmark registry: every `shadowvisor bench NAME` module, in the order `bench all` runs
// them. Each module exports main(argv, out) and prints a table (or --json lines) on out.stdout.

import { main as cpuMain } from './cpu.js';

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
  { name: 'cpu', summary: 'cpubench guest on the native machine: MIPS, and QEMU wall time when installed', main: cpuMain },
  // 'host' (bench/host.ts, the host mm engineer's) is registered here once that file exists.
];
