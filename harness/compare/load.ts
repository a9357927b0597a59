/**
 * Reading a run to compare: a results.json, a report folder holding one (reports/<run-id>,
 * reports/latest), or a reports folder (its latest run). Whatever is wrong with it is one line
 * naming the path and the fix (exit 2). Only what a comparison reads is checked; fields a later
 * hilt adds are kept.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { UsageError, errnoOf, printable } from '../errors.ts';
import { RESULTS_SCHEMA, type RunResults } from '../report/model.ts';
import { LATEST, REPORT_FILES } from '../report/write.ts';
import { within } from '../time.ts';
import type { Baseline } from './budgets.ts';

/** A results.json of a very long run is a few MiB; a file far larger is not one. */
export const MAX_RESULTS_BYTES = 256 * 1024 * 1024;
const READ_MS = 10_000;

const OUTCOME = z.enum(['passed', 'failed', 'error', 'skipped']);
const METRIC = z.looseObject({ name: z.string(), unit: z.enum(['ms', 'B']), values: z.array(z.number()), median: z.number() });
const SCENARIO = z.looseObject({ id: z.string(), title: z.string(), outcome: OUTCOME, metrics: z.array(METRIC), board: z.string().optional() });
const RESULTS = z.looseObject({
  schema: z.number(),
  run: z.looseObject({ id: z.string(), startedAt: z.string() }),
  scenarios: z.array(SCENARIO),
});

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** `path` (a file, a run's folder, or a reports folder: its latest run) read and checked; `path` is kept as given. */
export async function loadResults(path: string): Promise<Baseline> {
  const shown = printable(path);
  const info = await stat(path).catch((err: unknown) => {
    const missing = errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR';
    throw new UsageError(missing
      ? `${shown}: no such file or folder: give a run's results.json or its report folder (reports/<run-id>, reports/latest)`
      : `${shown}: cannot be read (${errnoOf(err)}): check its permissions`);
  });
  // A reports folder (--report-dir) stands for its latest run, as in hilt merge.
  const reportsRoot = info.isDirectory() && !(await exists(join(path, REPORT_FILES.results))) && await exists(join(path, LATEST, REPORT_FILES.results));
  const file = info.isDirectory() ? join(path, ...(reportsRoot ? [LATEST] : []), REPORT_FILES.results) : path;
  const where = printable(file);
  const fileInfo = info.isDirectory()
    ? await stat(file).catch((err: unknown) => {
      throw new UsageError(errnoOf(err) === 'ENOENT'
        ? `${shown}: no results.json in this folder: give the report folder of a run that finished (a run cut off before its end writes none)`
        : `${where}: cannot be read (${errnoOf(err)}): check its permissions`);
    })
    : info;
  // (a FIFO or a device would block the read, or never end)
  if (!fileInfo.isFile()) throw new UsageError(`${where}: not a regular file: give a run's results.json or its report folder`);
  if (fileInfo.size > MAX_RESULTS_BYTES) throw new UsageError(`${where}: ${fileInfo.size} bytes is no results.json (over ${MAX_RESULTS_BYTES}): give a run's results.json`);
  const read = readFile(file, 'utf8');
  read.catch(() => {});
  const text = await within(READ_MS, read).catch((err: unknown) => {
    throw new UsageError(`${where}: cannot be read (${errnoOf(err)}): check its permissions`);
  });
  if (text === 'timeout') throw new UsageError(`${where}: not read within ${READ_MS / 1000} s: copy it to a local disk`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${where}: not valid JSON (${printable((err as Error).message)}): give a results.json that hilt wrote, whole`);
  }
  const schema = (raw as { schema?: unknown } | null)?.schema;
  if (typeof schema === 'number' && schema !== RESULTS_SCHEMA) {
    throw new UsageError(`${where}: results schema ${schema}, this hilt reads schema ${RESULTS_SCHEMA}: read it with the hilt version that wrote it`);
  }
  const checked = RESULTS.safeParse(raw);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)';
    throw new UsageError(`${where}: not a hilt results.json (${printable(field)}: ${printable(issue.message)}): give the results.json of a hilt run`);
  }
  const folder = await realpath(dirname(file)).catch(() => dirname(file));
  return { path, results: checked.data as unknown as RunResults, folder };
}
