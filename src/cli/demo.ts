// `shadowvisor demo` (what `npm start` runs): for now, boot the default demo guest
// guest-images/hello.elf with default options.

import { UsageError, parseCommandArgs } from './args.js';
import { writeStdout } from './output.js';
import { guestImagePath } from './paths.js';
import { parseRunArgs, runImage } from './run.js';

export const DEMO_HELP = `Usage: shadowvisor demo [options]

Boot the demo guest (guest-images/hello.elf) on the native machine; its console on stdout.

Options:
  --stats            print run statistics to stderr
  -h, --help         show this help
`;

export function demoCommand(argv: string[]): number {
  const { values, positionals } = parseCommandArgs('demo', argv, {
    stats: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    writeStdout(DEMO_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`demo: unexpected argument '${positionals[0]}'`);
  const opts = parseRunArgs([...(values.stats ? ['--stats'] : []), guestImagePath('hello.elf')]);
  if (opts === 'help') return 0;
  return runImage(opts);
}
