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
  };
  scenarios: ScenarioResult[];
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
