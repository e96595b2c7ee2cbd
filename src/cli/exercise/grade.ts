// The one grading rule of `shadowvisor exercise --check`: an answer line is normalised by its
// question's kind (case, spaces, 0x prefixes, leading zeros, the order inside a set, `none`) and
// compared with the engine's answer; each wrong or missing line is reported with the right
// answer and the engine's reason.

import type { Exercise, Question } from './model.js';

const NONE_WORDS = new Set(['none', '-', 'empty', '{}', '[]', '']);

function normHex(t: string): string | null {
  const s = t.replace(/^0x/, '').replace(/^0+(?=.)/, '');
  return /^[0-9a-f]+$/.test(s) ? s : null;
}

function normInt(t: string): string | null {
  return /^\d+$/.test(t) ? String(Number(t)) : null;
}

/**
 * An answer in comparable form, or null when it cannot be read as the kind asks (a hex answer
 * that is not hex, a word not among the choices). Tolerates case, surrounding and inner
 * whitespace, 0x prefixes and leading zeros; sets may come in any order.
 */
export function normalize(q: Pick<Question, 'kind' | 'choices'>, raw: string): string | null {
  const t = raw.trim().toLowerCase().replace(/\s+/g, ' ');
  switch (q.kind) {
    case 'hex':
      return normHex(t.replace(/ /g, ''));
    case 'int':
      return normInt(t.replace(/ /g, ''));
    case 'yesno':
      if (['yes', 'y', 'true'].includes(t)) return 'yes';
      if (['no', 'n', 'false'].includes(t)) return 'no';
      return null;
    case 'word': {
      const w = t.replace(/[ _]/g, '-');
      return q.choices === undefined || q.choices.includes(w) ? w : null;
    }
    case 'hexset':
    case 'intset': {
      const stripped = t.replace(/^[[{(]|[\]})]$/g, '').trim();
      if (NONE_WORDS.has(stripped)) return 'none';
      const parts = stripped.split(/[ ,;]+/).filter((p) => p !== '');
      const out: string[] = [];
      for (const p of parts) {
        const n = q.kind === 'hexset' ? normHex(p) : normInt(p);
        if (n === null) return null;
        out.push(n);
      }
      const uniq = [...new Set(out)];
      uniq.sort((a, b) => (q.kind === 'hexset' ? Number.parseInt(a, 16) - Number.parseInt(b, 16) : Number(a) - Number(b)));
      return uniq.join(',');
    }
  }
}

/** What a kind expects, for messages. */
export function kindHint(q: Pick<Question, 'kind' | 'choices'>): string {
  switch (q.kind) {
    case 'hex':
      return 'a hex number';
    case 'int':
      return 'a decimal number';
    case 'yesno':
      return 'yes or no';
    case 'word':
      return `one of: ${(q.choices ?? []).join(', ')}`;
    case 'hexset':
      return "hex numbers separated by commas, or 'none'";
    case 'intset':
      return "numbers separated by commas, or 'none'";
  }
}

export interface Grade {
  n: number;
  id: string;
  given: string | null;
  right: boolean;
  /** Empty when right. */
  message: string;
}

/** The answer lines of a file: blank lines and lines starting with '#' are skipped, and a
 *  question number in front ("3. 0x1f", "3) yes", "3: none") is dropped. The JSON that
 *  `-c --answers-only --format json` prints ({"answers": [...]}) is read as well. */
export function answerLines(text: string): string[] {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      const j = JSON.parse(t) as { answers?: unknown };
      if (Array.isArray(j.answers)) return j.answers.map((a) => String(a).trim());
    } catch {
      // not JSON after all: read it as lines
    }
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/^\d+[.):]\s+(?=\S)/, ''));
}

/** Grade one answer per question, in order. Extra lines are reported as a grade of their own. */
export function grade(ex: Exercise, lines: readonly string[]): Grade[] {
  const out: Grade[] = [];
  ex.questions.forEach((q, i) => {
    const given = lines[i] ?? null;
    const n = i + 1;
    if (given === null) {
      out.push({ n, id: q.id, given, right: false, message: `no answer (expected ${kindHint(q)}); the answer is ${q.answer}: ${q.explain}` });
      return;
    }
    const mine = normalize(q, given);
    const theirs = normalize(q, q.answer);
    if (theirs === null) throw new Error(`exercise ${ex.topic}: the engine's answer '${q.answer}' to ${q.id} is not ${kindHint(q)}`);
    if (mine === null) {
      out.push({ n, id: q.id, given, right: false, message: `'${given}' is not ${kindHint(q)}; the answer is ${q.answer}: ${q.explain}` });
    } else if (mine !== theirs) {
      out.push({ n, id: q.id, given, right: false, message: `'${given}' is wrong; the answer is ${q.answer}: ${q.explain}` });
    } else {
      out.push({ n, id: q.id, given, right: true, message: '' });
    }
  });
  if (lines.length > ex.questions.length) {
    out.push({
      n: ex.questions.length + 1,
      id: 'extra',
      given: lines[ex.questions.length]!,
      right: false,
      message: `${lines.length - ex.questions.length} answer line(s) beyond the ${ex.questions.length} questions (one answer per line, in order)`,
    });
  }
  return out;
}
