/**
 * Several runs into one: the shards of a catalogue run on different CI machines (`--shard i/n`),
 * each holding its own scenarios (a scenario id in two runs is refused, whatever the boards).
 * Pure: no files are read or written here (harness/cli/merge.ts does that), so the rules can be
 * tested on hand-made results.
 */
import { UsageError, quoted } from '../errors.ts';
import { RESULTS_SCHEMA, resultKey, targetsOf, totalsOf, type BoardInfo, type FirmwareIdentity, type RunResults, type ScenarioResult } from './model.ts';

export interface MergeOptions {
  /** Merge runs of different firmware builds anyway (the merged report then names the first). */
  force?: boolean;
  /** How each run is named in messages (its folder or file); defaults to its run id. */
  labels?: string[];
  /**
   * Where each run's own files (console logs, board folders) sit in the merged report's folder,
   * relative to it: its paths are rebased onto this. Absent or null: paths are kept as they are.
   */
  prefixes?: Array<string | null>;
  /** The merged run's id; defaults to the earliest run's id with "-merged". */
  id?: string;
}

/**
 * One RunResults from several. Refuses (UsageError) a scenario id that two runs both hold, on
 * whichever boards (the same scenario twice: one shard given twice, or overlapping selections)
 * and, without `force`, runs of different firmware builds: a merged report speaks for one build.
 * A gap in a shard set cuts the merged run short (`run.cutShort`).
 */
export function mergeResults(runs: RunResults[], options: MergeOptions = {}): RunResults {
  if (runs.length === 0) throw new UsageError('nothing to merge: give at least one report folder or results.json');
  const label = (i: number) => options.labels?.[i] ?? `run ${runs[i]!.run.id}`;
  runs.forEach((r, i) => {
    if (r.schema !== RESULTS_SCHEMA) {
      throw new UsageError(`${label(i)} has results schema ${String(r.schema)}, this hilt reads ${RESULTS_SCHEMA}: merge with the hilt version that wrote it`);
    }
  });

  const mixed = mixedFirmware(runs, label);
  if (mixed && !options.force) throw new UsageError(`${mixed}: merge runs of one build, or pass --force`);

  const byStart = runs.map((r, i) => ({ r, i })).sort((a, b) => compare(a.r.run.startedAt, b.r.run.startedAt));
  const boardIds = boardRenames(runs, byStart.map((x) => x.i));
  // Across runs a scenario id is held once whatever the board: in a split multi-board run the
  // board is only where a scenario happened to run. Within one run it may be on several boards.
  const holder = new Map<string, number>();
  const keys = new Set<string>();
  const scenarios: ScenarioResult[] = [];
  runs.forEach((r, i) => {
    for (const s of r.scenarios) {
      let result = retag(rebaseScenario(s, options.prefixes?.[i] ?? null), boardIds[i]!);
      const first = holder.get(s.id);
      if (first !== undefined && first !== i) {
        // A file's before/after hook runs on every shard that runs one of its scenarios: its
        // failure is each run's own, kept once per run.
        if (!isHookResult(s)) {
          throw new UsageError(`scenario ${quoted(s.id)} is in both ${label(first)} and ${label(i)}: merge each shard once (were two runs given the same --shard?)`);
        }
        if (keys.has(resultKey(result))) result = { ...result, id: `${s.id}~${r.run.id}` };
      }
      if (first === undefined) holder.set(s.id, i);
      keys.add(resultKey(result));
      scenarios.push(result);
    }
  });
  // Sorted by key so the merged report does not depend on the order the runs were given in.
  scenarios.sort((a, b) => compare(resultKey(a), resultKey(b)));

  const first = byStart[0]!.r;
  const startedAt = first.run.startedAt;
  const endedAt = runs.map((r) => r.run.endedAt).reduce((a, b) => (compare(a, b) >= 0 ? a : b));
  const durationMs = Math.max(0, Date.parse(endedAt) - Date.parse(startedAt)) || runs.reduce((t, r) => t + r.run.durationMs, 0);

  const warnings = unique(runs.flatMap((r) => r.run.warnings));
  const repeats = unique(runs.map((r) => r.run.repeat ?? 1));
  if (repeats.length > 1) warnings.push(`the merged runs repeated scenarios a different number of times (${repeats.join(', ')}): their medians are not alike`);
  const versions = unique(runs.map((r) => r.run.hiltVersion));
  if (versions.length > 1) warnings.push(`the merged runs were made by different hilt versions (${versions.join(', ')})`);
  if (mixed) warnings.push(`merged with --force: ${mixed}`);
  // A shard never merged is scenarios never run (its machine died before writing a report): the
  // merged run is cut short, which fails the merge job, rather than a green report of half the catalogue.
  const cutShort = [joined(runs, (r) => r.run.cutShort, label), missingShards(runs)].filter((x) => x !== null).join('; ') || null;

  // Boards in shard order, then in the order the runs started: again not the arguments' order.
  const boardOrder = [...byStart].sort((a, b) => (a.r.run.shard?.index ?? 0) - (b.r.run.shard?.index ?? 0)).map((x) => x.i);
  const boards = mergeBoards(runs, boardOrder, options.prefixes, boardIds);
  const run: RunResults['run'] = {
    id: options.id ?? `${first.run.id}-merged`,
    hiltVersion: first.run.hiltVersion,
    // Each target once, for reading: a multi-board run's from its boards (its own run.target
    // joins them with spaces, and a target may hold a space: never split it).
    target: unique(runs.flatMap((r) => targetsOf(r.run))).join(' '),
    startedAt,
    endedAt,
    durationMs,
    cutShort,
    infrastructureError: joined(runs, (r) => r.run.infrastructureError, label),
    warnings,
    notes: unique(runs.flatMap((r) => r.run.notes)),
    firmware: firstOf(byStart.map((x) => x.r.run.firmware)),
    image: firstOf(byStart.map((x) => x.r.run.image ?? null)),
    security: firstOf(byStart.map((x) => x.r.run.security)),
    fingerprints: {
      trust: uniqueBy(runs.flatMap((r) => r.run.fingerprints.trust), (f) => `${f.name}\0${f.sha256}`),
      served: uniqueBy(runs.flatMap((r) => r.run.fingerprints.served), (f) => `${f.listener}\0${f.name}\0${f.sha256}`),
    },
    ...(repeats.length === 1 && runs.some((r) => r.run.repeat !== undefined) ? { repeat: repeats[0]! } : {}),
    ...(boards.length > 0 ? { boards } : {}),
    shard: null,
    // A merged run given again counts as the runs it came from.
    mergedFrom: runs.flatMap((r) => r.run.mergedFrom ?? [r.run.id]),
  };
  if (first.run.port !== undefined && runs.every((r) => r.run.port === first.run.port)) run.port = first.run.port;

  // A comparison with a baseline spoke for one part of the catalogue: compare the merged report again.
  return { schema: RESULTS_SCHEMA, run, scenarios, comparison: null, totals: totalsOf(scenarios) };
}

/** What names a build: two boards of one build differ in chip revision and MAC, not in these. */
function buildOf(f: FirmwareIdentity): string {
  return [f.project, f.version, f.idf, f.elfSha256 ?? ''].join('\0');
}

function describe(f: FirmwareIdentity): string {
  return `${f.project} ${f.version}${f.elfSha256 ? ` (ELF ${f.elfSha256.slice(0, 12)})` : ''}`;
}

/** "A and B tested different firmware (...)", or null when every run that knows its build tested one. */
function mixedFirmware(runs: RunResults[], label: (i: number) => string): string | null {
  // A run that never reached its device has no firmware identity: it contradicts nothing.
  const known = runs.map((r, i) => ({ f: r.run.firmware, sha: r.run.image?.elfSha256 ?? null, i })).filter((x) => x.f !== null || x.sha !== null);
  const ref = known[0];
  if (!ref) return null;
  for (const x of known.slice(1)) {
    const differs = (ref.f && x.f && buildOf(ref.f) !== buildOf(x.f)) || (ref.sha && x.sha && ref.sha !== x.sha);
    if (differs) {
      const what = ref.f && x.f ? `${describe(ref.f)} and ${describe(x.f)}` : `images ${ref.sha!.slice(0, 12)} and ${x.sha!.slice(0, 12)}`;
      return `${label(ref.i)} and ${label(x.i)} tested different firmware (${what})`;
    }
  }
  return null;
}

/**
 * Each run's board ids in the merged report. When more than one run has boards their ids repeat
 * (every multi-board run has a b1), so each gets its run's mark: `s2-b1` for shard 2's b1, or,
 * for runs that are not distinct shards, `r2-b1` for the second run to start (not the second
 * given: the merged report does not depend on the order of the arguments).
 */
function boardRenames(runs: RunResults[], startOrder: number[]): Array<Map<string, string>> {
  const withBoards = runs.filter((r) => (r.run.boards ?? []).length > 0);
  if (withBoards.length <= 1) return runs.map(() => new Map());
  const shards = withBoards.map((r) => r.run.shard?.index ?? null);
  const byShard = shards.every((s) => s !== null) && unique(shards).length === shards.length;
  return runs.map((r, i) => {
    const mark = byShard && r.run.shard ? `s${r.run.shard.index}` : `r${startOrder.indexOf(i) + 1}`;
    return new Map((r.run.boards ?? []).map((b) => [b.id, `${mark}-${b.id}`]));
  });
}

/** A result on the board its run called `board`, under that board's merged id. */
function retag(s: ScenarioResult, ids: Map<string, string>): ScenarioResult {
  const id = s.board ? ids.get(s.board) : undefined;
  return id === undefined ? s : { ...s, board: id };
}

/** Boards of all runs; one board listed by two runs (the same bench, merged twice over) once. */
function mergeBoards(runs: RunResults[], order: number[], prefixes: MergeOptions['prefixes'], ids: Array<Map<string, string>>): BoardInfo[] {
  const boards = order.flatMap((i) => (runs[i]!.run.boards ?? []).map((b) => ({ ...b, id: ids[i]!.get(b.id) ?? b.id, dir: rebase(b.dir, prefixes?.[i] ?? null) })));
  return uniqueBy(boards, (b) => `${b.id}\0${b.target}\0${b.deviceId}\0${b.dir ?? ''}`);
}

/** "shard 3/3 missing" when the runs are shards of one split and not all of them were given. */
function missingShards(runs: RunResults[]): string | null {
  const shards = runs.map((r) => r.run.shard ?? null);
  if (shards.some((s) => s === null)) return null;
  const counts = unique(shards.map((s) => s!.count));
  if (counts.length !== 1) return `the merged runs are shards of different splits (${counts.map((c) => `of ${c}`).join(', ')})`;
  const count = counts[0]!;
  const have = new Set(shards.map((s) => s!.index));
  const absent = Array.from({ length: count }, (_, k) => k + 1).filter((k) => !have.has(k));
  return absent.length > 0 ? `not every shard was merged: ${absent.map((k) => `${k}/${count}`).join(', ')} missing` : null;
}

/** A failed hook, which the runner reports as a result of its own (mocha words its title so). */
function isHookResult(s: ScenarioResult): boolean {
  return /"(before|after) (all|each)" hook/.test(s.title);
}

function rebaseScenario(s: ScenarioResult, prefix: string | null): ScenarioResult {
  return prefix === null ? { ...s } : { ...s, consoleLog: rebase(s.consoleLog, prefix) };
}

function rebase(path: string | null, prefix: string | null): string | null {
  if (path === null || prefix === null || prefix === '' || prefix === '.') return path;
  return `${prefix.replace(/\/+$/, '')}/${path}`;
}

function joined(runs: RunResults[], pick: (r: RunResults) => string | null, label: (i: number) => string): string | null {
  const parts = runs.flatMap((r, i) => {
    const text = pick(r);
    return text === null ? [] : [runs.length > 1 ? `${label(i)}: ${text}` : text];
  });
  return parts.length > 0 ? parts.join('; ') : null;
}

function firstOf<T>(values: Array<T | null>): T | null {
  return values.find((v) => v !== null) ?? null;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function uniqueBy<T>(values: T[], key: (v: T) => string): T[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const k = key(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Code-unit order: the same on every machine and locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
