// The schedule section of a `trace --schedule STR --html DIR` page: the explorer schedule the
// page replays, its failure, the command that replays it, every recorded choice point (which
// kind, which option of how many, whether it preempted) and the steps it produced, each with the
// trace events it emitted, so the timeline and the chains below can be read step by step.
// Static HTML (no script): the rest of the page is trace-html.ts's.

import { escapeHtml } from './trace-html.js';

export interface ScheduleChoice {
  /** 'pick' (which actor steps next) or 'preempt' (a vCPU inside a host operation, or not). */
  kind: string;
  pick: number;
  n: number;
  preemptive: boolean;
  /** The actor the pick chose (option 0: the one that goes on). */
  chose: string;
}

export interface ScheduleStep {
  actor: string;
  /** The host preemption point the step ran at, or null for a step of its own. */
  inside: string | null;
  /** Index into `choices` of the choice that made this step, or -1 (forced: one option). */
  choice: number;
  /** Sequence numbers of the first and last trace event the step emitted (-1: none). */
  firstSeq: number;
  lastSeq: number;
}

export interface ScheduleView {
  text: string;
  failure: string | null;
  replay: string;
  choices: ScheduleChoice[];
  /** Empty for a guest image's run (its steps are the trace's own vCPU and host events); an
   *  actor named 'X (goes on)' is host operation X resuming after a step inside it. */
  steps: ScheduleStep[];
}

export function scheduleSectionHtml(s: ScheduleView): string {
  const p: string[] = [];
  p.push('<h2 id="schedule">Schedule</h2>');
  p.push(`<p class="meta">Explorer schedule <code>${escapeHtml(s.text)}</code>: ${s.failure === null ? 'no failure' : `<b>${escapeHtml(s.failure)}</b>`}. ` +
    `Replay: <code>${escapeHtml(s.replay)}</code>. Option 0 of a choice point keeps the running actor (at a preemption point: lets the ` +
    `host operation go on); a preemptive pick stops an actor that could have gone on.</p>`);
  const preempting = s.choices.filter((c) => c.pick !== 0 && c.preemptive).length;
  p.push(`<p class="meta">${s.choices.length} choice point${s.choices.length === 1 ? '' : 's'}, ${preempting} preemptive pick${preempting === 1 ? '' : 's'}.</p>`);
  const choiceCell = (i: number): string => {
    if (i < 0) return '<td class="meta">forced</td>';
    const c = s.choices[i]!;
    return `<td>#${i + 1} ${escapeHtml(c.kind)}: option ${c.pick} of ${c.n}${c.pick !== 0 && c.preemptive ? ' <b>(preempts)</b>' : ''}</td>`;
  };
  if (s.steps.length > 0) {
    p.push('<div class="scroll"><table class="schedule"><tr><th>step</th><th>actor</th><th>where</th><th>choice</th><th>events</th></tr>');
    let n = 0;
    s.steps.forEach((st) => {
      const ev = st.firstSeq < 0 ? 'none' : st.firstSeq === st.lastSeq ? `#${st.firstSeq}` : `#${st.firstSeq}&ndash;#${st.lastSeq}`;
      // A host operation going on after a step inside it is a row, not a step of its own.
      const goesOn = st.choice < 0 && st.actor.endsWith(' (goes on)');
      if (!goesOn) n++;
      p.push(`<tr${goesOn ? '' : ` id="step-${n}"`}><td>${goesOn ? '' : n}</td><td>${escapeHtml(st.actor)}</td><td>${st.inside === null ? 'its own step' : `inside the host operation, at ${escapeHtml(st.inside)}`}</td>${choiceCell(st.choice)}<td>${ev}</td></tr>`);
    });
    p.push('</table></div>');
  } else if (s.choices.length > 0) {
    p.push('<div class="scroll"><table class="schedule"><tr><th>choice</th><th>chose</th></tr>');
    s.choices.forEach((c, i) => p.push(`<tr>${choiceCell(i)}<td>${escapeHtml(c.chose)}</td></tr>`));
    p.push('</table></div>');
  }
  return p.join('\n');
}
