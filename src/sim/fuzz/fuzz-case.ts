// One fuzz case: what it is (derived from the sweep's seed and its index, so any case can be
// rebuilt from two numbers), its guest image, and its run under `--mmu native` and under
// `--mmu shadow` with a tiny host (constant swapping), each with the interpreter and with the
// compiler, judged against the contract: bad input is one line with status 2, anything else
// runs to a clean end inside its instruction budget, both MMUs show the guest exactly the same
// machine (serial bytes, exit status, instructions retired, final registers), and so does the
// compiler under each MMU. Runs in-process (tests) or in a worker thread (bench fuzz, where a
// wall-time watchdog catches a real hang).

import { GuestError } from '../../cpu/errors.js';
import { ImageError } from '../../machine/image-error.js';
import { NativeMachine } from '../../machine/native-machine.js';
import { nullLogger } from '../../obs/log.js';
import { EXIT_STATUS_BAD_INPUT, EXIT_STATUS_INTERNAL } from '../../obs/exit-status.js';
import { Prng } from '../../host/prng.js';
import { prepareGuest, runPrepared, type PreparedGuest } from '../run-guest.js';
import { eagerJit, jitDefault, jitStats, jitTuning, setJitDefault } from '../../cpu/jit/compile.js';
import { wasmStats } from '../../cpu/jit/wasm-region.js';
import { applyMutations, mutationsFor } from './image-mutate.js';
import { buildStreamGuest, type StreamCaseSpec } from './stream-guest.js';
import { GUEST_RAM } from './stream-layout.js';
import type { StreamProfile } from './stream-item.js';

export type CaseSpec =
  | { kind: 'image'; seed: number; image: number; keep?: number[] }
  | { kind: 'stream'; stream: StreamCaseSpec };

/** What one MMU made of a case. */
export interface RunOutcome {
  status: number;
  reason: string;
  message: string;
  /** COM1 output, one character per byte. */
  serial: string;
  instructions: number;
  /** EAX..EDI, EIP, EFLAGS at the end (empty when the image was refused). */
  regs: number[];
  /** An internal error's first line and stack (status 70). */
  internal?: string;
}

export type FindingKind = 'internal-error' | 'multi-line-error' | 'hang' | 'native-shadow' | 'native-tdp' | 'jit-interp' | 'qemu';

export interface Finding {
  kind: FindingKind;
  detail: string;
}

export interface CaseResult {
  native: RunOutcome;
  shadow: RunOutcome;
  tdp: RunOutcome;
  findings: Finding[];
  /** WebAssembly and JavaScript regions compiled by the case's runs with the compiler on. */
  compiled: number;
}

/** The committed images the "image" kind mutates (the worker receives their bytes). */
export interface FuzzImages {
  names: string[];
  bytes: Uint8Array[];
}

/** Budgets: instruction bounds every run (the wall-time bound is the worker's). */
export const STREAM_MAX_INSNS = 2_000_000;
export const IMAGE_MAX_INSNS = 300_000;
export const IMAGE_RAM = 8 * 1024 * 1024;
/** The tiny hosts under the shadow runs: far less RAM than the guest, so it is swapped all the time. */
export const STREAM_HOST_MEM = 160 * 1024;
export const IMAGE_HOST_MEM = 512 * 1024;

/**
 * Documented differences between shadowvisor and QEMU 7.2 that streams for a QEMU comparison
 * avoid, or that the comparison masks. Everything else must match byte for byte.
 */
export const QEMU_DIFFERENCES: readonly { what: string; how: string }[] = [
  { what: 'arithmetic flags Intel leaves undefined (MUL/IMUL, shifts by >1, BSF/BSR, DIV, SHLD/SHRD)', how: 'the dump masks flags the generator does not know to be defined; no instruction consumes one' },
  { what: 'BSF/BSR destination on a zero source', how: 'the source is forced non-zero' },
  { what: 'RDTSC (virtual time) and CPUID values', how: 'QEMU streams overwrite the registers right after' },
  { what: 'guest-physical addresses outside RAM (ABI: reads all ones)', how: 'not mapped in QEMU streams' },
  { what: 'low memory below 1 MiB (BIOS data on QEMU)', how: 'QEMU streams never reach it (no accesses through the PD[2] page)' },
  { what: 'ports other than COM1 (QEMU has more devices)', how: 'QEMU streams use COM1 only' },
  { what: 'x87 opcodes (ABI: no FPU, #UD)', how: 'not generated for QEMU' },
  { what: 'LOCK where the SDM forbids it: ours #UD as on hardware; QEMU 7.2 runs some (LOCK MOV to memory, LOCK XCHG between registers)', how: 'no LOCK prefix is generated' },
  { what: 'HLT with IF=0 (ours: exit 1; QEMU waits forever)', how: 'not generated for QEMU' },
  { what: 'LTR of a null selector (SDM: #GP(0); QEMU 7.2 loads it)', how: 'QEMU streams load the busy TSS selector' },
  { what: 'exit device status (ours v & 0xff; QEMU (v << 1) | 1)', how: 'QEMU status converted before comparing' },
  { what: 'a triple fault (ours: exit 3; QEMU -no-reboot: status 0)', how: 'QEMU status 0 read as 3 when ours is 3' },
  { what: 'segment descriptor accessed bit (QEMU sets it in the GDT on a load; ours never writes descriptors)', how: 'the runtime GDT has it set already' },
  { what: 'CMPS reads ES:EDI first on QEMU, DS:ESI first here (A bits when the second read faults)', how: 'no CMPS in QEMU streams under paging' },
  { what: 'a shift or rotate of a memory operand by 0 (ours writes it back, setting D; QEMU 7.2 only reads it)', how: 'not generated for QEMU' },
  { what: 'a read-modify-write whose access faults: ours checks write permission first (a write-intent access, W=1 in the #PF error code, as Intel reports it); QEMU 7.2 loads first (W=0, A bits set by the load, another CR2 when it straddles pages)', how: 'QEMU streams aim RMW operands only at the two scratch pages around EBP, which stay user+writable' },
];

function oneCaseKind(rnd: Prng): 'image' | 'isa' | 'system' | 'hostile' {
  const k = rnd.below(100);
  return k < 25 ? 'image' : k < 50 ? 'isa' : k < 80 ? 'system' : 'hostile';
}

/** Case `index` of the sweep seeded `seed`. Every 4th stream case of kind isa/system is QEMU-comparable. */
export function caseAt(seed: number, index: number, imageCount: number): CaseSpec {
  const rnd = new Prng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const caseSeed = rnd.nextU32();
  const kind = oneCaseKind(rnd);
  if (kind === 'image') return { kind: 'image', seed: caseSeed, image: rnd.below(imageCount) };
  const qemu = kind !== 'hostile' && rnd.below(4) === 0;
  const profile: StreamProfile = {
    paging: kind === 'hostile' || rnd.below(2) === 0,
    ring3: rnd.below(4) === 0,
    system: kind !== 'isa',
    qemu,
    hostile: kind === 'hostile',
  };
  return { kind: 'stream', stream: { seed: caseSeed, profile, count: 8 + rnd.below(rnd.below(2) === 0 ? 40 : 160) } };
}

/** The image a case runs (and, for streams, the flags the dump treats as defined). */
export function caseImage(spec: CaseSpec, images: FuzzImages): { image: Uint8Array; defined: number; items: number } {
  if (spec.kind === 'stream') {
    const g = buildStreamGuest(spec.stream);
    return { image: g.image, defined: g.defined, items: g.items.length };
  }
  const base = images.bytes[spec.image]!;
  const all = mutationsFor(base, spec.seed);
  const list = spec.keep === undefined ? all : all.filter((_, k) => spec.keep!.includes(k));
  return { image: applyMutations(base, list), defined: 0, items: all.length };
}

/** Guest RAM, budget and host size of a case's runs (the replay command uses the same). */
export function caseMachine(spec: CaseSpec): { ram: number; maxInsns: number; hostMem: number } {
  return spec.kind === 'stream'
    ? { ram: GUEST_RAM, maxInsns: STREAM_MAX_INSNS, hostMem: STREAM_HOST_MEM }
    : { ram: IMAGE_RAM, maxInsns: IMAGE_MAX_INSNS, hostMem: IMAGE_HOST_MEM };
}

/** COM1 output as RunOutcome.serial holds it: the first 64 KiB as characters, and past that the
 *  length and an FNV-1a hash of all of it, so a difference anywhere still shows. */
export function serialText(bytes: ArrayLike<number>): string {
  const n = bytes.length;
  let head = '';
  for (let k = 0; k < n && k < 1 << 16; k += 4096) head += String.fromCharCode(...Array.prototype.slice.call(bytes, k, Math.min(k + 4096, n, 1 << 16)));
  if (n <= 1 << 16) return head;
  let h = 0x811c9dc5;
  for (let k = 0; k < n; k++) h = Math.imul(h ^ bytes[k]!, 0x01000193);
  return `${head}...(${n} bytes, FNV-1a ${(h >>> 0).toString(16).padStart(8, '0')})`;
}

function serialSink(): { write(b: number): void; text(): string } {
  const out: number[] = [];
  return { write: (b) => void out.push(b), text: () => serialText(out) };
}

/** The CLI's reading of a throw: bad input (status 2: a refused image or host size while
 *  building the machine, a guest the ABI refuses while running) or an internal error (70). */
function thrown(e: unknown, serial: string, instructions: number, building: boolean): RunOutcome {
  if ((building && (e instanceof ImageError || e instanceof RangeError)) || e instanceof GuestError) {
    return { status: EXIT_STATUS_BAD_INPUT, reason: 'bad-input', message: e.message, serial, instructions, regs: [] };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    status: EXIT_STATUS_INTERNAL,
    reason: 'internal',
    message: err.message.split('\n')[0]!,
    serial,
    instructions,
    regs: [],
    internal: err.stack ?? err.message,
  };
}

export function runNative(image: Uint8Array, ram: number, maxInsns: number): RunOutcome {
  const out = serialSink();
  let m: NativeMachine;
  try {
    m = new NativeMachine({ image, ramBytes: ram, output: out });
  } catch (e) {
    return thrown(e, out.text(), 0, true);
  }
  try {
    const r = m.run(maxInsns);
    const c = m.cpu;
    return { status: r.exitCode, reason: r.reason, message: r.message, serial: out.text(), instructions: r.instructions, regs: [...c.regs].map((v) => v >>> 0).concat([c.eip >>> 0, c.getEflags() >>> 0]) };
  } catch (e) {
    return thrown(e, out.text(), m.cpu.icount, false);
  }
}

/** The guest under the hypervisor on the simulated host: the shadow MMU, or (mmu 'tdp') the
 *  EPT-like two-dimensional paging, which walks the guest's own tables as the native MMU does. */
export function runShadow(
  image: Uint8Array,
  ram: number,
  maxInsns: number,
  hostMem: number,
  mmu: 'shadow' | 'tdp' = 'shadow',
  opts: { ksm?: boolean; onEnd?: (p: PreparedGuest) => void } = {},
): RunOutcome {
  const out = serialSink();
  let p: PreparedGuest;
  try {
    p = prepareGuest({ image, memBytes: ram, hostMemBytes: hostMem, swapBytes: ram, output: out, log: nullLogger, maxInsns, seed: 1, mmu, ksm: opts.ksm });
  } catch (e) {
    return thrown(e, out.text(), 0, true);
  }
  const c = p.vm.vcpus[0]!.cpu;
  try {
    const r = runPrepared(p).result;
    opts.onEnd?.(p);
    return { status: r.exitCode, reason: r.reason, message: r.message, serial: out.text(), instructions: r.instructions, regs: [...c.regs].map((v) => v >>> 0).concat([c.eip >>> 0, c.getEflags() >>> 0]) };
  } catch (e) {
    return thrown(e, out.text(), c.icount, false);
  }
}

const hex = (v: number): string => (v >>> 0).toString(16);

/** The contract checks on one run. */
function runFindings(which: string, o: RunOutcome, findings: Finding[]): void {
  if (o.status === EXIT_STATUS_INTERNAL) findings.push({ kind: 'internal-error', detail: `${which}: ${o.message}` });
  else if (/[\n\r]/.test(o.message) || o.message.length === 0 || o.message.length > 400) {
    findings.push({ kind: 'multi-line-error', detail: `${which}: status ${o.status}: ${JSON.stringify(o.message.slice(0, 200))}` });
  }
}

/** Where the two runs differ, in one line ('' when they agree). */
export function compareRuns(a: RunOutcome, b: RunOutcome): string {
  if (a.status !== b.status) return `exit status ${a.status} vs ${b.status} (${a.message} / ${b.message})`;
  if (a.serial !== b.serial) {
    let k = 0;
    while (k < a.serial.length && a.serial[k] === b.serial[k]) k++;
    if (k >= 1 << 16) {
      // past the 64 KiB serialText keeps: its length and hash are all there is to say
      const tail = (s: string): string => /\((\d+ bytes, FNV-1a [0-9a-f]{8})\)$/.exec(s)?.[1] ?? `${s.length} bytes`;
      return `serial differs past its first 64 KiB: ${tail(a.serial)} vs ${tail(b.serial)}`;
    }
    const line = (s: string): string => JSON.stringify(s.slice(s.lastIndexOf('\n', k - 1) + 1, k + 60).split('\n')[0]);
    return `serial differs at byte ${k}: ${line(a.serial)} vs ${line(b.serial)}`;
  }
  if (a.instructions !== b.instructions) return `instructions retired ${a.instructions} vs ${b.instructions}`;
  const names = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags'];
  for (let k = 0; k < Math.max(a.regs.length, b.regs.length); k++) {
    if (a.regs[k] !== b.regs[k]) return `${names[k]} ${hex(a.regs[k] ?? 0)} vs ${hex(b.regs[k] ?? 0)}`;
  }
  return '';
}

/** The compiler's eagerness in the fuzzers' runs: `--jit-hot` in their replay commands. */
export const EAGER_JIT_HOT = 20;

/**
 * f with the interpreter alone (on = false) or with the compiler, made eager enough that a case
 * of a few million instructions compiles its loops (eagerJit(EAGER_JIT_HOT): regions after 20
 * block runs, no compile budget), exactly as `run --jit on --jit-hot 20` does, so a finding's
 * replay compiles the same regions. Returns f's result and the regions compiled meanwhile.
 */
export function withCompiler<T>(on: boolean, f: () => T): { v: T; compiled: number } {
  const wasOn = jitDefault();
  const saved = { ...jitTuning };
  const before = jitStats.regions + wasmStats.regions;
  setJitDefault(on);
  if (on) eagerJit(EAGER_JIT_HOT);
  try {
    return { v: f(), compiled: jitStats.regions + wasmStats.regions - before };
  } finally {
    setJitDefault(wasOn);
    Object.assign(jitTuning, saved);
  }
}

/** Run a case under both MMUs, with the interpreter and with the compiler, and judge it. */
export function runCase(spec: CaseSpec, images: FuzzImages): CaseResult {
  const { image } = caseImage(spec, images);
  const mach = caseMachine(spec);
  const native = withCompiler(false, () => runNative(image, mach.ram, mach.maxInsns)).v;
  const shadow = withCompiler(false, () => runShadow(image, mach.ram, mach.maxInsns, mach.hostMem)).v;
  const nativeJit = withCompiler(true, () => runNative(image, mach.ram, mach.maxInsns));
  const shadowJit = withCompiler(true, () => runShadow(image, mach.ram, mach.maxInsns, mach.hostMem));
  const tdp = withCompiler(false, () => runShadow(image, mach.ram, mach.maxInsns, mach.hostMem, 'tdp')).v;
  const findings: Finding[] = [];
  runFindings('native', native, findings);
  runFindings('shadow', shadow, findings);
  runFindings('tdp', tdp, findings);
  runFindings('native --jit on', nativeJit.v, findings);
  runFindings('shadow --jit on', shadowJit.v, findings);
  // The compiler's contract holds for any guest, mutated images too: with it on, each MMU shows
  // exactly the machine the interpreter shows (the same message as well: a fault's EIP in it).
  if (findings.length === 0) {
    for (const [which, jit, interp] of [['native', nativeJit.v, native], ['shadow', shadowJit.v, shadow]] as const) {
      const d = compareRuns(interp, jit) || (interp.message !== jit.message ? `message ${JSON.stringify(interp.message)} vs ${JSON.stringify(jit.message)}` : '');
      if (d !== '') findings.push({ kind: 'jit-interp', detail: `${which}: interpreter vs compiler: ${d}` });
    }
  }
  // Streams keep the TLB discipline (an INVLPG or CR3 write after every PTE change), so both
  // MMUs must show the same machine. A mutated image need not: an edited INVLPG operand leaves
  // a stale translation that x86 allows a TLB to keep (GUEST-ABI "Paging") and the shadow MMU,
  // which tracks page-table writes, does not. Images are judged by the contract alone.
  if (findings.length === 0 && spec.kind === 'stream') {
    const d = compareRuns(native, shadow);
    if (d !== '') findings.push({ kind: 'native-shadow', detail: d });
  }
  // Two-dimensional paging keeps the guest's own TLB discipline (stale entries included) and only
  // adds a second translation the guest cannot see, swapped under it: it must show the native
  // machine exactly, for mutated images too.
  if (findings.length === 0) {
    const d = compareRuns(native, tdp);
    if (d !== '') findings.push({ kind: 'native-tdp', detail: d });
  }
  return { native, shadow, tdp, findings, compiled: nativeJit.compiled + shadowJit.compiled };
}

/** A one-line name of a case for progress and reports. */
export function describeCase(spec: CaseSpec, images: FuzzImages): string {
  if (spec.kind === 'image') return `image ${images.names[spec.image]} mutations seed ${spec.seed}${spec.keep ? ` keep [${spec.keep.join(',')}]` : ''}`;
  const p = spec.stream.profile;
  const flags = [p.paging ? 'paging' : 'flat', p.ring3 ? 'ring3' : 'ring0', p.system ? 'system' : 'isa', p.qemu ? 'qemu' : '', p.hostile ? 'hostile' : ''].filter((s) => s);
  return `stream seed ${spec.stream.seed} (${flags.join(' ')}) ${spec.stream.keep ? `${spec.stream.keep.length} of ${spec.stream.count}` : spec.stream.count} items`;
}
