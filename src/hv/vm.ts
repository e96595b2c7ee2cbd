// A virtual machine (KVM's struct kvm plus the VMM process around it): its guest RAM is an
// anonymous private mapping in a host mm, memslot 0 maps gfn 0.. onto it, and every guest access
// to memory goes through that mm (gup for sptes, copy-to/from-user for the hypervisor's own
// reads and writes). Owns the shadow MMU, the invalidation state, the vCPUs and the devices, and,
// in `notifier` mode, the mmu_notifier subscription that keeps sptes coherent with the host.

import { CodeCache } from '../cpu/code-cache.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Host } from '../host/host.js';
import type { Mm } from '../host/mm.js';
import { MmuNotifier, mmuNotifierRegister, mmuNotifierUnregister } from '../host/mmu-notifier.js';
import { MADV_MERGEABLE, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../host/constants.js';
import { loadMultibootImage, type BootState } from '../machine/multiboot.js';
import { PcBoard } from '../machine/pc-board.js';
import type { ByteSink } from '../machine/uart16550.js';
import type { Logger } from '../obs/log.js';
import type { EventRing } from '../obs/event-ring.js';
import { EV_TLB_FLUSH, FLUSH_REMOTE, GUP_PRESENT, HOST, ZAP_MEMSLOT } from '../obs/events.js';
import type { MmuNotifierRange } from '../host/mmu-notifier.js';
import { HvInject } from './inject.js';
import { InvalidateState } from './invalidate.js';
import { Memslots, PAGE_SIZE } from './memslots.js';
import { kvmMmuNotifierOps } from './notifier.js';
import { registerStaleDetector } from './detector.js';
import { gfnOfShadow, recordStale, type StaleAccess } from './stale-report.js';
import { emitInvalidateEnd, gupTraced } from './vm-trace.js';
import { VmGuestMemory } from './guest-memory.js';
import { ShadowMmu } from './shadow/mmu.js';
import { TdpMmu } from './tdp/tdp-mmu.js';
import { describeTranslation, type TranslationView } from './translation-view.js';
import type { MemoryMode, FaultVm } from './shadow/page-fault.js';
import type { ShadowPage } from './shadow/shadow-page.js';
import { KvmStats } from './stats.js';
import { Vcpu } from './vcpu.js';

import { EXIT_STATUS_STALE } from '../obs/exit-status.js';
export { EXIT_STATUS_STALE };

/** One decoded-code cache per host: host frames hold code of any VM over time, and a store by any
 *  vCPU into decoded bytes must reach every vCPU's cache. */
const codeCaches = new WeakMap<Host, CodeCache>();
function sharedCodeCache(host: Host): CodeCache {
  let c = codeCaches.get(host);
  if (c === undefined) {
    const cache = new CodeCache(host.ram.length);
    codeCaches.set(host, cache);
    // Host writes to frames (zero-fill, swap-in, copies, copy_to_user) must reach decoded code
    // exactly as a vCPU's own stores do, or a recycled frame would run its old instructions.
    host.onFrameWrite = (f) => cache.invalidatePage(f);
    c = cache;
  }
  return c;
}

export interface VmOptions {
  host: Host;
  /** Guest RAM in bytes (a multiple of 4 KiB). */
  memBytes: number;
  vcpus?: number;
  mode?: MemoryMode;
  /** The hypervisor's MMU: shadow paging (default) or two-dimensional paging (EPT-like, hv/tdp). */
  mmu?: HvMmuKind;
  /** MADV_MERGEABLE on guest RAM so ksmd may merge it. */
  ksm?: boolean;
  /** Stale-access detector on; the first stale access stops the VM with exit status 5. */
  check?: boolean;
  /** Detector on without stopping (counts and reports only), as the swap benchmark uses it. */
  detect?: boolean;
  log: Logger;
  output: ByteSink;
  input?: Uint8Array;
  name?: string;
  changePte?: 'update' | 'noop';
  maxShadowPages?: number;
  /** Trace ring for `shadowvisor trace` (events stamped with vCPU 0's virtual time). */
  ring?: EventRing | null;
}

export type { StaleAccess } from './stale-report.js';

/** The hypervisor's MMUs (`--mmu shadow|tdp`; `native` runs without a hypervisor). */
export type HvMmuKind = 'shadow' | 'tdp';

export class Vm implements FaultVm {
  readonly host: Host;
  readonly mm: Mm;
  readonly name: string;
  readonly memBytes: number;
  readonly hva: number;
  readonly mode: MemoryMode;
  readonly memslots = new Memslots();
  /** Bug-injection switches (explorer --inject); all off by default. */
  readonly inject = new HvInject();
  readonly inv = new InvalidateState(this.inject);
  readonly stats = new KvmStats();
  readonly mmu: ShadowMmu;
  /** The TDP MMU under `--mmu tdp` (then `mmu` stays empty: no guest table is shadowed). */
  readonly tdp: TdpMmu | null;
  readonly mmuKind: HvMmuKind;
  readonly board: PcBoard;
  readonly code: CodeCache;
  readonly vcpus: Vcpu[] = [];
  readonly guestMem: VmGuestMemory;
  readonly changePteMode: 'update' | 'noop';
  readonly log: Logger;
  notifier: MmuNotifier | null = null;
  /** The stale detector's own subscription (see detector.ts), when detection is on. */
  detector: MmuNotifier | null = null;
  readonly staleRecords: StaleAccess[] = [];
  /** Memslot updates waiting for in-flight invalidations to end (kvm_swap_active_memslots). */
  private readonly pendingSlotOps: (() => void)[] = [];
  private readonly check: boolean;
  private readonly logDebug: boolean;
  /** What the last gup had to do (GUP_*), kept only while tracing. */
  lastGupHow = GUP_PRESENT;

  constructor(opts: VmOptions) {
    const host = opts.host;
    this.host = host;
    this.log = opts.log;
    this.name = opts.name ?? 'vm0';
    this.mode = opts.mode ?? 'notifier';
    this.memBytes = opts.memBytes;
    this.changePteMode = opts.changePte ?? 'noop';
    this.check = opts.check === true;
    this.logDebug = opts.log.enabled('debug');
    if (this.memBytes <= 0 || this.memBytes % PAGE_SIZE !== 0) throw new RangeError('guest memory must be a positive multiple of 4 KiB');
    this.mm = host.createMm();
    this.hva = host.mmap(this.mm, this.memBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (opts.ksm === true) host.madvise(this.mm, this.hva, this.memBytes, MADV_MERGEABLE);
    this.memslots.add(0, 0, this.memBytes / PAGE_SIZE, this.hva);
    this.mmu = new ShadowMmu(
      this.memslots,
      {
        frameGen: host.frameGen,
        putPage: (f) => host.putPage(f),
        markPageDirty: (f) => host.markPageDirty(f),
        markPageAccessed: (f) => host.markPageAccessed(f),
      },
      this.stats,
      {
        flushRemoteTlbs: () => this.flushRemoteTlbs(),
        rootInvalidated: (sp: ShadowPage) => {
          for (const v of this.vcpus) v.vmmu.rootInvalidated(sp);
        },
      },
      this.memBytes / PAGE_SIZE,
      opts.maxShadowPages ?? 0,
    );
    this.mmuKind = opts.mmu ?? 'shadow';
    this.tdp =
      this.mmuKind === 'tdp'
        ? new TdpMmu(
            this.memslots,
            { frameGen: host.frameGen, putPage: (f) => host.putPage(f), markPageDirty: (f) => host.markPageDirty(f), markPageAccessed: (f) => host.markPageAccessed(f) },
            this.stats,
            { flushRemoteTlbs: () => this.flushRemoteTlbs() },
          )
        : null;
    if (this.mode === 'notifier') {
      this.notifier = new MmuNotifier(kvmMmuNotifierOps(this));
      const r = mmuNotifierRegister(this.notifier, this.mm);
      if (r !== 0) throw new Error(`mmu_notifier_register failed: ${r}`);
    }
    this.guestMem = new VmGuestMemory(host, this.mm, this.memslots);
    const vcpuCount = opts.vcpus ?? 1;
    this.board = new PcBoard({
      clock: { now: () => this.vcpus[0]!.cpu.vtime() },
      log: opts.log,
      output: opts.output,
      input: opts.input,
    });
    this.code = sharedCodeCache(host);
    const detect = this.check || opts.detect === true;
    for (let i = 0; i < vcpuCount; i++) {
      const v = new Vcpu(i, this, this.mmu, host.ram, this.board.bus, i === 0 ? this.board.pic : undefined, this.code, (vc, lin, gfn, frame, write) =>
        this.reportStale(vc, lin, gfn, frame, write),
      );
      if (detect) {
        v.cpu.frameGen = host.frameGen;
        v.cpu.onStale = (cpu: Cpu, lin: number, page: number, write: boolean) =>
          this.reportStale(i, lin, v.tdpMmu !== null ? v.tdpMmu.gfnOfTlb(cpu, lin) : gfnOfShadow(this.mmu, v.vmmu, lin), page, write);
      }
      this.vcpus.push(v);
    }
    this.board.attachVcpus(this.vcpus.map((v) => v.cpu));
    if (detect) this.detector = registerStaleDetector(this);
    // The VMM process exiting (or OOM-killed) closes the VM fd: every spte goes, and with them
    // any page pin (pin mode), so the memory is really freed. Faults in flight finish on their
    // own next step (gup fails on a dead mm); this may run inside another VM's allocation.
    this.mm.onExit = () => {
      for (const v of this.vcpus) v.vmmu.freeRoots(true);
      this.mmu.zapAll();
      this.tdp?.zapAll();
    };
    const ring = opts.ring ?? null;
    if (ring !== null) {
      const cpu0 = this.vcpus[0]!.cpu;
      ring.clock = () => cpu0.vtime();
      this.mmu.ring = ring;
      if (this.tdp !== null) this.tdp.ring = ring;
    }
  }

  /** The GVA->GPA->HVA->HPA chain of vCPU `vcpu` for `gva` and the MMU entry behind it (shadow spte
   *  or TDP leaf), read without side effects (for `monitor translate` and trace views). */
  describeTranslation(gva: number, vcpu = 0): TranslationView {
    return describeTranslation(this, gva, vcpu);
  }

  /** Empty every vCPU TLB on the detector's behalf (not a KVM remote flush: not counted). */
  dropTlbs(): void {
    for (const v of this.vcpus) v.cpu.tlb.flushAll();
  }

  // ---- FaultVm: what the fault path needs of the VM and its host ---------------------------

  /** The host killed our process (OOM) or it exited: the VM can no longer run. */
  get dead(): boolean {
    return this.mm.dead;
  }

  gup(hva: number, write: boolean): number {
    if (this.mmu.ring === null) return this.host.gup(this.mm, hva, write);
    return gupTraced(this.host, this.mm, hva, write, this);
  }

  hostPteWritable(hva: number, frame: number): boolean {
    return this.host.pteWritable(this.mm, hva) && this.host.frameAt(this.mm, hva) === frame;
  }

  putPage(frame: number): void {
    this.host.putPage(frame);
  }

  markPageDirty(frame: number): void {
    this.host.markPageDirty(frame);
  }

  frameGen(frame: number): number {
    return this.host.frameGen[frame]!;
  }

  // ---- requests to every vCPU ----------------------------------------------------------------

  /** kvm_flush_remote_tlbs. vCPUs are always between instructions when the host runs, so each
   *  TLB can be emptied right here; nothing can use a translation after this returns. */
  flushRemoteTlbs(): void {
    for (const v of this.vcpus) v.cpu.tlb.flushAll();
    this.stats.remote_tlb_flush++;
    const ring = this.mmu.ring;
    if (ring !== null) ring.emit(EV_TLB_FLUSH, HOST, this.vcpus.length, FLUSH_REMOTE);
  }

  /** INV_END for the trace: the new sequence and what the host now has at the range's first page. */
  traceInvalidateEnd(range: MmuNotifierRange): void {
    const ring = this.mmu.ring;
    if (ring !== null) emitInvalidateEnd(ring, this.host, this.mm, this.inv.seq, range);
  }

  /** Load a Multiboot image and put every vCPU in the GUEST-ABI entry state. */
  boot(image: Uint8Array, cmdline?: string): BootState {
    const st = loadMultibootImage(image, { ramBytes: this.memBytes, cmdline, mem: this.guestMem.writer() });
    for (const v of this.vcpus) {
      const cpu = v.cpu;
      cpu.reset();
      cpu.eip = st.eip;
      cpu.regs[0] = st.eax;
      cpu.regs[3] = st.ebx;
    }
    return st;
  }

  // ---- memslots (KVM_SET_USER_MEMORY_REGION) --------------------------------------------------

  /**
   * Add a slot mapping gfns [baseGfn, baseGfn + npages) to host addresses from `hva`. Like every
   * memslot update it waits until no invalidation is between start and end, so a start and its
   * end always see the same slots (KVM's mn_active_invalidate_count / mn_memslots_update_rcuwait).
   * Returns false when the update was deferred.
   */
  addMemslot(id: number, baseGfn: number, npages: number, hva: number): boolean {
    return this.memslotUpdate(() => {
      this.memslots.add(id, baseGfn, npages, hva);
      // gfns that were MMIO may now be memory: MMIO sptes for them must go.
      this.mmu.zapCause = ZAP_MEMSLOT;
      this.mmu.zapAll();
      this.mmu.zapCause = 0;
      this.zapTdp(ZAP_MEMSLOT);
    });
  }

  /** Delete a slot: no spte may map its gfns once this completes (invariant 22). */
  deleteMemslot(id: number): boolean {
    return this.memslotUpdate(() => {
      // kvm_arch_flush_shadow_memslot: drop every shadow page (kvm_mmu_zap_all_fast does the
      // same today); the slot's rmap and write-tracking go with it.
      this.mmu.zapCause = ZAP_MEMSLOT;
      this.mmu.zapAll();
      this.mmu.zapCause = 0;
      this.zapTdp(ZAP_MEMSLOT);
      if (this.memslots.remove(id) === undefined) throw new RangeError(`memslot ${id} does not exist`);
    });
  }

  /** TDP roots are keyed by the memslot layout: a layout change (or release) retires the root. */
  private zapTdp(cause: number): void {
    const tdp = this.tdp;
    if (tdp === null) return;
    tdp.zapCause = cause;
    tdp.zapAll();
    tdp.zapCause = 0;
  }

  private memslotUpdate(apply: () => void): boolean {
    if (this.inv.activeInvalidateCount > 0 && !this.inject.memslotDeleteNotDeferred) {
      this.pendingSlotOps.push(apply);
      return false;
    }
    apply();
    this.flushRemoteTlbs();
    return true;
  }

  /** Called when the last in-flight invalidation ended: run the memslot updates that waited. */
  invalidationsDrained(): void {
    while (this.pendingSlotOps.length > 0 && this.inv.activeInvalidateCount === 0) {
      (this.pendingSlotOps.shift() as () => void)();
      this.flushRemoteTlbs();
    }
  }

  /** A gfn outside every memslot was touched (GUEST-ABI: a debug-level line names it). */
  noteUnbacked(gfn: number): void {
    if (this.logDebug) this.log.debug({ vm: this.name, gpa: `0x${(gfn * PAGE_SIZE).toString(16)}` }, 'guest-physical address outside RAM');
  }

  // ---- the stale-access detector -------------------------------------------------------------

  private reportStale(vcpu: number, gva: number, gfn: number, frame: number, write: boolean): void {
    recordStale(this, this.check, vcpu, gva, gfn, frame, write);
  }

  /** Tear the VM down (kvm_destroy_vm): unregister first, then drop the process's mm. */
  destroy(): void {
    for (const v of this.vcpus) {
      v.abortFault();
      v.vmmu.freeRoots(true);
    }
    this.mmu.zapAll();
    this.tdp?.zapAll();
    if (this.notifier !== null && this.notifier.hashed) mmuNotifierUnregister(this.notifier, this.mm);
    this.notifier = null;
    if (this.detector !== null && this.detector.hashed) mmuNotifierUnregister(this.detector, this.mm);
    this.detector = null;
    if (!this.mm.dead) this.host.mmput(this.mm);
  }
}
