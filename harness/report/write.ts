/**
 * Writes a run's reports into its dir and points `latest` at it. Each file is replaced whole
 * (a CI server collecting junit.xml while a run ends never reads half of one), and `latest` moves
 * only once the run's files are all there.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { UsageError, errnoOf } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { toJUnitXml } from './junit.ts';
import { RESULTS_SCHEMA, type RunResults } from './model.ts';
import { toSummaryMarkdown } from './summary.ts';

export const REPORT_FILES = { results: 'results.json', junit: 'junit.xml', summary: 'summary.md' } as const;
export const LATEST = 'latest';

export type ReportPaths = { [K in keyof typeof REPORT_FILES]: string };

/** results.json: the model itself, schema first so a reader can refuse a version it does not know. */
export function toResultsJson(results: RunResults): string {
  const { schema: _ignored, ...rest } = results;
  return `${JSON.stringify({ schema: RESULTS_SCHEMA, ...rest }, null, 2)}\n`;
}

export async function writeReports(results: RunResults, runDir: string, reportsRoot: string): Promise<ReportPaths> {
  const dir = resolve(runDir);
  const paths: ReportPaths = {
    results: join(dir, REPORT_FILES.results),
    junit: join(dir, REPORT_FILES.junit),
    summary: join(dir, REPORT_FILES.summary),
  };
  // The views first and the model last: a results.json present means the run's reports are complete.
  const files: Array<[string, string]> = [
    [paths.junit, toJUnitXml(results)],
    [paths.summary, toSummaryMarkdown(results)],
    [paths.results, toResultsJson(results)],
  ];
  for (const [path, data] of files) {
    try {
      await writeFileAtomic(path, data);
    } catch (err) {
      throw new UsageError(`cannot write report ${path} (${errnoOf(err)}): check that ${dir} can be created and written, or choose another reports dir`, { cause: err });
    }
  }
  await pointLatest(resolve(reportsRoot), dir);
  return paths;
}

/**
 * `reportsRoot/latest` -> the run dir, as a relative link so the reports tree can be moved or
 * archived whole. A new link is made beside the old one and renamed over it: there is no moment
 * without a `latest`, and two runs ending together leave one of them, never a broken link.
 */
async function pointLatest(reportsRoot: string, runDir: string): Promise<void> {
  const latest = join(reportsRoot, LATEST);
  const tmp = join(reportsRoot, `.${LATEST}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(reportsRoot, { recursive: true });
    await symlink(relative(dirname(latest), runDir) || '.', tmp);
    await rename(tmp, latest);
  } catch (err) {
    await rm(tmp, { force: true });
    const existing = await lstat(latest).catch(() => null);
    const fix = existing && !existing.isSymbolicLink()
      ? `${latest} exists and is not a link: move it away`
      : `check that ${reportsRoot} can be written`;
    throw new UsageError(`cannot point ${latest} at ${runDir} (${errnoOf(err)}): ${fix}; the run's reports are in ${runDir}`, { cause: err });
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
