/**
 * Progress of a multi-board run: a line per scenario as it ends (board, id, outcome, duration,
 * how many of how many). On a terminal the passes update one status line in place and only what
 * went wrong stays on screen; anywhere else (CI logs, a pipe, a file) every line is plain text,
 * without a single escape code, so a log reads the same as it was written.
 */
import { printable } from '../errors.ts';
import type { Outcome, ScenarioResult } from '../report/model.ts';

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** "840 ms", "12.3 s", "2 min 5 s". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0 ms';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Erases the terminal's current line (carriage return, then clear to its end). */
const CLEAR_LINE = '\r\x1b[K';

/** What stays on a terminal: a scenario that did not pass is worth its own line. */
const LASTING: ReadonlySet<Outcome> = new Set(['failed', 'error']);

export class Progress {
  private done = 0;
  /** A status line is on screen (terminal only): cleared before anything else is written. */
  private status = false;

  constructor(private total: number, private readonly out: ProgressOutput = process.stdout) {}

  /** One scenario ended on `board`. */
  ended(board: string, result: Pick<ScenarioResult, 'id' | 'outcome' | 'durationMs' | 'failure'>): void {
    this.done += 1;
    // (a failed hook is a result no plan counted)
    this.total = Math.max(this.total, this.done);
    const width = String(this.total).length;
    const count = `[${String(this.done).padStart(width)}/${this.total}]`;
    // (a message from a device's output may hold anything: never a control character on the terminal)
    const why = result.failure && result.outcome !== 'passed' ? `: ${printable(result.failure.message)}` : '';
    const line = `${count} ${board} ${result.outcome} ${printable(result.id)} (${duration(result.durationMs)})${why}`;
    if (!this.out.isTTY) {
      this.out.write(`${line}\n`);
      return;
    }
    if (LASTING.has(result.outcome)) {
      this.out.write(`${this.status ? CLEAR_LINE : ''}${line}\n`);
      this.status = false;
      return;
    }
    // Cut to the terminal's width: a wrapped status line could not be cleared in place.
    // (a terminal that does not say its width, as under `script`, reports 0 columns: taken as 80)
    const columns = Math.max(20, (this.out.columns || 80) - 1);
    this.out.write(`${CLEAR_LINE}${line.length > columns ? `${line.slice(0, columns - 1)}…` : line}`);
    this.status = true;
  }

  /** A line of its own (a board that stopped), below any status line. */
  say(text: string): void {
    this.out.write(`${this.status && this.out.isTTY ? CLEAR_LINE : ''}${printable(text)}\n`);
    this.status = false;
  }

  /** The run is over: the last status line stays, ended with a line break. */
  finish(): void {
    if (this.status && this.out.isTTY) this.out.write('\n');
    this.status = false;
  }
}
