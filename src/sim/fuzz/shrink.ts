// Shrinking a finding to a minimal reproducer: delta debugging (Zeller's ddmin, simplified) over
// the indices of a case's parts (stream items, image mutations). A candidate subset is kept when
// it still produces the same kind of finding; chunks are halved down to single parts, and the
// number of attempts is bounded so a slow finding (a hang, a QEMU run) still ends.

/** Reproduces(subset) → true when the subset still shows the finding. */
export type Reproduces = (keep: number[]) => Promise<boolean>;

export async function shrinkIndices(all: number[], reproduces: Reproduces, maxAttempts = 200): Promise<{ keep: number[]; attempts: number }> {
  let keep = all.slice();
  let attempts = 0;
  let chunk = Math.max(1, Math.floor(keep.length / 2));
  while (keep.length > 1 && attempts < maxAttempts) {
    let removedAny = false;
    for (let start = 0; start < keep.length && attempts < maxAttempts; ) {
      const candidate = keep.slice(0, start).concat(keep.slice(start + chunk));
      attempts++;
      if (candidate.length > 0 && (await reproduces(candidate))) {
        keep = candidate;
        removedAny = true;
      } else {
        start += chunk;
      }
    }
    if (!removedAny) {
      if (chunk === 1) break;
      chunk = Math.max(1, Math.floor(chunk / 2));
    }
  }
  // The empty set last: some findings need no part at all (the frame alone shows them).
  if (attempts < maxAttempts && keep.length === 1) {
    attempts++;
    if (await reproduces([])) keep = [];
  }
  return { keep, attempts };
}
