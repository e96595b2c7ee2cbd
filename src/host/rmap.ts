// Reverse map: for each frame, the (mm, virtual page) pairs whose pte maps it, as a linked list
// in a growable typed-array pool. Plays the role of anon_vma chains / KSM rmap_items: reclaim,
// KSM and the invariant checker walk it (rmap_walk); mapcount always equals its length.

export class RmapPool {
  private mmId: Int32Array;
  private vpn: Int32Array;
  private next: Int32Array;
  private freeHead = -1;
  private used = 0;
  live = 0;

  /** Bytes per mapping (mm id, vpn, next), measured from the pool's arrays: every typed array
   *  field but the frame table's heads, over the pool's capacity. */
  bytesPerEntry(): number {
    let bytes = 0;
    for (const v of Object.values(this)) if (ArrayBuffer.isView(v) && v !== this.heads) bytes += v.byteLength;
    return bytes / this.mmId.length;
  }

  constructor(private readonly heads: Int32Array, capacity: number) {
    this.mmId = new Int32Array(capacity);
    this.vpn = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
  }

  private grow(): void {
    const cap = this.mmId.length * 2;
    const m = new Int32Array(cap); m.set(this.mmId); this.mmId = m;
    const v = new Int32Array(cap); v.set(this.vpn); this.vpn = v;
    const n = new Int32Array(cap); n.set(this.next); this.next = n;
  }

  add(frame: number, mmId: number, vpn: number): void {
    let e = this.freeHead;
    if (e !== -1) {
      this.freeHead = this.next[e];
    } else {
      if (this.used === this.mmId.length) this.grow();
      e = this.used++;
    }
    this.mmId[e] = mmId;
    this.vpn[e] = vpn;
    this.next[e] = this.heads[frame];
    this.heads[frame] = e;
    this.live++;
  }

  remove(frame: number, mmId: number, vpn: number): void {
    let prev = -1;
    for (let e = this.heads[frame]; e !== -1; prev = e, e = this.next[e]) {
      if (this.mmId[e] === mmId && this.vpn[e] === vpn) {
        if (prev === -1) this.heads[frame] = this.next[e];
        else this.next[prev] = this.next[e];
        this.next[e] = this.freeHead;
        this.freeHead = e;
        this.live--;
        return;
      }
    }
    throw new Error(`rmap: frame ${frame} has no mapping (mm ${mmId}, vpn ${vpn})`);
  }

  /** First entry of a frame's chain (-1 if unmapped); iterate with entryNext. */
  first(frame: number): number {
    return this.heads[frame];
  }
  entryNext(e: number): number {
    return this.next[e];
  }
  entryMm(e: number): number {
    return this.mmId[e];
  }
  entryVpn(e: number): number {
    return this.vpn[e];
  }

  count(frame: number): number {
    let n = 0;
    for (let e = this.heads[frame]; e !== -1; e = this.next[e]) n++;
    return n;
  }

  /** Snapshot of a frame's mappings as [mmId, vpn] pairs (for walks that unmap as they go). */
  snapshot(frame: number, out: number[]): number[] {
    out.length = 0;
    for (let e = this.heads[frame]; e !== -1; e = this.next[e]) out.push(this.mmId[e], this.vpn[e]);
    return out;
  }
}
