/**
 * The emulator's fixes from the differential against the real Mbed TLS
 * (test/native/differential.spec.ts), checked here without a C toolchain: SNI only when the host
 * name is checked, `mqtt` filled on a CONNACK refusal, a server's FIN during the handshake read
 * as EOF.
 */
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Device } from '../../harness/device/device.ts';
import { MemoryTransport } from '../../harness/transport/index.ts';
import { openStreamBoard, type StreamBoard } from '../../emulator/index.ts';
import { withLab } from '../helpers.ts';

describe('emulator: what the differential against Mbed TLS fixed', function () {
  this.timeout(60_000);
  const ctx = withLab({ profiles: ['good', 'plain'] });
  let served: StreamBoard;
  let device: Device;

  before(async () => {
    served = openStreamBoard({ index: 8 });
    device = await Device.open(new MemoryTransport(served.stream, 'emulated ESP32'));
    await device.store('ca', 'ca', ctx.pki.bundle('bundle-current'));
    await device.store('dev_cert', 'cert', ctx.pki.material('client-valid').cert);
    await device.store('dev_key', 'key', ctx.pki.material('client-valid').key);
    await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
  });
  after(async () => {
    await device?.close();
    await served?.close();
  });

  it('sends SNI when it checks the host name, and none with skip_cn (as esp-tls)', async () => {
    const seen: Array<string | false | null> = [];
    const { chain, key } = ctx.pki.material('server-valid');
    const server = tls.createServer({ cert: chain, key }, (socket) => { seen.push(socket.servername); socket.on('error', () => {}); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      for (const skip of [0, 1]) {
        const result = await device.connect('tls.connect', { host: '127.0.0.1', port, sni: 'localhost', ca: 'ca', skip_cn: skip });
        expect(result.connected, JSON.stringify(result.error)).to.equal(true);
        await device.command('tls.close');
      }
      expect(seen).to.deep.equal(['localhost', false]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('fills mqtt on a CONNACK refusal: a CONNACK arrived', async () => {
    const result = await device.connect('mqtt.connect', {
      host: '127.0.0.1', port: ctx.lab.listener('good').port, sni: 'localhost', ca: 'ca', cert: 'dev_cert', key: 'dev_key', client_id: 'someone-else',
    });
    expect(result.error).to.include({ mqtt_error_type: 'CONNECTION_REFUSED', connack: 5 });
    expect(result.mqtt).to.deep.equal({ session_present: false, connack: 5 });
  });

  it('reads a server closing during the handshake as EOF (-0x7280, errno 0), not a reset', async () => {
    const result = await device.connect('tls.connect', { host: '127.0.0.1', port: ctx.lab.listener('plain').port, sni: 'localhost', ca: 'ca' });
    expect(result.error).to.include({ stack_err: 0x7280, stack_err_name: 'MBEDTLS_ERR_SSL_CONN_EOF', sock_errno: 0 });
  });
});
