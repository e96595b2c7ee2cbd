import { describe, expect, it } from 'vitest';
import { Pit8254 } from '../../src/machine/pit8254.js';
import { PIT_HZ, VTIME_HZ, pitTicksToVtime, vtimeToPitTicks } from '../../src/machine/virtual-clock.js';

function mk() {
  const clock = { t: 0, now() { return this.t; } };
  let irqs = 0;
  let kicks = 0;
  const pit = new Pit8254(clock, () => irqs++, () => kicks++);
  return { pit, clock, irqs: () => irqs, kicks: () => kicks };
}

const program = (pit: Pit8254, control: number, count: number) => {
  pit.portOut(3, 1, control);
  pit.portOut(0, 1, count & 0xff);
  pit.portOut(0, 1, count >> 8);
};

describe('virtual clock', () => {
  it('converts exactly between virtual ticks and PIT ticks', () => {
    expect(vtimeToPitTicks(VTIME_HZ)).toBe(PIT_HZ);
    expect(vtimeToPitTicks(VTIME_HZ * 1_000_000)).toBe(PIT_HZ * 1_000_000);
    for (const n of [0, 1, 2, 11931, 11932, 65536, 1_193_181, 1_193_182, 123_456_789_012]) {
      const t = pitTicksToVtime(n);
      expect(vtimeToPitTicks(t)).toBeGreaterThanOrEqual(n);
      if (t > 0) expect(vtimeToPitTicks(t - 1)).toBeLessThan(n);
    }
  });
});

describe('Pit8254', () => {
  it('reset state: mode 3 count 65536 from time zero (the BIOS 18.2 Hz tick)', () => {
    const { pit } = mk();
    expect(pit.nextDeadline()).toBe(pitTicksToVtime(65536));
  });

  it('mode 2 at 100 Hz: IRQ0 every 11932 PIT ticks, on exact virtual deadlines', () => {
    const { pit, clock, irqs, kicks } = mk();
    clock.t = 1000;
    program(pit, 0x34, 11932);
    expect(kicks()).toBe(2); // control word and count each re-plan the slice
    const start = vtimeToPitTicks(1000);
    const d1 = pit.nextDeadline();
    expect(d1).toBe(pitTicksToVtime(start + 11932));
    pit.advance(d1 - 1);
    expect(irqs()).toBe(0);
    pit.advance(d1);
    expect(irqs()).toBe(1);
    expect(pit.nextDeadline()).toBe(pitTicksToVtime(start + 2 * 11932));
    // Late by three periods: one coalesced request, next deadline in the future.
    pit.advance(pitTicksToVtime(start + 5 * 11932) + 5);
    expect(irqs()).toBe(2);
    expect(pit.nextDeadline()).toBe(pitTicksToVtime(start + 6 * 11932));
  });

  it('counter reads: live lo/hi, latch command freezes the value until both bytes are read', () => {
    const { pit, clock } = mk();
    program(pit, 0x34, 1000);
    clock.t = pitTicksToVtime(10);
    const lo = pit.portIn(0, 1);
    const hi = pit.portIn(0, 1);
    expect(lo | (hi << 8)).toBe(990);
    pit.portOut(3, 1, 0x00); // latch channel 0
    clock.t = pitTicksToVtime(500);
    const l2 = pit.portIn(0, 1);
    clock.t = pitTicksToVtime(600);
    const h2 = pit.portIn(0, 1);
    expect(l2 | (h2 << 8)).toBe(990);
    const l3 = pit.portIn(0, 1);
    const h3 = pit.portIn(0, 1);
    expect(l3 | (h3 << 8)).toBe(400);
    // Mode 2 counts N..1 and reloads.
    clock.t = pitTicksToVtime(1999);
    pit.portOut(3, 1, 0x00);
    expect(pit.portIn(0, 1) | (pit.portIn(0, 1) << 8)).toBe(1);
  });

  it('lobyte-only and hibyte-only access', () => {
    const { pit, clock } = mk();
    pit.portOut(3, 1, 0x14); // lobyte, mode 2
    pit.portOut(0, 1, 200);
    clock.t = pitTicksToVtime(50);
    expect(pit.portIn(0, 1)).toBe(150);
    pit.portOut(3, 1, 0x24); // hibyte, mode 2
    pit.portOut(0, 1, 2); // 512
    clock.t = pitTicksToVtime(50 + 256);
    expect(pit.portIn(0, 1)).toBe(1); // 256 -> high byte 1
  });

  it('mode 3 counts down by two through each half period; read-back status', () => {
    const { pit, clock, irqs } = mk();
    program(pit, 0x36, 100);
    clock.t = pitTicksToVtime(10);
    pit.portOut(3, 1, 0x00);
    expect(pit.portIn(0, 1) | (pit.portIn(0, 1) << 8)).toBe(80);
    clock.t = pitTicksToVtime(60);
    pit.portOut(3, 1, 0x00);
    expect(pit.portIn(0, 1) | (pit.portIn(0, 1) << 8)).toBe(80); // second half
    pit.portOut(3, 1, 0xe2); // read-back status of channel 0
    expect(pit.portIn(0, 1)).toBe(0x00 | (3 << 4) | (3 << 1)); // OUT low in the second half
    pit.advance(pitTicksToVtime(100));
    expect(irqs()).toBe(1);
  });

  it('mode 0 interrupts once at terminal count; a new control word disarms channel 0', () => {
    const { pit, clock, irqs } = mk();
    program(pit, 0x30, 500);
    expect(pit.nextDeadline()).toBe(pitTicksToVtime(500));
    pit.advance(pitTicksToVtime(500));
    expect(irqs()).toBe(1);
    expect(pit.nextDeadline()).toBe(Infinity);
    clock.t = pitTicksToVtime(600);
    program(pit, 0x34, 10);
    pit.portOut(3, 1, 0x34); // control word without a count: stopped
    expect(pit.nextDeadline()).toBe(Infinity);
  });
});
