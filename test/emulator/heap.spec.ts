/**
 * The heap model: calibrated to Espressif's published per-connection figures, and what a board
 * short of memory does, phase by phase, with everything given back afterwards.
 */
import { expect } from 'chai';
import { CALIBRATION, openStreamBoard, planConnection, type StreamBoard } from '../../emulator/index.ts';
import { startLab, type Lab } from '../../harness/lab/index.ts';
import { ensurePki, type Pki } from '../../harness/pki/index.ts';
import { Device } from '../../harness/device/device.ts';
import { findHeapSplit } from '../../harness/run/heap-split.ts';
import { MemoryTransport } from '../../harness/transport/memory.ts';
import { tempDir } from '../helpers.ts';
import { AgentClient } from './agent-client.ts';

const REFERENCE_BUFFERS = {
  inContentLen: 16384, outContentLen: 4096, dynamicBuffer: false, keepPeerCertificate: true, freeCaCert: false, freeConfigData: false,
};

describe('heap model', function () {
  // The model is calibrated against the real library (test/native/heap.spec.ts). Espressif's
  // figures were measured on their https_request example, whose server chain, lwIP buffers and
  // HTTP traffic the host agent does not have: they are a yardstick, not a target (docs/fidelity.md).
  describe('Espressif\'s https_request figures (ESP-IDF v5.5), as a yardstick', function () {
    for (const c of CALIBRATION.cases) {
      it(`${c.name}: below ${c.published} B, by less than 30 %`, function () {
        const plan = planConnection({ ...REFERENCE_BUFFERS, ...c.config }, CALIBRATION.shape);
        const off = plan.peak / c.published - 1;
        expect(off, `modelled ${plan.peak} B, ${(off * 100).toFixed(1)}% off`).to.be.within(-0.30, 0);
      });
    }

    it('orders the cases as Espressif measured them', function () {
      const peaks = CALIBRATION.cases.map((c) => planConnection({ ...REFERENCE_BUFFERS, ...c.config }, CALIBRATION.shape).peak);
      expect(peaks[0]).to.be.greaterThan(peaks[1]!);
      expect(peaks[1]).to.be.greaterThan(peaks[2]!);
    });
  });

  describe('a board short of memory', function () {
    let pki: Pki;
    let lab: Lab;
    let served: StreamBoard;
    let agent: AgentClient;
    let remove: () => Promise<void>;

    before(async function () {
      const tmp = await tempDir();
      remove = tmp.remove;
      pki = await ensurePki({ dir: tmp.dir });
      lab = await startLab({ pki, profiles: ['good'] });
      served = openStreamBoard();
      agent = new AgentClient(served.stream);
      await agent.setUp({
        ca: ['ca', pki.bundle('bundle-current')], cert: ['cert', pki.material('client-valid').cert], key: ['key', pki.material('client-valid').key],
      });
    });
    after(async function () {
      await served?.close();
      await lab?.close();
      await remove();
    });
    afterEach(() => agent.ok('heap.release'));

    const args = () => ({ host: '127.0.0.1', port: lab.listener('good').port, sni: 'localhost', ca: 'ca', cert: 'cert', key: 'key', client_id: 'hilt-device-1' });

    it('uses a few tens of KB for a mutual-TLS connection and gives it all back', async function () {
      const result = await agent.connect('mqtt.connect', args());
      expect(result.connected).to.equal(true);
      // The host agent measures 34,096 B for this connection (docs/fidelity.md).
      expect(result.heap.peak_used).to.be.within(30_000, 40_000);
      expect(result.heap.after).to.be.below(result.heap.before);
      await agent.ok('mqtt.disconnect');
      expect((await agent.ok<{ free: number }>('heap.stats')).free).to.equal(result.heap.before);
      await lab.attempts.next('good', { until: 'closed' });
    });

    it('too little for the record buffers: ssl_setup fails with -0x7F00, heap back to its level', async function () {
      const free = (await agent.ok<{ free: number }>('heap.stats')).free;
      await agent.ok('heap.reserve', { bytes: free - 20_000 });
      const from = agent.console.length;
      const result = await agent.connect('mqtt.connect', args());
      expect(result.error).to.include({ esp_err_name: 'ESP_ERR_MBEDTLS_SSL_SETUP_FAILED', stack_err: 0x7f00 });
      expect(agent.console.slice(from).some((l) => /^E \(\d+\) esp-tls-mbedtls: mbedtls_ssl_setup returned -0x7F00$/.test(l))).to.equal(true);
      expect(result.heap.after).to.equal(result.heap.before);
      // The broker saw a TCP connection that never said hello.
      const attempt = await lab.attempts.next('good', { until: 'closed' });
      expect(attempt.tls).to.include({ outcome: 'failed' });
    });

    it('enough for the buffers but not for the handshake: handshake fails with an allocation error, heap back', async function () {
      const free = (await agent.ok<{ free: number }>('heap.stats')).free;
      // Setup takes about 26.8 KB, the parsed chain about 29.4 KB (its verification 32.4 KB).
      await agent.ok('heap.reserve', { bytes: free - 28_000 });
      const result = await agent.connect('mqtt.connect', args());
      expect(result.error!.esp_err_name).to.equal('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
      expect(result.error!.stack_err_name).to.match(/ALLOC_FAILED$/);
      expect(result.heap.after).to.equal(result.heap.before);
      expect((await agent.ok<{ free: number }>('heap.stats')).free).to.equal(result.heap.before);
      await lab.attempts.next('good', { until: 'closed' });
    });

    it('a broker that refuses the device\'s certificate did so after the whole handshake: the peak says so', async function () {
      const good = await agent.connect('mqtt.connect', args());
      expect(good.connected).to.equal(true);
      await agent.ok('mqtt.disconnect');
      await lab.attempts.next('good', { until: 'closed' });
      await agent.put('rogue-crt', 'cert', pki.material('client-rogue').cert);
      await agent.put('rogue-key', 'key', pki.material('client-rogue').key);
      const refused = await agent.connect('mqtt.connect', { ...args(), cert: 'rogue-crt', key: 'rogue-key' });
      expect(refused.connected).to.equal(false);
      // The real library: 34,092 B refused vs 34,096 B connected (docs/fidelity.md).
      expect(refused.heap.peak_used).to.be.within(good.heap.peak_used * 0.95, good.heap.peak_used * 1.05);
      expect(refused.heap.after).to.equal(refused.heap.before);
      await lab.attempts.next('good', { until: 'closed' });
    });
  });

  // What the real library reports on each side of the two boundaries, to the byte (the host agent
  // over Mbed TLS 3.6.6; test/native/differential.ts compares the two devices case by case).
  describe('the allocation that fails on each side of the setup and handshake boundaries, as Mbed TLS 3.6', function () {
    let pki: Pki;
    let lab: Lab;
    let served: StreamBoard;
    let device: Device;
    let remove: () => Promise<void>;

    before(async function () {
      const tmp = await tempDir();
      remove = tmp.remove;
      pki = await ensurePki({ dir: tmp.dir });
      lab = await startLab({ pki, profiles: ['good'] });
      served = openStreamBoard();
      device = await Device.open(new MemoryTransport(served.stream, 'emulated ESP32'));
      await device.store('ca', 'ca', pki.bundle('bundle-current'));
      await device.store('cert', 'cert', pki.material('client-valid').cert);
      await device.store('key', 'key', pki.material('client-valid').key);
      await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
    });
    after(async function () {
      await device?.close();
      await served?.close();
      await lab?.close();
      await remove();
    });

    const connect = () => device.connect('mqtt.connect', {
      host: '127.0.0.1', port: lab.listener('good').port, sni: 'localhost', ca: 'ca', cert: 'cert', key: 'key', client_id: 'hilt-device-1',
    });
    const withLeft = async (leave: number) => {
      const { free } = await device.command('heap.stats');
      await device.command('heap.reserve', { bytes: free - leave });
      try {
        return await connect();
      } finally {
        await device.command('heap.release');
      }
    };
    const codeAt = async (leave: number) => {
      const r = await withLeft(leave);
      if (r.connected) await device.command('mqtt.disconnect');
      return r.connected ? 'connected' : `${r.error!.esp_err_name} ${r.error!.stack_err_name}`;
    };

    it('setup: the transcript hashes last (MD_ALLOC_FAILED), the buffers and contexts before them (SSL_ALLOC_FAILED)', async function () {
      const split = await findHeapSplit(device, connect, 1);
      expect(split.setupPasses - split.setupFails).to.equal(1);
      const short = await withLeft(split.setupFails);
      expect(short.error).to.include({ esp_err_name: 'ESP_ERR_MBEDTLS_SSL_SETUP_FAILED', stack_err: 0x5180, stack_err_name: 'MBEDTLS_ERR_MD_ALLOC_FAILED' });
      expect(short.timing.tls_ms, 'esp-tls got as far as its TLS phase: tls_ms is timed').to.be.a('number');
      // The SHA-256 and SHA-384 contexts are 328 B together: a byte more short, the handshake parameters fail.
      expect(await codeAt(split.setupPasses - 328)).to.equal('ESP_ERR_MBEDTLS_SSL_SETUP_FAILED MBEDTLS_ERR_MD_ALLOC_FAILED');
      expect(await codeAt(split.setupPasses - 329)).to.equal('ESP_ERR_MBEDTLS_SSL_SETUP_FAILED MBEDTLS_ERR_SSL_ALLOC_FAILED');
    });

    it('verify: a chain parsed whose signature checks cannot get their temporaries fails as badly signed', async function () {
      // The library: 29,264-32,359 B free for this connect (docs/fidelity.md); the model: from about 29.4 KB.
      const r = await withLeft(31_000);
      expect(r.error).to.include({ esp_err_name: 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED', stack_err_name: 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', verify_flags: 0x08 });
      expect(r.heap.peak_used, 'the heap went down to nothing').to.equal(31_000);
    });

    it('handshake: the peer certificate\'s struct first (SSL_ALLOC_FAILED), bignum limbs deepest (MPI_ALLOC_FAILED)', async function () {
      const split = await findHeapSplit(device, connect, 1);
      expect(await codeAt(split.setupPasses)).to.equal('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED MBEDTLS_ERR_SSL_ALLOC_FAILED');
      expect(await codeAt(split.setupPasses + 412)).to.equal('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED MBEDTLS_ERR_X509_ALLOC_FAILED');
      expect(split.handshakeFails).to.equal(split.connects - 1);
      expect(await codeAt(split.handshakeFails!)).to.equal('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED MBEDTLS_ERR_MPI_ALLOC_FAILED');
      expect(await codeAt(split.connects)).to.equal('connected');
    });
  });
});
