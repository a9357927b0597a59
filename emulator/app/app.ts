/**
 * The emulated production firmware: an ESP32 running a typical esp-mqtt application (the shape of
 * esp-mqtt's examples/ssl: connect, subscribe on MQTT_EVENT_CONNECTED, publish QoS 1 from a timer,
 * log every event). Where esp-mqtt decides — reconnect wait, CONNACK wait, QoS 1 retransmit,
 * keepalive, outbox expiry — it does what esp-mqtt's mqtt_client.c does (docs/emulator.md cites
 * the lines). The bytes on the wire are real: TLS through node:tls with Mbed TLS's checks in a
 * tap (tls.ts), MQTT 3.1.1 framed with mqtt-packet so packet ids, DUP and timing are the app's own.
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { Duplex } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Console, bootBanner, type ResetReason } from '../console.ts';
import { ESP32_FREE_HEAP } from '../heap.ts';
import { stackOverflowPanic } from '../stack.ts';
import { ESP_ERR, MBEDTLS_ERR, REFERENCE_SDKCONFIG, mbedtlsConfigOf, mbedtlsHex, parseSdkconfig, type MbedtlsConfig } from '../mbedtls/index.ts';
import { STABLE_MS, reconnectDelayMs } from './policy.ts';
import { resolveSettings, type AppSettings, type ResolvedSettings } from './settings.ts';
import { connectTls, type TlsConnection, type TlsFailure } from './tls.ts';

export const APP = { project: 'hilt_mqtt_app', version: '1.0.0' } as const;
/** The application's own log tag (its event handler's lines). */
const TAG = 'mqtt_app';

/** esp-mqtt's constants (lib/include/mqtt_config.h). */
const MQTT_NETWORK_TIMEOUT_MS = 10_000;
const MQTT_DEFAULT_RETRANSMIT_TIMEOUT_MS = 1000;
const OUTBOX_EXPIRED_TIMEOUT_MS = 30_000;
/** MQTT_POLL_READ_TIMEOUT_MS: how often esp_mqtt_task looks at its timers when nothing arrives. */
const MQTT_POLL_READ_TIMEOUT_MS = 1000;
/** From reset to app_main, and app_main to an IP address (Wi-Fi), on a typical board. */
const BOOT_MS = 450;
const NETWORK_UP_MS = 1500;

/**
 * The 'stack-overflow' defect: the app's MQTT_EVENT_DATA handler copies each message into a
 * buffer on the stack of esp-mqtt's task ("mqtt_task", CONFIG_MQTT_TASK_STACK_SIZE 6144 B). What
 * esp-mqtt and the handler's own frames leave of it is about 4 KB: a longer message overflows it.
 */
const MQTT_TASK = 'mqtt_task';
const STACK_LEFT_FOR_DATA = 4096;

/** esp_mqtt_event_id_t numbers the example's handler prints as "Other event id:%d". */
const EVENT = { BEFORE_CONNECT: 7, DELETED: 8 } as const;

export interface AppIdentity { project: string; version: string; idf: string; elfSha256: string }

export interface AppBoard {
  /** Console bytes out (ESP-IDF boot lines, app logs, esp-mqtt lines); input is ignored. */
  stream: Duplex;
  /** Hardware reset: sockets end as in a reboot (RST), the board boots again and starts over. */
  reset(): Promise<void>;
  close(): Promise<void>;
  identity: AppIdentity;
}

interface OutboxItem {
  id: number;
  packet: Packet & { messageId: number };
  /** When it was queued (expiry) and last transmitted by the normal path (retransmit age). */
  queuedAt: number;
  sentAt: number;
}

/** One MQTT connection's state: gone when it ends. */
interface Link {
  conn: TlsConnection;
  timers: Set<NodeJS.Timeout>;
  connectedAt: number;
  keepaliveTick: number;
  waitPingResp: boolean;
  lastRetransmit: number;
  ended: boolean;
}

export function openAppBoard(settings: AppSettings): AppBoard {
  const app = new App(resolveSettings(settings));
  app.boot();
  return app;
}

class App implements AppBoard {
  readonly stream: Duplex;
  readonly identity: AppIdentity;
  private readonly s: ResolvedSettings;
  private readonly config: MbedtlsConfig;
  private readonly out: Console;
  private bootedAt = performance.now();
  private generation = 0;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<net.Socket>();
  /**
   * Connections of a boot that crashed: the peer hears nothing (a panicking chip sends no FIN),
   * until the new boot's network stack is up and answers the old connection with a RST.
   */
  private readonly orphans = new Set<net.Socket>();
  private link: Link | null = null;
  private outbox: OutboxItem[] = [];
  private lastMessageId = 0;
  private failures = 0;
  private published = 0;

  constructor(s: ResolvedSettings) {
    this.s = s;
    this.config = { ...mbedtlsConfigOf(parseSdkconfig(REFERENCE_SDKCONFIG, 'reference sdkconfig')), inContentLen: s.inContentLen };
    // A different build (defects, buffer, policy) is a different ELF: its hash says which one ran.
    const build = JSON.stringify({ ...APP, defects: [...s.defects].sort(), inContentLen: s.inContentLen, reconnect: s.reconnect.policy });
    this.identity = { ...APP, idf: this.config.idfVersion, elfSha256: createHash('sha256').update(build).digest('hex') };
    this.stream = new Duplex({ read() {}, write(_chunk, _enc, done) { done(); } });
    this.out = new Console({
      write: (line) => { if (!this.closed) this.stream.push(`${line}\n`); },
      uptimeMs: () => performance.now() - this.bootedAt,
      logLevel: this.config.logLevel,
      colours: this.config.logColors,
    });
  }

  private ms(unscaled: number): number {
    return Math.max(1, unscaled * this.s.timeScale);
  }

  /** A timer of this boot (cleared by reset and close). */
  private after(unscaled: number, fn: () => void, set: Set<NodeJS.Timeout> = this.timers): NodeJS.Timeout {
    const timer = setTimeout(() => { set.delete(timer); this.timers.delete(timer); fn(); }, this.ms(unscaled));
    set.add(timer);
    this.timers.add(timer);
    return timer;
  }

  boot(reason: ResetReason = 'POWERON_RESET'): void {
    // The banner's timestamps are a typical board's; the log clock goes on from its last one.
    this.bootedAt = performance.now() - BOOT_MS;
    const g = this.generation;
    for (const line of bootBanner({
      reason, idf: this.identity.idf, project: APP.project, version: APP.version, mac: '24:0a:c4:00:00:01',
      cpuMhz: this.config.cpuMhz, freeHeap: ESP32_FREE_HEAP,
    })) {
      if ('text' in line) { this.out.raw(line.text); continue; }
      if (line.tag === 'hil_agent') continue;
      if (line.message.startsWith('ESP-IDF:')) {
        // app_init prints the compile time and the ELF hash (CONFIG_APP_RETRIEVE_LEN_ELF_SHA=9: 9 hex digits) before ESP-IDF.
        this.out.logAt('I', line.at - 6, 'app_init', 'Compile time:     Nov 30 2026 00:00:00');
        this.out.logAt('I', line.at - 3, 'app_init', `ELF file SHA256:  ${this.identity.elfSha256.slice(0, 9)}...`);
      }
      this.out.logAt(line.level, line.at, line.tag, line.message);
    }
    this.after(BOOT_MS, () => {
      this.out.i(TAG, '[APP] Startup..');
      this.out.i(TAG, `[APP] Free memory: ${ESP32_FREE_HEAP} bytes`);
      this.out.i(TAG, `[APP] IDF version: ${this.identity.idf}`);
      this.after(NETWORK_UP_MS, () => {
        if (g !== this.generation) return;
        this.resetOrphans();
        this.out.i('example_connect', 'Connected to example_netif_sta');
        this.out.i(TAG, `[APP] Free memory: ${ESP32_FREE_HEAP - 30_000} bytes`);
        void this.connect();
      });
    });
  }

  async reset(): Promise<void> {
    this.restart('POWERON_RESET', 'rst');
  }

  /** A reboot: everything of this boot goes (RAM included), the app starts from the beginning. */
  private restart(reason: ResetReason, sockets: 'rst' | 'silent'): void {
    this.stop(sockets);
    this.outbox = [];
    this.lastMessageId = 0;
    this.failures = 0;
    this.published = 0;
    this.boot(reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stop('fin');
    this.closed = true;
    // End both sides, so a reader gets every line and then 'end' (nothing is thrown away).
    this.stream.push(null);
    this.stream.end();
  }

  /**
   * Everything of this boot ends: timers, sockets (a reset resets them, a crash leaves them
   * silent until the next boot's network is up, close just closes).
   */
  private stop(how: 'rst' | 'fin' | 'silent'): void {
    this.generation++;
    // The connection's own close handlers must not start a reconnect of the old boot.
    if (this.link) this.link.ended = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (how !== 'silent') this.resetOrphans(how);
    for (const socket of this.sockets) {
      if (how === 'silent') {
        socket.pause();
        this.orphans.add(socket);
      } else if (how === 'rst' && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.sockets.clear();
    this.link = null;
  }

  private resetOrphans(how: 'rst' | 'fin' = 'rst'): void {
    for (const socket of this.orphans) {
      if (how === 'rst' && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.orphans.clear();
  }

  private track = (socket: net.Socket) => {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  };

  private nextMessageId(): number {
    // mqtt_msg.c append_message_id: ++last_message_id, never 0.
    this.lastMessageId = (this.lastMessageId % 65535) + 1;
    return this.lastMessageId;
  }

  private has(defect: ResolvedSettings['defects'][number]): boolean {
    return this.s.defects.includes(defect);
  }

  // --- MQTT_STATE_INIT: transport connect, then CONNECT/CONNACK ---

  private async connect(): Promise<void> {
    const g = this.generation;
    this.out.i(TAG, `Other event id:${EVENT.BEFORE_CONNECT}`);
    const outcome = await connectTls({
      host: this.s.host, port: this.s.port, config: this.config, caPem: this.s.caPem, certPem: this.s.certPem, keyPem: this.s.keyPem,
      inContentLen: this.s.inContentLen, verify: !this.has('no-verify'), hostnameCheck: !this.has('no-hostname-check'),
      alertOnRefusal: !this.has('no-alert'), now: () => new Date(), timeoutMs: this.ms(MQTT_NETWORK_TIMEOUT_MS),
    }, this.track);
    if (g !== this.generation) {
      if ('socket' in outcome) outcome.abort();
      return;
    }
    if (!('socket' in outcome)) {
      this.transportFailed(outcome);
      return;
    }
    this.mqttConnect(outcome);
  }

  /** esp-tls's, transport_base's and esp-mqtt's lines for a failed connect, then the wait. */
  private transportFailed(f: TlsFailure): void {
    let esp = ESP_ERR.ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED!;
    let stack = 0;
    let errno = 0;
    if (f.kind === 'tcp') {
      this.out.e('esp-tls', `[sock=54] delayed connect error: ${f.errno === 104 ? 'Connection reset by peer' : 'Host is unreachable'}`);
      esp = ESP_ERR.ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST!;
      errno = f.errno;
    } else if (f.kind === 'timeout') {
      this.out.w('esp-tls', 'Failed to open new connection in specified timeout');
      esp = ESP_ERR.ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT!;
    } else {
      stack = f.kind === 'too-large' ? MBEDTLS_ERR.MBEDTLS_ERR_SSL_BAD_INPUT_DATA! : f.stackErr;
      this.out.e('esp-tls-mbedtls', `mbedtls_ssl_handshake returned ${mbedtlsHex(stack)}`);
      // esp-tls asks for the verify result after any handshake error (a CA is configured).
      if (f.kind === 'verify' && f.flags !== 0) this.out.i('esp-tls-mbedtls', 'Failed to verify peer certificate!');
      else this.out.i('esp-tls-mbedtls', 'Certificate verified.');
    }
    if (f.kind !== 'timeout') this.out.e('esp-tls', 'Failed to open new connection');
    this.out.e('transport_base', 'Failed to open a new connection');
    this.out.e('mqtt_client', 'Error transport connect');
    this.errorEvent(esp, Math.abs(stack), errno);
    this.disconnected(null);
  }

  private errorEvent(esp: number, stack: number, errno: number): void {
    this.out.i(TAG, 'MQTT_EVENT_ERROR');
    this.out.i(TAG, `Last error code reported from esp-tls: 0x${esp.toString(16)}`);
    this.out.i(TAG, `Last tls stack error number: 0x${stack.toString(16)}`);
    this.out.i(TAG, `Last captured errno : ${errno} (${errno === 0 ? 'Success' : errno === 104 ? 'Connection reset by peer' : errno === 128 ? 'Socket is not connected' : 'Host is unreachable'})`);
  }

  private mqttConnect(conn: TlsConnection): void {
    const link: Link = {
      conn, timers: new Set(), connectedAt: 0, keepaliveTick: 0, waitPingResp: false, lastRetransmit: 0, ended: false,
    };
    this.link = link;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let phase: 'connack' | 'connected' = 'connack';
    parser.on('packet', (packet: Packet) => {
      if (link.ended) return;
      if (phase === 'connack') {
        if (packet.cmd !== 'connack') {
          this.out.e('mqtt_client', `Invalid MSG_TYPE response: ${packetType(packet)}, read_len: ${packet.length ?? 0}`);
          this.out.e('mqtt_client', 'MQTT connect failed');
          this.abort(link);
          return;
        }
        clearTimeout(connackTimer);
        link.timers.delete(connackTimer);
        const code = packet.returnCode ?? 0;
        if (code !== 0) {
          this.out.w('mqtt_client', CONNACK_TEXT[code] ?? 'Connection refused, Unknown reason');
          this.out.i(TAG, 'MQTT_EVENT_ERROR');
          this.out.i(TAG, `Connection refused error: 0x${code.toString(16)}`);
          this.out.e('mqtt_client', 'MQTT connect failed');
          this.abort(link);
          return;
        }
        phase = 'connected';
        this.connected(link, packet.sessionPresent === true);
        return;
      }
      this.onPacket(link, packet);
    });
    parser.on('error', (err: Error) => {
      if (link.ended) return;
      this.out.e('mqtt_client', `mqtt_message_receive: received a message with an invalid header: ${err.message}`);
      this.abort(link);
    });
    const socket = conn.socket;
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (link.ended) return;
      if (conn.readError !== null) {
        // mbedtls_ssl_read failed (esp_mbedtls_read logs it as a decimal), then the transport error.
        this.out.e('esp-tls-mbedtls', `read error :${conn.readError}:`);
        this.out.e('mqtt_client', 'esp_mqtt_handle_transport_read_error: transport_read() error: errno=0');
        this.errorEvent(0, Math.abs(conn.readError), 0);
      } else {
        // esp_mqtt_handle_transport_read_error: the FIN, then errno (lwIP's ENOTCONN after a close).
        this.out.e('mqtt_client', 'esp_mqtt_handle_transport_read_error: transport_read(): EOF');
        this.out.e('mqtt_client', 'esp_mqtt_handle_transport_read_error: transport_read() error: errno=128');
        this.errorEvent(ESP_ERR.ESP_ERR_ESP_TLS_TCP_CLOSED_FIN!, 0, 128);
      }
      if (phase === 'connack') {
        this.out.e('mqtt_client', 'esp_mqtt_connect: mqtt_message_receive() returned -2');
        this.out.e('mqtt_client', 'MQTT connect failed');
      } else {
        this.out.e('mqtt_client', 'mqtt_process_receive: mqtt_message_receive() returned -2');
      }
      this.abort(link);
    });
    this.send(link, {
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: this.s.cleanSession, clientId: this.s.clientId, keepalive: this.s.keepaliveS,
    });
    // esp_mqtt_connect waits network_timeout_ms for CONNACK.
    const connackTimer = this.after(MQTT_NETWORK_TIMEOUT_MS, () => {
      if (link.ended) return;
      this.out.e('mqtt_client', 'esp_mqtt_connect: mqtt_message_receive() returned 0');
      this.out.e('mqtt_client', 'MQTT connect failed');
      this.abort(link);
    }, link.timers);
  }

  /** Writes `packet`; `at` is when the app sent it (a deadline of its loop, else now). */
  private send(link: Link, packet: Packet, at = performance.now()): void {
    if (link.ended || !link.conn.socket.writable) return;
    link.conn.socket.write(mqttPacket.generate(packet));
    // The defect's keepalive is "idle time since the last packet out"; esp-mqtt's is not (below).
    if (this.has('no-pingreq-while-busy') && packet.cmd !== 'pingreq') link.keepaliveTick = at;
  }

  // --- MQTT_STATE_CONNECTED ---

  private connected(link: Link, sessionPresent: boolean): void {
    const now = performance.now();
    link.connectedAt = now;
    link.keepaliveTick = now;
    link.lastRetransmit = now;
    this.out.i(TAG, 'MQTT_EVENT_CONNECTED');
    // A kept session keeps its subscriptions: the app subscribes only when the broker has none.
    if (this.s.cleanSession || !sessionPresent || this.has('resubscribe-on-session')) {
      for (const topic of this.s.subscribe) {
        const id = this.nextMessageId();
        const packet = { cmd: 'subscribe' as const, messageId: id, subscriptions: [{ topic, qos: 1 as const }] };
        this.send(link, packet);
        this.outbox.push({ id, packet, queuedAt: now, sentAt: now });
        this.out.i(TAG, `sent subscribe successful, msg_id=${id}`);
      }
    } else {
      this.out.i(TAG, 'session present: subscriptions kept by the broker');
    }
    // esp_mqtt_task's loop (poll) and the app's publish task, on deadlines fixed from CONNACK:
    // a host too loaded to wake the app on time runs what fell due meanwhile in deadline order,
    // each at its own time, as the chip would have done. Rescheduling from each late wake-up
    // instead would drift, and a poll running before an overdue publish would see a gap the
    // chip never had (a PINGREQ from 'no-pingreq-while-busy' while it publishes).
    const publishMs = this.ms(this.s.publishPeriodMs);
    // The task's loop runs at least every poll timeout; a finer tick keeps scaled timing honest.
    const pollMs = this.ms(Math.min(MQTT_POLL_READ_TIMEOUT_MS, MQTT_DEFAULT_RETRANSMIT_TIMEOUT_MS) / 4);
    let nextPublish = now + publishMs;
    let nextPoll = now + pollMs;
    const tick = () => {
      while (!link.ended && Math.min(nextPublish, nextPoll) <= performance.now()) {
        if (nextPublish <= nextPoll) {
          this.publish(link, nextPublish);
          nextPublish += publishMs;
        } else {
          this.poll(link, nextPoll);
          nextPoll += pollMs;
        }
      }
      if (!link.ended) this.after((Math.min(nextPublish, nextPoll) - performance.now()) / this.s.timeScale, tick, link.timers);
    };
    this.after(Math.min(publishMs, pollMs) / this.s.timeScale, tick, link.timers);
  }

  /** The app's periodic publish, due at `now` (a deadline, maybe just past). */
  private publish(link: Link, now: number): void {
    const id = this.nextMessageId();
    this.published++;
    const payload = Buffer.from(JSON.stringify({ seq: this.published, uptime_ms: Math.floor(now - this.bootedAt) }));
    const packet = { cmd: 'publish' as const, messageId: id, qos: 1 as const, dup: false, retain: false, topic: this.s.publishTopic, payload };
    this.send(link, packet, now);
    this.outbox.push({ id, packet, queuedAt: now, sentAt: now });
    this.out.i(TAG, `sent publish successful, msg_id=${id}`);
  }

  /** One pass of esp_mqtt_task's CONNECTED branch, due at `now`: outbox expiry, retransmit, keepalive. */
  private poll(link: Link, now: number): void {
    // mqtt_delete_expired_messages: OUTBOX_EXPIRED_TIMEOUT_MS after it was queued.
    for (const item of this.outbox.filter((i) => now - i.queuedAt > this.ms(OUTBOX_EXPIRED_TIMEOUT_MS))) {
      this.outbox.splice(this.outbox.indexOf(item), 1);
      this.out.i(TAG, `Other event id:${EVENT.DELETED}`);
    }
    // Every message_retransmit_timeout, the oldest transmitted item older than that is resent:
    // PUBLISH with DUP set and the same id (mqtt_resend_queued). The tick is not renewed, so an
    // item that stays unacknowledged goes again every second.
    if (now - link.lastRetransmit >= this.ms(MQTT_DEFAULT_RETRANSMIT_TIMEOUT_MS)) {
      link.lastRetransmit = now;
      const item = this.outbox.find((i) => now - i.sentAt > this.ms(MQTT_DEFAULT_RETRANSMIT_TIMEOUT_MS));
      if (item) {
        if (item.packet.cmd === 'publish' && this.has('new-packet-id-on-retry')) {
          // The defect: the app republishes the message as a new one.
          item.id = this.nextMessageId();
          item.packet = { ...item.packet, messageId: item.id, dup: false };
        } else if (item.packet.cmd === 'publish') {
          item.packet = { ...item.packet, dup: true };
        }
        this.send(link, item.packet, now);
      }
    }
    this.keepalive(link, now);
  }

  /**
   * process_keepalive: PINGREQ when keepalive/2 has passed since the last PINGRESP (or CONNACK),
   * whatever else was sent meanwhile; "No PING_RESP, disconnected" when a full keepalive passes
   * without one.
   */
  private keepalive(link: Link, now: number): void {
    const keepaliveMs = this.ms(this.s.keepaliveS * 1000);
    if (this.s.keepaliveS === 0) return;
    if (link.waitPingResp) {
      if (now - link.keepaliveTick >= keepaliveMs) {
        this.out.e('mqtt_client', 'No PING_RESP, disconnected');
        this.abort(link);
      }
      return;
    }
    if (now - link.keepaliveTick >= keepaliveMs / 2) {
      this.send(link, { cmd: 'pingreq' });
      link.waitPingResp = true;
    }
  }

  private onPacket(link: Link, packet: Packet): void {
    switch (packet.cmd) {
      case 'puback': {
        if (this.removeFromOutbox(packet.messageId)) this.out.i(TAG, `MQTT_EVENT_PUBLISHED, msg_id=${packet.messageId}`);
        return;
      }
      case 'suback': {
        if (this.removeFromOutbox(packet.messageId)) {
          const code = packet.granted[0];
          this.out.i(TAG, `MQTT_EVENT_SUBSCRIBED, msg_id=${packet.messageId}, return code=0x${(typeof code === 'number' ? code : 0).toString(16).padStart(2, '0')} `);
        }
        return;
      }
      case 'publish': {
        const size = Buffer.byteLength(packet.payload);
        if (this.has('stack-overflow') && size > STACK_LEFT_FOR_DATA) {
          this.stackOverflow(MQTT_TASK);
          return;
        }
        this.out.i(TAG, 'MQTT_EVENT_DATA');
        this.raw(`TOPIC=${packet.topic}`);
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        this.raw(`DATA=${payload.length <= 64 ? payload.toString('latin1') : `${payload.subarray(0, 64).toString('latin1')}... (${payload.length} bytes)`}`);
        // mqtt_process_receive answers a QoS 1 message once it has read all of it.
        if (packet.qos === 1) this.send(link, { cmd: 'puback', messageId: packet.messageId! });
        if (packet.qos === 2) this.send(link, { cmd: 'pubrec', messageId: packet.messageId! });
        return;
      }
      case 'pubrel':
        this.send(link, { cmd: 'pubcomp', messageId: packet.messageId! });
        return;
      case 'pingresp':
        link.keepaliveTick = performance.now();
        link.waitPingResp = false;
        return;
      default:
        return;
    }
  }

  /**
   * FreeRTOS's stack check caught `task` past its end: ESP-IDF's vApplicationStackOverflowHook
   * aborts, the panic handler prints its lines (no register dump for an abort), and the chip
   * restarts (SW_CPU_RESET): sockets die without a FIN, the app boots from the start.
   */
  private stackOverflow(task: string): void {
    // (on a line of its own: the handler's last log line may not have ended)
    for (const text of ['', ...stackOverflowPanic(task, this.identity.elfSha256)]) this.out.raw(text);
    this.restart('SW_CPU_RESET', 'silent');
  }

  /** printf from the app's handler: the line as it is, no log prefix. */
  private raw(text: string): void {
    this.out.raw(text.replace(/[\r\n]/g, ' '));
  }

  private removeFromOutbox(id: number | undefined): boolean {
    const at = this.outbox.findIndex((i) => i.id === id);
    if (at < 0) return false;
    this.outbox.splice(at, 1);
    return true;
  }

  /**
   * esp_mqtt_abort_connection: close the transport (FIN; esp-tls sends no close_notify),
   * MQTT_EVENT_DISCONNECTED, then MQTT_STATE_WAIT_RECONNECT.
   */
  private abort(link: Link): void {
    if (link.ended) return;
    link.ended = true;
    for (const timer of link.timers) {
      clearTimeout(timer);
      this.timers.delete(timer);
    }
    link.timers.clear();
    link.conn.raw.end();
    link.conn.socket.destroy();
    if (this.link === link) this.link = null;
    this.disconnected(link);
  }

  private disconnected(link: Link | null): void {
    this.out.i(TAG, 'MQTT_EVENT_DISCONNECTED');
    // Failures in a row; a connection that stayed up long enough starts the count again.
    if (link && link.connectedAt > 0 && performance.now() - link.connectedAt >= this.ms(STABLE_MS)) this.failures = 0;
    this.failures++;
    const g = this.generation;
    this.after(reconnectDelayMs(this.s.reconnect, this.s.defects, this.failures), () => {
      if (g === this.generation) void this.connect();
    });
  }
}

const CONNACK_TEXT: Record<number, string> = {
  1: 'Connection refused, bad protocol',
  3: 'Connection refused, server unavailable',
  4: 'Connection refused, bad username or password',
  5: 'Connection refused, not authorized',
};

const TYPE_NUMBER: Record<string, number> = {
  connect: 1, connack: 2, publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7, subscribe: 8, suback: 9,
  unsubscribe: 10, unsuback: 11, pingreq: 12, pingresp: 13, disconnect: 14,
};

function packetType(packet: Packet): number {
  return TYPE_NUMBER[packet.cmd] ?? 0;
}
