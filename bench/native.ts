/**
 * The native target against the lab: mutual-TLS connects per second by the host agent (the real
 * Mbed TLS 3.6, 32-bit, ESP-IDF v5.5's configuration) and by the emulator, each over its own
 * transport and protocol, against a reference measured in the same run: Node's own TLS client
 * doing the same handshake to the same listener in this process. Then the differential's wall time
 * (every lab profile and wave-1 connect on both devices). `npm run bench -- native`.
 */
import { connect as tlsConnect } from 'node:tls';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgent, buildMbedtls } from '../harness/native/build.ts';
import { startLab, type Lab } from '../harness/lab/index.ts';
import { ensurePki, type Pki } from '../harness/pki/index.ts';
import type { Device } from '../harness/device/device.ts';
import { openEmulator, openNative } from '../test/native/heap-figures.ts';
import { compareAll } from '../test/native/differential.ts';

const CONNECTS = 40;
const LISTENER = 'good';

async function deviceRate(device: Device, lab: Lab, pki: Pki): Promise<number> {
  await device.store('b_ca', 'ca', pki.bundle('bundle-current'));
  await device.store('b_cert', 'cert', pki.material('client-valid').cert);
  await device.store('b_key', 'key', pki.material('client-valid').key);
  await device.command('time.set', { epoch: Math.floor(Date.now() / 1000) });
  const args = { host: '127.0.0.1', port: lab.listener(LISTENER).port, sni: 'localhost', ca: 'b_ca', cert: 'b_cert', key: 'b_key' };
  const t0 = performance.now();
  for (let i = 0; i < CONNECTS; i++) {
    const r = await device.connect('tls.connect', args);
    if (!r.connected) throw new Error(`connect ${i} failed: ${r.error?.esp_err_name ?? '?'}`);
    await device.command('tls.close');
  }
  return CONNECTS / ((performance.now() - t0) / 1000);
}

async function nodeRate(lab: Lab, pki: Pki): Promise<number> {
  const own = pki.material('client-valid');
  const t0 = performance.now();
  for (let i = 0; i < CONNECTS; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: lab.listener(LISTENER).port, servername: 'localhost', ca: pki.bundle('bundle-current'), cert: own.cert, key: own.key, maxVersion: 'TLSv1.2' }, () => {
        s.end();
        resolve();
      });
      s.once('error', reject);
    });
  }
  return CONNECTS / ((performance.now() - t0) / 1000);
}

export async function benchNative(): Promise<void> {
  const agent = await buildAgent(await buildMbedtls());
  if (!agent) throw new Error('firmware/Makefile has no agent target');
  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-native-'));
  const pki = await ensurePki({ dir });
  const lab = await startLab({ pki });
  try {
    console.log(`# native target — ${new Date().toISOString()} — node ${process.version}; ${CONNECTS} sequential mutual-TLS connects to the lab's "${LISTENER}" listener`);
    const reference = await nodeRate(lab, pki);
    const native = await openNative(agent.binary);
    const nat = await deviceRate(native.device, lab, pki);
    await native.close();
    const emu = await openEmulator();
    const model = await deviceRate(emu.device, lab, pki);
    await emu.close();
    console.log('| client | connects/s | vs Node TLS in process |');
    console.log('|---|---|---|');
    for (const [name, rate] of [['Node TLS in process (reference)', reference], ['host agent (real Mbed TLS, 32-bit)', nat], ['emulator (fast, not realtime)', model]] as const) {
      console.log(`| ${name} | ${rate.toFixed(1)} | ${(rate / reference).toFixed(2)} |`);
    }
  } finally {
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  }
  const t0 = performance.now();
  const rows = await compareAll();
  console.log(`differential: ${rows?.length ?? 0} cases on both devices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
