// The command line of `shadowvisor trace`: its own flags (--events, --gva, --gfn, --last,
// --chains, --translate, --json, --html) are taken out first and everything else is `run`'s, parsed by
// run's own parser so both commands accept exactly the same machine options.

import { UsageError, parseCount } from './args.js';
import { parseRunArgs, type RunOptions } from './run.js';
import { DEFAULT_RING_CAPACITY } from '../obs/event-ring.js';

export interface TraceOptions {
  run: RunOptions;
  capacity: number;
  gva?: number;
  gfn?: number;
  last?: number;
  chains: boolean;
  translate?: number;
  json: boolean;
  /** Write DIR/index.html, the explorable page, instead of printing the trace. */
  html?: string;
}

const VALUE_FLAGS = new Set(['events', 'gva', 'gfn', 'last', 'translate', 'html']);
const BOOL_FLAGS = new Set(['chains', 'json']);
/** 4 Mi events is about 200 MiB of ring. */
const MAX_EVENTS = 1 << 22;

function u32(flag: string, text: string): number {
  const v = parseCount(flag, text);
  if (v > 0xffffffff) throw new UsageError(`${flag}: ${text} is not a 32-bit address`);
  return v;
}

export function parseTraceArgs(argv: string[]): TraceOptions | 'help' {
  const rest: string[] = [];
  const values = new Map<string, string>();
  const bools = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(a);
    if (m !== null && VALUE_FLAGS.has(m[1]!)) {
      const v = m[2] ?? argv[++i];
      if (v === undefined) throw new UsageError(`trace: option '--${m[1]} <value>' argument missing`);
      values.set(m[1]!, v);
    } else if (m !== null && BOOL_FLAGS.has(m[1]!)) {
      if (m[2] !== undefined) throw new UsageError(`trace: option '--${m[1]}' does not take an argument`);
      bools.add(m[1]!);
    } else {
      rest.push(a);
    }
  }
  let run: RunOptions | 'help';
  try {
    run = parseRunArgs(rest);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(e.message.replace(/^run: /, 'trace: ').replace(/shadowvisor run --help/g, 'shadowvisor trace --help'));
  }
  if (run === 'help') return 'help';
  if (run.mmu === 'native') throw new UsageError('trace: --mmu native has no hypervisor to trace (trace runs the shadow MMU or the TDP MMU)');
  const capacity = values.has('events') ? parseCount('--events', values.get('events')!) : DEFAULT_RING_CAPACITY;
  if (capacity < 1 || capacity > MAX_EVENTS) throw new UsageError(`--events: expected 1 to ${MAX_EVENTS}, got '${values.get('events')}'`);
  const gva = values.has('gva') ? u32('--gva', values.get('gva')!) : undefined;
  const gfn = values.has('gfn') ? parseCount('--gfn', values.get('gfn')!) : undefined;
  if (gfn !== undefined && gfn > 0xfffff) throw new UsageError(`--gfn: ${values.get('gfn')} is beyond a 32-bit guest-physical space`);
  if (gva !== undefined && gfn !== undefined) throw new UsageError('trace: --gva and --gfn filter one page each; give one of them');
  const last = values.has('last') ? parseCount('--last', values.get('last')!) : undefined;
  if (last === 0) throw new UsageError('--last: must be at least 1');
  const translate = values.has('translate') ? u32('--translate', values.get('translate')!) : undefined;
  const html = values.get('html');
  if (html === '') throw new UsageError('--html: expected a directory');
  if (html !== undefined && bools.has('json')) throw new UsageError('trace: --html writes a page and --json prints to stdout; give one of them');
  return { run, capacity, gva, gfn, last, chains: bools.has('chains'), translate, json: bools.has('json'), html };
}
