// The 8254 programmable interval timer at ports 0x40-0x43, counting on virtual time (see
// virtual-clock.ts: 1.193182 MHz of virtual time, one instruction = 10 ns). Channel 0 drives IRQ0.
// Mirrors QEMU's hw/timer/i8254.c and KVM's arch/x86/kvm/i8254.c: modes 0, 2 and 3, lobyte /
// hibyte / lohi access, the counter latch and read-back commands.
//
// Nothing ticks in the background: a channel remembers the PIT tick at which its count was
// loaded and computes its counter on demand. The run loop asks nextDeadline() to bound a
// vCPU slice and calls advance() at slice ends, so IRQ0 fires at exact virtual instants.
// A new count takes effect at once (QEMU does the same; a real 8254 waits for the period's end).

import type { PortHandler } from './port-bus.js';
import { type VirtualClock, pitTicksToVtime, vtimeToPitTicks } from './virtual-clock.js';

export const PIT_PORT = 0x40;
export const PIT_PORTS = 4;
export const PIT_IRQ = 0;

const RW_LATCH = 0;
const RW_LO = 1;
const RW_HI = 2;
const RW_LOHI = 3;

class PitChannel {
  mode = 0;
  rw = RW_LOHI;
  bcd = 0;
  /** Loaded count, 1..65536 (a written 0 means 65536). */
  reload = 0x10000;
  counting = false;
  startTick = 0;
  nullCount = true;
  private writeHiNext = false;
  private pendingLo = 0;
  private readHiNext = false;
  private latched = false;
  private latchValue = 0;
  private latchHiNext = false;
  private statusLatched = false;
  private statusValue = 0;

  /** Counter value (16 bits) at PIT tick `t`. */
  countAt(t: number): number {
    const n = this.reload;
    if (!this.counting) return n & 0xffff;
    const e = t - this.startTick;
    switch (this.mode) {
      case 2:
        return (n - (e % n)) & 0xffff;
      case 3: {
        // Counts down by two through each half period; odd counts lose one in the first half.
        const phase = e % n;
        const firstHalf = (n + 1) >> 1;
        const inHalf = phase < firstHalf ? phase : phase - firstHalf;
        return Math.max(2, (n & ~1) - 2 * inHalf) & 0xffff;
      }
      case 0:
      case 4:
        return (((n - e) % 0x10000) + 0x10000) & 0xffff;
      default: // modes 1 and 5 wait for a gate edge that channel 0's fixed gate never gives
        return n & 0xffff;
    }
  }

  /** OUT pin level at tick `t` (for the read-back status byte). */
  outAt(t: number): number {
    if (!this.counting) return this.mode === 0 ? 0 : 1;
    const e = t - this.startTick;
    switch (this.mode) {
      case 0:
        return e >= this.reload ? 1 : 0;
      case 2:
        return e % this.reload === this.reload - 1 ? 0 : 1;
      case 3:
        return e % this.reload < (this.reload + 1) >> 1 ? 1 : 0;
      case 4:
        return e === this.reload ? 0 : 1;
      default:
        return 1;
    }
  }

  /** Periodic modes interrupt every period; mode 0 once at terminal count. */
  firstEventAfter(t: number): number {
    if (!this.counting) return Infinity;
    const e = t - this.startTick;
    if (this.mode === 2 || this.mode === 3) return this.startTick + (Math.floor(e / this.reload) + 1) * this.reload;
    if (this.mode === 0 && e < this.reload) return this.startTick + this.reload;
    return Infinity;
  }

  control(rw: number, mode: number, bcd: number): void {
    this.rw = rw;
    this.mode = mode > 5 ? mode - 4 : mode; // 6 and 7 are aliases of 2 and 3
    this.bcd = bcd;
    this.counting = false;
    this.nullCount = true;
    this.writeHiNext = this.readHiNext = false;
    this.latched = this.statusLatched = false;
  }

  latchCount(t: number): void {
    if (this.latched) return; // a second latch before the read is ignored
    this.latched = true;
    this.latchValue = this.countAt(t);
    this.latchHiNext = false;
  }

  latchStatus(t: number): void {
    if (this.statusLatched) return;
    this.statusLatched = true;
    this.statusValue =
      (this.outAt(t) << 7) | ((this.nullCount ? 1 : 0) << 6) | (this.rw << 4) | (this.mode << 1) | this.bcd;
  }

  read(t: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.statusValue;
    }
    if (this.latched) {
      const v = this.latchValue;
      if (this.rw === RW_LO) {
        this.latched = false;
        return v & 0xff;
      }
      if (this.rw === RW_HI) {
        this.latched = false;
        return v >> 8;
      }
      if (!this.latchHiNext) {
        this.latchHiNext = true;
        return v & 0xff;
      }
      this.latched = false;
      return v >> 8;
    }
    const v = this.countAt(t);
    if (this.rw === RW_LO) return v & 0xff;
    if (this.rw === RW_HI) return v >> 8;
    this.readHiNext = !this.readHiNext;
    return this.readHiNext ? v & 0xff : v >> 8;
  }

  /** Returns true when a new count was loaded (and counting restarted). */
  write(v: number, t: number): boolean {
    let count: number;
    if (this.rw === RW_LO) count = v;
    else if (this.rw === RW_HI) count = v << 8;
    else if (!this.writeHiNext) {
      this.pendingLo = v;
      this.writeHiNext = true;
      return false;
    } else {
      this.writeHiNext = false;
      count = this.pendingLo | (v << 8);
    }
    this.reload = count === 0 ? 0x10000 : count;
    this.counting = true;
    this.nullCount = false;
    this.startTick = t;
    return true;
  }
}

export class Pit8254 implements PortHandler {
  private readonly channels = [new PitChannel(), new PitChannel(), new PitChannel()] as const;
  /** PIT tick of channel 0's next IRQ0 edge, or Infinity. */
  private nextEventTick = Infinity;

  /**
   * `pulseIrq0` raises IRQ0 at the PIC; `onDeadlineChange` tells the run loop that
   * nextDeadline() moved (a guest reprogrammed channel 0 in the middle of a slice).
   */
  constructor(
    private readonly clock: VirtualClock,
    private readonly pulseIrq0: () => void,
    private readonly onDeadlineChange: () => void = () => {},
  ) {
    this.reset();
  }

  /**
   * SeaBIOS's hand-off under QEMU: channel 0 in mode 3 with count 65536 (18.2 Hz), started at
   * virtual time zero. A guest that never programs the PIT still sees the BIOS tick.
   */
  reset(): void {
    const ch0 = this.channels[0];
    ch0.control(RW_LOHI, 3, 0);
    ch0.write(0, 0);
    ch0.write(0, 0);
    this.nextEventTick = ch0.firstEventAfter(0);
  }

  /** Virtual time of the next IRQ0 edge, or Infinity when channel 0 will not interrupt. */
  nextDeadline(): number {
    return this.nextEventTick === Infinity ? Infinity : pitTicksToVtime(this.nextEventTick);
  }

  /** Fire the IRQ0 edges due by virtual time `now` (several missed periods coalesce into one
   *  request, as IRR holds a single bit). */
  advance(now: number): void {
    if (this.nextEventTick === Infinity) return;
    const t = vtimeToPitTicks(now);
    if (t < this.nextEventTick) return;
    this.nextEventTick = this.channels[0].firstEventAfter(t);
    this.pulseIrq0();
  }

  private nowTicks(): number {
    return vtimeToPitTicks(this.clock.now());
  }

  portIn(offset: number, _size: 1 | 2 | 4): number {
    const i = offset & 3;
    if (i === 3) return 0xff; // the control register is write-only
    return this.channels[i as 0 | 1 | 2].read(this.nowTicks());
  }

  portOut(offset: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    const i = offset & 3;
    const t = this.nowTicks();
    if (i !== 3) {
      if (this.channels[i as 0 | 1 | 2].write(v, t) && i === 0) this.rearm(t);
      return;
    }
    const sc = v >> 6;
    if (sc === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 select.
      for (let c = 0; c < 3; c++) {
        if (!(v & (2 << c))) continue;
        const ch = this.channels[c as 0 | 1 | 2];
        if (!(v & 0x20)) ch.latchCount(t);
        if (!(v & 0x10)) ch.latchStatus(t);
      }
      return;
    }
    const ch = this.channels[sc as 0 | 1 | 2];
    const rw = (v >> 4) & 3;
    if (rw === RW_LATCH) {
      ch.latchCount(t);
      return;
    }
    ch.control(rw, (v >> 1) & 7, v & 1);
    if (sc === 0) this.rearm(t);
  }

  private rearm(t: number): void {
    this.nextEventTick = this.channels[0].firstEventAfter(t);
    this.onDeadlineChange();
  }
}
