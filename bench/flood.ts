/**
 * A chatty device: a scripted agent in its own process floods the console over TCP at about
 * 1 MB/s of ESP-IDF log lines while a Device reads it and writes the scenario's console log, as
 * during a run. Records what the run holds in memory after N seconds (RSS and JS heap, after a
 * full GC), with the Device's console window at its default and with no limit (what every
 * Device held before the window: all lines for the whole run). Each mode runs in a fresh process,
 * so one's memory does not colour the other's.
 * Run: npm run bench -- flood (HILT_FLOOD_SECONDS=30 to change the 20 s).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Device, DEFAULT_WINDOW } from '../harness/device/device.ts';
import { TcpTransport } from '../harness/transport/index.ts';

const RATE = 1_000_000;

/** The chatty device: answers hello, then prints log lines at RATE bytes/s, minding backpressure. */
const FLOODER = `
const net = require('node:net');
const HELLO = ${JSON.stringify({
  proto: 1, agent: { name: 'flood', version: '0' }, fw: { project: 'p', version: '1', idf: 'v5.5', elf_sha256: null },
  chip: { model: 'ESP32', revision: 3, cores: 2, mac: '24:0a:c4:00:00:99' },
  mbedtls: { version: '3.6.3', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false, ciphersuites: [] },
  heap: { free: 1, min_free: 1, largest: 1 }, time: { epoch: 0, synced: false },
})};
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  let heard = '';
  socket.on('data', (chunk) => {
    heard += chunk;
    for (let nl; (nl = heard.indexOf('\\n')) !== -1; heard = heard.slice(nl + 1)) {
      const m = /^@hil (\\d+) hello/.exec(heard.slice(0, nl));
      if (m) socket.write('@hil ' + m[1] + ' ok ' + JSON.stringify(HELLO) + '\\n');
    }
  });
  let n = 0;
  const started = Date.now();
  let sent = 0;
  const tick = () => {
    if (socket.destroyed) return;
    const due = ((Date.now() - started) / 1000) * ${RATE} - sent;
    let text = '';
    while (text.length < due) { text += 'I (' + n + ') sensor: reading ' + n + ' temperature=21.' + (n % 10) + ' humidity=' + (40 + n % 20) + ' rssi=-' + (50 + n % 30) + '\\n'; n++; }
    sent += text.length;
    if (socket.write(text)) setTimeout(tick, 10); else socket.once('drain', tick);
  };
  setTimeout(tick, 10);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

interface Held {
  mode: string;
  seconds: number;
  received: number;
  linesHeld: number;
  rssGrowth: number;
  heapGrowth: number;
}

/** One mode in this process (run as a child of benchFlood, with --expose-gc). */
async function measure(mode: 'window' | 'unbounded', seconds: number): Promise<Held> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const flooder = spawn(process.execPath, ['-e', FLOODER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-flood-'));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('flooder did not start within 10 s')), 10_000);
      createInterface({ input: flooder.stdout! }).once('line', (line) => { clearTimeout(timer); resolve(Number(line)); });
    });
    const window = mode === 'window' ? DEFAULT_WINDOW : { maxLines: Infinity, maxBytes: Infinity };
    const device = await Device.open(new TcpTransport({ host: '127.0.0.1', port }), { window });
    device.startLog(join(dir, 'console.log'));
    gc();
    const before = process.memoryUsage();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    gc();
    const after = process.memoryUsage();
    const held: Held = {
      mode, seconds, received: device.mark(), linesHeld: device.lines.length,
      rssGrowth: after.rss - before.rss, heapGrowth: after.heapUsed - before.heapUsed,
    };
    await device.close();
    const logBytes = (await stat(join(dir, 'console.log'))).size;
    if (logBytes < seconds * RATE * 0.5) throw new Error(`the flood fell short: ${logBytes} B logged in ${seconds} s`);
    return held;
  } finally {
    flooder.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

function runMode(mode: string, seconds: number): Promise<Held> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), mode, String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`flood ${mode} did not finish`)); }, (seconds + 60) * 1000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`flood ${mode} exited ${code}`));
      resolve(JSON.parse(out) as Held);
    });
  });
}

const MiB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export async function benchFlood(): Promise<void> {
  const seconds = Number(process.env.HILT_FLOOD_SECONDS ?? 20);
  console.log(`# flood bench — ${new Date().toISOString()} — node ${process.version} — ${RATE / 1e6} MB/s of console for ${seconds} s over TCP`);
  const unbounded = await runMode('unbounded', seconds);
  const window = await runMode('window', seconds);
  for (const h of [unbounded, window]) {
    console.log(`  ${h.mode.padEnd(9)} ${h.received} lines received, ${h.linesHeld} held: RSS +${MiB(h.rssGrowth)}, JS heap +${MiB(h.heapGrowth)}`);
  }
  console.log(`  window / unbounded: RSS growth ${(window.rssGrowth / unbounded.rssGrowth).toFixed(3)}, heap growth ${(window.heapGrowth / unbounded.heapGrowth).toFixed(3)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, seconds] = process.argv.slice(2);
  if (mode === 'window' || mode === 'unbounded') console.log(JSON.stringify(await measure(mode, Number(seconds))));
}
