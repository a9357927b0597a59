/**
 * hilt.config.json: what a run uses unless the command line says otherwise. Every field is
 * optional; a wrong one stops the run with one line naming the file, the field and the fix.
 *
 * {
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
import { UsageError, errnoOf, hasControlCharacter, printable, quoted } from '../errors.ts';
import { isHostName, isWildcardAddress } from '../device/targets/options.ts';
import type { BenchSettings } from '../device/targets/target.ts';
import { SEQUENCES, isSequenceName, parseResetSequence, type ResetSequence } from '../device/reset-sequence.ts';

/** Metrics a budget may name: what every connect records. */
export const METRICS = {
  dns_ms: 'ms', tcp_ms: 'ms', tls_ms: 'ms', mqtt_ms: 'ms', total_ms: 'ms',
  heap_peak_used: 'B', heap_leak: 'B',
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

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a parsed config object; `file` names it in messages. */
export function validateConfig(raw: unknown, file: string): RunConfig {
  // Field names come from the file too: a line break in one must not break the message.
  const bad = (field: string, problem: string) => new UsageError(`${printable(file)}: ${printable(field)}: ${problem}`);
  if (!isObject(raw)) throw bad('(top level)', 'expected a JSON object like {"target": "emulator"}');
  const known = ['target', 'targets', 'eachTarget', 'certsDir', 'reportDir', 'reports', 'baseline', 'lab', 'timeouts', 'repeat', 'budgets', 'scenarios', 'reset', 'bench', 'endpoint', 'firmware'];
  // "$schema" names the JSON Schema editors complete the file from (hilt init writes it): not a setting.
  for (const key of Object.keys(raw)) if (key !== '$schema' && !known.includes(key)) throw bad(key, `unknown field: hilt.config.json takes ${known.join(', ')}`);
  const config = defaultConfig();
  const str = (field: string, value: unknown) => {
    if (typeof value !== 'string' || value === '') throw bad(field, 'expected a non-empty string');
    // A NUL or a line break is never part of a path or a target: a bad paste, refused here
    // rather than as a stack from the file system later.
    if (hasControlCharacter(value)) throw bad(field, `${quoted(value)} has a control character: write it on one line, without escapes`);
    return value;
  };
  const int = (field: string, value: unknown, min: number, max: number) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw bad(field, `expected a whole number from ${min} to ${max}`);
    return value;
  };
  if (raw.target !== undefined && raw.targets !== undefined) throw bad('targets', 'give either target or targets, not both: put every board in targets');
  if (raw.target !== undefined) {
    config.target = str('target', raw.target);
    config.targets = [config.target];
    config.sources.target = `${printable(file)}: target`;
  }
  if (raw.targets !== undefined) {
    if (!Array.isArray(raw.targets) || raw.targets.length === 0) throw bad('targets', 'expected a list of targets, like ["serial:/dev/ttyUSB0", "serial:/dev/ttyUSB1"]');
    config.targets = raw.targets.map((t, i) => str(`targets[${i}]`, t));
    config.target = config.targets[0]!;
    config.sources.target = `${printable(file)}: targets[0]`;
    config.sources.targets = `${printable(file)}: targets`;
  }
  if (raw.eachTarget !== undefined) {
    if (typeof raw.eachTarget !== 'boolean') throw bad('eachTarget', 'expected true (the whole catalogue on each target) or false (split across them)');
    config.eachTarget = raw.eachTarget;
  }
  if (raw.certsDir !== undefined) config.certsDir = str('certsDir', raw.certsDir);
  if (raw.reportDir !== undefined) config.reportDir = str('reportDir', raw.reportDir);
  if (raw.repeat !== undefined) config.repeat = int('repeat', raw.repeat, 1, 1000);
  if (raw.baseline !== undefined) config.baseline = str('baseline', raw.baseline);
  if (raw.reports !== undefined) {
    if (!isObject(raw.reports)) throw bad('reports', 'expected an object like {"keep": 20}');
    for (const key of Object.keys(raw.reports)) if (key !== 'keep') throw bad(`reports.${key}`, 'unknown field: reports takes keep');
    if (raw.reports.keep !== undefined) config.reportsKeep = int('reports.keep', raw.reports.keep, 1, 100_000);
  }
  if (raw.lab !== undefined) {
    if (!isObject(raw.lab)) throw bad('lab', 'expected an object like {"hosts": ["192.168.1.20"]}');
    for (const key of Object.keys(raw.lab)) if (key !== 'hosts') throw bad(`lab.${key}`, 'unknown field: lab takes hosts');
    if (raw.lab.hosts !== undefined) {
      if (!Array.isArray(raw.lab.hosts)) throw bad('lab.hosts', 'expected a list of host names or addresses');
      config.labHosts = raw.lab.hosts.map((h, i) => {
        const host = str(`lab.hosts[${i}]`, h);
        // Checked here, where the file can be named; the PKI would only say --host.
        if (!isHostName(host)) {
          throw bad(`lab.hosts[${i}]`, `${quoted(host)} is not a host name or IP address: give a DNS name (bench.local) or an address (192.168.1.20)`);
        }
        return host;
      });
      config.sources.labHosts = `${printable(file)}: lab.hosts`;
    }
  }
  if (raw.timeouts !== undefined) {
    if (!isObject(raw.timeouts)) throw bad('timeouts', 'expected an object like {"scenarioMs": 60000}');
    const t = raw.timeouts;
    for (const key of Object.keys(t)) if (!['scenarioMs', 'commandMs', 'helloMs'].includes(key)) throw bad(`timeouts.${key}`, 'unknown field: timeouts takes scenarioMs, commandMs, helloMs');
    if (t.scenarioMs !== undefined) config.scenarioTimeoutMs = int('timeouts.scenarioMs', t.scenarioMs, 1000, 3_600_000);
    if (t.commandMs !== undefined) config.commandTimeoutMs = int('timeouts.commandMs', t.commandMs, 100, 600_000);
    if (t.helloMs !== undefined) config.helloTimeoutMs = int('timeouts.helloMs', t.helloMs, 100, 600_000);
  }
  if (raw.budgets !== undefined) {
    if (!isObject(raw.budgets)) throw bad('budgets', 'expected an object like {"tls_ms": "<= 2000"}');
    for (const [metric, expression] of Object.entries(raw.budgets)) {
      const rule = parseBudget(metric, expression);
      if (typeof rule === 'string') throw bad(`budgets.${metric}`, rule);
      config.budgets.push(rule);
    }
  }
  if (raw.scenarios !== undefined) {
    // One path or a list of them: a folder, a file or a glob each.
    const paths = typeof raw.scenarios === 'string' ? [raw.scenarios] : raw.scenarios;
    if (!Array.isArray(paths) || paths.length === 0) throw bad('scenarios', 'expected a folder, a file or a glob, or a list of them, like ["hil/"]');
    config.scenarios = paths.map((p, i) => str(typeof raw.scenarios === 'string' ? 'scenarios' : `scenarios[${i}]`, p));
  }
  const fields = (field: string, value: unknown, keys: string[], example: string): Json => {
    if (!isObject(value)) throw bad(field, `expected an object like ${example}`);
    for (const key of Object.keys(value)) if (!keys.includes(key)) throw bad(`${field}.${key}`, `unknown field: ${field} takes ${keys.join(', ')}`);
    return value;
  };
  if (raw.reset !== undefined) {
    const r = fields('reset', raw.reset, ['command', 'timeoutMs'], '{"command": "uhubctl -a cycle -p 2", "timeoutMs": 30000}');
    if (r.command === undefined) throw bad('reset.command', 'missing: give the shell command that resets the board, e.g. "uhubctl -a cycle -p 2"');
    config.reset = { command: str('reset.command', r.command), timeoutMs: r.timeoutMs === undefined ? 30_000 : int('reset.timeoutMs', r.timeoutMs, 100, 600_000) };
  }
  if (raw.bench !== undefined) {
    const b = fields('bench', raw.bench, ['reset'], '{"reset": {"hard": "R1|W200|R0"}}');
    if (b.reset !== undefined) {
      const r = fields('bench.reset', b.reset, ['hard', 'download', 'bootTimeoutMs'], '{"hard": "R1|W200|R0", "download": ["classic"]}');
      const sequence = (field: string, value: unknown, expect: ResetSequence['expect']): ResetSequence => {
        const text = str(field, value);
        if (isSequenceName(text)) {
          if (SEQUENCES[text].expect !== expect) throw bad(field, `${text} ${expect === 'flash' ? 'enters download mode: put it under bench.reset.download' : 'boots from flash: put it under bench.reset.hard'}`);
          return SEQUENCES[text];
        }
        try {
          return parseResetSequence(text, expect);
        } catch (err) {
          if (err instanceof UsageError) throw bad(field, `${err.message}; or name one of ${Object.keys(SEQUENCES).join(', ')}`);
          throw err;
        }
      };
      if (r.hard !== undefined) config.bench.hard = sequence('bench.reset.hard', r.hard, 'flash');
      if (r.download !== undefined) {
        const list = typeof r.download === 'string' ? [r.download] : r.download;
        if (!Array.isArray(list) || list.length === 0) throw bad('bench.reset.download', 'expected a sequence or a list of them, like ["classic", "classic-slow"]');
        config.bench.download = list.map((d, i) => sequence(typeof r.download === 'string' ? 'bench.reset.download' : `bench.reset.download[${i}]`, d, 'download'));
      }
      if (r.bootTimeoutMs !== undefined) config.bench.bootTimeoutMs = int('bench.reset.bootTimeoutMs', r.bootTimeoutMs, 100, 60_000);
    }
  }
  if (raw.endpoint !== undefined) {
    const e = fields('endpoint', raw.endpoint, ['host', 'port'], '{"host": "127.0.0.1", "port": 8883}');
    if (e.host !== undefined) {
      const host = str('endpoint.host', e.host);
      if (!isHostName(host)) throw bad('endpoint.host', `${quoted(host)} is not a host name or IP address: give an address of this machine, e.g. 127.0.0.1`);
      // The endpoint's host is what the board is told and what its certificate names: a wildcard is neither.
      if (isWildcardAddress(host)) throw bad('endpoint.host', `${quoted(host)} means every address of this machine, which no board can connect to or find on a certificate: give the address a board reaches, e.g. 192.168.1.20`);
      config.endpoint.host = host;
    }
    if (e.port !== undefined) config.endpoint.port = int('endpoint.port', e.port, 0, 65_535);
  }
  if (raw.firmware !== undefined) {
    const f = fields('firmware', raw.firmware, ['deviceId', 'scenarios'], '{"scenarios": {"MQTT Connect": {"boundMs": 60000}}}');
    if (f.deviceId !== undefined) {
      const id = str('firmware.deviceId', f.deviceId);
      // The id is an MQTT client id and a certificate's CN: the lab's policy refuses anything else.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) throw bad('firmware.deviceId', `${quoted(id)}: use letters, digits, '.', '_' and '-' (up to 64), e.g. "esp32-hilt"`);
      config.firmware.deviceId = id;
    }
    if (f.scenarios !== undefined) {
      if (!isObject(f.scenarios)) throw bad('firmware.scenarios', 'expected an object of scenario titles, like {"MQTT Connect": {"boundMs": 60000}}');
      for (const [title, value] of Object.entries(f.scenarios)) {
        const field = `firmware.scenarios[${quoted(title)}]`;
        const v = fields(field, value, ['boundMs', 'attempts'], '{"boundMs": 60000, "attempts": 5}');
        const entry: { boundMs?: number; attempts?: number } = {};
        if (v.boundMs !== undefined) entry.boundMs = int(`${field}.boundMs`, v.boundMs, 100, 3_600_000);
        if (v.attempts !== undefined) entry.attempts = int(`${field}.attempts`, v.attempts, 1, 1000);
        // Own keys only, as for budgets: a title "__proto__" must not reach the prototype.
        Object.defineProperty(config.firmware.scenarios, title, { value: entry, enumerable: true, writable: true, configurable: true });
      }
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
