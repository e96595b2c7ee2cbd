// Breakpoints alone let the guest run whole slices, the Cpu stopping itself before an instruction
// at a breakpoint (RunControl.coarse, Cpu.breakAt); with a watchpoint too, the guest runs one
// instruction at a time and RunControl.check looks after each (the fine loops). Two independent
// implementations of "where does a breakpoint stop": for the same breakpoints they must stop
// at the same instructions, after the same number retired, on the same vCPU, and leave the same
// run as no debugger at all. In-process (no gdb, no socket): the RunControl is driven as the
// session drives it, resumed after every stop with every breakpoint still in place.
//
// The breakpoints cover what a stop has to get right: every REP string instruction (an
// iteration that stays on its own address is no new arrival), the first instruction of every
// page (reached through a fetch that faults into the shadow MMU first), exception and IRQ
// handlers (entered by an event, not a branch: pagetest takes timer interrupts and page faults,
// cputest single-step traps and most exceptions), and a fifth of all other instructions, most of
// them in the middle of a decoded block.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeInsn, opUD } from '../../src/cpu/decode.js';
import { Insn } from '../../src/cpu/insn.js';
import { jitStats, setJitDefault } from '../../src/cpu/jit/compile.js';
import { wasmStats } from '../../src/cpu/jit/wasm-region.js';
import { NativeTarget } from '../../src/cli/gdb/native-target.js';
import { RunControl, type StopEvent } from '../../src/cli/gdb/run-control.js';
import { VmTarget } from '../../src/cli/gdb/vm-target.js';
import { parseElf32 } from '../../src/machine/elf-loader.js';
import { NativeMachine } from '../../src/machine/native-machine.js';
import { nullLogger } from '../../src/obs/log.js';
import { prepareGuest } from '../../src/sim/run-guest.js';

const MEM = 64 * 1024 * 1024;
/** Unreadable in every guest (past RAM, and never mapped): a watchpoint there never fires, but
 *  makes the run one of one-instruction units. */
const NOWHERE = 0xfffff000;

/** Breakpoints for `file` (all of its instructions, or the sample above): its segments decoded
 *  linearly (a wrong guess at a boundary is only a breakpoint nothing reaches, for both). */
function breakpoints(file: Uint8Array, all: boolean): Set<number> {
  const elf = parseElf32(file, MEM);
  const set = new Set<number>();
  const ins = new Insn(opUD);
  for (const s of elf.segments) {
    let lastPage = -1;
    for (let p = 0; p < s.filesz; ) {
      const len = decodeInsn(ins, file, s.offset + p, s.offset + s.filesz);
      if (len <= 0) {
        p++;
        continue;
      }
      const a = (s.vaddr + p) >>> 0;
      const hash = Math.imul(a, 0x9e3779b1) >>> 27;
      if (all || ins.rep !== 0 || a >>> 12 !== lastPage || hash < 7) set.add(a);
      lastPage = a >>> 12;
      p += len;
    }
  }
  return set;
}

interface Outcome {
  stops: string[];
  output: string;
  instructions: number;
  exitCode: number;
}

/** Where two lists of stops part (null: they do not), with the stops before it: a readable
 *  failure where a diff of two lists of 10^5 stops would not be. */
function firstDifference(coarse: string[], fine: string[]): string | null {
  const n = Math.max(coarse.length, fine.length);
  for (let k = 0; k < n; k++) {
    if (coarse[k] === fine[k]) continue;
    return `stop ${k} of ${coarse.length} / ${fine.length}: coarse ${coarse[k]}, one at a time ${fine[k]}; before it: ${coarse.slice(Math.max(0, k - 3), k).join(', ')}`;
  }
  return null;
}

const stopText = (s: StopEvent, eip: number, icount: number): string => `${s.vcpu} ${s.kind} ${eip.toString(16)} @${icount}`;

/** A native run, the breakpoints set once `from` instructions have run (a debugger attaching). */
function nativeRun(file: Uint8Array, bps: Set<number> | null, fine: boolean, from = 0, to = Infinity): Outcome {
  const bytes: number[] = [];
  const machine = new NativeMachine({ image: file, ramBytes: MEM, output: { write: (b: number) => void bytes.push(b) } });
  const target = new NativeTarget(machine);
  const ctl = new RunControl(target.cpus, target.phys);
  expect(ctl.runNative(machine, from, 1e9).reason).toBe('budget');
  for (const b of bps ?? []) ctl.swBreaks.add(b);
  if (fine) ctl.addWatch(NOWHERE, 4);
  expect(ctl.coarse).toBe(bps !== null && !fine);
  const stops: string[] = [];
  for (;;) {
    ctl.resumed();
    const r = ctl.runNative(machine, to, 1e9);
    const s = ctl.stop;
    if (s !== null) {
      stops.push(stopText(s, machine.cpu.eip >>> 0, machine.cpu.icount));
      ctl.stop = null;
      continue;
    }
    return { stops, output: Buffer.from(bytes).toString('latin1'), instructions: r.instructions, exitCode: r.exitCode };
  }
}

/** A run under the hypervisor; `tight`: a host of 1 MiB with KSM, so host operations (reclaim,
 *  merging) run vCPU steps at their preemption points, where no stop is made. */
function vmRun(file: Uint8Array, mmu: 'shadow' | 'tdp', vcpus: number, bps: Set<number> | null, fine: boolean, tight = false, cmdline?: string): Outcome {
  const bytes: number[] = [];
  const host = tight ? { hostMemBytes: 1 << 20, ksm: true } : {};
  const p = prepareGuest({ image: file, memBytes: MEM, mmu, vcpus, ...host, cmdline, output: { write: (b: number) => void bytes.push(b) }, log: nullLogger });
  const target = new VmTarget(p.vm, null);
  const ctl = new RunControl(target.cpus, target.phys);
  ctl.attachVm(p);
  for (const b of bps ?? []) ctl.swBreaks.add(b);
  if (fine) ctl.addWatch(NOWHERE, 4);
  const stops: string[] = [];
  for (;;) {
    ctl.resumed();
    const more = ctl.runVm(p, 1e9);
    const s = ctl.stop;
    if (s !== null) {
      const cpu = target.cpus[s.vcpu]!;
      stops.push(stopText(s, cpu.eip >>> 0, cpu.icount));
      ctl.stop = null;
    }
    if (!more) break;
  }
  const r = p.run.result!;
  return { stops, output: Buffer.from(bytes).toString('latin1'), instructions: r.instructions, exitCode: r.exitCode };
}

/** Runs with a breakpoint on every instruction (every stop a guest can make); the rest sample. */
const ALL = new Set(['pagetest native', 'pagetest shadow', 'smp shadow']);

const image = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../guest-images/${name}.elf`, import.meta.url)));

describe('gdb breakpoints: whole slices stop where one-instruction units stop', () => {
  // As the CLI runs guests: with the compiler, whose regions cross blocks without the check.
  beforeAll(() => setJitDefault(true));
  afterAll(() => setJitDefault(false));

  it('cpubench-short, --mmu native, breakpoints set in code the compiler has compiled', () => {
    const file = image('cpubench-short');
    const bps = breakpoints(file, false);
    const [from, to] = [3_000_000, 3_400_000];
    const compiled = (): number => jitStats.regions + wasmStats.regions;
    const regions = compiled();
    const plain = nativeRun(file, null, false, 0, to);
    expect(compiled()).toBeGreaterThan(regions);
    const coarse = nativeRun(file, bps, false, from, to);
    const fine = nativeRun(file, bps, true, from, to);
    expect(coarse.stops.length).toBeGreaterThan(1000);
    expect(firstDifference(coarse.stops, fine.stops)).toBe(null);
    for (const o of [coarse, fine]) expect({ ...o, stops: 0 }).toEqual({ ...plain, stops: 0 });
  });

  // cputest from its 5.5 millionth instruction on: its exception, self-modifying-code and
  // single-step groups (the ALU groups before them would cost one-instruction units 10 s).
  for (const [name, from] of [['pagetest', 0], ['cputest', 5_500_000]] as const) {
    it(`${name}, --mmu native${from > 0 ? `, from instruction ${from}` : ''}`, () => {
      const file = image(name);
      const bps = breakpoints(file, ALL.has(`${name} native`));
      const plain = nativeRun(file, null, false);
      const coarse = nativeRun(file, bps, false, from);
      const fine = nativeRun(file, bps, true, from);
      expect(coarse.stops.length).toBeGreaterThan(1000);
      expect(firstDifference(coarse.stops, fine.stops)).toBe(null);
      for (const o of [coarse, fine]) expect({ ...o, stops: 0 }).toEqual({ ...plain, stops: 0 });
      expect(plain.exitCode).toBe(0);
    });
  }

  // smp: a vCPU's fetch that faults into the MMU ends its step, and the other vCPU runs before
  // the fault completes: a breakpoint there stops at once, before that. memhog: its reclaim runs
  // vCPU steps inside host operations, which pass breakpoints; where such a step leaves EIP is
  // passed too.
  const vmCases = [
    ['smp', 'shadow', 2, true, ''],
    ['pagetest', 'tdp', 1, false, ''],
    ['pagetest', 'shadow', 1, true, ''],
    ['memhog', 'shadow', 1, true, 'iters=30'],
  ] as const;
  for (const [name, mmu, vcpus, tight, cmdline] of vmCases) {
    it(`${name}${cmdline === '' ? '' : ` ${cmdline}`}, --mmu ${mmu}, ${vcpus} vCPU${vcpus > 1 ? 's' : ''}${tight ? ', 1 MiB host with KSM' : ''}`, () => {
      const file = image(name);
      const bps = breakpoints(file, ALL.has(`${name} ${mmu}`));
      const plain = vmRun(file, mmu, vcpus, null, false, tight, cmdline);
      const coarse = vmRun(file, mmu, vcpus, bps, false, tight, cmdline);
      const fine = vmRun(file, mmu, vcpus, bps, true, tight, cmdline);
      expect(coarse.stops.length).toBeGreaterThan(1000);
      expect(firstDifference(coarse.stops, fine.stops)).toBe(null);
      if (vcpus > 1) expect(new Set(coarse.stops.map((s) => s.split(' ')[0]))).toEqual(new Set(['0', '1']));
      for (const o of [coarse, fine]) expect({ ...o, stops: 0 }).toEqual({ ...plain, stops: 0 });
      expect(plain.exitCode).toBe(0);
    });
  }
});
