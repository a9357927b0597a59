/**
 * One `hilt run`: the lab starts once, the device is opened once and brought to a known state
 * before each scenario, mocha runs the scenario files, and the reports are written — also when
 * the run is cut short (Ctrl-C, a device that went away), naming where it stopped.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import Mocha from 'mocha';
import { Device, DeviceError, PanicError } from '../device/device.ts';
import { resolveTarget, type Target } from '../device/targets/index.ts';
import { ExitCode, HiltError, UsageError } from '../errors.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { ensurePki, type Pki } from '../pki/index.ts';
import { TransportError } from '../transport/transport.ts';
import {
  RESULTS_SCHEMA, median, p95, totalsOf, type Failure, type Metric, type RunResults, type ScenarioResult,
} from '../report/model.ts';
import { newRunId, writeReports } from '../report/index.ts';
import { VERSION } from '../version.ts';
import { METRICS, withinBudget, type RunConfig } from './config.ts';
import { LeakError, setSession, type RunSession, type ScenarioRecord } from './session.ts';

export interface RunOptions {
  files: string[];
  config: RunConfig;
  grep?: string;
  bail?: boolean;
  /** Where mocha's progress goes (tests pass a silent reporter). */
  reporter?: string;
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

function classify(err: unknown): { outcome: 'failed' | 'error'; failure: Failure } {
  const e = err as Error & { code?: string };
  const detail = e?.stack ?? String(err);
  if (err instanceof DeviceError || err instanceof TransportError) {
    return { outcome: 'error', failure: { kind: 'infrastructure', message: e.message, detail } };
  }
  if (err instanceof PanicError) return { outcome: 'failed', failure: { kind: 'panic', message: e.message, detail } };
  if (e?.code === 'ERR_MOCHA_TIMEOUT' || /^Timeout of \d+ms exceeded/.test(e?.message ?? '')) {
    return { outcome: 'failed', failure: { kind: 'timeout', message: `scenario did not finish within its timeout (${e.message.split('.')[0]})`, detail } };
  }
  if (err instanceof LeakError) return { outcome: 'failed', failure: { kind: 'assertion', message: e.message, detail } };
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

/** Scenario files: the ones given, or every scenarios/*.spec.ts in order. Missing ones are a usage error. */
export function scenarioFiles(given: string[], root = process.cwd()): string[] {
  if (given.length > 0) {
    return given.map((f) => {
      const path = resolve(root, f);
      if (!existsSync(path)) throw new UsageError(`scenario file ${f} does not exist: give a path like scenarios/01-mtls-happy-path.spec.ts`);
      return path;
    });
  }
  const dir = resolve(root, 'scenarios');
  if (!existsSync(dir)) throw new UsageError(`no scenarios/ folder in ${root}: run hilt from the project's top folder, or name the scenario files`);
  return readdirSync(dir).filter((f) => f.endsWith('.spec.ts')).sort().map((f) => join(dir, f));
}

export async function runScenarios(options: RunOptions): Promise<RunOutcome> {
  const { config } = options;
  const started = new Date();
  const runId = newRunId(started);
  const reportRoot = resolve(config.reportDir);
  const runDir = join(reportRoot, runId);
  const target: Target = resolveTarget(config.target); // bad usage stops here, before anything starts
  const scenarios: ScenarioResult[] = [];
  let infrastructureError: string | null = null;
  let cutShort: string | null = null;
  // (asserted, not annotated: assigned inside closures, which TypeScript's narrowing cannot see)
  let device = null as Device | null;
  let lab = null as Lab | null;
  let pki = null as Pki | null;
  let interrupted = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130); // a second Ctrl-C: stop now
    interrupted = true;
    cutShort = `interrupted (${signal})`;
    mochaRunner?.abort();
  };
  let mochaRunner: Mocha.Runner | null = null;
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
    const [opened, started] = await Promise.allSettled([opening, labReady]);
    if (opened.status === 'fulfilled') device = opened.value;
    if (started.status === 'rejected') {
      const err = started.reason as Error;
      if (err instanceof UsageError) throw err;
      throw new HiltError(`lab could not start: ${err.message}`, ExitCode.unreachable, { cause: err });
    }
    if (opened.status === 'rejected') {
      const err = opened.reason as Error;
      if (!(err instanceof DeviceError || err instanceof TransportError)) throw err;
      infrastructureError = `device ${target.description}: ${err.message}`;
    }
    if (device && !interrupted) {
      const d = device;
      const deviceId = deviceIdOf(d.hello!.chip.mac);
      pki = await ensurePki({ dir: config.certsDir, hosts: config.labHosts, devices: [deviceId] });
      const p = pki;
      const l = lab!;
      d.transport.once('close', (info) => {
        if (info.expected) return;
        infrastructureError = `device ${target.description} went away: ${info.reason}`;
        mochaRunner?.abort();
      });
      const records = new Map<string, ScenarioRecord>();
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
        record(title) {
          let rec = records.get(title);
          if (!rec) {
            rec = { samples: [], notes: [], attemptMark: l.attempts.mark(), consoleLog: null };
            records.set(title, rec);
          }
          return rec;
        },
      };
      setSession(session);
      mkdirSync(join(runDir, 'console'), { recursive: true });

      const mocha = new Mocha({ timeout: config.scenarioTimeoutMs, bail: options.bail ?? false, reporter: options.reporter ?? 'spec', ...(options.grep ? { grep: options.grep } : {}) });
      for (const f of options.files) mocha.addFile(f);
      await mocha.loadFilesAsync();
      const failures = new Map<Mocha.Test, unknown>();
      await new Promise<void>((done) => {
        const runner = mocha.run(() => done());
        mochaRunner = runner;
        runner.on('test', (test) => {
          const rec = session.record(test.fullTitle());
          rec.attemptMark = l.attempts.mark();
          const file = `console/${slug(basename(test.file ?? 'scenario', '.spec.ts'))}--${slug(test.title)}.log`;
          rec.consoleLog = file;
          d.startLog(join(runDir, file));
        });
        runner.on('fail', (test, err) => { failures.set(test as Mocha.Test, err); });
        runner.on('test end', (test) => {
          void d.stopLog();
          const rec = session.record(test.fullTitle());
          const stem = basename(test.file ?? 'scenario', '.spec.ts');
          const result: ScenarioResult = {
            id: `${stem}/${slug(test.title)}`, title: test.fullTitle(), file: relative(process.cwd(), test.file ?? ''),
            outcome: test.state === 'passed' ? 'passed' : test.isPending() ? 'skipped' : 'failed',
            durationMs: test.duration ?? 0, repetitions: rec.samples.length, failure: null,
            metrics: metricsOf(rec), attempts: l.attempts.all.filter((a) => a.id > rec.attemptMark).map((a) => structuredClone(a) as unknown as Record<string, unknown>),
            consoleLog: rec.consoleLog, notes: rec.notes,
          };
          if (failures.has(test)) Object.assign(result, classify(failures.get(test)));
          applyBudgets(result, config);
          scenarios.push(result);
        });
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    setSession(null);
    await device?.close().catch(() => {});
    await target.close().catch(() => {});
    await lab?.close().catch(() => {});
  }

  const ended = new Date();
  const hello = device?.hello ?? null;
  const results: RunResults = {
    schema: RESULTS_SCHEMA,
    run: {
      id: runId, hiltVersion: VERSION, target: target.url, startedAt: started.toISOString(), endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(),
      cutShort: cutShort ?? (infrastructureError ? 'device or lab unreachable' : null), infrastructureError,
      firmware: hello ? {
        project: hello.fw.project, version: hello.fw.version, idf: hello.fw.idf, elfSha256: hello.fw.elf_sha256 ?? null,
        agent: `${hello.agent.name} ${hello.agent.version}`, chip: `${hello.chip.model} rev ${hello.chip.revision}`, mac: hello.chip.mac,
      } : null,
      security: hello ? { ...hello.mbedtls } : null,
      fingerprints: {
        trust: pki ? certificatesOf(pki, 'bundle-current') : [],
        served: pki && lab ? lab.listeners.filter((l) => l.profile.server).map((l) => ({
          listener: l.profile.name, name: l.profile.server!, sha256: artifactSha(pki!, l.profile.server!),
        })) : [],
      },
    },
    scenarios,
    totals: totalsOf(scenarios),
  };
  mkdirSync(runDir, { recursive: true });
  await writeReports(results, runDir, reportRoot);
  const exitCode = interrupted ? 130
    : infrastructureError || results.totals.error > 0 ? ExitCode.unreachable
    : results.totals.failed > 0 ? ExitCode.failed : ExitCode.ok;
  return { exitCode, runDir, results };
}

function certificatesOf(pki: Pki, bundle: string): Array<{ name: string; sha256: string }> {
  const artifact = pki.manifest.artifacts.find((a) => a.name === bundle);
  return artifact?.kind === 'bundle' ? artifact.certificates.map((c) => ({ name: c.name, sha256: c.sha256 })) : [];
}

function artifactSha(pki: Pki, name: string): string {
  const artifact = pki.manifest.artifacts.find((a) => a.name === name);
  return artifact && artifact.kind !== 'bundle' ? artifact.sha256 : '';
}

/** A measured median over its budget fails a scenario that otherwise passed. */
function applyBudgets(result: ScenarioResult, config: RunConfig): void {
  for (const rule of config.budgets) {
    const metric = result.metrics.find((m) => m.name === rule.metric);
    if (!metric) continue;
    const exceeded = !withinBudget(rule, metric.median);
    metric.budget = { expression: rule.expression, limit: rule.limit, measured: metric.median, exceeded };
    if (exceeded && result.outcome === 'passed') {
      const unit = METRICS[rule.metric] === 'ms' ? 'ms' : 'B';
      result.outcome = 'failed';
      result.failure = { kind: 'budget', message: `budget exceeded: ${rule.metric} median ${metric.median} ${unit} breaks ${rule.expression}` };
    }
  }
}
