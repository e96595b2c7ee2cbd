// The `shadowvisor` command: dispatch to one file per command, and the one place where errors
// become exit statuses. Bad input (UsageError, and ImageError via run) is one line on stderr and
// status 2; an internal error is one line too (the stack only with SHADOWVISOR_DEBUG=1).

import { UsageError } from './args.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { helpCommand } from './help.js';
import { writeStderr } from './output.js';
import { runCommand } from './run.js';
import { traceCommand } from './trace.js';
import { webCommand } from './web.js';
import { runSwapWorkerIfAny } from '../../bench/swap-pool.js';

const EXIT_INTERNAL = 70; // EX_SOFTWARE

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
    case 'web':
      return webCommand(rest);
    case 'help':
    case '-h':
    case '--help':
      return helpCommand(rest);
    case undefined:
      throw new UsageError("missing command (try 'shadowvisor help')");
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
      status = 2;
    } else {
      const err = e instanceof Error ? e : new Error(String(e));
      writeStderr(`shadowvisor: internal error: ${err.message.split('\n')[0]}\n`);
      if (process.env.SHADOWVISOR_DEBUG === '1' && err.stack) writeStderr(`${err.stack}\n`);
      status = EXIT_INTERNAL;
    }
  }
  process.exit(status);
}

// EPIPE from any stream Node itself writes to must not crash the process.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
// A worker thread of `bench swap --jobs N` runs the same bundle: it serves cells, not a command.
if (!runSwapWorkerIfAny()) void entry();
