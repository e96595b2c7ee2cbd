// Every scheduling decision of a simulation run as a recorded choice, and the printable schedule
// string that replays one. Two kinds of choice points exist: the scheduler's pick among runnable
// tasks, and a host preemption point (host/preempt-points.ts) where a vCPU may run inside a host
// mm operation. Options are always ordered so that option 0 is the non-preempting default (keep
// running the current actor; at a preemption point: let the host go on), and the other options
// follow in actor order. A run is then fully described by its sequence of picks, and a sequence
// with fewer non-zero picks has fewer preemptions: the shape shrinking and bounded search want.

/** The scheduler picks the next actor among the runnable ones. */
export const CHOICE_PICK = 0;
/** A host mm operation reached a preemption point: option 0 lets it go on, option k runs a vCPU step. */
export const CHOICE_PREEMPT = 1;

/**
 * A scheduling policy. `options` holds actor ids, option 0 being the default; `running` is the
 * actor that made the last step (-1 at the start), `preemptive` says whether choosing any option but 0
 * preempts an actor that could have gone on. Returns an option index (out of range counts as 0).
 */
export interface Chooser {
  choose(kind: number, options: readonly number[], running: number, preemptive: boolean): number;
}

/** One recorded choice point. */
export interface ChoiceRecord {
  kind: number;
  /** Number of options. */
  n: number;
  pick: number;
  preemptive: boolean;
}

export const SCHEDULE_VERSION = 'sv1';

/** A self-contained schedule: which scenario, which injection (or none), and the picks. */
export interface Schedule {
  scenario: string;
  /** Injected bug name, or '' for the clean configuration. */
  inject: string;
  picks: number[];
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * `sv1:<scenario>:<inject or ->:<picks>`. Picks are letters (a = option 0 ... z = option 25), a
 * run of the same pick is the letter followed by its decimal count, and trailing zeros are left
 * out (a pick past the end of the schedule is 0), e.g. [0,0,0,1,0,0,2] -> `a3ba2c`.
 */
export function encodeSchedule(s: Schedule): string {
  let end = s.picks.length;
  while (end > 0 && s.picks[end - 1] === 0) end--;
  let body = '';
  for (let i = 0; i < end; ) {
    const p = Math.min(25, Math.max(0, s.picks[i]!));
    let j = i + 1;
    while (j < end && s.picks[j] === s.picks[i]) j++;
    body += String.fromCharCode(97 + p) + (j - i > 1 ? String(j - i) : '');
    i = j;
  }
  return `${SCHEDULE_VERSION}:${s.scenario}:${s.inject === '' ? '-' : s.inject}:${body === '' ? '-' : body}`;
}

export class ScheduleError extends Error {}

export function decodeSchedule(text: string): Schedule {
  const parts = text.trim().split(':');
  if (parts.length !== 4 || parts[0] !== SCHEDULE_VERSION) {
    throw new ScheduleError(`schedule "${text}" is not of the form ${SCHEDULE_VERSION}:SCENARIO:INJECT:PICKS`);
  }
  const [, scenario, inject, body] = parts as [string, string, string, string];
  if (!NAME.test(scenario)) throw new ScheduleError(`schedule: bad scenario name "${scenario}"`);
  if (inject !== '-' && !NAME.test(inject)) throw new ScheduleError(`schedule: bad injection name "${inject}"`);
  const picks: number[] = [];
  if (body !== '-') {
    const re = /([a-z])(\d*)/gy;
    let m: RegExpExecArray | null;
    let at = 0;
    while ((m = re.exec(body)) !== null) {
      const count = m[2] === '' ? 1 : Number(m[2]);
      if (!(count >= 1) || count > 1_000_000 || picks.length + count > 10_000_000) throw new ScheduleError(`schedule: bad run length in "${body}"`);
      for (let k = 0; k < count; k++) picks.push(m[1]!.charCodeAt(0) - 97);
      at = re.lastIndex;
    }
    if (at !== body.length) throw new ScheduleError(`schedule: unexpected "${body.slice(at, at + 8)}" in the picks`);
  }
  return { scenario, inject: inject === '-' ? '' : inject, picks };
}

/** Replays a pick sequence; past its end every choice is 0 (the default). */
export class ReplayChooser implements Chooser {
  private i = 0;
  constructor(private readonly picks: readonly number[]) {}
  choose(_kind: number, options: readonly number[]): number {
    const p = this.i < this.picks.length ? this.picks[this.i]! : 0;
    this.i++;
    return p < options.length ? p : 0;
  }
}

/** Counts of a recorded run: what shrinking minimises, in this order. */
export function scheduleMeasure(records: readonly ChoiceRecord[]): { preemptions: number; switches: number; length: number } {
  let preemptions = 0;
  let switches = 0;
  for (const r of records) {
    if (r.pick === 0) continue;
    switches++;
    if (r.preemptive) preemptions++;
  }
  return { preemptions, switches, length: records.length };
}

/**
 * A Chooser with the bookkeeping of a recorded run: the choice records (forced points, with one
 * option, are not choices and are not recorded), and the preemptions and context switches the
 * picks made. The simulation engine (Simulation with SimOptions.chooser) decides through one.
 */
export class ChoiceRecorder {
  readonly records: ChoiceRecord[] = [];
  preemptions = 0;
  switches = 0;

  constructor(readonly chooser: Chooser) {}

  choose(kind: number, options: readonly number[], running: number, preemptive: boolean): number {
    if (options.length < 2) return 0;
    let pick = this.chooser.choose(kind, options, running, preemptive);
    if (!(pick >= 0 && pick < options.length)) pick = 0;
    this.records.push({ kind, n: options.length, pick, preemptive });
    return pick;
  }
}
