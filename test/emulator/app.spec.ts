/**
 * The emulated application firmware against real peers: the lab's own broker (mutual TLS), TLS
 * servers whose bytes from the app are recorded (the alert Mbed TLS sends, or none), a listener
 * that drops every connection (reconnect policies), and a small broker that withholds answers
 * (QoS 1 retransmit, keepalive, session present). timeScale keeps each case to about a second.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { AppSettingsError, openAppBoard, parseAppSettings, parseAppSettingsOverrides, type AppBoard, type AppSettings } from '../../emulator/index.ts';
import { withLab, withLabPki } from '../helpers.ts';
import { DroppingServer, MiniBroker, RecordingTlsServer, tlsRecords, until } from './app-peers.ts';

const SCALE = 0.05;

/** A board with its console collected; every board is closed after its test. */
function boards() {
  const open: AppBoard[] = [];
  afterEach(async () => { await Promise.all(open.splice(0).map((b) => b.close())); });
  return (settings: AppSettings) => {
    const board = openAppBoard(settings);
    open.push(board);
    const lines: string[] = [];
    const changed = new EventEmitter();
    let partial = '';
    board.stream.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      changed.emit('change');
    });
    const waitLine = (pattern: RegExp, timeoutMs = 8000) => until(changed, `console line ${pattern}`, () => lines.find((l) => pattern.test(l)), timeoutMs);
    return { board, lines, changed, waitLine };
  };
}

describe('emulated application firmware: the lab broker', function () {
  const ctx = withLab({ profiles: ['good'] });
  const open = boards();

  it('boots with its identity, connects with mutual TLS, subscribes and publishes QoS 1', async () => {
    const material = ctx.pki.material('client-valid');
    const { board, lines, waitLine } = open({
      brokerUri: ctx.lab.listener('good').url, caPem: ctx.pki.bundle('bundle-current'), certPem: material.cert, keyPem: material.key,
      clientId: 'hilt-device-1', timeScale: SCALE,
    });
    await waitLine(/mqtt_app: MQTT_EVENT_PUBLISHED, msg_id=\d+/);
    expect(lines).to.include.members(['rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)']);
    expect(lines.some((l) => /^I \(\d+\) app_init: Project name: {5}hilt_mqtt_app$/.test(l))).to.equal(true);
    expect(lines.some((l) => /^I \(\d+\) app_init: App version: {6}1\.0\.0$/.test(l))).to.equal(true);
    const elf = lines.map((l) => /^I \(\d+\) app_init: ELF file SHA256: {2}([0-9a-f]{9})\.\.\.$/.exec(l)?.[1]).find(Boolean);
    expect(elf, 'ELF file SHA256 line').to.equal(board.identity.elfSha256.slice(0, 9));
    expect(lines.some((l) => /^I \(\d+\) app_init: ESP-IDF: {10}v5\.5/.test(l))).to.equal(true);
    expect(lines.findIndex((l) => /MQTT_EVENT_CONNECTED$/.test(l))).to.be.above(-1);
    expect(lines.some((l) => /MQTT_EVENT_SUBSCRIBED, msg_id=1, return code=0x01/.test(l)), lines.join('\n')).to.equal(true);
    const attempt = ctx.lab.attempts.all.find((a) => a.mqtt?.clientId === 'hilt-device-1')!;
    expect(attempt.tls).to.include({ outcome: 'ok', protocol: 'TLSv1.2' });
    expect(attempt.tls!.clientCertificate!.subject).to.equal('CN=hilt-device-1, O=hilt lab');
    expect(attempt.mqtt).to.include({ connack: 0, keepalive: 120, clean: true });
  });
});

describe('emulated application firmware: server certificate checks on the wire', function () {
  const lab = withLabPki();
  const open = boards();
  const servers: RecordingTlsServer[] = [];
  afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

  async function serve(name: string): Promise<RecordingTlsServer> {
    const m = lab.pki.material(name);
    const server = await RecordingTlsServer.start({ key: m.key, cert: m.chain });
    servers.push(server);
    return server;
  }
  const settings = (port: number, defects: AppSettings['defects'] = []): AppSettings => ({
    brokerUri: `mqtts://127.0.0.1:${port}`, caPem: lab.pki.bundle('bundle-current'), certPem: null, keyPem: null,
    clientId: 'hilt-device-1', timeScale: SCALE, defects,
  });
  /** The first connection, once the app has closed it. */
  const firstClosed = (server: RecordingTlsServer) => until(server, 'the app to close its first connection', () => (server.connections[0]?.closed ? server.connections[0] : undefined));
  const alertOf = (bytes: Buffer) => tlsRecords(bytes).find((r) => r.type === 21);
  const finished = (bytes: Buffer) => tlsRecords(bytes).some((r) => r.type === 20);

  const refusals: Array<[string, string, number, RegExp]> = [
    ['an expired server certificate', 'server-expired', 45, /returned -0x2700$/],
    ['a server certificate from an untrusted root', 'server-rogue', 48, /returned -0x2700$/],
    ['a server certificate for another host name', 'server-wrong-host', 42, /returned -0x2700$/],
  ];
  for (const [what, name, alert, line] of refusals) {
    it(`refuses ${what} with fatal alert ${alert} and no Finished`, async () => {
      const server = await serve(name);
      const { waitLine } = open(settings(server.port));
      const conn = await firstClosed(server);
      const record = alertOf(conn.fromApp);
      expect(record, 'an alert record from the app').to.not.equal(undefined);
      expect([...record!.body]).to.deep.equal([2, alert]);
      expect(finished(conn.fromApp), 'ChangeCipherSpec from the app').to.equal(false);
      await waitLine(line);
      await waitLine(/esp-tls-mbedtls: Failed to verify peer certificate!$/);
    });
  }

  it("'no-alert' refuses an expired certificate without an alert", async () => {
    const server = await serve('server-expired');
    open(settings(server.port, ['no-alert']));
    const conn = await firstClosed(server);
    expect(alertOf(conn.fromApp)).to.equal(undefined);
    expect(finished(conn.fromApp)).to.equal(false);
  });

  it("'no-verify' completes the handshake with an untrusted server", async () => {
    const server = await serve('server-rogue');
    open(settings(server.port, ['no-verify']));
    await until(server, 'a ChangeCipherSpec from the app', () => (server.connections[0] && finished(server.connections[0].fromApp) ? true : undefined));
    expect(alertOf(server.connections[0]!.fromApp)).to.equal(undefined);
  });

  it("'no-hostname-check' completes the handshake with a certificate for another name", async () => {
    const server = await serve('server-wrong-host');
    open(settings(server.port, ['no-hostname-check']));
    await until(server, 'a ChangeCipherSpec from the app', () => (server.connections[0] && finished(server.connections[0].fromApp) ? true : undefined));
  });

  it("'small-in-buffer' cannot take a 6 KB chain that the default IN buffer takes", async () => {
    const m = lab.pki.material('server-valid');
    // Certificates the app does not need, after the chain: Mbed TLS ignores them, but they grow
    // the Certificate message past 4096 + 320 bytes.
    const padding = ['root-rogue', 'root-next', 'root-lookalike', 'ca-issuing'].map((n) => lab.pki.material(n).cert);
    const big = [m.chain, ...padding, ...padding, ...padding].join('\n');
    const good = await RecordingTlsServer.start({ key: m.key, cert: big });
    servers.push(good);
    open(settings(good.port));
    await until(good, 'a ChangeCipherSpec from the default app', () => (good.connections[0] && finished(good.connections[0].fromApp) ? true : undefined));
    const small = await RecordingTlsServer.start({ key: m.key, cert: big });
    servers.push(small);
    const { waitLine } = open(settings(small.port, ['small-in-buffer']));
    const conn = await firstClosed(small);
    expect(finished(conn.fromApp)).to.equal(false);
    expect(alertOf(conn.fromApp), 'Mbed TLS sends no alert when a record does not fit').to.equal(undefined);
    await waitLine(/esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x7100$/);
  });

  it('a server that answers the ClientHello with a fatal alert: -0x7780, and the app tries again', async () => {
    // What the endpoint does between scenarios: handshake_failure (40) to the ClientHello, then close.
    const accepted: number[] = [];
    const changed = new EventEmitter();
    const refusing = net.createServer((socket) => {
      socket.once('data', () => { socket.end(Buffer.from([21, 3, 3, 0, 2, 2, 40])); accepted.push(performance.now()); changed.emit('change'); });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    try {
      const { waitLine } = open(settings((refusing.address() as net.AddressInfo).port));
      await until(changed, 'two ClientHellos', () => (accepted.length >= 2 ? true : undefined));
      await waitLine(/E \(\d+\) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x7780$/);
      await waitLine(/I \(\d+\) mqtt_app: Last tls stack error number: 0x7780$/);
    } finally {
      await new Promise((resolve) => refusing.close(resolve));
    }
  });

  it('the default IN buffer cannot take a Certificate message past IN_CONTENT_LEN + 320 bytes either', async () => {
    const m = lab.pki.material('server-valid');
    const padding = ['root-rogue', 'root-next', 'root-lookalike', 'ca-issuing'].map((n) => lab.pki.material(n).cert);
    const chain = [m.chain];
    while (chain.join('\n').length < 40_000) chain.push(...padding);
    const server = await RecordingTlsServer.start({ key: m.key, cert: chain.join('\n') });
    servers.push(server);
    const { waitLine } = open(settings(server.port));
    const conn = await firstClosed(server);
    expect(finished(conn.fromApp)).to.equal(false);
    expect(alertOf(conn.fromApp)).to.equal(undefined);
    await waitLine(/esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x7100$/);
  });
});

describe('emulated application firmware: settings file', function () {
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const base = { brokerUri: 'mqtts://127.0.0.1:8883', caPem: PEM, certPem: null, keyPem: null, clientId: 'hilt-device-1' };

  it('takes a complete settings object and keeps what it was given', () => {
    const parsed = parseAppSettings({
      ...base, keepaliveS: 30, cleanSession: false, subscribe: ['devices/hilt-device-1/cmd'], publishPeriodMs: 1000,
      reconnect: { policy: 'backoff-jitter', baseMs: 500, capMs: 8000 }, timeScale: 0.05, defects: ['no-alert'], inContentLen: 4096,
    }, 'app.json');
    expect(parsed).to.include({ keepaliveS: 30, cleanSession: false, timeScale: 0.05, inContentLen: 4096 });
    expect(parsed.reconnect).to.deep.equal({ policy: 'backoff-jitter', baseMs: 500, capMs: 8000 });
  });

  it('an overrides file needs none of the keys the endpoint hands out, and checks those it has', () => {
    expect(parseAppSettingsOverrides({ defects: ['no-jitter'], timeScale: 0.05 }, 'app.json')).to.deep.equal({ defects: ['no-jitter'], timeScale: 0.05 });
    expect(() => parseAppSettingsOverrides({ clientId: '' }, 'app.json')).to.throw(AppSettingsError, /^app\.json: clientId: must be a non-empty string$/);
    expect(() => parseAppSettingsOverrides({ certPem: PEM }, 'app.json')).to.throw(AppSettingsError, /certPem and keyPem go together/);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', [1], /^app\.json: \(top level\): must be a JSON object/],
    ['an unknown key', { ...base, keepAlive: 5 }, /^app\.json: keepAlive: unknown setting; known: brokerUri, /],
    ['a plain mqtt URI', { ...base, brokerUri: 'mqtt://127.0.0.1:1883' }, /brokerUri: "mqtt:\/\/127\.0\.0\.1:1883": the app connects over TLS only/],
    ['a CA that is not PEM', { ...base, caPem: 'hello' }, /^app\.json: caPem: must be PEM text/],
    ['a certificate without its key', { ...base, certPem: PEM }, /^app\.json: certPem: certPem and keyPem go together/],
    ['an unknown defect', { ...base, defects: ['no-verfy'] }, /^app\.json: defects: "no-verfy" is not a defect; known: no-verify, /],
    ['an unknown policy', { ...base, reconnect: { policy: 'exponential' } }, /^app\.json: reconnect\.policy: must be 'esp-mqtt' or 'backoff-jitter'$/],
    ['a cap below the base', { ...base, reconnect: { policy: 'backoff-jitter', baseMs: 5000, capMs: 1000 } }, /reconnect\.capMs: must not be below reconnect\.baseMs$/],
    ['a time scale of 0', { ...base, timeScale: 0 }, /^app\.json: timeScale: must be a number above 0/],
    ['an IN buffer outside Kconfig\'s range', { ...base, inContentLen: 65536 }, /^app\.json: inContentLen: must be an integer from 512 to 16384$/],
  ];
  for (const [what, json, message] of bad) {
    it(`refuses ${what} in one line naming the file and the key`, () => {
      let error: Error | null = null;
      try {
        parseAppSettings(json, 'app.json');
      } catch (err) {
        error = err as Error;
      }
      expect(error).to.be.instanceOf(AppSettingsError);
      expect(error!.message).to.match(message);
      expect(error!.message).to.not.include('\n');
    });
  }

  it('a broker that refuses TCP: esp-tls\'s lines, then it tries again', async () => {
    const server = await DroppingServer.start();
    const port = server.port;
    await server.close();
    const board = openAppBoard({ ...base, caPem: PEM, brokerUri: `mqtts://127.0.0.1:${port}`, timeScale: 0.02 });
    const lines: string[] = [];
    const changed = new EventEmitter();
    board.stream.on('data', (c: Buffer) => { lines.push(...c.toString().split('\n')); changed.emit('change'); });
    try {
      await until(changed, 'two failed connects', () => (lines.filter((l) => /E \(\d+\) mqtt_client: Error transport connect$/.test(l)).length >= 2 ? true : undefined));
      expect(lines.some((l) => /E \(\d+\) esp-tls: \[sock=54\] delayed connect error: Connection reset by peer$/.test(l))).to.equal(true);
    } finally {
      await board.close();
    }
  });
});
