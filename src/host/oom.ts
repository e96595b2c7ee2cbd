// The OOM killer: when an allocation fails after reclaim, kill the mm with the largest footprint
// (rss + swap entries, like oom_badness); the OOM reaper frees its anonymous memory at once through
// non-blockable notifier ranges (zap.ts oomReap), then exit_mmap gives every subscriber ->release
// and frees the rest. Mirrors mm/oom_kill.c out_of_memory / select_bad_process / oom_reap_task_mm
// (an mm in the middle of an operation is skipped, as the kernel skips exiting victims).

import type { Host } from './host.js';
import type { Mm } from './mm.js';
import { exitMmap, oomReap } from './zap.js';

/** Returns true if a victim was killed (memory may now be available). */
export function outOfMemory(h: Host): boolean {
  let victim: Mm | null = null;
  let best = 0;
  for (const mm of h.mms.values()) {
    if (mm.dead || mm.busy > 0) continue;
    const badness = mm.rss + mm.swapEnts;
    if (badness > best) {
      best = badness;
      victim = mm;
    }
  }
  if (victim === null) return false;
  const message = `Out of memory: killed mm ${victim.id} (rss ${victim.rss} pages, swap ${victim.swapEnts} pages); ` +
    `free frames ${h.ft.nrFree}, free swap slots ${h.swap.nrFree}/${h.swap.nrSlots}` +
    (h.swap.nrFree === 0 ? ' (the swap device is full)' : '');
  h.stats.oomKills++;
  h.stats.lastOomMessage = message;
  h.logOom(message, { mm: victim.id, rss: victim.rss, swapEnts: victim.swapEnts });
  victim.oomKilled = true;
  // The oom_reaper frees the victim's anonymous memory with non-blockable notifier ranges first;
  // exit_mmap (->release, then the rest) follows when the victim exits.
  oomReap(h, victim);
  exitMmap(h, victim);
  return true;
}
