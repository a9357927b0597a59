/**
 * Faults at the firmware endpoint: what a confused or broken device sends instead of a good
 * ClientHello (garbage, half a hello, plain MQTT on the TLS port, nothing at all, a reset), a
 * handshake that stalls, MQTT framing that cannot be followed, and a port someone else holds.
 * Each becomes a record with the reason and a bounded close; the endpoint keeps serving.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import mqtt from 'mqtt';
import net, { createServer, type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { UsageError } from '../../harness/errors.ts';
import { Attempts, startLab, type Attempt } from '../../harness/lab/index.ts';
import { startEndpoint, type RunningEndpoint } from '../../harness/lab/endpoint.ts';
import { rejection, withLabPki } from '../helpers.ts';
import { sClient } from '../lab/clients.ts';

const HELLO_MS = 300;
const HANDSHAKE_MS = 600;
const CONNECT_MS = 300;

/** A real ClientHello (Node's client), taken off an in-memory stream: no network needed. */
function realHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    let socket: tls.TLSSocket;
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(Buffer.from(chunk));
        callback();
        setImmediate(() => socket.destroy());
      },
    });
    socket = tls.connect({ socket: wire, servername: 'localhost', rejectUnauthorized: false });
    socket.on('error', () => {});
  });
}

describe('endpoint faults', function () {
  const held = withLabPki();
  let attempts: Attempts;
  let endpoint: RunningEndpoint;
  before(async function () {
    attempts = new Attempts();
    endpoint = await startEndpoint({ pki: held.pki, attempts, port: 0, helloTimeoutMs: HELLO_MS, handshakeTimeoutMs: HANDSHAKE_MS, connectTimeoutMs: CONNECT_MS });
  });
  beforeEach(function () { endpoint.serve({ tls: { server: 'server-valid' } }); });
  after(async function () { await endpoint?.close(); });

  const closed = () => attempts.next('endpoint', { until: 'closed', timeoutMs: 10_000 });

  /** Opens a raw TCP connection to the endpoint, lets `act` use it, and returns its closed record. */
  async function raw(act: (socket: net.Socket) => void): Promise<Attempt> {
    const socket = net.connect(endpoint.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('data', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    act(socket);
    const record = await closed();
    socket.destroy();
    return record;
  }

  /** After each fault, a well-behaved client still gets a full handshake. */
  async function stillServes(): Promise<void> {
    const seen = await sClient(endpoint.port, [
      '-CAfile', held.pki.path('bundle-current'), '-cert', held.pki.path('client-valid'), '-key', held.pki.path('client-valid', 'key'),
    ]);
    expect(seen.established).to.equal(true);
    expect((await closed()).tls!.outcome).to.equal('ok');
  }

  it('garbage instead of a ClientHello: recorded with what it looked like, closed by the endpoint', async function () {
    const a = await raw((s) => s.write(Buffer.from('ff00112233445566778899aabbccddeeff', 'hex')));
    expect(a.clientHello).to.include({ ok: false, error: 'not TLS: first byte 0xff is no TLS record type', bytes: 17 });
    expect(a.tls).to.include({ outcome: 'failed', code: 'BAD_CLIENT_HELLO', reason: 'ClientHello: not TLS: first byte 0xff is no TLS record type' });
    expect(a.closed!.by).to.equal('lab');
    await stillServes();
  });

  it('plain MQTT on the TLS port: named as such', async function () {
    const client = mqtt.connect(`mqtt://127.0.0.1:${endpoint.port}`, { clientId: 'hilt-device-1', reconnectPeriod: 0, connectTimeout: 5_000 });
    client.on('error', () => {});
    const a = await closed();
    client.end(true);
    expect(a.clientHello!.error).to.equal('not TLS: first byte 0x10 looks like an MQTT CONNECT (plain MQTT on the TLS port?)');
    expect(a.tls!.reason).to.equal('ClientHello: not TLS: first byte 0x10 looks like an MQTT CONNECT (plain MQTT on the TLS port?)');
    await stillServes();
  });

  it('half a ClientHello, then the device closes: "truncated", closed by the device', async function () {
    const hello = await realHello();
    const a = await raw((s) => s.end(hello.subarray(0, 40)));
    expect(a.clientHello).to.include({ ok: false, error: `truncated: 40 of ${hello.length} bytes` });
    expect(a.closed!.by).to.equal('device');
    expect(a.closedHow).to.equal('fin');
  });

  it('a reset in the middle of the handshake (after the ServerHello came): closed by the device, with an RST', async function () {
    const hello = await realHello();
    const a = await raw((s) => {
      s.removeAllListeners('data');
      s.once('data', () => s.resetAndDestroy());
      s.write(hello);
    });
    expect(a.clientHello!.ok).to.equal(true);
    expect(a.tls).to.include({ outcome: 'failed', code: 'NO_HANDSHAKE', reason: 'device closed the connection before completing a handshake' });
    expect(a.closed!.by).to.equal('device');
    expect(a.closedHow).to.equal('rst');
  });

  it('half a ClientHello, then silence: closed by the endpoint at its hello bound, the partial hello kept', async function () {
    const hello = await realHello();
    const a = await raw((s) => s.write(hello.subarray(0, 40)));
    expect(a.clientHello!.error).to.equal(`truncated: 40 of ${hello.length} bytes`);
    expect(a.closed).to.include({ by: 'lab', reason: `ClientHello: truncated: 40 of ${hello.length} bytes (nothing more within ${HELLO_MS} ms)` });
  });

  it('silence: the endpoint gives up after its hello bound and says so', async function () {
    const a = await raw(() => {});
    expect(a.clientHello!.error).to.match(/^no bytes/);
    expect(a.tls).to.include({ outcome: 'failed', code: 'NO_CLIENT_HELLO', reason: `no ClientHello within ${HELLO_MS} ms` });
    expect(a.closed).to.include({ by: 'lab', reason: `no ClientHello within ${HELLO_MS} ms` });
    expect(a.closed!.afterMs).to.be.at.least(HELLO_MS);
  });

  it('a whole ClientHello, then silence: the handshake is bounded', async function () {
    const hello = await realHello();
    const a = await raw((s) => s.write(hello));
    expect(a.clientHello!.ok).to.equal(true);
    expect(a.tls).to.include({ outcome: 'failed', reason: 'handshake timed out', code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
    expect(a.closed!.by).to.equal('lab');
  });

  it('TLS up, then no CONNECT: the endpoint gives up at its CONNECT bound and says so', async function () {
    const socket = tls.connect({
      port: endpoint.port, host: '127.0.0.1', ca: held.pki.bundle('bundle-current'), servername: 'localhost',
      cert: held.pki.material('client-valid').cert, key: held.pki.material('client-valid').key,
    });
    socket.on('error', () => {});
    socket.on('data', () => {});
    const a = await closed();
    socket.destroy();
    expect(a.tls!.outcome).to.equal('ok');
    expect(a.closed).to.include({ by: 'lab', reason: `no CONNECT within ${CONNECT_MS} ms` });
    expect(a.closed!.afterMs).to.be.at.least(CONNECT_MS);
    await stillServes();
  });

  for (const [what, bytes, error] of [
    ['a remaining length of five bytes', Buffer.from('30ffffffff7f', 'hex'), 'MQTT from the device: malformed MQTT remaining length (more than 4 bytes)'],
    ['a packet over the size limit', Buffer.from('30ffffff7f', 'hex'), "MQTT from the device: MQTT packet of 268435460 bytes is over the endpoint's limit of 1048576"],
  ] as const) {
    it(`MQTT that cannot be followed (${what}): closed by the endpoint with the reason`, async function () {
      const socket = tls.connect({
        port: endpoint.port, host: '127.0.0.1', ca: held.pki.bundle('bundle-current'), servername: 'localhost',
        cert: held.pki.material('client-valid').cert, key: held.pki.material('client-valid').key,
      });
      socket.on('error', () => {});
      socket.once('secureConnect', () => socket.write(bytes));
      const a = await closed();
      socket.destroy();
      expect(a.tls!.outcome).to.equal('ok');
      expect(a.closed).to.include({ by: 'lab', reason: error });
    });
  }

  it('fuzz: any bytes a device sends first become a closed record, and the endpoint keeps serving', async function () {
    const hello = await realHello();
    const first = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.nat(hello.length - 1), fc.array(fc.tuple(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
        .map(([cut, edits]) => {
          const b = Buffer.from(hello.subarray(0, cut + 1));
          for (const [at, v] of edits) if (at < b.length) b[at] = v;
          return b;
        }),
    );
    let runs = 0;
    await fc.assert(fc.asyncProperty(first, async (bytes) => {
      runs++;
      const a = await raw((s) => s.end(bytes));
      return a.closed !== null && a.clientHello !== null && a.tls !== null;
    }), { seed: 8, numRuns: 40 });
    expect(runs).to.equal(40);
    await stillServes();
  });

  it('an endpoint port in use: one line naming host:port and the config key, and the lab does not start', async function () {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const err = await rejection(startLab({ pki: held.pki, profiles: ['good'], endpoint: { port } }));
      expect(err).to.be.instanceOf(UsageError);
      expect(err.message).to.equal(`cannot listen on 127.0.0.1:${port} for the firmware endpoint (EADDRINUSE): stop what holds it or set another "endpoint.port" in hilt.config.json`);
    } finally {
      blocker.close();
    }
  });
});
