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
