// `shadowvisor web --out DIR`, spawned as users run it (the built bundle): one self-contained page
// with no URL to fetch, the engine's browser bundle and memhog embedded. There is no browser in
// CI, so the embedded engine and the page's worker code run here in a bare JavaScript realm with
// only the Web globals a worker has, driven through a stand-in for the worker's global scope:
// exactly the path the page takes, down to the messages it receives.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script, createContext, runInContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, cli as runCli, tempDir } from './helpers.js';

const MEMHOG = readFileSync(join(ROOT, 'guest-images', 'memhog.elf'));

const cli = (args: string[], cwd = ROOT) => runCli(args, { cwd, timeout: 60_000 });

function scriptById(html: string, id: string): string {
  const m = new RegExp(`<script [^>]*id="${id}"[^>]*>([\\s\\S]*?)</script>`).exec(html);
  expect(m, `<script id="${id}">`).not.toBeNull();
  return m![1]!;
}

interface Snap {
  done: boolean;
  instructions: number;
  swapOuts: number;
  swapIns: number;
  staleAccesses: number;
  sptesZapped: number;
  invalidations: number;
  pinnedReclaimFailures: number;
  oomKills: number;
  verified: number;
  corrupt: number;
  outcome: string | null;
  verdict: string | null;
  vms: { name: string; state: string; instructions: number; lastLine: string }[];
}
interface Reply {
  type: string;
  id: number;
  snap: Snap;
  html?: string;
  events?: number;
  samples: number[];
  stride: number;
  message?: string;
}

/**
 * Run the page's engine and worker code in a realm with no Node globals, post one run request to
 * the worker scope, and pump its timer queue until the run is done. `tick` is how far the clock
 * moves per performance.now() call: it decides where the worker's 40 ms slices end.
 */
function runInWorkerRealm(html: string, params: object, tick: number, type: 'run' | 'trace' = 'run'): Reply[] {
  const replies: Reply[] = [];
  const timers: (() => void)[] = [];
  const self = {
    onmessage: null as ((e: { data: unknown }) => void) | null,
    postMessage: (m: unknown) => void replies.push(JSON.parse(JSON.stringify(m)) as Reply),
    setTimeout: (fn: () => void) => void timers.push(fn),
  };
  let clock = 0;
  const realm = createContext({ performance: { now: () => (clock += tick) }, TextEncoder, TextDecoder, self });
  for (const g of ['process', 'Buffer', 'require', 'setTimeout', 'window', 'document']) expect(runInContext(`typeof ${g}`, realm)).toBe('undefined');
  runInContext(scriptById(html, 'sv-engine'), realm);
  runInContext(scriptById(html, 'sv-worker'), realm);
  expect(typeof self.onmessage).toBe('function');
  // The page sends the image it decoded from its own base64.
  const image = new Uint8Array(Buffer.from(scriptById(html, 'sv-memhog').replace(/\s+/g, ''), 'base64'));
  self.onmessage!({ data: { type, id: 7, params, image } });
  for (let n = 0; timers.length > 0 && n < 100_000; n++) timers.shift()!();
  return replies;
}

/** The series of a run, rebuilt from its messages as the page does. */
const seriesOf = (replies: Reply[]): number[] => replies.flatMap((r) => r.samples ?? []);

const TINY = { vms: 2, guestMib: 4, overcommit: 2, ksm: false, seed: 1, insnsPerVm: 3_000_000 };

let tmp: string;
let dir: string;
let run: ReturnType<typeof cli>;
let html: string;

beforeAll(() => {
  tmp = tempDir('web');
  dir = join(tmp, 'page');
  run = cli(['web', '--out', dir]);
  html = existsSync(join(dir, 'index.html')) ? readFileSync(join(dir, 'index.html'), 'utf8') : '';
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('shadowvisor web', () => {
  it('writes DIR/index.html and says where', () => {
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`shadowvisor web: page written to ${join(dir, 'index.html')}\n`);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('is self-contained: no URL but the SVG namespace, no external script, style or image', () => {
    const urls = (html.match(/https?:\/\/[^\s"'<>)\\]*/g) ?? []).filter((u) => u !== 'http://www.w3.org/2000/svg');
    expect(urls).toEqual([]);
    expect(html).not.toMatch(/<script[^>]*\bsrc=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<img\b/i);
    expect(html).not.toMatch(/\bimport\s*\(/);
    expect(html).not.toMatch(/\bfetch\s*\(/);
  });

  it('embeds the engine bundle (no node: module) and memhog byte for byte', () => {
    const engine = scriptById(html, 'sv-engine');
    expect(engine).toContain('shadowvisorWeb');
    expect(engine).toContain('invalidateRangeStart');
    expect(engine).not.toMatch(/["']node:/);
    expect(engine).not.toMatch(/\brequire\(/);
    const b64 = scriptById(html, 'sv-memhog').replace(/\s+/g, '');
    expect(b64).toBe(MEMHOG.toString('base64'));
    expect(html).toContain(`data-bytes="${MEMHOG.length}"`);
    // The page's worker is made of the engine and this glue.
    expect(scriptById(html, 'sv-worker')).toContain('serveWorker(self');
  });

  it("the page's own script parses, and the controls it reads are on the page", () => {
    // The engine bundle carries the trace page (the traced preset renders it), <script> and all:
    // only the page's own top-level script counts.
    const outside = html.replace(/<script type="text\/plain" id="sv-engine">[\s\S]*?<\/script>/, '');
    const scripts = [...outside.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(() => new Script(scripts[0]!)).not.toThrow();
    for (const id of ['form', 'vms', 'guestMib', 'overcommit', 'insns', 'seed', 'ksm', 'run', 'runall', 'stop', 'clear', 'live', 'runs', 'backend', 'queue']) {
      expect(html).toContain(`id="${id}"`);
    }
    for (const m of ['notifier', 'pin', 'none']) expect(html).toContain(`name="mode" value="${m}"`);
    for (const c of ['chart-swap', 'chart-stale', 'chart-zap', 'chart-pin']) expect(html).toContain(`id="${c}"`);
    expect(html).toContain('What you are seeing');
  });

  it('notifier mode, in the worker realm: swaps, zero stale accesses, every page intact, live progress on the way', () => {
    const replies = runInWorkerRealm(html, { mode: 'notifier', ...TINY }, 7);
    expect(replies.filter((r) => r.type === 'error')).toEqual([]);
    expect(replies.every((r) => r.id === 7)).toBe(true);
    const last = replies[replies.length - 1]!;
    expect(last.type).toBe('done');
    expect(replies.filter((r) => r.type === 'progress').length).toBeGreaterThan(2);
    const s = last.snap;
    expect(s.done).toBe(true);
    expect(s.outcome).toBe('ok');
    expect(s.verdict).toBe('every page intact');
    expect(s.swapOuts).toBeGreaterThan(0);
    expect(s.staleAccesses).toBe(0);
    expect(s.corrupt).toBe(0);
    expect(s.invalidations).toBeGreaterThan(0);
    expect(s.sptesZapped).toBeGreaterThan(0);
    expect(s.instructions).toBe(2 * TINY.insnsPerVm);
    expect(s.vms.map((v) => v.state)).toEqual(['budget', 'budget']);
    expect(s.vms[0]!.lastLine).toMatch(/^memhog: /);
    // Mid-run snapshots show running VMs and growing figures.
    const mid = replies.find((r) => r.type === 'progress' && r.snap.instructions > 0)!;
    expect(mid.snap.vms.some((v) => v.state === 'running')).toBe(true);
    expect(mid.snap.outcome).toBeNull();
    // The series: stride fields per sample, virtual time never goes back, ends at the final figures.
    const series = seriesOf(replies);
    const stride = last.stride;
    expect(series.length % stride).toBe(0);
    const x = series.filter((_, i) => i % stride === 0);
    expect(x.every((v, i) => i === 0 || v >= x[i - 1]!)).toBe(true);
    expect(series.slice(-stride).slice(0, 4)).toEqual([s.instructions, s.swapOuts, s.swapIns, s.staleAccesses]);
  });

  it('the same run gives the same curves however the worker slices it (determinism)', () => {
    const a = runInWorkerRealm(html, { mode: 'notifier', ...TINY, insnsPerVm: 1_000_000 }, 7);
    const b = runInWorkerRealm(html, { mode: 'notifier', ...TINY, insnsPerVm: 1_000_000 }, 1);
    expect(a.length).not.toBe(b.length); // sliced differently...
    expect(seriesOf(a)).toEqual(seriesOf(b)); // ...same samples
    expect(a[a.length - 1]!.snap).toEqual(b[b.length - 1]!.snap);
  });

  it('none mode: stale accesses caught, the verdict says so; pin mode: OOM-killed', () => {
    const none = runInWorkerRealm(html, { mode: 'none', ...TINY }, 7).pop()!;
    expect(none.type).toBe('done');
    expect(none.snap.staleAccesses).toBeGreaterThan(0);
    expect(none.snap.sptesZapped).toBe(0);
    expect(none.snap.verdict).toContain(`${none.snap.staleAccesses} stale accesses`);
    const pin = runInWorkerRealm(html, { mode: 'pin', ...TINY, vms: 1, insnsPerVm: 4_000_000 }, 7).pop()!;
    expect(pin.snap.outcome).toBe('oom-killed');
    expect(pin.snap.pinnedReclaimFailures).toBeGreaterThan(0);
    expect(pin.snap.verdict).toMatch(/^OOM-killed: pinned memory could not be reclaimed/);
  });

  it('the traced preset renders the trace --html page in the worker: the same events as the trace command, UNSEEN chains in none mode', () => {
    const r = runInWorkerRealm(html, { mode: 'none', ...TINY }, 7, 'trace');
    expect(r.map((m) => m.type)).toEqual(['trace']);
    const page = r[0]!.html!;
    expect(page.startsWith('<!doctype html>')).toBe(true);
    const data = (p: string) => JSON.parse(/<script type="application\/json" id="trace-data">([\s\S]*?)<\/script>/.exec(p)![1]!) as { events: unknown[][]; unseen: unknown[]; compare: { chains: unknown[] } | null; mode: string };
    const web = data(page);
    expect(web.mode).toBe('none');
    expect(web.events.length).toBe(r[0]!.events);
    expect(web.unseen.length).toBeGreaterThan(0);
    expect(web.compare!.chains.length).toBeGreaterThan(0);
    expect(r[0]!.snap.staleAccesses).toBeGreaterThan(0);
    // The page's own command line, run by the CLI: the same events, field for field.
    const cmd = /<code>shadowvisor trace (memhog\.elf [^<]*?) --html DIR/.exec(page)![1]!.replace(/&#39;/g, "'");
    const args = cmd.match(/'[^']*'|\S+/g)!.map((a) => a.replace(/^'|'$/g, ''));
    args[0] = 'guest-images/memhog.elf';
    const out = join(tmp, 'preset');
    const c = cli(['trace', ...args, '--html', out]);
    expect(c.stderr).toContain('page written');
    const fromCli = data(readFileSync(join(out, 'index.html'), 'utf8'));
    expect(fromCli.events).toEqual(web.events);
  });

  it('a bad request comes back as an error message, not a dead worker', () => {
    const r = runInWorkerRealm(html, { mode: 'notifier', ...TINY, vms: 9 }, 7);
    expect(r).toEqual([{ type: 'error', id: 7, message: 'vms: expected an integer from 1 to 4, got 9' }]);
  });

  it('defaults to ./shadowvisor-web; --help; bad input is one line and status 2', () => {
    const cwd = mkdtempSync(join(tmp, 'cwd-'));
    const d = cli(['web'], cwd);
    expect(d.status).toBe(0);
    expect(existsSync(join(cwd, 'shadowvisor-web', 'index.html'))).toBe(true);
    const h = cli(['web', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/^Usage: shadowvisor web \[--out DIR\]/);
    expect(cli(['help', 'web']).stdout).toBe(h.stdout);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const args of [['web', '--out', file], ['web', '--bogus'], ['web', 'extra']]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^shadowvisor: web: /);
    }
  });
});
