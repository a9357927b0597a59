/**
 * esptool-js 0.7.0 (Espressif's JavaScript esptool, a real outside client) against the emulated
 * chip: in process through a Web-Serial-shaped port with DTR/RTS (its own classic reset puts the
 * chip in download mode), and over a real pseudo-terminal of `hilt emulate --pty --boot download`
 * (no modem lines: BOOT held at power-on). It syncs, detects an ESP32, uploads its stub, flashes
 * an ESP-IDF-shaped build (bootloader, partition table, app with an esp_app_desc_t) and checks
 * every region by MD5; the chip then boots the new app.
 */
import { expect } from 'chai';
import { ESPLoader, Transport, type IEspLoaderTerminal } from 'esptool-js';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { SerialPort } from 'serialport';
import { buildAppImage, type AppDescriptor } from '../../harness/wire/image.ts';
import { encodePartitionTable, SINGLE_APP_TABLE } from '../../harness/wire/partition-table.ts';
import { Esp32Chip } from '../../emulator/chip/esp32.ts';
import { bootloaderImage } from '../../emulator/chip/flash.ts';
import type { HelloReply } from '../../harness/protocol/index.ts';
import { HILT_BIN } from '../helpers.ts';
import { AgentClient } from './agent-client.ts';
import { ChipConsole } from './rom-client.ts';
import { PeerSerialPort, StreamSerialPort } from './web-serial.ts';

/** esptool-js takes a Web Serial port; the doubles have the part of its shape it uses. */
const webSerial = (port: PeerSerialPort | StreamSerialPort) => port as unknown as ConstructorParameters<typeof Transport>[0];

const hasSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;

const APP: AppDescriptor = {
  secureVersion: 0, version: '3.2.1', projectName: 'flashed_by_esptool', time: '12:34:56', date: 'Dec  1 2026',
  idfVersion: 'v5.5.1', elfSha256: createHash('sha256').update('flashed_by_esptool 3.2.1').digest('hex'),
};

/** A build as `idf.py build` lays it out, as esptool-js's fileArray. */
function build(payloadBytes = 60_000): Array<{ data: Uint8Array; address: number }> {
  return [
    { address: 0x1000, data: new Uint8Array(bootloaderImage()) },
    { address: 0x8000, data: new Uint8Array(encodePartitionTable(SINGLE_APP_TABLE)) },
    { address: 0x10000, data: new Uint8Array(buildAppImage({ descriptor: APP, payloadBytes })) },
  ];
}

function terminal(into: string[]): IEspLoaderTerminal {
  return { clean() {}, writeLine: (s: string) => { into.push(s); }, write: (s: string) => { into.push(s); } };
}

const md5 = (d: Uint8Array) => createHash('md5').update(d).digest('hex');

describe('esptool-js flashes the emulated chip', function () {
  this.timeout(60_000);

  it('in process, with DTR/RTS: its classic reset, sync, ESP32, stub, 921600 baud, three regions MD5-verified and read back, a second session finds the stub running, then the new app boots', async function () {
    const chip = new Esp32Chip({ index: 9 });
    const out = new ChipConsole(chip);
    const said: string[] = [];
    chip.powerOn();
    const port = new PeerSerialPort(chip);
    const loader = new ESPLoader({ transport: new Transport(webSerial(port)), baudrate: 921_600, terminal: terminal(said) });
    try {
      const description = await loader.main('default_reset');
      expect(description).to.equal('ESP32-D0WD-V3 (revision 3)');
      expect(said).to.include('MAC: 24:0a:c4:00:00:09');
      expect(said).to.include('Crystal is 40MHz');
      expect(chip.boots().at(-1)).to.include({ mode: 'download', gpio0: 0 });
      expect(chip.loaderMode).to.equal('stub');
      expect(said).to.include('Stub running...');
      expect(chip.trace.some((e) => e.kind === 'note' && e.text === 'UART at 921600 baud')).to.equal(true);

      await loader.writeFlash({ fileArray: build(), flashMode: 'keep', flashFreq: 'keep', flashSize: 'keep', eraseAll: false, compress: true, calculateMD5Hash: md5 });
      expect(said.filter((s) => s === 'Hash of data verified.')).to.have.length(3);
      for (const region of build()) {
        expect(chip.flash.md5(region.address, region.data.length).toString('hex')).to.equal(md5(region.data));
      }
      // The stub's READ_FLASH: packets acknowledged by the host, then its MD5 (left unread by esptool-js).
      const app = build()[2]!;
      const back = await loader.readFlash(app.address, app.data.length);
      expect(Buffer.from(back).equals(Buffer.from(app.data))).to.equal(true);
      // A second session without a reset finds the stub by its SYNC replies and does not upload it again.
      await loader.transport.disconnect();
      const again: string[] = [];
      const second = new ESPLoader({ transport: new Transport(webSerial(port)), baudrate: 921_600, romBaudrate: 921_600, terminal: terminal(again) });
      await second.main('no_reset');
      expect(again).to.include('Stub is already running. No upload is necessary.');

      // A reset puts the chip's UART back at 115200; a console at 921600 would read noise (as a
      // monitor left at the flashing rate does), so the host goes back first.
      await port.setBaudRate(115_200);
      // esptool-js's own hard reset only releases RTS: pulse EN with a custom sequence.
      const printed = out.text.length;
      await second.after('custom_reset', false, 'D0|R1|W100|R0');
      await out.waitFor(/test agent ready/, 5000, printed);
      expect(out.text.slice(printed)).to.include(`ELF file SHA256:  ${APP.elfSha256.slice(0, 9)}...`);
      expect(chip.boots().at(-1)).to.include({ mode: 'flash', gpio0: 1 });
      await second.transport.disconnect();
      const agent = new AgentClient({ write: (t: string) => chip.input(Buffer.from(t)), on: (_e: 'data', fn: (c: Buffer) => void) => chip.onOutput(fn) });
      const hello = await agent.ok<HelloReply>('hello');
      expect(hello.fw).to.deep.equal({ project: APP.projectName, version: APP.version, idf: APP.idfVersion, elf_sha256: APP.elfSha256 });
    } finally {
      await chip.close();
    }
  });

  it('in process, ROM loader only (no stub): uncompressed 16 KiB blocks, the ROM answers MD5 as 32 hex characters, and its soft reset runs the new app', async function () {
    const chip = new Esp32Chip({ index: 10 });
    const out = new ChipConsole(chip);
    const said: string[] = [];
    chip.powerOn();
    const port = new PeerSerialPort(chip);
    const loader = new ESPLoader({ transport: new Transport(webSerial(port)), baudrate: 115_200, terminal: terminal(said) });
    try {
      await loader.detectChip('default_reset');
      expect(loader.chip.CHIP_NAME).to.equal('ESP32');
      const files = build(40_000);
      await loader.writeFlash({ fileArray: files, flashMode: 'keep', flashFreq: 'keep', flashSize: 'keep', eraseAll: false, compress: false });
      expect(chip.loaderMode).to.equal('rom');
      expect(chip.loaderRequests.get('FLASH_DATA')).to.be.greaterThan(3);
      const app = files[2]!;
      // esptool-js hex-encodes the ROM's 32 ASCII characters (it expects the stub's 16 raw bytes).
      const answer = await loader.flashMd5sum(app.address, app.data.length);
      expect(Buffer.from(answer, 'hex').toString('ascii')).to.equal(md5(app.data));
      // esptool's "soft reset" from the ROM: FLASH_BEGIN 0, FLASH_END 1 runs the app in flash.
      const printed = out.text.length;
      await loader.after('soft_reset');
      await out.waitFor(/test agent ready/, 5000, printed);
      expect(out.text.slice(printed)).to.include(`Project name:     ${APP.projectName}`);
      expect(chip.state).to.equal('app');
      await loader.transport.disconnect();
    } finally {
      await chip.close();
    }
  });

  describe('over a pseudo-terminal', function () {
    before(function () {
      if (!hasSocat) {
        console.log('    (socat is not installed: the pseudo-terminal test needs it; apt-get install socat)');
        this.skip();
      }
    });

    it('`hilt emulate --pty --boot download`: no reset lines, esptool-js flashes and verifies, and the board boots the app when the stub is told to run it', async function () {
      const child = spawn(process.execPath, [HILT_BIN, 'emulate', '--pty', '--boot', 'download', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let serial: SerialPort | null = null;
      try {
        const board = await new Promise<Record<string, unknown>>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('hilt emulate printed no board line within 15 s')), 15_000);
          createInterface({ input: child.stdout }).on('line', (line) => {
            const o = JSON.parse(line) as Record<string, unknown>;
            if (o.type === 'board') { clearTimeout(timer); resolve(o); }
          });
        });
        serial = new SerialPort({ path: board.pty as string, baudRate: 115_200 });
        await new Promise<void>((resolve, reject) => serial!.once('open', resolve).once('error', reject));
        let text = '';
        serial.on('data', (b: Buffer) => { text += b.toString('latin1'); });
        const said: string[] = [];
        const loader = new ESPLoader({ transport: new Transport(webSerial(new StreamSerialPort(serial))), baudrate: 115_200, terminal: terminal(said) });
        expect(await loader.main('no_reset')).to.equal('ESP32-D0WD-V3 (revision 3)');
        expect(loader.IS_STUB).to.equal(true);
        await loader.writeFlash({ fileArray: build(), flashMode: 'keep', flashFreq: 'keep', flashSize: 'keep', eraseAll: false, compress: true, calculateMD5Hash: md5 });
        expect(said.filter((s) => s === 'Hash of data verified.')).to.have.length(3);
        // No RTS to pulse on a pty: FLASH_DEFL_END with "reboot" leaves the stub for the new app.
        const from = text.length;
        await loader.flashDeflFinish(true);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no boot after FLASH_DEFL_END: ${JSON.stringify(text.slice(from, from + 300))}`)), 5000);
          const check = () => {
            if (!/test agent ready/.test(text.slice(from))) return;
            clearTimeout(timer);
            serial!.off('data', check);
            resolve();
          };
          serial!.on('data', check);
          check();
        });
        expect(text.slice(from)).to.include(`Project name:     ${APP.projectName}`);
        expect(text.slice(from)).to.include(`ELF file SHA256:  ${APP.elfSha256.slice(0, 9)}...`);
      } finally {
        if (serial?.isOpen) await new Promise<void>((resolve) => serial!.close(() => resolve()));
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    });
  });
});
