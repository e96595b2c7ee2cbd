// `shadowvisor bench scale`: how the simulator's cost grows with the memory it simulates. Four
// VMs running memhog over (nearly) all of their RAM, notifier mode at overcommit 1.5, for total
// guest memory from 64 MiB to 2 GiB: wall time, guest MIPS, swap traffic, and the host RAM the
// simulator itself uses (RSS and ArrayBuffers) per simulated GiB of guest memory.

import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nullLogger } from '../src/obs/log.js';
import { SwapCellRun } from '../src/sim/swap-cell.js';
import type { BenchOut } from './index.js';
import { parseBenchArgs } from './args.js';
import { parseCount } from '../src/cli/args.js';

const HELP = `Usage: shadowvisor bench scale [options]

Runs 4 VMs of memhog in notifier mode at overcommit 1.5 for growing total guest memory and
reports time and the simulator's own memory per simulated GiB.

Options:
  --sizes LIST    total guest memory per step, MiB (default 64,256,1024,2048)
  --vms K         VMs (default 4)
  --json          JSON lines instead of a table
  -h, --help      show this help
`;

const MIB = 1024 * 1024;

interface ScaleRow {
  bench: 'scale';
  guest_mib: number;
  host_mib: number;
  instructions: number;
  seconds: number;
  mips: number;
  swap_outs: number;
  swap_ins: number;
  rss_mib: number;
  buffers_mib: number;
  rss_mib_per_guest_gib: number;
  corrupt_or_stale: number;
}

const imageUrl = (name: string): string => fileURLToPath(new URL(`../guest-images/${name}`, import.meta.url));

export async function main(argv: string[], out: BenchOut): Promise<number> {
  const values = parseBenchArgs('scale', argv, { sizes: { type: 'string' }, vms: { type: 'string' }, json: { type: 'boolean' }, step: { type: 'boolean' } }, HELP, out);
  if (typeof values === 'number') return values;
  let vms: number;
  let sizes: number[];
  try {
    vms = parseCount('--vms', values.vms ?? '4', 1, 64);
    // --sizes: total guest MiB per step (a list of counts of MiB, as the table prints them).
    sizes = (values.sizes ?? '64,256,1024,2048').split(',').map((s) => parseCount('--sizes', s, vms * 4, 8192));
  } catch (e) {
    out.stderr(`shadowvisor: bench scale: ${(e as Error).message} (--sizes are whole MiB, at least 4 per VM)\n`);
    return 2;
  }
  const isolated = values.step === true || !import.meta.url.endsWith('.mjs');
  const image = readFileSync(imageUrl('memhog.elf'));
  const json = values.json === true;
  const emit = (row: ScaleRow): void => {
    if (json) out.stdout(`${JSON.stringify(row)}\n`);
    else
      out.stdout(
        `${String(row.guest_mib).padStart(10)}${String(row.host_mib).padStart(10)}${String(row.instructions).padStart(14)}${row.seconds.toFixed(2).padStart(9)}${row.mips.toFixed(1).padStart(7)}${String(row.swap_outs).padStart(11)}${String(row.swap_ins).padStart(10)}${String(row.buffers_mib).padStart(13)}${String(row.rss_mib).padStart(9)}${String(row.rss_mib_per_guest_gib).padStart(9)}\n`,
      );
  };
  if (!json) {
    out.stdout(`bench scale: ${vms} VMs of memhog, notifier mode, overcommit 1.5\n`);
    out.stdout(`${'guest MiB'.padStart(10)}${'host MiB'.padStart(10)}${'guest insns'.padStart(14)}${'seconds'.padStart(9)}${'MIPS'.padStart(7)}${'swap-outs'.padStart(11)}${'swap-ins'.padStart(10)}${'buffers MiB'.padStart(13)}${'RSS MiB'.padStart(9)}${'MiB/GiB'.padStart(9)}\n`);
  }
  for (const total of sizes) {
    // Each step in a fresh process (the bundle runs itself with --step): in one process, memory an
    // earlier step (or an earlier benchmark of `bench all`) left for the collector is returned to
    // the system during the next step, which then shows a small or even negative RSS growth.
    if (!isolated) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'bench', 'scale', '--step', '--json', '--vms', String(vms), '--sizes', String(total)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      if (r.status !== 0) {
        out.stderr(r.stderr);
        return r.status ?? 1;
      }
      const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as ScaleRow;
      emit(row);
      if (row.corrupt_or_stale > 0) return 1;
      continue;
    }
    const guest = Math.floor(total / vms) * MIB;
    const host = Math.floor((vms * guest) / 1.5 / 4096) * 4096;
    const mib = guest / MIB - 2;
    // Enough instructions to fill the area once (about 5,000 per page, with the re-reads during
    // the fill) and then revisit a fraction of it.
    const insns = mib * 256 * 8000;
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage();
    const t0 = performance.now();
    const cell = new SwapCellRun({
      image,
      cmdline: `mib=${mib} iters=0 report=1024`,
      vms,
      guestMemBytes: guest,
      hostMemBytes: host,
      swapBytes: vms * guest,
      mode: 'notifier',
      ksm: false,
      forkEvery: 0,
      dontneedEvery: 0,
      scratch: { offset: 0, len: 0 },
      insnsPerVm: insns,
      seed: 1,
      log: nullLogger,
    });
    let peak = process.memoryUsage().rss;
    while (!cell.advance(1 << 16)) peak = Math.max(peak, process.memoryUsage().rss);
    const buffers = process.memoryUsage().arrayBuffers - before.arrayBuffers;
    const o = cell.outcome();
    const seconds = (performance.now() - t0) / 1000;
    const rss = Math.max(peak, process.memoryUsage().rss) - before.rss;
    const perGiB = rss / MIB / ((vms * guest) / 1024 / MIB);
    const corrupt = o.vms.reduce((n, v) => n + v.corrupt + v.staleAccesses, 0);
    const row: ScaleRow = {
      bench: 'scale',
      guest_mib: (vms * guest) / MIB,
      host_mib: Math.round(host / MIB),
      instructions: o.instructions,
      seconds: Math.round(seconds * 100) / 100,
      mips: Math.round((o.instructions / seconds / 1e6) * 10) / 10,
      swap_outs: o.host.swapOuts,
      swap_ins: o.host.swapIns,
      rss_mib: Math.round(rss / MIB),
      buffers_mib: Math.round(buffers / MIB),
      rss_mib_per_guest_gib: Math.round(perGiB),
      corrupt_or_stale: corrupt,
    };
    emit(row);
    if (corrupt > 0) return 1;
  }
  if (!json) {
    out.stdout(
      'buffers MiB: typed-array memory allocated for the step (host RAM, in-memory swap device, frame metadata);\n' +
        'RSS MiB: growth of the resident set during the step (pages actually touched, plus the JS heap: shadow pages,\n' +
        'rmap, decoded code); MiB/GiB: that growth per GiB of simulated guest memory. Each step runs in a fresh process.\n',
    );
  }
  return 0;
}
