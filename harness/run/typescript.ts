/**
 * Scenario files are TypeScript or JavaScript of either module kind, hilt's catalogue and a
 * team's own alike, and tsx loads them. Run from source, tsx loads hilt itself already (bin/hilt.js
 * or mocha's `--import tsx` registered it). Run compiled (dist/, what the package ships), nothing
 * has, and nothing should until a scenario file is about to load: `hilt --help` and the commands
 * without scenarios never pay for tsx (docs/architecture.md, "How the command line loads").
 */
import Module, { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_DIR } from '../package.ts';
import { compiledTwin } from './compiled-hooks.ts';

let ready: Promise<void> | null = null;

/** Makes TypeScript scenario files loadable; once per process, and nothing when hilt runs from source. */
export function loadTypeScript(): Promise<void> {
  // This module as a .ts file means something is compiling TypeScript for hilt already.
  if (import.meta.url.endsWith('.ts')) return Promise.resolve();
  ready ??= (async () => {
    const { register: registerEsm } = await import('tsx/esm/api');
    const { register: registerCjs } = await import('tsx/cjs/api');
    registerEsm();
    registerCjs();
    // Scenarios import hilt's API from its source: the catalogue as '../harness/index.ts', a
    // team's scenarios as 'hilt' (package.json's exports). Both resolve to the compiled files
    // instead, so nothing of hilt is compiled again. For import, a resolve hook does it
    // (registered after tsx's, so it is asked first) and gives the very modules this process
    // runs. For require (mocha requires scenario files where Node can require ES modules: 20.19
    // and later), require's resolution is redirected as tsx's own require hook does; tsx would
    // then make a CommonJS copy of the compiled files, as it did of the sources, so the API's
    // entry is put in require's cache beforehand as the module this process has loaded. Loading
    // the catalogue's first file went from about 0.5 s to 10 ms.
    register(new URL('./compiled-hooks.js', import.meta.url), { data: { packageDir: PACKAGE_DIR } });
    if (process.features.require_module) {
      const cjs = Module as unknown as {
        _resolveFilename: (request: string, ...rest: unknown[]) => string;
        _cache: Record<string, Module>;
      };
      const resolveFilename = cjs._resolveFilename;
      cjs._resolveFilename = function (request, ...rest) {
        const file = resolveFilename.call(this, request, ...rest);
        return compiledTwin(PACKAGE_DIR, file) ?? file;
      };
      const api = compiledTwin(PACKAGE_DIR, join(PACKAGE_DIR, 'harness', 'index.ts'));
      if (api) {
        const entry = new Module(api);
        entry.filename = api;
        entry.exports = await import(pathToFileURL(api).href);
        entry.loaded = true;
        cjs._cache[api] = entry;
      }
    }
  })();
  return ready;
}
