// `shadowvisor help [COMMAND]` and the top-level usage text.

import { BENCH_HELP } from './bench.js';
import { DEMO_HELP } from './demo.js';
import { EXERCISE_HELP } from './exercise.js';
import { EXPLORE_HELP } from './explore.js';
import { RUN_HELP } from './run.js';
import { TRACE_HELP } from './trace.js';
import { WEB_HELP } from './web.js';
import { UsageError } from './args.js';
import { writeStdout } from './output.js';
import { exitStatusHelp } from '../obs/exit-status.js';

export const MAIN_HELP = `Usage: shadowvisor COMMAND [options]

A virtual machine monitor you can read: an i386 CPU interpreter running real guest binaries,
a KVM-like shadow MMU (or, with --mmu tdp, EPT-like two-dimensional paging) and a simulated
Linux host memory manager.

Commands:
  run IMAGE          boot a guest image; its serial console on stdout (--gdb PORT: debug
                     it with gdb, as with QEMU's -gdb)
  trace IMAGE        run a guest and print what the hypervisor did (faults, invalidations,
                     zaps, refaults; GVA -> GPA -> HVA -> HPA)
  bench [NAME|all]   benchmarks: cpu, host, swap (the headline), scale, hv; merge shards
  explore            search interleavings for mmu_notifier races; inject, shrink, replay bugs
  demo               the swap-reliability demo (what 'npm start' runs)
  exercise           seeded homework problems with engine-computed answers and a grader
  web [--out DIR]    write a self-contained page that runs the simulator in a browser
  help [COMMAND]     show help for a command

Options: -h/--help (also after any command), -V/--version.
Bad options, images or files: one line on stderr, exit status 2.

Exit status: 0 success (for run, the guest's own exit value), or
${exitStatusHelp(2)}
`;

const HELPS: Record<string, string> = { run: RUN_HELP, trace: TRACE_HELP, bench: BENCH_HELP, explore: EXPLORE_HELP, demo: DEMO_HELP, exercise: EXERCISE_HELP, web: WEB_HELP, help: MAIN_HELP };

export function helpCommand(argv: string[]): number {
  const topic = argv.find((a) => !a.startsWith('-'));
  if (topic === undefined) {
    writeStdout(MAIN_HELP);
    return 0;
  }
  const text = HELPS[topic];
  if (text === undefined) throw new UsageError(`help: unknown command '${topic}' (try 'shadowvisor help')`);
  writeStdout(text);
  return 0;
}
