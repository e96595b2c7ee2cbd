// The exercise topics `shadowvisor exercise --list-topics` prints, each a function from a seed to
// a problem with the engine's answers.

import type { Exercise } from './model.js';
import { faultExercise } from './topic-fault.js';
import { pinExercise } from './topic-pin.js';
import { tdpExercise } from './topic-tdp.js';
import { raceExercise } from './topic-race.js';
import { invalidateExercise } from './topic-invalidate.js';
import { translateExercise } from './topic-translate.js';

export interface Topic {
  name: string;
  what: string;
  build(seed: number): Exercise;
}

export const TOPICS: readonly Topic[] = [
  {
    name: 'translate',
    what: 'GVA -> GPA -> HVA -> HPA from the dumps; what the spte holds and why it is read-only (protect_clean_gpte, COW, write tracking)',
    build: translateExercise,
  },
  {
    name: 'invalidate',
    what: 'MADV_DONTNEED, MADV_PAGEOUT, mprotect or migration under a 2-vCPU guest: which gfns, which sptes are zapped, which TLBs are flushed, what the next access does',
    build: invalidateExercise,
  },
  {
    name: 'fault',
    what: 'what gup must do for a guest access: present, zero-fill, swap-in, COW break or reuse after fork, KSM unmerge',
    build: faultExercise,
  },
  {
    name: 'race',
    what: 'a vCPU fault against a swap-out under a seeded schedule (the explorer): commit or retry, and what a catalogued bug does to the same schedule',
    build: raceExercise,
  },
  {
    name: 'pin-vs-notifier',
    what: 'one MADV_PAGEOUT under pin, notifier and none mode: which pages reclaim can free, what is zapped, what goes stale, where a write through a pinned spte lands',
    build: pinExercise,
  },
  {
    name: 'tdp',
    what: 'the two-dimensional walk of --mmu tdp: guest and gpa->hpa references per TLB miss, EPT violations, the full 8-reference walk',
    build: tdpExercise,
  },
];

export function findTopic(name: string): Topic | undefined {
  return TOPICS.find((t) => t.name === name);
}
