/**
 * Scenario files are TypeScript or JavaScript of either module kind, hilt's catalogue and a
 * team's own alike, and tsx loads them. Run from source, tsx loads hilt itself already (bin/hilt.js
 * or mocha's `--import tsx` registered it). Run compiled (dist/, what the package ships), nothing
 * has, and nothing should until a scenario file is about to load: `hilt --help` and the commands
 * without scenarios never pay for tsx (docs/architecture.md, "How the command line loads").
 */
import Module, { register } from 'node:module';
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
    // instead of the sources, so nothing of hilt is compiled again: for import, through a resolve
    // hook (registered after tsx's, so it is asked first), which gives the very modules this
    // process runs; for require (mocha requires scenario files where Node can require ES
    // modules: 20.19 and later), by redirecting require's resolution as tsx's own require hook
    // does, and tsx then makes a CommonJS copy of those files, as it did of the sources.
    register(new URL('./compiled-hooks.js', import.meta.url), { data: { packageDir: PACKAGE_DIR } });
    if (process.features.require_module) {
      const cjs = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
      const resolveFilename = cjs._resolveFilename;
      cjs._resolveFilename = function (request, ...rest) {
        const file = resolveFilename.call(this, request, ...rest);
        return compiledTwin(PACKAGE_DIR, file) ?? file;
      };
    }
  })();
  return ready;
}
