/**
 * One connection as the test agent makes it on a real ESP32: esp-tls (DNS, TCP, Mbed TLS
 * handshake) and, for mqtt.connect, esp-mqtt on top. The bytes on the wire are real (node:tls);
 * the verify decision is Mbed TLS's (mbedtls/verify.ts) at the device's clock; heap and device
 * time are modelled. Failures carry esp-tls's error record and print esp-tls's console lines.
 *
 * Where the wire differs from a real device (docs/emulator.md): node:tls verifies the server
 * only after its handshake completes, so a refused server sees a finished handshake followed
 * by a close instead of Mbed TLS's fatal alert; and an allocation failure during the handshake
 * is decided once the handshake is over (the peer chain is known only then).
 */
import { lookup } from 'node:dns/promises';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { MqttClient } from 'mqtt';
import type { ConnectResult } from '../harness/protocol/index.ts';
import type { Console } from './console.ts';
import type { BoardHeap, CertShape, ConnectionShape, HeapPlan } from './heap.ts';
import { PARTS, RECORD_OVERHEAD, planConnection } from './heap.ts';
import {
  BADCERT, ESP_ERR, MBEDTLS_ERR, espErrName, judgeServerCertificate, mbedtlsErrName, mbedtlsHex, opensslCipherList,
  suiteByOpenssl, verifyInfo, type MbedtlsConfig, type Suite,
} from './mbedtls/index.ts';
import { CONNECT_TASK, StackOverflow, stackAt, type StackStep } from './stack.ts';
import { handshakeCryptoMs, recordCryptoMs, type ChipShape, type PublicKeyShape } from './timing.ts';

/** The socket number esp-tls prints; lwIP hands out 54 first on a fresh ESP32. */
const SOCK = 54;

export interface OwnIdentity {
  cert: string;
  key: string;
  parsed: X509Certificate;
}

export interface MqttSpec {
  clientId: string;
  keepalive: number;
  clean: boolean;
  username: string | null;
  password: Buffer | null;
}

export interface ConnectSpec {
  host: string;
  port: number;
  /** Name to verify and to send as SNI. */
  sni: string;
  /** Parsed CA store, or null for `ca=none`. */
  ca: X509Certificate[] | null;
  own: OwnIdentity | null;
  /** A CA, certificate or key that did not parse: esp-tls fails while building its handle. */
  credentialError: { esp: string; stack: string; what: string } | null;
  suites: Suite[];
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  timeoutMs: number;
  skipCn: boolean;
  alpn: string[];
  mqtt: MqttSpec | null;
  /** The connect task's stack size in bytes (`stack=`, default 8192). */
  stackSize: number;
}

export interface BoardContext {
  config: MbedtlsConfig;
  chip: ChipShape;
  heap: BoardHeap;
  console: Console;
  /** The device's clock (1970 plus uptime until time.set). */
  clock: () => Date;
  /** Skip server verification (CONFIG_ESP_TLS_INSECURE + SKIP_SERVER_CERT_VERIFY). */
  insecure: boolean;
  /** Take as long on the wire as the model says. */
  realtime: boolean;
  /** Events for the agent (mqtt.message, mqtt.disconnected). */
  onMqttMessage: (topic: string, qos: number, payload: Buffer) => void;
  onMqttDisconnected: (reason: string) => void;
}

/** An open connection: heap held, sockets to close. */
export interface Session {
  tls: TLSSocket;
  mqtt: MqttClient | null;
  heldBytes: number;
  close(): Promise<void>;
}

type Failure = NonNullable<ConnectResult['error']>;

function failure(esp: string, more: Partial<Omit<Failure, 'esp_err' | 'esp_err_name'>> = {}): Failure {
  const stack = more.stack_err ?? 0;
  const flags = more.verify_flags ?? 0;
  return {
    esp_err: ESP_ERR[esp]!, esp_err_name: espErrName(ESP_ERR[esp]!),
    stack_err: stack, stack_err_name: stack ? mbedtlsErrName(stack) : null,
    verify_flags: flags, verify_info: flags ? verifyInfo(flags) : [],
    mqtt_error_type: more.mqtt_error_type ?? (more.connack != null ? 'CONNECTION_REFUSED' : null),
    connack: more.connack ?? null, sock_errno: more.sock_errno ?? 0,
  } as Failure;
}

function keyShape(cert: X509Certificate): PublicKeyShape & CertShape {
  const details = cert.publicKey.asymmetricKeyDetails ?? {};
  const der = cert.raw.length;
  if (cert.publicKey.asymmetricKeyType === 'rsa') return { type: 'rsa', key: 'rsa', bits: details.modulusLength ?? 2048, der };
  if (details.namedCurve === 'prime256v1') return { type: 'ec-p256', key: 'ec-p256', der };
  if (details.namedCurve === 'secp384r1') return { type: 'ec-p384', key: 'ec-p384', der };
  return { type: 'other', key: 'other', der };
}

const dn = (multiline: string) => multiline.split('\n').filter(Boolean).join(', ');
const fingerprint = (c: X509Certificate) => c.fingerprint256.replaceAll(':', '').toLowerCase();
const isIp = (host: string) => net.isIP(host) !== 0;

/** The chain the server sent, leaf first (Node links it by issuer; a self-signed leaf ends it). */
function peerChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let detailed = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  while (detailed && detailed.raw && !seen.has(detailed.fingerprint256)) {
    seen.add(detailed.fingerprint256);
    chain.push(new X509Certificate(detailed.raw));
    detailed = detailed.issuerCertificate;
  }
  return chain;
}

/**
 * The errno esp-tls sees for a failed TCP connect, from Node's error code. lwIP turns a refused
 * port (RST) into ECONNRESET, and on ESP-IDF errno numbers are newlib's, not Linux's:
 * ECONNRESET 104, ENETUNREACH 114, EHOSTUNREACH 118 (113 is ECONNABORTED there). The host agent
 * maps the same way (firmware/host/esp_tls_host.c, etls_lwip_errno).
 */
export const CONNECT_ERRNO: Readonly<Record<string, { errno: number; text: string }>> = {
  EHOSTUNREACH: { errno: 118, text: 'Host is unreachable' },
  ENETUNREACH: { errno: 114, text: 'Network is unreachable' },
};
const RESET = { errno: 104, text: 'Connection reset by peer' };
export const connectErrno = (code: string | undefined) => (code && CONNECT_ERRNO[code]) || RESET;

/** The connection's heap shape once the server's chain is known. */
function heapShape(setup: ConnectionShape, chain: X509Certificate[], trusted: X509Certificate[], ecdhe: boolean): ConnectionShape {
  // A lone certificate whose issuer is nowhere in the trust store leaves Mbed TLS no signature to check.
  const top = chain[chain.length - 1];
  const checksSignatures = chain.length > 1 || (top !== undefined && trusted.some((ca) => ca.subject === top.issuer));
  return { ...setup, peer: chain.map(keyShape), ecdhe, largestRecord: chain.reduce((n, c) => n + c.raw.length, 0) + 100, checksSignatures };
}

/** The version and suite (Mbed TLS's name) a TLS socket agreed on, once the server's hello is in. */
function agreedOn(s: TLSSocket): { version: 'TLSv1.2' | 'TLSv1.3'; cipher: string } {
  const name = s.getCipher()?.name ?? '';
  return { version: s.getProtocol() === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2', cipher: suiteByOpenssl(name)?.mbedtls ?? name };
}

/** What Mbed TLS returns for a handshake that ended on the wire, from what Node saw. */
function wireFailure(err: NodeJS.ErrnoException, rawEnded: boolean, rawReset: boolean): { stack: number; errno: number } {
  const text = `${err.code ?? ''} ${err.message}`;
  if (/ALERT/i.test(text) || / alert /.test(err.message)) return { stack: MBEDTLS_ERR.MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE!, errno: 0 };
  // Node reports a peer's FIN before the handshake ended as ECONNRESET too, but with this
  // message; Mbed TLS reads that FIN as EOF (the library does: test/native/differential.spec.ts).
  if (rawEnded || err.message.startsWith('Client network socket disconnected')) return { stack: MBEDTLS_ERR.MBEDTLS_ERR_SSL_CONN_EOF!, errno: 0 };
  if (rawReset || err.code === 'ECONNRESET' && !rawEnded) return { stack: MBEDTLS_ERR.MBEDTLS_ERR_NET_CONN_RESET!, errno: 104 };
  if (err.code === 'EPIPE') return { stack: MBEDTLS_ERR.MBEDTLS_ERR_NET_SEND_FAILED!, errno: 32 };
  if (rawEnded || err.code === 'ECONNRESET') return { stack: MBEDTLS_ERR.MBEDTLS_ERR_SSL_CONN_EOF!, errno: 0 };
  return { stack: MBEDTLS_ERR.MBEDTLS_ERR_SSL_INVALID_RECORD!, errno: 0 };
}

const CONNACK_TEXT: Record<number, string> = {
  1: 'Connection refused, bad protocol',
  3: 'Connection refused, server unavailable',
  4: 'Connection refused, bad username or password',
  5: 'Connection refused, not authorized',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * TLS contexts by their options. Building one parses the key and certificate and loads the
 * cipher list, which costs more than the handshake's own work on the host; boards in one process
 * connecting with the same identity share one.
 */
const contexts = new Map<string, tls.SecureContext>();
const MAX_CONTEXTS = 64;

function secureContextFor(options: tls.SecureContextOptions): tls.SecureContext {
  const key = JSON.stringify(options);
  let context = contexts.get(key);
  if (!context) {
    if (contexts.size >= MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
    context = tls.createSecureContext(options);
    contexts.set(key, context);
  }
  return context;
}

/**
 * One connect. Throws StackOverflow when the stack model says the connect task ran out of stack
 * (stack.ts): the board panics then, and nothing of the connect is left open.
 */
export async function connect(ctx: BoardContext, spec: ConnectSpec): Promise<{ result: ConnectResult; session: Session | null }> {
  const { console: out, heap } = ctx;
  const started = performance.now();
  const heapBefore = heap.free;
  let held = 0;
  let lowest = heapBefore;
  // null: a phase the attempt never reached.
  const timing = { dns_ms: 0 as number | null, tcp_ms: null as number | null, tls_ms: null as number | null, mqtt_ms: null as number | null };
  let tlsInfo: ConnectResult['tls'] = null;
  // (asserted, not annotated: both are assigned in callbacks, which TypeScript's narrowing cannot see)
  let raw = null as net.Socket | null;
  let secure = null as TLSSocket | null;

  const release = () => {
    heap.give(held);
    held = 0;
  };
  // The connect task's stack: the deepest step reached so far, as the high-water mark keeps it.
  let stackPeak = 0;
  const reach = (step: StackStep) => {
    stackPeak = Math.max(stackPeak, stackAt(step));
    if (stackPeak <= spec.stackSize) return;
    secure?.destroy();
    raw?.destroy();
    release();
    throw new StackOverflow(CONNECT_TASK, spec.stackSize, stackPeak, step);
  };
  const result = (error: Failure | null, mqtt: ConnectResult['mqtt'] = null): ConnectResult => ({
    connected: error === null,
    tls: tlsInfo,
    error,
    timing: { ...timing, total_ms: Math.round((timing.dns_ms ?? 0) + (timing.tcp_ms ?? 0) + (timing.tls_ms ?? 0) + (timing.mqtt_ms ?? 0)), source: 'model' },
    heap: { before: heapBefore, min: lowest, after: heap.free, peak_used: heapBefore - lowest, source: 'model' },
    stack: { size: spec.stackSize, peak_used: stackPeak, source: 'model' },
    mqtt,
  } as ConnectResult);
  /** esp-tls's failure path: its lines, then transport_base's and esp-mqtt's. */
  const fail = (error: Failure): { result: ConnectResult; session: null } => {
    // Its error lines go deeper on the stack than the handshake did (measured on the host agent).
    if (out.prints('E')) reach('tlsError');
    secure?.destroy();
    raw?.destroy();
    release();
    out.e('esp-tls', 'Failed to open new connection');
    out.e('transport_base', 'Failed to open a new connection');
    if (spec.mqtt) mqttTransportError();
    return { result: result(spec.mqtt ? { ...error, mqtt_error_type: 'TCP_TRANSPORT' } : error), session: null };
  };
  const mqttTransportError = () => {
    out.e('mqtt_client', 'Error transport connect');
    out.i('hil_agent', 'MQTT_EVENT_ERROR');
    out.i('hil_agent', 'MQTT_EVENT_DISCONNECTED');
  };
  const remaining = () => spec.timeoutMs - (performance.now() - started);
  const timedOut = (): { result: ConnectResult; session: null } => {
    out.w('esp-tls', 'Failed to open new connection in specified timeout');
    secure?.destroy();
    raw?.destroy();
    release();
    out.e('transport_base', 'Failed to open a new connection');
    if (spec.mqtt) mqttTransportError();
    const error = failure('ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT', spec.mqtt ? { mqtt_error_type: 'TCP_TRANSPORT' } : {});
    return { result: result(error), session: null };
  };

  // 1. DNS (skipped for an address, as lwIP does).
  reach('tcp');
  let address = spec.host;
  if (!isIp(spec.host)) {
    const t0 = performance.now();
    try {
      const answer = await Promise.race([lookup(spec.host, { family: 4 }), sleep(spec.timeoutMs).then(() => { throw new Error('timeout'); })]);
      address = answer.address;
    } catch {
      timing.dns_ms = Math.round(performance.now() - t0);
      out.e('esp-tls', `couldn't get hostname for :${spec.host}: getaddrinfo() returns 202, addrinfo=0x0`);
      return fail(failure('ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME'));
    }
    timing.dns_ms = Math.round(performance.now() - t0);
  }

  // 2. TCP.
  const tcpStart = performance.now();
  let rawEnded = false;
  let rawReset = false;
  const tcp = await new Promise<'ok' | 'timeout' | NodeJS.ErrnoException>((resolve) => {
    const socket = net.connect({ host: address, port: spec.port, noDelay: true });
    raw = socket;
    const timer = setTimeout(() => resolve('timeout'), Math.max(0, remaining()));
    socket.once('connect', () => { clearTimeout(timer); resolve('ok'); });
    socket.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err); });
  });
  timing.tcp_ms = Math.round((performance.now() - tcpStart) * 10) / 10;
  // esp-tls connects non-blocking and waits in select(): failures surface as "delayed connect
  // error" with lwIP's errno (connectErrno).
  if (tcp === 'timeout') {
    out.e('esp-tls', `[sock=${SOCK}] select() timeout`);
    return fail(failure('ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT'));
  }
  if (tcp !== 'ok') {
    const { errno, text } = connectErrno(tcp.code);
    out.e('esp-tls', `[sock=${SOCK}] delayed connect error: ${text}`);
    return fail(failure('ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST', { sock_errno: errno }));
  }
  const socket = raw!;
  socket.on('end', () => { rawEnded = true; });
  socket.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET') rawReset = true; });

  // 3. esp-tls builds the Mbed TLS handle: CA store, own certificate, ssl_setup buffers. This is
  // the TLS phase already (the host agent times it in tls_ms), whether it fails or not.
  timing.tls_ms = 0;
  reach('setup');
  if (spec.credentialError) {
    const { esp, stack, what } = spec.credentialError;
    const code = MBEDTLS_ERR[stack]!;
    out.e('esp-tls-mbedtls', `${what} returned ${mbedtlsHex(code)}`);
    if (!what.includes('CA cert')) out.e('esp-tls-mbedtls', 'Failed to set client pki context');
    out.e('esp-tls-mbedtls', `Failed to set client configurations, returned [0x${ESP_ERR[esp]!.toString(16).toUpperCase()}] (${esp})`);
    out.e('esp-tls', 'create_ssl_handle failed');
    return fail(failure(esp, { stack_err: -code }));
  }
  if (!spec.ca && !ctx.insecure) {
    out.e('esp-tls-mbedtls', 'No server verification option set in esp_tls_cfg_t structure. Check esp_tls API reference');
    out.e('esp-tls-mbedtls', `Failed to set client configurations, returned [0x${ESP_ERR.ESP_ERR_MBEDTLS_SSL_SETUP_FAILED!.toString(16).toUpperCase()}] (ESP_ERR_MBEDTLS_SSL_SETUP_FAILED)`);
    out.e('esp-tls', 'create_ssl_handle failed');
    return fail(failure('ESP_ERR_MBEDTLS_SSL_SETUP_FAILED'));
  }
  const buffers = {
    inContentLen: ctx.config.inContentLen, outContentLen: ctx.config.outContentLen, dynamicBuffer: ctx.config.dynamicBuffer,
    keepPeerCertificate: ctx.config.keepPeerCertificate, freeCaCert: ctx.config.freeCaCert, freeConfigData: ctx.config.freeConfigData,
  };
  const shape: ConnectionShape = {
    ca: (spec.ca ?? []).map(keyShape), own: spec.own ? keyShape(spec.own.parsed) : null, peer: [], ecdhe: false, largestRecord: 0,
  };
  const setupPlan = planConnection(buffers, shape);
  const setupBytes = setupPlan.phases[0]!.bytes;
  if (setupPlan.largestBlock > heap.largest || !heap.take(setupBytes)) {
    // mbedtls_ssl_setup allocates, in order: the IN and OUT record buffers, the transform,
    // session and handshake parameters (SSL_ALLOC_FAILED), then the two transcript hashes
    // (mbedtls_ssl_reset_checksum: MD_ALLOC_FAILED). esp-tls had its contexts, the CA store and
    // the own certificate before. The first allocation that does not fit decides the code.
    const buffersBytes = ctx.config.dynamicBuffer ? 0 : ctx.config.inContentLen + ctx.config.outContentLen + 2 * RECORD_OVERHEAD;
    const beforeHashes = setupBytes - PARTS.transcriptHashes;
    const hashes = setupPlan.largestBlock <= heap.largest && heap.free >= beforeHashes;
    const reached = hashes ? beforeHashes : setupBytes - buffersBytes - PARTS.sslContexts - PARTS.handshake - PARTS.transcriptHashes;
    lowest = Math.min(lowest, heap.free - Math.max(0, Math.min(reached, heap.free)));
    const code = hashes ? MBEDTLS_ERR.MBEDTLS_ERR_MD_ALLOC_FAILED! : MBEDTLS_ERR.MBEDTLS_ERR_SSL_ALLOC_FAILED!;
    out.e('esp-tls-mbedtls', `mbedtls_ssl_setup returned ${mbedtlsHex(code)}`);
    out.e('esp-tls', 'create_ssl_handle failed');
    return fail(failure('ESP_ERR_MBEDTLS_SSL_SETUP_FAILED', { stack_err: -code }));
  }
  held = setupBytes;
  lowest = Math.min(lowest, heap.free);

  // 4. The handshake, on the wire.
  const tlsStart = performance.now();
  let keyedChain: X509Certificate[] = [];
  let keyedEcdhe = true;
  // Mbed TLS reports the version and suite of a handshake that fails after the server's hello.
  let agreed = null as ReturnType<typeof agreedOn> | null;
  const outcome = await new Promise<'ok' | 'timeout' | NodeJS.ErrnoException>((resolve) => {
    const s = tls.connect({
      socket,
      // esp-tls calls mbedtls_ssl_set_hostname only without skip_common_name: no SNI otherwise.
      servername: isIp(spec.sni) || spec.skipCn ? undefined : spec.sni,
      secureContext: secureContextFor({
        ciphers: opensslCipherList(spec.suites),
        minVersion: 'TLSv1.2',
        maxVersion: spec.maxVersion,
        ...(ctx.config.curves.length > 0 ? { ecdhCurve: ctx.config.curves.join(':') } : {}),
        ...(spec.own ? { cert: spec.own.cert, key: spec.own.key } : {}),
      }),
      ...(spec.alpn.length > 0 ? { ALPNProtocols: spec.alpn } : {}),
      // Mbed TLS decides below, at the device's clock; Node's verdict would be the host's.
      rejectUnauthorized: false,
    });
    secure = s;
    // Key material is derived once the server's flight is processed: the chain, version and suite
    // are known by then, and stay known should the server refuse what the device sends next. Node
    // has no event for the server's hello itself, so a server that gives up inside its own flight
    // is reported without tls, where the library would give them (docs/fidelity.md).
    s.on('keylog', () => {
      agreed = agreedOn(s);
      const chain = peerChain(s);
      if (chain.length === 0) return; // TLS 1.3 derives keys before the server's certificate
      keyedChain = chain;
      keyedEcdhe = Boolean(suiteByOpenssl(s.getCipher()?.name ?? '')?.kex?.startsWith('ECDHE')) || s.getProtocol() === 'TLSv1.3';
    });
    const timer = setTimeout(() => resolve('timeout'), Math.max(0, remaining()));
    s.once('secureConnect', () => { clearTimeout(timer); resolve('ok'); });
    s.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err); });
  });
  const wireMs = performance.now() - tlsStart;
  if (outcome !== 'ok' && agreed) tlsInfo = { ...agreed, alpn: null, peer: null };
  if (outcome === 'timeout') {
    timing.tls_ms = Math.round(wireMs);
    return timedOut();
  }
  if (outcome !== 'ok') {
    timing.tls_ms = Math.round(wireMs);
    const { stack, errno } = wireFailure(outcome, rawEnded, rawReset);
    // A server that refused the device's own flight (its certificate) did so after the device had
    // parsed and verified the chain and done its key exchange: the heap and the stack went that deep.
    if (keyedChain.length > 0) {
      reach('handshake');
      const reached = Math.min(heapBefore, planConnection(buffers, heapShape(shape, keyedChain, spec.ca ?? [], keyedEcdhe)).peak);
      lowest = Math.min(lowest, heapBefore - reached);
      heap.touch(reached - held);
    }
    return handshakeFailed(stack, 0, errno);
  }
  const s = secure! as TLSSocket;
  // The server's flight is processed now (chain, verify, ECDHE): the handshake's deepest point.
  reach('handshake');

  const chain = peerChain(s);
  const cipher = suiteByOpenssl(s.getCipher().name);
  const onWire = agreedOn(s);
  const { version } = onWire;
  const leaf = chain[0] ?? null;
  tlsInfo = {
    ...onWire, alpn: s.alpnProtocol || null,
    peer: leaf ? { subject: dn(leaf.subject), issuer: dn(leaf.issuer), sha256: fingerprint(leaf) } : null,
  } as ConnectResult['tls'];

  // Mbed TLS works through the server's flight in order: parse the chain (allocating it), verify
  // it, then the key exchange (ECDHE temporaries, the server's signature, the device's own).
  // Whatever stops it first decides the error, and the device time counts only the work done.
  const ecdhe = Boolean(cipher?.kex?.startsWith('ECDHE')) || version === 'TLSv1.3';
  const crypto = handshakeCryptoMs({
    chainSignatures: chain.map((c, i) => keyShape(chain[i + 1] ?? spec.ca?.find((a) => c.checkIssued(a)) ?? c)),
    serverKey: leaf ? keyShape(leaf) : null,
    ecdhe,
    clientKey: spec.own ? keyShape(spec.own.parsed) : null,
    certificates: chain.length,
    bytes: chain.reduce((n, c) => n + c.raw.length, 0) + 1500,
  }, ctx.chip).parts;
  const plan: HeapPlan = planConnection(buffers, heapShape(shape, chain, spec.ca ?? [], ecdhe));
  const [, certificatePhase, keyExchangePhase] = plan.phases;
  const verdict = ctx.insecure ? { flags: 0, stackErr: 0 } : judgeServerCertificate({
    chain, trusted: spec.ca ?? [], now: ctx.config.haveTimeDate ? ctx.clock() : null,
    expectedName: spec.skipCn ? null : spec.sni, kex: cipher?.kex ?? null, authmodeRequired: true,
  });
  // Where the heap runs out, as Mbed TLS 3.6 reports it (docs/fidelity.md, "Fixed in the low-heap
  // comparison"): the first allocation of the server's Certificate message is the mbedtls_x509_crt
  // to parse it into (SSL_ALLOC_FAILED); then the parse (X.509's code). A chain parsed whose
  // signature checks cannot get their temporaries fails verification as badly signed
  // (NOT_TRUSTED, with whatever else the checks found). The key exchange's deepest allocations
  // are bignum limbs (MPI_ALLOC_FAILED). A stop for lack of heap took the heap down to nothing.
  const parsedBytes = planConnection(buffers, { ...heapShape(shape, chain, spec.ca ?? [], ecdhe), checksSignatures: false }).phases[1]!.bytes;
  const verifyShort = certificatePhase!.bytes > heapBefore;
  const stop = setupBytes + PARTS.peerCertificate > heapBefore ? { at: 'parse', code: MBEDTLS_ERR.MBEDTLS_ERR_SSL_ALLOC_FAILED!, flags: 0, reached: setupBytes }
    : parsedBytes > heapBefore ? { at: 'parse', code: MBEDTLS_ERR.MBEDTLS_ERR_X509_ALLOC_FAILED!, flags: 0, reached: heapBefore }
    : verifyShort ? { at: 'verify', code: MBEDTLS_ERR.MBEDTLS_ERR_X509_CERT_VERIFY_FAILED!, flags: verdict.flags | BADCERT.NOT_TRUSTED!, reached: heapBefore }
    : verdict.stackErr !== 0 ? { at: 'verify', code: verdict.stackErr, flags: verdict.flags, reached: certificatePhase!.bytes }
    : keyExchangePhase!.bytes > heapBefore ? { at: 'key_exchange', code: MBEDTLS_ERR.MBEDTLS_ERR_MPI_ALLOC_FAILED!, flags: 0, reached: heapBefore }
    : null;
  const deviceMs = !stop ? Object.values(crypto).reduce((a, b) => a + b, 0)
    : stop.at === 'parse' ? crypto.parse!
    : stop.at === 'verify' ? crypto.parse! + crypto.chain!
    : crypto.parse! + crypto.chain! + crypto.serverSignature!;
  timing.tls_ms = Math.round(wireMs + deviceMs);
  if (ctx.realtime) await sleep(deviceMs);
  // The low-water mark: as deep as the attempt went (the peak when nothing stopped it).
  const reached = stop ? stop.reached : plan.peak;
  lowest = Math.min(lowest, heapBefore - reached);
  heap.touch(reached - held);
  if (stop) return handshakeFailed(stop.code, stop.flags, 0);

  // Connected at TLS level: what an open connection holds now belongs to the session.
  heap.give(held);
  held = 0;
  heap.take(plan.steady);
  let closing = false;
  const session: Session = {
    tls: s,
    mqtt: null,
    heldBytes: plan.steady,
    close: async () => {
      closing = true;
      const client = session.mqtt;
      // DISCONNECT goes out if the socket takes it; a dead peer must not hold the board.
      if (client) await Promise.race([new Promise<void>((resolve) => client.end(false, {}, () => resolve())), sleep(2_000)]);
      s.destroy();
      heap.give(session.heldBytes);
      session.heldBytes = 0;
    },
  };
  if (!spec.mqtt) return { result: result(null), session };

  // 7. esp-mqtt: CONNECT, wait for CONNACK (its network timeout; the agent passes timeout_ms).
  reach('mqtt');
  const mqttStart = performance.now();
  const m = spec.mqtt;
  type MqttOutcome = { connack: number; sessionPresent: boolean } | { closed: true } | { timeout: true };
  const mqttOutcome = await new Promise<MqttOutcome>((resolve) => {
    const client = new MqttClient(() => s, {
      clientId: m.clientId, keepalive: m.keepalive, clean: m.clean, protocolVersion: 4, reconnectPeriod: 0,
      // esp-mqtt's own wait is ours below; mqtt.js must not give up first.
      connectTimeout: spec.timeoutMs + 60_000,
      ...(m.username !== null ? { username: m.username } : {}), ...(m.password ? { password: m.password } : {}),
    });
    session.mqtt = client;
    // mqtt.js reports protocol trouble as 'error' events for the whole session: never unhandled.
    client.on('error', (err: Error & { code?: number | string }) => {
      if (typeof err.code === 'number') resolve({ connack: err.code, sessionPresent: false });
    });
    const timer = setTimeout(() => resolve({ timeout: true }), spec.timeoutMs);
    client.once('connect', (packet) => { clearTimeout(timer); resolve({ connack: 0, sessionPresent: packet.sessionPresent }); });
    client.once('close', () => { clearTimeout(timer); resolve({ closed: true }); });
  });
  timing.mqtt_ms = Math.round(performance.now() - mqttStart + recordCryptoMs(200, ctx.chip));
  if (!('connack' in mqttOutcome) || mqttOutcome.connack !== 0) {
    await session.close();
    if ('closed' in mqttOutcome) {
      // The broker closed before CONNACK: lwIP reports ENOTCONN (128) on the read, esp-tls the FIN.
      out.e('mqtt_client', 'mqtt_message_receive: transport_read() error: errno=128');
      out.i('hil_agent', 'MQTT_EVENT_ERROR');
      out.e('mqtt_client', 'esp_mqtt_connect: mqtt_message_receive() returned -1');
      out.e('mqtt_client', 'MQTT connect failed');
      out.i('hil_agent', 'MQTT_EVENT_DISCONNECTED');
      return { result: result(failure('ESP_ERR_ESP_TLS_TCP_CLOSED_FIN', { mqtt_error_type: 'TCP_TRANSPORT', sock_errno: 128 })), session: null };
    }
    if ('timeout' in mqttOutcome) {
      // No CONNACK within the network timeout: esp-mqtt gives up without an error event; the
      // agent reports it as ESP_ERR_TIMEOUT.
      out.e('mqtt_client', 'esp_mqtt_connect: mqtt_message_receive() returned 0');
      out.e('mqtt_client', 'MQTT connect failed');
      out.i('hil_agent', 'MQTT_EVENT_DISCONNECTED');
      return { result: result(failure('ESP_ERR_TIMEOUT')), session: null };
    }
    // CONNACK refused: esp-mqtt's error record has no esp-tls error (0), the type and the code.
    const code = mqttOutcome.connack;
    out.w('mqtt_client', CONNACK_TEXT[code] ?? 'Connection refused, Unknow reason');
    out.i('hil_agent', 'MQTT_EVENT_ERROR');
    out.e('mqtt_client', 'MQTT connect failed');
    out.i('hil_agent', 'MQTT_EVENT_DISCONNECTED');
    // A CONNACK did arrive: the result says what it carried (docs/protocol.md, `mqtt`).
    return {
      result: result(failure('ESP_OK', { mqtt_error_type: 'CONNECTION_REFUSED', connack: code }), { session_present: mqttOutcome.sessionPresent, connack: code }),
      session: null,
    };
  }
  out.i('hil_agent', 'MQTT_EVENT_CONNECTED');
  const client = session.mqtt!;
  client.on('message', (topic, payload, packet) => ctx.onMqttMessage(topic, packet.qos, payload));
  client.once('close', () => {
    if (closing) return;
    out.i('hil_agent', 'MQTT_EVENT_DISCONNECTED');
    heap.give(session.heldBytes);
    session.heldBytes = 0;
    s.destroy();
    ctx.onMqttDisconnected('connection closed by broker');
  });
  return { result: result(null, { session_present: mqttOutcome.sessionPresent, connack: 0 }), session };

  function handshakeFailed(stack: number, flags: number, errno: number): { result: ConnectResult; session: null } {
    // mbedtls_ssl_get_peer_cert() is NULL until a handshake completes: the agent cannot report it.
    if (tlsInfo) tlsInfo = { ...tlsInfo, peer: null };
    out.e('esp-tls-mbedtls', `mbedtls_ssl_handshake returned ${mbedtlsHex(stack)}`);
    if (spec.ca) {
      // esp-tls asks for the verify result after any handshake error when a CA was configured.
      if (flags !== 0) {
        out.i('esp-tls-mbedtls', 'Failed to verify peer certificate!');
        out.d('esp-tls-mbedtls', `verification info: ${verifyInfoBuffer(flags)}`);
      } else {
        out.i('esp-tls-mbedtls', 'Certificate verified.');
      }
    }
    return fail(failure('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED', { stack_err: -stack, verify_flags: flags, sock_errno: errno }));
  }
}

/**
 * esp-tls formats the verify info into a 100-byte buffer with the prefix "  ! " and logs it as
 * one line: several flags run past the buffer and are cut, as on a real board.
 */
export function verifyInfoBuffer(flags: number): string {
  const text = verifyInfo(flags).map((s) => `  ! ${s}\n`).join('');
  return text.slice(0, 99).replace(/\n$/, '');
}
