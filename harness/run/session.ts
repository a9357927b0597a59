/**
 * What a scenario gets: the device, the lab, and helpers that connect with the provisioned
 * credentials and record every connect's timing and heap as metrics. `scenario()` wraps mocha's
 * `it`: before each repetition the device is brought to a known state.
 */
import { brandAcrossCopies } from '../errors.ts';
import type { Attempt, Lab } from '../lab/index.ts';
import type { Pki } from '../pki/index.ts';
import type { ArgValue, ConnectResult, HelloReply } from '../protocol/index.ts';
import * as chai from 'chai';
import { ExpectTimeoutError, PanicError, type Device } from '../device/device.ts';
import type { Panic, PanicKind } from '../device/log.ts';
import type { Source } from '../report/model.ts';
import type { RunConfig } from './config.ts';
import { findHeapSplit, type HeapSplit } from './heap-split.ts';

/** A measured value of one repetition. */
export interface Sample {
  metric: string;
  unit: 'ms' | 'B';
  source: Source;
  value: number;
}

/** Everything recorded about one scenario while it runs. */
export interface ScenarioRecord {
  /** Samples of each repetition. */
  samples: Sample[][];
  notes: string[];
  /** The lab's attempt mark when the scenario began: its attempts are those after it. */
  attemptMark: number;
  consoleLog: string | null;
  /** A panic the device printed while the scenario ran, even with no command waiting. */
  panic: string | null;
  /** Firmware scenarios: the reasons of a pass with warnings. */
  warnings: string[];
}

/** The run this process is executing, set by the runner before mocha loads the scenarios. */
export interface RunSession {
  device: Device;
  lab: Lab;
  pki: Pki;
  config: RunConfig;
  deviceId: string;
  /** Brings the device to a known state: reset or hello, clock, credentials. */
  prepare(): Promise<void>;
  /** The record of a scenario (one mocha test). */
  record(test: Mocha.Test): ScenarioRecord;
}

/**
 * The session lives on globalThis: a scenario file in a CommonJS project loads its own copy of
 * this module (tsx's require hook), and both copies must see the same run.
 */
const SESSION = Symbol.for('hilt.run.session');
type WithSession = typeof globalThis & { [SESSION]?: RunSession | null };

export function setSession(s: RunSession | null): void {
  (globalThis as WithSession)[SESSION] = s;
}

export function currentSession(): RunSession {
  const session = (globalThis as WithSession)[SESSION];
  if (!session) throw new Error('no hilt run is in progress: scenarios run under `hilt run`, not plain mocha');
  return session;
}

export type Bundle = 'current' | 'next' | 'transition' | 'rsa';
/** The device's own certificate (CN = its id), or one of the lab's broken device certificates. */
export type Identity = 'device' | 'client-expired' | 'client-rogue' | null;

export interface ConnectOptions {
  /** Connect MQTT over TLS (default) or TLS only. */
  mqtt?: boolean;
  /** The trust bundle the device uses (default: current). */
  trust?: Bundle;
  identity?: Identity;
  clientId?: string;
  skipCn?: boolean;
  timeoutMs?: number;
  /** Any other agent arguments (ciphers, tls, alpn, hold_ms ...). */
  args?: Record<string, ArgValue>;
}

export class ScenarioContext {
  /** Console mark at the start of the last connect: what `printed()` looks at. */
  private since = 0;
  /** The lab's attempt mark at the start of the last connect: what `attempt()` waits after. */
  private attemptMark = 0;
  private readonly provisioned = new Set<string>();
  readonly samples: Sample[] = [];

  constructor(readonly session: RunSession, private readonly rec: ScenarioRecord, private readonly test: Mocha.Test) {}

  /**
   * Once mocha has cut a scenario off, its body may still be running: it must not touch the
   * device or the lab of the scenarios after it.
   */
  private guard(): void {
    if (this.test.timedOut) throw new SkipScenario('the scenario was cut off by its timeout');
  }

  get device(): Device {
    this.guard();
    return this.session.device;
  }
  get lab(): Lab {
    this.guard();
    return this.session.lab;
  }
  get pki(): Pki { return this.session.pki; }
  get hello(): HelloReply { return this.session.device.hello!; }
  get deviceId(): string { return this.session.deviceId; }

  /**
   * Stops the scenario as not applicable to this device (its premise does not hold, e.g. a
   * TLS-version mismatch on a device that speaks both versions), with the reason in the report.
   */
  skip(reason: string): never {
    this.note(`skipped: ${reason}`);
    throw new SkipScenario(reason);
  }

  /** Leaves a line in the report about this scenario (e.g. "hostname check was skipped"). */
  note(text: string): void {
    if (!this.rec.notes.includes(text)) this.rec.notes.push(text);
  }

  private async slot(name: string, kind: 'ca' | 'cert' | 'key', pem: () => string): Promise<string> {
    if (!this.provisioned.has(name)) {
      await this.device.store(name, kind, pem());
      this.provisioned.add(name);
    }
    return name;
  }

  /**
   * Connects the device to a lab listener with the provisioned credentials, and records the
   * result's timing and heap. The broker's record of it comes from `attempt()`.
   */
  async connect(listener: string, options: ConnectOptions = {}): Promise<ConnectResult> {
    const result = await this.send(listener, options);
    this.recordResult(result);
    return result;
  }

  /**
   * Where this connect runs out of heap on this device, found by bisection on the device's own
   * answers (harness/run/heap-split.ts): the low-heap scenarios take their reserves from it. Its
   * probes are not metrics; the heap is released afterwards.
   */
  findHeapSplit(listener: string, options: ConnectOptions = {}): Promise<HeapSplit> {
    return findHeapSplit(this.device, () => this.send(listener, options));
  }

  private async send(listener: string, options: ConnectOptions): Promise<ConnectResult> {
    const l = this.lab.listener(listener);
    const trust = options.trust ?? 'current';
    const ca = trust === 'current' ? 'ca' : await this.slot(`ca-${trust}`, 'ca', () => this.pki.bundle(`bundle-${trust}`));
    const identity = options.identity === undefined ? 'device' : options.identity;
    let credentials: Record<string, string> = {};
    if (identity === 'device') credentials = { cert: 'cert', key: 'key' };
    else if (identity) {
      const m = this.pki.material(identity);
      credentials = { cert: await this.slot(`${identity.slice(7)}-crt`, 'cert', () => m.cert), key: await this.slot(`${identity.slice(7)}-key`, 'key', () => m.key) };
    }
    const host = l.host;
    this.since = this.device.mark();
    this.attemptMark = this.lab.attempts.mark();
    return this.device.connect(options.mqtt === false ? 'tls.connect' : 'mqtt.connect', {
      host: host === '0.0.0.0' ? (this.session.config.labHosts[0] ?? '127.0.0.1') : host,
      port: l.port, ca, ...credentials,
      ...(options.mqtt === false ? {} : { client_id: options.clientId ?? this.deviceId }),
      ...(options.skipCn ? { skip_cn: true } : {}),
      ...(options.timeoutMs ? { timeout_ms: options.timeoutMs } : {}),
      ...options.args,
    });
  }

  /** The broker's record of the last connect to `listener`, once the connection is closed. */
  attempt(listener: string, timeoutMs = 10_000): Promise<Attempt> {
    return this.lab.attempts.next(listener, { after: this.attemptMark, until: 'closed', timeoutMs });
  }

  /** Closes the device's connection and checks that the heap came back to its level. */
  async disconnect(result: ConnectResult): Promise<void> {
    await this.device.command(result.mqtt ? 'mqtt.disconnect' : 'tls.close');
    await this.checkHeapReturned(result);
  }

  /** The device's heap is where it was before `result`'s connect; records the difference. */
  async checkHeapReturned(result: ConnectResult): Promise<void> {
    const { free } = await this.device.command('heap.stats');
    const leak = result.heap.before - free;
    this.samples.push({ metric: 'heap_leak', unit: 'B', source: result.heap.source, value: leak });
    if (leak !== 0) throw new LeakError(`heap did not return to its level: ${leak} B missing after the connection closed`);
  }

  /**
   * Runs `body`, which must crash the device with a panic of `kind`: for a scenario whose point is
   * that a crash happens and is named (a connect task given too little stack). Resolves to the
   * panic once the device has booted again, and the panic is then the scenario's expected end,
   * not its failure. No panic fails the scenario as an assertion; a panic of another kind fails it
   * as that panic. Bounded: by the command's own timeout, then by the command timeout for the boot.
   */
  async expectPanic(kind: PanicKind, body: () => Promise<unknown>): Promise<Panic> {
    const events = this.device.eventMark();
    let panic: PanicError;
    try {
      const answer = await body();
      const what = isConnectResult(answer) ? `: ${answer.connected ? 'connected' : `failed with ${answer.error?.esp_err_name}`}` : '';
      throw new chai.AssertionError(`expected the device to panic (${kind.replace('_', ' ')}), but it answered${what}`);
    } catch (err) {
      if (!(err instanceof PanicError)) throw err;
      panic = err;
    }
    if (panic.panic.kind !== kind) throw panic;
    // Expected: not this scenario's failure (the runner would otherwise name it as the cause of
    // whatever fails next, the wait for the boot included).
    this.rec.panic = null;
    // The reboot's reset line (rst:0xc) reads as an unexpected reset, which ends a wait: it is
    // part of this panic, so the wait for the boot goes on past it.
    const bound = this.session.config.commandTimeoutMs;
    const deadline = performance.now() + bound;
    for (;;) {
      try {
        await this.device.waitEvent('boot', { since: events, timeoutMs: Math.max(0, deadline - performance.now()) });
        break;
      } catch (err) {
        if (err instanceof ExpectTimeoutError) {
          throw new ExpectTimeoutError(`the device panicked as expected (${panic.panic.reason}) but sent no boot event within ${bound} ms after it`);
        }
        if (!(err instanceof PanicError && err.panic.kind === 'unexpected_reset')) throw err;
      }
    }
    this.rec.panic = null;
    this.note(`the device panicked as expected: ${panic.panic.reason}`);
    return panic.panic;
  }

  /** Console lines printed since the last connect began. */
  printedLines(): string[] {
    return this.device.consoleSince(this.since);
  }

  private recordResult(result: ConnectResult): void {
    const t = result.timing;
    for (const metric of ['dns_ms', 'tcp_ms', 'tls_ms', 'mqtt_ms', 'total_ms'] as const) {
      const value = t[metric];
      if (typeof value === 'number') this.samples.push({ metric, unit: 'ms', source: t.source, value });
    }
    this.samples.push({ metric: 'heap_peak_used', unit: 'B', source: result.heap.source, value: result.heap.peak_used });
    // A device that cannot measure its stack leaves it out: no figure, rather than a guess.
    if (result.stack) this.samples.push({ metric: 'stack_peak_used', unit: 'B', source: result.stack.source, value: result.stack.peak_used });
  }
}

function isConnectResult(value: unknown): value is ConnectResult {
  return typeof value === 'object' && value !== null && 'connected' in value && 'error' in value;
}

export class SkipScenario extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SkipScenario';
  }
}
brandAcrossCopies(SkipScenario, 'SkipScenario');

export class LeakError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeakError';
  }
}

/**
 * One scenario: a mocha test whose body runs once per repetition (`--repeat N`), each time from a
 * known device state, with its metrics kept per repetition; the scenario timeout is scaled by N.
 */
/** Which kind of device a scenario is written for, so a run can refuse a mix before it starts. */
export const SCENARIO_MODE = Symbol.for('hilt.scenario.mode');

export function modeOf(test: Mocha.Test): 'agent' | 'firmware' | undefined {
  return (test as Mocha.Test & { [SCENARIO_MODE]?: 'agent' | 'firmware' })[SCENARIO_MODE];
}

export function markMode<T extends Mocha.Test>(test: T, mode: 'agent' | 'firmware'): T {
  Object.defineProperty(test, SCENARIO_MODE, { value: mode });
  return test;
}

export function scenario(title: string, body: (ctx: ScenarioContext) => Promise<void>): Mocha.Test {
  return markMode(agentTest(title, body), 'agent');
}

function agentTest(title: string, body: (ctx: ScenarioContext) => Promise<void>): Mocha.Test {
  return it(title, async function () {
    const s = currentSession();
    const test = this.test as Mocha.Test;
    const rec = s.record(test);
    // The scenario timeout is for one repetition: --repeat 30 gives the scenario thirty times it.
    this.timeout(s.config.scenarioTimeoutMs * s.config.repeat);
    for (let rep = 0; rep < s.config.repeat && !test.timedOut; rep++) {
      await s.prepare();
      const ctx = new ScenarioContext(s, rec, test);
      try {
        await body(ctx);
      } catch (err) {
        if (err instanceof SkipScenario) return test.timedOut ? undefined : this.skip();
        throw err;
      } finally {
        rec.samples.push(ctx.samples);
      }
    }
  });
}
