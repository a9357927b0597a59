import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * hilt's own package folder (where its package.json, scenarios/ and firmware/ are), found from
 * this file: it runs as harness/package.ts from source and as dist/harness/package.js compiled,
 * in a checkout and in node_modules/hilt alike, so no fixed number of `..` fits every case.
 */
export const PACKAGE_DIR: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`hilt's package.json is not above ${fileURLToPath(import.meta.url)}: reinstall hilt`);
    dir = up;
  }
  return dir;
})();
