/**
 * A firmware-mode device: a board running its own application, read from its console only. Fed
 * the boot text real ESP-IDF builds print, over a real pseudo-terminal.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FirmwareDevice, readIdentity, type BootIdentity } from '../../harness/device/firmware.ts';
import type { Panic } from '../../harness/device/log.ts';
import { SerialTransport } from '../../harness/transport/serial.ts';
import { rejection, tempDir } from '../helpers.ts';
import { hasSocat, ptyPair } from '../transport/peers.ts';

/** An ESP32 (rev 3) with ESP-IDF v5.2.1 booting an esp-mqtt application, as its UART prints it. */
export const IDF52_BOOT = [
  'ets Jun  8 2016 00:22:57',
  '',
  'rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
  'configsip: 0, SPIWP:0xee',
  'clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00',
  'mode:DIO, clock div:2',
  'load:0x3fff0030,len:7112',
  'ho 0 tail 12 room 4',
  'load:0x40078000,len:15624',
  'entry 0x4008064c',
  '\x1b[0;32mI (31) boot: ESP-IDF v5.2.1 2nd stage bootloader\x1b[0m',
  '\x1b[0;32mI (31) boot: compile time Mar 14 2024 10:12:03\x1b[0m',
  '\x1b[0;32mI (35) boot: chip revision: v3.0\x1b[0m',
  '\x1b[0;32mI (39) boot.esp32: SPI Speed      : 40MHz\x1b[0m',
  '\x1b[0;32mI (252) cpu_start: Pro cpu start user code\x1b[0m',
  '\x1b[0;32mI (252) cpu_start: Application information:\x1b[0m',
  '\x1b[0;32mI (255) cpu_start: Project name:     mqtt_ssl\x1b[0m',
  '\x1b[0;32mI (260) cpu_start: App version:      v1.4.2-3-g0c3a1f2\x1b[0m',
  '\x1b[0;32mI (266) cpu_start: Compile time:     Mar 14 2024 10:11:51\x1b[0m',
  '\x1b[0;32mI (272) cpu_start: ELF file SHA256:  9b0e5a6f1c2d3e4f...\x1b[0m',
  '\x1b[0;32mI (278) cpu_start: ESP-IDF:          v5.2.1\x1b[0m',
  '\x1b[0;32mI (620) main_task: Calling app_main()\x1b[0m',
  '\x1b[0;32mI (2743) wifi:mode : sta (24:0a:c4:12:34:56)\x1b[0m',
  '\x1b[0;32mI (5021) mqtt_example: MQTT_EVENT_CONNECTED\x1b[0m',
].join('\r\n') + '\r\n';

const none: BootIdentity = { project: null, version: null, idf: null, elfSha256: null, chip: null, mac: null };

describe('firmware device', function () {
  it('reads the identity from ESP-IDF 5.3+ (app_init) and S3 ROM lines', function () {
    const found = { ...none };
    for (const line of [
      'ESP-ROM:esp32s3-20210327',
      'I (27) boot: chip revision: v0.2',
      'I (118) app_init: Project name:     sensor-node',
      'I (122) app_init: App version:      2.0.0',
      'I (127) app_init: ELF file SHA256:  c0ffee12...',
      'I (132) app_init: ESP-IDF:          v5.5-dev-123-gabc',
    ]) readIdentity(line, found);
    expect(found).to.include({ project: 'sensor-node', version: '2.0.0', idf: 'v5.5-dev-123-gabc', elfSha256: 'c0ffee12', chip: 'rev v0.2' });
    expect((found as { model?: string }).model).to.equal('ESP32-S3');
    expect(readIdentity('I (5021) mqtt_example: MQTT_EVENT_CONNECTED', found)).to.equal(false);
  });

  describe('over a real pseudo-terminal', function () {
    let pair: Awaited<ReturnType<typeof ptyPair>>;
    let board: SerialTransport;
    let device: FirmwareDevice;
    let dir: string;
    let remove: () => Promise<void>;
    const written: Buffer[] = [];

    before(async function () {
      if (!hasSocat) this.skip();
      ({ dir, remove } = await tempDir());
    });
    after(async () => remove?.());
    beforeEach(async function () {
      pair = await ptyPair();
      board = new SerialTransport({ path: pair.b });
      await board.open();
      written.length = 0;
      // Whatever the device side sends reaches the board: it must stay empty.
      board.on('data', (b: Buffer) => written.push(b));
      device = await FirmwareDevice.open(new SerialTransport({ path: pair.a }));
    });
    afterEach(async function () {
      await device?.close();
      await board?.close();
      await pair?.release();
    });

    it('keeps the console as lines, reads the firmware identity from the boot text, and never sends a byte', async function () {
      const mark = device.mark();
      const logPath = join(dir, 'console.log');
      device.startLog(logPath);
      await board.write(IDF52_BOOT);
      await device.expect('MQTT_EVENT_CONNECTED', { since: mark, timeoutMs: 5_000 });
      expect(device.identity).to.deep.equal({
        project: 'mqtt_ssl', version: 'v1.4.2-3-g0c3a1f2', idf: 'v5.2.1', elfSha256: '9b0e5a6f1c2d3e4f', chip: 'ESP32 rev v3.0', mac: '24:0a:c4:12:34:56',
      });
      const lines = device.consoleSince(mark);
      expect(lines).to.include('I (255) cpu_start: Project name:     mqtt_ssl');
      expect(device.lines.find((l) => l.text.includes('Calling app_main'))!.log).to.include({ level: 'I', tag: 'main_task' });
      await device.stopLog();
      expect(await readFile(logPath, 'utf8')).to.include('I (5021) mqtt_example: MQTT_EVENT_CONNECTED');
      // The board side read nothing: a firmware device is only listened to.
      const later = device.mark();
      await board.write('I (6000) mqtt_example: still here\r\n');
      await device.expect('still here', { since: later });
      expect(Buffer.concat(written).length).to.equal(0);
      expect(device.panics).to.deep.equal([]);
    });

    it('names a panic and tells a restart of its own from one hilt asked for', async function () {
      const panics: unknown[] = [];
      const restarts: unknown[] = [];
      device.on('panic', (p) => panics.push(p));
      device.on('restart', (p) => restarts.push(p));
      // Marked before writing: the line may be read before the write's promise settles.
      const mark = device.mark();
      await board.write("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\r\n");
      await board.write('rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n');
      await device.expect('SW_CPU_RESET', { since: mark });
      expect(device.panics.map((p) => [p.kind, p.reason])).to.deep.equal([['guru_meditation', 'LoadProhibited']]);
      expect(panics).to.have.length(1);
      // esp_restart() on purpose, after the crash: a restart the runner notes.
      expect(restarts).to.have.length(1);
      await device.whileResetting(async () => {
        const again = device.mark();
        await board.write('rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n');
        await device.expect('SW_CPU_RESET', { since: again });
      });
      expect(restarts).to.have.length(1);
    });

    it('a stack canary: one panic, a stack overflow naming the task from the line after the debug exception', async function () {
      const panics: Panic[] = [];
      device.on('panic', (p: Panic) => panics.push(p));
      const mark = device.mark();
      await board.write([
        "Guru Meditation Error: Core  0 panic'ed (Unhandled debug exception). ",
        'Debug exception reason: Stack canary watchpoint triggered (mqtt_task) ',
        'Core  0 register dump:',
        'Backtrace: 0x4008a3c6:0x3ffcb0a0 0x400d8e4a:0x3ffcb0c0 |<-CORRUPTED',
        '', 'Rebooting...', 'rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
      ].join('\r\n') + '\r\n');
      await device.expect('SW_CPU_RESET', { since: mark });
      expect(panics.map((p) => [p.kind, p.reason])).to.deep.equal([['stack_overflow', 'stack overflow in task mqtt_task']]);
      expect(device.panics).to.deep.equal(panics);
    });

    it('a debug exception of another cause, or with no line after it, is still one panic', async function () {
      const mark = device.mark();
      await board.write("Guru Meditation Error: Core  0 panic'ed (Unhandled debug exception). \r\nDebug exception reason: BREAK instr \r\n");
      await device.expect('BREAK instr', { since: mark });
      expect(device.panics.map((p) => p.reason)).to.deep.equal(['Unhandled debug exception']);
      const next = new Promise<Panic>((resolve) => device.once('panic', resolve));
      await board.write("Guru Meditation Error: Core  1 panic'ed (Unhandled debug exception). \r\n");
      expect((await next).reason).to.equal('Unhandled debug exception');
      expect(device.panics).to.have.length(2);
    });

    it('a wait for a line ends when the board goes away, not at its timeout', async function () {
      const waiting = rejection(device.expect('never printed', { timeoutMs: 60_000 }));
      await pair.release();
      const err = await waiting;
      expect(err.message).to.match(/closed \(.*\) before the console printed never printed$/);
    });
  });
});
