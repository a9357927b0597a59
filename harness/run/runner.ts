/**
 * One `hilt run`: the lab starts once, the device is opened once and brought to a known state
 * before each scenario, mocha runs the scenario files, and the reports are written — also when
 * the run is cut short (Ctrl-C, a device that went away, a lab that would not start), naming
 * where it stopped.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import Mocha from 'mocha';
import { Device, DeviceError, PanicError } from '../device/device.ts';
import { resolveTarget, type Target } from '../device/targets/index.ts';
import { ExitCode, UsageError } from '../errors.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { ensurePki, type Pki } from '../pki/index.ts';
import { TransportError } from '../transport/transport.ts';
import {
  RESULTS_SCHEMA, median, p95, totalsOf, type Failure, type Metric, type RunResults, type ScenarioResult,
} from '../report/model.ts';
import { newRunId, writeReports } from '../report/index.ts';
import { settleWithin } from '../time.ts';
import { VERSION } from '../version.ts';
import { withinBudget, type RunConfig } from './config.ts';
import { loadScenarios, shownFile } from './scenario-files.ts';
import { setSession, type RunSession, type ScenarioRecord } from './session.ts';

export interface RunOptions {
  files: string[];
  config: RunConfig;
  grep?: string;
  bail?: boolean;
}

export interface RunOutcome {
  exitCode: number;
  runDir: string;
  results: RunResults;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);

/** The device id a board's certificate and MQTT client id carry: esp32- and the MAC's last 3 bytes. */
export function deviceIdOf(mac: string): string {
  return `esp32-${mac.replaceAll(':', '').slice(-6).toLowerCase()}`;
}

function classify(err: unknown, interrupted: string | null): { outcome: 'failed' | 'error'; failure: Failure } {
  const e = err as Error & { code?: string };
  const detail = e?.stack ?? String(err);
  if (interrupted) return { outcome: 'error', failure: { kind: 'infrastructure', message: `run ${interrupted} while this scenario ran`, detail } };
  if (err instanceof DeviceError || err instanceof TransportError) {
    return { outcome: 'error', failure: { kind: 'infrastructure', message: e.message, detail } };
  }
  if (err instanceof PanicError) return { outcome: 'failed', failure: { kind: 'panic', message: e.message, detail } };
  if (e?.code === 'ERR_MOCHA_TIMEOUT' || /^Timeout of \d+ms exceeded/.test(e?.message ?? '')) {
    return { outcome: 'failed', failure: { kind: 'timeout', message: `scenario did not finish within its timeout (${e.message.split('.')[0]})`, detail } };
  }
  return { outcome: 'failed', failure: { kind: 'assertion', message: (e?.message ?? String(err)).split('\n')[0]!, detail } };
}

function metricsOf(rec: ScenarioRecord): Metric[] {
  const byName = new Map<string, { unit: 'ms' | 'B'; source: Metric['source']; values: number[] }>();
  for (const repetition of rec.samples) {
    for (const s of repetition) {
      const m = byName.get(s.metric) ?? { unit: s.unit, source: s.source, values: [] };
      m.values.push(s.value);
      byName.set(s.metric, m);
    }
  }
  return [...byName].map(([name, m]) => ({ name, unit: m.unit, source: m.source, values: m.values, median: median(m.values), p95: p95(m.values) }));
}

export async function runScenarios(options: RunOptions): Promise<RunOutcome> {
  const { config } = options;
  const started = new Date();
  const runId = newRunId(started);
  const reportRoot = resolve(config.reportDir);
  const runDir = join(reportRoot, runId);
  const target: Target = resolveTarget(config.target); // bad usage stops here, before anything starts
  const mocha = new Mocha({
    timeout: config.scenarioTimeoutMs, bail: options.bail ?? false, reporter: 'spec',
    // A failing hook fails the scenarios it affects, instead of vanishing from the results
    // (a mocha option its type declarations do not list).
    ...({ failHookAffectedTests: true } as Mocha.MochaOptions),
    ...(options.grep ? { grep: options.grep } : {}),
  });
  await loadScenarios(mocha, options.files, options.grep);

  const scenarios: ScenarioResult[] = [];
  let infrastructureError: string | null = null;
  let interrupted: string | null = null;
  // (asserted, not annotated: assigned inside closures, which TypeScript's narrowing cannot see)
  let device = null as Device | null;
  let lab = null as Lab | null;
  let pki = null as Pki | null;
  let mochaRunner = null as Mocha.Runner | null;

  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      process.stderr.write('hilt: stopped at once (second interrupt): no clean-up, no report\n');
      process.exit(ExitCode.interrupted);
    }
    interrupted = `interrupted (${signal})`;
    mochaRunner?.abort();
    // Whatever waits on the device gives up now, not at its timeout.
    void device?.transport.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    // The device is opened while the lab starts: neither needs the other yet.
    const opening = target.transport()
      .then((t) => Device.open(t, { commandTimeoutMs: config.commandTimeoutMs, helloTimeoutMs: config.helloTimeoutMs }));
    const labReady = (async () => {
      pki = await ensurePki({ dir: config.certsDir, hosts: config.labHosts });
      lab = await startLab({ pki, host: config.labHosts.length > 0 ? '0.0.0.0' : '127.0.0.1' });
    })();
    const [opened, labStarted] = await Promise.allSettled([opening, labReady]);
    if (opened.status === 'fulfilled') device = opened.value;
    if (labStarted.status === 'rejected') {
      const err = labStarted.reason as Error;
      if (err instanceof UsageError) throw err;
      infrastructureError = `lab could not start: ${err.message}`;
    }
    if (opened.status === 'rejected') {
      const err = opened.reason as Error;
      if (err instanceof UsageError) throw err;
      if (!(err instanceof DeviceError || err instanceof TransportError)) throw err;
      infrastructureError ??= `device ${target.description}: ${err.message}`;
    }
    if (device && lab && pki && !infrastructureError && !interrupted) {
      await runMocha(device, lab);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    setSession(null);
    await settleWithin(5_000, device?.close() ?? Promise.resolve());
    await settleWithin(5_000, target.close());
    await settleWithin(5_000, lab?.close() ?? Promise.resolve());
  }

  async function runMocha(d: Device, l: Lab): Promise<void> {
    const deviceId = deviceIdOf(d.hello!.chip.mac);
    // The device's id is known only from its hello, which ran beside the lab's start: this second
    // pass reads the PKI again (~40 ms) and mints the device's certificate if it has none yet.
    const p = await ensurePki({ dir: config.certsDir, hosts: config.labHosts, devices: [deviceId] });
    pki = p;
    d.transport.once('close', (info) => {
      if (info.expected || interrupted) return;
      infrastructureError = `device ${d.description} went away (${info.reason}): check the board's power and cable, or the emulator/QEMU process`;
      mochaRunner?.abort();
    });
    const records = new Map<Mocha.Test, ScenarioRecord>();
    let current: ScenarioRecord | null = null;
    d.on('panic', (panic: PanicError['panic']) => {
      if (current && !current.panic) current.panic = new PanicError(panic).message;
    });
    const session: RunSession = {
      device: d, lab: l, pki: p, config, deviceId,
      async prepare() {
        if (target.reset === 'agent') await d.reset(config.commandTimeoutMs);
        else await d.greet(config.helloTimeoutMs);
        await d.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
        await d.command('heap.release');
        await d.store('ca', 'ca', p.bundle('bundle-current'));
        const own = p.material(`device/${deviceId}`);
        await d.store('cert', 'cert', own.cert);
        await d.store('key', 'key', own.key);
      },
      record(test) {
        let rec = records.get(test);
        if (!rec) {
          rec = { samples: [], notes: [], attemptMark: l.attempts.mark(), consoleLog: null, panic: null };
          records.set(test, rec);
        }
        return rec;
      },
    };
    setSession(session);
    mkdirSync(join(runDir, 'console'), { recursive: true });
    // A scenario cut off by its timeout may have left a command running on the device. Waiting
    // for it belongs to no scenario's time: a root hook with a timeout of its own.
    const idleMs = config.commandTimeoutMs * 2;
    mocha.suite.beforeEach('hilt: let the device finish what the last scenario left running', async function () {
      this.timeout(idleMs + 1_000);
      await d.idle(idleMs);
    });

    const failures = new Map<Mocha.Runnable, unknown>();
    let index = 0;
    await new Promise<void>((done) => {
      const runner = mocha.run(() => done());
      mochaRunner = runner;
      if (interrupted) runner.abort();
      runner.on('test', (test) => {
        const rec = session.record(test);
        rec.attemptMark = l.attempts.mark();
        current = rec;
        // Numbered, so two scenarios with the same title never share a log.
        const file = `console/${String(++index).padStart(2, '0')}-${slug(basename(test.file ?? 'scenario', '.spec.ts'))}--${slug(test.title)}.log`;
        rec.consoleLog = file;
        d.startLog(join(runDir, file));
      });
      runner.on('fail', (runnable: Mocha.Runnable, err) => {
        failures.set(runnable, err);
        // A failed hook counts as a failed scenario of its own: the run must not pass over it.
        if ((runnable as { type?: string }).type === 'hook') scenarios.push(hookResult(runnable, err, interrupted));
      });
      runner.on('test end', (test) => {
        void d.stopLog();
        current = null;
        const rec = session.record(test);
        const stem = basename(test.file ?? 'scenario', '.spec.ts');
        const result: ScenarioResult = {
          id: `${stem}/${index}-${slug(test.fullTitle())}`, title: test.fullTitle(), file: shownFile(test.file ?? ''),
          outcome: test.state === 'passed' ? 'passed' : test.isPending() ? 'skipped' : 'failed',
          durationMs: test.duration ?? 0, repetitions: rec.samples.length, failure: null,
          metrics: metricsOf(rec), attempts: l.attempts.all.filter((a) => a.id > rec.attemptMark).map((a) => structuredClone(a) as unknown as Record<string, unknown>),
          consoleLog: rec.consoleLog, notes: rec.notes,
        };
        if (failures.has(test)) Object.assign(result, classify(failures.get(test), interrupted));
        else if (rec.panic && result.outcome === 'passed') {
          // The firmware crashed while no command was waiting: still this scenario's failure.
          Object.assign(result, { outcome: 'failed', failure: { kind: 'panic', message: rec.panic } });
        }
        applyBudgets(result, config);
        scenarios.push(result);
      });
    });
  }

  const ended = new Date();
  const hello = device?.hello ?? null;
  const cutShort = interrupted ?? (infrastructureError ? 'device or lab unreachable' : null);
  const results: RunResults = {
    schema: RESULTS_SCHEMA,
    run: {
      id: runId, hiltVersion: VERSION, target: target.url, startedAt: started.toISOString(), endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(), cutShort, infrastructureError,
      firmware: hello ? {
        project: hello.fw.project, version: hello.fw.version, idf: hello.fw.idf, elfSha256: hello.fw.elf_sha256 ?? null,
        agent: `${hello.agent.name} ${hello.agent.version}`, chip: `${hello.chip.model} rev ${hello.chip.revision}`, mac: hello.chip.mac,
      } : null,
      security: hello ? { ...hello.mbedtls } : null,
      fingerprints: fingerprintsOf(pki, lab),
    },
    scenarios,
    totals: totalsOf(scenarios),
  };
  mkdirSync(runDir, { recursive: true });
  await writeReports(results, runDir, reportRoot);
  const exitCode = interrupted ? ExitCode.interrupted
    : infrastructureError || results.totals.error > 0 ? ExitCode.unreachable
    : results.totals.failed > 0 ? ExitCode.failed : ExitCode.ok;
  return { exitCode, runDir, results };
}

function hookResult(hook: Mocha.Runnable, err: unknown, interrupted: string | null): ScenarioResult {
  const { outcome, failure } = classify(err, interrupted);
  return {
    id: `${basename(hook.file ?? 'hook', '.spec.ts')}/hook-${slug(hook.fullTitle())}`, title: hook.fullTitle(),
    file: shownFile(hook.file ?? ''), outcome, durationMs: hook.duration ?? 0, repetitions: 0,
    failure, metrics: [], attempts: [], consoleLog: null,
  };
}

function fingerprintsOf(pki: Pki | null, lab: Lab | null): RunResults['run']['fingerprints'] {
  if (!pki) return { trust: [], served: [] };
  const sha = (name: string) => {
    const a = pki.manifest.artifacts.find((x) => x.name === name);
    return a && a.kind !== 'bundle' ? a.sha256 : '';
  };
  const bundle = pki.manifest.artifacts.find((a) => a.name === 'bundle-current');
  return {
    trust: bundle?.kind === 'bundle' ? bundle.certificates.map((c) => ({ name: c.name, sha256: c.sha256 })) : [],
    served: lab ? lab.listeners.filter((l) => l.profile.server).map((l) => ({ listener: l.profile.name, name: l.profile.server!, sha256: sha(l.profile.server!) })) : [],
  };
}

/** A measured median over its budget fails a scenario that otherwise passed. */
function applyBudgets(result: ScenarioResult, config: RunConfig): void {
  for (const rule of config.budgets) {
    const metric = result.metrics.find((m) => m.name === rule.metric);
    if (!metric) continue;
    const exceeded = !withinBudget(rule, metric.median);
    metric.budget = { expression: rule.expression, limit: rule.limit, measured: metric.median, exceeded };
    if (exceeded && result.outcome === 'passed') {
      result.outcome = 'failed';
      result.failure = { kind: 'budget', message: `budget exceeded: ${rule.metric} median ${metric.median} ${metric.unit} breaks ${rule.expression}` };
    }
  }
}
