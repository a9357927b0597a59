/**
 * Emulator benchmarks: emulated mutual-TLS connects per second against the lab broker, beside
 * `openssl s_time` on the same listener, certificate and suite; and memory per board with 100
 * boards in one process. Bounded; loopback only. Run: npm run bench -- emulator
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openStreamBoard } from '../emulator/index.ts';
import { ensurePki } from '../harness/pki/index.ts';
import { AgentClient } from '../test/emulator/agent-client.ts';

const SUITE_OPENSSL = 'ECDHE-ECDSA-AES256-GCM-SHA384';
const SUITE_MBEDTLS = 'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384';

function sTime(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('openssl', ['s_time', ...args], { timeout: 60_000 }, (err, stdout) => {
      if (err) return reject(err);
      const m = /(\d+) connections in ([\d.]+)s/.exec(stdout) ?? /(\d+) connections in ([\d.]+) real seconds/.exec(stdout);
      if (!m) return reject(new Error(`unexpected s_time output: ${stdout}`));
      resolve(Number(m[1]) / Number(m[2]));
    });
  });
}

async function emulatedRate(agent: AgentClient, command: 'tls.connect' | 'mqtt.connect', mqttArgs: Record<string, string | number>, seconds: number) {
  const close = command === 'tls.connect' ? 'tls.close' : 'mqtt.disconnect';
  // client_id is an mqtt.connect argument; the board refuses it on tls.connect.
  const { client_id: clientId, ...tlsArgs } = mqttArgs;
  const args = command === 'tls.connect' ? tlsArgs : { ...tlsArgs, client_id: clientId! };
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 && count < 10_000) {
    const result = await agent.connect(command, args);
    if (!result.connected) throw new Error(`bench connect failed: ${JSON.stringify(result.error)}`);
    await agent.ok(close);
    count++;
  }
  return count / ((performance.now() - t0) / 1000);
}

async function memoryPerBoard(count: number): Promise<{ heapPerBoard: number; rssPerBoard: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const boards = Array.from({ length: count }, (_, i) => openStreamBoard({ index: 1000 + i }));
  const agents = boards.map((b) => new AgentClient(b.stream));
  await Promise.all(agents.map(async (a) => { await a.waitEvent('boot'); await a.ok('hello'); }));
  gc?.();
  const after = process.memoryUsage();
  await Promise.all(boards.map((b) => b.close()));
  return { heapPerBoard: (after.heapUsed - before.heapUsed) / count, rssPerBoard: (after.rss - before.rss) / count };
}

/** The lab broker in its own process (as s_time is), so it does not share the board's thread. */
async function brokerProcess(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['bin/hilt.js', 'broker', '--dir', dir, '--profiles', 'good', '--port-base', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hilt broker did not start within 15 s')), 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as { type: string; port?: number };
      if (o.type === 'listener') { clearTimeout(timer); resolve(o.port!); }
    });
  });
  return {
    port,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    },
  };
}

export async function benchEmulator(): Promise<void> {
  console.log(`# emulator bench — ${new Date().toISOString()} — node ${process.version}`);
  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-'));
  const pki = await ensurePki({ dir });
  const lab = await brokerProcess(dir);
  const served = openStreamBoard();
  try {
    const agent = new AgentClient(served.stream);
    await agent.setUp({
      ca: ['ca', pki.bundle('bundle-current')], cert: ['cert', pki.material('client-valid').cert], key: ['key', pki.material('client-valid').key],
    });
    const { port } = lab;
    const args = { host: '127.0.0.1', port, sni: 'localhost', ca: 'ca', cert: 'cert', key: 'key', ciphers: SUITE_MBEDTLS, client_id: 'hilt-device-1' };

    await emulatedRate(agent, 'tls.connect', args, 0.5); // warm-up
    const tlsRate = await emulatedRate(agent, 'tls.connect', args, 5);
    const mqttRate = await emulatedRate(agent, 'mqtt.connect', args, 5);
    const opensslRate = await sTime([
      '-connect', `127.0.0.1:${port}`, '-new', '-time', '5', '-tls1_2', '-cipher', SUITE_OPENSSL,
      '-cert', pki.path('client-valid'), '-key', pki.path('client-valid', 'key'), '-CAfile', pki.path('bundle-current'),
    ]);
    console.log(`mutual TLS 1.2 ${SUITE_OPENSSL}, full handshakes against the lab's good listener:`);
    console.log(`  emulated board tls.connect + tls.close: ${tlsRate.toFixed(0)} /s`);
    console.log(`  emulated board mqtt.connect + disconnect: ${mqttRate.toFixed(0)} /s`);
    console.log(`  openssl s_time -new: ${opensslRate.toFixed(0)} /s  (emulated/openssl = ${(tlsRate / opensslRate).toFixed(2)})`);
  } finally {
    await served.close();
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const memory = await memoryPerBoard(100);
  console.log(`100 boards in one process: ${(memory.heapPerBoard / 1024).toFixed(1)} KiB JS heap and ${(memory.rssPerBoard / 1024).toFixed(1)} KiB RSS per board`);
}
