// What an exercise is (`shadowvisor exercise`): a seeded problem built from a small run of the
// real engine — dumps of the tables a student reads (guest PDE/PTE, memslots, host PTEs, sptes,
// TLBs) and questions — and the answers the engine's own state gives, each with a short reason,
// written in the canonical form of its kind (grade.ts compares answers in that form).

/** How an answer is written and compared. */
export type AnswerKind =
  /** A number in hex: `0x1a2b`, `1A2B`, `0x00001a2b` are all the same. */
  | 'hex'
  /** A decimal count. */
  | 'int'
  /** yes / no (y, n, true, false accepted). */
  | 'yesno'
  /** One word from the question's choices. */
  | 'word'
  /** A set of hex numbers, any order, separated by commas or spaces; `none` for the empty set. */
  | 'hexset'
  /** A set of decimal numbers, any order; `none` for the empty set. */
  | 'intset';

export interface Dump {
  title: string;
  /** One line under the title saying how to read the table (optional). */
  note?: string;
  columns: string[];
  rows: string[][];
}

export interface Question {
  /** Short stable name, used by --check's messages and the JSON. */
  id: string;
  text: string;
  kind: AnswerKind;
  /** The allowed words (kind 'word'). */
  choices?: string[];
  /** The engine's answer, in canonical form (what `-c --answers-only` prints). */
  answer: string;
  /** Why, in a sentence or two. */
  explain: string;
}

export interface Exercise {
  topic: string;
  seed: number;
  title: string;
  /** The set-up, in a few short paragraphs. */
  intro: string[];
  dumps: Dump[];
  questions: Question[];
}

export const hex = (v: number, width = 0): string => `0x${(v >>> 0).toString(16).padStart(width, '0')}`;
export const yesno = (b: boolean): string => (b ? 'yes' : 'no');

/** A set answer in canonical form: sorted, comma-separated, `none` when empty. */
export function hexSet(values: Iterable<number>): string {
  const s = [...new Set(values)].sort((a, b) => a - b);
  return s.length === 0 ? 'none' : s.map((v) => hex(v)).join(',');
}
export function intSet(values: Iterable<number>): string {
  const s = [...new Set(values)].sort((a, b) => a - b);
  return s.length === 0 ? 'none' : s.join(',');
}

/** Integers lo..hi inclusive. */
export function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}
