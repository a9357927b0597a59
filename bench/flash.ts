/**
 * Flash throughput into the emulated chip with its UART paced at the line rate (as `hilt
 * emulate --realtime` runs it): esptool-js 0.7.0 with its stub writes a 192 KiB app image at
 * 115200 and 921600 baud, with and without compression, and verifies it by MD5. The figure is
 * image bytes per second against the line rate (10 bits a byte, 8N1). The image's payload is a
 * slice of the node executable: machine code compresses about as firmware does.
 * Run: npm run bench -- flash (needs esptool-js: npm i esptool-js@0.7.0)
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buildEspImage, encodeAppDescriptor } from '../harness/wire/image.ts';
import { Esp32Chip } from '../emulator/chip/esp32.ts';
import { PeerSerialPort } from '../test/emulator/web-serial.ts';

const IMAGE_BYTES = 192 * 1024;

interface Loader {
  main(mode?: string): Promise<string>;
  writeFlash(options: Record<string, unknown>): Promise<void>;
  transport: { disconnect(): Promise<void> };
}

export async function benchFlash(): Promise<void> {
  let esptool: { ESPLoader: new (o: Record<string, unknown>) => Loader; Transport: new (d: unknown) => unknown };
  try {
    esptool = await import('esptool-js' as string) as typeof esptool;
  } catch {
    console.error('bench flash needs esptool-js: npm i esptool-js@0.7.0');
    process.exitCode = 2;
    return;
  }
  console.log(`# flash throughput into the emulated chip (paced UART) — ${new Date().toISOString()} — node ${process.version}`);
  const code = (await readFile(process.execPath)).subarray(0x100000, 0x100000 + IMAGE_BYTES);
  const descriptor = { secureVersion: 0, version: '1', projectName: 'bench', time: '00:00:00', date: 'Dec  1 2026', idfVersion: 'v5.5', elfSha256: '00'.repeat(32) };
  const image = buildEspImage({ segments: [{ loadAddr: 0x3f400020, data: Buffer.concat([encodeAppDescriptor(descriptor), code]) }] });
  console.log('| baud | compressed | image | wire bytes (deflated) | time | throughput | line rate | of line rate |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const baud of [115_200, 921_600]) {
    for (const compress of [false, true]) {
      const chip = new Esp32Chip({ pace: true });
      chip.powerOn();
      const loader = new esptool.ESPLoader({ transport: new esptool.Transport(new PeerSerialPort(chip)), baudrate: baud, terminal: { clean() {}, writeLine() {}, write() {} } });
      try {
        await loader.main('default_reset');
        const t0 = performance.now();
        await loader.writeFlash({
          fileArray: [{ address: 0x10000, data: new Uint8Array(image) }], flashMode: 'keep', flashFreq: 'keep', flashSize: 'keep', eraseAll: false, compress,
          calculateMD5Hash: (d: Uint8Array) => createHash('md5').update(d).digest('hex'),
        });
        const s = (performance.now() - t0) / 1000;
        const { deflateSync } = await import('node:zlib');
        const wire = compress ? deflateSync(image, { level: 9 }).length : image.length;
        const kbs = image.length / 1024 / s;
        const line = baud / 10 / 1024;
        console.log(`| ${baud} | ${compress ? 'yes' : 'no'} | ${(image.length / 1024).toFixed(0)} KiB | ${(wire / 1024).toFixed(0)} KiB | ${s.toFixed(2)} s | ${kbs.toFixed(1)} KiB/s | ${line.toFixed(1)} KiB/s | ${(100 * kbs / line).toFixed(0)} % |`);
        await loader.transport.disconnect();
      } finally {
        await chip.close();
      }
    }
  }
}
