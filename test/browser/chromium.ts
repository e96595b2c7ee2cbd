// What the browser suites share: Debian's Chromium driven through playwright-core (no browser
// download), one launch per test file, a page that fails its test on any console error or
// uncaught exception, and screenshots under test-output/browser/. Without Chromium the suites
// skip with a visible message; with CI=true they fail instead (as the QEMU parity tests do).

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ROOT } from '../cli/helpers.js';

export const CHROMIUM = process.env.SHADOWVISOR_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
export const inCi = Boolean(process.env.CI);
export const SHOTS = join(ROOT, 'test-output', 'browser');

if (!haveChromium && !inCi) {
  console.warn(`\n[browser] ${CHROMIUM} not found: SKIPPING the browser tests (install the Debian package chromium; in CI these tests fail instead)\n`);
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--allow-file-access-from-files'] });
}

/** A page that records every console error and uncaught exception, of the page and its frames. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  await page.goto(url);
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

export function expectNoErrors(errors: string[]): void {
  expect(errors, errors.join('\n')).toEqual([]);
}
