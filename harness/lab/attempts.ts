/**
 * Attempts: one record per connection a listener saw, from TCP accept to close, and the means to
 * await them. A record is filled in as the connection goes (TLS, CONNECT, CONNACK, close); it is
 * "settled" once its outcome is known and "closed" once the socket is gone.
 */
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { HiltError, ExitCode } from '../errors.ts';
import type { ClientHelloRecord } from './clienthello.ts';

export type { ClientHelloRecord };

export type TlsOutcome =
  /** Handshake done, and the client certificate (if asked for) accepted. */
  | 'ok'
  /** The handshake failed; `reason` says why (OpenSSL's words, or the peer's alert). */
  | 'failed'
  /** The handshake completed but the lab refused the client certificate and closed. */
  | 'refused'
  /** A stall listener: the lab never answered. */
  | 'stalled'
  /** The endpoint was between scenarios: it answered the ClientHello with a handshake_failure alert. */
  | 'refused-idle';

export interface ClientCertificate {
  subject: string;
  issuer: string;
  sha256: string;
}

export interface TlsRecord {
  outcome: TlsOutcome;
  /** e.g. "no shared cipher", "unsupported protocol", "CERT_HAS_EXPIRED", "no client certificate". */
  reason: string | null;
  /** Node/OpenSSL code, e.g. ERR_SSL_NO_SHARED_CIPHER, CERT_HAS_EXPIRED. */
  code: string | null;
  protocol: string | null;
  cipher: string | null;
  clientCertificate: ClientCertificate | null;
  handshakeMs: number | null;
}

export interface MqttRecord {
  clientId: string;
  keepalive: number;
  clean: boolean;
  protocolVersion: number;
  username: string | null;
  /** CONNACK return code sent, null if none was sent. */
  connack: number | null;
}

export interface CloseRecord {
  at: string;
  /** Milliseconds from TCP accept to close. */
  afterMs: number;
  by: 'device' | 'lab';
  reason: string;
}

/** The TLS alert a device sent (read off the wire, or from OpenSSL's error when it was encrypted). */
export interface DeviceAlert {
  from: 'device';
  level: 'warning' | 'fatal';
  /** RFC 8446 AlertDescription, e.g. 45. */
  number: number;
  /** e.g. "certificate_expired". */
  name: string;
}

/** One MQTT packet the endpoint saw, either way. */
export interface PacketRecord {
  /** in: device -> endpoint; out: endpoint -> device. */
  dir: 'in' | 'out';
  /** Milliseconds since the attempt's TCP accept. */
  atMs: number;
  /** 'connect' 'connack' 'publish' 'puback' 'subscribe' 'suback' 'pingreq' 'pingresp' 'disconnect' ... */
  type: string;
  id?: number;
  qos?: number;
  dup?: boolean;
  retain?: boolean;
  topic?: string;
  /** The whole packet on the wire (fixed header included). */
  bytes: number;
  /** CONNECT */
  clientId?: string;
  keepalive?: number;
  clean?: boolean;
  /** CONNACK */
  returnCode?: number;
  sessionPresent?: boolean;
  /** out: the broker produced it, the endpoint's behaviour kept it from the device. */
  withheld?: boolean;
  /** SUBSCRIBE / UNSUBSCRIBE filters. */
  topics?: string[];
}

export interface Attempt {
  id: number;
  listener: string;
  port: number;
  peer: { address: string; port: number };
  startedAt: string;
  /** null on a plain listener. */
  tls: TlsRecord | null;
  mqtt: MqttRecord | null;
  /**
   * Bytes on the wire from the device and to it (TCP payload, so TLS records and handshakes
   * count): as of when the record settled, then final once it closed.
   */
  bytesReceived: number;
  bytesSent: number;
  closed: CloseRecord | null;
  /** Endpoint only: the ClientHello as the device sent it, read before TLS took the socket. */
  clientHello?: ClientHelloRecord | null;
  /** Endpoint only: the TLS alert the device sent, or null when it sent none. */
  alert?: DeviceAlert | null;
  /**
   * Endpoint only: how the connection ended, seen from the side that ended it: 'alert' (a fatal
   * TLS alert, then the close: the device's, or the endpoint's refusal between scenarios), 'rst'
   * (a reset from the device), 'fin' (a plain close).
   */
  closedHow?: 'fin' | 'rst' | 'alert' | null;
  /** Endpoint only: every MQTT packet, both ways, in order. */
  packets?: PacketRecord[];
}

/** What counts a connection's bytes: a net.Socket (for TLS, the TCP socket beneath it). */
export interface WireCounter {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

interface Tracked {
  record: Attempt;
  started: number;
  settled: boolean;
  wire: WireCounter | null;
}

export class AttemptTimeoutError extends HiltError {
  constructor(message: string) {
    super(message, ExitCode.unreachable);
    this.name = 'AttemptTimeoutError';
  }
}

export interface NextOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** 'settled' (default): outcome known. 'closed': the connection is gone too. */
  until?: 'settled' | 'closed';
  /** Only attempts with an id above this (see `mark()`); default: after the last one returned. */
  after?: number;
}

/**
 * Every attempt of one lab. Listeners report into it; scenarios await from it. Events:
 * 'settled' and 'closed', each with the record.
 */
export class Attempts extends EventEmitter {
  private readonly tracked: Tracked[] = [];
  private readonly byRecord = new Map<Attempt, Tracked>();
  private readonly cursor = new Map<string, number>();
  private readonly waiting = new Set<(reason: Error) => void>();
  private lastId = 0;

  /** All records so far, oldest first. */
  get all(): Attempt[] {
    return this.tracked.map((t) => t.record);
  }

  /** The id of the newest attempt: pass as `after` to wait only for attempts that start later. */
  mark(): number {
    return this.lastId;
  }

  open(listener: string, port: number, peer: { address?: string; port?: number }, wire: WireCounter | null = null): Attempt {
    const record: Attempt = {
      id: ++this.lastId, listener, port,
      peer: { address: peer.address ?? 'unknown', port: peer.port ?? 0 },
      startedAt: new Date().toISOString(), tls: null, mqtt: null, bytesReceived: 0, bytesSent: 0, closed: null,
    };
    const t = { record, started: performance.now(), settled: false, wire };
    this.tracked.push(t);
    this.byRecord.set(record, t);
    return record;
  }

  /** Milliseconds since the attempt's TCP accept. */
  elapsed(record: Attempt): number {
    return Math.round((performance.now() - this.find(record).started) * 10) / 10;
  }

  /** Marks the outcome known (TLS failed or refused, stall, CONNACK sent). Idempotent. */
  settle(record: Attempt): void {
    const t = this.find(record);
    if (t.settled) return;
    t.settled = true;
    this.count(t);
    this.emit('settled', record);
  }

  close(record: Attempt, by: CloseRecord['by'], reason: string): void {
    if (record.closed) return;
    record.closed = { at: new Date().toISOString(), afterMs: this.elapsed(record), by, reason };
    this.settle(record);
    this.count(this.find(record));
    this.emit('closed', record);
  }

  /**
   * The next attempt on `listener`, once it is settled (or closed). Attempts already seen count,
   * so a caller may connect first and ask afterwards.
   */
  next(listener: string, options: NextOptions = {}): Promise<Attempt> {
    const { timeoutMs = 10_000, until = 'settled' } = options;
    const after = options.after ?? this.cursor.get(listener) ?? 0;
    const ready = (t: Tracked) => (until === 'closed' ? t.record.closed !== null : t.settled);
    const candidate = () => this.tracked.find((t) => t.record.listener === listener && t.record.id > after);
    return new Promise((resolve, reject) => {
      const check = () => {
        const t = candidate();
        if (!t || !ready(t)) return false;
        cleanup();
        this.cursor.set(listener, Math.max(this.cursor.get(listener) ?? 0, t.record.id));
        resolve(t.record);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const t = candidate();
        reject(new AttemptTimeoutError(t
          ? `listener ${listener}: attempt ${t.record.id} not ${until} within ${timeoutMs} ms`
          : `listener ${listener}: no connection attempt within ${timeoutMs} ms`));
      }, timeoutMs);
      const cancel = (reason: Error) => {
        cleanup();
        reject(reason);
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.off('settled', check);
        this.off('closed', check);
        this.waiting.delete(cancel);
      };
      this.waiting.add(cancel);
      if (check()) return;
      this.on('settled', check);
      this.on('closed', check);
    });
  }

  /** Fails every next() still waiting (the lab is closing: nothing more will come). */
  cancelWaits(reason: string): void {
    for (const cancel of [...this.waiting]) cancel(new AttemptTimeoutError(reason));
  }

  /**
   * Writes each attempt as one JSON line (`{"type":"attempt",...}`) when it closes. Returns a
   * function that stops it.
   */
  writeJsonLines(out: Writable): () => void {
    const write = (record: Attempt) => out.write(`${JSON.stringify({ type: 'attempt', ...record })}\n`);
    this.on('closed', write);
    return () => this.off('closed', write);
  }

  private count(t: Tracked): void {
    if (!t.wire) return;
    t.record.bytesReceived = t.wire.bytesRead;
    t.record.bytesSent = t.wire.bytesWritten;
  }

  private find(record: Attempt): Tracked {
    const t = this.byRecord.get(record);
    if (!t) throw new Error(`attempt ${record.id} is not tracked here`);
    return t;
  }
}
