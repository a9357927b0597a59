/**
 * The lab's cost per recorded attempt on the firmware endpoint (ClientHello read before TLS, the
 * alert tap, the MQTT filter recording every packet) against the lab's 'good' listener, measured
 * in the same run: the lab runs in its own process (this file, with `--lab`), and the parent
 * drives mutual-TLS MQTT connect + CONNACK + disconnect from mqtt.js, alternating blocks on each
 * listener so that drift of the machine falls on both. The lab's CPU time per attempt (its own
 * process.cpuUsage) is the cost; wall time per attempt is shown beside it.
 * Run: npm run bench -- endpoint
 */
import mqtt from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseClientHello } from '../harness/lab/clienthello.ts';
import { startLab } from '../harness/lab/index.ts';
import { ensurePki, type Pki } from '../harness/pki/index.ts';

const BLOCK = 50;
const BLOCKS = 6;

/** The lab side: good + endpoint, answering "stats" with its CPU time and closed attempts per listener. */
async function labProcess(dir: string): Promise<void> {
  const pki = await ensurePki({ dir });
  const lab = await startLab({ pki, profiles: ['good'], endpoint: { port: 0 } });
  lab.endpoint!.serve({ tls: { server: 'server-valid' } });
  const closed: Record<string, number> = {};
  lab.attempts.on('closed', (a: { listener: string }) => { closed[a.listener] = (closed[a.listener] ?? 0) + 1; });
  console.log(JSON.stringify({ good: lab.listener('good').url, endpoint: lab.endpoint!.url }));
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'stats') console.log(JSON.stringify({ cpu: process.cpuUsage(), closed }));
  }
  await lab.close();
}

class LabChild {
  private readonly lines: AsyncIterator<string>;
  private constructor(private readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  static async start(dir: string): Promise<{ lab: LabChild; urls: { good: string; endpoint: string } }> {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--lab', dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lab = new LabChild(child);
    return { lab, urls: JSON.parse(await lab.line()) as { good: string; endpoint: string } };
  }

  async stats(): Promise<{ cpuMs: number; closed: Record<string, number> }> {
    this.child.stdin!.write('stats\n');
    const s = JSON.parse(await this.line()) as { cpu: NodeJS.CpuUsage; closed: Record<string, number> };
    return { cpuMs: (s.cpu.user + s.cpu.system) / 1000, closed: s.closed };
  }

  stop(): void {
    this.child.stdin!.end();
  }

  private async line(): Promise<string> {
    const next = await Promise.race([this.lines.next(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('lab process silent for 30 s')), 30_000))]);
    if (next.done) throw new Error('lab process ended');
    return next.value;
  }
}

async function attempts(url: string, pki: Pki, count: number): Promise<number> {
  const options = {
    ca: pki.bundle('bundle-current'), cert: pki.material('client-valid').cert, key: pki.material('client-valid').key,
    clientId: 'hilt-device-1', servername: 'localhost', reconnectPeriod: 0, connectTimeout: 5_000, maxVersion: 'TLSv1.2' as const,
  };
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const client = await mqtt.connectAsync(url, options, false);
    await client.endAsync();
  }
  return performance.now() - t0;
}

export async function benchEndpointAttempt(): Promise<void> {
  console.log(`# endpoint attempt bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length}x ${cpus()[0]?.model ?? 'cpu'}`);
  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-'));
  try {
    const pki = await ensurePki({ dir });
    const { lab, urls } = await LabChild.start(dir);
    try {
      const totals = { good: { cpu: 0, wall: 0, n: 0 }, endpoint: { cpu: 0, wall: 0, n: 0 } };
      await attempts(urls.good, pki, 10); // warm-up, both
      await attempts(urls.endpoint, pki, 10);
      for (let b = 0; b < BLOCKS; b++) {
        for (const name of ['good', 'endpoint'] as const) {
          const before = await lab.stats();
          const wall = await attempts(urls[name], pki, BLOCK);
          let after = await lab.stats();
          // Each attempt must be recorded (closed) before it counts; the last close may trail the client.
          for (let tries = 0; (after.closed[name] ?? 0) - (before.closed[name] ?? 0) < BLOCK && tries < 50; tries++) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            after = await lab.stats();
          }
          totals[name].cpu += after.cpuMs - before.cpuMs;
          totals[name].wall += wall;
          totals[name].n += (after.closed[name] ?? 0) - (before.closed[name] ?? 0);
        }
      }
      const per = (t: { cpu: number; wall: number; n: number }) => ({ cpu: t.cpu / t.n, wall: t.wall / t.n });
      const good = per(totals.good);
      const endpoint = per(totals.endpoint);
      console.log(`attempts recorded: good ${totals.good.n}, endpoint ${totals.endpoint.n} (${BLOCKS} alternating blocks of ${BLOCK}; mutual TLS 1.2, MQTT CONNECT/CONNACK/DISCONNECT)`);
      console.log(`lab CPU per attempt: good ${good.cpu.toFixed(2)} ms, endpoint ${endpoint.cpu.toFixed(2)} ms, ratio endpoint/good ${(endpoint.cpu / good.cpu).toFixed(2)}`);
      console.log(`wall per attempt (client and lab): good ${good.wall.toFixed(2)} ms, endpoint ${endpoint.wall.toFixed(2)} ms, ratio ${(endpoint.wall / good.wall).toFixed(2)}`);
    } finally {
      lab.stop();
    }
    // The reader alone, on a real hello (Node's), in this process.
    const hello = Buffer.from(await captureHello());
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) parseClientHello(hello);
    console.log(`parseClientHello on a ${hello.length}-byte hello: ${((performance.now() - t0) * 1000 / n).toFixed(1)} µs each`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Node's own ClientHello, taken off an in-memory stream. */
async function captureHello(): Promise<Buffer> {
  const { Duplex } = await import('node:stream');
  const tls = await import('node:tls');
  return new Promise((resolve) => {
    let socket: import('node:tls').TLSSocket;
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(Buffer.from(chunk));
        callback();
        setImmediate(() => socket.destroy());
      },
    });
    socket = tls.connect({ socket: wire, servername: 'localhost', rejectUnauthorized: false });
    socket.on('error', () => {});
  });
}

if (process.argv[2] === '--lab') await labProcess(process.argv[3]!);
