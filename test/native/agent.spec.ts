/**
 * The host agent (firmware/host with the agent core, over Mbed TLS 3.6 built as ESP-IDF v5.5
 * builds it) as hilt drives any device: a child process through ProcessTransport and Device.
 * The lab's listeners are real TLS servers; every TLS outcome here is the library's own.
 * Skipped, with one line, without a C toolchain for -m32 or while the Makefile has no agent target.
 */
import { needAgent } from './toolchain.ts';
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Device } from '../../harness/device/device.ts';
import { ProcessTransport } from '../../harness/transport/process.ts';
import { withLab } from '../helpers.ts';

describe('native: the host agent through ProcessTransport and Device', function () {
  this.timeout(600_000);
  const ctx = withLab({ profiles: ['good', 'expired'] });
  let device: Device | null = null;

  before(async function () {
    const agentBinary = await needAgent(this);
    device = await Device.open(new ProcessTransport({ command: agentBinary }));
    const { pki } = ctx;
    await device.store('lab_ca', 'ca', pki.bundle('bundle-current'));
    await device.store('dev_cert', 'cert', pki.material('client-valid').cert);
    await device.store('dev_key', 'key', pki.material('client-valid').key);
    await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
  });
  after(async () => { await device?.close(); });

  const tlsArgs = (listener: string) => ({
    host: '127.0.0.1', port: ctx.lab.listener(listener).port, sni: 'localhost', ca: 'lab_ca', cert: 'dev_cert', key: 'dev_key',
  });

  it('says hello with the facts of the Mbed TLS it runs on', () => {
    const hello = device!.hello!;
    expect(hello.proto).to.equal(1);
    expect(hello.mbedtls).to.include({ version: '3.6.6', tls13: false, in_content_len: 16384, out_content_len: 4096, have_time_date: true });
    expect(hello.mbedtls.ciphersuites).to.include('TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256');
    expect(hello.heap.free).to.be.greaterThan(100_000);
  });

  it('connects to the good listener with mutual TLS; heap and timing are the device\'s own', async () => {
    const result = await device!.connect('tls.connect', tlsArgs('good'));
    expect(result.connected, JSON.stringify(result.error)).to.equal(true);
    expect(result.error).to.equal(null);
    expect(result.tls).to.include({ version: 'TLSv1.2' });
    expect(result.tls!.cipher).to.match(/^TLS-ECDHE-ECDSA-WITH-AES-/);
    expect(result.tls!.peer!.subject).to.include('CN=localhost');
    expect(result.heap.source).to.equal('device');
    // The record buffers alone are 16 KiB + 4 KiB: a real handshake needs more than that.
    expect(result.heap.peak_used).to.be.greaterThan(20_000);
    expect(result.timing.source).to.equal('device');
    await device!.command('tls.close');
    const after = await device!.command('heap.stats');
    expect(after.free, 'every byte Mbed TLS took is back after tls.close').to.equal(result.heap.before);
  });

  it('fails on the expired listener with the library\'s codes and ESP-IDF\'s lines', async () => {
    const mark = device!.mark();
    const result = await device!.connect('tls.connect', tlsArgs('expired'));
    expect(result.connected).to.equal(false);
    expect(result.error).to.deep.include({
      esp_err: 0x801a, esp_err_name: 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED',
      stack_err: 0x2700, stack_err_name: 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', verify_flags: 0x01,
    });
    expect(result.error!.verify_info).to.deep.equal(['The certificate validity has expired']);
    await device!.expect(/E \(\d+\) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700$/, { since: mark, timeoutMs: 5_000 });
    await device!.expect(/I \(\d+\) esp-tls-mbedtls: Failed to verify peer certificate!$/, { since: mark, timeoutMs: 5_000 });
  });

  it('speaks MQTT through the lab broker: CONNACK, SUBACK, QoS 1 publish acked, the message comes back as an event', async () => {
    const clientId = 'hilt-device-1'; // the CN of client-valid: the lab's identity rule
    const result = await device!.connect('mqtt.connect', { ...tlsArgs('good'), client_id: clientId, keepalive: 30 });
    expect(result.connected, JSON.stringify(result.error)).to.equal(true);
    expect(result.mqtt).to.deep.equal({ session_present: false, connack: 0 });
    expect(result.timing.mqtt_ms).to.be.a('number');
    const topic = `devices/${clientId}/echo`;
    expect(await device!.command('mqtt.subscribe', { topic, qos: 1 })).to.deep.equal({ granted: 1 });
    const since = device!.eventMark();
    const published = await device!.command('mqtt.publish', { topic, qos: 1, payload: Buffer.from('hello from C').toString('base64') });
    expect(published.acked).to.equal(true);
    const message = await device!.waitEvent('mqtt.message', { since, timeoutMs: 5_000 });
    expect(message.body).to.deep.include({ topic, qos: 1, payload: Buffer.from('hello from C').toString('base64') });
    await device!.command('mqtt.disconnect');
  });

  it('reports a refused CONNECT as esp-mqtt does: CONNACK 5, CONNECTION_REFUSED, esp_err 0', async () => {
    const mark = device!.mark();
    const result = await device!.connect('mqtt.connect', { ...tlsArgs('good'), client_id: 'someone-else' });
    expect(result.connected).to.equal(false);
    expect(result.error).to.deep.include({ esp_err: 0, mqtt_error_type: 'CONNECTION_REFUSED', connack: 5 });
    expect(result.mqtt, 'a CONNACK arrived').to.deep.equal({ session_present: false, connack: 5 });
    await device!.expect(/W \(\d+\) mqtt_client: Connection refused, not authorized$/, { since: mark, timeoutMs: 5_000 });
  });

  it('offers only the suites named in ciphers=, and the server picks among them', async () => {
    const result = await device!.connect('tls.connect', { ...tlsArgs('good'), ciphers: 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256' });
    expect(result.connected, JSON.stringify(result.error)).to.equal(true);
    expect(result.tls!.cipher).to.equal('TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256');
    await device!.command('tls.close');
  });

  it('negotiates ALPN: the protocol the server chose comes back in tls.alpn', async () => {
    const { chain, key } = ctx.pki.material('server-valid');
    const server = tls.createServer({ cert: chain, key, ALPNProtocols: ['mqtt'] }, (socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const result = await device!.connect('tls.connect', { host: '127.0.0.1', port, sni: 'localhost', ca: 'lab_ca', alpn: 'x-other,mqtt' });
      expect(result.connected, JSON.stringify(result.error)).to.equal(true);
      expect(result.tls!.alpn).to.equal('mqtt');
      await device!.command('tls.close');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
