/**
 * One `hilt run`: the lab starts once, the device is opened once and brought to a known state
 * before each scenario, mocha runs the scenario files, and the reports are written — also when
 * the run is cut short (Ctrl-C, a device that went away, a lab that would not start), naming
 * where it stopped.
 */
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import Mocha from 'mocha';
import { Device, DeviceError, ExpectTimeoutError, PanicError, type DeviceNote } from '../device/device.ts';
import { FirmwareDevice } from '../device/firmware.ts';
import type { DeviceMaterials } from '../device/targets/target.ts';
import { resolveTarget, type Target } from '../device/targets/index.ts';
import { ExitCode, UsageError, errnoOf, quoted } from '../errors.ts';
import { startLab, type Endpoint, type Lab } from '../lab/index.ts';
import { ensurePki, warningsOf, type Pki } from '../pki/index.ts';
import { TransportError, type CloseInfo, type Transport } from '../transport/transport.ts';
import {
  RESULTS_SCHEMA, median, p95, totalsOf, type Failure, type FirmwareIdentity, type ImageIdentity, type Metric, type RunResults, type ScenarioResult,
} from '../report/model.ts';
import { newRunId, prepareRunDir, ReportWriteError, writeReports } from '../report/index.ts';
import { settleWithin, within } from '../time.ts';
import { VERSION } from '../version.ts';
import { withinBudget, type RunConfig } from './config.ts';
import { judgeAgainstBaseline, type Baseline } from '../compare/budgets.ts';
import { Interrupts } from './interrupts.ts';
import { BoardScenarioProgress, ScenarioProgress, type ProgressOutput, type ScenarioAt, type ScenarioEvents } from './progress.ts';
import { describeStray, noAttempt, NoAttemptError, setFirmwareSession, strayAttempts, watchEndpoint, type FirmwareSession } from './firmware-session.ts';
import { runResetCommand } from './reset-command.ts';
import { catalogueFiles, loadScenarios, scenarioStem, shownFile } from './scenario-files.ts';
import { keepShard, type Shard } from './shard.ts';
import { modeOf, setSession, type RunSession, type ScenarioRecord } from './session.ts';

export interface RunOptions {
  /** Scenario files; null: hilt's catalogue for the target's mode (agent, or scenarios/firmware/). */
  files: string[] | null;
  config: RunConfig;
  grep?: string;
  bail?: boolean;
  /**
   * The files are a chosen few (named on the command line): firmware.scenarios in hilt.config.json
   * may then tune scenarios of other files, so its titles are not checked against the ones loaded.
   */
  filesChosen?: boolean;
  /** The command line's interrupt handling, caught before the run began; else the run's own. */
  interrupts?: Interrupts;
  /** The image flashed before the run (hilt run --flash), for the reports. */
  image?: ImageIdentity | null;
  /** A run to compare with (hilt run --baseline): relative budgets and `results.comparison` (harness/compare). */
  baseline?: Baseline | null;
  /** `--shard i/n`: run only this part of the selected scenarios (harness/run/shard.ts). */
  shard?: Shard | null;
  /** This run is one board of a multi-board run (harness/run/boards.ts). */
  board?: BoardRole;
  /** Where progress goes (default stdout; a board of a multi-board run shows none, its parent does). */
  progress?: ProgressOutput;
}

/**
 * One board's part of a multi-board run, as the parent process hands it to the child that runs it:
 * which scenarios, where its report goes, and whom to tell as each scenario ends.
 */
export interface BoardRole {
  /** "b2": the board's id in the run's report. */
  id: string;
  /** 1-based, in target order: boards after the first take their device id with a "-b<index>" suffix. */
  index: number;
  /** The board's own report folder (inside the run's); no `latest` link is made for it. */
  dir: string;
  /** The ids of the scenarios this board runs. */
  ids: string[];
  /**
   * Told the device id once known, what the running scenario is at (its repetition, its
   * attempts: the parent shows it), and each scenario's result as it ends (progress, and what
   * survives a crash).
   */
  report(message: BoardMessage): void;
}

export type BoardMessage = { type: 'device'; deviceId: string } | ({ type: 'progress' } & ScenarioAt) | { type: 'result'; result: ScenarioResult };

/** The id board `index` of a run uses: the first keeps the device's own, later ones add "-b<index>" (emulated boards share a MAC). */
export function boardDeviceId(base: string, index: number): string {
  return index > 1 ? `${base}-b${index}` : base;
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

/** How long a target's own reset (the emulated app's, an RTS pulse) may take. */
const TARGET_RESET_MS = 30_000;

/** What the emulated application is told: the endpoint's URI and trust, the device's own certificate. */
async function provisionOf(endpoint: Endpoint, deviceId: string): Promise<DeviceMaterials> {
  const m = await endpoint.materials(deviceId);
  return { uri: m.uri, caBundlePem: m.caBundlePem, certPem: m.certPem, keyPem: m.keyPem, clientId: deviceId };
}

/**
 * No reset at hand: the device's own next attempt on the endpoint is its known state (it retries
 * on its own while the endpoint refused). Seen as soon as its record exists: when a packet passes,
 * or the attempt settles or closes.
 */
async function nextAttempt(l: Lab, endpoint: Endpoint, mark: number, ms: number): Promise<void> {
  const seen = () => l.attempts.all.some((a) => a.id > mark && a.listener === 'endpoint');
  let stop = () => {};
  const arrived = new Promise<void>((resolve) => {
    stop = watchEndpoint(l, endpoint, () => { if (seen()) resolve(); });
  });
  try {
    if (await within(ms, arrived) === 'timeout') throw noAttempt(l, endpoint.url, mark, ms);
  } finally {
    stop();
  }
}

/**
 * A scenario is over: the endpoint refuses new connections and drops those still open, so a
 * device that stayed connected (no reset between scenarios) neither keeps this scenario's
 * behaviour nor looks, to the next scenario, like a device that never reconnects.
 */
function endScenario(endpoint: Endpoint): void {
  endpoint.refuse();
  endpoint.dropAll('the scenario ended');
}

/** How mocha words the failure of a scenario that a failed beforeEach hook kept from running. */
const HOOK_SKIPPED = /^Test skipped due to failure in hook /;

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
  const runDir = options.board?.dir ?? join(reportRoot, runId);
  // Interrupts are caught from here on (the command line catches them earlier still) and end the
  // run with its report, once its folder exists.
  const interrupts = options.interrupts ?? new Interrupts();
  try {
    return await runWithin(options, { started, runId, reportRoot, runDir, interrupts });
  } finally {
    if (!options.interrupts) interrupts.dispose();
  }
}

interface RunPlace {
  started: Date;
  runId: string;
  reportRoot: string;
  runDir: string;
  interrupts: Interrupts;
}

async function runWithin(options: RunOptions, { started, runId, reportRoot, runDir, interrupts }: RunPlace): Promise<RunOutcome> {
  const { config } = options;
  const target: Target = targetOf(config); // bad usage stops here, before anything starts
  await checkLabHosts(config);
  // The lab hosts, and the names a target reaches the lab by without being bound here (QEMU's 10.0.2.2).
  const certificateHosts = [...new Set([...config.labHosts, ...(target.certificateHosts ?? [])])];
  const { mocha, ids } = await loadCatalogue(options, target);
  if (options.board) keepOnly(mocha.suite, ids, new Set(options.board.ids));
  // The report folder is made and tried before the lab or the device starts: a folder that
  // cannot hold the report is the user's to fix (exit 2), and from here on `latest` names this run
  // (a board's folder inside a multi-board run is named by the run's `latest`, not its own).
  await prepareRunDir(runDir, options.board ? null : reportRoot, ['console']);

  const scenarios: ScenarioResult[] = [];
  let infrastructureError: string | null = null;
  /**
   * A usage error found once the run had begun (a certs folder that is full or corrupt): the
   * report says so, then the run ends with it (exit 2).
   */
  let stopped: UsageError | null = null;
  /** PKI warnings (a key whose mode had drifted), for stderr and the report. */
  const warnings: string[] = [];
  const warnAbout = (p: Pki) => {
    for (const warning of warningsOf(p)) if (!warnings.includes(warning)) warnings.push(warning);
  };
  /** Notes about the device's output made while no scenario ran. */
  const runNotes: string[] = [];
  let interrupted: string | null = null;
  /** The first scenario that failed, for --bail's reason. */
  let firstFailed: string | null = null;
  /** Console logs that could not be written (a full disk), and the logs still being closed. */
  const lostLogs: string[] = [];
  const logsClosing: Array<Promise<void>> = [];
  // (asserted, not annotated: assigned inside closures, which TypeScript's narrowing cannot see)
  let device = null as Device | null;
  let firmwareDevice = null as FirmwareDevice | null;
  let lab = null as Lab | null;
  let pki = null as Pki | null;
  let mochaRunner = null as Mocha.Runner | null;
  /** What the running scenario is at: between mocha's lines, or told to the parent of a board of a multi-board run, which shows it. */
  let progress = null as ScenarioEvents | null;
  /** Stops following a firmware scenario's attempts for its progress. */
  let unfollow = () => {};
  let transport = null as Transport | null;

  /** A bench reset command still running when the run is interrupted is stopped with it. */
  const resetAbort = new AbortController();
  const stopListening = interrupts.listen((signal) => {
    interrupted = `interrupted (${signal})`;
    resetAbort.abort(interrupted);
    mochaRunner?.abort();
    // Whatever waits on the device gives up now, not at its timeout, also a hello still waited for.
    void transport?.close();
  });

  try {
    if (!interrupted) {
      const firmware = target.mode === 'firmware';
      const labHost = config.labHosts.length > 0 ? '0.0.0.0' : '127.0.0.1';
      const labReady = (async () => {
        // The lab binds with the certificates as they are, and only then do they learn the lab
        // hosts (as `hilt broker --host` does): a host given in error never reaches the server
        // certificates, where it would stay until --force.
        // A firmware build's device certificate is minted now: the emulated app is given it before it boots.
        pki = await ensurePki({ dir: config.certsDir, ...(firmware ? { devices: [config.firmware.deviceId] } : {}) });
        warnAbout(pki);
        lab = await startLab({
          pki, host: labHost,
          // A firmware device talks to the endpoint only; it starts with the lab, refusing until a scenario begins.
          ...(firmware ? { endpoint: { host: config.endpoint.host ?? labHost, port: config.endpoint.port } } : {}),
        });
        lab.endpoint?.refuse();
        if (certificateHosts.length > 0) {
          pki = await ensurePki({ dir: config.certsDir, hosts: certificateHosts });
          warnAbout(pki);
          lab.useCertificates(pki);
        }
      })();
      // The device is opened while the lab starts: neither needs the other yet, except an
      // emulated application, which is told where the endpoint is before it boots.
      const opening = (async () => {
        if (target.provision) {
          await labReady;
          target.provision(await provisionOf(lab!.endpoint!, config.firmware.deviceId));
        }
        const t = await target.transport();
        transport = t;
        if (interrupted) throw new DeviceError(`run ${interrupted} before the device was opened`);
        if (firmware) return FirmwareDevice.open(t);
        return Device.open(t, { commandTimeoutMs: config.commandTimeoutMs, helloTimeoutMs: config.helloTimeoutMs });
      })();
      const [opened, labStarted] = await Promise.allSettled([opening, labReady]);
      if (opened.status === 'fulfilled') {
        if (opened.value instanceof FirmwareDevice) firmwareDevice = opened.value;
        else device = opened.value;
      }
      if (labStarted.status === 'rejected') {
        const err = labStarted.reason as Error;
        if (err instanceof UsageError) stopped = err;
        else infrastructureError = `lab could not start: ${err.message}`;
      }
      // (an emulated app that was never provisioned because the lab did not start says nothing new)
      if (opened.status === 'rejected' && !interrupted && !(target.provision && labStarted.status === 'rejected')) {
        const err = opened.reason as Error;
        if (err instanceof UsageError) stopped ??= err;
        else if (!(err instanceof DeviceError || err instanceof TransportError)) throw err;
        else infrastructureError ??= `device ${target.description}: ${err.message}`;
      }
    }
    if ((device ?? firmwareDevice) && lab && pki && !infrastructureError && !interrupted && !stopped) {
      await runMocha((device ?? firmwareDevice)!, lab);
    }
  } finally {
    setSession(null);
    setFirmwareSession(null);
    // The terminal is left clean (and its streams as they were) before the reports are told of.
    unfollow();
    progress?.finish();
    // Each log closed (or failed, and said so) before the report is written.
    await settleWithin(5_000, Promise.all(logsClosing));
    await settleWithin(5_000, device?.close() ?? Promise.resolve());
    await settleWithin(5_000, firmwareDevice?.close() ?? Promise.resolve());
    await settleWithin(5_000, target.close());
    await settleWithin(5_000, lab?.close() ?? Promise.resolve());
  }

  async function runMocha(d: Device | FirmwareDevice, l: Lab): Promise<void> {
    // An agent's id is known only from its hello, which ran beside the lab's start; a firmware
    // build's is the one its certificate was made for (hilt endpoint). This second pass reads the
    // PKI again (~40 ms) and mints the device's certificate if it has none yet.
    // (a later board of a multi-board run adds its suffix: its firmware id comes suffixed in its config)
    const deviceId = d instanceof Device ? boardDeviceId(deviceIdOf(d.hello!.chip.mac), options.board?.index ?? 1) : config.firmware.deviceId;
    options.board?.report({ type: 'device', deviceId });
    let p: Pki;
    try {
      p = await ensurePki({ dir: config.certsDir, hosts: certificateHosts, devices: [deviceId] });
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      stopped = err;
      return;
    }
    pki = p;
    warnAbout(p);
    /** The device stopped answering: the scenarios left cannot run, and wait for nothing. */
    const lose = (why: string) => {
      infrastructureError ??= why;
      mochaRunner?.abort();
    };
    d.transport.once('close', (info: CloseInfo) => {
      if (info.expected || interrupted) return;
      lose(`device ${d.description} went away (${info.reason}): ${lostDeviceHint(target.kind)}`);
    });
    /** Whose console log each file is: a write error may come after its scenario ended. */
    const logOwners = new Map<string, ScenarioRecord>();
    d.on('logError', (path: string, err: unknown) => {
      const file = relative(runDir, path);
      lostLogs.push(`${file} (${errnoOf(err)})`);
      logOwners.get(path)?.notes.push(`console log ${file} could not be written (${errnoOf(err)})`);
    });
    const records = new Map<Mocha.Test, ScenarioRecord>();
    let current: ScenarioRecord | null = null;
    // A panic outside any scenario (a board that crashed while booting, or between two scenarios)
    // fails none of them, but the release manager must hear of it: a warning of the run.
    let lastEnded: string | null = null;
    const outside = (panic: PanicError['panic']) => {
      const text = `the device panicked outside any scenario${lastEnded ? ` (after ${lastEnded})` : ' (before the first)'}: ${new PanicError(panic).message}`;
      if (!warnings.includes(text)) warnings.push(text);
    };
    if (d instanceof FirmwareDevice) for (const panic of d.panics) outside(panic);
    d.on('panic', (panic: PanicError['panic']) => {
      if (!current) outside(panic);
      else if (!current.panic) current.panic = new PanicError(panic).message;
    });
    // What the device's output showed (an over-long line, garbled bytes) belongs to the scenario
    // it came during (its hooks included), or to the run; those from opening it are the run's.
    const noteDown = (list: string[], note: DeviceNote) => {
      const text = `device output: ${note.message}`;
      if (!list.includes(text)) list.push(text);
    };
    for (const note of d.notes) noteDown(runNotes, note);
    d.on('note', (note: DeviceNote) => noteDown(current?.notes ?? runNotes, note));
    const record = (test: Mocha.Test): ScenarioRecord => {
      let rec = records.get(test);
      if (!rec) {
        rec = { samples: [], notes: [], attemptMark: l.attempts.mark(), consoleLog: null, panic: null, warnings: [] };
        records.set(test, rec);
      }
      return rec;
    };
    const endpoint = l.endpoint;
    if (d instanceof Device) agentSession(d, l, p, deviceId, record, lose);
    else {
      // A firmware that restarts itself on purpose (esp_restart() after failed connects) is worth a line.
      d.on('restart', (restart: PanicError['panic']) => {
        const text = `device ${restart.reason}`;
        const list = current?.notes ?? runNotes;
        if (!list.includes(text)) list.push(text);
      });
      firmwareSession(d, l, endpoint!, p, deviceId, record);
    }

    const failures = new Map<Mocha.Runnable, unknown>();
    const board = options.board;
    if (board) progress = new BoardScenarioProgress((at) => board.report({ type: 'progress', ...at }));
    else {
      const own = new ScenarioProgress(selectedTests(mocha).length, options.progress ?? process.stdout);
      // (a warning on stderr, on the same terminal, would otherwise land at the end of the status line)
      if (!options.progress) own.watch(process.stderr);
      progress = own;
    }
    await new Promise<void>((done) => {
      const runner = mocha.run(() => done());
      mochaRunner = runner;
      if (interrupted || infrastructureError) runner.abort();
      runner.on('test', (test) => {
        const rec = record(test);
        rec.attemptMark = l.attempts.mark();
        current = rec;
        // Named after the scenario's id: the same scenario has the same log name in every run.
        const file = consoleLogOf(ids.get(test)!);
        rec.consoleLog = file;
        logOwners.set(join(runDir, file), rec);
        d.startLog(join(runDir, file));
        progress?.began(ids.get(test)!);
      });
      runner.on('fail', (runnable: Mocha.Runnable, err) => {
        failures.set(runnable, err);
        // A failed hook counts as a failed scenario of its own: the run must not pass over it.
        // Not when the device is lost already: whether a hook was under way when the loss came
        // is a race, and the scenarios it held back are listed as not run with the loss as reason.
        if ((runnable as { type?: string }).type === 'hook' && !infrastructureError) {
          const result = hookResult(runnable, err, interrupted);
          firstFailed ??= result.id;
          scenarios.push(result);
          options.board?.report({ type: 'result', result });
        }
      });
      runner.on('test end', (test) => {
        // Also for a scenario mocha cut off, whose own clean-up may not have run yet.
        if (endpoint) endScenario(endpoint);
        logsClosing.push(d.stopLog());
        current = null;
        lastEnded = ids.get(test)!;
        unfollow();
        progress?.ended();
        const rec = record(test);
        if (endpoint) {
          const stray = strayAttempts(l, rec.attemptMark);
          if (stray.length > 0 && !rec.notes.includes(describeStray(stray))) rec.notes.push(describeStray(stray));
        }
        const result: ScenarioResult = {
          id: ids.get(test)!, title: test.fullTitle(), file: shownFile(test.file ?? ''),
          outcome: test.state === 'passed' ? 'passed' : test.isPending() ? 'skipped' : 'failed',
          durationMs: test.duration ?? 0, repetitions: rec.samples.length, failure: null,
          metrics: metricsOf(rec), attempts: l.attempts.all.filter((a) => a.id > rec.attemptMark).map((a) => structuredClone(a) as unknown as Record<string, unknown>),
          consoleLog: rec.consoleLog, notes: rec.notes,
          ...(rec.warnings.length > 0 ? { warnings: rec.warnings } : {}),
        };
        const failure = failures.get(test);
        if (failure && infrastructureError && HOOK_SKIPPED.test((failure as Error)?.message ?? '')) {
          // Failed by mocha for the idle hook's lost device: never ran, like those after it.
          Object.assign(result, { outcome: 'error', failure: { kind: 'infrastructure', message: `not run: ${infrastructureError}` } });
        } else if (failures.has(test)) {
          Object.assign(result, classify(failure, interrupted));
          // A crash the scenario's checks then tripped over (a connection gone, no reply) is
          // the cause: the report names the panic, and keeps what failed after it as detail.
          if (rec.panic && (result.failure?.kind === 'assertion' || result.failure?.kind === 'timeout')) {
            result.failure = { kind: 'panic', message: rec.panic, detail: `then: ${result.failure.message}` };
          }
        } else if (rec.panic && result.outcome === 'passed') {
          // The firmware crashed while no command was waiting: still this scenario's failure.
          Object.assign(result, { outcome: 'failed', failure: { kind: 'panic', message: rec.panic } });
        }
        // A firmware device that never tried to connect will not in the next scenario either.
        if (failure instanceof NoAttemptError) lose(failure.message);
        applyBudgets(result, config);
        if (result.outcome === 'failed') firstFailed ??= result.id;
        scenarios.push(result);
        options.board?.report({ type: 'result', result });
      });
    });
  }

  /** Agent mode: reset or hello, clock and credentials before each scenario; an idle device between them. */
  function agentSession(d: Device, l: Lab, p: Pki, deviceId: string, record: (test: Mocha.Test) => ScenarioRecord, lose: (why: string) => void): void {
    const session: RunSession = {
      device: d, lab: l, pki: p, config, deviceId,
      async prepare() {
        if (infrastructureError) throw new DeviceError(infrastructureError);
        // (called once before each repetition of a scenario: session.ts's scenario())
        progress?.repetition(config.repeat);
        try {
          if (target.reset === 'agent') await d.reset(config.commandTimeoutMs);
          else await d.greet(config.helloTimeoutMs);
        } catch (err) {
          // No boot after a reset, no reply to hello: the board is gone (a panic it never came
          // back from, a hung firmware). Each scenario left would wait as long again for nothing.
          if (!interrupted && (err instanceof ExpectTimeoutError || err instanceof DeviceError)) {
            const why = `device ${d.description} stopped answering: ${(err as Error).message}`;
            lose(why);
            throw new DeviceError(why, { cause: err });
          }
          throw err;
        }
        await d.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
        await d.command('heap.release');
        await d.store('ca', 'ca', p.bundle('bundle-current'));
        const own = p.material(`device/${deviceId}`);
        await d.store('cert', 'cert', own.cert);
        await d.store('key', 'key', own.key);
      },
      record,
    };
    setSession(session);
    // A scenario cut off by its timeout may have left a command running on the device. Waiting
    // for it belongs to no scenario's time: a root hook with a timeout of its own.
    const idleMs = config.commandTimeoutMs * 2;
    mocha.suite.beforeEach('hilt: let the device finish what the last scenario left running', async function () {
      this.timeout(idleMs + 1_000);
      try {
        await d.idle(idleMs);
      } catch (err) {
        if (interrupted || !(err instanceof ExpectTimeoutError || err instanceof DeviceError)) throw err;
        // Still busy after every command's own timeout: the device is lost, not the scenario wrong.
        const why = `device ${d.description} stopped answering: ${(err as Error).message}`;
        lose(why);
        throw new DeviceError(why, { cause: err });
      }
    });

  }

  /**
   * Firmware mode: before each scenario the endpoint takes the scenario's behaviour and the device
   * is brought to a known state; after it the endpoint refuses again.
   */
  function firmwareSession(d: FirmwareDevice, l: Lab, endpoint: Endpoint, p: Pki, deviceId: string, record: (test: Mocha.Test) => ScenarioRecord): void {
    const session: FirmwareSession = {
      device: d, lab: l, endpoint, pki: p, config, deviceId, uri: endpoint.url, record,
      async begin(behaviour, boundMs, attempts = 1) {
        if (infrastructureError) throw new DeviceError(infrastructureError);
        const mark = l.attempts.mark();
        followAttempts(l, endpoint, mark, attempts);
        endpoint.serve(behaviour);
        await knownState(d, l, endpoint, mark, boundMs);
      },
      end: () => {
        unfollow();
        endScenario(endpoint);
      },
      knownStateBoundMs: (boundMs) => (target.resetDevice ? TARGET_RESET_MS : 0) + (config.reset?.timeoutMs ?? 0) + (config.reset ? 0 : boundMs),
    };
    setFirmwareSession(session);
  }

  /**
   * A firmware scenario's attempts on the endpoint since `mark` (those it judges), for its
   * progress: how many of the `wanted` it watches, and whether the device is between two (its
   * backoff). Looked at on the same events every firmware wait looks on.
   */
  function followAttempts(l: Lab, endpoint: Endpoint, mark: number, wanted: number): void {
    unfollow();
    if (!progress) return;
    const p = progress;
    let seen = -1;
    let waiting = false;
    const stop = watchEndpoint(l, endpoint, () => {
      const attempts = l.attempts.all.filter((a) => a.id > mark && a.listener === 'endpoint');
      const closed = attempts.length > 0 && attempts.at(-1)!.closed !== null;
      if (attempts.length === seen && closed === waiting) return;
      const changed = attempts.length !== seen;
      seen = attempts.length;
      waiting = closed;
      if (seen > 0) p.attempts(seen, wanted, waiting, changed);
    });
    unfollow = () => {
      stop();
      unfollow = () => {};
    };
  }

  /**
   * The device's known state: the target's own reset (the emulated app, an RTS pulse), else the
   * bench's reset command, else its own next attempt on the endpoint. Each step is bounded.
   */
  async function knownState(d: FirmwareDevice, l: Lab, endpoint: Endpoint, mark: number, boundMs: number): Promise<void> {
    if (target.resetDevice) {
      const reset = await d.whileResetting(() => within(TARGET_RESET_MS, target.resetDevice!()));
      if (reset === 'timeout') throw new DeviceError(`${target.description}: its reset did not finish within ${TARGET_RESET_MS} ms`);
      if (reset) return;
    }
    if (config.reset) {
      await d.whileResetting(() => runResetCommand(config.reset!.command, config.reset!.timeoutMs, resetAbort.signal));
      return;
    }
    await nextAttempt(l, endpoint, mark, boundMs);
  }

  // Every selected scenario is in the report, also those the run never reached, with the reason.
  const reached = new Set(scenarios.map((s) => s.id));
  const bailed = options.bail && firstFailed ? `--bail after ${firstFailed} failed` : null;
  const notRunBecause = interrupted ? `the run was ${interrupted} before this scenario began`
    : stopped ? stopped.message
    : infrastructureError ? infrastructureError
    : bailed ?? (firstFailed ? `${firstFailed} failed before it` : 'the run stopped before it');
  for (const test of selectedTests(mocha)) {
    const id = ids.get(test)!;
    if (reached.has(id)) continue;
    const broken = !interrupted && infrastructureError;
    scenarios.push({
      id, title: test.fullTitle(), file: shownFile(test.file ?? ''),
      outcome: broken ? 'error' : 'skipped', durationMs: 0, repetitions: 0,
      failure: { kind: broken ? 'infrastructure' : 'not-run', message: `not run: ${notRunBecause}` },
      metrics: [], attempts: [], consoleLog: null,
    });
  }

  const ended = new Date();
  const hello = device?.hello ?? null;
  const cutShort = interrupted ?? (stopped ? `stopped: ${stopped.message}` : null) ?? (infrastructureError ? 'device or lab unreachable' : null)
    ?? (bailed && scenarios.some((s) => s.failure?.kind === 'not-run') ? bailed : null);
  const results: RunResults = {
    schema: RESULTS_SCHEMA,
    run: {
      id: runId, hiltVersion: VERSION, target: target.url, ...(target.resolvedPort ? { port: target.resolvedPort } : {}), startedAt: started.toISOString(), endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(), cutShort, infrastructureError, warnings, notes: runNotes, repeat: config.repeat,
      firmware: hello ? {
        project: hello.fw.project, version: hello.fw.version, idf: hello.fw.idf, elfSha256: hello.fw.elf_sha256 ?? null,
        agent: `${hello.agent.name} ${hello.agent.version}`, chip: `${hello.chip.model} rev ${hello.chip.revision}`, mac: hello.chip.mac,
      } : firmwareIdentityOf(firmwareDevice),
      image: options.image ?? null,
      security: hello ? { ...hello.mbedtls } : null,
      fingerprints: fingerprintsOf(pki, lab),
      ...(options.shard ? { shard: options.shard } : {}),
    },
    scenarios,
    totals: totalsOf(scenarios),
  };
  judgeAgainstBaseline(results, config.budgets, options.baseline ?? null);
  // An interrupt while the reports are written does not cut them short: they are bounded.
  await writeReports(results, runDir, options.board ? null : reportRoot);
  stopListening();
  if (stopped && !interrupts.signal) throw stopped;
  if (lostLogs.length > 0) {
    throw new ReportWriteError(`console logs could not be written: ${lostLogs.join(', ')}; the other reports are in ${runDir}`);
  }
  const exitCode = interrupts.signal ? ExitCode.interrupted
    : infrastructureError || results.totals.error > 0 ? ExitCode.unreachable
    : results.totals.failed > 0 || (results.comparison?.regressions ?? 0) > 0 ? ExitCode.failed : ExitCode.ok;
  return { exitCode, runDir, results };
}

/**
 * Each lab host must be an address of this machine (or a name of one): devices reach the lab
 * there, and the server certificates will carry it. One that cannot be bound stops the run
 * before anything starts, as a `hilt broker --host` the lab cannot bind does (exit 2).
 */
export async function checkLabHosts(config: RunConfig): Promise<void> {
  for (const host of config.labHosts) {
    const server = createServer();
    server.unref();
    const bound = new Promise<string | null>((resolve) => {
      server.once('error', (err) => resolve(errnoOf(err)));
      server.listen({ host, port: 0 }, () => resolve(null));
    });
    // Closed once the try is over, also one that binds after the run stopped waiting for it.
    const closed = bound.then(() => new Promise((resolve) => server.close(resolve)));
    // (a name is looked up first: a resolver that never answers must not hang the run)
    const problem = await within(5_000, bound);
    if (problem !== 'timeout') await closed;
    if (problem === null) continue;
    const why = problem === 'timeout' ? 'no answer within 5 s' : problem;
    throw new UsageError(`${config.sources.labHosts ?? 'lab.hosts'}: cannot listen on ${quoted(host)} (${why}): give an address of this machine, ` +
      'or a name of one (the lab listens there, and the server certificates carry it); certs were not changed');
  }
}

/**
 * The configured target, or a usage error that names where it came from (the flag, or the
 * config file and field): the target's own messages speak of "target X", which is either.
 */
export function targetOf(config: RunConfig, url = config.target, source = config.sources.target ?? 'default target'): Target {
  try {
    return resolveTarget(url, { bench: config.bench });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const message = err.message.startsWith('target ') ? `${source}${err.message.slice('target'.length)}` : `${source} ${quoted(url)}: ${err.message}`;
    throw new UsageError(message, { cause: err });
  }
}

/** A scenario as a run plans it, before any board runs it. */
export interface PlannedScenario {
  id: string;
  title: string;
  file: string;
}

/**
 * Mocha colours its lines only on a terminal or when told to (FORCE_COLOR, --color), but its ✔ and
 * ✖ come from picocolors, which also colours whenever CI is set, pipe or not: a CI log would carry
 * escape codes around the ticks alone. The ticks follow mocha's own choice.
 */
function plainTicksWithoutColour(): void {
  const base = Mocha.reporters.Base;
  if (base.useColors) return;
  base.symbols.ok = stripVTControlCharacters(base.symbols.ok);
  base.symbols.err = stripVTControlCharacters(base.symbols.err);
}

/**
 * The scenario files loaded into a new mocha, checked against the target's mode (and, in firmware
 * mode, the config's tuned titles), with every scenario's id. Bad usage stops here (exit 2).
 */
async function loadCatalogue(options: RunOptions, target: Target): Promise<{ mocha: Mocha; ids: Map<Mocha.Test, string> }> {
  const { config } = options;
  const mocha = new Mocha({
    timeout: config.scenarioTimeoutMs, bail: options.bail ?? false, reporter: 'spec',
    // A failing hook fails the scenarios it affects, instead of vanishing from the results
    // (a mocha option its type declarations do not list).
    ...({ failHookAffectedTests: true } as Mocha.MochaOptions),
    ...(options.grep ? { grep: options.grep } : {}),
  });
  plainTicksWithoutColour();
  const files = options.files ?? catalogueFiles(target.mode);
  // An empty firmware catalogue is an empty run, not a mistake: nothing was asked for.
  if (files.length > 0) await loadScenarios(mocha, files, options.grep);
  checkModes(mocha, target);
  if (target.mode === 'firmware' && !options.filesChosen) checkTunedTitles(mocha, config);
  // Ids from the whole catalogue, before a shard leaves out the rest: the same id on every shard.
  const ids = scenarioIds(mocha.suite);
  if (options.shard) keepShard(mocha.suite, ids, options.shard);
  return { mocha, ids };
}

/**
 * The scenarios a run of `options` on `target` selects (its shard's, with --shard), in the order
 * mocha runs them: what a multi-board run splits across its boards before any of them starts.
 */
export async function planScenarios(options: RunOptions, target: Target): Promise<PlannedScenario[]> {
  const { mocha, ids } = await loadCatalogue(options, target);
  return selectedTests(mocha).map((t) => ({ id: ids.get(t)!, title: t.fullTitle(), file: shownFile(t.file ?? '') }));
}

/** Drops every scenario whose id is not in `keep` (a board's part of the catalogue), so mocha neither runs nor lists it. */
function keepOnly(suite: Mocha.Suite, ids: Map<Mocha.Test, string>, keep: Set<string>): void {
  suite.tests = suite.tests.filter((t) => keep.has(ids.get(t)!));
  for (const child of suite.suites) keepOnly(child, ids, keep);
}

/**
 * Agent scenarios command the device; firmware scenarios only watch it. A run whose scenarios do
 * not fit its target's mode stops before anything starts (exit 2), naming the first that does not.
 */
function checkModes(mocha: Mocha, target: Target): void {
  const misfit = selectedTests(mocha).find((t) => (modeOf(t) ?? 'agent') !== target.mode);
  if (!misfit) return;
  const kind = target.mode === 'firmware' ? 'an agent scenario' : 'a firmware scenario';
  const fix = target.mode === 'firmware'
    ? 'firmware targets run firmwareScenario() files (scenarios/firmware/): name those, or use an agent target'
    : 'give a target in firmware mode (?mode=firmware, or emulator:?firmware=app), or name agent scenario files';
  throw new UsageError(`${shownFile(misfit.file ?? '')}: ${quoted(misfit.fullTitle())} is ${kind}, and target ${target.url} is in ${target.mode} mode: ${fix}`);
}

/**
 * hilt.config.json's firmware.scenarios are keyed by scenario title: a misspelt title would leave
 * the scenario at its own bound without a word, so in a firmware run of the whole catalogue (or the
 * config's scenarios) a title no loaded firmware scenario has stops the run (exit 2), naming it.
 */
function checkTunedTitles(mocha: Mocha, config: RunConfig): void {
  const titles = new Set(allTests(mocha.suite).filter((t) => modeOf(t) === 'firmware').map((t) => t.title));
  const unknown = Object.keys(config.firmware.scenarios).find((title) => !titles.has(title));
  if (unknown === undefined) return;
  const lower = unknown.toLowerCase();
  const same = [...titles].filter((t) => t.toLowerCase() === lower);
  const near = same.length ? same : [...titles].filter((t) => t.toLowerCase().includes(lower.slice(0, 8)));
  const hint = near.length ? `did you mean ${near.slice(0, 3).map(quoted).join(' or ')}?`
    : titles.size ? `its firmware scenarios are ${[...titles].slice(0, 5).map(quoted).join(', ')}${titles.size > 5 ? ', ...' : ''}` : 'it loads no firmware scenario';
  throw new UsageError(`hilt.config.json: firmware.scenarios[${quoted(unknown)}] names no firmware scenario of this run: ${hint} (a title is the scenario's own, as scenarios/firmware/README.md lists them)`);
}

/** What to look at when a device of this kind went away mid-run. */
export function lostDeviceHint(kind: string): string {
  switch (kind) {
    case 'serial': return 'check the board\'s power and USB cable';
    case 'rfc2217':
    case 'tcp': return 'check the board, and the server or forwarder in between (ser2net, socat, hilt emulate)';
    case 'qemu': return 'QEMU stopped: its last output is in the console log';
    case 'native': return 'the host agent exited: its last output is in the console log (npx hilt native build rebuilds it)';
    default: return 'the emulated board stopped: see the console log';
  }
}

/** A scenario's console log, named after its id. */
function consoleLogOf(id: string): string {
  return `console/${id.replace('/', '--')}.log`;
}

/**
 * Every scenario's id, decided from the loaded files alone (not from which scenarios a run
 * selects), so runs can be compared: the file's stem and the slug of the full title; a true
 * duplicate within one file gets -2, -3 in the order the file defines them.
 */
function scenarioIds(root: Mocha.Suite): Map<Mocha.Test, string> {
  const ids = new Map<Mocha.Test, string>();
  const taken = new Set<string>();
  for (const test of allTests(root)) {
    const base = `${scenarioStem(test.file ?? 'scenario')}/${slug(test.fullTitle())}`;
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
    taken.add(id);
    ids.set(test, id);
  }
  return ids;
}

/** The tests of a suite in the order mocha runs them: a suite's own tests, then its suites'. */
function allTests(suite: Mocha.Suite): Mocha.Test[] {
  return [...suite.tests, ...suite.suites.flatMap(allTests)];
}

/** The tests a run selects: the full titles mocha's own grep matches ('/re/i' form included). */
function selectedTests(mocha: Mocha): Mocha.Test[] {
  const grep = (mocha.options as { grep?: RegExp }).grep;
  return allTests(mocha.suite).filter((t) => !grep || grep.test(t.fullTitle()));
}

function hookResult(hook: Mocha.Runnable, err: unknown, interrupted: string | null): ScenarioResult {
  const { outcome, failure } = classify(err, interrupted);
  return {
    id: `${scenarioStem(hook.file ?? 'hook')}/hook-${slug(hook.fullTitle())}`, title: hook.fullTitle(),
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

/** What a firmware device's boot lines said about it; null when it printed none (booted long ago, no reset). */
function firmwareIdentityOf(d: FirmwareDevice | null): FirmwareIdentity | null {
  const id = d?.identity;
  if (!id || (id.project === null && id.idf === null && id.elfSha256 === null)) return null;
  const unknown = 'unknown';
  return {
    project: id.project ?? unknown, version: id.version ?? unknown, idf: id.idf ?? unknown, elfSha256: id.elfSha256,
    agent: 'none (firmware mode)', chip: id.chip ?? unknown, mac: id.mac ?? unknown,
  };
}

/** A measured median over its budget fails a scenario that otherwise passed. */
function applyBudgets(result: ScenarioResult, config: RunConfig): void {
  // (relative budgets need the baseline: judged once the run is over, harness/compare/budgets.ts)
  for (const rule of config.budgets.filter((r) => !r.relative)) {
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
