// Drive a VM's vCPU with tiny hand-assembled ring-0 snippets (each ends in HLT), so tests can make
// the guest edit its own page tables, flush, switch CR3 and touch memory exactly as they choose,
// through the real Cpu and the real shadow MMU. The encodings are the plain IA-32 forms.

import type { Vm } from '../../src/hv/vm.js';
import { STEP_EFAULT, STEP_HALTED, STEP_TRIPLE_FAULT } from '../../src/hv/vcpu.js';

export class Asm {
  readonly bytes: number[] = [];
  private d32(v: number): this {
    this.bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    return this;
  }
  movEaxImm(v: number): this {
    this.bytes.push(0xb8);
    return this.d32(v);
  }
  movEaxMem(addr: number): this {
    this.bytes.push(0xa1);
    return this.d32(addr);
  }
  movMemEax(addr: number): this {
    this.bytes.push(0xa3);
    return this.d32(addr);
  }
  movMemImm(addr: number, v: number): this {
    this.bytes.push(0xc7, 0x05);
    return this.d32(addr).d32(v);
  }
  invlpg(addr: number): this {
    this.bytes.push(0x0f, 0x01, 0x3d);
    return this.d32(addr);
  }
  movCr3Eax(): this {
    this.bytes.push(0x0f, 0x22, 0xd8);
    return this;
  }
  movEaxCr3(): this {
    this.bytes.push(0x0f, 0x20, 0xd8);
    return this;
  }
  movCr0Eax(): this {
    this.bytes.push(0x0f, 0x22, 0xc0);
    return this;
  }
  hlt(): this {
    this.bytes.push(0xf4);
    return this;
  }
}

/** Where snippets are placed (guest-physical = linear: the driver's pages are identity mapped). */
export const CODE_GPA = 0x2000;

/** Write `asm` at CODE_GPA through the host and run vCPU 0 until its HLT. Returns EAX. */
export function runSnippet(vm: Vm, asm: Asm, maxSteps = 10_000): number {
  const code = new Uint8Array([...asm.hlt().bytes]);
  vm.host.accessUser(vm.mm, vm.hva + CODE_GPA, code, true);
  // The host wrote the bytes, not a vCPU store: tell the decoded-code cache.
  const frame = vm.host.frameAt(vm.mm, vm.hva + CODE_GPA);
  if (frame >= 0) vm.code.invalidatePage(frame);
  const v = vm.vcpus[0]!;
  v.cpu.halted = false;
  v.cpu.eip = CODE_GPA;
  for (let i = 0; i < maxSteps; i++) {
    const r = v.step(1000);
    if (v.faulting) {
      if (v.finishFault() === STEP_EFAULT) throw new Error(`EFAULT at gfn ${v.faultOut.gfn}`);
      continue;
    }
    if (r === STEP_HALTED) return v.cpu.regs[0]!;
    if (r === STEP_TRIPLE_FAULT) throw new Error(`triple fault at ${v.cpu.tripleFaultEip.toString(16)}`);
    if (r === STEP_EFAULT) throw new Error('EFAULT');
  }
  throw new Error('snippet did not reach HLT');
}
