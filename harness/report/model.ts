/**
 * The results of one run, as every report is written from them. results.json is this model
 * serialised (with RESULTS_SCHEMA); junit.xml and summary.md are views of it. Report code knows
 * nothing about transports or devices beyond what is here.
 */

export const RESULTS_SCHEMA = 1;

export type Source = 'device' | 'model' | 'host';

/** passed; failed: an expectation did not hold (incl. a budget); error: device or lab broke; skipped. */
export type Outcome = 'passed' | 'failed' | 'error' | 'skipped';

/** not-run: the run stopped before the scenario (--bail, an interrupt); the reason says which. */
export type FailureKind = 'assertion' | 'budget' | 'timeout' | 'panic' | 'infrastructure' | 'not-run';

export interface Failure {
  kind: FailureKind;
  /** One line, the reason a release manager reads. */
  message: string;
  /** More detail (stack, expected/actual), may be multi-line. */
  detail?: string;
}

export interface Budget {
  /** e.g. "tls_ms <= 2000" as written in the config. */
  expression: string;
  limit: number;
  /** The measured value compared (the median when repeated). */
  measured: number;
  exceeded: boolean;
  /** A budget relative to the baseline ("<= baseline + 10%"): the baseline's median it was computed from. */
  baseline?: number;
}

export interface Metric {
  /** tls_ms, tcp_ms, dns_ms, mqtt_ms, total_ms, heap_peak_used, heap_min, heap_leak ... */
  name: string;
  unit: 'ms' | 'B';
  source: Source;
  /** One value per repetition, in order. */
  values: number[];
  median: number;
  p95: number;
  budget?: Budget;
}

/** A few console lines around the ones that mattered to a scenario's verdict (errors, a panic, what an assertion named). */
export interface ConsoleExcerpt {
  /** 1-based number, in the scenario's console log, of the first line shown. */
  firstLine: number;
  lines: string[];
  /** Why these lines: "the failure", "E (...) lines", "panic". */
  reason: string;
}

/** One board of a multi-board run: `ScenarioResult.board` names it by `id`. */
export interface BoardInfo {
  /** Short and stable within the run: "b1", "b2", ... in --target order. */
  id: string;
  target: string;
  port?: string;
  /** The lab identity (client id, certificate CN) this board used. */
  deviceId: string;
  firmware: FirmwareIdentity | null;
  /** This board's own report folder, relative to the run's (console logs, lab attempts). */
  dir: string | null;
  infrastructureError: string | null;
}

/** A run compared with a baseline run (`hilt compare`, `hilt run --baseline`). */
export interface Comparison {
  baseline: { path: string; runId: string; firmware: FirmwareIdentity | null; startedAt: string };
  /** Scenarios whose outcome changed, or that only one run has. Keyed by `resultKey`. */
  outcomes: Array<{ key: string; title: string; from: Outcome | 'absent'; to: Outcome | 'absent'; regression: boolean }>;
  /** Medians compared per scenario and metric present in both runs. */
  metrics: Array<{
    key: string; name: string; unit: 'ms' | 'B';
    baseline: number; current: number; delta: number; deltaPct: number | null;
    /** Half-width of the band within which a change is noise (from the repetitions' spread). */
    noise: number;
    change: 'regressed' | 'improved' | 'unchanged';
  }>;
  /**
   * Relative budgets ("<= baseline + 10%") judged against the baseline, per scenario and metric
   * both runs have. Optional (added by P3 for `hilt compare`'s view): a run's own relative budgets
   * are also on its metrics (`Metric.budget.baseline`).
   */
  budgets?: Array<{ key: string; metric: string; expression: string; baseline: number; limit: number; measured: number; exceeded: boolean }>;
  /** Outcome regressions plus regressed metrics plus relative budgets exceeded: > 0 means exit 1. */
  regressions: number;
}

/** What the broker saw: a lab attempt record, kept as the lab wrote it. */
export type AttemptRecord = Record<string, unknown>;

export interface ScenarioResult {
  /**
   * Stable id, the same whichever scenarios a run selects: the scenario file's stem and the
   * slug of the full title, e.g. "05-wrong-ca/05-wrong-ca-is-refused"; a second scenario with the
   * same title in the same file gets "-2", and so on.
   */
  id: string;
  title: string;
  file: string;
  outcome: Outcome;
  durationMs: number;
  repetitions: number;
  failure: Failure | null;
  metrics: Metric[];
  attempts: AttemptRecord[];
  /** Console log of this scenario, relative to the run's report dir. */
  consoleLog: string | null;
  /**
   * Things a release manager should know even when it passed ("hostname check skipped"), and
   * what the device's output showed while the scenario ran (an over-long line, garbled bytes).
   */
  notes?: string[];
  /**
   * The verdict "pass with warnings" (firmware scenarios): a scenario that passed but did
   * something a release manager must hear of (a TLS warning alert, strictly exponential backoff).
   */
  warnings?: string[];
  /** The board that ran it, in a multi-board run (`RunResults.run.boards`). */
  board?: string;
  /** Console lines that mattered, for junit.xml failures and report.html. */
  console?: ConsoleExcerpt | null;
}

/**
 * The targets a run ran on: its boards' when it had several, else its one target. A multi-board
 * run's `run.target` joins its boards' targets with spaces for reading only; a target may hold a
 * space itself (a path in `emulator:?sdkconfig=`), so nothing may split it.
 */
export function targetsOf(run: Pick<RunResults['run'], 'target' | 'boards'>): string[] {
  return run.boards?.length ? run.boards.map((b) => b.target) : [run.target];
}

/** How a scenario result is matched across runs and boards: its id, and `@board` when it has one. */
export function resultKey(s: Pick<ScenarioResult, 'id' | 'board'>): string {
  return s.board ? `${s.id}@${s.board}` : s.id;
}

export interface FirmwareIdentity {
  project: string;
  version: string;
  idf: string;
  elfSha256: string | null;
  agent: string;
  chip: string;
  mac: string;
}

/**
 * The firmware image a run flashed, or found the board already running (`hilt run --flash`),
 * as its app descriptor (esp_app_desc_t) says.
 */
export interface ImageIdentity {
  project: string;
  version: string;
  idf: string;
  /** All 64 hex digits, from the image (a board prints only a prefix). */
  elfSha256: string;
  /** The descriptor's date and time: "Nov 30 2026 12:34:56". */
  builtAt: string;
  buildDir: string;
  /** flashed: written and checked by MD5; running: the board ran it already and was not flashed. */
  state: 'flashed' | 'running';
  /** Where the board showed it runs this image: its hello, its boot log; null: not seen. */
  confirmedBy: 'hello' | 'boot log' | null;
}

export interface RunResults {
  schema: number;
  run: {
    id: string;
    hiltVersion: string;
    /** The target as given; a multi-board run's joins its boards' with spaces, for reading only (the list: `targetsOf`). */
    target: string;
    /**
     * The serial port a target given by identity (serial:?serial_number=...) was found on, last
     * time it was opened; absent for a target given by path.
     */
    port?: string;
    startedAt: string;
    endedAt: string;
    durationMs: number;
    /** Set when the run stopped early (Ctrl-C, unreachable device, --bail): why. */
    cutShort: string | null;
    /** Where the run could not go on, for exit status 3: "device emulator: no reply to hello within 5000 ms". */
    infrastructureError: string | null;
    /**
     * What the bench should look at though the run went on: a lab key whose mode had drifted
     * from 0600 (set back), a root that no longer fits its purpose (kept).
     */
    warnings: string[];
    /** Notes about the device's output outside any scenario (an over-long line while opening it). */
    notes: string[];
    firmware: FirmwareIdentity | null;
    /** The image flashed for this run (--flash); absent or null when none was. */
    image?: ImageIdentity | null;
    /** Security-relevant settings from hello (have_time_date, tls13, dynamic_buffer, ciphersuites...). */
    security: Record<string, unknown> | null;
    /** The trust bundle provisioned on the device and every certificate the lab served. */
    fingerprints: { trust: Array<{ name: string; sha256: string }>; served: Array<{ listener: string; name: string; sha256: string }> };
    /** Repetitions per scenario asked for (--repeat / "repeat"). */
    repeat?: number;
    /** A multi-board run's boards; absent for one board. */
    boards?: BoardInfo[];
    /** `--shard i/n`: which part of the catalogue this run ran (1-based index). */
    shard?: { index: number; count: number } | null;
    /** `hilt merge`: the run ids this report was merged from. */
    mergedFrom?: string[];
  };
  scenarios: ScenarioResult[];
  /** Set when the run was compared with a baseline. */
  comparison?: Comparison | null;
  totals: { passed: number; failed: number; error: number; skipped: number };
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank 95th percentile. */
export function p95(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]!;
}

export function totalsOf(scenarios: ScenarioResult[]): RunResults['totals'] {
  const totals = { passed: 0, failed: 0, error: 0, skipped: 0 };
  for (const s of scenarios) totals[s.outcome] += 1;
  return totals;
}
