// The fuzzer's instruction-stream generator: seeded streams of the instructions GUEST-ABI.md
// promises (the integer ISA gcc emits in 8/16/32-bit forms, string instructions with REP, the
// system instructions, paging churn, self-modifying code through aliases, and hostile endings).
// The ISA part extends guest-images/cpufuzz.c's in-guest generator to a host-side form whose
// streams can be shrunk item by item (stream-item.ts). This file is the driver: which kind of
// item comes next and its flag transfer; the encoders are stream-isa.ts, stream-system.ts and
// stream-hazards.ts, on the shared state and operands of stream-gen-state.ts.

import { ItemBuilder, type StreamItem } from './stream-item.js';
import { StreamGenState } from './stream-gen-state.js';
import { isaOp, stringOp } from './stream-isa.js';
import { systemOp } from './stream-system.js';
import { hostileEnd, pagingOp, smcOp } from './stream-hazards.js';

/** A seeded generator of items for one stream. */
export class StreamGen extends StreamGenState {
  private b = new ItemBuilder();

  /** Generate `count` items (a terminal one last in hostile profiles). */
  generate(count: number): StreamItem[] {
    const items: StreamItem[] = [];
    for (let k = 0; k < count; k++) {
      const item = this.one(k === count - 1);
      if (item !== null) items.push(item);
    }
    return items;
  }

  private one(last: boolean): StreamItem | null {
    const p = this.profile;
    const before = this.def;
    this.b = new ItemBuilder();
    this.needs = 0;
    const b = this.b;
    let what = 'isa';
    const pick = this.r(100);
    if (last && p.hostile && this.r(3) === 0) {
      hostileEnd(this, b);
      what = 'hostile-end';
    } else if (pick < 12) {
      stringOp(this, b);
      what = 'string';
    } else if (pick < 24 && p.system) {
      if (!systemOp(this, b)) return null;
      what = 'system';
    } else if (pick < 30 && p.paging) {
      pagingOp(this, b);
      what = 'pte';
    } else if (pick < 33) {
      smcOp(this, b);
      what = 'smc';
    } else if (pick < 34 && p.system && !p.qemu && this.r(20) === 0) {
      b.insn(0xf4); // hlt: with IF=0 the VM stops (status 1)
      what = 'hlt';
    } else {
      while (!isaOp(this, b, true)) {
        /* retry */
      }
    }
    // The flag transfer as (keep, set): flags defined before and after count as kept, those
    // defined only after as set. For any other starting state this claims no more than the item
    // really defines (a kept flag stays defined only if it was; a set one is set by the item), so
    // replaying a subset of items may mask more flags than needed, never fewer.
    const after = this.def;
    return {
      bytes: b.bytes,
      lens: b.lens,
      relocs: b.relocs,
      needs: this.needs,
      keep: before & after,
      set: after & ~before,
      terminal: what === 'hostile-end' || what === 'hlt',
      what,
    };
  }
}
