/** Runs as the runner would record them: one of each outcome, and a run cut short by the lab. */
import { median, p95, RESULTS_SCHEMA, totalsOf, type Budget, type Metric, type RunResults, type ScenarioResult, type Source } from '../../harness/report/index.ts';

export function metric(name: string, source: Source, values: number[], budget?: Omit<Budget, 'measured' | 'exceeded'>): Metric {
  const m: Metric = { name, unit: name.endsWith('_ms') ? 'ms' : 'B', source, values, median: median(values), p95: p95(values) };
  if (budget) m.budget = { ...budget, measured: m.median, exceeded: m.median > budget.limit };
  return m;
}

/** Control character (ESC, as in an ESP-IDF colour code) and every XML special in one line. */
export const NASTY_MESSAGE = `handshake <tls_ms> & "alert" 'bad_certificate' \u001b[0;31m`;

export function scenarios(): ScenarioResult[] {
  return [
    {
      id: '01-valid-server', title: 'connects to a valid server', file: 'scenarios/01-valid-server.spec.ts',
      outcome: 'passed', durationMs: 6423.4, repetitions: 5, failure: null,
      metrics: [
        metric('tls_ms', 'device', [1210, 1180, 1250, 1195, 1230]),
        metric('heap_peak_used', 'device', [41_200, 41_216, 41_208, 41_200, 41_300]),
      ],
      attempts: [{ listener: 'valid', tls: { outcome: 'ok' } }],
      consoleLog: 'console/01-valid-server.log',
    },
    {
      id: '05-handshake-budget', title: 'handshake within budget', file: 'scenarios/05-handshake-budget.spec.ts',
      outcome: 'failed', durationMs: 2712, repetitions: 1,
      failure: { kind: 'budget', message: NASTY_MESSAGE, detail: 'tls_ms <= 2000\nmeasured: 2450 ms\n' },
      metrics: [
        metric('tls_ms', 'model', [2450], { expression: 'tls_ms <= 2000', limit: 2000 }),
        metric('heap_peak_used', 'model', [45_056]),
      ],
      attempts: [],
      consoleLog: 'console/05-handshake-budget.log',
    },
    {
      id: '07-low-heap', title: 'refuses cleanly when the heap is low', file: 'scenarios/07-low-heap.spec.ts',
      outcome: 'error', durationMs: 5000, repetitions: 1,
      failure: { kind: 'infrastructure', message: 'device emulator: no reply to hello within 5000 ms' },
      metrics: [], attempts: [], consoleLog: null,
    },
    {
      id: '09-tls13-only', title: 'TLS 1.3 only listener', file: 'scenarios/09-tls13-only.spec.ts',
      outcome: 'skipped', durationMs: 0, repetitions: 0,
      failure: null, metrics: [], attempts: [], consoleLog: null,
    },
  ];
}

export function runResults(overrides: Partial<RunResults['run']> = {}, list = scenarios()): RunResults {
  return {
    schema: RESULTS_SCHEMA,
    run: {
      id: '2026-11-23T02-51-07Z-3f9a',
      hiltVersion: '0.1.0',
      target: 'emulator',
      startedAt: '2026-11-23T02:51:07.250Z',
      endedAt: '2026-11-23T02:51:21.385Z',
      durationMs: 14135.5,
      cutShort: null,
      infrastructureError: null,
      warnings: [],
      notes: [],
      firmware: {
        project: 'sensor-node', version: '1.4.2', idf: 'v5.2.1', elfSha256: null,
        agent: 'hilt-agent 1.0.0', chip: 'ESP32 rev3', mac: '24:0a:c4:00:00:01',
      },
      security: {
        version: '3.6.0', have_time_date: true, tls13: false, dynamic_buffer: true,
        in_content_len: 16384, ciphersuites: ['TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', 'TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256'],
      },
      fingerprints: {
        trust: [{ name: 'root-ca', sha256: 'aa11' }],
        served: [{ listener: 'valid', name: 'server-valid', sha256: 'bb22' }],
      },
      ...overrides,
    },
    scenarios: list,
    totals: totalsOf(list),
  };
}

/** A run the lab broke: stopped after the error, remaining scenarios not run. */
export function cutShortRun(): RunResults {
  return runResults({
    cutShort: 'device unreachable after 07-low-heap: remaining 8 scenarios not run',
    infrastructureError: 'device emulator: no reply to hello within 5000 ms',
  });
}

/** What a device could print to break a page that does not escape: in a title and a console line. */
export const XSS = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`;

/** A pass with warnings (firmware mode) and a skipped scenario with its reason, beside scenarios(). */
export function allVerdicts(): ScenarioResult[] {
  const list = scenarios();
  list[3]!.failure = { kind: 'not-run', message: 'not run: --bail after 05-handshake-budget failed' };
  list.push({
    id: 'firmware-02-mqtt-connect/mqtt-connect-backoff-no-connack', title: 'MQTT Connect Backoff (no CONNACK)',
    file: 'scenarios/firmware/02-mqtt-connect.spec.ts', outcome: 'passed', durationMs: 9800, repetitions: 1, failure: null,
    metrics: [], attempts: [{ listener: 'endpoint', tls: { outcome: 'ok', protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' }, mqtt: { clientId: 'sensor-7' } }],
    consoleLog: 'console/firmware-02.log',
    warnings: ['strictly exponential backoff without jitter (class exponential; intervals 1000, 2000, 4000, 8000, 16000 ms; ratio 2.00): devices that fail together retry together'],
    notes: [],
  });
  return list;
}

/** Firmware mode: three backoff scenarios (pass, warn, fail) whose judgements carry the waits. */
export function firmwareRun(): RunResults {
  const backoff = (title: string, outcome: 'passed' | 'failed', text: string, as: 'notes' | 'warnings' | 'failure'): ScenarioResult => ({
    id: `02-mqtt-connect/${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`, title, file: 'scenarios/firmware/02-mqtt-connect.spec.ts',
    outcome, durationMs: 12_000, repetitions: 1, metrics: [], attempts: [], consoleLog: null,
    failure: as === 'failure' ? { kind: 'assertion', message: text } : null,
    notes: as === 'notes' ? [text] : [], ...(as === 'warnings' ? { warnings: [text] } : {}),
  });
  const list = [
    backoff('MQTT Connect Backoff (no CONNACK)', 'passed', 'exponential backoff with jitter (class exponential-jitter; intervals 1010, 1890, 4120, 7650, 16300 ms; ratio 1.97, jitter 9 %)', 'notes'),
    backoff('MQTT Reconnect Backoff (server disconnect)', 'passed', 'strictly exponential backoff without jitter (class exponential; intervals 1000, 2000, 4000, 8000 ms; ratio 2.00): devices that fail together retry together', 'warnings'),
    backoff('MQTT Reconnect After Success', 'failed', 'constant reconnect interval (class constant; intervals 500, 500, 500, 500 ms; spread 0 %): the wait must grow exponentially, with jitter', 'failure'),
  ];
  return runResults({ target: 'emulator:?firmware=app', firmware: null, security: null }, list);
}

/** `--repeat 5` with budgets on two metrics, one of them exceeded. */
export function repeatedRun(): RunResults {
  const list = scenarios();
  list[0]!.metrics = [
    metric('tcp_ms', 'device', [3, 4, 3, 5, 3]),
    metric('tls_ms', 'device', [1210, 1180, 1250, 1195, 1230], { expression: 'tls_ms <= 1500', limit: 1500 }),
    metric('mqtt_ms', 'device', [40, 38, 45, 41, 39]),
    metric('heap_peak_used', 'device', [41_200, 41_216, 41_208, 41_200, 41_300], { expression: 'heap_peak_used <= 40 KiB', limit: 40_960 }),
  ];
  list[1]!.repetitions = 5;
  list[1]!.metrics = [
    metric('tls_ms', 'model', [2450, 2380, 2510, 2470, 2900], { expression: 'tls_ms <= 2000', limit: 2000 }),
    metric('heap_peak_used', 'model', [45_056, 45_056, 45_100, 45_056, 45_056]),
  ];
  return runResults({ repeat: 5 }, list);
}

/** Two boards splitting the catalogue, one scenario run on both, one board lost. */
export function boardsRun(): RunResults {
  const boardOf = (s: ScenarioResult, board: string): ScenarioResult => ({ ...structuredClone(s), board, consoleLog: s.consoleLog ? s.consoleLog.replace('console/', `boards/${board}/console/`) : null });
  const [a, b, c, d] = scenarios();
  const list = [boardOf(a!, 'b1'), boardOf(a!, 'b2'), boardOf(b!, 'b1'), boardOf(c!, 'b2'), boardOf(d!, 'b1')];
  const firmware = { project: 'sensor-node', version: '1.4.2', idf: 'v5.2.1', elfSha256: null, agent: 'hilt-agent 1.0.0', chip: 'ESP32 rev3', mac: '24:0a:c4:00:00:01' };
  return runResults({
    target: 'emulator:',
    boards: [
      { id: 'b1', target: 'emulator:', deviceId: 'esp32-000001', firmware, dir: 'boards/b1', infrastructureError: null },
      { id: 'b2', target: 'serial:/dev/ttyUSB1', port: '/dev/ttyUSB1', deviceId: 'esp32-000001-b2', firmware: { ...firmware, mac: '24:0a:c4:00:00:02' }, dir: 'boards/b2', infrastructureError: 'device serial:/dev/ttyUSB1 went away (disconnected)' },
    ],
  }, list);
}

/** Compared with 1.4.1: one outcome regression, one figure regressed, one improved, one within noise. */
export function comparedRun(): RunResults {
  const results = repeatedRun();
  results.comparison = {
    baseline: {
      path: 'reports/2026-11-01T10-00-00Z-aaaa', runId: '2026-11-01T10-00-00Z-aaaa', startedAt: '2026-11-01T10:00:00.000Z',
      firmware: { project: 'sensor-node', version: '1.4.1', idf: 'v5.2.1', elfSha256: null, agent: 'hilt-agent 1.0.0', chip: 'ESP32 rev3', mac: '24:0a:c4:00:00:01' },
    },
    outcomes: [
      { key: '05-handshake-budget', title: 'handshake within budget', from: 'passed', to: 'failed', regression: true },
      { key: '11-new-scenario', title: 'a scenario only the baseline had', from: 'passed', to: 'absent', regression: false },
    ],
    metrics: [
      { key: '05-handshake-budget', name: 'tls_ms', unit: 'ms', baseline: 1900, current: 2470, delta: 570, deltaPct: 30, noise: 60, change: 'regressed' },
      { key: '01-valid-server', name: 'heap_peak_used', unit: 'B', baseline: 43_000, current: 41_208, delta: -1792, deltaPct: -4.17, noise: 200, change: 'improved' },
      { key: '01-valid-server', name: 'tls_ms', unit: 'ms', baseline: 1200, current: 1210, delta: 10, deltaPct: 0.83, noise: 35, change: 'unchanged' },
    ],
    regressions: 2,
  };
  return results;
}
