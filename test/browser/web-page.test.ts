// The `shadowvisor web` page in a real Chromium, its engine in a real Web Worker: a click on the
// run table during a run is honoured (rows are updated in place, never rebuilt under the mouse),
// a progress message never rebuilds the table or the live panel (checked by a MutationObserver,
// an observer independent of the page's code; long tasks are measured and printed), and the
// traced preset leads into the trace page's timeline, chains and step-through player.

import { rmSync } from 'node:fs';
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

/** Small runs: one VM of 4 MiB at overcommit 2, 10 M instructions each (long enough to click into). */
// Two VMs: the last run (none) then lasts seconds, long enough for two held clicks even with the
// compiler on (one VM's pin run is OOM-killed within 0.2 s).
const SMALL = 'vms=2&mib=4&ratio=2&insns=10000000';

describe.skipIf(!haveChromium && !inCi)('shadowvisor web in Chromium', () => {
  let tmp: string;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    tmp = tempDir('browser-web');
    const r = cli(['web', '--out', join(tmp, 'page')], { timeout: 60_000 });
    expect(r.status).toBe(0);
    url = pathToFileURL(join(tmp, 'page', 'index.html')).href;
    if (haveChromium) browser = await launch();
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('requires Chromium in CI', () => {
    expect(haveChromium, 'chromium is not installed but CI is set: install it (apt-get install -y chromium), as .ci/run does').toBe(true);
  });

  /** Watch the run table and the live panel from outside the page's code. */
  const watch = (page: Page) =>
    page.evaluate(() => {
      const w = { rowsRemoved: 0, rowsAdded: 0, liveRebuilds: 0, longTasks: [] as number[] };
      (window as unknown as { __watch: typeof w }).__watch = w;
      new MutationObserver((list: { target: any; removedNodes: any[]; addedNodes: any[] }[]) => {
        for (const m of list) {
          const t = m.target;
          if (t.id === 'live') w.liveRebuilds++;
          if (t.closest && t.closest('#runs')) {
            m.removedNodes.forEach((n: { nodeName: string }) => void (n.nodeName === 'TR' || n.nodeName === 'TABLE' ? w.rowsRemoved++ : 0));
            m.addedNodes.forEach((n: { nodeName: string }) => void (n.nodeName === 'TR' ? w.rowsAdded++ : 0));
          }
        }
      }).observe(document.body, { subtree: true, childList: true });
      new window.PerformanceObserver((l: { getEntries(): { duration: number }[] }) => l.getEntries().forEach((e) => void w.longTasks.push(Math.round(e.duration)))).observe({ type: 'longtask' });
    });
  const state = (page: Page) => page.getAttribute('body', 'data-state');
  /** Press, hold 200 ms, release, at one spot on the screen, as a person clicks: no retry if the
   *  element under the mouse is replaced meanwhile (the run must still be going to mean anything).
   *  The scroll is the DOM's own, at once: Playwright's scrollIntoViewIfNeeded first waits for
   *  the element to be stable, and while progress messages redraw the page it rarely was (a
   *  timeout now and then). */
  const holdClick = async (page: Page, selector: string): Promise<void> => {
    await page.$eval(selector, (e: { scrollIntoView(o: object): void }) => e.scrollIntoView({ block: 'center' }));
    const b = (await page.locator(selector).boundingBox())!;
    await page.mouse.move(b.x + Math.min(b.width / 2, 20), b.y + b.height / 2);
    expect(await state(page)).toBe('running');
    await page.mouse.down();
    await page.waitForTimeout(200);
    await page.mouse.up();
  };

  it('runs the three modes in a worker; a row clicked (and a box unticked) mid-run is honoured; nothing is rebuilt per message', async () => {
    const { page, errors } = await openPage(browser, `${url}#${SMALL}`);
    await page.waitForFunction(() => /Web Worker/.test(document.getElementById('backend')!.textContent!));
    await page.waitForSelector('#runs .empty');
    await page.click('#runs'); // no runs yet: the table is the empty note
    await watch(page);
    await page.click('#runall');
    // Run 3 is going while run 1 is done: click run 1's row, holding the button down a while.
    await page.waitForFunction(() => document.querySelectorAll('#runs tr[data-id]').length >= 3 && document.body.getAttribute('data-state') === 'running', null, { timeout: 60_000 });
    const running = await page.textContent('#live .runhead');
    expect(running).toContain('Run #3');
    // The button is held for 150 ms, several progress messages long: a table rebuilt in between
    // would lose the click (mousedown and mouseup on different elements).
    await holdClick(page, '#runs input[data-show="1"]');
    expect(await page.isChecked('#runs input[data-show="1"]')).toBe(false);
    await holdClick(page, '#runs tr[data-id="1"] td.setup');
    expect(await page.getAttribute('#runs tr[data-id="1"]', 'class')).toBe('viewed');
    expect(await page.textContent('#live .runhead')).toContain('Run #1');
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'idle-with-runs', null, { timeout: 90_000 });
    // Still as clicked after all the later messages.
    expect(await page.isChecked('#runs input[data-show="1"]')).toBe(false);
    expect(await page.textContent('#live .runhead')).toContain('Run #1');
    const w = await page.evaluate(() => (window as unknown as { __watch: { rowsRemoved: number; rowsAdded: number; liveRebuilds: number; longTasks: number[] } }).__watch);
    const redraws = await page.evaluate(() => (window as unknown as { shadowvisorRedraws: { count: number; maxMs: number } }).shadowvisorRedraws);
    console.log(`[browser] web page: ${redraws.count} redraws, slowest ${redraws.maxMs.toFixed(1)} ms; long tasks ${JSON.stringify(w.longTasks)} ms`);
    // Incremental updates: one row made per run and none removed; the live panel is rebuilt only
    // when its shape changes (a new run, its first snapshot, its end, the row click), not per
    // progress message (there were many more redraws than that).
    expect(w.rowsAdded).toBe(3);
    expect(w.rowsRemoved).toBe(0);
    expect(w.liveRebuilds).toBeLessThanOrEqual(3 * 3 + 2);
    expect(redraws.count).toBeGreaterThan(w.liveRebuilds + 5);
    const rows = await page.$$eval('#runs tr[data-id]', (trs) => trs.map((tr: any) => [tr.getAttribute('data-id'), tr.children[2]!.textContent!.trim(), tr.children[4]!.textContent]));
    expect(rows).toEqual([
      ['1', 'notifier', 'ok'],
      ['2', 'pin', expect.any(String)],
      ['3', 'none', expect.any(String)],
    ]);
    expect(Number((await page.textContent('#runs tr[data-id="3"] td:nth-child(8)'))!.replace(/,/g, ''))).toBeGreaterThan(0); // none: stale accesses
    await screenshot(page, 'web-runs');
    expectNoErrors(errors);
    await page.close();
  });

  it('the traced preset leads into the timeline, the UNSEEN chains and the player', async () => {
    const { page, errors } = await openPage(browser, `${url}#mode=none&seed=1`);
    await page.click('#tracerun');
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'idle-with-runs', null, { timeout: 60_000 });
    expect(await page.isVisible('#tracebox')).toBe(true);
    expect(await page.textContent('#live')).toMatch(/[\d,]+ events recorded/);
    expect(await page.textContent('#runs tr[data-id="1"] td.setup')).toContain('event ring');
    const frame = page.frameLocator('#traceframe');
    await frame.locator('#ppos:not(:empty)').waitFor({ timeout: 30_000 });
    expect(await frame.locator('h1').textContent()).toContain('memhog.elf');
    expect(await frame.locator('#timeline line.m').count()).toBeGreaterThan(100);
    expect(await frame.locator('#unseenlist li').count()).toBeGreaterThan(0);
    expect(await frame.locator('#compareview .node.zap').count()).toBeGreaterThan(0);
    await frame.locator('#pnext').click();
    await frame.locator('#pnext').click();
    const at = Number(await frame.locator('#pcur').getAttribute('data-i'));
    expect(at).toBeGreaterThanOrEqual(0);
    await frame.locator('#pprev').click();
    expect(Number(await frame.locator('#pcur').getAttribute('data-i'))).toBeLessThan(at);
    // The same page opens in its own tab from the link.
    expect(await page.getAttribute('#traceopen', 'href')).toMatch(/^blob:/);
    await page.locator('#tracebox').scrollIntoViewIfNeeded();
    await screenshot(page, 'web-trace');
    expectNoErrors(errors);
    await page.close();
  });

  it('the MMU picker reaches the engine: a traced run with TDP chosen walks in two dimensions', async () => {
    const { page, errors } = await openPage(browser, `${url}#seed=1`);
    await page.selectOption('#mmu', 'tdp');
    await page.click('#tracerun');
    await page.waitForFunction(() => document.body.getAttribute('data-state') === 'idle-with-runs', null, { timeout: 60_000 });
    expect(await page.textContent('#runs tr[data-id="1"] td.setup')).toContain('TDP MMU');
    const frame = page.frameLocator('#traceframe');
    await frame.locator('#ppos:not(:empty)').waitFor({ timeout: 30_000 });
    // Only the TDP MMU emits TDP_WALK events; the player then names its second box the TDP entry.
    expect(await frame.locator('.box[data-box="spte"]').textContent()).toContain('TDP entry');
    expectNoErrors(errors);
    await page.close();
  });
});

if (!haveChromium && !inCi) {
  describe('shadowvisor web in Chromium', () => {
    it.skip('chromium not installed: browser tests skipped', () => {});
  });
}
