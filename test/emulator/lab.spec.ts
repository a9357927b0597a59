/**
 * The emulated ESP32 against every lab listener: the exact device outcome (connected, version,
 * suite; or esp_err, Mbed TLS code, verify flags), the console lines ESP-IDF prints, and what
 * the broker saw of the same attempt.
 */
import { expect } from 'chai';
import type { ConnectResult } from '../../harness/protocol/index.ts';
import { startLab, type Attempt, type Lab } from '../../harness/lab/index.ts';
import { ensurePki, type Pki } from '../../harness/pki/index.ts';
import { openStreamBoard, parseSdkconfig, REFERENCE_SDKCONFIG, type StreamBoard } from '../../emulator/index.ts';
import { tempDir } from '../helpers.ts';
import { AgentClient } from './agent-client.ts';

const HANDSHAKE_FAILED = 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED';
/** The lines esp-tls, the SSL transport and esp-mqtt print after any failed connect, in order. */
const TRANSPORT_FAILURE = [/^E \(\d+\) esp-tls: Failed to open new connection$/, /^E \(\d+\) transport_base: Failed to open a new connection$/, /^E \(\d+\) mqtt_client: Error transport connect$/];
const verifyFailed = (code: string) => [
  new RegExp(`^E \\(\\d+\\) esp-tls-mbedtls: mbedtls_ssl_handshake returned ${code}$`),
  /^I \(\d+\) esp-tls-mbedtls: Failed to verify peer certificate!$/,
  ...TRANSPORT_FAILURE,
];

/** Asserts `patterns` appear in `lines` in this order (other lines may come between). */
function expectInOrder(lines: string[], patterns: RegExp[]): void {
  let at = 0;
  for (const pattern of patterns) {
    const found = lines.slice(at).findIndex((l) => pattern.test(l));
    expect(found, `console line ${pattern} (after line ${at}) in:\n${lines.join('\n')}`).to.not.equal(-1);
    at += found + 1;
  }
}

interface Case {
  title: string;
  profile: string;
  ca?: string;
  identity?: 'dev' | 'alt' | null;
  args?: Record<string, string | number>;
  device: { connected: true; version?: string; cipher?: string } | { esp: string; stack?: number; flags?: number; info?: string[] };
  /** A failed connect's `tls`: null before the server's hello, the agreed version and suite after it. */
  tls?: ConnectResult['tls'];
  lines?: RegExp[];
  timing?: (t: ConnectResult['timing']) => void;
  refusal?: Record<string, unknown>;
  broker?: (a: Attempt) => void;
}

const CASES: Case[] = [
  {
    title: 'good: connects with mutual TLS 1.2 and ECDHE-ECDSA AES-GCM', profile: 'good',
    device: { connected: true, version: 'TLSv1.2', cipher: 'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384' },
    lines: [/^I \(\d+\) hil_agent: MQTT_EVENT_CONNECTED$/],
    timing: (t) => expect(t.tls_ms, 'a mutual-TLS handshake on an ESP32 takes 0.8-2 s').to.be.within(800, 2000),
    broker: (a) => {
      expect(a.tls).to.include({ outcome: 'ok', protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384' });
      expect(a.tls!.clientCertificate!.subject).to.equal('CN=hilt-device-1, O=hilt lab');
      expect(a.mqtt).to.include({ clientId: 'hilt-device-1', connack: 0 });
    },
  },
  {
    title: 'expired server certificate: -0x2700, flags 0x01', profile: 'expired',
    device: { esp: HANDSHAKE_FAILED, stack: 0x2700, flags: 0x01, info: ['The certificate validity has expired'] },
    tls: { version: 'TLSv1.2', cipher: 'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384', alpn: null, peer: null },
    lines: verifyFailed('-0x2700'),
    // Mbed TLS stops at the Certificate message: no key exchange, no signature of its own.
    timing: (t) => expect(t.tls_ms).to.be.below(800),
    // node:tls decides after its handshake: the broker sees a finished handshake, then a close.
    broker: (a) => { expect(a.mqtt).to.equal(null); expect(a.closed!.by).to.equal('device'); },
  },
  {
    title: 'server certificate not yet valid: -0x2700, flags 0x200', profile: 'not-yet-valid',
    device: { esp: HANDSHAKE_FAILED, stack: 0x2700, flags: 0x200, info: ['The certificate validity starts in the future'] },
    lines: verifyFailed('-0x2700'),
  },
  {
    title: 'wrong CA (rogue root): flags 0x08', profile: 'rogue',
    device: { esp: HANDSHAKE_FAILED, stack: 0x2700, flags: 0x08, info: ['The certificate is not correctly signed by the trusted CA'] },
    lines: verifyFailed('-0x2700'),
  },
  {
    title: 'look-alike root (same name, other key): flags 0x08', profile: 'lookalike',
    device: { esp: HANDSHAKE_FAILED, stack: 0x2700, flags: 0x08 },
  },
  {
    title: 'self-signed server certificate: flags 0x08', profile: 'self-signed',
    device: { esp: HANDSHAKE_FAILED, stack: 0x2700, flags: 0x08 },
  },
  {
    title: 'wrong host name: flags 0x04', profile: 'wrong-host',
    device: { esp: HANDSHAKE_FAILED, stack: 0x2700, flags: 0x04, info: ['The certificate Common Name (CN) does not match with the expected CN'] },
  },
  {
    title: 'wrong host name with skip_cn=1: connects', profile: 'wrong-host', args: { skip_cn: 1 },
    device: { connected: true },
  },
  {
    title: 'CA rotation, old bundle: the next-root broker is refused (0x08)', profile: 'next-root',
    device: { esp: HANDSHAKE_FAILED, stack: 0x2700, flags: 0x08 },
  },
  { title: 'CA rotation, transition bundle: next-root connects', profile: 'next-root', ca: 'ca-trans', device: { connected: true } },
  { title: 'CA rotation, transition bundle: current root still connects', profile: 'good', ca: 'ca-trans', device: { connected: true } },
  {
    title: 'RSA chain: ECDHE-RSA', profile: 'rsa', ca: 'ca-rsa',
    device: { connected: true, version: 'TLSv1.2', cipher: 'TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384' },
  },
  {
    title: 'cipher mismatch: fatal alert -0x7780; broker: no shared cipher', profile: 'restricted-cipher',
    device: { esp: HANDSHAKE_FAILED, stack: 0x7780, flags: 0 },
    tls: null,
    lines: [/^E \(\d+\) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x7780$/, /^I \(\d+\) esp-tls-mbedtls: Certificate verified\.$/, ...TRANSPORT_FAILURE],
    broker: (a) => expect(a.tls).to.include({ outcome: 'failed', reason: 'no shared cipher' }),
  },
  {
    title: 'protocol version mismatch: TLS 1.3-only broker, TLS 1.2 device', profile: 'tls1.3-only',
    device: { esp: HANDSHAKE_FAILED, stack: 0x7780 },
    tls: null,
    broker: (a) => expect(a.tls).to.include({ outcome: 'failed', reason: 'unsupported protocol' }),
  },
  { title: 'TLS 1.2-only broker: connects', profile: 'tls1.2-only', device: { connected: true, version: 'TLSv1.2' } },
  // Under an id of its own: a device identity of the PKI is reachable only with its certificate.
  { title: 'no client certificate asked: connects', profile: 'no-client-auth', args: { client_id: 'no-cert-1' }, device: { connected: true } },
  {
    title: 'no client certificate asked, a device identity as client id: CONNACK 5', profile: 'no-client-auth',
    device: { esp: 'ESP_OK' }, refusal: { mqtt_error_type: 'CONNECTION_REFUSED', connack: 5 },
    broker: (a) => expect(a.mqtt).to.include({ clientId: 'hilt-device-1', connack: 5 }),
  },
  {
    title: 'device certificate expired: the broker refuses, the device sees the handshake end', profile: 'good', identity: 'alt',
    device: { esp: HANDSHAKE_FAILED, stack: 0x7280 },
    // The server's hello came before the refusal: the library reports what was agreed (no peer).
    tls: { version: 'TLSv1.2', cipher: 'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384', alpn: null, peer: null },
    broker: (a) => expect(a.tls).to.include({ outcome: 'refused', reason: 'CERT_HAS_EXPIRED' }),
  },
  {
    title: 'identity mismatch: CONNACK 5', profile: 'good', args: { client_id: 'someone-else' },
    // esp-mqtt's error record: no esp-tls error, type CONNECTION_REFUSED, the CONNACK code.
    device: { esp: 'ESP_OK' },
    lines: [/^W \(\d+\) mqtt_client: Connection refused, not authorized$/, /^E \(\d+\) mqtt_client: MQTT connect failed$/],
    broker: (a) => expect(a.mqtt).to.include({ clientId: 'someone-else', connack: 5 }),
    refusal: { mqtt_error_type: 'CONNECTION_REFUSED', connack: 5 },
  },
];

describe('emulated ESP32 against the lab', function () {
  let pki: Pki;
  let lab: Lab;
  let served: StreamBoard;
  let agent: AgentClient;
  let remove: () => Promise<void>;

  before(async function () {
    const tmp = await tempDir();
    remove = tmp.remove;
    pki = await ensurePki({ dir: tmp.dir });
    lab = await startLab({ pki });
    served = openStreamBoard();
    agent = new AgentClient(served.stream);
    await agent.setUp({
      'ca-current': ['ca', pki.bundle('bundle-current')], 'ca-trans': ['ca', pki.bundle('bundle-transition')],
      'ca-rsa': ['ca', pki.bundle('bundle-rsa')],
      'dev-cert': ['cert', pki.material('client-valid').cert], 'dev-key': ['key', pki.material('client-valid').key],
      'alt-cert': ['cert', pki.material('client-expired').cert], 'alt-key': ['key', pki.material('client-expired').key],
    });
  });
  after(async function () {
    await served?.close();
    await lab?.close();
    await remove();
  });

  const connectArgs = (profile: string, ca = 'ca-current', identity: 'dev' | 'alt' | null = 'dev', extra: Record<string, string | number> = {}) => ({
    host: '127.0.0.1', port: lab.listener(profile).port, sni: 'localhost', ca,
    ...(identity ? { cert: `${identity}-cert`, key: `${identity}-key` } : {}),
    client_id: 'hilt-device-1', ...extra,
  });

  for (const c of CASES) {
    it(c.title, async function () {
      const from = agent.console.length;
      const mark = lab.attempts.mark();
      const result = await agent.connect('mqtt.connect', connectArgs(c.profile, c.ca, c.identity === undefined ? 'dev' : c.identity, c.args));
      const lines = agent.console.slice(from);
      if ('connected' in c.device) {
        expect(result.connected, JSON.stringify(result.error)).to.equal(true);
        expect(result.error).to.equal(null);
        if (c.device.version) expect(result.tls!.version).to.equal(c.device.version);
        if (c.device.cipher) expect(result.tls!.cipher).to.equal(c.device.cipher);
        expect(result.mqtt).to.deep.equal({ session_present: false, connack: 0 });
      } else {
        expect(result.connected).to.equal(false);
        expect(result.error!.esp_err_name).to.equal(c.device.esp);
        if (c.device.stack !== undefined) expect(result.error!.stack_err, 'stack_err').to.equal(c.device.stack);
        if (c.device.flags !== undefined) expect(result.error!.verify_flags, 'verify_flags').to.equal(c.device.flags);
        if (c.device.info) expect(result.error!.verify_info).to.deep.equal(c.device.info);
        if (c.refusal) expect(result.error).to.include(c.refusal);
        // A failed handshake leaves no peer certificate to report (Mbed TLS has not kept one).
        if (result.error!.esp_err_name === 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED') expect(result.tls?.peer ?? null).to.equal(null);
        if (c.tls !== undefined) expect(result.tls, 'tls').to.deep.equal(c.tls);
      }
      if (c.lines) expectInOrder(lines, c.lines);
      c.timing?.(result.timing);
      expect(result.timing.source).to.equal('model');
      expect(result.heap.source).to.equal('model');
      // A connected device holds its connection: close it to see the whole record.
      if (result.connected) await agent.ok('mqtt.disconnect');
      const attempt = await lab.attempts.next(c.profile, { after: mark, until: 'closed', timeoutMs: 10_000 });
      c.broker?.(attempt);
      // No leak: every byte the connection took is back.
      const heap = await agent.ok<{ free: number }>('heap.stats');
      expect(heap.free, 'heap back to its level').to.equal(result.heap.before);
    });
  }

  it('a stalled handshake ends at timeout_ms (+/-20%) with ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT', async function () {
    const from = agent.console.length;
    const result = await agent.connect('mqtt.connect', connectArgs('stall', 'ca-current', 'dev', { timeout_ms: 1000 }));
    expect(result.error!.esp_err_name).to.equal('ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT');
    expect(result.timing.total_ms).to.be.within(800, 1200);
    expectInOrder(agent.console.slice(from), [/^W \(\d+\) esp-tls: Failed to open new connection in specified timeout$/, TRANSPORT_FAILURE[1]!]);
    const attempt = await lab.attempts.next('stall', { until: 'closed' });
    expect(attempt.closed).to.include({ by: 'device' });
  });

  it('with the clock never set, every certificate is in the future (flags include 0x200)', async function () {
    await agent.ok('time.clear');
    try {
      const result = await agent.connect('mqtt.connect', connectArgs('good'));
      expect(result.error!.stack_err).to.equal(0x2700);
      expect(result.error!.verify_flags & 0x200).to.equal(0x200);
    } finally {
      await agent.ok('time.set', { epoch: Math.floor(Date.now() / 1000) });
      await lab.attempts.next('good', { until: 'closed' });
    }
  });

  it('publishes and receives its own subscription as mqtt.message events', async function () {
    const result = await agent.connect('mqtt.connect', connectArgs('good'));
    expect(result.connected).to.equal(true);
    expect(await agent.ok('mqtt.subscribe', { topic: 'devices/hilt-device-1/#', qos: 1 })).to.deep.equal({ granted: 1 });
    expect((await agent.ok('mqtt.subscribe', { topic: 'devices/other/#', qos: 0 })).granted).to.equal(128);
    const from = agent.events.length;
    const published = await agent.ok<{ acked: boolean; ms: number }>('mqtt.publish', {
      topic: 'devices/hilt-device-1/up', qos: 1, payload: Buffer.from('hello').toString('base64'),
    });
    expect(published.acked).to.equal(true);
    const message = await agent.waitEvent('mqtt.message', 5_000, from);
    expect(message.body).to.deep.equal({ topic: 'devices/hilt-device-1/up', qos: 1, payload: Buffer.from('hello').toString('base64') });
    await agent.ok('mqtt.disconnect');
    await lab.attempts.next('good', { until: 'closed' });
  });

  it('a broker that goes away surfaces as an mqtt.disconnected event', async function () {
    const own = await startLab({ pki, profiles: ['good'] });
    try {
      const result = await agent.connect('mqtt.connect', { ...connectArgs('good'), port: own.listener('good').port });
      expect(result.connected).to.equal(true);
      const from = agent.events.length;
      await own.close();
      const event = await agent.waitEvent('mqtt.disconnected', 5_000, from);
      expect(event.body.reason).to.be.a('string');
      const heap = await agent.ok<{ free: number }>('heap.stats');
      expect(heap.free).to.equal(result.heap.before);
    } finally {
      await own.close();
    }
  });

  /** A second board with its own sdkconfig and settings, provisioned with the lab's credentials. */
  async function otherBoard(sdkconfigExtra: string, settings: { realtime?: boolean } = {}) {
    const config = parseSdkconfig(`${REFERENCE_SDKCONFIG}\n${sdkconfigExtra}\n`, 'test sdkconfig');
    const other = openStreamBoard({ sdkconfig: config, index: 2, ...settings });
    const host = new AgentClient(other.stream);
    await host.setUp({
      ca: ['ca', pki.bundle('bundle-current')], c: ['cert', pki.material('client-valid').cert], k: ['key', pki.material('client-valid').key],
    });
    return { other, host };
  }

  it('at DEBUG log level, prints the verify info as esp-tls does (one line, cut at 100 bytes)', async function () {
    const { other, host } = await otherBoard('CONFIG_LOG_DEFAULT_LEVEL_INFO=n\nCONFIG_LOG_DEFAULT_LEVEL_DEBUG=y\nCONFIG_LOG_DEFAULT_LEVEL=4');
    try {
      await host.ok('time.clear');
      const from = host.console.length;
      const result = await host.connect('mqtt.connect', { ...connectArgs('rogue', 'ca'), cert: 'c', key: 'k' });
      expect(result.error!.verify_flags).to.equal(0x208);
      const lines = host.console.slice(from);
      expect(lines.some((l) => /^D \(\d+\) esp-tls-mbedtls: verification info:   ! The certificate is not correctly signed by the trusted CA$/.test(l))).to.equal(true);
      // The second flag follows on its own line (the buffer's newline), cut where 100 bytes end.
      const first = '  ! The certificate is not correctly signed by the trusted CA\n';
      expect(lines).to.include('  ! The certificate validity starts in the future'.slice(0, 99 - first.length));
      await lab.attempts.next('rogue', { until: 'closed' });
    } finally {
      await other.close();
    }
  });

  it('--realtime: the board takes the modelled device time before it acts', async function () {
    const { other, host } = await otherBoard('', { realtime: true });
    try {
      const started = performance.now();
      const { client_id: _mqttOnly, ...tlsArgs } = connectArgs('good', 'ca');
      const result = await host.connect('tls.connect', { ...tlsArgs, cert: 'c', key: 'k' });
      const elapsed = performance.now() - started;
      expect(result.connected).to.equal(true);
      // The wire was fast; the board waited out what an ESP32 computes (over 0.8 s).
      expect(elapsed).to.be.at.least(result.timing.tls_ms! - (result.timing.tcp_ms ?? 0) - 50);
      expect(elapsed).to.be.at.least(800);
      await host.ok('tls.close');
      await lab.attempts.next('good', { until: 'closed' });
    } finally {
      await other.close();
    }
  });

  describe('with HAVE_TIME_DATE off (a default ESP-IDF build)', function () {
    it('accepts an expired server certificate: dates are not checked', async function () {
      const { other, host } = await otherBoard('# CONFIG_MBEDTLS_HAVE_TIME_DATE is not set');
      try {
        expect((await host.ok<{ mbedtls: { have_time_date: boolean } }>('hello')).mbedtls.have_time_date).to.equal(false);
        const result = await host.connect('mqtt.connect', { ...connectArgs('expired', 'ca'), cert: 'c', key: 'k' });
        expect(result.connected).to.equal(true);
        await host.ok('mqtt.disconnect');
        await lab.attempts.next('expired', { until: 'closed' });
      } finally {
        await other.close();
      }
    });
  });
});
