// `shadowvisor exercise`: OSTEP-style homework from the real engine. `--topic T -s SEED` prints a
// self-contained problem cut from a small deterministic run (the tables a student reads and the
// questions), `-c` adds the answers the engine's own state gives, `-c --answers-only` prints just
// the answer lines, and `--check FILE` grades a student's lines against them (exit 0 only when
// every answer is right, 1 otherwise; 2 stays bad usage).

import { readFileSync } from 'node:fs';
import { parseCommandArgs, parseCount, UsageError } from './args.js';
import { writeStdout } from './output.js';
import { answerLines, grade } from './exercise/grade.js';
import { renderAnswersOnly, renderExercise, renderGrades, type Format } from './exercise/render.js';
import { findTopic, TOPICS } from './exercise/topics.js';

/** --check found at least one wrong (or missing) answer. */
export const EXIT_STATUS_WRONG_ANSWERS = 1;

export const EXERCISE_HELP = `Usage: shadowvisor exercise --topic T [-s SEED] [-c [--answers-only] | --check FILE] [--format F]

Homework problems in the style of OSTEP's simulators, cut from a small deterministic run of the
real engine: the tables a student reads (guest PDE/PTE, memslots, host PTEs, sptes, TLBs) and
questions about them. The same topic and seed give the same problem, byte for byte.

  --topic T          the topic (--list-topics)
  -s, --seed N       the problem's seed (default 0)
  -c, --compute      also print the answers, computed by the engine, with a short reason each
  --answers-only     with -c: only the answer lines, exactly what --check reads (with
                     --format json one object, which --check reads too)
  --check FILE       grade FILE ('-' for stdin): one answer per line, in question order; blank
                     lines and lines starting with '#' are skipped; case, spaces, 0x prefixes,
                     leading zeros and the order inside a set do not matter
  --format F         text (default), md (Markdown), json
  --list-topics      the topics, one per line

Exit status: 0 printed (or, with --check, every answer right), 1 --check found a wrong or
missing answer (each one named, with the right answer and why), 2 bad usage.
Try: shadowvisor exercise --topic translate -s 1
`;

const FORMATS: readonly Format[] = ['text', 'md', 'json'];

export function exerciseCommand(argv: string[]): number {
  const { values, positionals } = parseCommandArgs('exercise', argv, {
    topic: { type: 'string' },
    seed: { type: 'string', short: 's' },
    compute: { type: 'boolean', short: 'c' },
    'answers-only': { type: 'boolean' },
    check: { type: 'string' },
    format: { type: 'string' },
    'list-topics': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    writeStdout(EXERCISE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`exercise: unexpected argument '${positionals[0]}' (try 'shadowvisor exercise --help')`);
  const fmt = (values.format ?? 'text') as Format;
  if (!FORMATS.includes(fmt)) throw new UsageError(`exercise: --format: expected one of ${FORMATS.join(', ')}, got '${values.format}'`);
  if (values['list-topics'] === true) {
    if (fmt === 'json') writeStdout(TOPICS.map((t) => `${JSON.stringify({ name: t.name, what: t.what })}\n`).join(''));
    else writeStdout(TOPICS.map((t) => `${t.name.padEnd(16)} ${t.what}\n`).join(''));
    return 0;
  }
  if (values.topic === undefined) throw new UsageError(`exercise: --topic is required (one of: ${TOPICS.map((t) => t.name).join(', ')})`);
  const topic = findTopic(values.topic);
  if (topic === undefined) throw new UsageError(`exercise: unknown topic '${values.topic}' (one of: ${TOPICS.map((t) => t.name).join(', ')})`);
  const seed = values.seed === undefined ? 0 : parseCount('--seed', values.seed, 0, 2 ** 31 - 1);
  const compute = values.compute === true;
  if (values['answers-only'] === true && !compute) throw new UsageError('exercise: --answers-only needs -c');
  if (values.check !== undefined && compute) throw new UsageError('exercise: --check and -c do not go together (--check grades, -c prints the answers)');
  let answersText: string | null = null;
  if (values.check !== undefined) {
    const file = values.check;
    try {
      answersText = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new UsageError(`exercise: --check: cannot read '${file}' (${code})`);
    }
  }

  const ex = topic.build(seed);
  const command = `shadowvisor exercise --topic ${topic.name} -s ${seed}`;
  if (answersText !== null) {
    const grades = grade(ex, answerLines(answersText));
    writeStdout(renderGrades(ex, grades, fmt));
    return grades.every((g) => g.right) ? 0 : EXIT_STATUS_WRONG_ANSWERS;
  }
  if (compute && values['answers-only'] === true) writeStdout(renderAnswersOnly(ex, fmt));
  else writeStdout(renderExercise(ex, fmt, { answers: compute, command }));
  return 0;
}
