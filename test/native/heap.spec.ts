/**
 * The emulator's heap model against the real library: every wave-1 scenario's connect, run on
 * the host agent (Mbed TLS 3.6.6, ESP-IDF v5.5's configuration, counting allocator) and on the
 * emulator, must take the same peak within 10 %, and the connect task's stack within 15 %.
 * Skipped, with one line, without a C toolchain for -m32 or while the Makefile has no agent target.
 */
import { needAgent } from './toolchain.ts';
import { expect } from 'chai';
import { Device } from '../../harness/device/device.ts';
import { findHeapSplit } from '../../harness/run/heap-split.ts';
import { withLab } from '../helpers.ts';
import { HEAP_CASES, measureHeap, openEmulator, openNative, type HeapFigure } from './heap-figures.ts';

describe('native: the emulator\'s heap model against the host agent', function () {
  this.timeout(600_000);
  const ctx = withLab({ profiles: [...new Set(HEAP_CASES.map((c) => c.listener))] });
  let native: HeapFigure[] = [];
  let model: HeapFigure[] = [];

  before(async function () {
    const agentBinary = await needAgent(this);
    const device = await openNative(agentBinary);
    try {
      native = await measureHeap(device.device, ctx.lab, ctx.pki);
    } finally {
      await device.close();
    }
    const emulator = await openEmulator();
    try {
      model = await measureHeap(emulator.device, ctx.lab, ctx.pki);
    } finally {
      await emulator.close();
    }
  });

  HEAP_CASES.forEach((c, i) => {
    it(`${c.scenario}: the model's peak is within 10 % of the library's`, function () {
      const n = native[i]!;
      const m = model[i]!;
      expect(n.source, 'the host agent counts its own allocations').to.equal('device');
      expect(m.source).to.equal('model');
      expect(m.connected, 'both connect, or both fail').to.equal(n.connected);
      const off = m.peak / n.peak - 1;
      expect(Math.abs(off), `library ${n.peak} B, model ${m.peak} B: ${(off * 100).toFixed(1)} % off`).to.be.below(0.10);
      if (n.connected) {
        const heldOff = m.held / n.held - 1;
        expect(Math.abs(heldOff), `held while open: library ${n.held} B, model ${m.held} B`).to.be.below(0.10);
      }
    });
    it(`${c.scenario}: the model's stack peak is within 15 % of the host agent's connect thread`, function () {
      const n = native[i]!;
      const m = model[i]!;
      expect(n.stack, 'the host agent reports its connect stack').to.be.a('number');
      expect(m.stack).to.be.a('number');
      const off = m.stack! / n.stack! - 1;
      expect(Math.abs(off), `host agent ${n.stack} B, model ${m.stack} B: ${(off * 100).toFixed(1)} % off`).to.be.below(0.15);
    });
  });
});

describe('native: the low-heap split, found by bisection on the host agent\'s answers', function () {
  this.timeout(600_000);
  const ctx = withLab({ profiles: ['good'] });
  let device: Device | null = null;

  before(async function () {
    const agentBinary = await needAgent(this);
    device = (await openNative(agentBinary)).device;
    await device.store('ca', 'ca', ctx.pki.bundle('bundle-current'));
    await device.store('cert', 'cert', ctx.pki.material('client-valid').cert);
    await device.store('key', 'key', ctx.pki.material('client-valid').key);
    await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
  });
  after(async () => { await device?.close(); });

  const connect = () => device!.connect('mqtt.connect', {
    host: '127.0.0.1', port: ctx.lab.listener('good').port, sni: 'localhost', ca: 'ca', cert: 'cert', key: 'key', client_id: 'hilt-device-1',
  });
  const withLeft = async (leave: number) => {
    const { free } = await device!.command('heap.stats');
    await device!.command('heap.reserve', { bytes: free - leave });
    try {
      return await connect();
    } finally {
      await device!.command('heap.release');
    }
  };

  it('finds where setup and the handshake run out, and the device answers accordingly on each side', async function () {
    const split = await findHeapSplit(device!, connect);
    expect(split.setupPasses - split.setupFails).to.be.at.most(512);
    expect(split.connects).to.be.greaterThan(split.setupPasses);
    // What the library took for the connect at full heap is where the search says it connects.
    expect(split.handshakeFails, 'a handshake failure was seen between the bounds').to.be.a('number');
    // Just short of the split it is the handshake state (a transcript hash) that cannot be had;
    // half the record buffers short, the buffers themselves: what scenario 10 asks for.
    const atSplit = await withLeft(split.setupFails);
    expect(atSplit.error).to.include({ esp_err_name: 'ESP_ERR_MBEDTLS_SSL_SETUP_FAILED' });
    expect(atSplit.error!.stack_err).to.be.oneOf([0x7f00, 0x5180]);
    const { in_content_len: inLen, out_content_len: outLen } = device!.hello!.mbedtls;
    const setupFails = await withLeft(split.setupFails - Math.floor((inLen + outLen) / 2));
    expect(setupFails.error).to.include({ esp_err_name: 'ESP_ERR_MBEDTLS_SSL_SETUP_FAILED', stack_err: 0x7f00 });
    const handshakeFails = await withLeft(split.handshakeFails!);
    expect(handshakeFails.error!.esp_err_name).to.equal('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
    expect(handshakeFails.error!.stack_err_name).to.match(/ALLOC_FAILED$/);
    const connects = await withLeft(split.connects);
    expect(connects.connected).to.equal(true);
    await device!.command('mqtt.disconnect');
    console.log(`    (host agent: setup fails at ${split.setupFails} B free, passes at ${split.setupPasses} B; handshake fails at ${split.handshakeFails} B; connects at ${split.connects} B; ${split.probes} connects)`);
  });
});
