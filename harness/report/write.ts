/**
 * A run's report folder: made and tried before the run starts, then the reports written into it.
 * `latest` points at a run from its start, so it never names an older run while this one goes on
 * or after this one was cut short; results.json is written last, so its presence means the run's
 * reports are complete. Each file is replaced whole (a CI server collecting junit.xml while a run
 * ends never reads half of one).
 */
import { randomBytes } from 'node:crypto';
import { lstat, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { ExitCode, HiltError, UsageError, errnoOf } from '../errors.ts';
import { makeDir, writeFileAtomic } from '../files.ts';
import { within } from '../time.ts';
import { withConsoleExcerpts } from './console.ts';
import { toReportHtml } from './html.ts';
import { toJUnitXml } from './junit.ts';
import { RESULTS_SCHEMA, type RunResults } from './model.ts';
import { toSummaryMarkdown } from './summary.ts';

export const REPORT_FILES = { results: 'results.json', junit: 'junit.xml', summary: 'summary.md', html: 'report.html' } as const;
export const LATEST = 'latest';

export type ReportPaths = { [K in keyof typeof REPORT_FILES]: string };

/** How long making, probing or writing the report folder may take: a hung filesystem is an error. */
export const REPORT_IO_MS = 10_000;

/** A report that could not be written while the run went on (a full disk): exit 3. */
export class ReportWriteError extends HiltError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.unreachable, options);
    this.name = 'ReportWriteError';
  }
}

/**
 * Before anything starts: makes the run's folder (and `subdirs`), writes and removes a probe file
 * in it, and points `latest` at it. A folder the user gave that cannot serve is a usage error.
 * `reportsRoot` null: no `latest` (a board's folder inside a multi-board run).
 */
export async function prepareRunDir(runDir: string, reportsRoot: string | null, subdirs: string[] = []): Promise<void> {
  const dir = resolve(runDir);
  const probe = join(dir, `.probe.${randomBytes(4).toString('hex')}.tmp`);
  const work = async () => {
    let step = `create ${dir}`;
    try {
      await makeDir(dir);
      for (const sub of subdirs) await makeDir(join(dir, sub));
      step = `write in ${dir}`;
      await writeFileAtomic(probe, 'hilt checks that reports can be written here\n');
      await rm(probe, { force: true });
      if (reportsRoot !== null) await pointLatest(resolve(reportsRoot), dir, (message, cause) => new UsageError(message, { cause }));
    } catch (err) {
      // The run never started: leave no empty run folder (the id is new, the folder ours).
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot ${step} (${errnoOf(err)}): the report folder must be a folder hilt can create and write, with free space; choose another with --report-dir`, { cause: err });
    }
  };
  if (await within(REPORT_IO_MS, settledLater(work())) === 'timeout') {
    throw new UsageError(`report folder ${dir} did not answer within ${REPORT_IO_MS / 1000} s: choose a folder on a local, writable file system with --report-dir`);
  }
}

/** `work`, which may still fail after within() gave up on it: that late failure is not unhandled. */
function settledLater<T>(work: Promise<T>): Promise<T> {
  work.catch(() => {});
  return work;
}

/** results.json: the model itself, schema first so a reader can refuse a version it does not know. */
export function toResultsJson(results: RunResults): string {
  const { schema: _ignored, ...rest } = results;
  return `${JSON.stringify({ schema: RESULTS_SCHEMA, ...rest }, null, 2)}\n`;
}

/**
 * Writes every report of `results` into `runDir`. Each scenario's console excerpt is read from
 * its console log there first (console.ts), so results.json and the views carry the same one.
 * `reportsRoot` null: no `latest` link (a board's report inside a multi-board run's folder).
 */
export async function writeReports(results: RunResults, runDir: string, reportsRoot: string | null): Promise<ReportPaths> {
  const dir = resolve(runDir);
  const paths: ReportPaths = {
    results: join(dir, REPORT_FILES.results),
    junit: join(dir, REPORT_FILES.junit),
    summary: join(dir, REPORT_FILES.summary),
    html: join(dir, REPORT_FILES.html),
  };
  const work = async () => {
    const full = await withConsoleExcerpts(results, dir);
    // The views first and the model last: a results.json present means the run's reports are complete.
    const files: Array<[string, string]> = [
      [paths.junit, toJUnitXml(full)],
      [paths.summary, toSummaryMarkdown(full)],
      [paths.html, toReportHtml(full)],
      [paths.results, toResultsJson(full)],
    ];
    for (const [path, data] of files) {
      try {
        await writeFileAtomic(path, data);
      } catch (err) {
        throw new ReportWriteError(`cannot write report ${path} (${errnoOf(err)}): check that ${dir} can be created and written and has free space, or choose another reports dir`, { cause: err });
      }
    }
    if (reportsRoot !== null) await pointLatest(resolve(reportsRoot), dir, (message, cause) => new ReportWriteError(`${message}; the run's reports are in ${dir}`, { cause }));
  };
  if (await within(REPORT_IO_MS, settledLater(work())) === 'timeout') {
    throw new ReportWriteError(`writing the reports into ${dir} did not finish within ${REPORT_IO_MS / 1000} s: check that file system`);
  }
  return paths;
}

/**
 * `reportsRoot/latest` -> the run dir, as a relative link so the reports tree can be moved or
 * archived whole. A new link is made beside the old one and renamed over it: there is no moment
 * without a `latest`, and two runs ending together leave one of them, never a broken link.
 */
export async function pointLatest(reportsRoot: string, runDir: string, asError: (message: string, cause: unknown) => HiltError): Promise<void> {
  const latest = join(reportsRoot, LATEST);
  const tmp = join(reportsRoot, `.${LATEST}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await makeDir(reportsRoot);
    await symlink(relative(dirname(latest), runDir) || '.', tmp);
    await rename(tmp, latest);
  } catch (err) {
    await rm(tmp, { force: true });
    const existing = await lstat(latest).catch(() => null);
    const fix = existing && !existing.isSymbolicLink()
      ? `${latest} exists and is not a link: move it away`
      : `check that ${reportsRoot} can be written`;
    throw asError(`cannot point ${latest} at ${runDir} (${errnoOf(err)}): ${fix}`, err);
  }
}

/**
 * A run id: UTC time to the second (so ids sort by start), filesystem-safe on every OS (no `:`),
 * and a random suffix so two runs started in the same second on one machine do not collide.
 */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/:/g, '-');
  return `${stamp}Z-${randomBytes(2).toString('hex')}`;
}
