/**
 * Firmware scenarios: the device runs its own application and is never sent a command. Each
 * scenario sets what the endpoint does, brings the device to a known state, and judges what the
 * endpoint recorded (and the console printed). `firmwareScenario()` wraps mocha's `it`.
 */
import { brandAcrossCopies } from '../errors.ts';
import { DeviceError, PanicError } from '../device/device.ts';
import type { FirmwareDevice } from '../device/firmware.ts';
import type { Attempt, Endpoint, EndpointBehaviour, Lab } from '../lab/index.ts';
import type { Pki } from '../pki/index.ts';
import type { RunConfig } from './config.ts';
import { markMode, SkipScenario, type ScenarioRecord } from './session.ts';

/** How long a firmware scenario waits for the device unless its spec or the config says otherwise. */
export const DEFAULT_BOUND_MS = 60_000;

export interface FirmwareSpec {
  endpoint: EndpointBehaviour;
  /** ms the scenario may wait in total for the device (hilt.config.json firmware.scenarios overrides). */
  boundMs?: number;
  /** How many attempts the scenario watches (e.g. reconnects for a backoff verdict). */
  attempts?: number;
}

/** The firmware run this process is executing. */
export interface FirmwareSession {
  device: FirmwareDevice;
  lab: Lab;
  endpoint: Endpoint;
  pki: Pki;
  config: RunConfig;
  deviceId: string;
  /** The broker URI the device was told to use (its test build's, or the emulated app's settings). */
  uri: string;
  /**
   * Serves `behaviour` and brings the device to a known state, bounded by `boundMs` when it must
   * wait for the device; `attempts`: how many the scenario watches (for the run's progress).
   */
  begin(behaviour: EndpointBehaviour, boundMs: number, attempts?: number): Promise<void>;
  /** Back to refusing: the device's retries do not leak into the next scenario. */
  end(): void;
  record(test: Mocha.Test): ScenarioRecord;
  /** How long the known-state step may take at most (mocha's timeout is set from it). */
  knownStateBoundMs(boundMs: number): number;
}

const SESSION = Symbol.for('hilt.run.firmware-session');
type WithSession = typeof globalThis & { [SESSION]?: FirmwareSession | null };

export function setFirmwareSession(s: FirmwareSession | null): void {
  (globalThis as WithSession)[SESSION] = s;
}

export function firmwareSessionOrNull(): FirmwareSession | null {
  return (globalThis as WithSession)[SESSION] ?? null;
}

function currentFirmwareSession(): FirmwareSession {
  const session = firmwareSessionOrNull();
  if (session) return session;
  throw new DeviceError('this is a firmware scenario: run it against a target in firmware mode (e.g. --target "serial:/dev/ttyUSB0?mode=firmware" or emulator:?firmware=app)');
}

/** Attempts on the endpoint after `mark`; on the other listeners (a device pointed at the wrong port) apart. */
function endpointAttempts(lab: Lab, mark: number): Attempt[] {
  return lab.attempts.all.filter((a) => a.id > mark && a.listener === 'endpoint');
}

/** Connections to the lab's profile listeners since `mark`: a firmware device should make none. */
export function strayAttempts(lab: Lab, mark: number): Attempt[] {
  return lab.attempts.all.filter((a) => a.id > mark && a.listener !== 'endpoint');
}

export function describeStray(stray: Attempt[]): string {
  const ports = [...new Set(stray.map((a) => `${a.port} (listener ${a.listener})`))];
  return `the device connected to port ${ports.join(', ')} instead of the endpoint: its broker URI names the wrong port`;
}

/** The device made no attempt on the endpoint at all: the bench's problem (exit 3), and the run's end. */
export class NoAttemptError extends DeviceError {
  constructor(message: string) {
    super(message);
    this.name = 'NoAttemptError';
  }
}
brandAcrossCopies(NoAttemptError, 'NoAttemptError');

/** Why no attempt came, naming the URI the device was told to use, and a wrong port it used instead. */
/**
 * Calls `look` now and whenever the endpoint's records change (an attempt settles or closes, a
 * packet passes): every wait on a firmware device is a look at the records on these events.
 * Returns the unsubscribe.
 */
export function watchEndpoint(lab: Lab, endpoint: Endpoint, look: () => void): () => void {
  lab.attempts.on('settled', look);
  lab.attempts.on('closed', look);
  endpoint.events.on('packet', look);
  look();
  return () => {
    lab.attempts.off('settled', look);
    lab.attempts.off('closed', look);
    endpoint.events.off('packet', look);
  };
}

export function noAttempt(lab: Lab, uri: string, mark: number, ms: number): NoAttemptError {
  const stray = strayAttempts(lab, mark);
  return new NoAttemptError(`the device made no connection attempt to the endpoint within ${ms} ms: it was told to use ${uri}` +
    (stray.length > 0 ? `; ${describeStray(stray)}` : ': check the broker URI its test build has (hilt endpoint), its network, and that it runs'));
}

/**
 * The endpoint's broker (aedes) speaks MQTT 3.1.1 and answers an MQTT 5 CONNECT with CONNACK 1:
 * every MQTT verdict on such a device would blame the firmware for the bench's limit.
 */
function mqtt5(attempt: Attempt): DeviceError {
  return new DeviceError(`the device connects with MQTT 5 (attempt ${attempt.id}), and hilt's endpoint speaks MQTT 3.1.1 only: ` +
    'build the test firmware with CONFIG_MQTT_PROTOCOL_311 (esp-mqtt\'s default) to run the firmware catalogue');
}

export class FirmwareContext {
  /** When the scenario began (after the known state): `bound` counts from here. */
  private readonly started = Date.now();
  private readonly consoleMark: number;

  constructor(
    private readonly session: FirmwareSession,
    private readonly rec: ScenarioRecord,
    private readonly test: Mocha.Test,
    readonly bound: number,
    readonly attemptsWanted: number,
    private readonly attemptMark: number,
  ) {
    this.consoleMark = session.device.mark();
  }

  private guard(): void {
    if (this.test.timedOut) throw new SkipScenario('the scenario was cut off by its timeout');
  }

  get endpoint(): Endpoint {
    this.guard();
    return this.session.endpoint;
  }
  get deviceId(): string { return this.session.deviceId; }
  get pki(): Pki { return this.session.pki; }
  get device(): FirmwareDevice { return this.session.device; }

  /** Endpoint attempts since the scenario began. */
  attempts(): Attempt[] {
    return endpointAttempts(this.session.lab, this.attemptMark);
  }

  /**
   * Waits until `check(attempts)` gives a value, looking again whenever an attempt settles or
   * closes or a packet passes the endpoint; bounded by what is left of `bound` unless told. A
   * device that made no attempt at all is the bench's problem (a DeviceError naming the URI it was
   * told to use), not a verdict; a panic on the console ends the wait as the firmware's failure.
   */
  until<T>(what: string, check: (attempts: Attempt[]) => T | undefined, timeoutMs?: number): Promise<T> {
    this.guard();
    const { lab, endpoint, device } = this.session;
    const ms = Math.max(0, timeoutMs ?? this.bound - (Date.now() - this.started));
    return new Promise<T>((resolve, reject) => {
      const look = () => {
        if (this.test.timedOut) return done(() => reject(new SkipScenario('the scenario was cut off by its timeout')));
        let found: T | undefined;
        try {
          const attempts = this.attempts();
          const v5 = attempts.find((a) => a.mqtt?.protocolVersion === 5);
          if (v5) return done(() => reject(mqtt5(v5)));
          found = check(attempts);
        } catch (err) {
          return done(() => reject(err));
        }
        if (found !== undefined) done(() => resolve(found as T));
      };
      const onPanic = (panic: PanicError['panic']) => done(() => reject(new PanicError(panic)));
      const onGone = () => done(() => reject(new DeviceError(`${device.description} went away while waiting for ${what}`)));
      // Named by the scenario's bound (the wait may have begun part-way through it) or the wait's own.
      const timer = setTimeout(() => done(() => reject(this.timeoutError(what, timeoutMs ?? this.bound))), ms);
      let stopWatching = () => {};
      let over = false;
      const done = (settle: () => void) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        stopWatching();
        device.off('panic', onPanic);
        device.off('failure', onGone);
        settle();
      };
      device.on('panic', onPanic);
      device.on('failure', onGone);
      // The first look may already settle the wait, before the unsubscribe is at hand.
      const stop = watchEndpoint(lab, endpoint, look);
      if (over) stop();
      else stopWatching = stop;
    });
  }

  private timeoutError(what: string, ms: number): Error {
    const { lab, uri } = this.session;
    const stray = strayAttempts(lab, this.attemptMark);
    if (stray.length > 0) this.note(describeStray(stray));
    const seen = this.attempts();
    if (seen.length === 0) return noAttempt(lab, uri, this.attemptMark, ms);
    return new Error(`${what}: not seen within ${ms} ms (${seen.length} attempt${seen.length === 1 ? '' : 's'} on the endpoint)`);
  }

  /** Pass with warnings: the scenario passes, and the reason reaches every report. */
  warn(text: string): void {
    if (!this.rec.warnings.includes(text)) this.rec.warnings.push(text);
  }

  note(text: string): void {
    if (!this.rec.notes.includes(text)) this.rec.notes.push(text);
  }

  skip(reason: string): never {
    this.note(`skipped: ${reason}`);
    throw new SkipScenario(reason);
  }

  /** Device console lines since the scenario began. */
  console(): string[] {
    return this.session.device.consoleSince(this.consoleMark);
  }
}

/** A per-scenario setting from hilt.config.json, by the scenario's title (own keys only). */
function tuned(config: RunConfig, title: string): { boundMs?: number; attempts?: number } {
  return Object.hasOwn(config.firmware.scenarios, title) ? config.firmware.scenarios[title]! : {};
}

/**
 * One firmware scenario: the endpoint serves `spec.endpoint`, the device is brought to a known
 * state, and `body` judges what happens. Runs once (a firmware device's timing is its own; --repeat
 * does not apply). Its bound and attempt count come from hilt.config.json, else the spec.
 */
export function firmwareScenario(title: string, spec: FirmwareSpec, body: (ctx: FirmwareContext) => Promise<void>): Mocha.Test {
  return markMode(firmwareTest(title, spec, body), 'firmware');
}

function firmwareTest(title: string, spec: FirmwareSpec, body: (ctx: FirmwareContext) => Promise<void>): Mocha.Test {
  return it(title, async function () {
    const s = currentFirmwareSession();
    const test = this.test as Mocha.Test;
    const rec = s.record(test);
    const own = tuned(s.config, title);
    const bound = own.boundMs ?? spec.boundMs ?? DEFAULT_BOUND_MS;
    const attemptsWanted = own.attempts ?? spec.attempts ?? 1;
    // The known-state step and the body each have their own bound; mocha's is the sum and a margin.
    this.timeout(s.knownStateBoundMs(bound) + bound + 5_000);
    try {
      const mark = s.lab.attempts.mark();
      await s.begin(spec.endpoint, bound, attemptsWanted);
      const ctx = new FirmwareContext(s, rec, test, bound, attemptsWanted, mark);
      rec.samples.push([]);
      await body(ctx);
    } catch (err) {
      if (err instanceof SkipScenario) return test.timedOut ? undefined : this.skip();
      throw err;
    } finally {
      s.end();
    }
  });
}

