/**
 * hilt's flasher (esptool-js through the Web Serial adapter) against the emulated ESP32 chip:
 * reset into download mode by the DevKitC circuit, stub, every region written and checked by
 * MD5 against what the chip's flash holds, hard reset, and the ELF SHA-256 the new app prints.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Esp32Chip, Flash } from '../../emulator/index.ts';
import { serveRfc2217, type Rfc2217Server } from '../../emulator/rfc2217.ts';
import type { Target } from '../../harness/device/targets/index.ts';
import { ExitCode } from '../../harness/errors.ts';
import { FlashError, flashBuild, flashTarget, imageIdentity, watchBoot } from '../../harness/flash/index.ts';
import { readIdfBuild } from '../../harness/wire/idf-build.ts';
import { Rfc2217Transport } from '../../harness/transport/rfc2217.ts';
import { flasherArgsJson, writeIdfBuildFixture, type IdfBuildFixture } from '../esp/idf-build.ts';
import { PeerTransport } from '../esp/peer-transport.ts';
import { HILT_BIN, REPO, hilt, rejection, tempDir } from '../helpers.ts';
import { hasSocat } from '../transport/peers.ts';

/** A flash with one bit that cannot be programmed (stuck at 1): what a worn cell does. Put under
 * the app descriptor's magic (0x32 in its first byte), whose bit 0 must be programmed to 0. */
class StuckBitFlash extends Flash {
  constructor(private readonly at: number) {
    super();
  }
  override write(offset: number, data: Buffer): boolean {
    const ok = super.write(offset, data);
    if (this.at >= offset && this.at < offset + data.length) this.bytes[this.at]! |= 0x01;
    return ok;
  }
}

/** A target onto an in-process chip: each transport() a fresh connection to the same chip. */
function chipTarget(chip: Esp32Chip, mode: 'agent' | 'firmware', reset: 'agent' | 'hello' = 'agent'): Target {
  return {
    url: 'chip', kind: 'chip', description: 'emulated chip (in process)', reset, mode,
    transport: async () => new PeerTransport(chip),
    close: async () => {},
  };
}

describe('flashing the emulated ESP32 chip', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  let chip: Esp32Chip | null = null;
  let fx: IdfBuildFixture;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('hilt-flash-chip-'));
    fx = await writeIdfBuildFixture(dir, { descriptor: { projectName: 'blink', version: 'v2.0.0' }, payloadBytes: 40_000 });
  });
  afterEach(async () => {
    await chip?.close();
    chip = null;
    await remove();
  });

  it('writes every region as the chip\'s flash then holds it, resets it, and sees the new app boot', async () => {
    chip = new Esp32Chip({ index: 21 });
    chip.powerOn();
    const transport = new PeerTransport(chip);
    const progress: string[] = [];
    try {
      const result = await flashBuild({
        transport, build: readIdfBuild(dir),
        onProgress: (p) => { if (p.written === p.total) progress.push(`${p.index}:${p.region.path}`); },
      });
      expect(result.chip).to.match(/^ESP32-D0WD/);
      expect(progress).to.deep.equal(['0:bootloader/bootloader.bin', '1:partition_table/partition-table.bin', '2:blink.bin']);
      for (const [region, bytes] of [[0x1000, fx.bootloader], [0x8000, fx.partitionTable], [0x10000, fx.appBytes]] as const) {
        expect(chip.flash.read(region, bytes.length).equals(bytes), `flash at 0x${region.toString(16)}`).to.equal(true);
      }
      expect(result.regions.map((r) => r.md5)).to.deep.equal([[0x1000, fx.bootloader], [0x8000, fx.partitionTable], [0x10000, fx.appBytes]].map(([at, b]) => chip!.flash.md5(at as number, (b as Buffer).length).toString('hex')));
      expect(result.confirmed).to.equal(true);
      expect(fx.descriptor.elfSha256.startsWith(result.bootElfSha256!)).to.equal(true);
      // The chip saw download mode (GPIO0 low at EN's rise), then a boot from flash after the hard reset.
      const boots = chip.boots();
      expect(boots.some((b) => b.mode === 'download' && b.gpio0 === 0)).to.equal(true);
      expect(boots.at(-1)).to.include({ mode: 'flash', gpio0: 1 });
      // The data phase ran faster than the ROM's 115200, and the console is back at 115200.
      expect(chip.trace.some((e) => e.kind === 'note' && e.text === 'UART at 460800 baud')).to.equal(true);
    } finally {
      await transport.close();
    }
  });

  it('flasher_args.json "stub": false: the ROM loader alone writes it, and its MD5 answer (32 hex characters) is read right', async () => {
    await writeIdfBuildFixture(dir, {
      descriptor: { projectName: 'blink', version: 'v2.0.0' }, payloadBytes: 8_000,
      flasherArgsText: flasherArgsJson('blink.bin').replace('"stub"   : true', '"stub"   : false'),
    });
    chip = new Esp32Chip({ index: 26 });
    chip.powerOn();
    const transport = new PeerTransport(chip);
    try {
      const build = readIdfBuild(dir);
      expect(build.stub).to.equal(false);
      const result = await flashBuild({ transport, build });
      expect(chip.loaderMode).to.equal('rom');
      expect(chip.loaderRequests.get('MEM_BEGIN') ?? 0).to.equal(0);
      expect(chip.loaderRequests.get('SPI_ATTACH')).to.be.greaterThan(0);
      expect(result.regions.map((r) => r.md5)).to.deep.equal([[0x1000, fx.bootloader], [0x8000, fx.partitionTable], [0x10000, readFileSync(join(dir, 'blink.bin'))]]
        .map(([at, b]) => chip!.flash.md5(at as number, (b as Buffer).length).toString('hex')));
      expect(result.confirmed).to.equal(true);
    } finally {
      await transport.close();
    }
  });

  it('skips a board that already runs the image (its hello says so), and flashes it with force', async () => {
    chip = new Esp32Chip({ index: 22 });
    chip.powerOn();
    const target = chipTarget(chip, 'agent');
    const build = readIdfBuild(dir);
    const first = await flashTarget({ build, target });
    expect(first.state).to.equal('flashed');
    const writes = chip.loaderRequests.get('FLASH_DEFL_DATA') ?? 0;
    const again = await flashTarget({ build, target });
    expect(again).to.deep.include({ state: 'running', confirmedBy: 'hello', result: null });
    expect(chip.loaderRequests.get('FLASH_DEFL_DATA') ?? 0).to.equal(writes);
    expect(imageIdentity(build, again)).to.deep.equal({
      project: 'blink', version: 'v2.0.0', idf: 'v5.1.2', elfSha256: fx.descriptor.elfSha256, builtAt: 'Nov 30 2026 12:34:56',
      buildDir: dir, state: 'running', confirmedBy: 'hello',
    });
    const forced = await flashTarget({ build, target, force: true });
    expect(forced.state).to.equal('flashed');
    expect(chip.loaderRequests.get('FLASH_DEFL_DATA') ?? 0).to.be.greaterThan(writes);
  });

  it('a firmware-mode board is looked at through its boot log after a hard reset', async () => {
    chip = new Esp32Chip({ index: 23 });
    chip.powerOn();
    const target = chipTarget(chip, 'firmware');
    const build = readIdfBuild(dir);
    expect((await flashTarget({ build, target })).state).to.equal('flashed');
    expect(await flashTarget({ build, target })).to.deep.include({ state: 'running', confirmedBy: 'boot log' });
    // reset=none: the board is not reset just to be looked at, so it cannot be told and is flashed.
    const boots = chip.boots().length;
    const unlooked = await flashTarget({ build, target: chipTarget(chip, 'firmware', 'hello') });
    expect(unlooked.state).to.equal('flashed');
    expect(chip.boots().slice(boots).map((b) => b.mode)).to.deep.equal(['download', 'flash']);
  });

  it('an MD5 mismatch (a flash bit that will not program): exit 3, naming the region and both hashes', async () => {
    chip = new Esp32Chip({ index: 24, flash: new StuckBitFlash(0x10000 + 0x20) });
    chip.powerOn();
    const transport = new PeerTransport(chip);
    try {
      const err = await rejection(flashBuild({ transport, build: readIdfBuild(dir) }));
      expect(err).to.be.instanceOf(FlashError);
      expect((err as FlashError).exitCode).to.equal(ExitCode.unreachable);
      expect(err.message).to.match(/^MD5 mismatch at 0x10000 \(blink.bin\) on emulated chip \(in process\): file [0-9a-f]{32}, flash [0-9a-f]{32}: /);
      const [, file, flash] = /file ([0-9a-f]{32}), flash ([0-9a-f]{32})/.exec(err.message)!;
      expect(file).not.to.equal(flash);
      expect(flash).to.equal(chip.flash.md5(0x10000, fx.appBytes.length).toString('hex'));
    } finally {
      await transport.close();
    }
  });

  it('a build for another chip: exit 2, nothing written, the board back in its application', async () => {
    await writeIdfBuildFixture(dir, { chip: 'esp32s3' });
    chip = new Esp32Chip({ index: 25 });
    chip.powerOn();
    const before = chip.flash.read(0, 0x20000);
    const transport = new PeerTransport(chip);
    const boot = watchBoot(transport);
    try {
      const err = await rejection(flashBuild({ transport, build: readIdfBuild(dir) }));
      expect(err).to.be.instanceOf(FlashError);
      expect((err as FlashError).exitCode).to.equal(ExitCode.usage);
      // Reset back into the app it had: its ELF line comes again.
      expect(await boot.elfSha256(5_000)).to.be.a('string');
      expect(err.message).to.match(/is for esp32s3, but the board on emulated chip \(in process\) is an ESP32-D0WD.*: build for it \(idf.py set-target esp32\)/);
      expect(chip.flash.read(0, 0x20000).equals(before)).to.equal(true);
      expect(chip.boots().at(-1)).to.include({ mode: 'flash' });
    } finally {
      boot.stop();
      await transport.close();
    }
  });
});

describe('hilt flash into hilt emulate --pty --boot download (a board without modem lines)', function () {
  this.timeout(60_000);

  (hasSocat ? it : it.skip)('flashes and verifies every region by MD5, and says the board was not reset (needs socat)', async () => {
    const { dir, remove } = await tempDir('hilt-flash-pty-');
    const fx = await writeIdfBuildFixture(join(dir, 'build'), { payloadBytes: 20_000 });
    const emulator = spawn(process.execPath, [HILT_BIN, 'emulate', '--pty', '--boot', 'download', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => emulator.once('exit', (code) => resolve(code)));
    try {
      const lines = createInterface({ input: emulator.stdout });
      const board = await new Promise<{ pty: string }>((resolve, reject) => {
        lines.on('line', (line) => {
          const msg = JSON.parse(line) as { type: string; pty?: string };
          if (msg.type === 'board' && msg.pty) resolve({ pty: msg.pty });
        });
        void exited.then((code) => reject(new Error(`hilt emulate exited (${code}) before serving a board`)));
      });
      const ran = await hilt(['flash', '--target', `serial:${board.pty}?mode=firmware`], { cwd: dir, timeoutMs: 40_000 });
      expect(ran.code, ran.stderr).to.equal(0);
      expect(ran.stderr).to.equal('');
      expect(ran.stdout).to.include(`image: hilt_fixture_app v1.2.3, ESP-IDF v5.1.2, built Nov 30 2026 12:34:56, ELF SHA-256 ${fx.descriptor.elfSha256}`);
      expect(ran.stdout).to.match(/\[3\/3\] 0x10000 hilt_fixture_app.bin \d+ bytes written/);
      expect(ran.stdout).to.match(/flashed ESP32-D0WD\S* \(revision \d+\): 3 regions, \d+ bytes in [\d.]+ s \([\d.]+ KB\/s\), each verified by MD5/);
      expect(ran.stdout).to.include('note: not reset after flashing (no DTR/RTS lines): press EN to run the new image');
    } finally {
      emulator.kill('SIGINT');
      await exited;
      await remove();
    }
  });
});

describe('hilt flash and hilt run --flash over RFC 2217 (the emulated chip behind the emulator\'s server)', function () {
  this.timeout(90_000);
  let dir: string;
  let remove: () => Promise<void>;
  let chip: Esp32Chip;
  let server: Rfc2217Server;
  let fx: IdfBuildFixture;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('hilt-flash-rfc-'));
    fx = await writeIdfBuildFixture(join(dir, 'build'), { descriptor: { projectName: 'remote_app', version: 'v7.0.0' }, payloadBytes: 30_000 });
    chip = new Esp32Chip({ index: 31 });
    chip.powerOn();
    server = await serveRfc2217({ peer: chip });
  });
  afterEach(async () => {
    await server.close();
    await chip.close();
    await remove();
  });

  it('resets the board into download mode through the server\'s DTR/RTS, flashes, and sees it boot the image; a second time it is skipped', async () => {
    const target = `rfc2217://127.0.0.1:${server.port}?mode=firmware`;
    const ran = await hilt(['flash', '--target', target], { cwd: dir, timeoutMs: 40_000 });
    expect(ran.code, ran.stderr).to.equal(0);
    expect(ran.stdout).to.match(/flashed ESP32-D0WD\S* \(revision \d+\): 3 regions, \d+ bytes in [\d.]+ s/);
    expect(ran.stdout).to.include(`the board booted it: ELF SHA-256 ${fx.descriptor.elfSha256.slice(0, 9)} (as printed) matches the image`);
    expect(chip.flash.read(0x10000, fx.appBytes.length).equals(fx.appBytes)).to.equal(true);
    expect(chip.boots().some((b) => b.mode === 'download')).to.equal(true);
    expect(chip.boots().at(-1)).to.include({ mode: 'flash' });

    const again = await hilt(['flash', '--target', target], { cwd: dir, timeoutMs: 40_000 });
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.include('the board already runs this image (ELF SHA-256 from its boot log): not flashed (--force flashes anyway)');
  });

  it('the connection lost while writing (the server goes away): exit 3, naming the region being written', async () => {
    const transport = new Rfc2217Transport({ host: '127.0.0.1', port: server.port });
    let cut = false;
    try {
      const err = await rejection(flashBuild({
        transport, build: readIdfBuild(join(dir, 'build')),
        onProgress: (p) => { if (p.index === 2 && p.written > 0 && !cut) { cut = true; void server.close(); } },
      }));
      expect(err).to.be.instanceOf(FlashError);
      expect((err as FlashError).exitCode).to.equal(ExitCode.unreachable);
      expect(err.message).not.to.include('\n');
      expect(err.message).to.match(/^flashing rfc2217:\/\/127\.0\.0\.1:\d+ at \d+ baud failed at 0x10000 \(remote_app.bin\): the connection to the board closed$/);
    } finally {
      await transport.close();
    }
  });

  it('hilt run --flash: flashes, runs a scenario, and every report names the image', async () => {
    const target = `rfc2217://127.0.0.1:${server.port}`;
    const reports = join(dir, 'reports');
    const ran = await hilt(['run', join(REPO, 'scenarios', '01-mtls-happy-path.spec.ts'), '--flash', join(dir, 'build'), '--target', target,
      '--report-dir', reports, '--certs', join(dir, 'certs')], { cwd: dir, timeoutMs: 80_000 });
    expect(ran.code, `${ran.stdout}\n${ran.stderr}`).to.equal(0);
    const runDir = join(reports, 'latest');
    const results = JSON.parse(await readFile(join(runDir, 'results.json'), 'utf8')) as { run: { image: Record<string, unknown>; firmware: Record<string, unknown> } };
    expect(results.run.image).to.deep.equal({
      project: 'remote_app', version: 'v7.0.0', idf: 'v5.1.2', elfSha256: fx.descriptor.elfSha256, builtAt: 'Nov 30 2026 12:34:56',
      buildDir: join(dir, 'build'), state: 'flashed', confirmedBy: 'boot log',
    });
    // The board's own hello says the same image runs.
    expect(results.run.firmware).to.include({ project: 'remote_app', version: 'v7.0.0', elfSha256: fx.descriptor.elfSha256 });
    expect(await readFile(join(runDir, 'junit.xml'), 'utf8')).to.include(`<property name="image.elf_sha256" value="${fx.descriptor.elfSha256}"/>`);
    expect(await readFile(join(runDir, 'summary.md'), 'utf8')).to.include('Image: remote_app v7.0.0 · ESP-IDF v5.1.2 · built Nov 30 2026 12:34:56');
  });
});
