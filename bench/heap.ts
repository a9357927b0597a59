/**
 * Per-scenario heap: the host agent (real Mbed TLS 3.6, ESP-IDF v5.5's configuration) vs the
 * emulator's model, each scenario's connect as the catalogue makes it (a markdown table for
 * docs/fidelity.md's heap section, with each connect's stack peak for its stack section).
 * `npm run bench -- heap`.
 */
import { buildAgent, buildMbedtls } from '../harness/native/build.ts';
import { startLab } from '../harness/lab/index.ts';
import { ensurePki } from '../harness/pki/index.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureHeap, openEmulator, openNative } from '../test/native/heap-figures.ts';

export async function benchHeap(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-heap-'));
  const pki = await ensurePki({ dir });
  const lab = await startLab({ pki });
  try {
    const agent = await buildAgent(await buildMbedtls());
    if (!agent) throw new Error('firmware/Makefile has no agent target');
    const native = await openNative(agent.binary);
    const nat = await measureHeap(native.device, lab, pki);
    await native.close();
    const emu = await openEmulator();
    const model = await measureHeap(emu.device, lab, pki);
    await emu.close();
    console.log('| scenario | outcome | native peak (B) | emulator peak (B) | off | held native / emulator | stack native / emulator (B) |');
    console.log('|---|---|---|---|---|---|---|');
    nat.forEach((n, i) => {
      const m = model[i]!;
      const off = n.peak === 0 ? 'n/a' : `${(((m.peak / n.peak) - 1) * 100).toFixed(1)} %`;
      console.log(`| ${n.scenario} | ${n.connected ? 'connected' : n.error}${m.connected !== n.connected || m.error !== n.error ? ` (emulator: ${m.connected ? 'connected' : m.error})` : ''} | ${n.peak} | ${m.peak} | ${off} | ${n.held} / ${m.held} | ${n.stack ?? '–'} / ${m.stack ?? '–'} |`);
    });
  } finally {
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  }
}
