/**
 * `"reports": {"keep": N}`: after a run, the oldest run folders of the reports dir beyond the
 * newest N are removed, so reports/ stops growing. Never removed: the run that just ended, the
 * one `latest` points at, a baseline the run compared with, anything that is not a run folder
 * (only names shaped like a run id count), and a run folder without results.json (a run still
 * going in another process, or one that was killed: its owner decides).
 */
import { lstat, readdir, realpath, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errnoOf } from '../errors.ts';
import { LATEST, REPORT_FILES, REPORT_IO_MS } from '../report/write.ts';
import { within } from '../time.ts';

/** What newRunId makes: "2026-12-01T05-23-08Z-193a". Such names sort by start time. */
const RUN_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[0-9a-f]{4}$/;

export interface Pruned {
  removed: string[];
  /** Folders that should have gone but could not, with the reason: warnings, not failures. */
  failed: string[];
}

async function realOrNull(path: string): Promise<string | null> {
  return realpath(path).catch(() => null);
}

export async function pruneReports(reportRoot: string, keep: number, protect: string[] = []): Promise<Pruned> {
  const root = resolve(reportRoot);
  const result: Pruned = { removed: [], failed: [] };
  const work = async () => {
    const entries = await readdir(root, { withFileTypes: true });
    // (a link named like a run is not a run folder of ours: lstat's isDirectory is false for it)
    const runs = entries.filter((e) => e.isDirectory() && RUN_ID.test(e.name)).map((e) => e.name).sort();
    const kept = new Set((await Promise.all([join(root, LATEST), ...protect].map(realOrNull))).filter((p): p is string => p !== null));
    for (const name of runs.slice(0, Math.max(0, runs.length - keep))) {
      const dir = join(root, name);
      if (kept.has(await realOrNull(dir) ?? dir)) continue;
      if (!(await lstat(join(dir, REPORT_FILES.results)).then((s) => s.isFile(), () => false))) continue;
      try {
        await rm(dir, { recursive: true });
        result.removed.push(dir);
      } catch (err) {
        result.failed.push(`${dir} (${errnoOf(err)})`);
      }
    }
  };
  const done = await within(REPORT_IO_MS, work().catch((err: unknown) => {
    result.failed.push(`${root} (${errnoOf(err)})`);
  }));
  if (done === 'timeout') result.failed.push(`${root} (no answer within ${REPORT_IO_MS / 1000} s)`);
  return result;
}
