// explore's and `trace --schedule`'s --image options: parsed into an image scenario (a guest of
// one's own under the explorer's chooser), and written back as the command line that rebuilds it
// (the replay and trace commands a sweep prints must name the same image and sizes).

import { formatSize, parseCount, parseSize, UsageError } from './args.js';
import { readInputFile } from './input-file.js';
import { ImageError } from '../machine/image-error.js';
import { IMAGE_DEFAULTS, imageScenario, type ImageSpec } from '../sim/explore/image-scenario.js';
import { MEMORY_MODES, type MemoryMode } from '../hv/shadow/page-fault.js';
import { MULTIBOOT_CMDLINE_MAX } from '../machine/multiboot.js';
import { ReplayChooser } from '../sim/choice.js';
import { runOnce } from '../sim/explore/engine.js';
import type { Scenario } from '../sim/explore/scenarios.js';

export const IMAGE_OPTIONS = {
  image: { type: 'string' },
  cmdline: { type: 'string' },
  mem: { type: 'string' },
  'host-mem': { type: 'string' },
  swap: { type: 'string' },
  vcpus: { type: 'string' },
  mode: { type: 'string' },
  mmu: { type: 'string' },
  ksm: { type: 'boolean' },
  slice: { type: 'string' },
  'max-insns': { type: 'string' },
  'max-steps': { type: 'string' },
} as const;

type ImageValues = { [K in keyof typeof IMAGE_OPTIONS]?: (typeof IMAGE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** The --image scenario of these options, or null without --image (its options then refused). */
export function imageFromArgs(cmd: string, v: ImageValues): { scenario: Scenario; spec: ImageSpec } | null {
  if (v.image === undefined) {
    const stray = (Object.keys(IMAGE_OPTIONS) as (keyof ImageValues)[]).find((k) => v[k] !== undefined);
    if (stray !== undefined) throw new UsageError(`${cmd}: --${stray} needs --image FILE`);
    return null;
  }
  const memBytes = v.mem === undefined ? IMAGE_DEFAULTS.memBytes : parseSize('--mem', v.mem, { min: 2 << 20, max: 256 << 20, multiple: 4096 });
  const hostMemBytes = v['host-mem'] === undefined ? IMAGE_DEFAULTS.hostMemBytes : parseSize('--host-mem', v['host-mem'], { min: 64 << 10, max: 1 << 30, multiple: 4096 });
  const swapBytes = v.swap === undefined ? memBytes : parseSize('--swap', v.swap, { max: 1 << 30, multiple: 4096 });
  if (memBytes > hostMemBytes + swapBytes) throw new UsageError(`${cmd}: guest memory (${formatSize(memBytes)}) is more than host RAM + swap (${formatSize(hostMemBytes + swapBytes)})`);
  const mode = (v.mode ?? 'notifier') as MemoryMode;
  if (!MEMORY_MODES.includes(mode)) throw new UsageError(`--mode: unknown mode '${mode}' (${MEMORY_MODES.join(', ')})`);
  const mmu = v.mmu ?? 'shadow';
  if (mmu !== 'shadow' && mmu !== 'tdp') throw new UsageError(`--mmu: unknown MMU '${mmu}' (shadow or tdp)`);
  const cmdline = v.cmdline ?? '';
  if (new TextEncoder().encode(cmdline).length > MULTIBOOT_CMDLINE_MAX) throw new UsageError(`--cmdline: longer than ${MULTIBOOT_CMDLINE_MAX} bytes`);
  const spec: ImageSpec = {
    file: v.image,
    image: readInputFile('image', v.image),
    cmdline,
    memBytes,
    hostMemBytes,
    swapBytes,
    vcpus: v.vcpus === undefined ? 1 : parseCount('--vcpus', v.vcpus, 1, 16),
    mode,
    ...(mmu === 'tdp' ? { mmu } : {}),
    ksm: v.ksm === true,
    slice: v.slice === undefined ? IMAGE_DEFAULTS.slice : parseCount('--slice', v.slice, 1, 1 << 24),
    maxInsns: v['max-insns'] === undefined ? Infinity : parseCount('--max-insns', v['max-insns'], 1),
    maxSteps: v['max-steps'] === undefined ? IMAGE_DEFAULTS.maxSteps : parseCount('--max-steps', v['max-steps'], 1, 1 << 30),
  };
  let scenario: Scenario;
  try {
    scenario = imageScenario(spec);
    // A build error (a bad image, sizes that cannot fit) is one line now, not once per run.
    runOnce({ scenario, bug: null, chooser: new ReplayChooser([]), checks: false, maxSteps: 1 });
  } catch (e) {
    if (e instanceof RangeError || e instanceof ImageError) throw new UsageError(`${cmd}: ${v.image}: ${(e as Error).message}`);
    throw e;
  }
  return { scenario, spec };
}

/** The options that rebuild an --image scenario, as a command line. */
export function imageArgs(spec: ImageSpec): string {
  const q = (t: string): string => (/^[A-Za-z0-9_./=:,+-]+$/.test(t) ? t : `'${t.replace(/'/g, `'\\''`)}'`);
  const a = [`--image ${q(spec.file)}`];
  if (spec.cmdline !== '') a.push(`--cmdline ${q(spec.cmdline)}`);
  if (spec.memBytes !== IMAGE_DEFAULTS.memBytes) a.push(`--mem ${formatSize(spec.memBytes)}`);
  if (spec.hostMemBytes !== IMAGE_DEFAULTS.hostMemBytes) a.push(`--host-mem ${formatSize(spec.hostMemBytes)}`);
  if (spec.swapBytes !== spec.memBytes) a.push(`--swap ${formatSize(spec.swapBytes)}`);
  if (spec.vcpus !== 1) a.push(`--vcpus ${spec.vcpus}`);
  if (spec.mode !== 'notifier') a.push(`--mode ${spec.mode}`);
  if (spec.mmu === 'tdp') a.push('--mmu tdp');
  if (spec.ksm) a.push('--ksm');
  if (spec.slice !== IMAGE_DEFAULTS.slice) a.push(`--slice ${spec.slice}`);
  if (spec.maxInsns !== Infinity) a.push(`--max-insns ${spec.maxInsns}`);
  if (spec.maxSteps !== IMAGE_DEFAULTS.maxSteps) a.push(`--max-steps ${spec.maxSteps}`);
  return a.join(' ');
}
