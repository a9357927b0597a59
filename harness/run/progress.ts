/**
 * Progress of a run. Several boards: a line per scenario as it ends (board, id, outcome,
 * duration, how many of how many), and what each board's running scenario is at, as the board
 * tells it (`BoardScenarioProgress` in the board's process, `Progress.at` in the run's). One
 * board: mocha's own line per scenario, and in between what the running scenario is at (its
 * repetition, a firmware scenario's attempts, how long so far). On a terminal that goes on one
 * status line updated in place; anywhere else (CI logs, a pipe, a file) only plain lines, without
 * a single escape code, so a log reads the same as it was written.
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

/** `[ 3/18]`: how far a run is, padded so the lines keep their columns. */
function counter(n: number, total: number): string {
  const width = String(total).length;
  return `[${String(n).padStart(width)}/${total}]`;
}

/**
 * The one line at the bottom of a terminal that is rewritten in place, and the lines that stay.
 * Off a terminal there is no status line: `show` writes nothing and `say` a plain line.
 */
export class StatusLine {
  /** A status line is on screen (terminal only): cleared before anything else is written. */
  private shown = false;

  constructor(readonly out: ProgressOutput = process.stdout) {}

  get isTTY(): boolean {
    return this.out.isTTY === true;
  }

  /**
   * How long a status line may be: a wrapped one could not be cleared in place. (A terminal that
   * does not say its width, as under `script`, reports 0 columns: taken as 80.)
   */
  get width(): number {
    return Math.max(20, (this.out.columns || 80) - 1);
  }

  /** Replaces the status line (terminal only), cut to the terminal's width. */
  show(text: string): void {
    if (!this.isTTY) return;
    const columns = this.width;
    // (text from a device's output or a title may hold anything: never a control character on the terminal)
    const line = printable(text);
    this.out.write(`${CLEAR_LINE}${line.length > columns ? `${line.slice(0, columns - 1)}…` : line}`);
    this.shown = true;
  }

  /** A line of its own, below where the status line was. */
  say(text: string): void {
    this.out.write(`${this.shown && this.isTTY ? CLEAR_LINE : ''}${printable(text)}\n`);
    this.shown = false;
  }

  /** Takes the status line off the screen (before someone else writes). */
  clear(): void {
    if (this.shown && this.isTTY) this.out.write(CLEAR_LINE);
    this.shown = false;
  }

  /** The last status line stays, ended with a line break. */
  keep(): void {
    if (this.shown && this.isTTY) this.out.write('\n');
    this.shown = false;
  }
}

/**
 * What a board's running scenario is at, as the board tells its parent over IPC: `id` null when
 * none runs; `doing` "repetition 2/5" or "attempt 3/6" (empty as it begins); `lasting`: the event
 * makes the scenario long, so it is worth a plain line off a terminal.
 */
export interface ScenarioAt {
  id: string | null;
  doing: string;
  elapsedMs: number;
  lasting: boolean;
}

/** Joins what several boards are at on one status line. */
const BETWEEN_BOARDS = ' · ';

export class Progress {
  private done = 0;
  private readonly line: StatusLine;
  /** Each board's running scenario and what it is at, in the order the boards first spoke. */
  private readonly running = new Map<string, { id: string; doing: string }>();
  /** The last line drawn for a scenario that ended: the status line when no board runs one. */
  private lastEnded: string | null = null;

  constructor(private total: number, out: ProgressOutput = process.stdout) {
    this.line = new StatusLine(out);
  }

  /** One scenario ended on `board`. */
  ended(board: string, result: Pick<ScenarioResult, 'id' | 'outcome' | 'durationMs' | 'failure'>): void {
    this.done += 1;
    // (a failed hook is a result no plan counted)
    this.total = Math.max(this.total, this.done);
    if (this.running.get(board)?.id === result.id) this.running.delete(board);
    const why = result.failure && result.outcome !== 'passed' ? `: ${result.failure.message}` : '';
    const line = `${counter(this.done, this.total)} ${board} ${result.outcome} ${result.id} (${duration(result.durationMs)})${why}`;
    // Off a terminal every line is plain; on one, only what went wrong stays on screen.
    if (!this.line.isTTY || LASTING.has(result.outcome)) {
      this.line.say(line);
      this.lastEnded = null;
    } else this.lastEnded = line;
    this.draw();
  }

  /**
   * What `board`'s running scenario is at (its message). On a terminal it joins the status line;
   * off one, an event that makes the scenario long (a repetition after the first, an attempt of
   * a series) is a plain line with the board's id in front.
   */
  at(board: string, at: ScenarioAt): void {
    if (at.id === null) this.running.delete(board);
    else this.running.set(board, { id: at.id, doing: at.doing });
    if (this.line.isTTY) this.draw();
    else if (at.lasting && at.id !== null) this.line.say(`${board} ${at.id}: ${at.doing ? `${at.doing}, ` : ''}${duration(at.elapsedMs)}`);
  }

  /** `board` runs nothing any more (it exited). */
  idle(board: string): void {
    if (this.running.delete(board)) this.draw();
  }

  /** A line of its own (a board that stopped), below any status line. */
  say(text: string): void {
    this.line.say(text);
    this.draw();
  }

  /**
   * The status line (terminal only): `[3/18] b1 16-handshake-stall/x: repetition 2/5 · b2 04-y: attempt 3/6`
   * while boards run scenarios, each id cut (in its middle) to share the width; else the last
   * scenario that ended.
   */
  private draw(): void {
    if (!this.line.isTTY) return;
    if (this.running.size === 0) {
      if (this.lastEnded !== null) this.line.show(this.lastEnded);
      return;
    }
    const head = `${counter(this.done, this.total)} `;
    const boards = [...this.running].map(([board, { id, doing }]) => ({ before: `${board} `, id: printable(id), after: doing ? `: ${doing}` : '' }));
    // What the ids leave over is theirs, shared alike: what a board is at is never cut.
    const fixed = head.length + BETWEEN_BOARDS.length * (boards.length - 1) + boards.reduce((n, b) => n + b.before.length + b.after.length, 0);
    const room = Math.floor((this.line.width - fixed) / boards.length);
    this.line.show(head + boards.map((b) => `${b.before}${cutMiddle(b.id, room)}${b.after}`).join(BETWEEN_BOARDS));
  }

  /** The run is over: the last status line stays, ended with a line break. */
  finish(): void {
    if (this.running.size > 0) {
      // (a board that never said its scenario ended: shown as running after the run, it would mislead)
      this.running.clear();
      if (this.lastEnded !== null) this.line.show(this.lastEnded);
      else this.line.clear();
    }
    this.line.keep();
  }
}

/** `text` within `room` characters: cut in its middle, where an id differs least from its neighbours. */
function cutMiddle(text: string, room: number): string {
  if (text.length <= room) return text;
  const keep = Math.max(0, room - 1);
  return `${text.slice(0, Math.ceil(keep / 2))}…${text.slice(text.length - Math.floor(keep / 2))}`;
}

/** What the runner tells of its running scenario: a status line's (ScenarioProgress) or a board's parent's (BoardScenarioProgress). */
export interface ScenarioEvents {
  began(id: string): void;
  repetition(of: number): void;
  attempts(seen: number, wanted: number, waiting: boolean, changed: boolean): void;
  ended(): void;
  finish(): void;
}

function repetitionText(n: number, of: number): string {
  return `repetition ${n}/${of}`;
}

function attemptText(seen: number, wanted: number, waiting: boolean): string {
  return `attempt ${seen}${wanted > 1 ? `/${wanted}` : ''}${waiting ? ', waiting for the next' : ''}`;
}

/**
 * A board of a multi-board run shows no progress of its own (its output goes to its log): it
 * tells its parent what its running scenario is at, and the parent shows it beside the others'.
 */
export class BoardScenarioProgress implements ScenarioEvents {
  private id: string | null = null;
  private started = 0;
  private repetitions = 0;

  constructor(private readonly tell: (at: ScenarioAt) => void, private readonly now: () => number = () => performance.now()) {}

  began(id: string): void {
    this.id = id;
    this.started = this.now();
    this.repetitions = 0;
    this.send('', false);
  }

  repetition(of: number): void {
    this.repetitions += 1;
    if (of > 1) this.send(repetitionText(this.repetitions, of), this.repetitions > 1);
  }

  attempts(seen: number, wanted: number, waiting: boolean, changed: boolean): void {
    this.send(attemptText(seen, wanted, waiting), changed && wanted > 1);
  }

  ended(): void {
    if (this.id === null) return;
    this.id = null;
    this.tell({ id: null, doing: '', elapsedMs: 0, lasting: false });
  }

  finish(): void {
    this.ended();
  }

  private send(doing: string, lasting: boolean): void {
    if (this.id !== null) this.tell({ id: this.id, doing, elapsedMs: this.now() - this.started, lasting });
  }
}

/** How often a terminal's status line is redrawn while a scenario runs (its time goes on). */
const TICK_MS = 1000;

/**
 * What a one-board run's scenario is at, between mocha's lines: `[3/18] id: repetition 2/5, 4.1 s`.
 * On a terminal that is the status line, redrawn each second; anything else written to the
 * terminal (mocha's lines, a warning on stderr) takes it off the screen first. Off a terminal
 * only what makes a scenario long gets a plain line: a repetition after the first, and each
 * attempt of a firmware scenario that watches several (a backoff series).
 */
export class ScenarioProgress implements ScenarioEvents {
  private readonly line: StatusLine;
  /** The running scenario's number (1-based), id and start; no id between scenarios. */
  private index = 0;
  private id: string | null = null;
  private started = 0;
  private repetitions = 0;
  /** What the running scenario is at, besides its time ("repetition 2/5", "attempt 3/8"). */
  private doing = '';
  private timer: NodeJS.Timeout | null = null;
  /** Undoes the watch on the streams that share the terminal. */
  private unwatch: Array<() => void> = [];
  /** The last thing someone else wrote ended its line: the status line may be drawn below it. */
  private atLineStart = true;

  constructor(private total: number, out: ProgressOutput = process.stdout, private readonly now: () => number = () => performance.now()) {
    // The status line writes through the stream's own write, never through the watch below.
    const write = out.write.bind(out);
    this.line = new StatusLine({ write, get isTTY() { return out.isTTY; }, get columns() { return out.columns; } });
    if (this.line.isTTY) this.watch(out);
  }

  /**
   * Another stream on the same terminal (stderr): what it writes clears the status line first.
   * Off a terminal nothing is watched: no status line is ever drawn there.
   */
  watch(stream: ProgressOutput): void {
    if (!this.line.isTTY || !stream.isTTY) return;
    const own = Object.hasOwn(stream, 'write');
    const original = stream.write;
    stream.write = (...args: unknown[]) => {
      this.line.clear();
      const text = args[0];
      if ((typeof text === 'string' || text instanceof Uint8Array) && text.length > 0) this.atLineStart = endsLine(text);
      return (original as (...a: unknown[]) => unknown).apply(stream, args);
    };
    this.unwatch.push(() => {
      if (own) stream.write = original;
      else delete (stream as { write?: unknown }).write;
    });
  }

  /** A scenario began. */
  began(id: string): void {
    this.index += 1;
    this.total = Math.max(this.total, this.index);
    this.id = id;
    this.started = this.now();
    this.repetitions = 0;
    this.doing = '';
    this.draw();
    if (this.line.isTTY && !this.timer) {
      this.timer = setInterval(() => this.draw(), TICK_MS);
      this.timer.unref();
    }
  }

  /** A repetition of the running scenario begins (one of `of`); the first is the scenario's start. */
  repetition(of: number): void {
    this.repetitions += 1;
    if (of <= 1) return;
    this.doing = repetitionText(this.repetitions, of);
    this.event(this.repetitions > 1);
  }

  /**
   * A firmware scenario has seen `seen` attempts of the `wanted` it watches; `waiting`: the last
   * one is closed and the device's next is awaited (its backoff).
   */
  attempts(seen: number, wanted: number, waiting: boolean, changed: boolean): void {
    this.doing = attemptText(seen, wanted, waiting);
    this.event(changed && wanted > 1);
  }

  /** The running scenario ended: mocha says how. */
  ended(): void {
    this.id = null;
    this.line.clear();
  }

  /** The run is over: the timer stops, the streams are given back, the terminal left clean. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.id = null;
    this.line.clear();
    for (const undo of this.unwatch.splice(0)) undo();
  }

  /** On a terminal the status line says it; elsewhere a plain line, when the event makes the scenario long. */
  private event(lasting: boolean): void {
    if (this.line.isTTY) this.draw();
    else if (lasting && this.id !== null) this.line.say(this.text());
  }

  /** `[3/18] id: repetition 2/5, 4.1 s`; within `width`, the id is cut (in its middle) rather than what it is at. */
  private text(width = Infinity): string {
    const head = `${counter(this.index, this.total)} `;
    const tail = `: ${this.doing ? `${this.doing}, ` : ''}${duration(this.now() - this.started)}`;
    return `${head}${cutMiddle(printable(this.id ?? ''), width - head.length - tail.length)}${tail}`;
  }

  private draw(): void {
    // (below a line someone left open, a status line would erase it)
    if (this.id === null || !this.atLineStart) return;
    this.line.show(this.text(this.line.width));
  }
}

function endsLine(text: string | Uint8Array): boolean {
  return typeof text === 'string' ? text.endsWith('\n') : text[text.length - 1] === 0x0a;
}
