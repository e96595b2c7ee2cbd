// The `shadowvisor` command: dispatch to one file per command, and the one place where errors
// become exit statuses. Bad input (UsageError, and ImageError via run) is one line on stderr and
// status 2; an internal error is one line too (the stack only with SHADOWVISOR_DEBUG=1).

import { UsageError } from './args.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { exerciseCommand } from './exercise.js';
import { exploreCommand } from './explore.js';
import { runExploreWorkerIfAny } from './explore-worker.js';
import { MAIN_HELP, helpCommand } from './help.js';
import { writeStderr, writeStdout } from './output.js';
import { runCommand } from './run.js';
import { traceCommand } from './trace.js';
import { version } from './version.js';
import { webCommand } from './web.js';
import { runSwapWorkerIfAny } from '../../bench/swap-pool.js';
import { runFuzzWorkerIfAny } from '../../bench/fuzz-pool.js';
import { SwapIoError } from '../host/swap.js';
import { EXIT_STATUS_BAD_INPUT, EXIT_STATUS_INTERNAL, EXIT_STATUS_SWAP_IO_ERROR } from '../obs/exit-status.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'trace':
      return traceCommand(rest);
    case 'bench':
      return benchCommand(rest);
    case 'demo':
      return demoCommand(rest);
    case 'explore':
      return exploreCommand(rest);
    case 'web':
      return webCommand(rest);
    case 'exercise':
      return exerciseCommand(rest);
    case 'help':
    case '-h':
    case '--help':
      return helpCommand(rest);
    case '--version':
    case '-V':
      writeStdout(`shadowvisor ${version()}\n`);
      return 0;
    case undefined:
      // No command: the usage on stderr (stdout may be a pipe expecting a command's output).
      writeStderr(MAIN_HELP);
      return EXIT_STATUS_BAD_INPUT;
    default:
      throw new UsageError(`unknown command '${command}' (try 'shadowvisor help')`);
  }
}

async function entry(): Promise<void> {
  let status: number;
  try {
    status = await main(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      writeStderr(`shadowvisor: ${e.message}\n`);
      status = EXIT_STATUS_BAD_INPUT;
    } else if (e instanceof SwapIoError) {
      writeStderr(`shadowvisor: ${e.message}\n`);
      status = EXIT_STATUS_SWAP_IO_ERROR;
    } else {
      const err = e instanceof Error ? e : new Error(String(e));
      writeStderr(`shadowvisor: internal error: ${err.message.split('\n')[0]}\n`);
      if (process.env.SHADOWVISOR_DEBUG === '1' && err.stack) writeStderr(`${err.stack}\n`);
      status = EXIT_STATUS_INTERNAL;
    }
  }
  process.exit(status);
}

// EPIPE from any stream Node itself writes to must not crash the process.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
// A worker thread of `bench swap --jobs N` runs the same bundle: it serves cells, not a command.
if (!runSwapWorkerIfAny() && !runFuzzWorkerIfAny() && !runExploreWorkerIfAny()) void entry();
