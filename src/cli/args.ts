// Command-line argument helpers shared by the commands: node:util parseArgs wrapped so every
// mistake becomes a UsageError (one line, exit status 2), and the SIZE / count / seed parsers.

import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad command line: printed as one line on stderr, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, with its exceptions turned into one-line UsageErrors. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    throw new UsageError(`${command}: ${msg.replace(/\. To specify a positional argument.*$/, '')} (try 'shadowvisor ${command} --help')`);
  }
}

const SUFFIX: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** "64M", "65536K", "1G", "67108864" -> bytes. */
export function parseSize(flag: string, text: string): number {
  const m = /^(\d+)([KMG]?)(?:i?B)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`${flag}: bad size '${text}' (expected a number with an optional K, M or G suffix)`);
  return Number(m[1]) * SUFFIX[m[2]!.toUpperCase()]!;
}

/** A non-negative decimal (or 0x hex) integer that fits a double exactly. */
export function parseCount(flag: string, text: string): number {
  const t = text.trim().replace(/_/g, '');
  const v = /^\d+$/.test(t) ? Number(t) : /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : Number.NaN;
  if (!Number.isSafeInteger(v)) throw new UsageError(`${flag}: expected a non-negative integer, got '${text}'`);
  return v;
}
