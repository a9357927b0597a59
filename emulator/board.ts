/**
 * One emulated ESP32 running hilt's test agent: boots like a real board, answers agent protocol
 * v1 commands one at a time, and prints what ESP-IDF prints. It reads and writes text lines;
 * how they travel (stream, stdio, TCP, pseudo-terminal) is serve.ts's business.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import {
  PROTO_VERSION, PartAssembler, ProtocolError, argBase64, argBool, argEnum, argInt, argList, argPart, argString,
  checkArgKeys, encodeEvent, encodeReply, errBody, parseHostLine,
  type Args, type ConnectResult, type HelloReply, type HostCommand, type Line, type StoreKind,
} from '../harness/protocol/index.ts';
import { connect, type BoardContext, type ConnectSpec, type Session } from './connect.ts';
import { Console, bootBanner, type ResetReason } from './console.ts';
import { BoardHeap, ESP32_FREE_HEAP } from './heap.ts';
import { CONNECT_STACK_DEFAULT, CONNECT_STACK_RANGE, StackOverflow, stackOverflowPanic } from './stack.ts';
import {
  REFERENCE_SDKCONFIG, mbedtlsConfigOf, parseSdkconfig, suiteByMbedtls, type MbedtlsConfig, type Sdkconfig,
} from './mbedtls/index.ts';

export const AGENT = { name: 'hilt-agent', version: '1.0.0' } as const;
export const FIRMWARE = { project: 'hilt_test_agent', version: '1.0.0' } as const;

/** Credential store limits of the agent firmware (RAM on a real board). */
const STORE_SLOTS = 8;
const STORE_SLOT_BYTES = 8192;
const SLOT_NAME = /^[a-z0-9_-]{1,16}$/;
const MAX_HOLD_MS = 60_000;

const TLS_ARGS = ['host', 'port', 'sni', 'ca', 'cert', 'key', 'ciphers', 'tls', 'timeout_ms', 'skip_cn', 'alpn', 'hold_ms', 'stack'] as const;
/**
 * The arguments each command takes (docs/protocol.md). Anything else is refused with bad_args:
 * a misspelt key (`skip_cm=1`) would otherwise leave its default silently in force.
 */
const COMMAND_ARGS: Readonly<Record<string, readonly string[]>> = {
  'hello': [], 'reset': [], 'time.set': ['epoch'], 'time.clear': [],
  'store.put': ['slot', 'kind', 'data', 'part'], 'store.del': ['slot'], 'store.list': [],
  'heap.stats': [], 'heap.reserve': ['bytes'], 'heap.release': [],
  'tls.connect': TLS_ARGS, 'tls.close': [],
  'mqtt.connect': [...TLS_ARGS, 'client_id', 'keepalive', 'clean', 'username', 'password'],
  'mqtt.publish': ['topic', 'qos', 'payload', 'retain'], 'mqtt.subscribe': ['topic', 'qos'], 'mqtt.disconnect': [],
};

/** The running app's identity, as the 2nd-stage bootloader read it from flash (esp_app_desc_t). */
export interface FirmwareIdentity {
  project: string;
  version: string;
  idf: string;
  /** 64 hex digits. */
  elfSha256: string;
  /** `date time` from the descriptor, as app_init prints it. */
  compileTime?: string;
}

export interface BootOptions {
  /** The ROM's lines were printed already (by the chip, which knows the reset and boot mode). */
  rom?: boolean;
  /** The app image's identity; kept across software resets, reported by `hello`. */
  firmware?: FirmwareIdentity;
}

export interface BoardOptions {
  /** Writes output text (whole lines, each ending in \n). */
  write: (text: string) => void;
  /** Distinguishes boards in one process: seeds the MAC and the default id. */
  index?: number;
  sdkconfig?: Sdkconfig;
  /** Free heap at boot (default: an ESP32 with Wi-Fi up, 147,968 B). */
  heapBytes?: number;
  /** Take as long on the wire as the timing model says. */
  realtime?: boolean;
  /** The ROM's lines for a reset the board itself causes (default: a fixed flash boot). */
  romLines?: (reason: ResetReason) => string[];
}

interface StoredItem {
  kind: StoreKind;
  data: Buffer;
  /** Parsed once, on first use (a slot's data never changes: store.put replaces the item). */
  certificates?: X509Certificate[] | string;
  keyValid?: boolean;
}

function certificatesOf(item: StoredItem): X509Certificate[] | string {
  item.certificates ??= parsePemCertificates(item.data);
  return item.certificates;
}

function keyValid(item: StoredItem): boolean {
  if (item.keyValid === undefined) {
    try {
      createPrivateKey(item.data.toString('utf8'));
      item.keyValid = true;
    } catch {
      item.keyValid = false;
    }
  }
  return item.keyValid;
}

/** Espressif's OUI, then the board index: 24:0a:c4:00:00:07 for board 7. */
function macOf(index: number): string {
  const tail = [(index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff];
  return ['24', '0a', 'c4', ...tail.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export class Board {
  readonly mac: string;
  readonly id: string;
  readonly sdkconfig: Sdkconfig;
  readonly config: MbedtlsConfig;
  private readonly write: (text: string) => void;
  private readonly heapBytes: number;
  private readonly realtime: boolean;
  private readonly romLines: ((reason: ResetReason) => string[]) | null;
  private bootedAt = performance.now();
  private heap: BoardHeap;
  private epochAtSet: number | null = null;
  private setAt = 0;
  private store = new Map<string, StoredItem>();
  private parts = new PartAssembler();
  private session: Session | null = null;
  private busy = false;
  private generation = 0;
  /** Set when the board booted from an app image whose descriptor it read (Esp32Chip). */
  private firmware: FirmwareIdentity | null = null;
  readonly console: Console;

  constructor(options: BoardOptions) {
    const index = options.index ?? 1;
    this.mac = macOf(index);
    this.id = `esp32-${this.mac.slice(-8).replaceAll(':', '')}`;
    this.write = options.write;
    this.sdkconfig = options.sdkconfig ?? parseSdkconfig(REFERENCE_SDKCONFIG, 'reference sdkconfig');
    this.config = mbedtlsConfigOf(this.sdkconfig);
    this.heapBytes = options.heapBytes ?? ESP32_FREE_HEAP;
    this.realtime = options.realtime ?? false;
    this.romLines = options.romLines ?? null;
    this.heap = new BoardHeap(this.heapBytes);
    this.console = new Console({
      write: (line) => this.write(`${line}\n`),
      uptimeMs: () => performance.now() - this.bootedAt,
      logLevel: this.config.logLevel,
      colours: this.config.logColors,
    });
  }

  /** Powers the board on: ROM and bootloader text, app_main, then the `boot` event. */
  boot(reason: ResetReason = 'POWERON_RESET', options: BootOptions = {}): void {
    this.bootedAt = performance.now();
    if (options.firmware) this.firmware = options.firmware;
    const fw = this.firmware;
    const ownRom = options.rom !== false && this.romLines !== null;
    if (ownRom) for (const text of this.romLines!(reason)) this.console.raw(text);
    for (const line of bootBanner({
      reason, idf: fw?.idf ?? this.config.idfVersion, project: fw?.project ?? FIRMWARE.project, version: fw?.version ?? FIRMWARE.version,
      mac: this.mac, cpuMhz: this.config.cpuMhz, freeHeap: this.heap.free,
    }, { rom: ownRom ? false : options.rom, elfSha256: fw?.elfSha256, compileTime: fw?.compileTime })) {
      if ('text' in line) this.console.raw(line.text);
      else this.console.logAt(line.level, line.at, line.tag, line.message);
    }
    this.event('boot', { proto: PROTO_VERSION, reason });
  }

  /**
   * EN pulled low: the CPU stops where it is. Sockets close, RAM (credentials, clock, heap
   * reservations, a half-received part) is gone, and no reply to a command in flight is sent.
   */
  async halt(): Promise<void> {
    // RAM is gone at once: a boot that follows before the sockets have closed starts clean.
    this.generation++;
    const session = this.session;
    this.session = null;
    this.clearRam();
    await session?.close();
  }

  private clearRam(): void {
    this.heap = new BoardHeap(this.heapBytes);
    this.store.clear();
    this.parts.cancel();
    this.epochAtSet = null;
    this.busy = false;
  }

  /** A line from the host. Protocol lines are commands; anything else is ignored, as the agent does. */
  input(line: Line | string): void {
    const parsed = parseHostLine(line);
    if (parsed === null) {
      const text = typeof line === 'string' ? line : line.text;
      if (text.trim() !== '') this.console.w('hil_agent', `ignored input that is not a protocol line (${Buffer.byteLength(text)} bytes)`);
      return;
    }
    if (!parsed.ok) {
      if (parsed.id === null) this.console.w('hil_agent', `ignored protocol line without a valid id: ${parsed.message}`);
      else this.reply(parsed.id, 'err', errBody(parsed.code, parsed.message));
      return;
    }
    const { command } = parsed;
    if (this.busy) {
      this.reply(command.id, 'err', errBody('busy', `busy with another command; send ${command.command} when it has replied`));
      return;
    }
    this.busy = true;
    const generation = this.generation;
    // Free before the reply goes out: a host may send its next command the moment it reads one.
    this.run(command)
      .then((body) => {
        if (generation !== this.generation) return;
        this.busy = false;
        if (body !== undefined) this.reply(command.id, 'ok', body);
      })
      .catch((err: unknown) => {
        if (generation !== this.generation) return;
        this.busy = false;
        if (err instanceof ProtocolError) this.reply(command.id, 'err', errBody(err.code, err.message));
        else this.reply(command.id, 'err', errBody('internal', err instanceof Error ? err.message : String(err)));
      });
  }

  /** Stops everything the board holds open (sockets, timers). */
  async shutdown(): Promise<void> {
    this.generation++;
    await this.session?.close();
    this.session = null;
  }

  /** The device's clock: 1970 plus uptime until time.set. */
  clock(): Date {
    const uptime = performance.now() - this.bootedAt;
    if (this.epochAtSet === null) return new Date(uptime);
    return new Date(this.epochAtSet * 1000 + (performance.now() - this.setAt));
  }

  private reply(id: number, status: 'ok' | 'err', body: object): void {
    this.write(`${encodeReply(id, status, body)}\n`);
  }

  private event(name: string, body: object): void {
    this.write(`${encodeEvent(name, body)}\n`);
  }

  /** Runs one command; resolves to the ok body, or undefined when there is no reply (reset). */
  private async run(cmd: HostCommand): Promise<object | undefined> {
    const a = cmd.args;
    const known = COMMAND_ARGS[cmd.command];
    if (known) checkArgKeys(a, cmd.command, known);
    switch (cmd.command) {
      case 'hello': return this.hello();
      case 'reset': return this.reset();
      case 'time.set': {
        const epoch = argInt(a, 'epoch', { min: 0, max: 2 ** 40 });
        this.epochAtSet = epoch;
        this.setAt = performance.now();
        this.console.i('hil_agent', `time set to ${new Date(epoch * 1000).toISOString()}`);
        return { epoch, synced: true };
      }
      case 'time.clear':
        this.epochAtSet = null;
        return { epoch: Math.floor(this.clock().getTime() / 1000), synced: false };
      case 'store.put': return this.storePut(a);
      case 'store.del': {
        const slot = argString(a, 'slot');
        this.parts.cancel(slot);
        if (!this.store.delete(slot)) throw new ProtocolError(`store.del: no slot ${JSON.stringify(slot)}`, 'no_slot');
        return { slot };
      }
      case 'store.list':
        return {
          slots: [...this.store].map(([slot, item]) => ({
            slot, kind: item.kind, bytes: item.data.length, sha256: createHash('sha256').update(item.data).digest('hex'),
          })),
        };
      case 'heap.stats': return this.heap.stats();
      case 'heap.reserve': {
        const reserved = this.heap.reserve(argInt(a, 'bytes', { min: 0, max: 16 * 1024 * 1024 }));
        return { reserved, free: this.heap.free };
      }
      case 'heap.release':
        this.heap.release();
        return { free: this.heap.free };
      case 'tls.connect':
      case 'mqtt.connect': return this.connect(cmd.command, a);
      case 'tls.close':
      case 'mqtt.disconnect':
        await this.session?.close();
        this.session = null;
        return {};
      case 'mqtt.publish': return this.publish(a);
      case 'mqtt.subscribe': return this.subscribe(a);
      default:
        throw new ProtocolError(`unknown command ${cmd.command}`, 'unknown_command');
    }
  }

  private hello(): HelloReply {
    const c = this.config;
    return {
      proto: PROTO_VERSION,
      agent: { ...AGENT },
      fw: this.firmware
        ? { project: this.firmware.project, version: this.firmware.version, idf: this.firmware.idf, elf_sha256: this.firmware.elfSha256 }
        : { ...FIRMWARE, idf: c.idfVersion, elf_sha256: null },
      chip: { model: 'ESP32', revision: 3, cores: 2, mac: this.mac },
      mbedtls: {
        version: c.mbedtlsVersion, have_time_date: c.haveTimeDate, in_content_len: c.inContentLen,
        out_content_len: c.outContentLen, dynamic_buffer: c.dynamicBuffer, tls13: c.tls13, ciphersuites: [...c.ciphersuites],
      },
      heap: this.heap.stats(),
      time: { epoch: Math.floor(this.clock().getTime() / 1000), synced: this.epochAtSet !== null },
    } as HelloReply;
  }

  /** esp_restart(): everything in RAM is gone; the board boots again. No reply. */
  private async reset(): Promise<undefined> {
    this.console.i('hil_agent', 'restarting');
    await this.shutdown();
    this.clearRam();
    setImmediate(() => this.boot('SW_CPU_RESET'));
    return undefined;
  }

  /**
   * A crash: ESP-IDF's panic text, then the restart the panic handler makes. The command that
   * crashed gets no reply, and everything in RAM is gone, as after `reset`.
   */
  private async panic(lines: string[]): Promise<void> {
    for (const text of lines) this.console.raw(text);
    await this.shutdown();
    this.clearRam();
    setImmediate(() => this.boot('SW_CPU_RESET'));
  }

  private storePut(a: Args): object {
    const slot = argString(a, 'slot');
    if (!SLOT_NAME.test(slot)) throw new ProtocolError(`store.put: slot ${JSON.stringify(slot)}: use 1-16 of a-z 0-9 _ -`, 'bad_args');
    if (slot === 'none') throw new ProtocolError(`store.put: slot name 'none' is reserved (ca=none means no CA)`, 'bad_args');
    const kind = argEnum(a, 'kind', ['ca', 'cert', 'key'] as const);
    const { index, count } = argPart(a);
    const chunk = argBase64(a, 'data');
    if (index === 1 && !this.store.has(slot) && this.store.size >= STORE_SLOTS) {
      throw new ProtocolError(`store.put: all ${STORE_SLOTS} slots are in use; store.del one first`, 'no_slot');
    }
    const part = this.parts.add(slot, kind, index, count, chunk);
    if (part.bytes > STORE_SLOT_BYTES) {
      this.parts.cancel(slot);
      throw new ProtocolError(`store.put: slot ${slot} would hold ${part.bytes} bytes, more than the ${STORE_SLOT_BYTES} a slot takes`, 'bad_args');
    }
    if (part.complete) this.store.set(slot, { kind, data: part.data! });
    return { slot, bytes: part.bytes, complete: part.complete };
  }

  private item(slot: string, kind: StoreKind, arg: string): StoredItem {
    const item = this.store.get(slot);
    if (!item) throw new ProtocolError(`${arg}=${slot}: no such slot; store.put it first`, 'no_slot');
    if (item.kind !== kind) throw new ProtocolError(`${arg}=${slot}: slot holds a ${item.kind}, not a ${kind}`, 'bad_args');
    return item;
  }

  /** Builds esp-tls's configuration from the command's arguments. */
  private connectSpec(command: string, a: Args): ConnectSpec {
    const host = argString(a, 'host');
    const caSlot = argString(a, 'ca', { default: 'none' });
    const certSlot = a.cert;
    const keySlot = a.key;
    if ((certSlot === undefined) !== (keySlot === undefined)) {
      throw new ProtocolError(`${command}: cert and key go together (mutual TLS needs both)`, 'bad_args');
    }
    // Credentials that do not parse are esp-tls's failure to report in the result, not a refusal
    // of the command: a real agent hands the PEM to esp-tls as it is.
    let credentialError: ConnectSpec['credentialError'] = null;
    let ca: X509Certificate[] | null = null;
    if (caSlot !== 'none') {
      const parsed = certificatesOf(this.item(caSlot, 'ca', 'ca'));
      if (typeof parsed === 'string') credentialError = { esp: 'ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED', stack: parsed, what: 'mbedtls_x509_crt_parse of CA cert' };
      else ca = parsed;
    }
    let own: ConnectSpec['own'] = null;
    if (certSlot !== undefined && keySlot !== undefined) {
      const certItem = this.item(certSlot, 'cert', 'cert');
      const keyItem = this.item(keySlot, 'key', 'key');
      const cert = certItem.data.toString('utf8');
      const key = keyItem.data.toString('utf8');
      const parsed = certificatesOf(certItem);
      const keyOk = keyValid(keyItem);
      if (typeof parsed === 'string') {
        credentialError ??= { esp: 'ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED', stack: parsed, what: 'mbedtls_x509_crt_parse of public cert' };
      } else if (!keyOk) {
        credentialError ??= { esp: 'ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED', stack: 'MBEDTLS_ERR_PK_KEY_INVALID_FORMAT', what: 'mbedtls_pk_parse_keyfile' };
      } else {
        own = { cert, key, parsed: parsed[0]! };
      }
    }
    const versions = argEnum(a, 'tls', ['1.2', '1.3', 'any'] as const, 'any');
    if (versions === '1.3' && !this.config.tls13) {
      throw new ProtocolError('tls=1.3: this firmware has no TLS 1.3 (CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is not set)', 'bad_args');
    }
    const requested = argList(a, 'ciphers', []);
    for (const name of requested) {
      if (!suiteByMbedtls(name)) throw new ProtocolError(`ciphers: unknown Mbed TLS ciphersuite ${JSON.stringify(name)}`, 'bad_args');
    }
    const enabled = this.config.ciphersuites.filter((n) => requested.length === 0 || requested.includes(n));
    const suites = enabled.map((n) => suiteByMbedtls(n)!).filter((s) => versions !== '1.2' || s.version === 'TLSv1.2');
    if (suites.length === 0) throw new ProtocolError('ciphers: none of the requested ciphersuites is enabled in this firmware', 'bad_args');
    const timeout = argInt(a, 'timeout_ms', { min: 0, max: 600_000, default: 0 });
    const mqtt = command === 'mqtt.connect' ? {
      clientId: argString(a, 'client_id', { default: this.id }),
      keepalive: argInt(a, 'keepalive', { min: 0, max: 65535, default: 120 }),
      clean: argBool(a, 'clean', true),
      username: a.username ?? null,
      password: a.password !== undefined ? argBase64(a, 'password') : null,
    } : null;
    return {
      host, port: argInt(a, 'port', { min: 1, max: 65535, default: 8883 }), sni: argString(a, 'sni', { default: host }),
      ca, own, credentialError, suites, maxVersion: versions === '1.2' || !this.config.tls13 ? 'TLSv1.2' : 'TLSv1.3',
      timeoutMs: timeout === 0 ? 10_000 : timeout, skipCn: argBool(a, 'skip_cn', false), alpn: argList(a, 'alpn', []), mqtt,
      stackSize: argInt(a, 'stack', { ...CONNECT_STACK_RANGE, default: CONNECT_STACK_DEFAULT }),
    };
  }

  private async connect(command: string, a: Args): Promise<ConnectResult | undefined> {
    const spec = this.connectSpec(command, a);
    const holdMs = argInt(a, 'hold_ms', { min: 0, max: MAX_HOLD_MS, default: 0 });
    // One connection at a time, as the agent keeps one: a new connect replaces the old one.
    await this.session?.close();
    this.session = null;
    const context: BoardContext = {
      config: this.config,
      chip: { cpuMhz: this.config.cpuMhz, hardware: this.config.hardware },
      heap: this.heap,
      console: this.console,
      clock: () => this.clock(),
      insecure: this.sdkconfig.bool('CONFIG_ESP_TLS_INSECURE') && this.sdkconfig.bool('CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY'),
      realtime: this.realtime,
      onMqttMessage: (topic, qos, payload) => this.event('mqtt.message', { topic, qos, payload: payload.toString('base64') }),
      onMqttDisconnected: (reason) => {
        this.session = null;
        this.event('mqtt.disconnected', { reason });
      },
    };
    const generation = this.generation;
    let outcome: Awaited<ReturnType<typeof connect>>;
    try {
      outcome = await connect(context, spec);
    } catch (err) {
      if (!(err instanceof StackOverflow)) throw err;
      // (a board reset while the connect ran has nothing left to crash)
      if (generation === this.generation) await this.panic(stackOverflowPanic(err.task, this.firmware?.elfSha256 ?? null));
      return undefined;
    }
    const { result, session } = outcome;
    if (generation !== this.generation) {
      // The board was reset or shut down while this connect ran: nothing may outlive that.
      await session?.close();
      return result;
    }
    this.session = session;
    if (session && holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
    return result;
  }

  private mqttSession(command: string) {
    const client = this.session?.mqtt;
    if (!client || !client.connected) throw new ProtocolError(`${command}: no MQTT connection; mqtt.connect first`, 'bad_args');
    return client;
  }

  private async publish(a: Args): Promise<object> {
    const client = this.mqttSession('mqtt.publish');
    const topic = argString(a, 'topic');
    const qos = argInt(a, 'qos', { min: 0, max: 2, default: 0 }) as 0 | 1 | 2;
    const payload = a.payload !== undefined ? argBase64(a, 'payload') : Buffer.alloc(0);
    const started = performance.now();
    const acked = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      client.publish(topic, payload, { qos, retain: argBool(a, 'retain', false) }, (err) => {
        clearTimeout(timer);
        resolve(!err);
      });
    });
    return { acked: qos === 0 ? false : acked, ms: Math.round(performance.now() - started) };
  }

  private async subscribe(a: Args): Promise<object> {
    const client = this.mqttSession('mqtt.subscribe');
    const topic = argString(a, 'topic');
    const qos = argInt(a, 'qos', { min: 0, max: 2, default: 0 }) as 0 | 1 | 2;
    const granted = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => resolve(128), 10_000);
      client.subscribe(topic, { qos }, (err, grants) => {
        clearTimeout(timer);
        // mqtt.js reports a refused filter (SUBACK 0x80) as an error carrying the SUBACK.
        const refused = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted?.[0];
        resolve(err ? refused ?? 128 : grants?.[0]?.qos ?? 128);
      });
    });
    return { granted };
  }
}

/** Every certificate in a PEM bundle, or the Mbed TLS error mbedtls_x509_crt_parse would give. */
function parsePemCertificates(data: Buffer): X509Certificate[] | string {
  const blocks = data.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT';
  const certs: X509Certificate[] = [];
  for (const pem of blocks) {
    try {
      certs.push(new X509Certificate(pem));
    } catch {
      return 'MBEDTLS_ERR_X509_INVALID_FORMAT';
    }
  }
  return certs;
}
