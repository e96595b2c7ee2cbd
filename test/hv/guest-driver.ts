// Drive a VM's vCPU from a test: a fixed page of ring-0 routines (each ends in HLT) is written
// into guest memory once, before the guest first runs; a test then loads registers and calls a
// routine, so the guest itself edits its page tables, flushes, switches CR3 and touches memory,
// through the real Cpu and the real shadow MMU. The code is never rewritten by the host, so the
// driver stays valid even where host writes and guest views diverge (pin and none modes).

import type { Vm } from '../../src/hv/vm.js';
import { CR0_PE, CR0_PG, PTE_P, PTE_RW } from '../../src/cpu/paging.js';
import { STEP_EFAULT, STEP_HALTED, STEP_TRIPLE_FAULT } from '../../src/hv/vcpu.js';

/** Where the routines live (guest-physical; identity mapped by tests that turn paging on). */
export const CODE_GPA = 0x2000;

// Routine offsets within the code page.
const STORE = 0x00; //  mov [ebx], eax ; hlt
const STORE_INVLPG = 0x10; // mov [ebx], eax ; invlpg [ecx] ; hlt
const LOAD = 0x20; // mov eax, [ebx] ; hlt
const SET_CR3 = 0x30; // mov cr3, eax ; hlt
const RELOAD_CR3 = 0x40; // mov eax, cr3 ; mov cr3, eax ; hlt
const SET_CR0 = 0x50; // mov cr0, eax ; hlt
const STORE3 = 0x60; // mov [ebx], eax ; mov [ebx+4], eax ; mov [ebx+8], eax ; hlt

const ROUTINES: [number, number[]][] = [
  [STORE, [0x89, 0x03, 0xf4]],
  [STORE_INVLPG, [0x89, 0x03, 0x0f, 0x01, 0x39, 0xf4]],
  [LOAD, [0x8b, 0x03, 0xf4]],
  [SET_CR3, [0x0f, 0x22, 0xd8, 0xf4]],
  [RELOAD_CR3, [0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0xf4]],
  [SET_CR0, [0x0f, 0x22, 0xc0, 0xf4]],
  [STORE3, [0x89, 0x03, 0x89, 0x43, 0x04, 0x89, 0x43, 0x08, 0xf4]],
];

export class GuestDriver {
  constructor(readonly vm: Vm) {
    const page = new Uint8Array(4096);
    for (const [off, bytes] of ROUTINES) page.set(bytes, off);
    vm.host.accessUser(vm.mm, vm.hva + CODE_GPA, page, true);
  }

  /** Run routine `off` with EAX/EBX/ECX set; returns EAX, or 'efault' when KVM_RUN would fail. */
  call(off: number, eax: number, ebx = 0, ecx = 0, allowEfault = false): number {
    const v = this.vm.vcpus[0]!;
    const cpu = v.cpu;
    cpu.regs[0] = eax;
    cpu.regs[3] = ebx;
    cpu.regs[1] = ecx;
    cpu.halted = false;
    cpu.eip = CODE_GPA + off;
    for (let i = 0; i < 10_000; i++) {
      let r = v.step(1000);
      if (v.faulting) r = v.finishFault();
      if (r === STEP_EFAULT) {
        if (allowEfault) return Number.NaN;
        throw new Error(`EFAULT at gfn ${v.faultOut.gfn}`);
      }
      if (r === STEP_HALTED) return cpu.regs[0]! | 0;
      if (r === STEP_TRIPLE_FAULT) throw new Error(`triple fault at 0x${cpu.tripleFaultEip.toString(16)}`);
    }
    throw new Error('routine did not reach HLT');
  }

  store(addr: number, val: number): void {
    this.call(STORE, val, addr);
  }
  /** Three stores to consecutive words (for write-flooding tests). */
  store3(addr: number, val: number): void {
    this.call(STORE3, val, addr);
  }
  storeInvlpg(addr: number, val: number, flush: number): void {
    this.call(STORE_INVLPG, val, addr, flush);
  }
  load(addr: number): number {
    return this.call(LOAD, 0, addr);
  }
  setCr3(v: number): void {
    this.call(SET_CR3, v);
  }
  reloadCr3(): void {
    this.call(RELOAD_CR3, 0);
  }
  setCr0(v: number): void {
    this.call(SET_CR0, v);
  }
  /** A store that must fail with EFAULT; returns true if it did. */
  storeExpectEfault(addr: number, val: number): boolean {
    return Number.isNaN(this.call(STORE, val, addr, 0, true));
  }
  loadExpectEfault(addr: number): boolean {
    return Number.isNaN(this.call(LOAD, 0, addr, 0, true));
  }
}

/** Identity-map the first 4 MiB with one page table (PD at gfn 0x10, PT at gfn 0x11, the first
 *  128 PTEs present) and turn paging on. */
export function identityPaging(vm: Vm, driver: GuestDriver): void {
  const pd = 0x10000;
  const pt = 0x11000;
  for (let i = 0; i < 128; i++) vm.guestMem.writeGpa32(pt + i * 4, (i << 12) | PTE_P | PTE_RW);
  vm.guestMem.writeGpa32(pd, pt | PTE_P | PTE_RW);
  const cpu = vm.vcpus[0]!.cpu;
  cpu.cr3 = pd;
  driver.setCr0(CR0_PG | CR0_PE | 0x10);
}
