/**
 * Faults for the host agent (firmware/host): bad options, the end of its input, memory that runs
 * out inside Mbed TLS (the counting allocator makes the library's own allocations fail), and
 * brokers that misbehave after the TLS handshake. The agent is the real binary; the peers are
 * real TLS servers with the lab's certificates.
 */
import { needToolchain } from '../native/toolchain.ts';
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { buildAgent, buildMbedtls, FIRMWARE_DIR, type MbedtlsBuild } from '../../harness/native/build.ts';
import { Device } from '../../harness/device/device.ts';
import { ProcessTransport } from '../../harness/transport/process.ts';
import { run, tempDir, withLab } from '../helpers.ts';

type Mode = 'close-on-connect' | 'silent' | 'connack-then-close';

/** A TLS server with the lab's server certificate that plays a broken MQTT broker. */
async function brokenBroker(cert: string, key: string, mode: Mode): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert, key }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      if (mode === 'close-on-connect') socket.destroy();
      if (mode === 'connack-then-close') socket.end(Buffer.from([0x20, 2, 0, 0]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

describe('host agent faults (firmware/host)', function () {
  this.timeout(600_000);
  const ctx = withLab({ profiles: ['good'] });
  let binary = '';
  let mbedtls: MbedtlsBuild;
  let device: Device | null = null;

  before(async function () {
    await needToolchain(this);
    mbedtls = await buildMbedtls();
    const agent = await buildAgent(mbedtls);
    if (!agent) {
      console.log('    (skipped: firmware/Makefile has no agent target)');
      this.skip();
    }
    binary = agent!.binary;
    device = await Device.open(new ProcessTransport({ command: binary }));
    await device.store('lab_ca', 'ca', ctx.pki.bundle('bundle-current'));
    await device.store('dev_cert', 'cert', ctx.pki.material('client-valid').cert);
    await device.store('dev_key', 'key', ctx.pki.material('client-valid').key);
    await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
  });
  after(async () => { await device?.close(); });

  const tlsArgs = (port: number) => ({ host: '127.0.0.1', port, sni: 'localhost', ca: 'lab_ca', cert: 'dev_cert', key: 'dev_key' });

  describe('options and input', () => {
    for (const [args, pattern] of [
      [['--heap', 'lots'], /^hilt-agent: --heap wants a byte count 1\.\.67108864, got 'lots'; usage: /],
      [['--log-level', '9'], /^hilt-agent: --log-level wants 0\.\.5 .*got '9'; usage: /],
      [['--mac', '24:0a:c4'], /^hilt-agent: --mac wants six hex bytes .*got '24:0a:c4'; usage: /],
      [['--frobnicate'], /^hilt-agent: unknown option '--frobnicate'; usage: /],
    ] as Array<[string[], RegExp]>) {
      it(`refuses ${args.join(' ')} with one line and exit 2`, async () => {
        const r = await run(binary, args);
        expect(r.code).to.equal(2);
        expect(r.stderr.trimEnd().split('\n')).to.have.length(1);
        expect(r.stderr).to.match(pattern);
        expect(r.stdout).to.equal('');
      });
    }

    it('refuses a connect task stack outside 2048..65536 with bad_args naming stack, and stays up', async () => {
      for (const stack of [1, 2047, 65537]) {
        const err = await device!.connect('tls.connect', { ...tlsArgs(ctx.lab.listener('good').port), stack }).then(() => null, (e: unknown) => e);
        expect(err, `stack=${stack}`).to.be.an('error').with.property('message').that.includes(`stack: expected an integer 2048..65536, got '${stack}'`);
      }
      expect((await device!.command('hello')).proto).to.equal(1);
    });

    it('boots, and exits 0 when its input ends', async () => {
      const r = await run(binary, [], { input: '' });
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal('@hil * boot {"proto":1,"reason":"POWERON_RESET"}\n');
    });
  });

  describe('memory that runs out inside Mbed TLS', () => {
    afterEach(async () => { await device!.command('heap.release'); });

    it('fails mbedtls_ssl_setup with -0x7F00 when the record buffers do not fit, and gives every byte back', async () => {
      const stats = await device!.command('heap.stats');
      // Room for the contexts and the CA, not for the 16 KiB + 4 KiB record buffers.
      await device!.command('heap.reserve', { bytes: stats.free - 12_000 });
      const mark = device!.mark();
      const result = await device!.connect('tls.connect', tlsArgs(ctx.lab.listener('good').port));
      expect(result.connected).to.equal(false);
      expect(result.error).to.deep.include({ esp_err: 0x8017, esp_err_name: 'ESP_ERR_MBEDTLS_SSL_SETUP_FAILED', stack_err: 0x7f00 });
      expect(result.tls).to.equal(null);
      expect(result.heap.after).to.equal(result.heap.before);
      await device!.expect(/E \(\d+\) esp-tls-mbedtls: mbedtls_ssl_setup returned -0x7F00$/, { since: mark, timeoutMs: 5_000 });
      await device!.expect(/E \(\d+\) esp-tls: create_ssl_handle failed$/, { since: mark, timeoutMs: 5_000 });
    });

    it('connects again once the memory is released', async () => {
      await device!.command('heap.release');
      const result = await device!.connect('tls.connect', tlsArgs(ctx.lab.listener('good').port));
      expect(result.connected, JSON.stringify(result.error)).to.equal(true);
      await device!.command('tls.close');
    });
  });

  describe('brokers that misbehave after the handshake', () => {
    const material = () => ctx.pki.material('server-valid');

    it('a broker that closes before CONNACK: ESP_ERR_ESP_TLS_TCP_CLOSED_FIN, errno 128, TCP_TRANSPORT', async () => {
      const broker = await brokenBroker(material().chain, material().key, 'close-on-connect');
      try {
        const result = await device!.connect('mqtt.connect', { ...tlsArgs(broker.port), client_id: 'hilt-device-1' });
        expect(result.connected).to.equal(false);
        expect(result.error).to.deep.include({ esp_err: 0x8008, mqtt_error_type: 'TCP_TRANSPORT', sock_errno: 128, connack: null });
        expect(result.tls).to.include({ version: 'TLSv1.2' });
      } finally {
        await broker.close();
      }
    });

    it('a broker that never answers CONNECT: ESP_ERR_TIMEOUT once timeout_ms has passed', async () => {
      const broker = await brokenBroker(material().chain, material().key, 'silent');
      try {
        const result = await device!.connect('mqtt.connect', { ...tlsArgs(broker.port), client_id: 'hilt-device-1', timeout_ms: 700 });
        expect(result.connected).to.equal(false);
        expect(result.error).to.deep.include({ esp_err: 0x107, mqtt_error_type: null });
        expect(result.timing.mqtt_ms).to.be.at.least(700);
      } finally {
        await broker.close();
      }
    });

    it('a broker that drops the session after CONNACK: the mqtt.disconnected event', async () => {
      const broker = await brokenBroker(material().chain, material().key, 'connack-then-close');
      try {
        const since = device!.eventMark();
        const result = await device!.connect('mqtt.connect', { ...tlsArgs(broker.port), client_id: 'hilt-device-1' });
        expect(result.connected).to.equal(true);
        const event = await device!.waitEvent('mqtt.disconnected', { since, timeoutMs: 10_000 });
        expect(event.body.reason).to.be.a('string');
        // The agent is free again: the next command is answered, not refused as busy.
        expect(await device!.command('heap.stats')).to.have.property('free');
      } finally {
        await broker.close();
      }
    });
  });

  describe('under AddressSanitizer and UBSan', () => {
    it('a whole session (connects that pass and fail, MQTT, heap exhaustion, a broken broker, reset) with no report and no leak', async () => {
      const { dir, remove } = await tempDir('hilt-agent-asan-');
      let asan: Device | null = null;
      try {
        const made = await run('make', ['-C', FIRMWARE_DIR, 'agent-asan', `MBEDTLS_OUT=${mbedtls.dir}`, `AGENT_OUT=${dir}`], { timeoutMs: 300_000 });
        expect(made.code, made.stdout + made.stderr).to.equal(0);
        const reports = join(dir, 'reports');
        asan = await Device.open(new ProcessTransport({
          command: join(dir, 'hilt-agent-asan'),
          env: { ...process.env, ASAN_OPTIONS: `log_path=${reports}/asan:detect_leaks=1`, UBSAN_OPTIONS: `log_path=${reports}/ubsan:print_stacktrace=1` },
        }), { helloTimeoutMs: 20_000 });
        await asan.store('lab_ca', 'ca', ctx.pki.bundle('bundle-current'));
        await asan.store('dev_cert', 'cert', ctx.pki.material('client-valid').cert);
        await asan.store('dev_key', 'key', ctx.pki.material('client-valid').key);
        const good = tlsArgs(ctx.lab.listener('good').port);
        expect((await asan.connect('tls.connect', good)).error!.verify_flags).to.equal(0x200); // 1970: not yet valid
        await asan.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
        expect((await asan.connect('tls.connect', good)).connected).to.equal(true);
        await asan.command('tls.close');
        const stats = await asan.command('heap.stats');
        await asan.command('heap.reserve', { bytes: stats.free - 12_000 });
        expect((await asan.connect('tls.connect', good)).error!.stack_err).to.equal(0x7f00);
        await asan.command('heap.release');
        const mqtt = await asan.connect('mqtt.connect', { ...good, client_id: 'hilt-device-1' });
        expect(mqtt.connected).to.equal(true);
        await asan.command('mqtt.subscribe', { topic: 'devices/hilt-device-1/a', qos: 1 });
        const since = asan.eventMark();
        await asan.command('mqtt.publish', { topic: 'devices/hilt-device-1/a', qos: 1, payload: 'aGk=' });
        await asan.waitEvent('mqtt.message', { since, timeoutMs: 10_000 });
        const broker = await brokenBroker(ctx.pki.material('server-valid').chain, ctx.pki.material('server-valid').key, 'close-on-connect');
        try {
          expect((await asan.connect('mqtt.connect', { ...tlsArgs(broker.port), client_id: 'hilt-device-1' })).error!.esp_err).to.equal(0x8008);
        } finally {
          await broker.close();
        }
        await asan.connect('tls.connect', good);
        await asan.reset(); // with a connection open: the restart must free it
        await asan.close(); // SIGTERM: the agent frees everything and exits; LeakSanitizer runs then
        asan = null;
        const found = await readdir(reports).catch(() => [] as string[]);
        expect(found, 'sanitizer reports were written').to.deep.equal([]);
      } finally {
        await asan?.close();
        await remove();
      }
    });
  });
});
