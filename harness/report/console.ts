/**
 * The console excerpt of a scenario: a few consecutive lines of its console log around the ones
 * that mattered to the verdict, for junit.xml failures and report.html. Chosen when the reports
 * are written, from the log file, so a runner (one board or many) needs to do nothing for it.
 *
 * Which lines matter, most first: a panic, text the failure message quotes, an agent error or a
 * connect result carrying an error, E lines, esp-tls / Mbed TLS lines and W lines, hilt's own
 * notes. The excerpt is the window of at most MAX_LINES lines holding most of that weight
 * around the heaviest line (the last one when several weigh the same: the failure is usually
 * at the end), trimmed to CONTEXT lines either side of the first and last line that mattered.
 * docs/reports.md says the same for readers.
 */
import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { detectPanic, parseLogLine, stripColours } from '../device/log.ts';
import type { ConsoleExcerpt, RunResults, ScenarioResult } from './model.ts';

export const MAX_LINES = 30;
const CONTEXT = 3;
/** A failed scenario whose log shows nothing that matters still shows how the log ended. */
const TAIL_LINES = 10;
/** A line longer than this is cut in the excerpt (a connect result is ~600 characters). */
const MAX_LINE_CHARS = 1_000;
/** Only the end of a longer log is read: a flooding device must not fill the report writer's memory. */
export const MAX_READ_BYTES = 8 * 1024 * 1024;
/**
 * All excerpts of a run are chosen within this time (counting the lines of huge logs is the slow
 * part); scenarios past it get none, and the reports are written within their own bound.
 */
export const EXCERPTS_MS = 3_000;

interface Mark { weight: number; reason: string }

/** `[   0.021] text`: the host timestamp the console log puts before every line. */
const STAMP = /^\[\s*\d+\.\d{3}\] /;

/**
 * Why a line matters, or null. `named` are the strings the failure message quotes. Weights order
 * the kinds; their sum over a window picks the window.
 */
export function markOf(line: string, named: readonly string[]): Mark | null {
  const text = stripColours(line.replace(STAMP, ''));
  if (detectPanic(text) || /^Backtrace: ?0x/.test(text)) return { weight: 8, reason: 'a panic' };
  if (named.some((n) => text.includes(n))) return { weight: 6, reason: 'what the failure names' };
  if (/^@hil \d+ err\b/.test(text)) return { weight: 4, reason: 'an agent error' };
  if (/^@hil \d+ ok \{.*"(esp_err_name|stack_err_name)"/.test(text)) return { weight: 4, reason: "the device's connect result" };
  const log = parseLogLine(text);
  if (log?.level === 'E') return { weight: 3, reason: 'E lines' };
  if (log && /esp-tls|mbedtls|ssl/i.test(log.tag)) return { weight: 2, reason: 'esp-tls lines' };
  if (log?.level === 'W') return { weight: 2, reason: 'W lines' };
  if (/^> @hil \d+ (mqtt|tls)\.connect\b/.test(text)) return { weight: 1, reason: 'the connect command' };
  if (/^\[hilt\] /.test(text)) return { weight: 1, reason: "hilt's notes" };
  return null;
}

/** "quoted", 'quoted' and /regex/ parts of a failure message of 4 characters or more. */
export function namedIn(message: string | undefined): string[] {
  if (!message) return [];
  const found = new Set<string>();
  for (const m of message.matchAll(/"([^"\n]{4,200})"|'([^'\n]{4,200})'|\/([^/\n]{4,200})\//g)) found.add((m[1] ?? m[2] ?? m[3])!);
  return [...found];
}

/**
 * The excerpt of one log's lines. `firstLineNo` is the 1-based number of `lines[0]` in the file
 * (more than 1 when only the log's end was read). Null when nothing mattered and the scenario
 * did not fail.
 */
export function chooseExcerpt(lines: readonly string[], firstLineNo: number, scenario: Pick<ScenarioResult, 'outcome' | 'failure'>): ConsoleExcerpt | null {
  const named = namedIn(scenario.failure?.message);
  const marks = lines.map((l) => markOf(l, named));
  const weight = (i: number) => marks[i]?.weight ?? 0;
  let anchor = -1;
  marks.forEach((m, i) => {
    if (m && (anchor < 0 || m.weight >= weight(anchor))) anchor = i;
  });
  if (anchor < 0) {
    if (scenario.outcome === 'passed' || scenario.outcome === 'skipped' || lines.length === 0) return null;
    const from = Math.max(0, lines.length - TAIL_LINES);
    return excerpt(lines, from, lines.length, firstLineNo, 'the last lines of the log (nothing in it stood out)');
  }
  // The window of MAX_LINES holding the anchor with the most weight; on a tie, the one that
  // centres the anchor best.
  let best = { from: anchor, score: -1, off: Infinity };
  for (let from = Math.max(0, anchor - MAX_LINES + 1); from <= anchor; from++) {
    let score = 0;
    for (let i = from; i < Math.min(lines.length, from + MAX_LINES); i++) score += weight(i);
    const off = Math.abs(from + MAX_LINES / 2 - anchor);
    if (score > best.score || (score === best.score && off < best.off)) best = { from, score, off };
  }
  const end = Math.min(lines.length, best.from + MAX_LINES);
  let first = best.from;
  while (first < anchor && !marks[first]) first++;
  let last = end - 1;
  while (last > anchor && !marks[last]) last--;
  const from = Math.max(best.from, first - CONTEXT);
  const to = Math.min(end, last + 1 + CONTEXT);
  const reasons = [...new Map(marks.slice(from, to).filter((m): m is Mark => !!m)
    .sort((a, b) => b.weight - a.weight).map((m) => [m.reason, m])).keys()];
  return excerpt(lines, from, to, firstLineNo, reasons.join(', '));
}

function excerpt(lines: readonly string[], from: number, to: number, firstLineNo: number, reason: string): ConsoleExcerpt {
  return { firstLine: firstLineNo + from, lines: lines.slice(from, to).map(shown), reason };
}

/**
 * A line as the excerpt shows it: colours gone, a provisioning command's data elided (it carries
 * certificates as base64, noise in an excerpt; the Device already leaves a key's out of the log),
 * very long lines cut.
 */
export function shown(line: string): string {
  const text = stripColours(line).replace(/(store\.put\b.*?\bdata=)([A-Za-z0-9+/=]{16,})/, (_m, head: string, data: string) => `${head}(${data.length} characters of base64)`);
  return text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)}… (${text.length - MAX_LINE_CHARS} more characters)` : text;
}

/**
 * The log's lines, or its last MAX_READ_BYTES of them, with the number of the first one. Rejects
 * when counting the lines before those runs past `deadline` (a performance.now() time).
 */
export async function readLogLines(path: string, deadline = Infinity): Promise<{ lines: string[]; firstLineNo: number }> {
  const size = (await stat(path)).size;
  const skip = Math.max(0, size - MAX_READ_BYTES);
  const file = await open(path, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(size - skip);
    const { bytesRead } = await file.read(buf, 0, buf.length, skip);
    text = buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await file.close();
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (skip === 0) return { lines, firstLineNo: 1 };
  // The first line read is most likely a part of one: drop it, and count the lines skipped.
  lines.shift();
  return { lines, firstLineNo: (await countNewlines(path, skip, deadline)) + 2 };
}

async function countNewlines(path: string, end: number, deadline: number): Promise<number> {
  let n = 0;
  const stream = createReadStream(path, { start: 0, end: end - 1 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (performance.now() > deadline) throw new Error(`counting the lines of ${path} took too long`);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
    }
  } finally {
    stream.destroy();
  }
  return n;
}

/**
 * The results with each scenario's console excerpt read from its log under `runDir`, where the
 * scenario has a log and no excerpt yet (a merged run keeps those it came with). A log that is
 * missing, unreadable or outside the run's folder (by its path or where a link leads: a results
 * file names its logs, and a report must not show a file the run did not write), or reached
 * after `timeMs`, gives no excerpt: it is not worth failing the reports for.
 */
export async function withConsoleExcerpts(results: RunResults, runDir: string, timeMs = EXCERPTS_MS): Promise<RunResults> {
  const deadline = performance.now() + timeMs;
  const dir = await realpath(runDir).catch(() => resolve(runDir));
  const scenarios: ScenarioResult[] = [];
  for (const s of results.scenarios) {
    const wanted = s.console === undefined && s.consoleLog && performance.now() < deadline;
    const path = wanted ? await realpath(resolve(dir, s.consoleLog!)).catch(() => null) : null;
    const read = path && within(dir, path) ? await readLogLines(path, deadline).catch(() => null) : null;
    scenarios.push(read ? { ...s, console: chooseExcerpt(read.lines, read.firstLineNo, s) } : s);
  }
  return { ...results, scenarios };
}

function within(dir: string, path: string): boolean {
  const inside = relative(dir, path);
  return inside !== '' && !inside.startsWith('..') && !isAbsolute(inside);
}
