/**
 * The emulator's heap model against the real library: every wave-1 scenario's connect, run on
 * the host agent (Mbed TLS 3.6.6, ESP-IDF v5.5's configuration, counting allocator) and on the
 * emulator, must take the same peak within 10 %. Skipped, with one line, without a C toolchain
 * for -m32 or while the Makefile has no agent target.
 */
import { expect } from 'chai';
import { buildAgent, buildMbedtls, checkToolchain, NativeBuildError } from '../../harness/native/build.ts';
import { withLab } from '../helpers.ts';
import { HEAP_CASES, measureHeap, openEmulator, openNative, type HeapFigure } from './heap-figures.ts';

describe('native: the emulator\'s heap model against the host agent', function () {
  this.timeout(600_000);
  const ctx = withLab({ profiles: [...new Set(HEAP_CASES.map((c) => c.listener))] });
  let native: HeapFigure[] = [];
  let model: HeapFigure[] = [];

  before(async function () {
    try {
      await checkToolchain();
    } catch (err) {
      if (!(err instanceof NativeBuildError)) throw err;
      console.log(`    (skipped: ${err.message})`);
      this.skip();
    }
    const agent = await buildAgent(await buildMbedtls());
    if (!agent) {
      console.log('    (skipped: firmware/Makefile has no agent target)');
      this.skip();
    }
    const device = await openNative(agent!.binary);
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
  });
});
