// Guards of the hypervisor that no other test broke when they were removed by hand (the mutation
// sweep of issue 12): each test here fails when its guard is taken out.

import { describe, expect, it } from 'vitest';
import { checkVmInvariants } from '../../src/hv/check.js';
import { GuestDriver } from './guest-driver.js';
import { smallVm } from './helpers.js';

const DATA = 16;

describe('->release (exit_mmap) zaps the shadow MMU before the process memory goes', () => {
  it('between release and the VM fd closing, the guest can no longer reach the exiting process memory', () => {
    const { host, vm } = smallVm();
    const d = new GuestDriver(vm);
    for (let g = 0; g < 8; g++) d.store((DATA + g) * 4096, 0x100 + g);
    expect(vm.stats.sptes_present).toBeGreaterThan(8);
    // A vCPU thread still running while the VMM process exits: it gets to run right after
    // release (the unmap that follows no longer reaches KVM: release unhooked it), and again
    // after every page was freed, before the exiting process closes the VM fd.
    const probes: string[] = [];
    const probe = (when: string): void => {
      vm.dropTlbs(); // what the CPU may still cache is another guard's business (flush)
      const efault = d.loadExpectEfault(DATA * 4096);
      probes.push(`${when}: ${efault ? 'efault' : 'reached'}`);
    };
    host.onPreempt = (label) => {
      if (label === 'after-release') probe('after release');
    };
    const closeFd = vm.mm.onExit!;
    vm.mm.onExit = () => {
      probe('after the frames were freed');
      closeFd();
    };
    host.mmput(vm.mm);
    host.onPreempt = null;
    expect(probes).toEqual(['after release: efault', 'after the frames were freed: efault']);
    expect(vm.stats.stale_accesses).toBe(0);
    expect(vm.stats.sptes_present).toBe(0);
    checkVmInvariants(vm);
    host.checkInvariants();
  });
});
