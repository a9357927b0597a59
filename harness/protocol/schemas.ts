/**
 * The shapes of v1 replies and events, written once as zod schemas: the TypeScript types are
 * inferred from them, and the same schemas check what a device actually sent. A check names the
 * first field that is missing or of the wrong type by its path, and drops fields it does not know,
 * because a later protocol version may add fields and a host must not refuse them.
 */
import { z } from 'zod';
import { PROTO_VERSION } from './codec.ts';
import { ERR_CODES, type ErrCode } from './errors.ts';

// ---------------------------------------------------------------------------------------------
// Schemas

const int = z.int();
/** A field PROTOCOL.md marks optional: absent reads as null. */
const nullOrAbsent = <T extends z.ZodType>(schema: T) => schema.nullable().default(null);

const HEAP_STATS = z.object({ free: int, min_free: int, largest: int });
const TIME = z.object({ epoch: int, synced: z.boolean() });

const HELLO = z.object({
  proto: int,
  agent: z.object({ name: z.string(), version: z.string() }),
  // PROTOCOL.md writes "elf_sha256?": the emulator does not know it.
  fw: z.object({ project: z.string(), version: z.string(), idf: z.string(), elf_sha256: nullOrAbsent(z.string()) }),
  chip: z.object({ model: z.string(), revision: int, cores: int, mac: z.string() }),
  mbedtls: z.object({
    version: z.string(), have_time_date: z.boolean(), in_content_len: int, out_content_len: int,
    dynamic_buffer: z.boolean(), tls13: z.boolean(), ciphersuites: z.array(z.string()),
  }),
  heap: HEAP_STATS,
  time: TIME,
});

/**
 * Where a figure comes from. A device reports `device` or `model`; `host` is what the harness
 * writes when it measured a figure itself, so a device claiming it is wrong.
 */
const DEVICE_SOURCE = z.enum(['device', 'model']);

/** Milliseconds per phase; null for a phase the attempt never reached (or, mqtt_ms, has not). */
const TIMING = z.object({
  dns_ms: z.number().nullable(), tcp_ms: z.number().nullable(), tls_ms: z.number().nullable(), mqtt_ms: z.number().nullable(),
  total_ms: z.number(), source: DEVICE_SOURCE,
});

/** The connect task's stack in bytes: its size and the most of it in use during the connect. */
const STACK = z.object({ size: int, peak_used: int, source: DEVICE_SOURCE })
  .refine((s) => s.peak_used <= s.size, { path: ['peak_used'], message: 'more than size: a task that used more stack than it has overflowed, and does not reply' });

const CONNECT_RESULT = z.object({
  connected: z.boolean(),
  /** null when the handshake never got as far as the server's hello. */
  tls: z.object({
    version: z.string(), cipher: z.string(), alpn: z.string().nullable(),
    /** The server's certificate, when it sent one. */
    peer: z.object({ subject: z.string(), issuer: z.string(), sha256: z.string() }).nullable(),
  }).nullable(),
  /** null when connected. */
  error: z.object({
    esp_err: int, esp_err_name: z.string(),
    /** Positive, as esp-tls stores it (0x2700 = 9984); 0 when the stack reported nothing. */
    stack_err: int, stack_err_name: z.string().nullable(),
    verify_flags: int, verify_info: z.array(z.string()),
    mqtt_error_type: z.enum(['TCP_TRANSPORT', 'CONNECTION_REFUSED']).nullable(),
    connack: int.nullable(), sock_errno: int,
  }).nullable(),
  // A device that cannot time the attempt leaves timing out (or null): the host measures it,
  // see withHostTiming and docs/protocol.md "Timing measured by the host".
  timing: TIMING.nullable().optional(),
  heap: z.object({ before: int, min: int, after: int, peak_used: int, source: DEVICE_SOURCE }),
  // A device that cannot measure its connect task's stack leaves `stack` out (never null): hilt
  // cannot measure it from outside, so there is nothing to stand in for it.
  stack: STACK.optional(),
  // The command table gives mqtt only to mqtt.connect's result, so a tls.connect result may omit it.
  mqtt: nullOrAbsent(z.object({ session_present: z.boolean(), connack: int })),
});

const EMPTY = z.object({});

const REPLY_SCHEMAS = {
  hello: HELLO,
  'time.set': TIME,
  'time.clear': TIME,
  /** bytes: received so far; the whole size once complete. */
  'store.put': z.object({ slot: z.string(), bytes: int, complete: z.boolean() }),
  'store.del': z.object({ slot: z.string() }),
  'store.list': z.object({ slots: z.array(z.object({ slot: z.string(), kind: z.string(), bytes: int, sha256: z.string() })) }),
  'heap.stats': HEAP_STATS,
  'heap.reserve': z.object({ reserved: int, free: int }),
  'heap.release': z.object({ free: int }),
  'tls.connect': CONNECT_RESULT,
  'tls.close': EMPTY,
  'mqtt.connect': CONNECT_RESULT,
  'mqtt.publish': z.object({ acked: z.boolean(), ms: z.number() }),
  /** granted: the QoS the broker granted, or 128 (0x80) for a refused subscription. */
  'mqtt.subscribe': z.object({ granted: int }),
  'mqtt.disconnect': EMPTY,
};

const EVENT_SCHEMAS = {
  boot: z.object({ proto: int, reason: z.string() }),
  /** payload: base64 */
  'mqtt.message': z.object({ topic: z.string(), qos: int, payload: z.string() }),
  'mqtt.disconnected': z.object({ reason: z.string() }),
};

/** The body of an `err` reply: the set of codes is closed in v1 (errors.ts). */
const ERR_BODY = z.object({ code: z.enum(ERR_CODES as [ErrCode, ...ErrCode[]]), message: z.string() });

// ---------------------------------------------------------------------------------------------
// Types, inferred

export type Source = 'device' | 'model' | 'host';
export type HeapStats = z.output<typeof HEAP_STATS>;
export type TimeReply = z.output<typeof TIME>;
export type HelloReply = z.output<typeof HELLO>;
export type StoreReply = z.output<(typeof REPLY_SCHEMAS)['store.put']>;
export type StoreDelReply = z.output<(typeof REPLY_SCHEMAS)['store.del']>;
export type StoreListReply = z.output<(typeof REPLY_SCHEMAS)['store.list']>;
export type HeapReserveReply = z.output<(typeof REPLY_SCHEMAS)['heap.reserve']>;
export type HeapReleaseReply = z.output<(typeof REPLY_SCHEMAS)['heap.release']>;
export type PublishReply = z.output<(typeof REPLY_SCHEMAS)['mqtt.publish']>;
export type SubscribeReply = z.output<(typeof REPLY_SCHEMAS)['mqtt.subscribe']>;
export type EmptyReply = Record<string, never>;

type ConnectWire = z.output<typeof CONNECT_RESULT>;
export type TlsInfo = NonNullable<ConnectWire['tls']>;
export type ConnectError = NonNullable<ConnectWire['error']>;
/** Timing as the harness holds it: the device's, or the host's own measure (source `host`). */
export type Timing = Omit<z.output<typeof TIMING>, 'source'> & { source: Source };
export type HeapUse = Omit<ConnectWire['heap'], 'source'> & { source: Source };
export type StackUse = NonNullable<ConnectWire['stack']>;
/** A connect result once checked: timing is always there, measured by the host if need be. */
export type ConnectResult = Omit<ConnectWire, 'timing' | 'heap'> & { timing: Timing; heap: HeapUse };

export type BootEvent = z.output<(typeof EVENT_SCHEMAS)['boot']>;
export type MqttMessageEvent = z.output<(typeof EVENT_SCHEMAS)['mqtt.message']>;
export type MqttDisconnectedEvent = z.output<(typeof EVENT_SCHEMAS)['mqtt.disconnected']>;
export type ErrReply = z.output<typeof ERR_BODY>;

/** The ok reply of each command (reset has none guaranteed). */
export type Replies = {
  [C in keyof typeof REPLY_SCHEMAS]: C extends 'tls.connect' | 'mqtt.connect' ? ConnectResult
    : C extends 'tls.close' | 'mqtt.disconnect' ? EmptyReply : z.output<(typeof REPLY_SCHEMAS)[C]>;
};

export type Events = { [E in keyof typeof EVENT_SCHEMAS]: z.output<(typeof EVENT_SCHEMAS)[E]> };

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

function got(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === 'object') return 'object';
  return `${typeof value} ${String(value)}`;
}

interface Def {
  type: string;
  format?: string;
  innerType?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  entries?: Record<string, string>;
}
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** What a schema accepts, in the words of the protocol page ("integer or null", "array of strings"). */
function describe(schema: z.ZodType): string {
  const def = defOf(schema);
  if ((def.type === 'nullable' || def.type === 'default' || def.type === 'optional') && def.innerType) {
    const inner = describe(def.innerType);
    return def.type === 'nullable' ? `${inner} or null` : inner;
  }
  if (def.type === 'number') return def.format === 'safeint' ? 'integer' : 'number';
  if (def.type === 'array' && def.element) return `array of ${describe(def.element)}s`;
  if (def.type === 'enum' && def.entries) return `one of ${Object.values(def.entries).join('|')}`;
  return def.type;
}

/** The schema of the field at `path` under `root` (zod's issues give the path, not the schema). */
function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | null {
  let at: z.ZodType | undefined = root;
  for (const key of path) {
    while (at && defOf(at).innerType) at = defOf(at).innerType;
    if (!at) return null;
    const def = defOf(at);
    at = typeof key === 'number' ? def.element : def.shape?.[String(key)];
  }
  return at ?? null;
}

/** zod's first complaint as one line in the protocol's words: path, what was expected, what came. */
function schemaError(root: z.ZodType, issue: z.core.$ZodIssue, prefix: string): SchemaError {
  const path = prefix + issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  const field = schemaAt(root, issue.path);
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'invalid_type' || issue.code === 'invalid_value') {
    const expected = field ? describe(field) : issue.code === 'invalid_type' ? issue.expected : 'a documented value';
    // JSON has no undefined: an undefined input is a field the device left out.
    if (!('input' in issue) || input === undefined) return new SchemaError(path, `missing, expected ${expected}`);
    // JSON.parse reads 1e999 as Infinity; zod reports it without the input.
    const received = (issue as { received?: string }).received;
    return new SchemaError(path, `expected ${expected}, got ${received === 'Infinity' ? 'a number out of range' : got(input)}`);
  }
  return new SchemaError(path, issue.message);
}

function parse<T extends z.ZodType>(schema: T, body: unknown, prefix: string): z.output<T> {
  const r = schema.safeParse(body, { reportInput: true });
  if (!r.success) throw schemaError(schema, r.error.issues[0]!, prefix);
  return r.data;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A hello reply, checked. Refuses a device of another protocol version first, with its own error,
 * since the rest of the body may legitimately differ there.
 */
export function checkHello(body: unknown): HelloReply {
  if (isRecord(body) && Object.hasOwn(body, 'proto') && body.proto !== PROTO_VERSION) throw new UnsupportedProtoError(body.proto);
  return parse(HELLO, body, 'hello');
}

/** What the host measured of a command, for the figures a device may leave to it. */
export interface HostMeasure {
  /** From handing the command line to the transport to reading the whole reply line, in ms. */
  elapsedMs: number;
}

/**
 * A tls.connect or mqtt.connect result, checked. Paths start with `connect`. Without timing from
 * the device, `host.elapsedMs` stands in as total_ms (the phases are unknown: null).
 */
export function checkConnectResult(body: unknown, host?: HostMeasure): ConnectResult {
  return connectResult(body, host, 'connect');
}

function connectResult(body: unknown, host: HostMeasure | undefined, prefix: string): ConnectResult {
  const wire = parse(CONNECT_RESULT, body, prefix);
  if (wire.timing) return { ...wire, timing: wire.timing };
  if (!host) throw new SchemaError(`${prefix}.timing`, 'missing, and the host measured nothing to stand in for it');
  return { ...wire, timing: hostTiming(host) };
}

function hostTiming(host: HostMeasure): Timing {
  return { dns_ms: null, tcp_ms: null, tls_ms: null, mqtt_ms: null, total_ms: Math.round(host.elapsedMs), source: 'host' };
}

/** Whether `command` has a documented ok reply (reset and commands of later versions do not). */
export function hasReplySchema(command: string): command is keyof Replies {
  return Object.hasOwn(REPLY_SCHEMAS, command);
}

/** Whether `name` is a v1 event; a later version's events pass unchecked. */
export function hasEventSchema(name: string): name is keyof Events {
  return Object.hasOwn(EVENT_SCHEMAS, name);
}

/** The ok reply of `command`, checked. Paths start with the command name. */
export function checkReply<C extends keyof Replies>(command: C, body: unknown, host?: HostMeasure): Replies[C] {
  if (command === 'hello') return checkHello(body) as Replies[C];
  if (command === 'tls.connect' || command === 'mqtt.connect') return connectResult(body, host, command) as Replies[C];
  return parse(REPLY_SCHEMAS[command], body, command) as Replies[C];
}

/** The body of an `err` reply, checked: a string message and one of v1's codes. */
export function checkErrReply(body: unknown): ErrReply {
  return parse(ERR_BODY, body, 'err');
}

/** The body of event `name`, checked. Paths start with the event name. */
export function checkEvent<E extends keyof Events>(name: E, body: unknown): Events[E] {
  return parse(EVENT_SCHEMAS[name], body, name) as Events[E];
}
