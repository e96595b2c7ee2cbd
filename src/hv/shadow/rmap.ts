// The one owner of the spte reference and of the reverse map (KVM's rmap, `slot->arch.rmap`):
// an spte is named by its shadow page and index as one number, `spId * SPTES_PER_PAGE + index`
// (so rmaps, parent links and trace events stay plain number arrays), and each memslot keeps, per
// gfn, the refs of the leaf sptes that map it. Everything that writes or decodes a ref, or walks
// a gfn's rmap, goes through here.

import type { Memslot } from '../memslots.js';

/** Sptes per shadow page (a 32-bit non-PAE table). */
export const SPTES_PER_PAGE = 1024;

export function spteRef(spId: number, index: number): number {
  return spId * SPTES_PER_PAGE + index;
}

/** The shadow page id of a ref. */
export function refPage(ref: number): number {
  return (ref / SPTES_PER_PAGE) | 0;
}

/** The spte index of a ref within its shadow page. */
export function refIndex(ref: number): number {
  return ref & (SPTES_PER_PAGE - 1);
}

/** rmap_add: ref now maps gfn of slot. Returns the gfn's rmap length. */
export function rmapAdd(slot: Memslot, gfn: number, ref: number): number {
  const i = gfn - slot.baseGfn;
  let refs = slot.rmap[i];
  if (refs === undefined) slot.rmap[i] = refs = [];
  refs.push(ref);
  return refs.length;
}

/** rmap_remove: ref no longer maps gfn of slot (it must be there). */
export function rmapRemove(slot: Memslot, gfn: number, ref: number): void {
  const refs = slot.rmap[gfn - slot.baseGfn];
  const at = refs === undefined ? -1 : refs.indexOf(ref);
  if (refs === undefined || at < 0) throw new Error(`rmap: spte ${ref} missing from gfn ${gfn}`);
  refs[at] = refs[refs.length - 1]!;
  refs.pop();
  if (refs.length === 0) slot.rmap[gfn - slot.baseGfn] = undefined;
}

/** The refs of the leaf sptes mapping gfn of slot (live array: copy it before zapping through it). */
export function rmapOf(slot: Memslot, gfn: number): readonly number[] | undefined {
  return slot.rmap[gfn - slot.baseGfn];
}
