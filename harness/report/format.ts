/** Small formatting rules the report views share, so junit.xml and summary.md never disagree. */
import { basename } from 'node:path';
import type { Metric, RunResults, ScenarioResult } from './model.ts';

/** The metrics the views single out by name. */
export const TLS_METRIC = 'tls_ms';
export const HEAP_PEAK_METRIC = 'heap_peak_used';
/** Only from a device that reports its connect task's stack: summary.md gives it a column then. */
export const STACK_PEAK_METRIC = 'stack_peak_used';

export function metricOf(scenario: ScenarioResult, name: string): Metric | undefined {
  return scenario.metrics.find((m) => m.name === name);
}

/** Milliseconds as seconds with 3 decimals, as JUnit readers expect; garbage becomes 0. */
export function seconds(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? (ms / 1000).toFixed(3) : '0.000';
}

/** A measured number without float noise (1234.5, not 1234.4999999); '' when there is none. */
export function num(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 1000) / 1000) : '';
}

/** "scenarios/02-expired-server-cert.spec.ts" -> "02-expired-server-cert". */
export function fileStem(file: string): string {
  return basename(file).replace(/(\.(spec|test))?\.[cm]?[jt]sx?$/, '');
}

/** "2026-11-23" from an ISO timestamp; the input as given when it is not one. */
export function dateOf(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 10);
}

/** "15 passed, 1 failed, 0 errors, 0 skipped". */
export function verdictOf(totals: { passed: number; failed: number; error: number; skipped: number }): string {
  const errors = `${totals.error} ${totals.error === 1 ? 'error' : 'errors'}`;
  return `${totals.passed} passed, ${totals.failed} failed, ${errors}, ${totals.skipped} skipped`;
}

/**
 * Why a scenario was skipped: the reason the run recorded (not run: --bail ...), or the one a
 * scenario gave with `ctx.skip(reason)` (kept as the note "skipped: reason"); null if neither.
 */
export function skipReason(s: ScenarioResult): string | null {
  if (s.failure?.message) return s.failure.message;
  const note = (s.notes ?? []).find((n) => n.startsWith('skipped: '));
  return note ? note.slice('skipped: '.length) : null;
}

/** A console excerpt as plain text: where it is from, then its lines. '' when there is none. */
export function excerptText(s: ScenarioResult): string {
  const c = s.console;
  if (!c?.lines.length) return '';
  const last = c.firstLine + c.lines.length - 1;
  return [`console, lines ${c.firstLine}-${last}${s.consoleLog ? ` of ${s.consoleLog}` : ''} (${c.reason}):`, ...c.lines].join('\n');
}

/** "850 ms", "14.1 s", "3 min 12 s". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** Repetitions per scenario: as asked for (`run.repeat`), else the most any scenario ran. */
export function repetitionsOf(results: RunResults): number {
  return results.run.repeat ?? Math.max(1, ...results.scenarios.map((s) => s.repetitions));
}
