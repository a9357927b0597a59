/**
 * The firmware endpoint against real peers: openssl s_client for what TLS records (the
 * ClientHello, the refusal between scenarios, a device's alert), mqtt.js over real mutual TLS
 * for each MQTT behaviour, as the attempt records and the 'packet' events show them.
 */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import type { Attempt, Endpoint, PacketRecord } from '../../harness/lab/index.ts';
import { withLab } from '../helpers.ts';
import { deviceOptions, mqttConnect, sClient, type MqttOptions } from './clients.ts';

const VALID = { tls: { server: 'server-valid' } };

describe('firmware endpoint', function () {
  const held = withLab({ profiles: ['good'], endpoint: { port: 0 } });
  let endpoint: Endpoint;
  before(function () { endpoint = held.lab.endpoint!; });
  /** Attempts are taken in order from the start of each test: next() the following one once closed, settled() once settled. */
  let after = 0;
  beforeEach(function () { after = held.lab.attempts.mark(); });
  afterEach(function () { endpoint.refuse(); });
  const take = async (until: 'closed' | 'settled') => {
    const a = await held.lab.attempts.next('endpoint', { until, after, timeoutMs: 10_000 });
    after = a.id;
    return a;
  };
  const next = () => take('closed');
  const settled = () => take('settled');
  /** The same attempt once closed. */
  const closed = (a: Attempt) => held.lab.attempts.next('endpoint', { until: 'closed', after: a.id - 1, timeoutMs: 10_000 });
  const device = (extra: MqttOptions = {}) => deviceOptions(held.pki, 'bundle-current', 'client-valid', extra);
  const connect = (extra: MqttOptions = {}) => mqttConnect(endpoint.url, device(extra));
  const s = (args: string[], ca = 'bundle-current') => sClient(endpoint.port, [
    '-cert', held.pki.path('client-valid'), '-key', held.pki.path('client-valid', 'key'), '-CAfile', held.pki.path(ca), ...args,
  ]);

  /** The next packet event that `match` accepts (bounded). */
  function packet(match: (p: PacketRecord, a: Attempt) => boolean, timeoutMs = 10_000): Promise<[PacketRecord, Attempt]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { endpoint.events.off('packet', on); reject(new Error('no matching packet within the bound')); }, timeoutMs);
      const on = (a: Attempt, p: PacketRecord) => {
        if (!match(p, a)) return;
        clearTimeout(timer);
        endpoint.events.off('packet', on);
        resolve([p, a]);
      };
      endpoint.events.on('packet', on);
    });
  }
  const types = (a: Attempt) => a.packets!.map((p) => `${p.dir} ${p.type}${p.withheld ? ' (withheld)' : ''}`);

  it('is null on a lab that was not asked for it; otherwise listens on 127.0.0.1', function () {
    expect(held.lab.endpoint!.url).to.equal(`mqtts://127.0.0.1:${endpoint.port}`);
    expect(held.lab.endpoint!.host).to.equal('127.0.0.1');
  });

  describe('TLS', function () {
    it('between scenarios: the ClientHello is recorded, then a fatal handshake_failure alert that s_client reports', async function () {
      const seen = await s(['-tls1_2', '-alpn', 'mqtt']);
      expect(seen.established).to.equal(false);
      expect(seen.error).to.equal('sslv3 alert handshake failure');
      const a = await next();
      expect(a.listener).to.equal('endpoint');
      expect(a.tls!.outcome).to.equal('refused-idle');
      expect(a.clientHello).to.include({ ok: true, sni: 'localhost', legacyVersion: 'TLS 1.2' });
      expect(a.clientHello!.alpn).to.deep.equal(['mqtt']);
      expect(a.closedHow).to.equal('alert');
      expect(a.closed!.by).to.equal('lab');
      expect(a.alert).to.equal(null);
      expect(a.packets).to.deep.equal([]);
    });

    it('serving a valid chain: the handshake completes and the record has the hello and the negotiated suite', async function () {
      endpoint.serve(VALID);
      const seen = await s(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384']);
      expect(seen.established).to.equal(true);
      const a = await next();
      expect(a.tls).to.include({ outcome: 'ok', protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
      expect(a.clientHello!.cipherSuites.map((c) => c.name)).to.deep.equal([
        'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV',
      ]);
      expect(a.alert).to.equal(null);
      expect(a.closed!.by).to.equal('device');
    });

    const alerts = [
      { server: 'server-rogue', args: ['-tls1_2'], alert: { number: 48, name: 'unknown_ca' }, how: 'read off the wire (TLS 1.2)' },
      { server: 'server-rogue', args: ['-tls1_3'], alert: { number: 48, name: 'unknown_ca' }, how: "from OpenSSL's error (TLS 1.3: encrypted)" },
      { server: 'server-expired', args: ['-tls1_2'], alert: { number: 45, name: 'certificate_expired' }, how: 'read off the wire (TLS 1.2)' },
    ];
    for (const row of alerts) {
      it(`a device that refuses ${row.server} with an alert: ${row.alert.name} ${row.how}`, async function () {
        endpoint.serve({ tls: { server: row.server } });
        const seen = await s(row.args);
        expect(seen.established).to.equal(false);
        const a = await next();
        expect(a.tls!.outcome).to.equal('failed');
        expect(a.alert).to.deep.equal({ from: 'device', level: 'fatal', ...row.alert });
        expect(a.closedHow).to.equal('alert');
        expect(a.closed!.by).to.equal('device');
      });
    }

    it("serve() takes effect for new connections only, and refuse() puts the endpoint back between scenarios", async function () {
      endpoint.serve(VALID);
      const { client } = await connect();
      try {
        endpoint.refuse();
        expect(client!.connected).to.equal(true);
        expect((await connect()).error).to.match(/handshake failure/);
      } finally {
        await client!.endAsync();
      }
      expect((await next()).tls!.outcome).to.equal('ok');
      expect((await next()).tls!.outcome).to.equal('refused-idle');
    });

    it('server-large: a valid chain whose Certificate message is between 12 KB and what a default Mbed TLS build reads, served and accepted', async function () {
      const chain = held.pki.material('server-large').chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
      expect(chain).to.have.length(2); // leaf and issuing CA: large, not deep
      // TLS 1.2 Certificate message: 3-byte list length, then a 3-byte length before each certificate.
      const message = 3 + chain.reduce((sum, pem) => sum + 3 + new X509Certificate(pem).raw.length, 0);
      // Past what a 4 or 8 KB input buffer holds (plus Mbed TLS's 320 bytes of overhead), within
      // the default 16384 less the handshake header, even with a few dozen more host names.
      expect(message).to.be.within(12 * 1024, 16_380 - 1_000);
      endpoint.serve({ tls: { server: 'server-large' } });
      const seen = await s(['-tls1_2', '-verify_hostname', 'localhost']);
      expect(seen).to.include({ established: true, verifyError: null });
      const a = await next();
      expect(a.tls!.outcome).to.equal('ok');
      expect(a.bytesSent).to.be.above(12 * 1024);
    });

    it("client authentication: required refuses a device without a certificate (the record says so); 'none' takes it", async function () {
      const bare = (args: string[]) => sClient(endpoint.port, ['-CAfile', held.pki.path('bundle-current'), '-tls1_2', ...args]);
      endpoint.serve(VALID);
      await bare([]);
      const refused = await next();
      expect(refused.tls).to.include({ outcome: 'refused', reason: 'no client certificate' });
      expect(refused.closed).to.include({ by: 'lab', reason: 'client certificate refused: no client certificate' });
      endpoint.serve({ tls: { server: 'server-valid', clientAuth: 'none' } });
      expect((await bare([])).established).to.equal(true);
      expect((await next()).tls).to.include({ outcome: 'ok', clientCertificate: null });
    });

    it("client authentication 'none': a client without a certificate cannot use the device's id (CONNACK 5, the reason recorded)", async function () {
      endpoint.serve({ tls: { server: 'server-valid', clientAuth: 'none' } });
      const seen = await mqttConnect(endpoint.url, deviceOptions(held.pki, 'bundle-current', null));
      await seen.client?.endAsync(true);
      expect(seen.error).to.equal('CONNACK 5');
      const a = await next();
      expect(a.mqtt).to.include({ clientId: 'hilt-device-1', connack: 5 });
      expect(a.closed!.reason).to.equal('CONNACK 5: client id "hilt-device-1" is a device identity of the lab PKI: only its certificate may use it (on an mTLS listener); choose another client id here');
    });

    it('refuses a behaviour it cannot serve with one line', function () {
      expect(() => endpoint.serve({ tls: { server: 'server-nope' } })).to.throw(/no lab certificate or bundle named "server-nope"/);
      expect(() => endpoint.serve({ tls: { server: 'server-valid' }, mqtt: { refuseConnack: 9 } })).to.throw('endpoint behaviour: mqtt.refuseConnack "9": give a CONNACK refusal code 1..5');
      expect(() => endpoint.serve({ tls: { server: 'server-valid', ciphers: 'NOT-A-SUITE' } }))
        .to.throw(/^endpoint behaviour: tls \{"ciphers":"NOT-A-SUITE"\} cannot be served \(.*no cipher match.*\): fix the cipher list or versions$/);
    });
  });

  describe('MQTT', function () {
    let client: MqttClient | null = null;
    afterEach(async function () {
      await client?.endAsync(true);
      client = null;
    });

    it('normal: every packet both ways is recorded with its id, QoS and time', async function () {
      endpoint.serve(VALID);
      ({ client } = await connect({ keepalive: 30 }));
      const a = await settled();
      await client!.subscribeAsync('factory/line1/cmd', { qos: 1 });
      await client!.publishAsync('factory/line1/telemetry', Buffer.alloc(300), { qos: 1 });
      await client!.endAsync();
      client = null;
      await closed(a);
      expect(types(a)).to.deep.equal(['in connect', 'out connack', 'in subscribe', 'out suback', 'in publish', 'out puback', 'in disconnect']);
      const [connectP, connack, subscribe, suback, publish, puback] = a.packets!;
      expect(connectP).to.include({ clientId: 'hilt-device-1', keepalive: 30, clean: true });
      expect(connack).to.include({ returnCode: 0, sessionPresent: false });
      expect(subscribe!.topics).to.deep.equal(['factory/line1/cmd']);
      expect(suback!.id).to.equal(subscribe!.id);
      expect(publish).to.include({ qos: 1, dup: false, retain: false, topic: 'factory/line1/telemetry' });
      expect(publish!.bytes).to.be.above(300);
      expect(puback!.id).to.equal(publish!.id);
      const times = a.packets!.map((p) => p.atMs);
      expect(times).to.deep.equal([...times].sort((x, y) => x - y));
      expect(a.mqtt).to.include({ clientId: 'hilt-device-1', connack: 0 });
      expect(endpoint.subscriptions('hilt-device-1')).to.deep.equal(['factory/line1/cmd']);
    });

    it('withholdConnack: the first CONNECT gets no answer (the device gives up), the next is answered', async function () {
      endpoint.serve({ ...VALID, mqtt: { withholdConnack: 1 } });
      const first = await connect({ connectTimeout: 600 });
      expect(first.error).to.match(/timeout/i);
      const a = await next();
      expect(types(a)).to.deep.equal(['in connect']);
      expect(a.mqtt!.connack).to.equal(null);
      expect(a.closed!.by).to.equal('device');
      ({ client } = await connect());
      expect(types(await settled())).to.deep.equal(['in connect', 'out connack']);
    });

    it('refuseConnack: the endpoint answers with the code itself and closes', async function () {
      endpoint.serve({ ...VALID, mqtt: { refuseConnack: 3 } });
      expect((await connect()).error).to.equal('CONNACK 3');
      const a = await next();
      expect(types(a)).to.deep.equal(['in connect', 'out connack']);
      expect(a.packets![1]).to.include({ returnCode: 3 });
      expect(a.mqtt!.connack).to.equal(3);
      expect(a.closed).to.include({ by: 'lab', reason: "CONNACK 3: refused by the endpoint's behaviour" });
    });

    it('MQTT 5: aedes speaks 3.1.1 only and refuses it (CONNACK 1, recorded as such); refuseConnack answers with the MQTT 5 reason code', async function () {
      endpoint.serve(VALID);
      expect((await connect({ protocolVersion: 5 })).error).to.equal('CONNACK 1');
      const a = await next();
      expect(a.mqtt).to.include({ protocolVersion: 5, connack: 1 });
      expect(types(a)).to.deep.equal(['in connect', 'out connack']);
      endpoint.serve({ ...VALID, mqtt: { refuseConnack: 5 } });
      expect((await connect({ protocolVersion: 5 })).error).to.equal('CONNACK 135');
      const refused = await next();
      expect(refused.packets![1]).to.include({ type: 'connack', returnCode: 0x87 });
      expect(refused.mqtt!.connack).to.equal(0x87);
    });

    it('disconnectAfterConnack: the first session is closed right after its CONNACK, the second is kept', async function () {
      endpoint.serve({ ...VALID, mqtt: { disconnectAfterConnack: 1 } });
      const first = (await connect()).client!;
      await new Promise<void>((resolve) => first.once('close', () => resolve()));
      await first.endAsync(true);
      const a = await next();
      expect(types(a)).to.deep.equal(['in connect', 'out connack']);
      expect(a.closed).to.include({ by: 'lab', reason: "closed right after CONNACK by the endpoint's behaviour (session 1)" });
      expect(a.closedHow).to.equal('fin');
      ({ client } = await connect());
      await client!.publishAsync('t', 'x', { qos: 1 });
      expect(client!.connected).to.equal(true);
    });

    for (const [what, act] of [
      ['puback', (c: MqttClient) => { c.publish('devices/x/up', 'hi', { qos: 1 }); }],
      ['suback', (c: MqttClient) => { c.subscribe('devices/x/cmd', { qos: 1 }); }],
      ['pingresp', () => { /* keepalive 1 s: mqtt.js pings on its own */ }],
    ] as const) {
      it(`withhold ${what}: the broker's ${what.toUpperCase()} is recorded as withheld and never reaches the device`, async function () {
        endpoint.serve({ ...VALID, mqtt: { withhold: [what] } });
        ({ client } = await connect({ keepalive: 1 }));
        const got: string[] = [];
        (client as unknown as { on(e: 'packetreceive', f: (p: { cmd: string }) => void): void }).on('packetreceive', (p) => got.push(p.cmd));
        const withheld = packet((p) => p.type === what);
        act(client!);
        const [p, a] = await withheld;
        expect(p).to.include({ dir: 'out', withheld: true });
        if (what !== 'pingresp') expect(p.id).to.equal(a.packets!.find((q) => q.dir === 'in' && q.type !== 'connect')!.id);
        // Another packet through the same socket after it proves the withheld one was not just late.
        await new Promise<void>((resolve) => client!.publish('devices/x/later', 'x', { qos: 0 }, () => resolve()));
        await packet((q, b) => b === a && q.type === 'publish' && q.topic === 'devices/x/later');
        expect(got).to.not.include(what);
      });
    }

    it('publish QoS 1, 128 KB, to a topic the device subscribed to: delivered, and its PUBACK recorded with the right id', async function () {
      endpoint.serve(VALID);
      ({ client } = await connect());
      const a = await settled();
      await client!.subscribeAsync('site/7/cmd', { qos: 1 });
      const payload = Buffer.alloc(128 * 1024, 7);
      const received = new Promise<Buffer>((resolve) => client!.once('message', (_t, body) => resolve(body)));
      const acked = packet((p, b) => b === a && p.type === 'puback' && p.dir === 'in');
      await endpoint.publish('site/7/cmd', payload, 1);
      expect((await received).equals(payload)).to.equal(true);
      const [puback] = await acked;
      const out = a.packets!.find((p) => p.dir === 'out' && p.type === 'publish')!;
      expect(out).to.include({ qos: 1, topic: 'site/7/cmd' });
      expect(out.bytes).to.be.above(128 * 1024);
      expect(puback.id).to.equal(out.id);
    });

    it('persistent session: a QoS 1 message published while the device is away is stored and delivered on its return', async function () {
      endpoint.serve(VALID);
      const persistent = { clean: false, clientId: 'hilt-device-1' };
      const first = (await connect(persistent)).client!;
      await first.subscribeAsync('site/7/stored', { qos: 1 });
      await first.endAsync();
      await next();
      await endpoint.publish('site/7/stored', Buffer.from('while away'), 1);
      // Listening before the CONNACK: the stored message follows it at once.
      client = mqtt.connect(endpoint.url, device(persistent));
      client.on('error', () => {});
      const message = new Promise<string>((resolve) => client!.once('message', (t, body) => resolve(`${t} ${body}`)));
      expect(await message).to.equal('site/7/stored while away');
      const a = await settled();
      await packet((p, b) => b === a && p.type === 'puback' && p.dir === 'in');
      expect(a.packets!.find((p) => p.type === 'connack')).to.include({ sessionPresent: true });
      expect(types(a)).to.not.include('in subscribe');
    });

    it('sessionExpired: session-present 0 for a device that asked to keep its session; the record keeps its clean=false', async function () {
      endpoint.serve(VALID);
      const persistent = { clean: false, clientId: 'hilt-device-1' };
      const first = (await connect(persistent)).client!;
      await first.subscribeAsync('site/7/kept', { qos: 1 });
      await first.endAsync();
      await next();
      endpoint.serve({ ...VALID, mqtt: { sessionExpired: true } });
      ({ client } = await connect(persistent));
      const a = await settled();
      expect(a.packets![0]).to.include({ type: 'connect', clean: false });
      expect(a.mqtt!.clean).to.equal(false);
      expect(a.packets![1]).to.include({ type: 'connack', sessionPresent: false });
      expect(endpoint.subscriptions('hilt-device-1')).to.deep.equal([]);
    });

    it('identity: the client id must be the certificate CN (CONNACK 5 otherwise)', async function () {
      endpoint.serve(VALID);
      expect((await connect({ clientId: 'someone-else' })).error).to.equal('CONNACK 5');
      const a = await next();
      expect(a.closed!.reason).to.equal('CONNACK 5: client id "someone-else" is not the certificate CN "hilt-device-1"');
    });

    it('dropAll: every open connection is closed by the endpoint with the reason', async function () {
      endpoint.serve(VALID);
      ({ client } = await connect());
      const open = await settled();
      const gone = new Promise<void>((resolve) => client!.once('close', () => resolve()));
      endpoint.dropAll('broker restart');
      await gone;
      const a = await closed(open);
      expect(a.closed).to.include({ by: 'lab', reason: 'dropped by the endpoint: broker restart' });
      expect(a.closedHow).to.equal('fin');
    });
  });

  it('materials: a device certificate minted for the id, the transition bundle, the names the server answers to', async function () {
    const m = await endpoint.materials('bench-07');
    expect(m).to.include({ uri: endpoint.url, host: '127.0.0.1', port: endpoint.port });
    expect(m.hostNames).to.include.members(['localhost', '127.0.0.1']);
    expect(m.caBundlePem.match(/BEGIN CERTIFICATE/g)).to.have.length(2);
    expect(new X509Certificate(m.certPem).subject).to.include('CN=bench-07');
    expect((await stat(m.keyPath)).mode & 0o777).to.equal(0o600);
    endpoint.serve(VALID);
    const { client, error } = await mqttConnect(endpoint.url, {
      ca: m.caBundlePem, cert: m.certPem, key: m.keyPem, clientId: 'bench-07', servername: 'localhost', reconnectPeriod: 0, connectTimeout: 5_000,
    });
    expect(error).to.equal(null);
    await client!.endAsync();
    expect((await next()).tls!.clientCertificate!.subject).to.equal('CN=bench-07, O=hilt lab');
  });
});
