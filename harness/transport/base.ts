/**
 * The lifecycle every transport shares, so each concrete transport only says how to open, write
 * and release its own kind of endpoint. The states are idle -> opening -> open -> closing ->
 * closed; a failed or timed-out open returns to idle (a USB port that is not there yet may be
 * there on the next try), a transport that has been open is never reopened (make a new one).
 *
 * Nothing here emits 'error': an EventEmitter 'error' with no listener would crash the run, and a
 * device layer has nothing to do with one that 'close' (with its reason) does not already say.
 */
import { EventEmitter } from 'node:events';
import { errnoOf } from '../errors.ts';
import { TransportError, type CloseInfo, type Transport, type TransportCapabilities, type TransportKind } from './transport.ts';

type State = 'idle' | 'opening' | 'open' | 'closing' | 'closed';

// Shared with the rest of hilt; re-exported for the transports that import it from here.
export { settleWithin } from '../time.ts';
import { settleWithin } from '../time.ts';

/** Makes a message safe for one line: multi-line system text (stderr, serialport) is folded. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' | ').trim();
}

export abstract class BaseTransport extends EventEmitter implements Transport {
  abstract readonly kind: TransportKind;
  abstract readonly description: string;
  readonly capabilities: TransportCapabilities = { lineControl: false, baudRate: false };

  private state: State = 'idle';
  private opening: Promise<void> | null = null;
  private abortOpen: AbortController | null = null;
  private closing: Promise<void> | null = null;
  /** Bytes that arrived while open() had not yet resolved: delivered at the moment it does. */
  private early: Buffer[] = [];
  /** The peer went away during open(): the open fails with this reason. */
  private lostWhileOpening: string | null = null;
  /** Rejecters of writes in flight, failed at once when the transport ends. */
  private readonly inFlight = new Set<(err: TransportError) => void>();

  constructor(private readonly openTimeoutMs: number) {
    super();
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Establishes the endpoint; must give up promptly (and release what it made) when `signal` aborts. */
  protected abstract doOpen(signal: AbortSignal): Promise<void>;
  /** Hands bytes to the OS; resolves when the endpoint's write callback says so. */
  protected abstract doWrite(data: Buffer): Promise<void>;
  /** Releases everything (idempotent, safe after the peer went away); must itself be bounded. */
  protected abstract doClose(): Promise<void>;
  /** The open() failure when the endpoint did not answer in time. */
  protected abstract openTimeoutMessage(ms: number): string;
  /** How long handing `bytes` to the OS may take before write() gives up. */
  protected writeBoundMs(_bytes: number): number {
    return 10_000;
  }

  open(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.opening) return this.opening;
    if (this.state !== 'idle') {
      return Promise.reject(new TransportError(`${this.description} is closed: a transport opens once, make a new one to reconnect`));
    }
    this.state = 'opening';
    this.lostWhileOpening = null;
    const abort = new AbortController();
    this.abortOpen = abort;
    const timer = setTimeout(() => abort.abort(new TransportError(this.openTimeoutMessage(this.openTimeoutMs))), this.openTimeoutMs);
    this.opening = (async () => {
      try {
        await this.doOpen(abort.signal);
        if (abort.signal.aborted) throw abort.signal.reason;
        if (this.lostWhileOpening !== null) throw new TransportError(`${this.description} went away while opening: ${this.lostWhileOpening}`);
      } catch (err) {
        this.early = [];
        await settleWithin(5_000, this.doClose());
        if (this.state === 'opening') this.state = 'idle';
        throw err instanceof TransportError ? err : new TransportError(`cannot open ${this.description} (${oneLine(errnoOf(err))})`, { cause: err });
      } finally {
        clearTimeout(timer);
        this.opening = null;
        this.abortOpen = null;
      }
      this.state = 'open';
      for (const chunk of this.early.splice(0)) this.emit('data', chunk);
    })();
    return this.opening;
  }

  async write(data: string | Buffer): Promise<void> {
    if (this.state !== 'open') {
      const why = this.state === 'idle' || this.state === 'opening' ? 'it is not open yet: await open() first' : 'it is closed';
      throw new TransportError(`cannot write to ${this.description}: ${why}`);
    }
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length === 0) return;
    const boundMs = this.writeBoundMs(bytes.length);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new TransportError(
        `${this.description} did not take ${bytes.length} bytes within ${boundMs} ms: the device is not reading (flow control, or a stuck peer)`,
      )), boundMs);
      const fail = (err: TransportError) => {
        clearTimeout(timer);
        this.inFlight.delete(fail);
        reject(err);
      };
      this.inFlight.add(fail);
      this.doWrite(bytes).then(() => {
        if (!this.inFlight.has(fail)) return;
        clearTimeout(timer);
        this.inFlight.delete(fail);
        resolve();
      }, (err: unknown) => fail(new TransportError(
        `write to ${this.description} failed (${oneLine(errnoOf(err))}): the device went away or the transport is closing`, { cause: err },
      )));
    });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.state === 'idle' || this.state === 'closed') {
      this.state = 'closed';
      return Promise.resolve();
    }
    if (this.state === 'opening') {
      this.abortOpen?.abort(new TransportError(`${this.description} was closed while opening`));
      const opening = this.opening;
      this.state = 'closed';
      this.closing = opening ? opening.then(() => undefined, () => undefined) : Promise.resolve();
      return this.closing;
    }
    return this.finish({ expected: true, reason: `closed by hilt` });
  }

  /** Bytes from the device, in arrival order. */
  protected received(chunk: Buffer): void {
    if (this.state === 'open') this.emit('data', chunk);
    else if (this.state === 'opening') this.early.push(chunk);
  }

  /** The peer went away (cable, process exit, reset socket): ends the transport, unexpectedly. */
  protected lost(reason: string): void {
    if (this.state === 'opening') this.lostWhileOpening ??= reason;
    if (this.state === 'open') void this.finish({ expected: false, reason: oneLine(reason) });
  }

  /** Releases, then says 'close' once; a close() during the release gets the same promise. */
  private finish(info: CloseInfo): Promise<void> {
    this.state = 'closing';
    const gone = new TransportError(`cannot finish writing to ${this.description}: it closed (${info.reason})`);
    for (const fail of [...this.inFlight]) fail(gone);
    this.closing = (async () => {
      await settleWithin(10_000, this.doClose());
      this.state = 'closed';
      this.emit('close', info);
    })();
    return this.closing;
  }
}
