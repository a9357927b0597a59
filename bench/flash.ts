/**
 * Flash throughput into the emulated ESP32 with its UART paced at the line rate (10 bits a byte),
 * reached over RFC 2217 as a remote board is: hilt's flasher (esptool-js with the stub) writing a
 * 256 KiB app, at 115200 and 921600 baud, with and without compression, against the line rate.
 * Then the time from `hilt run --flash` to its first scenario's result.
 * Run: npm run bench -- flash
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Esp32Chip } from '../emulator/index.ts';
import { serveRfc2217 } from '../emulator/rfc2217.ts';
import { flashBuild } from '../harness/flash/index.ts';
import { Rfc2217Transport } from '../harness/transport/rfc2217.ts';
import { readIdfBuild } from '../harness/wire/idf-build.ts';
import { buildAppImage, type AppDescriptor } from '../harness/wire/image.ts';
import { writeIdfBuildFixture } from '../test/esp/idf-build.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const APP_BYTES = 256 * 1024;

/** Code-like bytes: half random, half zero, in 64-byte runs (deflates to about half, as apps do). */
function codeLike(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += 128) randomBytes(64).copy(out, at);
  return out;
}

async function buildWith(dir: string): Promise<void> {
  const fx = await writeIdfBuildFixture(dir, { descriptor: { projectName: 'bench_app' } });
  const descriptor: AppDescriptor = fx.descriptor;
  const app = buildAppImage({ descriptor, payloadBytes: 0, segments: [{ loadAddr: 0x40080000, data: codeLike(APP_BYTES) }] });
  await writeFile(fx.appPath, app);
}

async function once(dir: string, baudRate: number, compress: boolean): Promise<{ bytes: number; ms: number }> {
  const chip = new Esp32Chip({ index: 77, pace: true });
  chip.powerOn();
  const server = await serveRfc2217({ peer: chip });
  const transport = new Rfc2217Transport({ host: '127.0.0.1', port: server.port });
  try {
    const result = await flashBuild({ transport, build: readIdfBuild(dir), baudRate, compress, confirmTimeoutMs: 5_000 });
    return { bytes: result.regions.reduce((n, r) => n + r.size, 0), ms: result.durationMs };
  } finally {
    await transport.close();
    await server.close();
    await chip.close();
  }
}

/** From spawning `hilt run --flash` to the first scenario's ✔/✖ line. */
async function runToFirstScenario(dir: string): Promise<number> {
  const chip = new Esp32Chip({ index: 78 });
  chip.powerOn();
  const server = await serveRfc2217({ peer: chip });
  const started = performance.now();
  const child = spawn(process.execPath, [join(REPO, 'bin', 'hilt.js'), 'run', join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts'),
    '--flash', dir, '--target', `rfc2217://127.0.0.1:${server.port}`, '--report-dir', join(dir, 'reports'), '--certs', join(dir, 'certs')],
  { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no scenario result within 120 s')), 120_000);
      child.stdout.on('data', (chunk: Buffer) => {
        // mocha's spec reporter: "  ✔ title" for a pass, "  1) title" for a failure.
        if (/^\s*(✔|\d+\) )/m.test(chunk.toString())) { clearTimeout(timer); resolve(performance.now() - started); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`hilt run exited (${code}) before a scenario result`)); });
    });
  } finally {
    // Stopped once it has shown the figure; it still writes its (cut-short) report first.
    child.kill('SIGTERM');
    await exited;
    await server.close();
    await chip.close();
  }
}

export async function benchFlash(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hilt-bench-flash-'));
  try {
    await buildWith(dir);
    console.log('flash: 256 KiB app + bootloader + partition table into the emulated chip over RFC 2217, UART paced');
    for (const baudRate of [115_200, 921_600]) {
      for (const compress of [false, true]) {
        const { bytes, ms } = await once(dir, baudRate, compress);
        const kbs = bytes / 1024 / (ms / 1000);
        const line = baudRate / 10 / 1024;
        console.log(`  ${baudRate} baud, ${compress ? 'compressed  ' : 'uncompressed'}: ${bytes} bytes in ${(ms / 1000).toFixed(1)} s = ${kbs.toFixed(1)} KB/s (line rate ${line.toFixed(1)} KB/s, ${(kbs / line).toFixed(2)}x)`);
      }
    }
    const ms = await runToFirstScenario(dir);
    console.log(`  hilt run --flash to the first scenario's result (lab PKI made fresh): ${(ms / 1000).toFixed(1)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
