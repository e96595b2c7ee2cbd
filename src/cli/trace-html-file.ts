// Where `trace --html` puts its page: DIR checked (or made) before the run, so a bad DIR costs
// nothing, and DIR/index.html written through a rename. Kept apart from trace-html.ts so the page
// itself renders where there is no file system (the web page's worker).

import { preparePageDir, writePage } from './html-file.js';

/** Make DIR (or check it is one) before the run, so a bad DIR costs nothing: a one-line UsageError. */
export function prepareHtmlDir(dir: string): void {
  preparePageDir(dir, 'trace: --html');
}

/** Writes dir/index.html through a rename, so a reader never sees half a page. */
export function writeTraceHtml(dir: string, html: string): string {
  return writePage(dir, html, 'trace: --html');
}
