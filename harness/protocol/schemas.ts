/**
 * The shapes of v1 replies and events: TypeScript interfaces for code, and the same shapes as
 * data for checking what a device actually sent. A check names the first field that is missing
 * or of the wrong type by its path, and ignores fields it does not know, because a later protocol
 * version may add fields and a host must not refuse them.
 */
import { PROTO_VERSION } from './codec.ts';

// ---------------------------------------------------------------------------------------------
// Types

export interface HeapStats {
  free: number;
  min_free: number;
  largest: number;
}

export interface HelloReply {
  proto: number;
  agent: { name: string; version: string };
  /** elf_sha256 is null when the firmware does not know it (the emulator). */
  fw: { project: string; version: string; idf: string; elf_sha256: string | null };
  chip: { model: string; revision: number; cores: number; mac: string };
  mbedtls: {
    version: string;
    have_time_date: boolean;
    in_content_len: number;
    out_content_len: number;
    dynamic_buffer: boolean;
    tls13: boolean;
    ciphersuites: string[];
  };
  heap: HeapStats;
  time: TimeReply;
}

export interface TimeReply {
  epoch: number;
  synced: boolean;
}

export interface StoreReply {
  slot: string;
  /** Bytes received so far; the whole size once complete. */
  bytes: number;
  complete: boolean;
}

export interface StoreDelReply {
  slot: string;
}

export interface StoreListReply {
  slots: { slot: string; kind: string; bytes: number; sha256: string }[];
}

export interface HeapReserveReply {
  reserved: number;
  free: number;
}

export interface HeapReleaseReply {
  free: number;
}

export type Source = 'device' | 'model' | 'host';

export interface TlsInfo {
  version: string;
  cipher: string;
  alpn: string | null;
  /** The server's certificate, when it sent one. */
  peer: { subject: string; issuer: string; sha256: string } | null;
}

export interface ConnectError {
  esp_err: number;
  esp_err_name: string;
  /** Positive, as esp-tls stores it (0x2700 = 9984); 0 when the stack reported nothing. */
  stack_err: number;
  stack_err_name: string | null;
  verify_flags: number;
  verify_info: string[];
  mqtt_error_type: 'TCP_TRANSPORT' | 'CONNECTION_REFUSED' | null;
  connack: number | null;
  sock_errno: number;
}

/** Milliseconds per phase; null for a phase the attempt never reached (or, mqtt_ms, has not). */
export interface Timing {
  dns_ms: number | null;
  tcp_ms: number | null;
  tls_ms: number | null;
  mqtt_ms: number | null;
  total_ms: number;
  source: Source;
}

export interface HeapUse {
  before: number;
  min: number;
  after: number;
  peak_used: number;
  source: Source;
}

export interface ConnectResult {
  connected: boolean;
  /** null when the handshake never got as far as the server's hello. */
  tls: TlsInfo | null;
  /** null when connected. */
  error: ConnectError | null;
  timing: Timing;
  heap: HeapUse;
  /** mqtt.connect only; null on tls.connect, or when no CONNACK came. */
  mqtt: { session_present: boolean; connack: number } | null;
}

export interface PublishReply {
  acked: boolean;
  ms: number;
}

export interface SubscribeReply {
  /** The QoS the broker granted, or 128 (0x80) for a refused subscription. */
  granted: number;
}

export type EmptyReply = Record<string, never>;

export interface BootEvent {
  proto: number;
  reason: string;
}

export interface MqttMessageEvent {
  topic: string;
  qos: number;
  /** base64 */
  payload: string;
}

export interface MqttDisconnectedEvent {
  reason: string;
}

/** The ok reply of each command (reset has none guaranteed). */
export interface Replies {
  hello: HelloReply;
  'time.set': TimeReply;
  'time.clear': TimeReply;
  'store.put': StoreReply;
  'store.del': StoreDelReply;
  'store.list': StoreListReply;
  'heap.stats': HeapStats;
  'heap.reserve': HeapReserveReply;
  'heap.release': HeapReleaseReply;
  'tls.connect': ConnectResult;
  'tls.close': EmptyReply;
  'mqtt.connect': ConnectResult;
  'mqtt.publish': PublishReply;
  'mqtt.subscribe': SubscribeReply;
  'mqtt.disconnect': EmptyReply;
}

export interface Events {
  boot: BootEvent;
  'mqtt.message': MqttMessageEvent;
  'mqtt.disconnected': MqttDisconnectedEvent;
}

// ---------------------------------------------------------------------------------------------
// The same shapes as data

type Shape =
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'strings'
  | { readonly oneOf: readonly string[] }
  /** absentIsNull: the field may also be left out, and reads as null (see where it is used). */
  | { readonly nullable: Shape; readonly absentIsNull?: true }
  | { readonly items: Shape }
  | { readonly fields: Readonly<Record<string, Shape>> };

const nullable = (shape: Shape): Shape => ({ nullable: shape });
const fields = (f: Record<string, Shape>): Shape => ({ fields: f });
const SOURCE: Shape = { oneOf: ['device', 'model', 'host'] };

const HEAP_STATS = fields({ free: 'integer', min_free: 'integer', largest: 'integer' });
const TIME = fields({ epoch: 'integer', synced: 'boolean' });

const HELLO = fields({
  proto: 'integer',
  agent: fields({ name: 'string', version: 'string' }),
  // PROTOCOL.md marks elf_sha256 optional ("elf_sha256?"): absent reads as null.
  fw: fields({ project: 'string', version: 'string', idf: 'string', elf_sha256: { nullable: 'string', absentIsNull: true } }),
  chip: fields({ model: 'string', revision: 'integer', cores: 'integer', mac: 'string' }),
  mbedtls: fields({
    version: 'string', have_time_date: 'boolean', in_content_len: 'integer', out_content_len: 'integer',
    dynamic_buffer: 'boolean', tls13: 'boolean', ciphersuites: 'strings',
  }),
  heap: HEAP_STATS,
  time: TIME,
});

const CONNECT_RESULT = fields({
  connected: 'boolean',
  tls: nullable(fields({
    version: 'string', cipher: 'string', alpn: nullable('string'),
    peer: nullable(fields({ subject: 'string', issuer: 'string', sha256: 'string' })),
  })),
  error: nullable(fields({
    esp_err: 'integer', esp_err_name: 'string', stack_err: 'integer', stack_err_name: nullable('string'),
    verify_flags: 'integer', verify_info: 'strings',
    mqtt_error_type: nullable({ oneOf: ['TCP_TRANSPORT', 'CONNECTION_REFUSED'] }),
    connack: nullable('integer'), sock_errno: 'integer',
  })),
  timing: fields({
    dns_ms: nullable('number'), tcp_ms: nullable('number'), tls_ms: nullable('number'), mqtt_ms: nullable('number'),
    total_ms: 'number', source: SOURCE,
  }),
  heap: fields({ before: 'integer', min: 'integer', after: 'integer', peak_used: 'integer', source: SOURCE }),
  // The command table gives mqtt only to mqtt.connect's result, so a tls.connect result may omit it.
  mqtt: { nullable: fields({ session_present: 'boolean', connack: 'integer' }), absentIsNull: true },
});

const EMPTY = fields({});

const REPLY_SHAPES: { readonly [C in keyof Replies]: Shape } = {
  hello: HELLO,
  'time.set': TIME,
  'time.clear': TIME,
  'store.put': fields({ slot: 'string', bytes: 'integer', complete: 'boolean' }),
  'store.del': fields({ slot: 'string' }),
  'store.list': fields({ slots: { items: fields({ slot: 'string', kind: 'string', bytes: 'integer', sha256: 'string' }) } }),
  'heap.stats': HEAP_STATS,
  'heap.reserve': fields({ reserved: 'integer', free: 'integer' }),
  'heap.release': fields({ free: 'integer' }),
  'tls.connect': CONNECT_RESULT,
  'tls.close': EMPTY,
  'mqtt.connect': CONNECT_RESULT,
  'mqtt.publish': fields({ acked: 'boolean', ms: 'number' }),
  'mqtt.subscribe': fields({ granted: 'integer' }),
  'mqtt.disconnect': EMPTY,
};

const EVENT_SHAPES: { readonly [E in keyof Events]: Shape } = {
  boot: fields({ proto: 'integer', reason: 'string' }),
  'mqtt.message': fields({ topic: 'string', qos: 'integer', payload: 'string' }),
  'mqtt.disconnected': fields({ reason: 'string' }),
};

// ---------------------------------------------------------------------------------------------
// Checking

/** A device sent a body that does not have the documented shape. `path` names the field. */
export class SchemaError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'SchemaError';
  }
}

/** The device speaks a protocol version this code does not. */
export class UnsupportedProtoError extends SchemaError {
  constructor(readonly proto: unknown) {
    super('hello.proto', `the device speaks agent protocol ${JSON.stringify(proto)}, this hilt speaks ${PROTO_VERSION}; ` +
      `flash an agent built for protocol ${PROTO_VERSION} or use a hilt that supports ${JSON.stringify(proto)}`);
    this.name = 'UnsupportedProtoError';
  }
}

function describe(shape: Shape): string {
  if (typeof shape === 'string') {
    return { string: 'string', number: 'number', integer: 'integer', boolean: 'boolean', strings: 'array of strings' }[shape];
  }
  if ('oneOf' in shape) return `one of ${shape.oneOf.join('|')}`;
  if ('nullable' in shape) return `${describe(shape.nullable)} or null`;
  if ('items' in shape) return 'array';
  return 'object';
}

function got(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === 'object') return 'object';
  return `${typeof value} ${String(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The value with only the known fields (absentIsNull ones filled in), or SchemaError. */
function check(value: unknown, shape: Shape, path: string): unknown {
  const wrong = () => new SchemaError(path, `expected ${describe(shape)}, got ${got(value)}`);
  if (typeof shape === 'string') {
    const ok = shape === 'strings'
      ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : shape === 'integer' ? Number.isSafeInteger(value)
      : shape === 'number' ? typeof value === 'number' && Number.isFinite(value)
      : typeof value === shape;
    if (!ok) throw wrong();
    return shape === 'strings' ? [...(value as string[])] : value;
  }
  if ('oneOf' in shape) {
    if (typeof value !== 'string' || !shape.oneOf.includes(value)) throw wrong();
    return value;
  }
  if ('nullable' in shape) return value === null ? null : check(value, shape.nullable, path);
  if ('items' in shape) {
    if (!Array.isArray(value)) throw wrong();
    return value.map((item, i) => check(item, shape.items, `${path}[${i}]`));
  }
  if (!isRecord(value)) throw wrong();
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape.fields)) {
    const at = `${path}.${key}`;
    if (!Object.hasOwn(value, key)) {
      if (typeof field === 'object' && 'absentIsNull' in field) {
        out[key] = null;
        continue;
      }
      throw new SchemaError(at, `missing, expected ${describe(field)}`);
    }
    out[key] = check(value[key], field, at);
  }
  return out;
}

/**
 * A hello reply, checked. Refuses a device of another protocol version first, with its own error,
 * since the rest of the body may legitimately differ there.
 */
export function checkHello(body: unknown): HelloReply {
  if (isRecord(body) && Object.hasOwn(body, 'proto') && body.proto !== PROTO_VERSION) throw new UnsupportedProtoError(body.proto);
  return check(body, HELLO, 'hello') as HelloReply;
}

/** A tls.connect or mqtt.connect result, checked. Paths start with `connect`. */
export function checkConnectResult(body: unknown): ConnectResult {
  return check(body, CONNECT_RESULT, 'connect') as ConnectResult;
}

/** The ok reply of `command`, checked. Paths start with the command name. */
export function checkReply<C extends keyof Replies>(command: C, body: unknown): Replies[C] {
  if (command === 'hello') return checkHello(body) as Replies[C];
  return check(body, REPLY_SHAPES[command], command) as Replies[C];
}

/** The body of event `name`, checked. Paths start with the event name. */
export function checkEvent<E extends keyof Events>(name: E, body: unknown): Events[E] {
  return check(body, EVENT_SHAPES[name], name) as Events[E];
}
