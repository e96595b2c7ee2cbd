// How an exercise is printed: plain text (default), Markdown (tables an instructor can paste
// into a quiz page) or JSON (one object, for building quizzes by program), with or without the
// answers, and the grading report of `--check` in the same three forms.

import { kindHint, type Grade } from './grade.js';
import type { Dump, Exercise, Question } from './model.js';

export type Format = 'text' | 'md' | 'json';

export interface RenderOptions {
  answers: boolean;
  /** How to re-run this problem (printed under the questions). */
  command: string;
}

function textTable(d: Dump): string[] {
  const widths = d.columns.map((c, i) => Math.max(c.length, ...d.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  const out = [`== ${d.title} ==`];
  if (d.note !== undefined) out.push(`  (${d.note})`);
  out.push(line(d.columns));
  if (d.rows.length === 0) out.push('  (empty)');
  for (const r of d.rows) out.push(line(r));
  return out;
}

/** The question with what its answer looks like, unless the text already lists the choices. */
function asked(q: Question): string {
  return q.kind === 'word' ? q.text : `${q.text} [${kindHint(q)}]`;
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function mdTable(d: Dump): string[] {
  const out = [`### ${d.title}`, ''];
  if (d.note !== undefined) out.push(`_${d.note}_`, '');
  out.push(`| ${d.columns.map(mdCell).join(' | ')} |`, `|${d.columns.map(() => '---').join('|')}|`);
  if (d.rows.length === 0) out.push(`| ${d.columns.map((_, i) => (i === 0 ? '(empty)' : '')).join(' | ')} |`);
  for (const r of d.rows) out.push(`| ${r.map(mdCell).join(' | ')} |`);
  return out;
}

export function renderExercise(ex: Exercise, fmt: Format, o: RenderOptions): string {
  if (fmt === 'json') {
    const obj: Record<string, unknown> = {
      topic: ex.topic,
      seed: ex.seed,
      title: ex.title,
      intro: ex.intro,
      command: o.command,
      dumps: ex.dumps,
      questions: ex.questions.map((q, i) => {
        const base: Record<string, unknown> = { n: i + 1, id: q.id, text: q.text, kind: q.kind };
        if (q.choices !== undefined) base.choices = q.choices;
        if (o.answers) Object.assign(base, { answer: q.answer, explain: q.explain });
        return base;
      }),
    };
    return `${JSON.stringify(obj)}\n`;
  }
  const out: string[] = [];
  if (fmt === 'md') {
    out.push(`## Exercise: ${ex.title}`, '', `_topic ${ex.topic}, seed ${ex.seed}: \`${o.command}\`_`, '');
    for (const p of ex.intro) out.push(p, '');
    for (const d of ex.dumps) out.push(...mdTable(d), '');
    out.push('### Questions', '');
    ex.questions.forEach((q, i) => out.push(`${i + 1}. **[${q.id}]** ${asked(q)}`));
    out.push('', `Hand in one answer per line, in order (\`${o.command} --check FILE\` grades it).`);
    if (o.answers) {
      out.push('', '### Answers', '');
      ex.questions.forEach((q, i) => out.push(`${i + 1}. **${q.answer}** — ${q.explain}`));
    }
    return `${out.join('\n')}\n`;
  }
  out.push(`shadowvisor exercise: ${ex.title}`, `(topic ${ex.topic}, seed ${ex.seed}; ${o.command})`, '');
  for (const p of ex.intro) out.push(p, '');
  for (const d of ex.dumps) out.push(...textTable(d), '');
  out.push('Questions (one answer per line, in order; check with --check FILE):');
  ex.questions.forEach((q, i) => out.push(`  ${String(i + 1).padStart(2)}. [${q.id}] ${asked(q)}`));
  if (o.answers) {
    out.push('', 'Answers (computed by the engine):');
    ex.questions.forEach((q, i) => out.push(`  ${String(i + 1).padStart(2)}. [${q.id}] ${q.answer}`, `      ${q.explain}`));
  }
  return `${out.join('\n')}\n`;
}

/** `-c --answers-only`: exactly the lines `--check` reads. */
export function renderAnswersOnly(ex: Exercise, fmt: Format): string {
  if (fmt === 'json') return `${JSON.stringify({ topic: ex.topic, seed: ex.seed, answers: ex.questions.map((q) => q.answer) })}\n`;
  return ex.questions.map((q) => `${q.answer}\n`).join('');
}

export function renderGrades(ex: Exercise, grades: readonly Grade[], fmt: Format): string {
  const right = grades.filter((g) => g.right).length;
  const total = ex.questions.length;
  const wrong = grades.filter((g) => !g.right);
  if (fmt === 'json') {
    return `${JSON.stringify({ topic: ex.topic, seed: ex.seed, right: grades.filter((g) => g.right && g.id !== 'extra').length, questions: total, passed: wrong.length === 0, grades })}\n`;
  }
  const out: string[] = [];
  const head = `${ex.topic} seed ${ex.seed}: ${right}/${total} right`;
  out.push(fmt === 'md' ? `**${head}**` : head);
  for (const g of grades) {
    const tag = g.id === 'extra' ? 'extra lines' : `${g.n}. [${g.id}]`;
    out.push(`${fmt === 'md' ? '- ' : '  '}${tag}: ${g.right ? 'right' : `WRONG: ${g.message}`}`);
  }
  return `${out.join('\n')}\n`;
}
