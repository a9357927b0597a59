/**
 * hilt.config.json: what a run uses unless the command line says otherwise. Every field is
 * optional; a wrong one stops the run with one line naming the file, the field and the fix. One
 * zod schema (CONFIG below) checks the file, and configJsonSchema() turns it into the JSON Schema
 * editors complete the file from ("$schema" in the file points at it; hilt ignores that field).
 *
 * {
 *   "$schema": "./hilt.config.schema.json",
 *   "target": "serial:/dev/ttyUSB0",
 *   "targets": ["serial:/dev/ttyUSB0", "serial:/dev/ttyUSB1"], "eachTarget": false,
 *   "certsDir": "certs", "reportDir": "reports", "reports": { "keep": 20 },
 *   "baseline": "release/1.4.0/results.json",
 *   "lab": { "hosts": ["192.168.1.20"] },
 *   "timeouts": { "scenarioMs": 60000, "commandMs": 15000, "helloMs": 5000 },
 *   "repeat": 5,
 *   "budgets": { "tls_ms": "<= 2000", "heap_peak_used": "<= baseline + 2 KiB", "total_ms": "<= baseline + 10%" },
 *   "scenarios": ["hil/", "vendor/hil-*.spec.ts"],
 *   "reset": { "command": "uhubctl -a cycle -p 2", "timeoutMs": 30000 },
 *   "bench": { "reset": { "hard": "R1|W200|R0", "download": ["classic", "classic-slow"], "bootTimeoutMs": 2000 } },
 *   "endpoint": { "host": "192.168.1.20", "port": 8883 },
 *   "firmware": { "deviceId": "esp32-hilt", "scenarios": { "MQTT Connect Backoff": { "boundMs": 180000, "attempts": 6 } } }
 * }
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { UsageError, errnoOf, hasControlCharacter, printable, quoted } from '../errors.ts';
import { isHostName, isWildcardAddress } from '../device/targets/options.ts';
import type { BenchSettings } from '../device/targets/target.ts';
import { SEQUENCES, isSequenceName, parseResetSequence, type ResetSequence } from '../device/reset-sequence.ts';

/** Metrics a budget may name: what every connect records. */
export const METRICS = {
  dns_ms: 'ms', tcp_ms: 'ms', tls_ms: 'ms', mqtt_ms: 'ms', total_ms: 'ms',
  heap_peak_used: 'B', heap_leak: 'B',
  // Only from a device that measures its connect task's stack (docs/protocol.md, `stack`).
  stack_peak_used: 'B',
} as const;
export type MetricName = keyof typeof METRICS;

export interface BudgetRule {
  metric: MetricName;
  op: '<=' | '<' | '>=' | '>';
  /** The limit in the metric's unit; 0 for a relative budget, whose limit each scenario's baseline sets. */
  limit: number;
  expression: string;
  /**
   * "<= baseline + 10%", "<= baseline + 5 ms": the limit is the baseline run's median of the same
   * scenario plus `margin` (percent of that median, or in the metric's unit).
   */
  relative?: { margin: number; percent: boolean };
}

export interface RunConfig {
  /** The first of `targets`: what a one-board command (flash, endpoint) uses. */
  target: string;
  /** The boards of a run: "targets" in the file, or "target" as a list of one. */
  targets: string[];
  /** Run the whole catalogue on each target instead of splitting it across them. */
  eachTarget: boolean;
  certsDir: string;
  reportDir: string;
  labHosts: string[];
  scenarioTimeoutMs: number;
  commandTimeoutMs: number;
  helloTimeoutMs: number;
  repeat: number;
  budgets: BudgetRule[];
  /** A run to compare with (a results.json or a report folder); null: none. */
  baseline: string | null;
  /** How many run folders reportDir keeps (the oldest beyond go after a run); null: all. */
  reportsKeep: number | null;
  /**
   * Where a value came from, for messages that can only judge it later (a target's kind, a lab
   * host that cannot be bound): "--target", or "hilt.config.json: target". Absent: the default.
   */
  sources: Partial<Record<'target' | 'targets' | 'labHosts', string>>;
  /**
   * The team's own scenario files: files, folders or globs relative to the working folder, used
   * when the command line names none. Null: hilt's own catalogue.
   */
  scenarios: string[] | null;
  /**
   * Firmware mode: a command that brings the board to a known state (a USB hub's power cycle),
   * run through the shell before each scenario when the target cannot reset the board itself.
   */
  reset: { command: string; timeoutMs: number } | null;
  /**
   * The bench's reset sequences for serial targets (a board whose circuit wants longer pulses):
   * a target's own reset=/download= options win over these, these over the USB bridge's.
   */
  bench: BenchSettings;
  /** Firmware mode: where the endpoint listens. host null: the lab's address (127.0.0.1, or every address with lab.hosts). */
  endpoint: { host: string | null; port: number };
  firmware: {
    /** The id a firmware test build connects as (its certificate's CN and MQTT client id). */
    deviceId: string;
    /** Per firmware scenario (by title): how long it may wait for the device, how many attempts it watches. */
    scenarios: Record<string, { boundMs?: number; attempts?: number }>;
  };
}

/** The id `hilt endpoint` and a firmware run use unless told otherwise. */
export const DEFAULT_FIRMWARE_DEVICE = 'esp32-hilt';

export const DEFAULTS: RunConfig = {
  target: 'emulator',
  targets: ['emulator'],
  eachTarget: false,
  certsDir: 'certs',
  reportDir: 'reports',
  labHosts: [],
  scenarioTimeoutMs: 60_000,
  commandTimeoutMs: 15_000,
  helloTimeoutMs: 5_000,
  repeat: 1,
  budgets: [],
  baseline: null,
  reportsKeep: null,
  sources: {},
  scenarios: null,
  reset: null,
  bench: {},
  endpoint: { host: null, port: 8883 },
  firmware: { deviceId: DEFAULT_FIRMWARE_DEVICE, scenarios: {} },
};

/** A fresh copy of the defaults: a run's config is its own to change. */
export function defaultConfig(): RunConfig {
  return structuredClone(DEFAULTS);
}

const UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, B: 1, KiB: 1024, KB: 1000, MiB: 1024 * 1024 };

/** "<= 48 KiB" → a rule, or a message saying what is wrong. */
export function parseBudget(metric: string, expression: unknown): BudgetRule | string {
  // Own keys only: "constructor" and "__proto__" are in every object, but are no metrics.
  if (!Object.hasOwn(METRICS, metric)) return `unknown metric: use one of ${Object.keys(METRICS).join(', ')}`;
  if (typeof expression !== 'string') return 'write the budget as a string such as "<= 2000"';
  const relative = /^\s*(<=|<|>=|>)\s*baseline\s*(?:\+\s*(\d+(?:\.\d+)?)\s*(%|ms|s|B|KiB|KB|MiB)?)?\s*$/.exec(expression);
  const m = relative ?? /^\s*(<=|<|>=|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|B|KiB|KB|MiB)?\s*$/.exec(expression);
  if (!m) return `${quoted(expression)} is not a budget: write "<= 2000" (ms), "<= 48 KiB" (bytes) or "<= baseline + 10%"`;
  const unit = m[3] ?? '';
  const kind = METRICS[metric as MetricName];
  if (unit && unit !== '%' && (kind === 'ms') !== (unit === 'ms' || unit === 's')) return `${unit} does not measure ${metric} (${kind === 'ms' ? 'a time' : 'a size'})`;
  const amount = Number(m[2] ?? 0) * (unit === '%' ? 1 : UNITS[unit]!);
  if (!Number.isFinite(amount)) return `${quoted(expression)} is not a budget: the ${relative ? 'margin' : 'limit'} is too large`;
  const rule: BudgetRule = { metric: metric as MetricName, op: m[1] as BudgetRule['op'], limit: relative ? 0 : amount, expression: `${metric} ${expression.trim()}` };
  if (relative) rule.relative = { margin: amount, percent: unit === '%' };
  return rule;
}

/** A relative budget's limit for one scenario, from the baseline's median of the same metric. */
export function relativeLimit(rule: BudgetRule, baselineMedian: number): number {
  if (!rule.relative) return rule.limit;
  const { margin, percent } = rule.relative;
  return percent ? baselineMedian * (1 + margin / 100) : baselineMedian + margin;
}

/** Whether `value` keeps the rule; `limit`: a relative rule's limit for this scenario (relativeLimit). */
export function withinBudget(rule: BudgetRule, value: number, limit = rule.limit): boolean {
  switch (rule.op) {
    case '<=': return value <= limit;
    case '<': return value < limit;
    case '>=': return value >= limit;
    case '>': return value > limit;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// The file's schema: one zod schema checks it, and the JSON Schema editors complete from is made
// from it (configJsonSchema). Every refusal carries its own message, so a mistake reads as one
// line naming the field and the fix, never as zod's wording.

const NON_EMPTY = 'expected a non-empty string';

/** A path, target or command: non-empty, one line. */
function text(missing = NON_EMPTY) {
  return z.string({ error: (iss) => (iss.input === undefined ? missing : NON_EMPTY) }).min(1, { error: NON_EMPTY })
    // A NUL or a line break is never part of a path or a target: a bad paste, refused here
    // rather than as a stack from the file system later.
    .refine((v) => !hasControlCharacter(v), { error: (iss) => `${quoted(String(iss.input))} has a control character: write it on one line, without escapes` });
}

function whole(min: number, max: number) {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/**
 * The field names of each object, by its place in the file ("*" for a scenario title): for the
 * "unknown field: reset takes command, timeoutMs" message.
 */
const FIELDS = new Map<string, string[]>();

/** An object of known fields, each optional unless its schema says otherwise. */
function fields<S extends z.ZodRawShape>(place: string, shape: S, like: string, what = 'an object') {
  FIELDS.set(place, Object.keys(shape).filter((k) => k !== '$schema')); // (not a setting)
  return z.strictObject(shape, { error: (iss) => (iss.code === 'invalid_type' ? `expected ${what} like ${like}` : undefined) });
}

function hostName(problem: (host: string) => string) {
  return text().refine(isHostName, { error: (iss) => problem(String(iss.input)) });
}

function resetSequence(expect: ResetSequence['expect']) {
  return text().transform((value, ctx): ResetSequence => {
    const fail = (message: string) => {
      ctx.issues.push({ code: 'custom', message, input: value });
      return z.NEVER;
    };
    if (isSequenceName(value)) {
      if (SEQUENCES[value].expect === expect) return SEQUENCES[value];
      return fail(`${value} ${expect === 'flash' ? 'enters download mode: put it under bench.reset.download' : 'boots from flash: put it under bench.reset.hard'}`);
    }
    try {
      return parseResetSequence(value, expect);
    } catch (err) {
      if (err instanceof UsageError) return fail(`${err.message}; or name one of ${Object.keys(SEQUENCES).join(', ')}`);
      throw err;
    }
  });
}

function budget(metric: MetricName) {
  const meta = METRICS[metric] === 'ms'
    ? { description: `${metric}: "<= 2000" (ms; or s), or relative to the baseline run: "<= baseline + 10%", "<= baseline + 50 ms"`, examples: ['<= 2000', '<= baseline + 10%'] }
    : { description: `${metric}: "<= 48 KiB" (B, KB, KiB, MiB), or relative to the baseline run: "<= baseline + 1 KiB", "<= baseline + 5%"`, examples: ['<= 48 KiB', '<= baseline + 1 KiB'] };
  return z.string({ error: 'write the budget as a string such as "<= 2000"' }).meta(meta).transform((value, ctx): BudgetRule => {
    const rule = parseBudget(metric, value);
    if (typeof rule !== 'string') return rule;
    ctx.issues.push({ code: 'custom', message: rule, input: value });
    return z.NEVER;
  });
}

const SCENARIO_LIST = 'expected a folder, a file or a glob, or a list of them, like ["hil/"]';
const DOWNLOAD_LIST = 'expected a sequence or a list of them, like ["classic", "classic-slow"]';
const TARGET_LIST = 'expected a list of targets, like ["serial:/dev/ttyUSB0", "serial:/dev/ttyUSB1"]';
const SEQUENCE_HELP = `a name (${Object.keys(SEQUENCES).join(', ')}) or esptool's notation, e.g. "D0|R1|W100|D1|R0|W50|D0" (W in ms)`;

/** A firmware scenario's tuning (by title). Also checked on its own: zod's records drop a "__proto__" title. */
const SCENARIO_TUNING = fields('firmware.scenarios.*', {
  boundMs: whole(100, 3_600_000).optional().describe('how long the scenario waits for the device (ms)'),
  attempts: whole(1, 1000).optional().describe('how many connection attempts it watches'),
}, '{"boundMs": 60000, "attempts": 5}');

const CONFIG = fields('', {
  target: text().optional().meta({
    description: 'where the device is: emulator, serial:/dev/ttyUSB0, serial:?serial_number=..., rfc2217://host:port, tcp:host:port, qemu:build-dir, native (default: emulator)',
    examples: ['emulator', 'serial:/dev/ttyUSB0', 'rfc2217://192.168.1.20:4000', 'qemu:build', 'native'],
  }),
  targets: z.array(text(), { error: TARGET_LIST }).min(1, { error: TARGET_LIST }).optional().describe('several boards in one run (instead of target): the catalogue is split across them, or run on each with eachTarget'),
  eachTarget: z.boolean({ error: 'expected true (the whole catalogue on each target) or false (split across them)' }).optional().describe('run the whole catalogue on each of targets instead of splitting it (default: false)'),
  certsDir: text().optional().describe('the lab PKI folder (default: certs)'),
  reportDir: text().optional().describe('where run reports go (default: reports)'),
  reports: fields('reports', {
    keep: whole(1, 100_000).optional().describe('keep the newest N run folders, removing older finished ones after each run (default: all)'),
  }, '{"keep": 20}').optional().describe('what the reports folder keeps'),
  baseline: text().optional().describe('a run to compare with: its results.json or report folder (hilt run --baseline overrides)'),
  lab: fields('lab', {
    hosts: z.array(hostName((host) => `${quoted(host)} is not a host name or IP address: give a DNS name (bench.local) or an address (192.168.1.20)`),
      { error: 'expected a list of host names or addresses' }).optional().describe('addresses or names of this machine that boards on the LAN reach the lab at (default: 127.0.0.1 only)'),
  }, '{"hosts": ["192.168.1.20"]}').optional().describe('the lab (broker and PKI)'),
  timeouts: fields('timeouts', {
    scenarioMs: whole(1000, 3_600_000).optional().describe('how long one scenario may take (default: 60000)'),
    commandMs: whole(100, 600_000).optional().describe('how long the device may take to answer a command (default: 15000)'),
    helloMs: whole(100, 600_000).optional().describe('how long the device may take to answer hello (default: 5000)'),
  }, '{"scenarioMs": 60000}').optional().describe('how long hilt waits for a scenario, a command, a hello'),
  repeat: whole(1, 1000).optional().describe('run each scenario N times and keep the distribution of its metrics (default: 1)'),
  budgets: fields('budgets', Object.fromEntries((Object.keys(METRICS) as MetricName[]).map((m) => [m, budget(m).optional()])),
    '{"tls_ms": "<= 2000"}').optional().describe('limits on a metric\'s median per scenario; over one fails the scenario'),
  scenarios: z.union([text(), z.array(text(), { error: SCENARIO_LIST }).min(1, { error: SCENARIO_LIST })], { error: SCENARIO_LIST }).optional()
    .describe('the team\'s scenario files: folders, files or globs (default: hilt\'s catalogue)'),
  reset: fields('reset', {
    command: text('missing: give the shell command that resets the board, e.g. "uhubctl -a cycle -p 2"').describe('a shell command that brings the board to a known state'),
    timeoutMs: whole(100, 600_000).optional().describe('how long the command may take (default: 30000)'),
  }, '{"command": "uhubctl -a cycle -p 2", "timeoutMs": 30000}').optional().describe('firmware mode: how to reset a board the target cannot reset itself'),
  bench: fields('bench', {
    reset: fields('bench.reset', {
      hard: resetSequence('flash').optional().describe(`the reset that boots the app: ${SEQUENCE_HELP}`),
      download: z.union([resetSequence('download'), z.array(resetSequence('download'), { error: DOWNLOAD_LIST }).min(1, { error: DOWNLOAD_LIST })], { error: DOWNLOAD_LIST })
        .optional().describe(`the resets into download mode, tried in turn: ${SEQUENCE_HELP}`),
      bootTimeoutMs: whole(100, 60_000).optional().describe('how long the ROM\'s boot line may take after a reset (default: 2000)'),
    }, '{"hard": "R1|W200|R0", "download": ["classic"]}').optional().describe('reset sequences for a board whose circuit wants other pulses than its USB bridge\'s; a target\'s reset=/download= options win'),
  }, '{"reset": {"hard": "R1|W200|R0"}}').optional().describe('the bench\'s reset circuit, for serial targets'),
  endpoint: fields('endpoint', {
    host: hostName((host) => `${quoted(host)} is not a host name or IP address: give an address of this machine, e.g. 127.0.0.1`)
      // The endpoint's host is what the board is told and what its certificate names: a wildcard is neither.
      .refine((host) => !isWildcardAddress(host), { error: (iss) => `${quoted(String(iss.input))} means every address of this machine, which no board can connect to or find on a certificate: give the address a board reaches, e.g. 192.168.1.20` })
      .optional().describe('firmware mode: the address the board connects to (default: the lab\'s)'),
    port: whole(0, 65_535).optional().describe('firmware mode: the port the endpoint listens on (default: 8883)'),
  }, '{"host": "127.0.0.1", "port": 8883}').optional().describe('firmware mode: where the endpoint a board\'s own firmware connects to listens'),
  firmware: fields('firmware', {
    deviceId: text().refine((id) => DEVICE_ID.test(id), { error: (iss) => `${quoted(String(iss.input))}: use letters, digits, '.', '_' and '-' (up to 64), e.g. "esp32-hilt"` })
      .optional().describe('the id a firmware test build connects as: its certificate\'s CN and MQTT client id (default: esp32-hilt)'),
    scenarios: z.record(z.string(), SCENARIO_TUNING, { error: 'expected an object of scenario titles, like {"MQTT Connect": {"boundMs": 60000}}' })
      .optional().describe('per firmware scenario, by title: how long it waits, how many attempts it watches'),
  }, '{"scenarios": {"MQTT Connect": {"boundMs": 60000}}}').optional().describe('firmware mode: the identity a test build connects as, and per-scenario bounds'),
  $schema: z.string({ error: 'expected the path or URL of the JSON Schema, a string' }).optional().describe('the JSON Schema editors complete this file from (hilt ignores it)'),
}, '{"target": "emulator"}', 'a JSON object').describe('hilt.config.json: what `hilt run` uses unless the command line says otherwise. Every field is optional.');

/** The id is an MQTT client id and a certificate's CN: the lab's policy refuses anything else. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The JSON Schema of hilt.config.json (draft-07, which editors know best), made from the schema that checks it. */
export function configJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(CONFIG, { io: 'input', target: 'draft-7' }), title: 'hilt.config.json' };
}

/** "firmware.scenarios[\"MQTT Connect\"].boundMs", "scenarios[1]": a field as the messages name it. */
function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p, i) => {
    if (typeof p === 'number') return `[${p}]`;
    if (i === 2 && path[0] === 'firmware' && path[1] === 'scenarios') return `[${quoted(String(p))}]`;
    return i === 0 ? String(p) : `.${String(p)}`;
  }).join('');
}

/** zod's first complaint as the field and the problem. */
function complaint(issue: z.core.$ZodIssue, prefix: PropertyKey[] = []): [string, string] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    const field = fieldName([...path, issue.keys[0]!]);
    if (path.length === 1 && path[0] === 'budgets') return [field, `unknown metric: use one of ${Object.keys(METRICS).join(', ')}`];
    const place = path.map((p, i) => (i === 2 && path[1] === 'scenarios' ? '*' : String(p))).join('.');
    return [field, `unknown field: ${path.length === 0 ? 'hilt.config.json' : fieldName(path)} takes ${(FIELDS.get(place) ?? []).join(', ')}`];
  }
  if (issue.code === 'invalid_union') {
    // One value or a list: the complaint of the form the value has (a string, a list), when it has one.
    const branch = issue.errors.find((b) => b[0] && !(b[0].code === 'invalid_type' && b[0].path.length === 0));
    if (branch) return complaint(branch[0]!, path);
  }
  return [path.length === 0 ? '(top level)' : fieldName(path), issue.message];
}

/** The order fields were checked in before the schema: of several mistakes, the one reported stays the same. */
const CHECK_ORDER = ['target', 'targets', 'eachTarget', 'certsDir', 'reportDir', 'repeat', 'baseline', 'reports', 'lab', 'timeouts', 'budgets', 'scenarios', 'reset', 'bench', 'endpoint', 'firmware', '$schema'];

/**
 * Which of zod's complaints is told: an unknown field at the top first (a typo there usually
 * explains the rest), then by field in CHECK_ORDER (budgets in the file's order), and an unknown
 * field of an object before a complaint about one of its fields.
 */
function firstIssue(issues: z.core.$ZodIssue[], raw: unknown): z.core.$ZodIssue {
  const budgets = isObject(raw) && isObject(raw.budgets) ? Object.keys(raw.budgets) : [];
  const rank = (i: z.core.$ZodIssue) => {
    if (i.path.length === 0) return [-1, 0];
    const metric = i.path[1] ?? (i.code === 'unrecognized_keys' ? i.keys[0] : undefined);
    return [CHECK_ORDER.indexOf(String(i.path[0])), i.path[0] === 'budgets' ? budgets.indexOf(String(metric)) : 0];
  };
  const sorted = [...issues].sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0]! - y[0]! || x[1]! - y[1]!;
  });
  const first = sorted[0]!;
  const within = (outer: readonly PropertyKey[]) => outer.every((p, n) => first.path[n] === p);
  // (budgets were always checked one by one, in the file's order, unknown metrics among them)
  const outer = sorted.filter((i) => i.code === 'unrecognized_keys' && within(i.path) && i.path[0] !== 'budgets');
  return outer.sort((a, b) => a.path.length - b.path.length)[0] ?? first;
}

/** Validates a parsed config object; `file` names it in messages. */
export function validateConfig(raw: unknown, file: string): RunConfig {
  // Field names come from the file too: a line break in one must not break the message.
  const bad = ([field, problem]: [string, string]) => new UsageError(`${printable(file)}: ${printable(field)}: ${problem}`);
  const parsed = CONFIG.safeParse(raw, { reportInput: true });
  const issues = parsed.success ? [] : parsed.error.issues;
  const unknown = issues.find((i) => i.code === 'unrecognized_keys' && i.path.length === 0);
  if (unknown) throw bad(complaint(unknown));
  // (across two fields, which the JSON Schema cannot say either)
  if (isObject(raw) && raw.target !== undefined && raw.targets !== undefined) throw bad(['targets', 'give either target or targets, not both: put every board in targets']);
  if (!parsed.success) throw bad(complaint(firstIssue(issues, raw)));
  const c = parsed.data;
  const config = defaultConfig();
  if (c.target !== undefined) {
    config.target = c.target;
    config.targets = [c.target];
    config.sources.target = `${printable(file)}: target`;
  }
  if (c.targets !== undefined) {
    config.targets = c.targets;
    config.target = c.targets[0]!;
    config.sources.target = `${printable(file)}: targets[0]`;
    config.sources.targets = `${printable(file)}: targets`;
  }
  if (c.eachTarget !== undefined) config.eachTarget = c.eachTarget;
  if (c.certsDir !== undefined) config.certsDir = c.certsDir;
  if (c.reportDir !== undefined) config.reportDir = c.reportDir;
  if (c.repeat !== undefined) config.repeat = c.repeat;
  if (c.baseline !== undefined) config.baseline = c.baseline;
  if (c.reports?.keep !== undefined) config.reportsKeep = c.reports.keep;
  if (c.lab?.hosts !== undefined) {
    config.labHosts = c.lab.hosts;
    config.sources.labHosts = `${printable(file)}: lab.hosts`;
  }
  if (c.timeouts?.scenarioMs !== undefined) config.scenarioTimeoutMs = c.timeouts.scenarioMs;
  if (c.timeouts?.commandMs !== undefined) config.commandTimeoutMs = c.timeouts.commandMs;
  if (c.timeouts?.helloMs !== undefined) config.helloTimeoutMs = c.timeouts.helloMs;
  // In the file's order (the schema's output follows its own).
  if (c.budgets !== undefined) config.budgets = Object.keys((raw as Record<string, object>).budgets!).map((m) => c.budgets![m as MetricName]!);
  if (c.scenarios !== undefined) config.scenarios = typeof c.scenarios === 'string' ? [c.scenarios] : c.scenarios;
  if (c.reset !== undefined) config.reset = { command: c.reset.command, timeoutMs: c.reset.timeoutMs ?? 30_000 };
  const reset = c.bench?.reset;
  if (reset?.hard !== undefined) config.bench.hard = reset.hard;
  if (reset?.download !== undefined) config.bench.download = Array.isArray(reset.download) ? reset.download : [reset.download];
  if (reset?.bootTimeoutMs !== undefined) config.bench.bootTimeoutMs = reset.bootTimeoutMs;
  if (c.endpoint?.host !== undefined) config.endpoint.host = c.endpoint.host;
  if (c.endpoint?.port !== undefined) config.endpoint.port = c.endpoint.port;
  if (c.firmware?.deviceId !== undefined) config.firmware.deviceId = c.firmware.deviceId;
  if (c.firmware?.scenarios !== undefined) {
    // From the file's own keys: zod's record leaves out (and never checks) a title "__proto__".
    for (const [title, value] of Object.entries((raw as { firmware: { scenarios: Record<string, unknown> } }).firmware.scenarios)) {
      const tuning = SCENARIO_TUNING.safeParse(value, { reportInput: true });
      if (!tuning.success) throw bad(complaint(tuning.error.issues[0]!, ['firmware', 'scenarios', title]));
      // Own keys only, as for budgets: a title "__proto__" must not reach the prototype.
      Object.defineProperty(config.firmware.scenarios, title, { value: { ...tuning.data }, enumerable: true, writable: true, configurable: true });
    }
  }
  return config;
}

/** Reads a config file; a missing default file is no error (defaults apply), a missing named one is. */
export async function loadConfig(path: string, required: boolean): Promise<RunConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && errnoOf(err) === 'ENOENT') return defaultConfig();
    throw new UsageError(`${printable(path)}: cannot be read (${errnoOf(err)}): ${required ? 'check the --config path' : 'fix its permissions'}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // JSON.parse quotes the text around the mistake, which may hold any byte of the file.
    throw new UsageError(`${printable(path)}: not valid JSON (${printable((err as Error).message)}): fix the file`);
  }
  return validateConfig(raw, path);
}
