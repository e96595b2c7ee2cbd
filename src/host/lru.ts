// The anon LRU lists (inactive and active) threaded through FrameTable.lruPrev/lruNext.
// Mirrors lruvec's LRU_INACTIVE_ANON / LRU_ACTIVE_ANON with lru_cache_add, folio_activate,
// deactivation and isolation from the tail. No allocation: links are typed-array indexes.

import { FrameTable, PG_ACTIVE, PG_LRU } from './frames.js';

export class Lru {
  readonly inactiveHead: number;
  readonly activeHead: number;
  nrInactive = 0;
  nrActive = 0;

  constructor(private readonly ft: FrameTable) {
    this.inactiveHead = ft.nrFrames;
    this.activeHead = ft.nrFrames + 1;
    for (const h of [this.inactiveHead, this.activeHead]) {
      ft.lruPrev[h] = h;
      ft.lruNext[h] = h;
    }
  }

  private link(f: number, head: number): void {
    const ft = this.ft;
    const first = ft.lruNext[head];
    ft.lruNext[head] = f;
    ft.lruPrev[f] = head;
    ft.lruNext[f] = first;
    ft.lruPrev[first] = f;
  }

  private unlink(f: number): void {
    const ft = this.ft;
    const p = ft.lruPrev[f];
    const n = ft.lruNext[f];
    ft.lruNext[p] = n;
    ft.lruPrev[n] = p;
  }

  /** lru_cache_add: new anon pages start on the inactive list (workingset protection). */
  add(f: number, active = false): void {
    const fl = this.ft.flags;
    if ((fl[f] & PG_LRU) !== 0) throw new Error(`lru: frame ${f} already on an LRU list`);
    fl[f] |= PG_LRU;
    if (active) {
      fl[f] |= PG_ACTIVE;
      this.link(f, this.activeHead);
      this.nrActive++;
    } else {
      fl[f] &= ~PG_ACTIVE;
      this.link(f, this.inactiveHead);
      this.nrInactive++;
    }
  }

  del(f: number): void {
    const fl = this.ft.flags;
    if ((fl[f] & PG_LRU) === 0) return;
    this.unlink(f);
    if ((fl[f] & PG_ACTIVE) !== 0) this.nrActive--;
    else this.nrInactive--;
    fl[f] &= ~(PG_LRU | PG_ACTIVE);
  }

  /** Move to the head of the active (activate) or inactive (rotate/deactivate) list. */
  moveTo(f: number, active: boolean): void {
    this.del(f);
    this.add(f, active);
  }

  /** Coldest page of a list, or -1. */
  tail(active: boolean): number {
    const head = active ? this.activeHead : this.inactiveHead;
    const t = this.ft.lruPrev[head];
    return t === head ? -1 : t;
  }

  /** Walks both lists; throws if links, flags or counts disagree. Returns pages listed. */
  check(): number {
    const ft = this.ft;
    let total = 0;
    for (const [head, active, count] of [
      [this.inactiveHead, false, this.nrInactive], [this.activeHead, true, this.nrActive],
    ] as const) {
      let n = 0;
      for (let f = ft.lruNext[head]; f !== head; f = ft.lruNext[f]) {
        if (ft.lruPrev[ft.lruNext[f]] !== f) throw new Error(`lru: broken link at frame ${f}`);
        if ((ft.flags[f] & PG_LRU) === 0) throw new Error(`lru: frame ${f} listed without PG_lru`);
        if (((ft.flags[f] & PG_ACTIVE) !== 0) !== active) throw new Error(`lru: frame ${f} on wrong list`);
        if (++n > ft.nrFrames) throw new Error('lru: cycle');
      }
      if (n !== count) throw new Error(`lru: ${active ? 'active' : 'inactive'} count ${count} but ${n} listed`);
      total += n;
    }
    return total;
  }
}
