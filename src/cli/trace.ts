// `shadowvisor trace IMAGE`: run a guest exactly as `run` does (shadow MMU) with the event ring on,
// then print what the hypervisor did: every fault, walk, gup, spte, invalidation, zap, flush and
// refault, filtered to a page, grouped into causal chains, or as JSON; and one address followed
// GVA -> GPA -> HVA -> HPA -> spte -> TLB. The teaching view of DESIGN.md ("what users do").

import { applyJitOptions, logJitStats, prepareShadowRun, readInputFile } from './run.js';
import { traceScheduleCommand } from './explore-replay.js';
import { EventRing, readEvents, type TraceEvent } from '../obs/event-ring.js';
import { UNSEEN_NAMES } from '../obs/events.js';
import { runPrepared } from '../sim/run-guest.js';
import { EXIT_STATUS_OUTPUT_CLOSED, EXIT_STATUS_STALE } from '../obs/exit-status.js';
import { UsageError } from './args.js';
import { createLogger } from './logger.js';
import { writeStderr, writeStdout } from './output.js';
import { collectShadowStats, formatShadowStats } from './stats.js';
import { parseTraceArgs, type TraceOptions } from './trace-args.js';
import { chainHeading, filterChains, filterEvents, groupEvents, groupUnseen, orderByInterest, orderUnseen, type InvGroup } from './trace-chains.js';
import { eventJson, hex, lineFormatterFor, type LineFormatter, type SlotLookup } from './trace-format.js';
import { translateGva } from './trace-translate.js';
import { prepareHtmlDir, writeTraceHtml } from './trace-html-file.js';
import { traceHtmlPage, type TracePageOptions } from './trace-html-page.js';
import { DEFAULT_HTML_EVENTS, unseenHeading } from './trace-html-model.js';

export const TRACE_HELP = `Usage: shadowvisor trace [options] IMAGE
       shadowvisor trace --schedule STR [--html DIR]   (replay an 'explore' schedule)

Run IMAGE on the shadow MMU exactly as 'shadowvisor run' would, with the hypervisor's event
ring on, then print what happened underneath the guest: faults (FAULT, WALK, GUP, SPTE_SET,
RETRY, GUEST_PF, MMIO), emulated page-table writes, host invalidations (INV_START, SPTE_ZAP,
TLB_FLUSH, INV_END), aging, release, stale accesses and the host tasks that caused them.
The guest's serial output is NOT printed: stdout carries the trace. The exit status is the
guest's, as with run.

Trace options:
  --events N          ring capacity in events (default 65536); the oldest are overwritten
                      when it fills (a note on stderr says how many)
  --gva ADDR          only events about this guest virtual page (0x hex or decimal)
  --gfn N             only events about this guest frame number
  --last N            print only the last N events (with --chains: the last N chains)
  --chains            group events into causal chains: what started a host invalidation ->
                      INV_START -> SPTE_ZAPs -> TLB_FLUSH -> INV_END, then the next fault on
                      each zapped gfn (FAULT -> WALK -> GUP -> SPTE_SET): the refault;
                      chains that zapped something first. In pin and none mode also what
                      KVM was never told: UNSEEN -> the stale spte -> who got the frame
                      -> the first STALE access
  --translate GVA     at the end, follow GVA on vCPU 0: guest PDE/PTE -> GPA -> memslot ->
                      HVA -> host PTE -> HPA (frame) -> spte -> TLB. Alone it prints only
                      this; with --last, --chains, --gva or --gfn the events come first
  --json              one JSON object per event (per chain with --chains) on stdout
  --html DIR          write DIR/index.html instead: one self-contained page (opens offline)
                      with the totals, a timeline, the causal chains as flow diagrams and
                      each gfn's history, a step-through player (one page's guest PTE,
                      spte, host PTE, frame and TLB entry event by event); in pin and none
                      mode the UNSEEN chains beside a notifier run of the same seed; the
                      last 20000 events (--last N to change), --gfn/--gva opens that
                      page's history, --translate adds an address

Every 'run' option applies (--mem, --mode, --host-mem, --swap, --ksm, --vcpus, --check,
--max-insns, --seed, --cmdline, --input, --stats, --log-level; --mmu shadow or tdp: under
tdp every TLB miss is a TDP_WALK event with both dimensions of the walk).
Try: shadowvisor trace guest-images/pagetest.elf --host-mem 256K --chains

Event lines: sequence number, virtual time (vCPU 0's retired instructions), who (vcpuN, host,
or '-' for work done on behalf of the current event), the event, its fields in hex. The same
image, options and --seed give the same trace, byte for byte.
`;

export function traceCommand(argv: string[]): number {
  // A schedule string from `shadowvisor explore` replays that explorer run as a trace.
  if (argv.some((a) => a === '--schedule' || a.startsWith('--schedule='))) return traceScheduleCommand(argv);
  const opts = parseTraceArgs(argv);
  if (opts === 'help') {
    writeStdout(TRACE_HELP);
    return 0;
  }
  return traceImage(opts, argv);
}

/** Writes output in blocks; a reader that went away ends the run with status 141. */
class Out {
  private buf: string[] = [];
  private size = 0;
  closed = false;
  line(s: string): void {
    if (this.closed) return;
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 1 << 16) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0 || this.closed) return;
    if (!writeStdout(`${this.buf.join('\n')}\n`)) this.closed = true;
    this.buf = [];
    this.size = 0;
  }
}

function traceImage(opts: TraceOptions, argv: string[]): number {
  const ro = opts.run;
  applyJitOptions(ro, true);
  const log = createLogger(ro.logLevel);
  const image = readInputFile('image', ro.image);
  const input = ro.input === undefined ? undefined : readInputFile('input', ro.input === '-' ? 0 : ro.input);
  if (opts.html !== undefined) prepareHtmlDir(opts.html);
  const ring = new EventRing(opts.capacity);
  // stdout carries the trace, not the guest's console.
  // trace runs the guest in one synchronous piece: no signal handler could remove a swap file
  // before a Ctrl-C ends the process, so the file loses its name as soon as it is created.
  const prepared = prepareShadowRun(ro, image, input, { write: () => {} }, log, ring, { unlinkSwapAtOnce: true });
  const t0 = performance.now();
  const g = runPrepared(prepared);
  const seconds = (performance.now() - t0) / 1000;
  const r = g.result;

  const events = readEvents(ring);
  const slots: SlotLookup = (gfn) => {
    const s = g.vm.memslots.find(gfn);
    return s === null ? null : { baseGfn: s.baseGfn, hva: s.hva };
  };
  if (opts.html !== undefined) {
    const path = writeHtml(opts, opts.html, argv, g, seconds, events, ring, input);
    writeStderr(`shadowvisor trace: page written to ${path}\n`);
  }
  const out = new Out();
  const filter = { gva: opts.gva, gfn: opts.gfn };
  let chainsShown = -1;
  const wantEvents = opts.html !== undefined ? false : opts.translate === undefined || opts.chains || opts.last !== undefined || opts.gva !== undefined || opts.gfn !== undefined;
  if (wantEvents) {
    const grouped = groupEvents(events);
    if (opts.chains) {
      chainsShown = printChains(out, filterChains(grouped.invs, filter), opts, lineFormatterFor(events, slots));
      chainsShown += printUnseen(out, events, filter, lineFormatterFor(events, slots), opts.json);
    }
    else {
      let shown = filterEvents(events, grouped, filter);
      if (opts.last !== undefined) shown = shown.slice(-opts.last);
      const fmt = lineFormatterFor(shown, slots);
      for (const e of shown) out.line(opts.json ? JSON.stringify(eventJson(e)) : fmt.line(e));
    }
  }
  if (opts.translate !== undefined && opts.html === undefined) {
    const t = translateGva(g.vm, opts.translate);
    if (opts.json) out.line(JSON.stringify({ translate: t.json }));
    else {
      if (wantEvents) out.line('');
      for (const l of t.lines) out.line(l);
    }
  }
  out.flush();
  if (out.closed) return EXIT_STATUS_OUTPUT_CLOSED;

  const keepAll = `--events ${ring.emitted} keeps them all`;
  if (chainsShown === 0) {
    // An empty --chains is an answer too; say which, or a capped run reads as a clean one.
    const page = filter.gva !== undefined || filter.gfn !== undefined ? ' for that page' : '';
    const where = ring.overwritten > 0 ? `the last ${ring.size} of ${ring.emitted} events, which the ring kept${page}; ${keepAll}` : `the events${page}`;
    writeStderr(`shadowvisor trace: no chain begins in ${where}\n`);
  } else if (ring.overwritten > 0) {
    writeStderr(`shadowvisor trace: the ring kept the last ${ring.size} of ${ring.emitted} events; ${keepAll}\n`);
  }
  if (r.reason !== 'exit' && r.reason !== 'output-closed') writeStderr(`shadowvisor: ${r.message}\n`);
  else if (r.exitCode === EXIT_STATUS_STALE) writeStderr(`shadowvisor: ${r.message}\n`);
  if (ro.stats) writeStderr(formatShadowStats(collectShadowStats(g, seconds)));
  logJitStats(ro, log);
  return r.exitCode;
}

/** Prints the invalidation chains; returns how many. */
function printChains(out: Out, invs: InvGroup[], opts: TraceOptions, fmt: LineFormatter): number {
  // --last N takes the latest N; they print most telling first (orderByInterest).
  const shown = orderByInterest(opts.last === undefined ? invs : invs.slice(Math.max(0, invs.length - opts.last)));
  for (const inv of shown) {
    if (opts.json) {
      out.line(
        JSON.stringify({
          chain: inv.n,
          cause: inv.cause,
          events: inv.events.map(eventJson),
          refaults: inv.refaults.map((rf) => ({ gfn: rf.gfn, events: rf.fault === null ? null : rf.fault.events.map(eventJson) })),
          raced: inv.raced.map((f) => f.events.map(eventJson)),
        }),
      );
      continue;
    }
    out.line(chainHeading(inv.n, inv));
    for (const f of inv.raced) {
      const retry = f.events[f.events.length - 1]!;
      out.line(`  raced: vcpu${f.vcpu}'s fault at gva ${hex(f.gva, 8)} sampled mmu_invalidate_seq ${retry.f[3]} before this; it retried (seq now ${retry.f[4]})`);
      fmt.reset();
      for (const e of f.events) out.line(fmt.line(e, '    '));
    }
    if (inv.zaps.length === 0) continue; // nothing of the guest's was mapped: the heading says it all
    fmt.reset();
    for (const e of inv.events) out.line(fmt.line(e, '    '));
    const endTime = inv.events[inv.events.length - 1]!.time;
    for (const rf of inv.refaults) {
      if (rf.fault === null) {
        out.line(`  gfn ${hex(rf.gfn)} was not faulted in again before the trace ended`);
        continue;
      }
      const f = rf.fault;
      const dt = f.events[0]!.time - endTime;
      out.line(`  refault of gfn ${hex(rf.gfn)}: vcpu${f.vcpu} at gva ${hex(f.gva, 8)}, ${dt} ticks later`);
      fmt.reset();
      for (const e of f.events) out.line(fmt.line(e, '    '));
    }
    out.line('');
  }
  return shown.length;
}

/** pin and none: what KVM was never told, as chains (UNSEEN -> stale spte -> new owner -> STALE). */
function printUnseen(out: Out, events: readonly TraceEvent[], f: { gva?: number; gfn?: number }, fmt: LineFormatter, json: boolean): number {
  const groups = orderUnseen(groupUnseen(events)).filter((u) => f.gfn === undefined || u.gfn === f.gfn);
  if (groups.length === 0 || f.gva !== undefined) return 0;
  if (json) {
    // One object per chain after the invalidation chains' objects; "unseen" tells them apart.
    for (const u of groups) {
      out.line(
        JSON.stringify({
          unseen: u.n,
          gfn: u.gfn,
          frame: u.frame,
          what: UNSEEN_NAMES[u.what] ?? '?',
          cause: u.cause,
          events: u.unseen.map(eventJson),
          owner: u.owner === null ? null : eventJson(u.owner),
          first_stale: u.firstStale === null ? null : eventJson(u.firstStale),
          stales: u.stales,
        }),
      );
    }
    return groups.length;
  }
  for (const u of groups) {
    out.line(unseenHeading(u));
    fmt.reset();
    for (const e of [u.unseen[0]!, u.owner, u.firstStale].filter((x) => x !== null).sort((a, b) => a.seq - b.seq)) out.line(fmt.line(e, '    '));
  }
  out.line('');
  return groups.length;
}

export type { TraceEvent };
export { chainHeading };

const shellWord = (a: string): string => (/^[A-Za-z0-9_./:=,+@%-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

function sizeText(bytes: number): string {
  if (bytes % (1 << 30) === 0) return `${bytes / (1 << 30)}G`;
  if (bytes % (1 << 20) === 0) return `${bytes / (1 << 20)}M`;
  return `${bytes / 1024}K`;
}

/** Build, render and write the --html page; returns its path. */
function writeHtml(
  opts: TraceOptions,
  dir: string,
  argv: string[],
  g: ReturnType<typeof runPrepared>,
  seconds: number,
  events: TraceEvent[],
  ring: EventRing,
  input: ReturnType<typeof readInputFile> | undefined,
): string {
  const ro = opts.run;
  const hostMem = ro.hostMemBytes ?? ro.ramBytes + 8 * 1024 * 1024;
  const guest =
    `${ro.image}, ${sizeText(ro.ramBytes)} guest RAM on ${sizeText(hostMem)} of host RAM, swap ${sizeText(ro.swapBytes ?? ro.ramBytes)}, ` +
    `${ro.vcpus} vCPU${ro.vcpus === 1 ? '' : 's'}${ro.ksm ? ', KSM' : ''}, seed ${ro.seed}`;
  // pin and none: the same image, flags and seed under the notifier, to draw beside the bug.
  let compare: TracePageOptions['compare'];
  if (ro.mode !== 'notifier') {
    const nring = new EventRing(opts.capacity);
    const np = prepareShadowRun({ ...ro, mode: 'notifier' }, readInputFile('image', ro.image), input, { write: () => {} }, createLogger(ro.logLevel), nring, {
      unlinkSwapAtOnce: true,
    });
    const t0 = performance.now();
    const ng = runPrepared(np);
    const nargv = argv.filter((a, i) => a !== '--mode' && argv[i - 1] !== '--mode' && !a.startsWith('--mode='));
    compare = { command: ['shadowvisor', 'trace', ...nargv].map(shellWord).join(' '), run: { g: ng, events: readEvents(nring), ring: nring, seconds: (performance.now() - t0) / 1000 } };
  }
  const html = traceHtmlPage({
    command: ['shadowvisor', 'trace', ...argv].map(shellWord).join(' '),
    image: ro.image,
    guest,
    vcpus: ro.vcpus,
    run: { g, events, ring, seconds },
    cap: opts.last ?? DEFAULT_HTML_EVENTS,
    translate: opts.translate,
    gfn: opts.gfn,
    gva: opts.gva,
    compare,
  });
  return writeTraceHtml(dir, html);
}
