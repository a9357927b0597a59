/**
 * The emulated board against a broker nobody here wrote: Mosquitto with mutual TLS. Needs the
 * mosquitto binary (Debian package `mosquitto`; .ci/run installs it).
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ensurePki, type Pki } from '../../harness/pki/index.ts';
import { openStreamBoard, type StreamBoard } from '../../emulator/index.ts';
import { tempDir } from '../helpers.ts';
import { AgentClient } from './agent-client.ts';

const MOSQUITTO = ['/usr/sbin/mosquitto', 'mosquitto'].find((bin) => spawnSync(bin, ['-h'], { stdio: 'ignore' }).error === undefined);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('emulated ESP32 against Mosquitto (mutual TLS)', function () {
  let pki: Pki;
  let broker: ChildProcess | null = null;
  let port: number;
  let served: StreamBoard;
  let agent: AgentClient;
  let remove: () => Promise<void> = async () => {};

  before(async function () {
    if (!MOSQUITTO) {
      console.log('    (mosquitto is not installed: these tests need it; apt-get install mosquitto)');
      this.skip();
    }
    const tmp = await tempDir();
    remove = tmp.remove;
    pki = await ensurePki({ dir: tmp.dir });
    port = await freePort();
    const conf = join(tmp.dir, 'mosquitto.conf');
    await writeFile(conf, [
      `listener ${port} 127.0.0.1`,
      `cafile ${pki.path('bundle-issuing-chain')}`,
      `certfile ${pki.path('server-valid', 'chain')}`,
      `keyfile ${pki.path('server-valid', 'key')}`,
      'require_certificate true',
      'use_identity_as_username true',
      'allow_anonymous false',
      // Run as whoever runs the tests: Mosquitto started as root would switch to its own user,
      // which cannot read the lab's private keys (0600).
      `user ${userInfo().username}`,
      '',
    ].join('\n'));
    broker = spawn(MOSQUITTO!, ['-c', conf, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Mosquitto says when its listener is open; wait for that, not for a guessed time.
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`mosquitto did not start: ${log}`)), 10_000);
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (/mosquitto version \S+ running/.test(log)) { clearTimeout(timer); resolve(); }
      };
      broker!.stdout!.on('data', onData);
      broker!.stderr!.on('data', onData);
      broker!.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${log}`)));
    });
    served = openStreamBoard({ index: 9 });
    agent = new AgentClient(served.stream);
    await agent.setUp({
      right: ['ca', pki.bundle('bundle-current')], wrong: ['ca', pki.bundle('bundle-next')],
      cert: ['cert', pki.material('client-valid').cert], key: ['key', pki.material('client-valid').key],
    });
  });
  after(async function () {
    await served?.close();
    if (broker && broker.exitCode === null) {
      const exited = new Promise((resolve) => broker!.once('exit', resolve));
      broker.kill('SIGTERM');
      await exited;
    }
    await remove();
  });

  const args = (ca: string) => ({ host: '127.0.0.1', port, sni: 'localhost', ca, cert: 'cert', key: 'key', client_id: 'hilt-device-1' });

  it('connects with the right CA: TLS 1.2, an ECDHE-ECDSA AES-GCM suite, CONNACK 0', async function () {
    const result = await agent.connect('mqtt.connect', args('right'));
    expect(result.error).to.equal(null);
    expect(result.connected).to.equal(true);
    expect(result.tls!.version).to.equal('TLSv1.2');
    expect(result.tls!.cipher).to.match(/^TLS-ECDHE-ECDSA-WITH-AES-(128|256)-GCM-SHA(256|384)$/);
    expect(result.mqtt!.connack).to.equal(0);
    await agent.ok('mqtt.disconnect');
  });

  it('refuses Mosquitto with the wrong CA: -0x2700, flags 0x08', async function () {
    const result = await agent.connect('mqtt.connect', args('wrong'));
    expect(result.connected).to.equal(false);
    expect(result.error).to.include({ esp_err_name: 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED', stack_err: 0x2700, verify_flags: 0x08 });
    expect(result.error!.stack_err_name).to.equal('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED');
  });
});
