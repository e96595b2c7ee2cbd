// `shadowvisor exercise`: every topic is deterministic per seed, its -c answers pass its own
// --check, a wrong line fails naming the question, the formats parse, bad usage is status 2 —
// and the answers agree with values computed here independently: translate by walking the
// dumped tables, the others by re-running the engine and reading its counters and state.
import { describe, expect, it } from 'vitest';
import { answerLines, grade, normalize } from '../../src/cli/exercise/grade.js';
import type { Dump, Exercise } from '../../src/cli/exercise/model.js';
import { renderAnswersOnly, renderExercise } from '../../src/cli/exercise/render.js';
import { findTopic, TOPICS } from '../../src/cli/exercise/topics.js';
import { cli, expectBadInput } from './helpers.js';

const SEEDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

const built = new Map<string, Exercise>();
/** One build per topic and seed (the determinism test builds afresh). */
function build(topic: string, seed: number): Exercise {
  const key = `${topic}/${seed}`;
  let ex = built.get(key);
  if (ex === undefined) {
    ex = findTopic(topic)!.build(seed);
    built.set(key, ex);
  }
  return ex;
}

function text(ex: Exercise, answers: boolean): string {
  return renderExercise(ex, 'text', { answers, command: `shadowvisor exercise --topic ${ex.topic} -s ${ex.seed}` });
}

function dump(ex: Exercise, title: RegExp): Dump {
  const d = ex.dumps.find((x) => title.test(x.title));
  if (d === undefined) throw new Error(`no dump ${title} in ${ex.topic} seed ${ex.seed}`);
  return d;
}

function answer(ex: Exercise, id: string): string | undefined {
  return ex.questions.find((q) => q.id === id)?.answer;
}

const num = (s: string): number => (s.startsWith('0x') ? Number.parseInt(s, 16) : Number(s));

describe.each(TOPICS.map((t) => t.name))('exercise topic %s', (topic) => {
  it('is the same problem byte for byte for the same seed, and differs across seeds', () => {
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const a = text(build(topic, seed), true);
      if (seed < 5) expect(text(findTopic(topic)!.build(seed), true)).toBe(a);
      seen.add(a);
    }
    expect(seen.size).toBeGreaterThanOrEqual(8);
  });

  it('grades its own answers right and each single wrong answer wrong, naming the question', () => {
    for (const seed of SEEDS) {
      const ex = build(topic, seed);
      expect(ex.questions.length).toBeGreaterThanOrEqual(3);
      const lines = renderAnswersOnly(ex, 'text').trimEnd().split('\n');
      expect(lines).toHaveLength(ex.questions.length);
      expect(grade(ex, lines).every((g) => g.right)).toBe(true);
      // Tolerance: upper case, 0x dropped, padding added, sets reversed.
      const sloppy = ex.questions.map((q, i) => {
        const l = lines[i]!;
        if (q.kind === 'hex') return `  ${Number.parseInt(l, 16).toString(16).toUpperCase()} `; // no 0x, no zero padding
        if (q.kind === 'hexset') return l.split(',').reverse().map((v) => (v === 'none' ? 'NONE' : `0x000${v.slice(2)}`)).join(' , ');
        if (q.kind === 'intset') return l.split(',').reverse().join(' , ');
        return l.toUpperCase();
      });
      expect(grade(ex, sloppy).every((g) => g.right)).toBe(true);
      ex.questions.forEach((q, i) => {
        const bad = [...lines];
        bad[i] = wrongAnswer(q.kind, lines[i]!, q.choices);
        const g = grade(ex, bad);
        expect(g.filter((x) => !x.right).map((x) => x.id)).toEqual([q.id]);
        expect(g[i]!.message).toContain(q.answer);
      });
      expect(grade(ex, lines.slice(0, -1)).filter((x) => !x.right).map((x) => x.id)).toEqual([ex.questions.at(-1)!.id]);
      expect(grade(ex, [...lines, 'extra']).some((x) => !x.right)).toBe(true);
    }
  });

  it('prints Markdown tables with consistent columns and JSON that parses', () => {
    const ex = build(topic, 3);
    const md = renderExercise(ex, 'md', { answers: true, command: 'x' });
    const tables = md.split('\n\n').filter((b) => b.startsWith('|'));
    expect(tables.length).toBe(ex.dumps.length);
    for (const t of tables) {
      const rows = t.split('\n');
      const cols = rows[0]!.split(/(?<!\\)\|/).length;
      for (const r of rows) expect(r.split(/(?<!\\)\|/).length).toBe(cols);
    }
    const j = JSON.parse(renderExercise(ex, 'json', { answers: true, command: 'x' }));
    expect(j.topic).toBe(topic);
    expect(j.questions.map((q: { answer: string }) => q.answer)).toEqual(ex.questions.map((q) => q.answer));
    expect(j.dumps.length).toBe(ex.dumps.length);
  });

  it('CLI: --check grades the engine\'s answers with one line changed: exit 1, that question named', () => {
    const ex = build(topic, 4);
    const lines = renderAnswersOnly(ex, 'text').trimEnd().split('\n');
    const q = ex.questions[1]!;
    lines[1] = wrongAnswer(q.kind, lines[1]!, q.choices);
    const bad = cli(['exercise', '--topic', topic, '-s', '4', '--check', '-'], { input: `${lines.join('\n')}\n` });
    expect(bad.status, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toContain(`2. [${q.id}]: WRONG`);
    expect(bad.stdout.match(/WRONG/g)).toHaveLength(1);
    expect(bad.stdout).toContain(`${ex.questions.length - 1}/${ex.questions.length} right`);
  });
});

function wrongAnswer(kind: string, right: string, choices?: string[]): string {
  switch (kind) {
    case 'hex':
      return `0x${(Number.parseInt(right, 16) + 0x1000).toString(16)}`;
    case 'int':
      return String(Number(right) + 1);
    case 'yesno':
      return right === 'yes' ? 'no' : 'yes';
    case 'word':
      return choices!.find((c) => c !== right)!;
    case 'hexset':
      return right === 'none' ? '0x1' : 'none';
    case 'intset':
      return right === 'none' ? '0' : 'none';
  }
  throw new Error(kind);
}

describe('exercise answers against independent computations', () => {
  it('translate: walking the dumped tables gives the GPA, HVA, HPA and the spte', () => {
    for (const seed of SEEDS) {
      const ex = build('translate', seed);
      const gva = num(/GVA (0x[0-9a-f]+)/.exec(ex.questions[0]!.text)![1]!);
      const pd = dump(ex, /^guest page directory/);
      const pde = num(pd.rows.find((r) => Number(r[0]) === gva >>> 22)![2]!);
      const pt = dump(ex, new RegExp(`^guest page table at gfn 0x${(pde >>> 12).toString(16)} `));
      const pte = num(pt.rows.find((r) => Number(r[0]) === ((gva >>> 12) & 1023))![2]!);
      const gfn = pte >>> 12;
      expect(num(answer(ex, 'gpa')!)).toBe(gfn * 4096 + (gva & 0xfff));
      const slot = dump(ex, /^memslots/).rows.map((r) => r.map(num)).find(([, base, n]) => gfn >= base! && gfn < base! + n!)!;
      const hva = slot[3]! + (gfn - slot[1]!) * 4096 + (gva & 0xfff);
      expect(num(answer(ex, 'hva')!)).toBe(hva);
      const hostRow = dump(ex, /^host page table/).rows.find((r) => num(r[0]!) === (hva & ~0xfff))!;
      const frame = Number(/frame (\d+)/.exec(hostRow[1]!)![1]);
      expect(num(answer(ex, 'hpa')!)).toBe(frame * 4096 + (gva & 0xfff));
      // The spte: root index -> shadow page, leaf index -> spte; it maps the same frame.
      const root = dump(ex, /shadow root/).rows.find((r) => Number(r[0]) === gva >>> 22)!;
      const spId = Number(/shadow page (\d+)/.exec(root[1]!)![1]);
      const leaf = dump(ex, /^leaf sptes/).rows.find((r) => r[0] === `${spId}[${(gva >>> 12) & 1023}]`)!;
      const spte = num(leaf[1]!);
      expect(spte >>> 12).toBe(frame);
      expect(answer(ex, 'spte-writable')).toBe(spte & 2 ? 'yes' : 'no');
      // Why: the decision KVM's make_spte makes, from the dumped gpte, spte and tables.
      const ptGfns = pd.rows.map((r) => num(r[2]!) >>> 12);
      const hostW = /writable/.test(hostRow[1]!.replace('read-only', ''));
      let why: string;
      if (spte & 2) why = 'writable';
      else if (!(spte & 0x100)) why = pte & 2 && pde & 2 && !(pte & 0x40) ? 'protect-clean-gpte' : 'guest-read-only';
      else if (!(spte & 0x200)) why = 'host-read-only';
      else why = ptGfns.includes(gfn) ? 'write-tracked' : 'unexplained';
      expect(answer(ex, 'why'), `seed ${seed}`).toBe(why);
      if (why === 'host-read-only') expect(hostW).toBe(false);
      const after = answer(ex, 'gpte-after');
      if (after !== undefined) expect(num(after)).toBe((pte | 0x60) >>> 0);
      // The write that follows: a writable spte takes no exit; a clean gpte one (D is set); a
      // read-only host PTE at least one, and COW moves the page to another frame.
      const exits = answer(ex, 'exits');
      if (exits !== undefined) {
        if (why === 'writable') expect(exits).toBe('0');
        else if (why === 'protect-clean-gpte') expect(exits).toBe('1');
        else expect(Number(exits)).toBeGreaterThanOrEqual(1);
        expect(answer(ex, 'frame-after') === String(frame), `seed ${seed}`).toBe(why !== 'host-read-only');
      }
      if (why === 'guest-read-only') expect(answer(ex, 'write-result')).toBe('guest-pf');
    }
  });
});

describe('exercise answers against independent computations (invalidate)', () => {
  it('invalidate: the zapped sptes, flushes, next fault and value follow from the dumps and the operation', () => {
    let zappedSome = 0;
    for (const seed of [...SEEDS, 10, 11, 12, 13, 14, 15]) {
      const ex = build('invalidate', seed);
      const q1 = ex.questions[0]!.text;
      const m = /(?:madvise|mprotect)\((0x[0-9a-f]+), (0x[0-9a-f]+), (\w+)\)|hva (0x[0-9a-f]+) to another frame/.exec(q1)!;
      const hva = num(m[1] ?? m[4]!);
      const len = m[2] === undefined ? 4096 : num(m[2]);
      const op = m[3] ?? 'migrate';
      const [, base, , slotHva] = dump(ex, /^memslots/).rows[0]!.map(num);
      const first = base! + (hva - slotHva!) / 4096;
      const inRange = (g: number): boolean => g >= first && g < first + len / 4096;
      const sptes = dump(ex, /^leaf sptes/).rows.map((r) => ({ gva: num(r[1]!), gfn: num(r[2]!) }));
      const zapped = sptes.filter((s) => inRange(s.gfn)).map((s) => s.gva).sort((a, b) => a - b);
      const got = answer(ex, 'zapped')!;
      expect(got === 'none' ? [] : got.split(',').map(num), `seed ${seed}`).toEqual(zapped);
      if (zapped.length > 0) zappedSome++;
      expect(answer(ex, 'flushed')).toBe(zapped.length > 0 ? '0,1' : 'none');
      const inv = answer(ex, 'inv-gfns')!;
      const covered = inv === 'none' ? [] : inv.split(',').map(num);
      for (const g of covered) expect(inRange(g)).toBe(true);
      for (const s of sptes) if (inRange(s.gfn)) expect(covered).toContain(s.gfn);
      const keeps = answer(ex, 'tlb-keeps');
      if (keeps !== undefined) expect(keeps).toBe(zapped.length > 0 ? 'no' : 'yes');
      // The next read by vCPU 1.
      const y = /reads GVA (0x[0-9a-f]+) \(gfn (0x[0-9a-f]+)\)/.exec(ex.questions.find((q) => q.id === 'exits')!.text)!;
      const yGva = num(y[1]!);
      const yGfn = num(y[2]!);
      const hadSpte = sptes.some((s) => s.gva === yGva);
      const faults = !hadSpte || inRange(yGfn);
      expect(answer(ex, 'exits'), `seed ${seed}`).toBe(faults ? 'yes' : 'no');
      const gup = answer(ex, 'gup')!;
      if (!faults) expect(gup).toBe('no-fault');
      else if (!inRange(yGfn)) expect(gup).toBe('present');
      else if (op === 'MADV_DONTNEED') expect(gup).toBe('zero-fill');
      else if (op === 'MADV_PAGEOUT') expect(['swap-in', 'swap-cache']).toContain(gup);
      else expect(gup).toBe('present');
      const word = num(dump(ex, /^first word/).rows.find((r) => num(r[0]!) === yGfn)![1]!);
      expect(num(answer(ex, 'value')!)).toBe(op === 'MADV_DONTNEED' && inRange(yGfn) ? 0 : word);
    }
    expect(zappedSome).toBeGreaterThan(8);
  });
});

describe('exercise answers against independent computations (fault)', () => {
  it('fault: each gup outcome follows from the dumped host PTE and frame (mapcount, KSM) and the access', () => {
    const kinds = new Set<string>();
    for (const seed of SEEDS) {
      const ex = build('fault', seed);
      const ptes = new Map(dump(ex, /^host page table/).rows.map((r) => [num(r[0]!), r[1]!]));
      const frames = new Map(dump(ex, /^host frames/).rows.map((r) => [Number(r[0]), { map: Number(r[1]), ksm: /KSM/.test(r[3]!) }]));
      const moved: number[] = [];
      for (const q of ex.questions.filter((x) => x.id.startsWith('gpa-'))) {
        const m = /vCPU 0 (writes to|reads) GPA (0x[0-9a-f]+).*gup\(hva (0x[0-9a-f]+)/.exec(q.text)!;
        const write = m[1] === 'writes to';
        const pte = ptes.get(num(m[3]!))!;
        let want: string[];
        if (pte === 'none') want = ['zero-fill'];
        else if (pte.startsWith('swap entry')) want = ['swap-in', 'swap-cache'];
        else {
          const f = frames.get(Number(/frame (\d+)/.exec(pte)![1]))!;
          if (!write || !/read-only/.test(pte)) want = ['present'];
          else if (f.ksm) want = ['ksm-unmerge'];
          else if (f.map > 1) want = ['cow-break'];
          else want = ['cow-reuse'];
        }
        expect(want, `seed ${seed} ${q.id}: ${q.answer}`).toContain(q.answer);
        kinds.add(q.answer);
        if (!['present', 'cow-reuse'].includes(q.answer)) moved.push(num(m[2]!));
      }
      expect(answer(ex, 'new-frames')).toBe(moved.length === 0 ? 'none' : moved.sort((a, b) => a - b).map((v) => `0x${v.toString(16)}`).join(','));
    }
    for (const k of ['present', 'zero-fill', 'swap-in', 'cow-break', 'cow-reuse', 'ksm-unmerge']) expect(kinds).toContain(k);
  });
});

describe('exercise answers against independent computations (race)', () => {
  it('race: the retry rules of kvm_host.h applied to the dumped schedule give the outcome and the cause', () => {
    const outcomes = new Set<string>();
    for (const seed of SEEDS) {
      const ex = build('race', seed);
      let inProgress = 0;
      let seq = 0;
      let sampled = -1;
      let decided = false;
      for (const [, , what] of ex.dumps[0]!.rows) {
        if (/^read of gva .* misses/.test(what!)) sampled = seq;
        else if (/^invalidate_range_start, gfn/.test(what!)) inProgress++;
        else if (/^invalidate_range_end/.test(what!)) {
          seq = Number(/mmu_invalidate_seq = (\d+)/.exec(what!)![1]);
          inProgress--;
        } else if (/\?\?\?/.test(what!)) {
          decided = true;
          break;
        }
      }
      expect(decided).toBe(true);
      const cause = inProgress > 0 ? 'in-progress' : seq !== sampled ? 'seq' : 'none';
      expect(answer(ex, 'seq-sampled'), `seed ${seed}`).toBe(String(sampled));
      expect(answer(ex, 'cause'), `seed ${seed}`).toBe(cause);
      expect(answer(ex, 'outcome')).toBe(cause === 'none' ? 'commit' : 'retry');
      outcomes.add(`${answer(ex, 'outcome')}/${answer(ex, 'bug-fails')}`);
    }
    expect(outcomes.size).toBeGreaterThanOrEqual(2);
  });

  it('race: the explorer CLI replaying the bug schedule agrees on whether a checker fails', () => {
    // One schedule the bug breaks and one it does not, each replayed by `explore --replay`.
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const q = build('race', seed).questions.find((x) => x.id === 'bug-fails')!;
      if (seen.has(q.answer)) continue;
      const schedule = /--replay (\S+)\)/.exec(q.explain)![1]!;
      const r = cli(['explore', '--replay', schedule]);
      expect(r.status, r.stdout + r.stderr).toBe(q.answer === 'yes' ? 1 : 0);
      seen.add(q.answer);
      if (seen.size === 2) break;
    }
    expect(seen.size).toBe(2);
  });
});

describe('exercise answers against independent computations (pin-vs-notifier)', () => {
  it('pin-vs-notifier: freed, kept, zapped and stale pages follow from the dumped sptes and host PTEs', () => {
    for (const seed of SEEDS) {
      const ex = build('pin-vs-notifier', seed);
      const present = dump(ex, /^host page table/).rows.filter((r) => /^frame/.test(r[1]!)).map((r) => (num(r[0]!) - 0x10000000) / 4096);
      const rows = (t: RegExp): string[][] => dump(ex, t).rows;
      const pinned = rows(/^pin mode: sptes/).filter((r) => /pinned/.test(r[2]!)).map((r) => num(r[0]!));
      const set = (xs: number[]): string => (xs.length === 0 ? 'none' : [...xs].sort((a, b) => a - b).map((v) => `0x${v.toString(16)}`).join(','));
      expect(answer(ex, 'pin-freed'), `seed ${seed}`).toBe(set(present.filter((g) => !pinned.includes(g))));
      expect(answer(ex, 'pin-kept')).toBe(set(pinned));
      expect(answer(ex, 'notifier-freed')).toBe(set(present));
      expect(answer(ex, 'notifier-zapped')).toBe(String(rows(/^notifier mode: sptes/).length));
      expect(answer(ex, 'none-stale')).toBe(set(rows(/^none mode: sptes/).map((r) => num(r[0]!))));
      // The host replaces page X by COW after a fork: only the notifier makes the guest see it; a
      // pinned spte keeps the old frame; an unpinned stale one maps a freed frame (which the copy
      // may by chance reuse, so either answer can be right there).
      const x = num(/guest page (0x[0-9a-f]+) itself/.exec(ex.questions.find((q) => q.id === 'pin-sees-write')!.text)![1]!);
      const has = (t: RegExp): boolean => rows(t).some((r) => num(r[0]!) === x);
      expect(answer(ex, 'notifier-sees-write')).toBe('yes');
      expect(answer(ex, 'pin-sees-write'), `seed ${seed}`).toBe(has(/^pin mode: sptes/) ? 'no' : 'yes');
      if (!has(/^none mode: sptes/)) expect(answer(ex, 'none-sees-write')).toBe('yes');
    }
  });
});

describe('exercise answers against independent computations (tdp)', () => {
  it('tdp: a two-dimensional walk over the dumped guest tables and gpa->hpa table gives the references, violations and exits', () => {
    const cases = new Set<string>();
    for (const seed of SEEDS) {
      const ex = build('tdp', seed);
      const gva = num(/GVA (0x[0-9a-f]+)/.exec(ex.questions[0]!.text)![1]!);
      const pd = dump(ex, /^guest page directory/);
      const cr3 = num(/CR3 = (0x[0-9a-f]+)/.exec(pd.title)![1]!);
      const tables = new Set(dump(ex, /gpa->hpa table: root/).rows.map((r) => Number(r[0])));
      const leaves = new Set(dump(ex, /^gpa->hpa leaves/).rows.map((r) => num(r[0]!)));
      const entry = (d: Dump, i: number): number => num(d.rows.find((r) => Number(r[0]) === i)![2]!);
      const walk = (): { guest: number; tdp: number; violation: number } => {
        let guest = 0;
        let tdp = 0;
        const ref = (gfn: number): boolean => {
          tdp++;
          if (!tables.has(gfn >>> 10)) return false;
          tdp++;
          return leaves.has(gfn);
        };
        guest++;
        if (!ref(cr3 >>> 12)) return { guest, tdp, violation: cr3 >>> 12 };
        const pde = entry(pd, gva >>> 22);
        let data: number;
        if (pde & 0x80) data = ((pde & 0xffc00000) >>> 12) + ((gva >>> 12) & 0x3ff);
        else {
          guest++;
          if (!ref(pde >>> 12)) return { guest, tdp, violation: pde >>> 12 };
          data = entry(dump(ex, new RegExp(`^guest page table at gfn 0x${(pde >>> 12).toString(16)} `)), (gva >>> 12) & 1023) >>> 12;
        }
        if (!ref(data)) return { guest, tdp, violation: data };
        return { guest, tdp, violation: -1 };
      };
      const first = walk();
      expect(answer(ex, 'guest-refs'), `seed ${seed}`).toBe(String(first.guest));
      expect(answer(ex, 'tdp-refs'), `seed ${seed}`).toBe(String(first.tdp));
      expect(answer(ex, 'violation')).toBe(first.violation < 0 ? 'none' : `0x${first.violation.toString(16)}`);
      let exits = 0;
      let w = first;
      while (w.violation >= 0) {
        exits++;
        leaves.add(w.violation);
        tables.add(w.violation >>> 10);
        w = walk();
      }
      expect(answer(ex, 'exits'), `seed ${seed}`).toBe(String(exits));
      expect(answer(ex, 'full-refs')).toBe(String(w.guest + w.tdp));
      cases.add(`${first.guest}/${first.tdp}/${exits}`);
    }
    expect(cases.size).toBeGreaterThanOrEqual(4);
  });
});

describe('exercise command line', () => {
  it('passes the -c --answers-only lines through --check (exit 0), and prints the same bytes twice', () => {
    const args = ['exercise', '--topic', 'race', '-s', '2'];
    const p1 = cli([...args, '-c', '--format', 'json']);
    const p2 = cli([...args, '-c', '--format', 'json']);
    expect(p1.status).toBe(0);
    expect(p1.stdout).toBe(p2.stdout);
    const j = JSON.parse(p1.stdout);
    const ans = cli([...args, '-c', '--answers-only']);
    expect(ans.stdout.trimEnd().split('\n')).toEqual(j.questions.map((q: { answer: string }) => q.answer));
    const ok = cli([...args, '--check', '-'], { input: ans.stdout });
    expect(ok.stdout).toMatch(/ right$/m);
    expect(ok.stdout).not.toMatch(/WRONG/);
    expect(ok.status, ok.stdout).toBe(0);
  });

  it('lists its topics and refuses bad usage with one line and status 2', () => {
    const l = cli(['exercise', '--list-topics']);
    expect(l.status).toBe(0);
    for (const t of TOPICS) expect(l.stdout).toContain(t.name);
    const h = cli(['help', 'exercise']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Usage: shadowvisor exercise --topic T/);
    expect(cli(['exercise', '--help']).stdout).toBe(h.stdout);
    expectBadInput(cli(['exercise', '--topic', 'nope']), /unknown topic 'nope'/);
    expectBadInput(cli(['exercise', '--topic', 'translate', '-s', 'x']), /--seed/);
    expectBadInput(cli(['exercise', '--topic', 'translate', '--check', '/nonexistent/file']), /cannot read/);
  });

  it('normalises answers by kind', () => {
    expect(normalize({ kind: 'hex' }, ' 0x000ABC ')).toBe('abc');
    expect(normalize({ kind: 'hexset' }, '0x3, 1 2')).toBe('1,2,3');
    expect(normalize({ kind: 'hexset' }, 'None')).toBe('none');
    expect(normalize({ kind: 'word', choices: ['protect-clean-gpte'] }, 'Protect clean gpte')).toBe('protect-clean-gpte');
    expect(normalize({ kind: 'yesno' }, 'maybe')).toBeNull();
    expect(answerLines('# my answers\n1. 0x1f\n\n2) yes\n3: none\n4\n')).toEqual(['0x1f', 'yes', 'none', '4']);
    const ex = build('fault', 1);
    expect(answerLines(renderAnswersOnly(ex, 'json'))).toEqual(ex.questions.map((q) => q.answer));
  });
});
