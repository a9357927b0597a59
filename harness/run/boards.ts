/**
 * A run on several boards (`--target` given more than once, or `targets` in hilt.config.json):
 * one child `hilt run` per board, each with its own lab, device id, console logs and report in a
 * folder of the run's (b1/, b2/ ...), and one report for the run made from theirs. Why children
 * and not one process: docs/architecture.md, "Several boards".
 *
 * The parent loads the scenario files itself and decides each board's part before any starts, so
 * it knows what a board was to run even when that board dies without a word; the children tell it
 * what their running scenario is at (a repetition, a firmware attempt) and each result as it ends
 * (progress, and what survives a crash) over the IPC channel fork() opens.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { judgeAgainstBaseline } from '../compare/budgets.ts';
import { ExitCode, UsageError, errnoOf, printable, quoted } from '../errors.ts';
import { newRunId, prepareRunDir, writeReports } from '../report/index.ts';
import {
  RESULTS_SCHEMA, totalsOf, type BoardInfo, type RunResults, type ScenarioResult,
} from '../report/model.ts';
import type { RunConfig } from './config.ts';
import { within } from '../time.ts';
import { Interrupts } from './interrupts.ts';
import { Progress } from './progress.ts';
import {
  boardDeviceId, checkLabHosts, planScenarios, runScenarios, targetOf,
  type BoardMessage, type PlannedScenario, type RunOptions, type RunOutcome,
} from './runner.ts';

/** The environment variable that makes a `hilt run` one board of a parent's run (its brief, as JSON). */
export const BOARD_ENV = 'HILT_BOARD';

/** Target kinds whose every opening is a board of its own (an emulated board, a host agent): one may be given twice. */
const FRESH_EACH_TIME: ReadonlySet<string> = new Set(['emulator', 'native']);

/** After an interrupt, how long a board may take to write its report before it is killed. */
export const BOARD_GRACE_MS = 30_000;

export interface BoardsOptions extends RunOptions {
  /** One target per board, in the order given: b1, b2 ... */
  targets: string[];
  /** Every board runs every scenario (--each-target); else the scenarios are split across them. */
  each: boolean;
  /** The script a child runs (hilt's own entry point, as this process was started). */
  entry: string;
}

/**
 * What a child is handed: a file in its folder, named by BOARD_ENV. Not the brief itself in the
 * environment: one variable is capped at 128 KiB, and a long catalogue's ids would not fit.
 */
interface BoardBrief {
  config: RunConfig;
  files: string[] | null;
  filesChosen: boolean;
  grep?: string;
  bail: boolean;
  board: { id: string; index: number; dir: string; ids: string[] };
}

/**
 * Which board runs which scenario: the ids sorted (by code unit, the same on every machine and
 * locale), the i-th to board i mod n. The same catalogue and board count give the same split, and
 * the boards' counts differ by one at most. A work queue would balance uneven scenarios better,
 * but where a scenario ran would then depend on timing, and a board's figures could not be
 * followed from run to run.
 */
export function splitAcross(ids: readonly string[], count: number): string[][] {
  const parts: string[][] = Array.from({ length: count }, () => []);
  [...ids].sort().forEach((id, i) => parts[i % count]!.push(id));
  return parts;
}

/** One board as the parent saw it: its part, what it reported, and how it ended. */
export interface BoardRun {
  id: string;
  index: number;
  target: string;
  /** Its folder, relative to the run's. */
  dir: string;
  planned: PlannedScenario[];
  deviceId: string | null;
  /** Its results.json; null when it wrote none (it died, or never started). */
  results: RunResults | null;
  /** The results it reported as they ended, for a board that left no results.json. */
  reported: ScenarioResult[];
  /** Why it ended without a report; null when it wrote one. */
  stopped: string | null;
}

/**
 * The run's results from its boards' (pure: tested on hand-made boards). Each board's scenarios
 * carry its id and their console logs its folder; a planned scenario a board never reported (it
 * died) is an error with the board's reason. Scenarios keep the catalogue's order (with
 * --each-target, a scenario's boards in turn).
 */
export function combineBoards(boards: BoardRun[], run: {
  id: string; started: Date; ended: Date; repeat: number; interrupted: string | null;
  /** Every planned id in the catalogue's order. */
  catalogue: string[];
}): RunResults {
  const order = new Map(run.catalogue.map((id, i) => [id, i]));
  const scenarios: Array<ScenarioResult & { board: string }> = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const cut: string[] = [];
  let infrastructureError: string | null = null;
  for (const b of boards) {
    const own = b.results?.scenarios ?? b.reported;
    const seen = new Set(own.map((s) => s.id));
    // (an interrupt is no fault of the bench's: what it kept from running was skipped, as in a one-board run)
    const lost = b.planned.filter((p) => !seen.has(p.id)).map((p): ScenarioResult => ({
      id: p.id, title: p.title, file: p.file, outcome: run.interrupted ? 'skipped' : 'error', durationMs: 0, repetitions: 0,
      failure: {
        kind: run.interrupted ? 'not-run' : 'infrastructure',
        message: run.interrupted ? `not run: the run was ${run.interrupted} before this scenario began`
          : `not run to its end: ${b.stopped ?? `board ${b.id}'s report does not list it`}`,
      },
      metrics: [], attempts: [], consoleLog: null,
    }));
    for (const s of [...own, ...lost]) {
      scenarios.push({ ...s, board: b.id, consoleLog: s.consoleLog ? `${b.dir}/${s.consoleLog}` : null });
    }
    const r = b.results?.run;
    for (const w of r?.warnings ?? []) if (!warnings.includes(w)) warnings.push(w);
    for (const n of r?.notes ?? []) notes.push(`${b.id}: ${n}`);
    if (b.planned.length === 0) notes.push(`${b.id}: no scenario to run (more boards than scenarios)`);
    const why = b.stopped ?? r?.cutShort ?? null;
    if (why) cut.push(`${b.id}: ${why}`);
    const error = b.stopped ?? r?.infrastructureError ?? null;
    if (error) infrastructureError ??= `board ${b.id} (${b.target}): ${error}`;
  }
  const at = (s: ScenarioResult) => order.get(s.id) ?? order.size;
  // (a stable sort: a board's hook failures stay where it reported them)
  scenarios.sort((x, y) => at(x) - at(y));
  const first = <T>(pick: (r: RunResults['run']) => T | null | undefined): T | null => {
    for (const b of boards) {
      const v = b.results ? pick(b.results.run) : null;
      if (v !== null && v !== undefined) return v;
    }
    return null;
  };
  const boardInfos: BoardInfo[] = boards.map((b) => ({
    id: b.id, target: b.target, ...(b.results?.run.port ? { port: b.results.run.port } : {}),
    deviceId: b.deviceId ?? 'unknown', firmware: b.results?.run.firmware ?? null, dir: b.dir,
    infrastructureError: b.stopped ?? b.results?.run.infrastructureError ?? null,
  }));
  return {
    schema: RESULTS_SCHEMA,
    run: {
      // (run.target joins the boards' targets for reading; a target may hold a space: the list is run.boards, targetsOf())
      id: run.id, hiltVersion: first((r) => r.hiltVersion) ?? 'unknown', target: boards.map((b) => b.target).join(' '),
      startedAt: run.started.toISOString(), endedAt: run.ended.toISOString(), durationMs: run.ended.getTime() - run.started.getTime(),
      cutShort: run.interrupted ?? (cut.length > 0 ? cut.join('; ') : null), infrastructureError, warnings, notes,
      firmware: first((r) => r.firmware), image: first((r) => r.image), security: first((r) => r.security),
      fingerprints: first((r) => r.fingerprints) ?? { trust: [], served: [] },
      repeat: run.repeat, boards: boardInfos,
    },
    scenarios,
    totals: totalsOf(scenarios),
  };
}

/** The brief this process was started with as a board of a parent's run, or null. */
export function boardBrief(): BoardBrief | null {
  const path = process.env[BOARD_ENV];
  if (path === undefined) return null;
  // Not for what this run starts in turn (a reset command, QEMU, the host agent).
  delete process.env[BOARD_ENV];
  return JSON.parse(readFileSync(path, 'utf8')) as BoardBrief;
}

/** Runs this process's board of a parent's run; resolves to its exit status. */
export async function runAsBoard(brief: BoardBrief, interrupts: Interrupts): Promise<number> {
  const report = (message: BoardMessage) => {
    // (a parent gone away is noticed below; a message it can no longer take is dropped)
    if (process.connected) process.send!(message, undefined, {}, () => {});
  };
  // The parent was killed outright: this board stops as if interrupted, and still writes its report.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  const outcome = await runScenarios({
    files: brief.files, filesChosen: brief.filesChosen, config: brief.config, bail: brief.bail, interrupts,
    ...(brief.grep ? { grep: brief.grep } : {}), board: { ...brief.board, report },
  });
  return outcome.exitCode;
}

/** The config a board runs with: its own target, and in firmware mode its own device id and endpoint port. */
function boardConfig(config: RunConfig, target: string, index: number, source: string): RunConfig {
  const own: RunConfig = { ...structuredClone(config), target, sources: { ...config.sources, target: `${source} (board b${index})` } };
  own.targets = [target];
  own.eachTarget = false;
  // Budgets relative to a baseline are judged once, on the run's combined results.
  own.budgets = config.budgets.filter((rule) => !rule.relative);
  own.firmware.deviceId = boardDeviceId(config.firmware.deviceId, index);
  // Each board's lab has its endpoint: the next port for each board (0 stays any free port).
  if (config.endpoint.port !== 0) {
    own.endpoint.port = config.endpoint.port + index - 1;
    if (own.endpoint.port > 65535) throw new UsageError(`endpoint.port ${config.endpoint.port}: board b${index} would listen on ${own.endpoint.port}, past 65535: give a lower endpoint.port`);
  }
  return own;
}

/** Every target resolved, refusing (exit 2) one given twice that cannot be opened twice, and a mix of modes. */
function checkTargets(config: RunConfig, targets: string[], source: string): void {
  const resolved = targets.map((url) => targetOf(config, url, source));
  const seen = new Set<string>();
  for (const t of resolved) {
    if (seen.has(t.url) && !FRESH_EACH_TIME.has(t.kind)) {
      throw new UsageError(`${source} ${quoted(t.url)} is given twice: a board can be opened by one run once; give each board once`);
    }
    seen.add(t.url);
  }
  const other = resolved.find((t) => t.mode !== resolved[0]!.mode);
  if (other) {
    throw new UsageError(`${source}: ${resolved[0]!.url} is in ${resolved[0]!.mode} mode and ${other.url} in ${other.mode} mode: ` +
      'the boards of one run run the same scenarios: give targets of one mode');
  }
}

interface Exit { code: number | null; signal: NodeJS.Signals | null; error: Error | null }

export async function runBoards(options: BoardsOptions): Promise<RunOutcome> {
  const { config, targets } = options;
  const started = new Date();
  const runId = newRunId(started);
  const reportRoot = resolve(config.reportDir);
  const runDir = join(reportRoot, runId);
  const interrupts = options.interrupts ?? new Interrupts();
  const children = new Set<ChildProcess>();
  try {
    return await boardsWithin(options, { started, runId, reportRoot, runDir, interrupts, children });
  } finally {
    // Nothing outlives the run: a board that still runs here (an error in this process) goes with its group.
    for (const child of children) killGroup(child);
    if (!options.interrupts) interrupts.dispose();
  }
}

function killGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function boardsWithin(options: BoardsOptions, place: {
  started: Date; runId: string; reportRoot: string; runDir: string; interrupts: Interrupts; children: Set<ChildProcess>;
}): Promise<RunOutcome> {
  const { config, targets } = options;
  const { started, runId, reportRoot, runDir, interrupts, children } = place;
  const source = config.sources.targets ?? config.sources.target ?? 'targets';
  checkTargets(config, targets, source);
  const configs = targets.map((target, i) => boardConfig(config, target, i + 1, source));
  await checkLabHosts(config);
  // Every board runs the same files: the plan is made once, here, and bad usage stops here (exit 2).
  const plan = await planScenarios(options, targetOf(config, targets[0]!, source));
  const parts = options.each ? targets.map(() => plan.map((p) => p.id)) : splitAcross(plan.map((p) => p.id), targets.length);
  const boards: BoardRun[] = targets.map((target, i) => ({
    id: `b${i + 1}`, index: i + 1, target, dir: `b${i + 1}`,
    planned: plan.filter((p) => parts[i]!.includes(p.id)), deviceId: null, results: null, reported: [], stopped: null,
  }));
  await prepareRunDir(runDir, reportRoot, boards.map((b) => b.dir));

  const progress = new Progress(boards.reduce((n, b) => n + b.planned.length, 0), options.progress);
  /** Each board's scenario ids already shown as ended. */
  const shown = new Map(boards.map((b) => [b.id, new Set<string>()]));
  const show = (b: BoardRun, s: ScenarioResult) => {
    const seen = shown.get(b.id)!;
    if (seen.has(s.id)) return;
    seen.add(s.id);
    progress.ended(b.id, s);
  };
  let interrupted: string | null = null;
  const stopListening = interrupts.listen((signal) => {
    interrupted = `interrupted (${signal})`;
    // Each board stops as a run does on Ctrl-C, with its report; one that takes too long is killed.
    for (const child of children) child.kill(signal);
    setTimeout(() => { for (const child of children) killGroup(child); }, BOARD_GRACE_MS).unref();
  });
  /** A usage error a board stopped with (exit 2), for this run to end with once its report is written. */
  let usage: string | null = null;

  const runOne = async (b: BoardRun): Promise<void> => {
    if (b.planned.length === 0 || interrupted) return;
    const brief: BoardBrief = {
      config: configs[b.index - 1]!, files: options.files, filesChosen: options.filesChosen ?? false,
      ...(options.grep ? { grep: options.grep } : {}), bail: options.bail ?? false,
      board: { id: b.id, index: b.index, dir: join(runDir, b.dir), ids: b.planned.map((p) => p.id) },
    };
    // The board's own output (mocha's lines, its messages) goes to its folder, not between the progress lines.
    const logPath = join(runDir, b.dir, 'hilt.log');
    const briefPath = join(runDir, b.dir, 'board.json');
    let child: ChildProcess;
    let logFd: number | null = null;
    try {
      writeFileSync(briefPath, JSON.stringify(brief), { mode: 0o600 });
      logFd = openSync(logPath, 'a', 0o644);
      // Its own process group (detached): a terminal's Ctrl-C reaches this process only, which
      // passes it on once, and the board's group can be killed whole (QEMU, a host agent).
      child = fork(options.entry, ['run'], {
        env: { ...process.env, [BOARD_ENV]: briefPath }, stdio: ['ignore', logFd, 'pipe', 'ipc'], detached: true,
      });
    } catch (err) {
      // fork throws some failures (E2BIG, EAGAIN) instead of emitting them: the board is lost, the run goes on.
      b.stopped = `board ${b.id} (${b.target}) could not be started (${printable(errnoOf(err))}): nothing of it ran`;
      progress.say(b.stopped);
      return;
    } finally {
      if (logFd !== null) closeSync(logFd);
    }
    children.add(child);
    const errors = createWriteStream(logPath, { flags: 'a' });
    /** The end of what the board wrote on stderr: its last line is why it stopped, when it says. */
    let stderrTail = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      errors.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4096);
    });
    child.on('message', (m: BoardMessage) => {
      if (m?.type === 'device' && typeof m.deviceId === 'string') b.deviceId = m.deviceId;
      if (m?.type === 'progress' && (typeof m.id === 'string' || m.id === null) && typeof m.doing === 'string') {
        progress.at(b.id, { id: m.id, doing: m.doing, elapsedMs: Number(m.elapsedMs) || 0, lasting: m.lasting === true });
      }
      if (m?.type === 'result' && m.result && typeof m.result.id === 'string') {
        b.reported.push(m.result);
        show(b, m.result);
      }
    });
    const exit = await new Promise<Exit>((resolveExit) => {
      // (kept listening: a later 'error', such as a message the gone child can no longer take, must not go unhandled)
      child.on('error', (error) => resolveExit({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolveExit({ code, signal, error: null }));
    });
    children.delete(child);
    progress.idle(b.id);
    // Its stderr read to the end (bounded: a grandchild holding the pipe open must not hold the run).
    if (child.stderr && !child.stderr.readableEnded) await within(5_000, new Promise((done) => child.stderr!.once('end', done)));
    await new Promise<void>((done) => errors.end(done));
    const lastError = stderrTail.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
    b.results = await readResults(join(runDir, b.dir, 'results.json'));
    const said = lastError.replace(/^hilt: /, '');
    if (!b.results && interrupted && exit.code === ExitCode.interrupted) {
      // Interrupted before it had a run of its own (hilt still loading): nothing of it began.
    } else if (!b.results) {
      const how = exit.error ? `could not be started (${printable(exit.error.message)})`
        : exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
      b.stopped = `board ${b.id} (${b.target}) ${how} before writing its report${said ? `: ${printable(said)}` : ''}`;
      // What it started (QEMU, a host agent) does not outlive it.
      if (child.pid !== undefined) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* none left */ }
      progress.say(b.stopped);
    } else if (exit.code === ExitCode.usage && !interrupted && said) usage ??= `board ${b.id} (${b.target}): ${said}`;
    for (const s of b.results?.scenarios ?? []) show(b, s);
  };
  await Promise.all(boards.map(runOne));

  const results = combineBoards(boards, { id: runId, started, ended: new Date(), repeat: config.repeat, interrupted, catalogue: plan.map((p) => p.id) });
  if (options.shard) results.run.shard = options.shard;
  judgeAgainstBaseline(results, config.budgets, options.baseline ?? null);
  for (const b of boards) for (const s of results.scenarios) if (s.board === b.id) show(b, s);
  progress.finish();
  await writeReports(results, runDir, reportRoot);
  stopListening();
  if (usage && !interrupts.signal) throw new UsageError(usage);
  const exitCode = interrupts.signal ? ExitCode.interrupted
    : results.run.infrastructureError || results.totals.error > 0 ? ExitCode.unreachable
    // A regression against the baseline fails the run, as on one board.
    : results.totals.failed > 0 || (results.comparison?.regressions ?? 0) > 0 ? ExitCode.failed : ExitCode.ok;
  return { exitCode, runDir, results };
}

/** A board's results.json, or null when it wrote none (or one that cannot be read: it stopped mid-write). */
async function readResults(path: string): Promise<RunResults | null> {
  try {
    const r = JSON.parse(await readFile(path, 'utf8')) as RunResults;
    return Array.isArray(r?.scenarios) && typeof r.run === 'object' ? r : null;
  } catch {
    return null;
  }
}
