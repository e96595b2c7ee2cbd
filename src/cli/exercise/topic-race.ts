// Exercise topic `race`: the race of reference §1.6 as a schedule. The explorer (src/sim/explore)
// runs the `swap-race` scenario — one vCPU read fault against MADV_PAGEOUT of the same page —
// under a seeded scheduler; the student gets the interleaving up to the moment the fault checks
// for a stale result, and says whether it commits its spte or retries (mmu_invalidate_retry_gfn:
// an invalidation in progress over the gfn, or mmu_invalidate_seq moved since it was sampled),
// and what the same schedule does with a catalogued bug injected (explore --inject). The answers
// come from the trace ring of the explorer's own runs, and the replay string is the proof.

import { encodeSchedule, ReplayChooser } from '../../sim/choice.js';
import { findBug, type Bug } from '../../sim/explore/bugs.js';
import { runOnce } from '../../sim/explore/engine.js';
import { RandomChooser } from '../../sim/explore/random-scheduler.js';
import { findScenario } from '../../sim/explore/scenarios.js';
import { EventRing, readEvents, type TraceEvent } from '../../obs/event-ring.js';
import {
  EV_FAULT, EV_GUP, EV_INV_END, EV_INV_START, EV_RETRY, EV_SPTE_SET, EV_SPTE_ZAP, EV_TLB_FLUSH, GUP_NAMES, HOST,
  RETRY_CAUSE_UNSAFE, RETRY_NAMES,
} from '../../obs/events.js';
import { hex, yesno, type Exercise, type Question } from './model.js';

export const RACE_BUGS = ['no-retry-check', 'no-in-progress-check', 'seq-bumped-at-start'] as const;
export const OUTCOMES = ['commit', 'retry'];
export const CAUSES = ['none', 'in-progress', 'seq'];

interface Run {
  schedule: string;
  failed: boolean;
  failure: string;
  events: TraceEvent[];
  /** [event seq at the step's start, step number, actor, preemption point or null]. */
  marks: { seq: number; step: number; actor: string; inside: string | null }[];
}

function run(picks: readonly number[] | null, seed: number, bug: Bug | null, checks = true): Run & { picks: number[] } {
  const scenario = findScenario('swap-race')!;
  const ring = new EventRing(4096);
  const marks: Run['marks'] = [];
  let step = 0;
  const o = runOnce({
    scenario,
    bug,
    chooser: picks === null ? new RandomChooser(seed) : new ReplayChooser(picks),
    checks,
    ring,
    onStep: (actor, inside) => { marks.push({ seq: ring.emitted, step: ++step, actor, inside }); },
  });
  const p = o.records.map((r) => r.pick);
  return {
    picks: p,
    schedule: encodeSchedule({ scenario: scenario.name, inject: bug?.name ?? '', picks: p }),
    failed: o.failure !== null,
    failure: o.failure === null ? '' : `${o.failure.checker}: ${o.failure.message}`,
    // Events of the scenario's set-up (its prefaults) come before the first step: not part of the run.
    events: readEvents(ring).filter((e) => marks.length > 0 && e.seq >= marks[0]!.seq),
    marks,
  };
}

/** The first fault's decision: the first RETRY or SPTE_SET after its FAULT. */
function decision(r: Run): TraceEvent {
  const f = r.events.findIndex((e) => e.kind === EV_FAULT);
  const d = r.events.slice(f).find((e) => e.kind === EV_RETRY || e.kind === EV_SPTE_SET);
  if (f < 0 || d === undefined) throw new Error('race: the run has no decided fault');
  return d;
}

function line(e: TraceEvent): string | null {
  const f = e.f;
  switch (e.kind) {
    case EV_FAULT:
      return `read of gva ${hex(f[0]!)} misses: exit to KVM, guest walk (paging off: gfn ${hex(f[0]! >>> 12)}), sample mmu_invalidate_seq`;
    case EV_GUP:
      return `gup(gfn ${hex(f[0]!)}, hva ${hex(f[1]!)}) -> frame ${f[2]} (${GUP_NAMES[f[4]!]}), reference held`;
    case EV_INV_START:
      return f[3]! < 0 ? 'invalidate_range_start (no memslot there)' : `invalidate_range_start, gfn ${hex(f[3]!)}: mmu_invalidate_in_progress++, range recorded`;
    case EV_SPTE_ZAP:
      return `zap the spte of gfn ${hex(f[0]!)} (frame ${f[1]})`;
    case EV_TLB_FLUSH:
      return 'flush the TLBs of every vCPU';
    case EV_INV_END:
      return `invalidate_range_end: mmu_invalidate_seq = ${f[0]}, mmu_invalidate_in_progress--`;
    default:
      return null;
  }
}

export function raceExercise(seed: number): Exercise {
  const bug = findBug(RACE_BUGS[Math.floor(seed / 3) % RACE_BUGS.length]!)!;
  // Which schedule: seed % 3 == 0 wants one whose fault commits, 1 one whose fault retries, 2 one
  // that the bug turns into a failure (the first within a small budget of explorer seeds).
  const want = seed % 3;
  const BUDGET = 30;
  let clean: (Run & { picks: number[] }) | null = null;
  let buggy: Run | null = null;
  for (let k = 0; k < BUDGET && buggy === null; k++) {
    const last = k === BUDGET - 1;
    const c = run(null, seed * 1000 + k, null, false); // only its events matter
    const retried = decision(c).kind === EV_RETRY;
    // A bug in the retry rules can only change a fault some invalidation overlapped, one that
    // retries in the clean run: only those are worth a run with the bug.
    if ((want === 0 ? retried : !retried) && !last) continue;
    const b = run(c.picks, 0, bug);
    if (want < 2 || b.failed || last) {
      clean = c;
      buggy = b;
    }
  }
  const c = clean!;
  const b = buggy!;
  const d = decision(c);
  // The schedule up to the decision, the decision itself left as the question.
  const rows: string[][] = [];
  let hostOpStarted = false;
  let decided = false;
  /** The step that started the host operation: its events after a vCPU ran inside it resume it. */
  let hostStep = '';
  for (let i = 0; i < c.marks.length && !decided; i++) {
    const mk = c.marks[i]!;
    const end = i + 1 < c.marks.length ? c.marks[i + 1]!.seq : Number.MAX_SAFE_INTEGER;
    if (mk.inside === null && !mk.actor.startsWith('vcpu')) hostStep = String(mk.step);
    const before = rows.length;
    for (const e of c.events) {
      if (e.seq < mk.seq || e.seq >= end) continue;
      const who = e.vcpu === HOST ? 'reclaim' : `vcpu${e.vcpu}`;
      const step = e.vcpu === HOST && mk.inside !== null ? `${hostStep} (resumed)` : String(mk.step);
      const where = mk.inside !== null && e.vcpu !== HOST ? ` (inside the pageout, at ${mk.inside})` : '';
      if (e.vcpu === HOST && !hostOpStarted) {
        hostOpStarted = true;
        rows.push([step, 'reclaim', `madvise(MADV_PAGEOUT) of gfn 0x1's page begins (try_to_unmap)`]);
      }
      if (e.seq === d.seq) {
        const unsafe = e.kind === EV_RETRY && e.f[2] === RETRY_CAUSE_UNSAFE;
        rows.push([step, who, `${unsafe ? 'lockless pre-check mmu_invalidate_retry_gfn_unsafe' : 'takes mmu_lock, checks is_page_fault_stale (mmu_invalidate_retry_gfn)'}: ???${where}`]);
        decided = true;
        break;
      }
      const t = line(e);
      if (t !== null) rows.push([step, who, `${t}${where}`]);
    }
    // A step whose actor recorded nothing still took its turn (a fault moving on to its next
    // preemption point); inside a host operation it ran before the operation resumed.
    if (!decided && !rows.slice(before).some((r) => r[1] === mk.actor)) {
      const where = mk.inside !== null ? ` (inside the pageout, at ${mk.inside})` : '';
      rows.splice(before, 0, [String(mk.step), mk.actor, `(nothing recorded: moves on to its next preemption point)${where}`]);
    }
  }
  const faultSeq = c.events.find((e) => e.kind === EV_FAULT)!.seq;
  const sampled = c.events.filter((e) => e.kind === EV_INV_END && e.seq < faultSeq).map((e) => e.f[0]!).at(-1) ?? 0;
  const retried = d.kind === EV_RETRY;
  const cause = retried ? RETRY_NAMES[d.f[2]!]! : 'none';
  const bd = decision(b);
  const qs: Question[] = [
    {
      id: 'seq-sampled',
      text: 'Which value of mmu_invalidate_seq did vCPU 0\'s fault sample?',
      kind: 'int',
      answer: String(sampled),
      explain: `the fault samples it right after its walk; ${sampled === 0 ? 'no invalidate_range_end had run yet' : 'the last invalidate_range_end before it had set it'}`,
    },
    {
      id: 'outcome',
      text: `At the ??? line, does the fault commit its spte or retry? One of: ${OUTCOMES.join(', ')}.`,
      kind: 'word',
      choices: OUTCOMES,
      answer: retried ? 'retry' : 'commit',
      explain: retried
        ? `retry (${cause}): ${cause === 'in-progress' || (cause === 'unsafe' && d.f[4] === d.f[3]) ? 'an invalidation of its gfn is between start and end' : `mmu_invalidate_seq is ${d.f[4]} now, not the ${d.f[3]} it sampled: an invalidation ended since`}; the gup reference is dropped and the access faults again`
        : 'commit: no invalidation of its gfn is in progress and the sequence has not moved, so the frame it holds is still the host\'s',
    },
    {
      id: 'cause',
      text: `If it retries, which rule fires? One of: ${CAUSES.join(', ')} (none if it commits; the lockless pre-check counts by the rule it applies).`,
      kind: 'word',
      choices: CAUSES,
      answer: cause === 'unsafe' ? (d.f[4] === d.f[3] ? 'in-progress' : 'seq') : cause,
      explain: cause === 'none' ? 'it commits' : cause === 'unsafe' ? 'the lockless pre-check (mmu_invalidate_retry_gfn_unsafe) saw it before gup' : `mmu_invalidate_retry_gfn: ${cause}`,
    },
    {
      id: 'bug-outcome',
      text: `The same schedule (the same scheduling decisions) runs again with --inject ${bug.name} (${bug.what}). At that check, does the fault commit or retry?`,
      kind: 'word',
      choices: OUTCOMES,
      answer: bd.kind === EV_RETRY ? 'retry' : 'commit',
      explain:
        bd.kind === EV_RETRY ? `it still retries (${RETRY_NAMES[bd.f[2]!]}): the rule this bug removes is not the one that fires here`
        : retried ? `it commits: the bug removes the rule that made the clean run retry (${bug.rule})`
        : 'it commits, as the clean run does',
    },
    {
      id: 'bug-fails',
      text: 'With the bug, does a checker (stale-access detector, invariants, data check) catch a failure in that run?',
      kind: 'yesno',
      answer: yesno(b.failed),
      explain: b.failed ? `yes: ${b.failure} (replay: shadowvisor explore --replay ${b.schedule})` : `no: ${bd.kind === EV_RETRY ? 'the fault retried anyway' : 'the frame it committed was still the host\'s'} (replay: shadowvisor explore --replay ${b.schedule})`,
    },
  ];
  return {
    topic: 'race',
    seed,
    title: `race: a fault against a swap-out, and ${bug.name}`,
    intro: [
      'The explorer\'s swap-race scenario: a VM in notifier mode with paging off; vCPU 0 reads gva 0x1000 (gfn 0x1, not yet mapped by any spte) while the host task "reclaim" swaps the same page out with MADV_PAGEOUT (invalidate_range_start, clear the PTE, write the page to swap, invalidate_range_end, free the frame). mmu_invalidate_seq starts at 0.',
      'Below is the interleaving a seeded scheduler chose, as the trace ring recorded it, cut at the moment the fault checks whether its result is stale (???). A vCPU step "inside the pageout" ran at a preemption point in the middle of the host operation.',
    ],
    dumps: [{ title: 'the schedule (step: one scheduler decision)', columns: ['step', 'who', 'what'], rows }],
    questions: qs,
  };
}
