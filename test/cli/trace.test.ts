// `shadowvisor trace`, spawned as users run it (the built bundle), on pagetest with a host too
// small for it: invalidations, zaps, flushes and refaults show up, --chains links them, --translate
// follows an address through every layer, --json parses, filters keep to their page, the same run
// gives the same bytes, and bad input is one line and exit status 2.

import { beforeAll, describe, expect, it } from 'vitest';
import { filterChains, groupEvents } from '../../src/cli/trace-chains.js';
import { EventRing, readEvents } from '../../src/obs/event-ring.js';
import * as E from '../../src/obs/events.js';
import { cli as runCli, expectBadInput } from './helpers.js';

const IMAGE = 'guest-images/pagetest.elf';
const BASE = ['trace', IMAGE, '--host-mem', '256K'];

const cli = (args: string[]) => runCli(args, { timeout: 60_000 });

const KIND = /^\s+\d+\s+(?:t=\d+\s+\S+\s+)?\s*([A-Z_]+)\s/;
const kindOf = (line: string): string | null => KIND.exec(line)?.[1] ?? null;

let plain: ReturnType<typeof cli>;

beforeAll(() => {
  plain = cli(BASE);
});

describe('shadowvisor trace', () => {
  it('prints the invalidation sequence and a later refault of a zapped gfn; no guest output', () => {
    expect(plain.status).toBe(0); // pagetest passes: the guest's exit status
    expect(plain.stderr).toBe('');
    expect(plain.stdout).not.toMatch(/pagetest/);
    const lines = plain.stdout.trimEnd().split('\n');
    for (const l of lines) expect(kindOf(l), l).not.toBeNull();
    const kinds = lines.map(kindOf);
    const start = kinds.indexOf('INV_START');
    expect(start).toBeGreaterThan(0);
    // The first invalidation that zapped something: INV_START, SPTE_ZAPs, TLB_FLUSH, INV_END.
    const zapAt = lines.findIndex((l) => kindOf(l) === 'SPTE_ZAP' && l.includes('(invalidation)'));
    expect(zapAt).toBeGreaterThan(start);
    const invStart = kinds.lastIndexOf('INV_START', zapAt);
    const flush = kinds.indexOf('TLB_FLUSH', zapAt);
    const end = kinds.indexOf('INV_END', zapAt);
    expect(flush).toBeGreaterThan(zapAt);
    expect(end).toBeGreaterThan(flush);
    const gfn = /SPTE_ZAP\s+gfn (0x[0-9a-f]+)/.exec(lines[zapAt]!)![1]!;
    expect(lines[invStart]).toContain(`gfn ${gfn}`);
    // ... and later the guest faults that gfn back in: WALK to it, GUP of it, SPTE_SET for it.
    const later = lines.slice(end);
    const walk = later.findIndex((l) => kindOf(l) === 'WALK' && l.includes(`-> gfn ${gfn} `));
    expect(walk).toBeGreaterThan(0);
    expect(kindOf(later[walk - 1]!)).toBe('FAULT');
    expect(later[walk + 1]).toMatch(new RegExp(`GUP\\s+gfn ${gfn} -> hva 0x[0-9a-f]+\\+0x[0-9a-f]+ -> frame \\d+ \\(.*swap`));
    expect(later[walk + 2]).toMatch(new RegExp(`SPTE_SET\\s+gva 0x[0-9a-f]{8} -> gfn ${gfn} -> frame \\d+`));
  });

  it('the same image and flags give byte-identical output', () => {
    const again = cli(BASE);
    expect(again.stdout).toBe(plain.stdout);
    const c1 = cli([...BASE, '--chains', '--seed', '3']);
    const c2 = cli([...BASE, '--chains', '--seed', '3']);
    expect(c1.stdout).toBe(c2.stdout);
    expect(c1.stdout.length).toBeGreaterThan(0);
  });

  it('--chains links host event, invalidation, zaps, flush, end and the refault', () => {
    const r = cli([...BASE, '--chains']);
    expect(r.status).toBe(0);
    const blocks = r.stdout.split('\n\n').filter((b) => /SPTE_ZAP/.test(b));
    expect(blocks.length).toBeGreaterThan(0);
    const b = blocks.find((x) => /refault of gfn/.test(x))!;
    expect(b).toBeDefined();
    expect(b).toMatch(/^chain \d+: (kswapd|vcpu\d+ fault at gva 0x[0-9a-f]+ \(.*\)|host) -> CLEAR gfn 0x[0-9a-f]+ -> \d+ sptes? zapped, \d+ remote TLB flush(es)? -> seq \d+, host page swapped out/);
    const order = b.split('\n').map(kindOf).filter((k): k is string => k !== null);
    const expected = ['INV_START', 'SPTE_ZAP', 'TLB_FLUSH', 'INV_END', 'FAULT', 'WALK', 'GUP', 'SPTE_SET'];
    let at = -1;
    for (const k of expected) {
      at = order.indexOf(k, at + 1);
      expect(at, `${k} in ${order.join(' ')}`).toBeGreaterThanOrEqual(0);
    }
    const gfn = /-> CLEAR gfn (0x[0-9a-f]+)/.exec(b)![1]!;
    expect(b).toContain(`refault of gfn ${gfn}`);
    expect(b).toMatch(new RegExp(`GUP\\s+gfn ${gfn} .*\\((write, )?swap-(in|cache)\\)`));
  });

  it('--translate follows an address the guest uses: GVA, guest PDE/PTE, GPA, memslot, HVA, host PTE, HPA, spte, TLB', () => {
    // pagetest maps its kernel at 0x100000 through its own page tables at the end of the run.
    const r = cli([...BASE, '--translate', '0x00100380']);
    expect(r.status).toBe(0);
    const t = r.stdout;
    expect(t).toMatch(/^translate 0x00100380 on vcpu0/);
    expect(t).toMatch(/GVA\s+0x00100380/);
    expect(t).toMatch(/guest PDE\s+\[0\] @ gpa 0x[0-9a-f]{8} = 0x[0-9a-f]{8} \(P/);
    expect(t).toMatch(/guest PTE\s+\[256\] @ gpa 0x[0-9a-f]{8} = 0x00100[0-9a-f]{3} \(P/);
    expect(t).toMatch(/GPA\s+0x00100380 \(gfn 0x100\)/);
    expect(t).toMatch(/memslot\s+0: gfn 0x0-0x3fff -> hva 0x10000000/);
    expect(t).toMatch(/HVA\s+0x10100380/);
    const frame = /host PTE\s+present: frame (\d+)/.exec(t)![1]!;
    expect(t).toMatch(new RegExp(`HPA\\s+0x[0-9a-f]{5}380 \\(host frame ${frame}\\)`));
    expect(t).toMatch(new RegExp(`spte\\s+sp \\d+\\[0x100\\] = 0x[0-9a-f]{8}: frame ${frame} \\(P.*\\), agrees with the host PTE`));
    expect(t).toMatch(/TLB\s+/);
    const hpa = Number.parseInt(/HPA\s+(0x[0-9a-f]+)/.exec(t)![1]!, 16);
    expect(hpa).toBe(Number(frame) * 4096 + 0x380);
  });

  it('--json: one parseable object per event; with --chains one per chain; --translate too', () => {
    const r = cli([...BASE, '--json']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBe(plain.stdout.trimEnd().split('\n').length);
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs[0]).toMatchObject({ seq: 0, event: 'FAULT', vcpu: 0 });
    const zap = objs.find((o) => o.event === 'SPTE_ZAP' && o.cause === 'invalidation')!;
    expect(zap).toMatchObject({ gfn: expect.any(Number), frame: expect.any(Number) });
    expect(objs.find((o) => o.event === 'INV_START')).toMatchObject({ mmu_event: 'CLEAR' });
    expect(objs.some((o) => o.event === 'GUP' && o.how === 'swap-in')).toBe(true);
    const chains = cli([...BASE, '--json', '--chains']).stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(chains[0]).toMatchObject({ chain: 1, cause: expect.any(String), events: expect.any(Array), refaults: expect.any(Array) });
    const tr = JSON.parse(cli([...BASE, '--json', '--translate', '0x100380']).stdout);
    expect(tr.translate).toMatchObject({ gva: 0x100380, gpa: 0x100380, gfn: 0x100, hva: 0x10100380, memslot: 0 });
  });

  it('--gfn and --gva keep to one page; --last keeps the tail; --events bounds the ring', () => {
    const g = cli([...BASE, '--gfn', '0x102']).stdout.trimEnd().split('\n');
    expect(g.length).toBeGreaterThan(4);
    expect(g.length).toBeLessThan(plain.stdout.split('\n').length / 4);
    for (const l of g) {
      const k = kindOf(l);
      if (k === 'WALK' || k === 'GUP' || k === 'SPTE_SET' || k === 'SPTE_ZAP' || k === 'INV_START') expect(l, l).toMatch(/gfn 0x102\b/);
    }
    const v = cli([...BASE, '--gva', '0x40203000']).stdout.trimEnd().split('\n');
    expect(v.length).toBeGreaterThan(0);
    for (const l of v) if (kindOf(l) === 'FAULT') expect(l).toMatch(/gva 0x40203/);
    const last = cli([...BASE, '--last', '5']).stdout.trimEnd().split('\n');
    const all = plain.stdout.trimEnd().split('\n');
    expect(last.length).toBe(5);
    expect(last[4]).toBe(all[all.length - 1]);
    const small = cli([...BASE, '--events', '50']);
    expect(small.stdout.trimEnd().split('\n')).toHaveLength(50);
    expect(small.stderr).toMatch(/kept the last 50 of \d+ events/);
  });

  it('none mode under TDP: the UNSEEN chains of leaves the host unmapped, and the stale accesses through them', () => {
    const r = cli([...BASE, '--mode', 'none', '--mmu', 'tdp', '--chains']);
    const unseen = r.stdout.split('\n').filter((l) => l.startsWith('unseen '));
    expect(unseen.length).toBeGreaterThan(1);
    for (const l of unseen) expect(l).toMatch(/^unseen \d+: kswapd -> host unmapped, in swap cache gfn 0x[0-9a-f]+, no notifier -> the spte still maps frame \d+ -> /);
    expect(unseen.some((l) => /first STALE access at seq \d+ \(\d+ in all\)/.test(l))).toBe(true);
  });

  it('an empty --chains says so on stderr, and when the ring dropped events, how to keep them', () => {
    const quiet = cli(['trace', 'guest-images/hello.elf', '--chains']);
    expect(quiet.status).toBe(0);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toBe('shadowvisor trace: no chain begins in the events\n');
    const page = cli([...BASE, '--chains', '--gfn', '0x5000']);
    expect(page.stdout).toBe('');
    expect(page.stderr).toBe('shadowvisor trace: no chain begins in the events for that page\n');
    // pagetest's last 20 events are its exit, after the last invalidation
    const capped = cli([...BASE, '--chains', '--events', '20']);
    expect(capped.stdout).toBe('');
    expect(capped.stderr).toMatch(/^shadowvisor trace: no chain begins in the last 20 of (\d+) events, which the ring kept; --events \1 keeps them all\n$/);
    const all = Number(/of (\d+) events/.exec(capped.stderr)![1]);
    const whole = cli([...BASE, '--chains', '--events', String(all)]);
    expect(whole.stdout).toMatch(/^chain 1: /m);
    expect(whole.stderr).toBe('');
  });

  it('help, and bad input is one line on stderr with exit status 2', () => {
    const h = cli(['trace', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Usage: shadowvisor trace/);
    expect(h.stdout).toMatch(/serial output is NOT printed/);
    expect(cli(['help', 'trace']).stdout).toBe(h.stdout);
    expect(cli(['help']).stdout).toMatch(/trace IMAGE/);
    for (const [args, pattern] of [
      [['trace'], /trace: missing IMAGE/],
      [['trace', IMAGE, '--gva', 'zz'], /--gva/],
      [['trace', IMAGE, '--events', '0'], /--events/],
      [['trace', IMAGE, '--last'], /--last/],
      [['trace', IMAGE, '--mmu', 'native'], /shadow MMU/],
      [['trace', IMAGE, '--frob'], /trace: Unknown option '--frob'/],
      [['trace', IMAGE, '--gva', '0x1000', '--gfn', '1'], /one of them/],
      [['trace', 'no-such.elf'], /cannot read image/],
    ] as [string[], RegExp][]) {
      expectBadInput(cli(args), pattern);
    }
  });
});

describe('causal chains from a synthetic event stream', () => {
  it('attributes the invalidation, finds the refault, and attaches the raced retry', () => {
    const r = new EventRing(64);
    const H = E.HOST;
    r.emit(E.EV_FAULT, 0, 0x5000, 2); // 0: vcpu0 faults gfn 0x9 ...
    r.emit(E.EV_WALK, 0, 0x5000, 0x9, 3, 0, 1); // 1
    r.emit(E.EV_HOST_TASK, H, E.TASK_KSWAPD); // 2: ... and is preempted: kswapd runs
    r.emit(E.EV_INV_START, H, 1, 0x10007000, 0x10008000, 7, 8); // 3
    r.emit(E.EV_SPTE_ZAP, H, 7, 42, E.ZAP_INVALIDATION, 1025, 0x3000); // 4
    r.emit(E.EV_TLB_FLUSH, H, 1, E.FLUSH_REMOTE); // 5
    r.emit(E.EV_INV_END, H, 1, 0x10007000, 0x10008000, E.HOSTPAGE_SWAPPED, -1); // 6
    r.emit(E.EV_RETRY, 0, 0x5000, 0x9, E.RETRY_CAUSE_UNSAFE, 0, 1); // 7: the race
    r.emit(E.EV_FAULT, 0, 0x3004, 0); // 8: the refault of gfn 7
    r.emit(E.EV_WALK, 0, 0x3004, 7, 3, 0, 1); // 9
    r.emit(E.EV_INV_START, H, 1, 0x10020000, 0x10021000, 0x20, 0x21); // 10: direct reclaim inside that gup
    r.emit(E.EV_INV_END, H, 2, 0x10020000, 0x10021000, E.HOSTPAGE_SWAPPED, -1); // 11
    r.emit(E.EV_GUP, 0, 7, 0x10007000, 43, 0, E.GUP_SWAP_IN); // 12
    r.emit(E.EV_SPTE_SET, 0, 0x3004, 7, 43, 1025, 0x25); // 13
    const g = groupEvents(readEvents(r));
    expect(g.invs).toHaveLength(2);
    const [a, b] = g.invs as [(typeof g.invs)[0], (typeof g.invs)[0]];
    expect(a.cause).toBe('kswapd');
    expect(a.events.map((e) => e.seq)).toEqual([3, 4, 5, 6]);
    expect(a.refaults).toHaveLength(1);
    expect(a.refaults[0]!.fault!.events.map((e) => e.seq)).toEqual([8, 9, 12, 13]);
    expect(a.raced.map((f) => f.start)).toEqual([0]);
    expect(b.cause).toBe('vcpu0 fault at gva 0x3004 (gup of gfn 0x7)');
    expect(b.zaps).toHaveLength(0);
    expect(g.faults.map((f) => [f.gfn, f.outcome])).toEqual([
      [9, E.EV_RETRY],
      [7, E.EV_SPTE_SET],
    ]);
    expect(filterChains(g.invs, { gfn: 0x20 }).map((c) => c.n)).toEqual([2]);
    expect(filterChains(g.invs, { gva: 0x3000 }).map((c) => c.n)).toEqual([1]);
  });

  it('in none mode it shows what the host did behind KVM\'s back (UNSEEN) and the stale accesses that follow', () => {
    const args = ['trace', 'guest-images/memhog.elf', '--mem', '8M', '--host-mem', '2M', '--cmdline', 'mib=5 iters=30', '--max-insns', '3000000'];
    const none = cli([...args, '--mode', 'none']);
    const kinds = new Set(none.stdout.split('\n').map(kindOf));
    expect(kinds.has('UNSEEN')).toBe(true);
    expect(kinds.has('STALE')).toBe(true);
    expect(kinds.has('INV_START')).toBe(false); // nothing told KVM
    const notifier = cli([...args, '--mode', 'notifier']);
    const nk = new Set(notifier.stdout.split('\n').map(kindOf));
    expect(nk.has('INV_START')).toBe(true);
    expect(nk.has('UNSEEN')).toBe(false);
    expect(nk.has('STALE')).toBe(false);
  });
});
