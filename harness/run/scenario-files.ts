/**
 * Which scenario files a run loads, and loading them into mocha. By default hilt's own catalogue
 * (the scenarios/ folder shipped beside harness/, wherever hilt is installed); a firmware team
 * names its own scenarios in hilt.config.json (`scenarios`) or on the command line.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { globSync, hasMagic } from 'glob';
import type Mocha from 'mocha';
import { UsageError, printable, quoted } from '../errors.ts';
import { PACKAGE_DIR } from '../package.ts';
import { loadTypeScript } from './typescript.ts';

/** hilt's own package and catalogue, found from this file so that they work from node_modules/hilt too. */
const PACKAGE = PACKAGE_DIR;
export const CATALOGUE = join(PACKAGE, 'scenarios');

/** A scenario file: ESM, CommonJS or TypeScript of either kind (tsx loads them all). */
const SCENARIO_FILE = /\.spec\.(ts|mts|cts|js|mjs|cjs)$/;

/** A scenario file's name without folder and `.spec.*` suffix: the first part of its scenarios' ids. */
export function scenarioStem(file: string): string {
  return basename(file).replace(SCENARIO_FILE, '');
}
const NAMING = 'scenario files end in .spec.ts (or .spec.js, .spec.mjs, .spec.cjs, .spec.mts, .spec.cts)';

/** Paths and where they came from, for messages: "the command line", "hilt.config.json, field scenarios". */
export interface ScenarioSource {
  paths: string[];
  from: string;
}

/**
 * The scenario files of a run, in order, without duplicates: the first source that has paths
 * (the command line, then hilt.config.json), else null (hilt's catalogue for the target's mode). Each path, relative to the
 * working folder, is a file, a folder (its *.spec.* files, not its subfolders: a glob such as
 * `hil/**\/*.spec.ts` reaches those) or a glob. A path that matches nothing is a usage error.
 */
export function scenarioFiles(sources: ScenarioSource[], root = process.cwd()): string[] | null {
  const source = sources.find((s) => s.paths.length > 0);
  if (!source) return null;
  const files = source.paths.flatMap((p) => expand(p, source.from, root));
  return [...new Set(files)];
}

/**
 * hilt's own catalogue for a target's mode: the agent scenarios, or scenarios/firmware/ for a
 * board's own firmware (none yet is an empty run, not a mistake).
 */
export function catalogueFiles(mode: 'agent' | 'firmware'): string[] {
  if (mode === 'agent') return specsIn(CATALOGUE, `hilt's catalogue ${CATALOGUE}`);
  const dir = join(CATALOGUE, 'firmware');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => SCENARIO_FILE.test(f)).sort().map((f) => join(dir, f));
}

function expand(path: string, from: string, root: string): string[] {
  const shown = printable(path);
  if (hasMagic(path, { windowsPathsNoEscape: true })) {
    const found = globSync(path, { cwd: root, absolute: true, nodir: true }).filter((f) => SCENARIO_FILE.test(f)).sort();
    if (found.length === 0) throw new UsageError(`no scenario files match ${shown} (from ${from}): ${NAMING}`);
    return found;
  }
  const full = resolve(root, path);
  if (!existsSync(full)) throw new UsageError(`scenario file ${shown} does not exist (from ${from}): give a file, a folder or a glob such as hil/*.spec.ts`);
  return statSync(full).isDirectory() ? specsIn(full, `${shown} (from ${from})`) : [full];
}

function specsIn(dir: string, where: string): string[] {
  const files = readdirSync(dir).filter((f) => SCENARIO_FILE.test(f)).sort().map((f) => join(dir, f));
  if (files.length === 0) throw new UsageError(`no scenario files in ${where}: ${NAMING}`);
  return files;
}

const inside = (dir: string, file: string) => {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
};

/**
 * A scenario file as reports and messages show it: hilt's own as `hilt/scenarios/...` wherever
 * hilt is installed (so runs from different machines compare), others relative to the working
 * folder when inside it.
 */
export function shownFile(file: string): string {
  const cwd = process.cwd();
  if (inside(PACKAGE, file) && !inside(PACKAGE, cwd) && cwd !== PACKAGE) return `hilt/${relative(PACKAGE, file)}`;
  return inside(cwd, file) ? relative(cwd, file) : file;
}

/**
 * Where a file that does not compile went wrong, on one line: "file:line:column: message". tsx
 * passes esbuild's error on without its `errors` list, as a message whose second line is
 * "file:line:column: ERROR: text" (esbuild's column counts from 0; editors and compilers count
 * from 1, as shown here).
 */
export function syntaxErrorOf(err: unknown): string | null {
  const m = /^Transform failed with (\d+) errors?:\n(.+):(\d+):(\d+): ERROR: (.*)$/m.exec(String((err as Error)?.message ?? ''));
  if (!m) return null;
  const more = Number(m[1]) > 1 ? ` (and ${Number(m[1]) - 1} more)` : '';
  return `${shownFile(m[2]!)}:${m[3]}:${Number(m[4]) + 1}: ${m[5]}${more}`;
}

/** A scenario that imports 'hilt' from a project where it is not installed: say how to install it. */
function missingHilt(err: unknown): string | null {
  const e = err as { code?: string; message?: unknown };
  if (e?.code !== 'MODULE_NOT_FOUND' && e?.code !== 'ERR_MODULE_NOT_FOUND') return null;
  if (!/^Cannot find (module|package) 'hilt'/.test(String(e.message))) return null;
  return "it imports 'hilt', which is not installed where the file is: npm install --save-dev hilt in its project";
}

/** Loads the scenario files into mocha; a file that does not load is the user's to fix (exit 2). */
export async function loadScenarios(mocha: Mocha, files: string[], grep: string | undefined): Promise<void> {
  await loadTypeScript();
  for (const f of files) mocha.addFile(f);
  // Mocha announces each file before it loads it: the last one announced is the one that failed.
  let loading = files[0]!;
  mocha.suite.on('pre-require', (_context: unknown, file: string) => { loading = file; });
  try {
    await mocha.loadFilesAsync();
  } catch (err) {
    const why = syntaxErrorOf(err) ?? missingHilt(err) ?? String((err as Error)?.message ?? err).split('\n')[0]!;
    throw new UsageError(`scenario file ${shownFile(loading)} does not load: ${printable(why)}`, { cause: err });
  }
  const count = (suite: Mocha.Suite): number => suite.tests.filter((t) => !grep || new RegExp(grep).test(t.fullTitle())).length
    + suite.suites.reduce((n, s) => n + count(s), 0);
  if (count(mocha.suite) === 0) {
    throw new UsageError(grep ? `no scenario title matches --grep ${quoted(grep)}` : `no scenarios in ${files.map(shownFile).join(', ')}: write them with scenario()`);
  }
}
