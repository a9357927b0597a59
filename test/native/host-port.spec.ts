/**
 * The host port's parts on their own (firmware/host/): the MQTT 3.1.1 client against Mosquitto,
 * the counting allocator, and esp-tls over the real Mbed TLS 3.6 (ESP-IDF v5.5 configuration)
 * against the lab's listeners. Each part is a C program built by `make host-tests`; these tests
 * run them and check what they print. Skipped, with one line, without a C toolchain for -m32.
 */
import { needToolchain } from './toolchain.ts';
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { buildMbedtls, FIRMWARE_DIR, type MbedtlsBuild } from '../../harness/native/build.ts';
import { run, tempDir, withLab } from '../helpers.ts';

const MOSQUITTO = ['/usr/sbin/mosquitto', 'mosquitto'].find((bin) => spawnSync(bin, ['-h'], { stdio: 'ignore' }).error === undefined);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Mosquitto on a free loopback port; resolves once it says its listener is open. */
async function startMosquitto(dir: string, name: string, lines: string[]): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, `${name}.conf`);
  await writeFile(conf, [`listener ${port} 127.0.0.1`, ...lines, ''].join('\n'));
  const child = spawn(MOSQUITTO!, ['-c', conf, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`mosquitto did not start: ${log}`)), 10_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (/mosquitto version \S+ running/.test(log)) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`mosquitto exited (${code}): ${log}`)); });
  });
  return { port, child };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** "result k=v ..." from etls-probe, as a record (the peer subject may hold spaces: it is last). */
function probeResult(stdout: string): Record<string, string> {
  const line = stdout.split('\n').find((l) => l.startsWith('result '));
  if (!line) throw new Error(`etls-probe printed no result line:\n${stdout}`);
  const [head, peer] = line.slice('result '.length).split(' peer=');
  const fields: Record<string, string> = Object.fromEntries(head!.split(' ').map((kv) => kv.split('=') as [string, string]));
  fields.peer = peer ?? '';
  return fields;
}

describe('native: the host port\'s parts (firmware/host)', function () {
  this.timeout(600_000);
  let mbedtls: MbedtlsBuild;
  let out = '';
  let remove: () => Promise<void> = async () => {};

  before(async function () {
    await needToolchain(this);
    mbedtls = await buildMbedtls();
    const tmp = await tempDir('hilt-host-tests-');
    remove = tmp.remove;
    out = tmp.dir;
    const vars = [`MBEDTLS_OUT=${mbedtls.dir}`, `AGENT_OUT=${out}`];
    const made = await run('make', ['-C', FIRMWARE_DIR, 'host-tests', ...vars], { timeoutMs: 300_000 });
    expect(made.code, made.stdout + made.stderr).to.equal(0);
  });
  after(async () => { await remove(); });

  it('counts the heap as the board would: block cost, largest region, low-water marks, reserve', async () => {
    const r = await run(join(out, 'test_heap_count'), []);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^\d+ passed, 0 failed$/m);
  });

  describe('the MQTT 3.1.1 client against Mosquitto', () => {
    let open: { port: number; child: ChildProcess } | undefined;
    let refusing: { port: number; child: ChildProcess } | undefined;
    let dir = '';
    let removeDir: () => Promise<void> = async () => {};
    before(async function () {
      if (!MOSQUITTO) {
        console.log('    (skipped: mosquitto is not installed; apt-get install mosquitto)');
        this.skip();
      }
      const tmp = await tempDir('hilt-mosquitto-');
      dir = tmp.dir;
      removeDir = tmp.remove;
      open = await startMosquitto(dir, 'open', ['allow_anonymous true']);
      refusing = await startMosquitto(dir, 'refusing', ['allow_anonymous false']);
    });
    after(async () => {
      await stop(open?.child);
      await stop(refusing?.child);
      await removeDir();
    });

    it('connects, subscribes, publishes at QoS 0/1/2, skips an oversized message, pings, and reports CONNACK 5', async () => {
      const r = await run(join(out, 'test_mqtt311'), [String(open!.port), String(refusing!.port)], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^\d+ passed, 0 failed$/m);
      // The codec alone is about 20 checks; the broker part must have run too.
      expect(Number(/^(\d+) passed/m.exec(r.stdout)![1])).to.be.greaterThan(50);
    });
  });

  describe('esp-tls over Mbed TLS 3.6 against the lab', () => {
    const ctx = withLab({ profiles: ['good', 'expired', 'stall', 'restricted-cipher'] });
    const probe = (args: string[]) => run(join(out, 'etls-probe'), args, { timeoutMs: 30_000 });
    const now = () => String(Math.floor(Date.now() / 1000));
    const identity = () => ['--ca', ctx.pki.path('bundle-current'), '--cert', ctx.pki.path('client-valid', 'cert'), '--key', ctx.pki.path('client-valid', 'key')];

    it('connects to the good listener with mutual TLS, reports the suite and peer, and frees every byte', async () => {
      const r = await probe(['127.0.0.1', String(ctx.lab.listener('good').port), ...identity(), '--sni', 'localhost', '--epoch', now()]);
      const res = probeResult(r.stdout);
      expect(res).to.include({ r: '1', esp_err: '0', stack_err: '0', flags: '0', version: 'TLSv1.2' });
      expect(res.cipher).to.match(/^TLS-ECDHE-ECDSA-WITH-AES-/);
      expect(res.peer).to.include('CN=localhost');
      expect(Number(res.heap_peak)).to.be.greaterThan(20_000); // the 16 KiB + 4 KiB record buffers at least
      expect(r.stdout).to.include('heap_leak=0 blocks=0');
    });

    it('fails on the expired listener as ESP-IDF does: -0x2700, flags 0x01, and its log lines', async () => {
      const r = await probe(['127.0.0.1', String(ctx.lab.listener('expired').port), ...identity(), '--sni', 'localhost', '--epoch', now()]);
      const res = probeResult(r.stdout);
      expect(res).to.include({ r: '-1', esp_err: String(0x801a), stack_err: String(0x2700), flags: '1', version: 'TLSv1.2', peer: '-' });
      expect(r.stdout).to.include('E (0) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700\n'
        + 'I (0) esp-tls-mbedtls: Failed to verify peer certificate!\n'
        + 'D (0) esp-tls-mbedtls: verification info:   ! The certificate validity has expired\n'
        + 'E (0) esp-tls: Failed to open new connection\n');
      expect(r.stdout).to.include('heap_leak=0 blocks=0');
    });

    it('judges dates by the agent\'s clock: at boot (1970) the good server is "in the future"', async () => {
      const r = await probe(['127.0.0.1', String(ctx.lab.listener('good').port), ...identity(), '--sni', 'localhost']);
      expect(probeResult(r.stdout)).to.include({ r: '-1', stack_err: String(0x2700), flags: String(0x200) });
      expect(r.stdout).to.include('verification info:   ! The certificate validity starts in the future');
    });

    it('checks the name: a wrong SNI gives CN_MISMATCH, skip_cn connects', async () => {
      const wrong = await probe(['127.0.0.1', String(ctx.lab.listener('good').port), ...identity(), '--sni', 'other.example', '--epoch', now()]);
      expect(probeResult(wrong.stdout)).to.include({ r: '-1', stack_err: String(0x2700), flags: String(0x04) });
      const skipped = await probe(['127.0.0.1', String(ctx.lab.listener('good').port), ...identity(), '--sni', 'other.example', '--skip-cn', '--epoch', now()]);
      expect(probeResult(skipped.stdout)).to.include({ r: '1', flags: '0' });
    });

    it('a handshake the server refuses before its certificate: -0x7780, flags 0 and "Certificate verified." as on ESP-IDF v5.5', async () => {
      // Mbed TLS 3.6.6 says -1u for "nothing verified yet"; the library ESP-IDF v5.5 bundles said 0.
      const r = await probe(['127.0.0.1', String(ctx.lab.listener('restricted-cipher').port), ...identity(), '--sni', 'localhost', '--epoch', now()]);
      expect(probeResult(r.stdout)).to.include({ r: '-1', esp_err: String(0x801a), stack_err: String(0x7780), flags: '0', version: '-' });
      expect(r.stdout).to.include('E (0) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x7780\n'
        + 'I (0) esp-tls-mbedtls: Certificate verified.\n'
        + 'E (0) esp-tls: Failed to open new connection\n');
    });

    it('reports a refused port as lwIP does: delayed connect error, errno 104', async () => {
      const port = await freePort();
      const r = await probe(['127.0.0.1', String(port), '--ca', ctx.pki.path('bundle-current')]);
      expect(probeResult(r.stdout)).to.include({ r: '-1', esp_err: String(0x8004), stack_err: '0', sock_errno: '104', version: '-' });
      expect(r.stdout).to.include('E (0) esp-tls: [sock=54] delayed connect error: Connection reset by peer\nE (0) esp-tls: Failed to open new connection\n');
    });

    it('gives up on a silent server after timeout_ms with the W line and CONNECTION_TIMEOUT', async () => {
      const started = Date.now();
      const r = await probe(['127.0.0.1', String(ctx.lab.listener('stall').port), '--ca', ctx.pki.path('bundle-current'), '--timeout', '800']);
      expect(probeResult(r.stdout)).to.include({ r: '0', esp_err: String(0x8006), stack_err: '0' });
      expect(r.stdout).to.include('W (0) esp-tls: Failed to open new connection in specified timeout');
      expect(r.stdout).not.to.include('Failed to open new connection\n');
      expect(Date.now() - started).to.be.at.least(800);
    });

    it('refuses to connect without a CA, as esp-tls does without SKIP_SERVER_CERT_VERIFY', async () => {
      const r = await probe(['127.0.0.1', String(ctx.lab.listener('good').port)]);
      expect(probeResult(r.stdout)).to.include({ r: '-1', esp_err: String(0x8017), stack_err: '0' });
      expect(r.stdout).to.include('E (0) esp-tls-mbedtls: No server verification option set in esp_tls_cfg_t structure. Check esp_tls API reference\n'
        + 'E (0) esp-tls-mbedtls: Failed to set client configurations, returned [0x8017] (ESP_ERR_MBEDTLS_SSL_SETUP_FAILED)\n'
        + 'E (0) esp-tls: create_ssl_handle failed\n');
    });

    it('reports a CA that does not parse with the parser\'s code', async () => {
      const { dir, remove: rm } = await tempDir();
      try {
        const bad = join(dir, 'bad.pem');
        await writeFile(bad, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
        const r = await probe(['127.0.0.1', String(ctx.lab.listener('good').port), '--ca', bad]);
        const res = probeResult(r.stdout);
        expect(res).to.include({ r: '-1', esp_err: String(0x8015) });
        expect(r.stdout).to.match(/E \(0\) esp-tls-mbedtls: mbedtls_x509_crt_parse of CA cert returned -0x[0-9A-F]{4}\n/);
        expect(Number(res.stack_err)).to.be.greaterThan(0);
      } finally {
        await rm();
      }
    });
  });
});


