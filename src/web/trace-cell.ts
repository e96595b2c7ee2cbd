// The web page's traced preset: one small VM running memhog with the event ring on, in the page's
// worker, rendered into the very page `shadowvisor trace --html` writes (timeline, chains, the
// step-through player; for pin and none, the UNSEEN chains beside a notifier run of the same
// seed). The same parameters give the same page, byte for byte, as the trace command's model.

import { EventRing, readEvents } from '../obs/event-ring.js';
import { nullLogger } from '../obs/log.js';
import { runGuest, type GuestRun } from '../sim/run-guest.js';
import { parseIntegrity } from '../sim/swap-cell.js';
import type { MemoryMode } from '../hv/shadow/page-fault.js';
import { traceHtmlPage, type TracedRun } from '../cli/trace-html-page.js';
import { checkParams, webCellSpec, type WebCellParams, type WebSnapshot } from './web-cell.js';

/** The preset: one VM of 4 MiB on 2 MiB of host RAM, 3 M instructions (a few thousand events). */
export const TRACE_PRESET = { vms: 1, guestMib: 4, overcommit: 2, insnsPerVm: 3_000_000 } as const;
/** Events embedded in the page (the latest): enough for the whole preset run. */
export const TRACE_PAGE_EVENTS = 20_000;

export interface TraceCellResult {
  html: string;
  events: number;
  snap: WebSnapshot;
}

/** The parameters the preset runs with: the page's mode, seed and KSM over TRACE_PRESET. */
export function tracePresetParams(p: WebCellParams): WebCellParams {
  return checkParams({ ...p, ...TRACE_PRESET });
}

function traced(p: WebCellParams, image: Uint8Array, mode: MemoryMode, now: () => number): { run: TracedRun; output: string } {
  const spec = webCellSpec({ ...p, mode }, image);
  const ring = new EventRing(1 << 16);
  const bytes: number[] = [];
  const t0 = now();
  const g: GuestRun = runGuest({
    image,
    memBytes: spec.guestMemBytes,
    hostMemBytes: spec.hostMemBytes,
    swapBytes: spec.swapBytes,
    mode,
    ...(spec.mmu === undefined ? {} : { mmu: spec.mmu }),
    ksm: spec.ksm,
    seed: spec.seed,
    maxInsns: spec.insnsPerVm,
    cmdline: spec.cmdline,
    output: { write: (b: number) => void bytes.push(b) },
    log: nullLogger,
    ring,
    detect: true,
  });
  let output = '';
  for (let i = 0; i < bytes.length; i += 8192) output += String.fromCharCode(...bytes.slice(i, i + 8192));
  return { run: { g, events: readEvents(ring), ring, seconds: (now() - t0) / 1000 }, output };
}

/** Run the preset (and, for pin and none, the notifier run of the same seed) and render the page. */
export function traceCell(params: WebCellParams, image: Uint8Array, now: () => number): TraceCellResult {
  const p = tracePresetParams(params);
  const spec = webCellSpec(p, image);
  const main = traced(p, image, p.mode, now);
  const flags = `${p.mmu === 'tdp' ? '--mmu tdp ' : ''}--mem ${p.guestMib}M --host-mem ${spec.hostMemBytes / 1024}K --swap ${spec.swapBytes / 1024}K${p.ksm ? ' --ksm' : ''} --seed ${p.seed} --max-insns ${p.insnsPerVm} --cmdline '${spec.cmdline}'`;
  const command = (mode: string): string => `shadowvisor trace memhog.elf --mode ${mode} ${flags} --html DIR   (run by the web page's worker)`;
  const compare = p.mode === 'notifier' ? undefined : { command: command('notifier'), run: traced(p, image, 'notifier', now).run };
  const html = traceHtmlPage({
    command: command(p.mode),
    image: 'memhog.elf',
    guest: `memhog.elf (${spec.cmdline}), ${p.guestMib}M guest RAM on ${spec.hostMemBytes / 1024}K of host RAM, 1 vCPU${p.ksm ? ', KSM' : ''}, seed ${p.seed}`,
    vcpus: 1,
    run: main.run,
    cap: TRACE_PAGE_EVENTS,
    compare,
  });
  const { g } = main.run;
  const k = g.vm.stats as unknown as Record<string, number>;
  const h = g.host.stats as unknown as Record<string, number>;
  const integrity = parseIntegrity(main.output);
  const r = g.result;
  const stale = k.stale_accesses ?? 0;
  const lines = main.output.split('\n').filter((l) => l.trim() !== '');
  const snap: WebSnapshot = {
    done: true,
    schedulerSteps: 0,
    instructions: r.instructions,
    swapOuts: h.swapOuts ?? 0,
    swapIns: h.swapIns ?? 0,
    staleAccesses: stale,
    invalidations: k.invalidations ?? 0,
    sptesZapped: k.sptes_zapped_by_invalidation ?? 0,
    remoteTlbFlushes: k.remote_tlb_flush ?? 0,
    faultRetries: (k.pf_retry_in_progress ?? 0) + (k.pf_retry_seq ?? 0) + (k.pf_retry_unsafe ?? 0),
    pinnedReclaimFailures: h.reclaimFailPinned ?? 0,
    oomKills: h.oomKills ?? 0,
    ksmMerges: h.ksmMerges ?? 0,
    verified: integrity.verified,
    corrupt: integrity.corrupt,
    vms: [{ name: 'vm0', state: r.reason, exitCode: r.exitCode, instructions: r.instructions, verified: integrity.verified, corrupt: integrity.corrupt, staleAccesses: stale, lastLine: (lines[lines.length - 1] ?? '').slice(0, 120) }],
    outcome: stale > 0 ? 'stale' : r.reason === 'budget' || r.reason === 'exit' ? 'ok' : r.reason,
    verdict: `${main.run.events.length.toLocaleString('en-US')} events recorded; ${stale} stale access${stale === 1 ? '' : 'es'}; open the timeline`,
  };
  return { html, events: main.run.events.length, snap };
}
