/**
 * The lab broker against real clients: openssl s_client and mqtt.js on every listener profile,
 * with the outcome each side saw.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { UsageError } from '../../harness/errors.ts';
import { startLab, type Attempt, type Lab } from '../../harness/lab/index.ts';
import { ensurePki, type Pki } from '../../harness/pki/index.ts';
import { withLab } from '../helpers.ts';
import { deviceOptions, mqttConnect, sClient, type SClientOutcome } from './clients.ts';

const DEVICE = 'CN=hilt-device-1, O=hilt lab';
const ESP_IDF_CIPHERS = 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256';

interface Row {
  profile: string;
  trust?: string;
  /** Client certificate (PKI name), or null for none. Default client-valid. */
  cert?: string | null;
  args?: string[];
  client: Partial<SClientOutcome>;
  broker: { outcome: string; reason?: string | null; protocol?: string; cipher?: string; clientCertificate?: string | null };
  closedBy: 'device' | 'lab';
}

const REFUSED_BY_CLIENT = (verifyError: number, alert: string, profile: string, args: string[] = []): Row => ({
  profile, args, client: { established: false, verifyError },
  broker: { outcome: 'failed', reason: alert }, closedBy: 'device',
});

const S_CLIENT_TABLE: Row[] = [
  { profile: 'good', client: { established: true, protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', verifyError: null },
    broker: { outcome: 'ok', protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', clientCertificate: DEVICE }, closedBy: 'device' },
  // The lab honours the client's order: OpenSSL's default list puts AES-256-GCM first.
  { profile: 'good', args: ['-tls1_2'], client: { established: true, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384' },
    broker: { outcome: 'ok', protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384', clientCertificate: DEVICE }, closedBy: 'device' },
  REFUSED_BY_CLIENT(10, 'sslv3 alert certificate expired', 'expired'),
  REFUSED_BY_CLIENT(9, 'sslv3 alert bad certificate', 'not-yet-valid'),
  REFUSED_BY_CLIENT(62, 'sslv3 alert bad certificate', 'wrong-host', ['-verify_hostname', 'localhost']),
  REFUSED_BY_CLIENT(18, 'tlsv1 alert unknown ca', 'self-signed'),
  REFUSED_BY_CLIENT(20, 'tlsv1 alert unknown ca', 'rogue'),
  REFUSED_BY_CLIENT(7, 'tlsv1 alert decrypt error', 'lookalike'),
  REFUSED_BY_CLIENT(26, 'sslv3 alert unsupported certificate', 'wrong-eku'),
  { ...REFUSED_BY_CLIENT(20, 'tlsv1 alert unknown ca', 'next-root'), trust: 'bundle-current' },
  { profile: 'next-root', trust: 'bundle-transition', client: { established: true, verifyError: null },
    broker: { outcome: 'ok', clientCertificate: DEVICE }, closedBy: 'device' },
  { profile: 'rsa', args: ['-tls1_2'], client: { established: true, protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-GCM-SHA384' },
    broker: { outcome: 'ok', cipher: 'ECDHE-RSA-AES256-GCM-SHA384' }, closedBy: 'device' },
  { profile: 'tls1.3-only', args: ['-tls1_2'], client: { established: false, error: 'tlsv1 alert protocol version' },
    broker: { outcome: 'failed', reason: 'unsupported protocol', protocol: undefined }, closedBy: 'lab' },
  { profile: 'tls1.3-only', client: { established: true, protocol: 'TLSv1.3' }, broker: { outcome: 'ok', protocol: 'TLSv1.3' }, closedBy: 'device' },
  { profile: 'tls1.2-only', client: { established: true, protocol: 'TLSv1.2' }, broker: { outcome: 'ok', protocol: 'TLSv1.2' }, closedBy: 'device' },
  { profile: 'restricted-cipher', args: ['-cipher', ESP_IDF_CIPHERS], client: { established: false, error: 'sslv3 alert handshake failure' },
    broker: { outcome: 'failed', reason: 'no shared cipher' }, closedBy: 'lab' },
  { profile: 'restricted-cipher', client: { established: true, cipher: 'ECDHE-ECDSA-CHACHA20-POLY1305' },
    broker: { outcome: 'ok', cipher: 'ECDHE-ECDSA-CHACHA20-POLY1305' }, closedBy: 'device' },
  { profile: 'no-client-auth', cert: null, client: { established: true }, broker: { outcome: 'ok', clientCertificate: null }, closedBy: 'device' },
  { profile: 'good', cert: null, args: ['-tls1_2'], client: { verifyError: null },
    broker: { outcome: 'refused', reason: 'no client certificate', clientCertificate: null }, closedBy: 'lab' },
  { profile: 'good', cert: 'client-expired', args: ['-tls1_2'], client: { verifyError: null },
    broker: { outcome: 'refused', reason: 'CERT_HAS_EXPIRED', clientCertificate: DEVICE }, closedBy: 'lab' },
  { profile: 'good', cert: 'client-rogue', args: ['-tls1_2'], client: { verifyError: null },
    broker: { outcome: 'refused', reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', clientCertificate: 'CN=hilt-device-1, O=not the lab' }, closedBy: 'lab' },
];

describe('lab broker', function () {
  const held = withLab({}, { devices: ['bench-07'] });
  let pki: Pki;
  let lab: Lab;
  before(function () { ({ pki, lab } = held); });

  const url = (profile: string) => lab.listener(profile).url;
  const attempt = (profile: string) => lab.attempts.next(profile, { until: 'closed', timeoutMs: 10_000 });

  it('binds every listener to 127.0.0.1', function () {
    expect(lab.listeners).to.have.length(16);
    for (const l of lab.listeners) expect(l.host, l.profile.name).to.equal('127.0.0.1');
  });

  describe('openssl s_client on every TLS profile', function () {
    for (const row of S_CLIENT_TABLE) {
      const cert = row.cert === undefined ? 'client-valid' : row.cert;
      const trust = row.trust ?? (row.profile === 'next-root' ? 'bundle-next' : row.profile === 'rsa' ? 'bundle-rsa' : 'bundle-current');
      const title = `${row.profile} [${[trust, cert ?? 'no client cert', ...(row.args ?? [])].join(' ')}]: ` +
        `${row.client.established === false ? 'refused' : 'handshake'}; broker ${row.broker.outcome}${row.broker.reason ? ` (${row.broker.reason})` : ''}`;
      it(title, async function () {
        const certArgs = cert ? ['-cert', pki.path(cert), '-key', pki.path(cert, 'key')] : [];
        const seen = await sClient(lab.listener(row.profile).port, ['-CAfile', pki.path(trust), ...certArgs, ...(row.args ?? [])]);
        for (const [k, v] of Object.entries(row.client)) expect(seen[k as keyof SClientOutcome], `client ${k}`).to.equal(v);
        const record = await attempt(row.profile);
        expect(record.tls, 'broker tls').to.not.equal(null);
        for (const [k, v] of Object.entries(row.broker)) {
          if (v === undefined) continue;
          const actual = k === 'clientCertificate' ? record.tls!.clientCertificate?.subject ?? null : record.tls![k as 'outcome'];
          expect(actual, `broker ${k}`).to.equal(v);
        }
        expect(record.closed?.by, 'closed by').to.equal(row.closedBy);
        expect(record.mqtt).to.equal(null);
        if (row.broker.outcome === 'ok') expect(record.tls!.handshakeMs).to.be.a('number').and.to.be.greaterThan(0);
      });
    }
  });

  describe('openssl s_client on the listeners without TLS', function () {
    it('stall: the handshake never starts; the lab records a stall closed by the client', async function () {
      const client = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${lab.listener('stall').port}`, '-brief'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      client.stdout.on('data', (d: Buffer) => { output += d.toString(); });
      const exited = new Promise((resolve) => client.once('exit', resolve));
      const settled = await lab.attempts.next('stall', { timeoutMs: 10_000 });
      expect(settled.tls).to.include({ outcome: 'stalled' });
      client.kill('SIGTERM');
      await exited;
      expect(output).to.not.include('CONNECTION ESTABLISHED');
      const record = await lab.attempts.next('stall', { after: settled.id - 1, until: 'closed' });
      expect(record.closed).to.include({ by: 'device', reason: 'closed by device while the lab stalled' });
    });

    it('plain: a TLS ClientHello is not MQTT; the lab says so and closes', async function () {
      const seen = await sClient(lab.listener('plain').port, []);
      expect(seen.established).to.equal(false);
      const record = await attempt('plain');
      expect(record.tls).to.equal(null);
      expect(record.mqtt).to.equal(null);
      expect(record.closed!.by).to.equal('lab');
      expect(record.closed!.reason).to.match(/^MQTT error: /);
    });
  });

  describe('mqtt.js as a device', function () {
    it('connects with mutual TLS, publishes and receives its own subscription', async function () {
      const { client, error } = await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', 'client-valid', { keepalive: 30 }));
      expect(error).to.equal(null);
      const got = new Promise<string>((resolve) => client!.on('message', (topic, payload) => resolve(`${topic} ${payload}`)));
      const granted = await client!.subscribeAsync('devices/hilt-device-1/#', { qos: 1 });
      expect(granted.map((g) => g.qos)).to.deep.equal([1]);
      await client!.publishAsync('devices/hilt-device-1/up', 'hello', { qos: 1 });
      expect(await got).to.equal('devices/hilt-device-1/up hello');
      await client!.endAsync();
      const record = await attempt('good');
      expect(record.tls).to.include({ outcome: 'ok' });
      expect(record.tls!.clientCertificate!.subject).to.equal(DEVICE);
      expect(record.mqtt).to.deep.equal({ clientId: 'hilt-device-1', keepalive: 30, clean: true, protocolVersion: 4, username: null, connack: 0 });
      expect(record.closed).to.include({ by: 'device', reason: 'closed by device' });
    });

    it('refuses a subscription outside the device\'s own topics (SUBACK 0x80)', async function () {
      const { client } = await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', 'client-valid'));
      // mqtt.js rejects a subscription the broker refused; the SUBACK is on the error.
      const error = await client!.subscribeAsync('devices/someone-else/#').catch((e: { packet?: { granted?: number[] } }) => e);
      expect((error as { packet: { granted: number[] } }).packet.granted).to.deep.equal([128]);
      await client!.endAsync();
      await attempt('good');
    });

    it('disconnects a device that publishes outside its own topics', async function () {
      const { client } = await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', 'client-valid'));
      client!.publish('devices/someone-else/up', 'x', { qos: 1 });
      const record = await attempt('good');
      expect(record.closed).to.include({ by: 'lab' });
      expect(record.closed!.reason).to.equal('publish to devices/someone-else/up denied: outside devices/hilt-device-1/');
      client!.end(true);
    });

    it('answers CONNACK 5 when the client id is not the certificate CN', async function () {
      const { client, error } = await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', 'client-valid', { clientId: 'intruder' }));
      expect(client).to.equal(null);
      expect(error).to.equal('CONNACK 5');
      const record = await attempt('good');
      expect(record.mqtt).to.include({ clientId: 'intruder', connack: 5 });
      expect(record.closed).to.deep.include({ by: 'lab', reason: 'CONNACK 5: client id "intruder" is not the certificate CN "hilt-device-1"' });
    });

    it('accepts a minted device under its own id', async function () {
      const { client, error } = await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', 'device/bench-07', { clientId: 'bench-07' }));
      expect(error).to.equal(null);
      await client!.endAsync();
      const record = await attempt('good');
      expect(record.tls!.clientCertificate!.subject).to.equal('CN=bench-07, O=hilt lab');
      expect(record.mqtt!.connack).to.equal(0);
    });

    const refusedClientCerts: Array<[string | null, string]> = [
      ['client-expired', 'CERT_HAS_EXPIRED'],
      ['client-rogue', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      [null, 'no client certificate'],
    ];
    for (const [cert, reason] of refusedClientCerts) {
      it(`refuses ${cert ?? 'a device without a certificate'} at TLS level: ${reason}`, async function () {
        const { client, error } = await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', cert, { maxVersion: 'TLSv1.2' }));
        expect(client).to.equal(null);
        expect(error).to.be.oneOf(['ECONNRESET', 'EPIPE']);
        const record = await attempt('good');
        expect(record.tls).to.include({ outcome: 'refused', reason });
        expect(record.closed).to.include({ by: 'lab', reason: `client certificate refused: ${reason}` });
      });
    }

    const verifyFailures: Array<[string, string]> = [
      ['expired', 'CERT_HAS_EXPIRED'],
      ['not-yet-valid', 'CERT_NOT_YET_VALID'],
      ['wrong-host', 'ERR_TLS_CERT_ALTNAME_INVALID'],
      ['self-signed', 'DEPTH_ZERO_SELF_SIGNED_CERT'],
      ['rogue', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      ['lookalike', 'CERT_SIGNATURE_FAILURE'],
      ['wrong-eku', 'INVALID_PURPOSE'],
      ['next-root', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ];
    for (const [profile, code] of verifyFailures) {
      it(`${profile}: the device refuses the server certificate (${code}) and never sends CONNECT`, async function () {
        const { client, error } = await mqttConnect(url(profile), deviceOptions(pki, 'bundle-current', 'client-valid'));
        expect(client).to.equal(null);
        expect(error).to.equal(code);
        const record = await attempt(profile);
        // Node's TLS client decides after the handshake, so the lab sees a handshake then a close.
        expect(record.mqtt).to.equal(null);
        expect(record.closed).to.include({ by: 'device' });
      });
    }

    it('CA rotation: the transition bundle accepts both the current and the next root', async function () {
      for (const profile of ['good', 'next-root']) {
        const { client, error } = await mqttConnect(url(profile), deviceOptions(pki, 'bundle-transition', 'client-valid'));
        expect(error, profile).to.equal(null);
        await client!.endAsync();
        expect((await attempt(profile)).mqtt!.connack).to.equal(0);
      }
    });

    it('rsa: negotiates an ECDHE-RSA suite with a TLS 1.2 device', async function () {
      const { client, error } = await mqttConnect(url('rsa'), deviceOptions(pki, 'bundle-rsa', 'client-valid', { maxVersion: 'TLSv1.2' }));
      expect(error).to.equal(null);
      await client!.endAsync();
      expect((await attempt('rsa')).tls).to.include({ protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' });
    });

    it('tls1.3-only: a TLS 1.2 device fails; the lab says unsupported protocol', async function () {
      const { error } = await mqttConnect(url('tls1.3-only'), deviceOptions(pki, 'bundle-current', 'client-valid', { maxVersion: 'TLSv1.2' }));
      expect(error).to.equal('tlsv1 alert protocol version');
      const record = await attempt('tls1.3-only');
      expect(record.tls).to.include({ outcome: 'failed', reason: 'unsupported protocol', code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' });
      expect(record.closed).to.include({ by: 'lab' });
    });

    it('restricted-cipher: a device with ESP-IDF\'s default suites fails; the lab says no shared cipher', async function () {
      const { error } = await mqttConnect(url('restricted-cipher'),
        deviceOptions(pki, 'bundle-current', 'client-valid', { ciphers: ESP_IDF_CIPHERS }));
      expect(error).to.equal('sslv3 alert handshake failure');
      expect((await attempt('restricted-cipher')).tls).to.include({ outcome: 'failed', reason: 'no shared cipher' });
    });

    it('no-client-auth: connects without a certificate under an id that belongs to no certificate', async function () {
      const { client, error } = await mqttConnect(url('no-client-auth'), deviceOptions(pki, 'bundle-current', null, { clientId: 'anyone' }));
      expect(error).to.equal(null);
      await client!.endAsync();
      const record = await attempt('no-client-auth');
      expect(record.tls!.clientCertificate).to.equal(null);
      expect(record.mqtt).to.include({ clientId: 'anyone', connack: 0 });
    });

    it('stall: accepts TCP, never answers, and records how long the device waited', async function () {
      const started = performance.now();
      const { error } = await mqttConnect(url('stall'), deviceOptions(pki, 'bundle-current', 'client-valid', { connectTimeout: 400 }));
      expect(error).to.match(/timeout/i);
      expect(performance.now() - started).to.be.at.least(390);
      const record = await attempt('stall');
      expect(record.tls).to.include({ outcome: 'stalled' });
      expect(record.bytesReceived, 'the ClientHello arrived').to.be.greaterThan(100);
      expect(record.closed).to.include({ by: 'device', reason: 'closed by device while the lab stalled' });
      expect(record.closed!.afterMs).to.be.at.least(390);
    });

    it('plain: MQTT without TLS', async function () {
      const { client, error } = await mqttConnect(url('plain'), { clientId: 'plain-1', reconnectPeriod: 0, connectTimeout: 5000 });
      expect(error).to.equal(null);
      await client!.endAsync();
      const record = await attempt('plain');
      expect(record.tls).to.equal(null);
      expect(record.mqtt).to.include({ clientId: 'plain-1', connack: 0 });
    });
  });

  describe('identity without a client certificate (plain, no-client-auth)', function () {
    /** A client on a listener that asks for no certificate: plain TCP, or TLS trusting the lab. */
    const anonymous = (profile: string, clientId: string) => (profile === 'plain'
      ? { clientId, reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4 as const }
      : deviceOptions(pki, 'bundle-current', null, { clientId }));

    const wildcardIds: Array<[string, string]> = [
      ['+', 'client id "+" refused'],
      ['#', 'client id "#" refused'],
      ['hilt-device-1/x', 'client id "hilt-device-1/x" refused'],
      ['a+b', 'client id "a+b" refused'],
      ['line\nbreak', 'client id "line\\nbreak" refused'],
      ['', 'empty client id refused'],
    ];
    for (const profile of ['plain', 'no-client-auth']) {
      for (const [id, reason] of wildcardIds) {
        it(`${profile}: client id ${JSON.stringify(id)} is refused with CONNACK 2 and recorded`, async function () {
          const { client, error } = await mqttConnect(url(profile), anonymous(profile, id));
          client?.end(true);
          expect(error).to.equal('CONNACK 2');
          const record = await attempt(profile);
          expect(record.mqtt).to.include({ clientId: id, connack: 2 });
          expect(record.closed!.by).to.equal('lab');
          expect(record.closed!.reason.startsWith(`CONNACK 2: ${reason}`), record.closed!.reason).to.equal(true);
        });
      }

      it(`${profile}: a device identity of the PKI (catalogue, minted, minted after the lab started) is refused with CONNACK 5`, async function () {
        // The lab started before this device was minted: it must still know the identity.
        await ensurePki({ dir: pki.dir, devices: ['minted-late'] });
        for (const id of ['hilt-device-1', 'bench-07', 'minted-late']) {
          const { client, error } = await mqttConnect(url(profile), anonymous(profile, id));
          client?.end(true);
          expect(error, id).to.equal('CONNACK 5');
          const record = await attempt(profile);
          expect(record.mqtt, id).to.include({ clientId: id, connack: 5 });
          expect(record.closed, id).to.deep.include({
            by: 'lab',
            reason: `CONNACK 5: client id ${JSON.stringify(id)} is a device identity of the lab PKI: only its certificate may use it (on an mTLS listener); choose another client id here`,
          });
        }
      });

      it(`${profile}: another id connects, but reads nothing of a device's traffic`, async function () {
        const device = (await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', 'client-valid'))).client!;
        const { client: watcher, error } = await mqttConnect(url(profile), anonymous(profile, 'watcher-1'));
        expect(error).to.equal(null);
        try {
          const seen: string[] = [];
          watcher!.on('message', (topic) => seen.push(topic));
          for (const filter of ['devices/+/#', '#', '+/+/#', 'devices/hilt-device-1/#']) {
            const refused = await watcher!.subscribeAsync(filter).catch((e: { packet?: { granted?: number[] } }) => e);
            expect((refused as { packet: { granted: number[] } }).packet.granted, filter).to.deep.equal([128]);
          }
          await watcher!.subscribeAsync('devices/watcher-1/#');
          // The device's own publish comes back to it; by then the broker has routed it to every
          // subscriber, and the watcher has none that matches.
          const back = new Promise<string>((resolve) => device.on('message', (topic) => resolve(topic)));
          await device.subscribeAsync('devices/hilt-device-1/#');
          await device.publishAsync('devices/hilt-device-1/up', 'secret', { qos: 1 });
          expect(await back).to.equal('devices/hilt-device-1/up');
          // The watcher's own message comes back after anything routed to it before: so by then it
          // would have had the device's message, if the broker had let it.
          const own = new Promise<void>((resolve) => watcher!.on('message', (topic) => { if (topic === 'devices/watcher-1/ping') resolve(); }));
          await watcher!.publishAsync('devices/watcher-1/ping', 'x', { qos: 1 });
          await own;
          expect(seen).to.deep.equal(['devices/watcher-1/ping']);
        } finally {
          await watcher!.endAsync();
          await device.endAsync();
        }
        expect((await attempt('good')).mqtt!.connack).to.equal(0);
        expect((await attempt(profile)).mqtt).to.include({ clientId: 'watcher-1', connack: 0 });
      });
    }
  });

  describe('bytes on the wire', function () {
    it('plain: counts every byte each way, as the client sent and read them', async function () {
      const { client } = await mqttConnect(url('plain'), { clientId: 'counter-1', reconnectPeriod: 0, connectTimeout: 5_000 });
      await client!.publishAsync('devices/counter-1/up', 'x'.repeat(500), { qos: 1 });
      const socket = client!.stream as unknown as { bytesWritten: number; bytesRead: number };
      await client!.endAsync();
      const record = await attempt('plain');
      expect(record.bytesReceived).to.be.greaterThan(500);
      expect(record.bytesReceived).to.equal(socket.bytesWritten);
      expect(record.bytesSent).to.equal(socket.bytesRead);
    });

    for (const profile of ['good', 'no-client-auth']) {
      it(`${profile}: counts the TLS bytes each way, more than the MQTT they carried`, async function () {
        const { client } = await mqttConnect(url(profile), deviceOptions(pki, 'bundle-current', profile === 'good' ? 'client-valid' : null,
          { clientId: profile === 'good' ? 'hilt-device-1' : 'counter-2' }));
        const id = profile === 'good' ? 'hilt-device-1' : 'counter-2';
        await client!.publishAsync(`devices/${id}/up`, 'x'.repeat(500), { qos: 1 });
        // The TLS socket counts the MQTT bytes inside the records; the wire carries those and more.
        const socket = client!.stream as unknown as { bytesWritten: number; bytesRead: number };
        await client!.endAsync();
        const record = await attempt(profile);
        expect(record.bytesReceived).to.be.greaterThan(socket.bytesWritten);
        expect(record.bytesSent).to.be.greaterThan(socket.bytesRead);
        expect(socket.bytesWritten).to.be.greaterThan(500);
      });
    }
  });

  describe('bounds', function () {
    it('stall: the lab drops a silent connection after its hold time', async function () {
      const short = await startLab({ pki, profiles: ['stall'], stallHoldMs: 200 });
      try {
        const { error } = await mqttConnect(short.listener('stall').url, deviceOptions(pki, 'bundle-current', 'client-valid', { connectTimeout: 10_000 }));
        expect(error).to.not.equal(null);
        const record = await short.attempts.next('stall', { until: 'closed' });
        expect(record.closed).to.include({ by: 'lab', reason: 'lab stopped stalling after 200 ms' });
      } finally {
        await short.close();
      }
    });
  });

  describe('attempt records', function () {
    it('are written as one JSON line each when they close', async function () {
      const out = new PassThrough();
      const lines: string[] = [];
      out.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
      const stop = lab.attempts.writeJsonLines(out);
      const { client } = await mqttConnect(url('good'), deviceOptions(pki, 'bundle-current', 'client-valid'));
      await client!.endAsync();
      await attempt('good');
      stop();
      expect(lines).to.have.length(1);
      const record = JSON.parse(lines[0]!) as Attempt;
      expect(record).to.include({ listener: 'good', port: lab.listener('good').port });
      expect(record.peer.address).to.equal('127.0.0.1');
      expect(record.mqtt!.connack).to.equal(0);
    });

    it('waiting for an attempt that never comes ends with a clear timeout', async function () {
      const error = await lab.attempts.next('plain', { timeoutMs: 50 }).catch((e: Error) => e);
      expect((error as Error).message).to.equal('listener plain: no connection attempt within 50 ms');
    });
  });

  describe('bad input', function () {
    it('refuses an unknown profile, listing the known ones', async function () {
      const error = await startLab({ pki, profiles: ['good', 'bogus'] }).catch((e: Error) => e);
      expect(error).to.be.instanceOf(UsageError);
      expect((error as Error).message).to.match(/^unknown listener profile "bogus": choose from good, expired, /);
    });

    it('refuses a port in use, naming it, and leaves nothing listening', async function () {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as { port: number }).port;
      try {
        const error = await startLab({ pki, profiles: ['good', 'plain'], portBase: port }).catch((e: Error) => e);
        expect(error).to.be.instanceOf(UsageError);
        expect((error as Error).message).to.equal(
          `cannot listen on 127.0.0.1 port ${port} for listener good (EADDRINUSE): stop what holds it or choose another --port-base`);
        // The other listener (port + 1) was closed again: the port is free.
        const probe = createServer();
        await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port + 1, '127.0.0.1', resolve));
        await new Promise<void>((resolve) => probe.close(() => resolve()));
      } finally {
        await new Promise<void>((resolve) => holder.close(() => resolve()));
      }
    });
  });
});
