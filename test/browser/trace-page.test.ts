// The `trace --html` page in a real Chromium: the step-through player walks the events in order
// (Next, Prev, Play, the arrow keys), highlights the current event on the timeline, and its five
// boxes for one guest page say what the events say (an SPTE_SET links the spte to its frame, a
// zap breaks it); a none-mode page shows its swap-outs, the UNSEEN chains beside the notifier
// chain of the same seed, and both STALE and UNSEEN in the legend in colours of their own.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir } from '../cli/helpers.js';
import { expectNoErrors, haveChromium, inCi, launch, openPage, screenshot } from './chromium.js';

// Functions given to page.evaluate run in the page. The project's tsconfig has no DOM library (the
// engine must not see one), so they reach the page's globals through these module-local names.
declare const document: any;
declare const window: any;
declare const getComputedStyle: any;
declare const MutationObserver: any;

type Row = [number, number, number, number, number, number, number, number, number, string];
interface Data {
  kinds: string[];
  events: Row[];
  notes: Record<string, string>;
}

const BASE = ['trace', 'guest-images/pagetest.elf', '--host-mem', '256K'];
const dataOf = (html: string): Data => JSON.parse(/<script type="application\/json" id="trace-data">([\s\S]*?)<\/script>/.exec(html)![1]!) as Data;

describe.skipIf(!haveChromium && !inCi)('trace --html in Chromium', () => {
  let tmp: string;
  let browser: Browser;
  const pages: Record<string, { url: string; data: Data }> = {};

  beforeAll(async () => {
    tmp = tempDir('browser-trace');
    for (const mode of ['notifier', 'none', 'tdp']) {
      const dir = join(tmp, mode);
      const flags = mode === 'tdp' ? ['--mmu', 'tdp'] : ['--mode', mode];
      const r = cli([...BASE, ...flags, '--html', dir], { timeout: 60_000 });
      expect(r.stderr).toContain('page written');
      const file = join(dir, 'index.html');
      pages[mode] = { url: pathToFileURL(file).href, data: dataOf(readFileSync(file, 'utf8')) };
    }
    if (haveChromium) browser = await launch();
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('requires Chromium in CI', () => {
    expect(haveChromium, 'chromium is not installed but CI is set: install it (apt-get install -y chromium), as .ci/run does').toBe(true);
  });

  const cur = async (page: Page): Promise<number> => Number(await page.getAttribute('#pcur', 'data-i'));
  const box = async (page: Page, name: string): Promise<{ state: string; text: string }> => ({
    state: (await page.getAttribute(`.box[data-box="${name}"]`, 'data-state'))!,
    text: (await page.textContent(`.box[data-box="${name}"]`))!,
  });

  it('the player steps through the events in order; the timeline and the boxes follow them', async () => {
    const { url, data } = pages.notifier!;
    const { page, errors } = await openPage(browser, url);
    const K = data.kinds;
    // Hovering a fault mark on the timeline reads it out.
    const mark = page.locator('#plot line.o-fixed').first();
    const mb = (await mark.boundingBox())!;
    await page.mouse.move(mb.x + mb.width / 2, mb.y + mb.height / 2 - 2);
    await page.mouse.move(mb.x + mb.width / 2, mb.y + mb.height / 2);
    expect(await page.isVisible('#tip')).toBe(true);
    expect(await page.textContent('#tip')).toMatch(/^\d+  t=\d+  vcpu0  FAULT  gva 0x/);
    // A raced fault is shown in sequence order inside its chain, with the recycled frame named.
    await page.locator('#chainlist li:has(.raced)').first().click();
    const race = (await page.textContent('#chainview pre'))!;
    expect(race).toContain('in sequence order, with the raced fault');
    const gup = /^>> +(\d+) .* GUP .*-> frame (\d+) .*<- the fault holds frame (\d+): the frame this invalidation just took from gfn (0x[0-9a-f]+), recycled$/m.exec(race)!;
    expect(gup).not.toBeNull();
    expect(gup[2]).toBe(gup[3]);
    const zapped = data.events.find((e) => K[e[3]] === 'SPTE_ZAP' && e[5] === Number(gup[2]) && e[4] === parseInt(gup[4]!, 16) && e[0] < Number(gup[1]));
    expect(zapped).toBeDefined();
    expect(race).toMatch(/^>> +\d+ .* RETRY .*retried/m);
    expect(await page.isVisible('#player')).toBe(true);
    expect(await cur(page)).toBe(-1);
    // Next, by a real click twice, then in bulk inside the page (one round trip): each step lands
    // on a later event about the chosen page, marked on the timeline, and the boxes say what it did.
    await page.click('#pnext');
    await page.click('#pnext');
    const walk = await page.evaluate(() => {
      const out: { i: number; seq: string; cur: boolean; spte: string; spteState: string; tlb: string; changed: string }[] = [];
      const at = () => Number(document.getElementById('pcur')!.getAttribute('data-i'));
      const box = (b: string) => document.querySelector('.box[data-box="' + b + '"]')!;
      let set = false;
      for (let n = 0; n < 400; n++) {
        const i = at();
        const kind = document.getElementById('pcur')!.getAttribute('data-kind');
        const mark = document.querySelector('#plot line[data-i="' + i + '"]');
        out.push({
          i,
          seq: document.getElementById('pcur')!.getAttribute('data-seq')!,
          cur: mark === null || mark.classList.contains('cur'),
          spte: box('spte').textContent!,
          spteState: box('spte').getAttribute('data-state')!,
          tlb: box('tlb').textContent!,
          changed: Array.prototype.map.call(document.querySelectorAll('.box.changed'), (b: { getAttribute(n: string): string | null }) => b.getAttribute('data-box')).join(','),
        });
        if (kind === 'SPTE_SET') set = true;
        if (kind === 'SPTE_ZAP' && set) break; // the first link made and broken again
        (document.getElementById('pnext') as { click(): void }).click();
        if (at() === i) break;
      }
      return out;
    });
    const seen = walk.map((w) => w.i);
    let set = -1;
    let zap = -1;
    walk.forEach((w, k) => {
      if (k > 0) expect(w.i).toBeGreaterThan(walk[k - 1]!.i);
      const e = data.events[w.i]!;
      expect(w.seq).toBe(String(e[0]));
      expect(w.cur, `mark of event ${w.i}`).toBe(true);
      if (K[e[3]] === 'SPTE_SET' && set < 0) {
        set = w.i;
        expect(w.spteState).toBe('ok');
        expect(w.spte).toContain(`frame ${e[6]}`);
        expect(w.tlb).toContain(`frame ${e[6]}`);
        expect(w.changed).toContain('spte');
      }
      if (K[e[3]] === 'SPTE_ZAP' && set >= 0 && zap < 0) {
        zap = w.i;
        expect(w.spteState).toBe('none');
        expect(w.changed).toContain('spte');
      }
    });
    expect(set).toBeGreaterThanOrEqual(0);
    expect(zap).toBeGreaterThan(set);
    // Prev and the arrow keys move one event of the page at a time; the boxes follow.
    const z = seen.indexOf(zap);
    expect(await cur(page)).toBe(zap);
    await page.click('#pprev');
    expect(await cur(page)).toBe(seen[z - 1]);
    await page.keyboard.press('ArrowRight');
    expect(await cur(page)).toBe(zap);
    // Only one mark is current.
    expect(await page.locator('#plot line.cur').count()).toBeLessThanOrEqual(1);
    // Play moves on by itself; Pause stops it.
    const before = await cur(page);
    await page.click('#pplay');
    await page.waitForFunction((b) => Number(document.getElementById('pcur')!.getAttribute('data-i')) > b + 0, before, { timeout: 10_000 });
    await page.click('#pplay');
    const stopped = await cur(page);
    await page.waitForTimeout(500);
    expect(await cur(page)).toBe(stopped);
    // The chain diagram fills node by node: nodes of events after the current one are faded.
    expect(await page.locator('#chainview .node').count()).toBeGreaterThan(0);
    const nodes = await page.$$eval('#chainview .node[data-i]', (ns) => ns.map((n) => [Number(n.getAttribute('data-i')), n.getAttribute('class')!.includes('future')] as const));
    expect(nodes.length).toBeGreaterThan(0);
    for (const [i, future] of nodes) expect(future, `node of event ${i} at ${stopped}`).toBe(i > stopped);
    // A read-only WALK of a writable guest PTE says why: protect_clean_gpte.
    const clean = Object.keys(data.notes).map(Number).find((i) => /protect_clean_gpte/.test(data.notes[i]!))!;
    expect(clean).toBeDefined();
    await page.uncheck('#ponly');
    await page.evaluate((c) => {
      const at = () => Number(document.getElementById('pcur')!.getAttribute('data-i'));
      while (at() > c) (document.getElementById('pprev') as { click(): void }).click();
      while (at() < c) (document.getElementById('pnext') as { click(): void }).click();
    }, clean);
    expect(await cur(page)).toBe(clean);
    expect(await page.textContent('#pnote')).toContain('protect_clean_gpte');
    await screenshot(page, 'trace-notifier');
    expectNoErrors(errors);
    await page.close();
  });

  it('none mode: the swap-outs, the UNSEEN chains beside the notifier chain, STALE and UNSEEN in the legend', async () => {
    const { url, data } = pages.none!;
    const { page, errors } = await openPage(browser, url);
    const swaps = /<th>swap-outs \/ swap-ins<\/th><td class="num">(\d+)/.exec(await page.content())![1]!;
    expect(Number(swaps)).toBeGreaterThan(0);
    const none = (await page.textContent('#nochains'))!;
    expect(none).not.toContain('nothing was swapped');
    expect(none).toContain(`${swaps} swap-out`);
    const howto = (await page.textContent('#howto'))!;
    expect(howto).toContain('none mode');
    expect(howto).not.toContain('KVM zaps every spte');
    // Legend: STALE and UNSEEN present, each in a colour of its own (not the zap's red).
    const colour = (cls: string) => page.$eval(`.legend .sw.${cls}`, (el) => getComputedStyle(el).backgroundColor);
    const [zapC, staleC, unseenC] = [await colour('k-zap'), await colour('k-stale'), await colour('k-unseen')];
    expect(new Set([zapC, staleC, unseenC]).size).toBe(3);
    expect(await page.textContent('.legend')).toMatch(/UNSEEN[\s\S]*STALE|STALE[\s\S]*UNSEEN/);
    // The UNSEEN chain: the host's change, the stale spte, the new owner, the first STALE access.
    const items = page.locator('#unseenlist li');
    expect(await items.count()).toBeGreaterThan(0);
    expect(await items.first().textContent()).toMatch(/unseen \d+: .* -> the spte still maps frame \d+ -> .*STALE access at seq \d+/);
    for (const cls of ['unseen', 'stalespte', 'stale']) expect(await page.locator(`#unseenview .node.${cls}`).count(), cls).toBe(1);
    expect(await page.textContent('#unseenview .node.stale')).toMatch(/first STALE access/);
    // Beside it: the same page under the notifier, same seed: zapped, flushed, refaulted.
    expect(await page.textContent('#compareview')).toContain('mmu_notifier');
    expect(await page.locator('#compareview .node.zap').count()).toBeGreaterThan(0);
    expect(await page.locator('#compareview .node.flush').count()).toBe(1);
    // Clicking another UNSEEN chain draws it.
    if ((await items.count()) > 1) {
      await items.nth(1).click();
      expect(await page.getAttribute('#unseenlist li.sel', 'data-u')).toBe('1');
    }
    // The player, on the page of the first UNSEEN chain, reaches its UNSEEN event: the host PTE
    // link is broken, the spte box turns stale, and the chain's nodes after it are still faded.
    await page.click('#pnext');
    await page.evaluate(() => {
      for (let n = 0; n < 400 && document.getElementById('pcur')!.getAttribute('data-kind') !== 'UNSEEN'; n++) (document.getElementById('pnext') as { click(): void }).click();
    });
    const at = await cur(page);
    expect(data.kinds[data.events[at]![3]]).toBe('UNSEEN');
    expect((await box(page, 'spte')).state).toBe('bad');
    expect((await box(page, 'spte')).text).toContain(`still maps frame ${data.events[at]![5]}`);
    expect(await page.textContent('#pnote')).toContain('without telling KVM');
    expect(await page.locator('#unseenview .node.stale.future').count()).toBe(1);
    await screenshot(page, 'trace-none');
    expectNoErrors(errors);
    await page.close();
  });

  it('--mmu tdp: the processor’s own walk (TDP_WALK) gives the player its pages, and the second box is the TDP entry', async () => {
    const { url, data } = pages.tdp!;
    const { page, errors } = await openPage(browser, url);
    expect(await page.locator('#pgva option').count()).toBeGreaterThan(1);
    expect(await page.textContent('.box[data-box="spte"]')).toContain('TDP entry');
    // Step to the first TDP_WALK that reached a gfn (an EPT violation ends a walk early); it links
    // the guest-PTE box and names the walk's references.
    const first = data.events.findIndex((e) => data.kinds[e[3]] === 'TDP_WALK' && e[5] >= 0 && e[8] < 0);
    expect(first).toBeGreaterThanOrEqual(0);
    await page.evaluate((seq: number) => {
      const at = (): number => Number(document.getElementById('pcur')!.getAttribute('data-i'));
      for (let n = 0; n < 2000 && at() < seq; n++) (document.getElementById('pnext') as { click(): void }).click();
    }, first);
    const at = await cur(page);
    expect(data.kinds[data.events[at]![3]]).toBe('TDP_WALK');
    const g = await box(page, 'gpte');
    expect(g.state).toBe('ok');
    expect(g.text).toContain(`${data.events[at]![6] + data.events[at]![7]} refs`);
    expectNoErrors(errors);
    await page.close();
  });
});

if (!haveChromium && !inCi) {
  describe('trace --html in Chromium', () => {
    it.skip('chromium not installed: browser tests skipped', () => {});
  });
}
