// `shadowvisor trace --html DIR`, spawned as users run it (the built bundle), on pagetest with a
// host too small for it: one self-contained page with the trace as JSON, an SVG timeline, the
// chain list of --chains in plain HTML, the same bytes for the same run, and bad input as one
// line with exit status 2. The per-gfn index the page embeds must equal the --gfn filter's.

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterEvents, groupEvents } from '../../src/cli/trace-chains.js';
import type { TraceEvent } from '../../src/obs/event-ring.js';
import { cli as runCli, tempDir } from './helpers.js';

const BASE = ['trace', 'guest-images/pagetest.elf', '--host-mem', '256K'];

const cli = (args: string[]) => runCli(args, { timeout: 60_000 });

type Row = [number, number, number, number, number, number, number, number, number, string];
interface Data {
  kinds: string[];
  events: Row[];
  chains: { n: number; heading: string; zaps: number[] }[];
  pages: Record<string, number[]>;
  translations: { gva: number; gfn: number; lines: string[] }[];
  ring: { emitted: number; shown: number; cap: number };
}

const dataOf = (html: string): Data => {
  const m = /<script type="application\/json" id="trace-data">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!) as Data;
};

let tmp: string;
let dir: string;
let run: ReturnType<typeof cli>;
let html: string;

beforeAll(() => {
  tmp = tempDir('trace-html');
  dir = join(tmp, 'page');
  run = cli([...BASE, '--html', dir]);
  html = existsSync(join(dir, 'index.html')) ? readFileSync(join(dir, 'index.html'), 'utf8') : '';
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('shadowvisor trace --html', () => {
  it('writes DIR/index.html instead of the text trace; the guest exit status stays', () => {
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`shadowvisor trace: page written to ${join(dir, 'index.html')}\n`);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('embeds the trace as JSON that parses, with the invalidations, zaps and the whole run', () => {
    const d = dataOf(html);
    const names = d.events.map((e) => d.kinds[e[3]]);
    expect(names).toContain('INV_START');
    expect(names).toContain('SPTE_ZAP');
    expect(names).toContain('INV_END');
    expect(d.ring.shown).toBe(d.ring.emitted); // pagetest's run fits under the cap
    expect(d.events.map((e) => e[0])).toEqual(d.events.map((_, i) => i));
    expect(d.chains.length).toBeGreaterThan(0);
    expect(d.chains.some((c) => c.zaps.length > 0)).toBe(true);
    // End-of-run translations of faulting addresses: pagetest's kernel page maps gfn 0x100.
    expect(d.translations.length).toBeGreaterThan(0);
    expect(d.translations.length).toBeLessThanOrEqual(64);
    const k = d.translations.find((t) => t.gva >>> 12 === 0x100);
    expect(k).toBeDefined();
    expect(k!.gfn).toBe(0x100);
    expect(k!.lines.join('\n')).toMatch(/HVA\s+0x10100/);
  });

  it('the per-gfn page index is exactly what --gfn keeps', () => {
    const d = dataOf(html);
    const events: TraceEvent[] = d.events.map((r) => ({ seq: r[0], time: r[1], vcpu: r[2], kind: r[3], f: r.slice(4, 9) as number[] }));
    const grouped = groupEvents(events);
    const gfns = Object.keys(d.pages).map(Number);
    expect(gfns.length).toBeGreaterThan(10);
    for (const g of gfns) {
      const want = filterEvents(events, grouped, { gfn: g }).map((e) => e.seq);
      expect(d.pages[g], `gfn ${g.toString(16)}`).toEqual(want);
    }
  });

  it('is self-contained: inline SVG, no external URL, no external script or style', () => {
    expect(html).toContain('<svg');
    const urls = html.match(/https?:\/\/[^\s"'<>)]*/g) ?? [];
    for (const u of urls) expect(u).toBe('http://www.w3.org/2000/svg');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
  });

  it('reads without JavaScript: header, totals, the --chains headings as a list, the last events', () => {
    const plain = html.replace(/<script[\s\S]*?<\/script>/g, '');
    expect(plain).toContain('shadowvisor trace guest-images/pagetest.elf --host-mem 256K --html');
    expect(plain).toMatch(/mode <b>notifier<\/b>/);
    expect(plain).toMatch(/<th>invalidations<\/th><td class="num">\d+<\/td><td class="note">by MMU_NOTIFY event: CLEAR \d+/);
    expect(plain).toContain('How to read this.');
    const chains = cli([...BASE, '--chains']).stdout.split('\n').filter((l) => l.startsWith('chain '));
    expect(chains.length).toBeGreaterThan(0);
    const list = /<ol id="chainlist">([\s\S]*?)<\/ol>/.exec(plain)![1]!;
    const items = [...list.matchAll(/<a href="#chain=\d+">([^<]*)<\/a>/g)].map((m) => m[1]!.replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&'));
    expect(items).toEqual(chains);
    const d = dataOf(html);
    const last = d.events[d.events.length - 1]!;
    const rows = /<table class="events">([\s\S]*?)<\/table>/.exec(plain)![1]!.match(/<tr data-i=/g) ?? [];
    expect(rows).toHaveLength(Math.min(200, d.events.length));
    expect(plain).toContain(`<tr data-i="${d.events.length - 1}"><td class="num">${last[0]}</td><td class="num">${last[1]}</td>`);
  });

  it('the same flags and seed give the same bytes', () => {
    const again = cli([...BASE, '--html', dir]);
    expect(again.status).toBe(0);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe(html);
  });

  it('--last N caps the embedded events and the page says so', () => {
    const capped = join(tmp, 'capped');
    const r = cli([...BASE, '--html', capped, '--last', '100']);
    expect(r.status).toBe(0);
    const page = readFileSync(join(capped, 'index.html'), 'utf8');
    const d = dataOf(page);
    expect(d.events).toHaveLength(100);
    expect(d.ring.emitted).toBeGreaterThan(100);
    expect(d.events[99]![0]).toBe(d.ring.emitted - 1);
    expect(page).toMatch(/this page holds the last 100 \(capped at 100/);
  });

  it('remote TLB flushes are broken down by cause, and the causes add up to the flushes on the page', () => {
    const d = dataOf(html) as Data & { flushCauses: Record<string, number>; notes: Record<string, string> };
    const remote = d.events.filter((e) => d.kinds[e[3]] === 'TLB_FLUSH' && e[2] === -1 && e[5] === 0);
    expect(Object.values(d.flushCauses).reduce((a, b) => a + b, 0)).toBe(remote.length);
    // Every remote flush inside an invalidation chain counts as one; pagetest also ages and
    // writes its page tables.
    expect(d.flushCauses.invalidation).toBe(d.chains.reduce((a, c) => a + (c as { flushes?: number[] }).flushes!.length, 0));
    expect(d.flushCauses.aging).toBeGreaterThan(0);
    expect(d.flushCauses['page-table write']).toBeGreaterThan(0);
    const row = /<th>remote TLB flushes on this page<\/th><td class="num">(\d+)<\/td><td class="note">by cause: ([^<]*)</.exec(html)!;
    expect(Number(row[1])).toBe(remote.length);
    expect(row[2]).toContain(`invalidation ${d.flushCauses.invalidation}`);
    // A WALK that made a read-only spte of a writable, clean guest PTE says why.
    const clean = d.events.findIndex((e) => d.kinds[e[3]] === 'WALK' && (e[7] & 0x2) !== 0 && (e[7] & 0x40) === 0 && (e[6] & 1) === 0);
    expect(clean).toBeGreaterThanOrEqual(0);
    expect(d.notes[clean]).toContain('protect_clean_gpte');
  });

  it('--chains, and the page, lead with the chains that zapped something', () => {
    const lines = cli([...BASE, '--chains']).stdout.split('\n').filter((l) => l.startsWith('chain '));
    const empty = lines.map((l) => / -> no spte mapped it -> /.test(l));
    expect(empty[0]).toBe(false);
    expect(empty.includes(true)).toBe(true); // pagetest has both kinds
    expect(empty.lastIndexOf(false)).toBeLessThan(empty.indexOf(true));
  });

  it('none mode: the swap-outs, its own "how to read", STALE and UNSEEN in the legend, the UNSEEN chains of --chains, the notifier run of the same seed', () => {
    const noneDir = join(tmp, 'none');
    const r = cli([...BASE, '--mode', 'none', '--html', noneDir]);
    expect(r.stderr).toContain('page written');
    const page = readFileSync(join(noneDir, 'index.html'), 'utf8');
    const plain = page.replace(/<script[\s\S]*?<\/script>/g, '');
    const swaps = /<th>swap-outs \/ swap-ins<\/th><td class="num">(\d+)/.exec(plain)![1]!;
    expect(Number(swaps)).toBeGreaterThan(0);
    const nochains = /<p class="empty" id="nochains">([\s\S]*?)<\/p>/.exec(plain)![1]!;
    expect(nochains).not.toContain('nothing was swapped');
    expect(nochains).toContain(`${swaps} swap-outs`);
    const howto = /<p class="howto" id="howto">([\s\S]*?)<\/p>/.exec(plain)![1]!;
    expect(howto).toContain('<b>none</b> mode');
    expect(howto).not.toContain('KVM zaps every spte');
    expect(plain).toContain('<span class="sw k-unseen"></span>UNSEEN');
    expect(plain).toContain('<span class="sw k-stale"></span>STALE');
    expect(plain).toMatch(/<line class="m k-unseen"/);
    expect(plain).toMatch(/<line class="m k-stale"/);
    // The UNSEEN chains the page lists are --chains' own, in the same order.
    const text = cli([...BASE, '--mode', 'none', '--chains']).stdout.split('\n').filter((l) => l.startsWith('unseen '));
    expect(text.length).toBeGreaterThan(0);
    const list = /<ol id="unseenlist">([\s\S]*?)<\/ol>/.exec(plain)![1]!;
    const items = [...list.matchAll(/<a href="#unseen=\d+">([^<]*)<\/a>/g)].map((m) => m[1]!.replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&'));
    expect(items).toEqual(text);
    // --chains --json: the same UNSEEN chains as objects, in the same order and with the same facts.
    const objs = cli([...BASE, '--mode', 'none', '--chains', '--json'])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { unseen?: number; gfn: number; frame: number; first_stale: { seq: number } | null; events: unknown[] })
      .filter((o) => o.unseen !== undefined);
    expect(objs.map((o) => `unseen ${o.unseen}:`)).toEqual(text.map((l) => l.slice(0, l.indexOf(':') + 1)));
    objs.forEach((o, i) => {
      expect(text[i]).toContain(`gfn 0x${o.gfn.toString(16)}, no notifier -> the spte still maps frame ${o.frame} `);
      expect(o.events.length).toBeGreaterThan(0);
      if (o.first_stale !== null) expect(text[i]).toContain(`first STALE access at seq ${o.first_stale.seq} `);
    });
    // Beside them: chains of the notifier run of the same seed, whose events are the notifier
    // page's own (the run this suite made first), row for row.
    const d = dataOf(page) as Data & { compare: { command: string; events: Row[]; chains: { zaps: number[] }[] }; unseen: { gfn: number }[] };
    expect(d.compare.command).not.toContain('--mode');
    expect(d.compare.chains.length).toBeGreaterThan(0);
    expect(d.compare.chains.some((c) => c.zaps.some((z) => d.compare.events[z]![4] === d.unseen[0]!.gfn))).toBe(true);
    const notifier = dataOf(html);
    for (const row of d.compare.events) expect(notifier.events[row[0]]).toEqual(row);
  });

  it('a bad DIR, or --html with --json, is one line on stderr and exit status 2', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const [args, pattern] of [
      [[...BASE, '--html', join(file, 'sub')], /--html: cannot use '.*a-file\/sub' as a directory \(ENOTDIR\)/],
      [[...BASE, '--html', file], /--html: cannot use '.*a-file' as a directory/],
      [[...BASE, '--html', ''], /--html: expected a directory/],
      [[...BASE, '--html', join(tmp, 'j'), '--json'], /give one of them/],
    ] as [string[], RegExp][]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^shadowvisor: /);
      expect(r.stderr).toMatch(pattern);
    }
  });
});
