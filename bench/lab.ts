/**
 * Lab benchmarks: PKI creation from nothing, the no-op refresh, broker start with every profile,
 * and mutual-TLS MQTT connects per second from one mqtt.js client. Bounded in count and time;
 * traffic stays on 127.0.0.1. Run: npm run bench -- lab
 */
import mqtt from 'mqtt';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from '../harness/lab/index.ts';
import { ensurePki } from '../harness/pki/index.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function pkiFromNothing(runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-'));
    times.push(await timed(() => ensurePki({ dir })));
    await rm(dir, { recursive: true, force: true });
  }
  return times;
}

async function connectsPerSecond(url: string, options: Record<string, unknown>, seconds: number, maxConnects: number) {
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 && count < maxConnects) {
    const client = await mqtt.connectAsync(url, { ...options, reconnectPeriod: 0, connectTimeout: 5000 }, false);
    await client.endAsync();
    count++;
  }
  return count / ((performance.now() - t0) / 1000);
}

export async function benchLab(): Promise<void> {
  console.log(`# lab bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length}x ${cpus()[0]?.model ?? 'cpu'}`);
  const creation = await pkiFromNothing(5);
  console.log(`PKI from nothing (20 certs, 5 bundles), 5 runs: median ${fmt(median(creation))}, min ${fmt(Math.min(...creation))}, max ${fmt(Math.max(...creation))}`);

  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-'));
  try {
    const pki = await ensurePki({ dir });
    const refresh: number[] = [];
    for (let i = 0; i < 10; i++) refresh.push(await timed(() => ensurePki({ dir })));
    console.log(`PKI refresh when nothing changed, 10 runs: median ${fmt(median(refresh))}`);

    const starts: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const lab = await startLab({ pki });
      starts.push(performance.now() - t0);
      await lab.close();
    }
    console.log(`broker start, all ${16} profiles, 10 runs: median ${fmt(median(starts))}, max ${fmt(Math.max(...starts))}`);

    const lab = await startLab({ pki, profiles: ['good'] });
    try {
      const base = {
        ca: pki.bundle('bundle-current'), cert: pki.material('client-valid').cert, key: pki.material('client-valid').key,
        clientId: 'hilt-device-1', servername: 'localhost',
      };
      for (const [label, extra] of [['TLS 1.3', {}], ['TLS 1.2', { maxVersion: 'TLSv1.2' }]] as const) {
        await connectsPerSecond(lab.listener('good').url, { ...base, ...extra }, 0.5, 50); // warm-up
        const rate = await connectsPerSecond(lab.listener('good').url, { ...base, ...extra }, 5, 5000);
        console.log(`mutual-TLS MQTT connect+CONNACK+disconnect, one mqtt.js client, ${label}: ${rate.toFixed(0)} connects/s`);
      }
    } finally {
      await lab.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
