/**
 * `hilt merge DIR... [--out DIR] [--force]`: the reports of several runs (the shards of one
 * catalogue, from different CI machines) as one report, written by the same writer a run uses.
 * Each run's console logs and board folders are copied under runs/<run id>/ in the merged folder,
 * so the merged report is one folder a CI job can upload whole.
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { rmSync, type Stats } from 'node:fs';
import { cp, lstat, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, isAbsolute, join, relative, resolve } from 'node:path';
import { ExitCode, UsageError, errnoOf, printable } from '../errors.ts';
import { loadResults } from '../compare/load.ts';
import { makeDir } from '../files.ts';
import { mergeResults } from '../report/merge.ts';
import type { RunResults } from '../report/model.ts';
import { Interrupts } from '../run/interrupts.ts';
import { LATEST, newRunId, pointLatest, REPORT_FILES, ReportWriteError, writeReports } from '../report/write.ts';
import { shown } from './args.ts';

interface MergeCliOptions {
  out?: string;
  force: boolean;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge the reports of several runs (e.g. the --shard runs of CI machines) into one report')
    .argument('<reports...>', 'run folders (reports/<run-id>), reports folders (their latest run) or results.json files')
    .option('--out <dir>', 'folder for the merged report (default: reports/<new run id>, with reports/latest pointing at it)')
    .option('--force', 'merge runs of different firmware builds', false)
    .addHelpText('after', `
Exit status: 3 if a device or the lab broke in any run; 1 if a scenario failed, a run was cut
short, or a shard of the set is missing (--shard 1/3 and 3/3 given, 2/3 not: its scenarios never
ran, so the merged run is cut short and names it); 2 for bad input; 130 when interrupted; else 0.`)
    .action(async (inputs: string[], opts: MergeCliOptions) => {
      process.exitCode = await mergeCommand(inputs, opts);
    });
}

/** One input, read: where its files are, and its results. */
interface Loaded {
  label: string;
  dir: string;
  results: RunResults;
}

async function mergeCommand(inputs: string[], opts: MergeCliOptions): Promise<number> {
  const loaded: Loaded[] = [];
  for (const input of inputs) loaded.push(await loadRun(input));
  const id = newRunId();
  const out = resolve(opts.out ?? join('reports', id));
  await refuseOverwrite(out, loaded);
  // Each run's files go under runs/<its id>/ (ids are unique in practice; a clash gets -2).
  const prefixes = uniqueFolders(loaded.map((l) => `runs/${safeName(l.results.run.id)}`));
  const merged = mergeResults(loaded.map((l) => l.results), { force: opts.force, labels: loaded.map((l) => l.label), prefixes, id });

  // Built in a hidden sibling and renamed into place at the end: a copy that fails, a report
  // that cannot be written or a Ctrl-C leaves no half-made report behind (nor a reports/<id>
  // that retention would never remove).
  const lost: string[] = [];
  await buildThenRename(out, async (dir) => {
    for (const [i, l] of loaded.entries()) await copyRunFiles(l, dir, prefixes[i]!, lost);
    for (const s of merged.scenarios) {
      if (s.consoleLog && lost.includes(s.consoleLog)) s.consoleLog = null;
    }
    await writeReports(merged, dir, null);
  });
  // Into reports/ by default, as a run, with reports/latest moved to it; a folder of one's own (--out) is left at that.
  if (opts.out === undefined) {
    await pointLatest(dirname(out), out, (message, cause) => new ReportWriteError(`${message}; the merged report is in ${out}`, { cause }));
  }

  const { totals, run } = merged;
  console.log(`merged ${loaded.length} run${loaded.length === 1 ? '' : 's'}: ${totals.passed} passed, ${totals.failed} failed, ${totals.error} errors, ${totals.skipped} skipped` +
    `${run.cutShort ? ` (cut short: ${run.cutShort})` : ''}`);
  if (lost.length > 0) {
    console.error(`hilt: warning: ${lost.length} console log${lost.length === 1 ? '' : 's'} not copied (missing beside ${lost.length === 1 ? 'its' : 'their'} results.json, outside ${lost.length === 1 ? 'its' : 'their'} run's folder, or a link): the merged report links none for ${lost.length === 1 ? 'it' : 'them'}`);
  }
  if (run.infrastructureError) console.error(`hilt: ${run.infrastructureError}`);
  for (const warning of run.warnings) console.error(`hilt: warning: ${warning}`);
  console.log(`report: ${shown(out) || '.'}/${Object.values(REPORT_FILES).join(', ')}`);
  return exitCodeOf(merged);
}

/**
 * Runs `build` on a new hidden folder beside `out`, then renames that folder to `out`. On an
 * error, or on SIGINT/SIGTERM (the merge then stops at once: there is no report to save), the
 * hidden folder is removed and nothing is left.
 */
async function buildThenRename(out: string, build: (dir: string) => Promise<void>): Promise<void> {
  const parent = dirname(out);
  await makeDir(parent).catch((err: unknown) => {
    throw new UsageError(`cannot create ${printable(shown(parent))} (${errnoOf(err)}): choose another folder with --out`);
  });
  // Listening before the folder exists: an interrupt at any moment from here finds it to remove.
  const dir = join(parent, `.${basename(out)}.merging-${randomBytes(4).toString('hex')}`);
  const interrupts = new Interrupts();
  interrupts.listen((signal) => {
    // Synchronous, then exit: no copy still under way can write into the folder after this.
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    process.stderr.write(`hilt: interrupted (${signal}): nothing merged, ${printable(shown(out))} not written\n`);
    process.exit(ExitCode.interrupted);
  });
  try {
    await mkdir(dir).catch((err: unknown) => {
      throw new UsageError(`cannot create a folder in ${printable(shown(parent))} (${errnoOf(err)}): choose another folder with --out`);
    });
    await build(dir);
    await rename(dir, out).catch((err: unknown) => {
      throw new UsageError(`cannot put the merged report at ${printable(shown(out))} (${errnoOf(err)}): give a new folder with --out`);
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    throw err;
  } finally {
    interrupts.dispose();
  }
}

/**
 * The status a run with these results would have ended with, so a CI merge job fails as the
 * shards did: 3 when a device or the lab broke, 1 when a scenario failed or a run was cut short
 * (scenarios that never ran are not a pass: also a shard missing from the set, see mergeResults),
 * else 0. A missing shard is 1, not 3: the merge cannot know why its report never came (a lost
 * CI machine, a cancelled job, an expired artifact), and a shard that did lose its device says
 * so in its own report.
 */
export function exitCodeOf(results: RunResults): number {
  if (results.run.infrastructureError || results.totals.error > 0) return ExitCode.unreachable;
  if (results.totals.failed > 0 || results.run.cutShort) return ExitCode.failed;
  return ExitCode.ok;
}

/**
 * A run's folder, a reports folder (resultsIn) or a results.json, read by the loader `hilt
 * compare` uses (bounded, one line for whatever is wrong), then checked for what merging reads.
 */
export async function loadRun(input: string): Promise<Loaded> {
  const isFolder = await stat(input).then((s) => s.isDirectory(), () => false);
  const file = isFolder ? await resultsIn(input) : input;
  const { results, folder } = await loadResults(file);
  const problem = shapeProblem(results);
  if (problem) throw new UsageError(`${printable(input)}: not a hilt results.json (${problem}): give the results.json hilt run wrote`);
  const dir = folder ?? await realpath(dirname(resolve(file)));
  return { label: printable(input), dir, results };
}

/**
 * A folder's results.json: its own (a run's folder), else, in a reports folder (--report-dir), the
 * run `latest` names, else its one run. So a CI job can hand over its whole reports folder, with
 * `latest` kept as a link, turned into a copy, or lost on the way.
 */
async function resultsIn(input: string): Promise<string> {
  const dir = resolve(input);
  const own = join(dir, REPORT_FILES.results);
  const isFile = (p: string) => stat(p).then((s) => s.isFile(), () => false);
  if (await isFile(own)) return input;
  const latest = join(dir, LATEST, REPORT_FILES.results);
  if (await isFile(latest)) return latest;
  const runs: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory() && await isFile(join(dir, entry.name, REPORT_FILES.results))) runs.push(entry.name);
  }
  if (runs.length === 1) return join(dir, runs[0]!, REPORT_FILES.results);
  if (runs.length > 1) {
    throw new UsageError(`${printable(input)} holds ${runs.length} runs and no ${LATEST}: name the ones to merge (${runs.slice(0, 3).map((r) => printable(join(input, r))).join(', ')}${runs.length > 3 ? ', ...' : ''})`);
  }
  return input; // the loader says what is missing
}

/** What merging reads beyond what the loader checks (the run's own fields), or null. */
function shapeProblem(results: RunResults): string | null {
  const run = results.run as unknown as Record<string, unknown>;
  for (const key of ['endedAt', 'target', 'hiltVersion'] as const) {
    if (typeof run[key] !== 'string') return `run.${key} is not a string`;
  }
  for (const key of ['warnings', 'notes'] as const) if (!Array.isArray(run[key])) return `run.${key} is not a list`;
  const fp = run.fingerprints as Record<string, unknown> | null | undefined;
  if (typeof fp !== 'object' || fp === null || !Array.isArray(fp.trust) || !Array.isArray(fp.served)) return 'run.fingerprints is not {trust, served}';
  return null;
}

/**
 * The merged report must not land on a run it reads (its results.json would be replaced) nor on
 * an earlier report: an existing results.json in --out is refused, and so is any other content.
 */
async function refuseOverwrite(out: string, loaded: Loaded[]): Promise<void> {
  const real = await realpath(out).catch(() => out);
  if (loaded.some((l) => l.dir === real)) throw new UsageError(`--out ${printable(shown(out))} is one of the reports being merged: give a new folder`);
  if (await lstat(join(out, REPORT_FILES.results)).then(() => true, () => false)) {
    throw new UsageError(`--out ${printable(shown(out))} holds a report already (${REPORT_FILES.results}): give a new folder, or remove it first`);
  }
  // The report is renamed into place at the end: over nothing, or over an empty folder.
  const found = await lstat(out).catch(() => null);
  if (found && !(found.isDirectory() && (await readdir(out).catch(() => ['?'])).length === 0)) {
    throw new UsageError(`--out ${printable(shown(out))} ${found.isDirectory() ? 'holds files already' : 'is not a folder'}: give a new or empty folder`);
  }
}

/**
 * Copies the console logs and board folders a run's results name into `out`/`prefix`. A path
 * outside the run's folder, or a link, is not copied (a results.json could name any file); those
 * and the ones missing (only results.json was kept) are listed in `lost` under their merged path.
 * `out` is the hidden folder the report is built in: a message names its parent instead.
 */
async function copyRunFiles(l: Loaded, out: string, prefix: string, lost: string[]): Promise<void> {
  const to = join(out, prefix);
  const names = [
    ...l.results.scenarios.map((s) => s.consoleLog).filter((p): p is string => typeof p === 'string'),
    ...(l.results.run.boards ?? []).map((b) => b.dir).filter((p): p is string => typeof p === 'string'),
  ];
  const inside = (path: string) => {
    const rel = relative(l.dir, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  // Links are not copied: one could point at any file of this machine, and CI uploads what it
  // finds. Anything else that is not a file or folder (a FIFO, a socket, a device) is the source's
  // problem, said as such: reading a FIFO could wait for ever.
  const copyable = async (path: string) => {
    const found = await lstat(path);
    if (found.isSymbolicLink()) return false;
    if (!found.isFile() && !found.isDirectory()) {
      throw new UsageError(`${printable(shown(path))}: not a regular file (${kindOf(found)}), it cannot be copied into the merged report: replace it with a file, or remove it from its run's folder`);
    }
    return true;
  };
  for (const name of new Set(names)) {
    const from = resolve(l.dir, name);
    const merged = `${prefix}/${name}`;
    const real = await realpath(from).catch(() => null);
    if (!inside(from) || (real !== null && (!inside(real) || real !== from))) {
      lost.push(merged);
      continue;
    }
    try {
      const rel = relative(l.dir, from);
      await makeDir(dirname(join(to, rel)));
      await cp(from, join(to, rel), { recursive: true, errorOnExist: false, force: true, filter: copyable });
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (errnoOf(err) !== 'ENOENT') throw new UsageError(`cannot copy ${printable(shown(from))} into the merged report (${errnoOf(err)}): check ${printable(shown(dirname(out)))} can be written and has free space`);
      lost.push(merged);
    }
  }
}

function kindOf(found: Stats): string {
  if (found.isFIFO()) return 'a FIFO';
  if (found.isSocket()) return 'a socket';
  if (found.isCharacterDevice() || found.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** A run id as a folder name: ids hilt makes are safe already; anything else is made so. */
function safeName(id: string): string {
  const name = basename(id).replace(/[^A-Za-z0-9._-]/g, '_');
  return name === '' || name === '.' || name === '..' ? 'run' : name;
}

function uniqueFolders(names: string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    let n = name;
    for (let k = 2; taken.has(n); k++) n = `${name}-${k}`;
    taken.add(n);
    return n;
  });
}
