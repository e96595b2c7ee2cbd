// Where the committed guest images live. The CLI runs as one bundle in dist/ (beside
// guest-images/) and as sources under src/cli or bench/ in tests, so look upwards from here.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function guestImagePath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++) {
    const p = join(dir, 'guest-images', name);
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'guest-images', name);
}
