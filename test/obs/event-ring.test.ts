// The trace ring's contract: events come back in order with their fields, the oldest are
// overwritten (and counted) when it is full, fields can be filled in while an event is held,
// and reading an event that was overwritten is refused.

import { describe, expect, it } from 'vitest';
import { EventRing, EVENT_FIELD_COUNT, readEvents } from '../../src/obs/event-ring.js';
import { EVENT_FIELDS, EVENT_NAMES, EV_FAULT, EV_GUP, EV_INV_START, EV_SPTE_ZAP, HOST } from '../../src/obs/events.js';

describe('EventRing', () => {
  it('keeps events in order with kind, vcpu, sequence, clock time and five fields', () => {
    const r = new EventRing(8);
    let now = 100;
    r.clock = () => now;
    expect(r.emit(EV_FAULT, 0, 0x402000, 2, 0x101234)).toBe(0);
    now = 150;
    expect(r.emit(EV_GUP, 1, 0x1f3, 0xc0001000, 391, 1, 2)).toBe(1);
    expect(r.size).toBe(2);
    expect(r.overwritten).toBe(0);
    const ev = readEvents(r);
    expect(ev).toEqual([
      { seq: 0, time: 100, vcpu: 0, kind: EV_FAULT, f: [0x402000, 2, 0x101234, 0, 0] },
      { seq: 1, time: 150, vcpu: 1, kind: EV_GUP, f: [0x1f3, 0xc0001000, 391, 1, 2] },
    ]);
  });

  it('holds u32 addresses and negative values exactly', () => {
    const r = new EventRing(2);
    r.emit(EV_SPTE_ZAP, HOST, 0xfffff, -1, 7, 0xffffffff, -12);
    expect(readEvents(r)[0]).toMatchObject({ vcpu: HOST, f: [0xfffff, -1, 7, 0xffffffff, -12] });
  });

  it('overwrites the oldest when full and counts what it lost', () => {
    const r = new EventRing(4);
    for (let i = 0; i < 11; i++) r.emit(EV_FAULT, 0, i);
    expect(r.emitted).toBe(11);
    expect(r.size).toBe(4);
    expect(r.overwritten).toBe(7);
    expect(r.oldestSeq).toBe(7);
    const ev = readEvents(r);
    expect(ev.map((e) => e.seq)).toEqual([7, 8, 9, 10]);
    expect(ev.map((e) => e.f[0])).toEqual([7, 8, 9, 10]);
    expect(r.holds(6)).toBe(false);
    expect(r.holds(7)).toBe(true);
    expect(r.holds(11)).toBe(false);
    expect(() => r.field(3, 0)).toThrow(RangeError);
  });

  it('wraps many times over without mixing fields of old events into new ones', () => {
    const r = new EventRing(3);
    for (let i = 0; i < 1000; i++) r.emit(i % 2 === 0 ? EV_FAULT : EV_GUP, i % 5, i, i * 2, i * 3, i * 4, i * 5);
    const ev = readEvents(r);
    expect(ev.map((e) => e.seq)).toEqual([997, 998, 999]);
    for (const e of ev) {
      expect(e.kind).toBe(e.seq % 2 === 0 ? EV_FAULT : EV_GUP);
      expect(e.vcpu).toBe(e.seq % 5);
      expect(e.f).toEqual([1, 2, 3, 4, 5].map((k) => e.seq * k));
    }
  });

  it('setField fills in a held event and ignores one already overwritten', () => {
    const r = new EventRing(2);
    const s = r.emit(EV_INV_START, HOST, 1, 0x1000, 0x2000, -1, -1);
    r.setField(s, 3, 0x10);
    r.setField(s, 4, 0x11);
    expect(r.field(s, 3)).toBe(0x10);
    expect(r.field(s, 4)).toBe(0x11);
    r.emit(EV_FAULT, 0, 1);
    r.emit(EV_FAULT, 0, 2); // s is gone now
    r.setField(s, 3, 99);
    expect(readEvents(r).map((e) => e.f[3])).toEqual([0, 0]);
  });

  it('clear() empties it; a bad capacity is refused', () => {
    const r = new EventRing(4);
    r.emit(EV_FAULT, 0);
    r.clear();
    expect(r.size).toBe(0);
    expect(readEvents(r)).toEqual([]);
    expect(() => new EventRing(0)).toThrow(RangeError);
    expect(() => new EventRing(1.5)).toThrow(RangeError);
  });

  it('every kind has a name and at most EVENT_FIELD_COUNT field names', () => {
    expect(EVENT_FIELDS.length).toBe(EVENT_NAMES.length);
    for (const f of EVENT_FIELDS) expect(f.length).toBeLessThanOrEqual(EVENT_FIELD_COUNT);
    expect(new Set(EVENT_NAMES).size).toBe(EVENT_NAMES.length);
  });
});
