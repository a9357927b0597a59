/** `hilt flash` and `hilt run --flash` as a user meets them: one line and the documented exit status. */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { flasherArgsJson, writeIdfBuildFixture } from '../esp/idf-build.ts';
import { spawn } from 'node:child_process';
import { HILT_BIN, hilt, tempDir, type Ran } from '../helpers.ts';
import { hasSocat, ptyPair } from '../transport/peers.ts';

function oneLine(ran: Ran, code: number, pattern: RegExp): void {
  expect(ran.code, ran.stderr).to.equal(code);
  const lines = ran.stderr.trimEnd().split('\n');
  expect(lines, ran.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^hilt: /).and.to.match(pattern);
  expect(ran.stderr).not.to.match(/\bat .*\.ts:\d+/);
}

describe('cli: hilt flash', function () {
  this.timeout(40_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('hilt-cli-flash-')));
  afterEach(() => remove());

  it('a folder that is not an ESP-IDF build: exit 2', async () => {
    oneLine(await hilt(['flash', '--build', dir, '--target', 'serial:/dev/ttyNOPE'], { cwd: dir }), 2, /is not an ESP-IDF build: it has no flasher_args.json/);
  });

  it('no --build and no ./build: exit 2 naming the folder', async () => {
    oneLine(await hilt(['flash', '--target', 'serial:/dev/ttyNOPE'], { cwd: dir }), 2, /build folder ".*\/build" does not exist/);
  });

  it('a file flasher_args.json names is missing: exit 2', async () => {
    await writeIdfBuildFixture(join(dir, 'build'), { omit: ['partition_table/partition-table.bin'] });
    oneLine(await hilt(['flash', '--target', 'serial:/dev/ttyNOPE'], { cwd: dir }), 2, /names "partition_table\/partition-table.bin" at 0x8000, but .* cannot be read \(ENOENT\)/);
  });

  it('a build whose flasher_args.json and app image disagree on the chip: exit 2', async () => {
    await writeIdfBuildFixture(join(dir, 'build'), { chip: 'esp32c3', imageChip: 'esp32' });
    oneLine(await hilt(['flash', '--target', 'serial:/dev/ttyNOPE'], { cwd: dir }), 2, /says chip "esp32c3", but the app image .* is built for esp32/);
  });

  it('a bad --baud: exit 2', async () => {
    await writeIdfBuildFixture(join(dir, 'build'));
    oneLine(await hilt(['flash', '--baud', 'fast', '--target', 'serial:/dev/ttyNOPE'], { cwd: dir }), 2, /--baud "fast": give a whole number/);
  });

  it('the in-process emulator (no ROM loader): exit 2, pointing at hilt emulate --pty', async () => {
    await writeIdfBuildFixture(join(dir, 'build'));
    oneLine(await hilt(['flash'], { cwd: dir }), 2, /target emulator is hilt's in-process board, which has no ROM loader to flash: start a whole emulated chip with hilt emulate --pty/);
  });

  it('a QEMU target (it boots the build it names): exit 2', async () => {
    await writeIdfBuildFixture(join(dir, 'build'));
    oneLine(await hilt(['flash', '--target', `qemu:${join(dir, 'build')}`], { cwd: dir }), 2, /boots the build it names: it needs no flashing/);
  });

  it('a serial port that does not exist: exit 3, after saying what it would flash', async () => {
    const fx = await writeIdfBuildFixture(join(dir, 'build'));
    const ran = await hilt(['flash', '--target', 'serial:/dev/ttyNOPE'], { cwd: dir });
    oneLine(ran, 3, /serial port \/dev\/ttyNOPE does not exist/);
    expect(ran.stdout).to.include(`image: hilt_fixture_app v1.2.3, ESP-IDF v5.1.2, built Nov 30 2026 12:34:56, ELF SHA-256 ${fx.descriptor.elfSha256}`);
  });

  it('hilt run --flash with a bad build: exit 2 before the lab, the device or a report', async () => {
    await writeFile(join(dir, 'flasher_args.json'), flasherArgsJson('app.bin'));
    oneLine(await hilt(['run', '--flash', dir, '--target', 'serial:/dev/ttyNOPE', '--report-dir', join(dir, 'reports')], { cwd: dir }), 2,
      /names "bootloader\/bootloader.bin" at 0x1000, but .* cannot be read/);
    expect(existsSync(join(dir, 'reports'))).to.equal(false);
    expect(existsSync(join(dir, 'certs'))).to.equal(false);
  });

  it('hilt run --flash with a scenario file that does not exist: exit 2 before the board is flashed', async () => {
    await writeIdfBuildFixture(join(dir, 'build'));
    const ran = await hilt(['run', join(dir, 'nope.spec.ts'), '--flash', join(dir, 'build'), '--target', 'serial:/dev/ttyNOPE'], { cwd: dir });
    oneLine(ran, 2, /nope\.spec\.ts/);
    expect(ran.stdout).not.to.include('flashing');
  });

  (hasSocat ? it : it.skip)('Ctrl-C while it looks at the board: exit 130, one line, nothing flashed (needs socat)', async () => {
    await writeIdfBuildFixture(join(dir, 'build'));
    const pair = await ptyPair();
    const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => far.open((err) => (err ? reject(err) : resolve())));
    far.on('error', () => undefined);
    const received: Buffer[] = [];
    far.on('data', (chunk: Buffer) => received.push(chunk));
    const child = spawn(process.execPath, [HILT_BIN, 'flash', '--target', `serial:${pair.a}`], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // The agent board is asked hello first (a silent board: the wait lasts 3 s); interrupt it then.
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          if (/3 regions\) for /.test(stdout)) resolve();
        });
      });
      await new Promise<void>((resolve) => far.once('data', () => resolve()));
      child.kill('SIGINT');
      expect(await exited).to.equal(130);
      expect(stderr.trimEnd().split('\n')).to.deep.equal(['hilt: flashing interrupted: the board may hold a partly written image; flash it again']);
      // Only the hello reached the board: no SLIP frame (0xC0) was sent.
      expect(Buffer.concat(received).includes(0xc0)).to.equal(false);
      expect(Buffer.concat(received).toString()).to.match(/hello/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise<void>((resolve) => far.close(() => resolve()));
      await pair.release();
    }
  });

  (hasSocat ? it : it.skip)('a board on a pty that is not in download mode: exit 3, saying to hold BOOT or use --boot download (needs socat)', async () => {
    await writeIdfBuildFixture(join(dir, 'build'));
    const pair = await ptyPair();
    // The far end: a board that prints its app's log and ignores the ROM loader's SYNC.
    const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => far.open((err) => (err ? reject(err) : resolve())));
    far.on('error', () => undefined);
    far.on('data', () => far.write('I (1234) app: still running\r\n'));
    try {
      const ran = await hilt(['flash', '--target', `serial:${pair.a}?mode=firmware`], { cwd: dir, timeoutMs: 35_000 });
      oneLine(ran, 3, /did not answer the ROM loader without a reset \(the board must already be in download mode\): hold BOOT while pressing EN \(or start the emulator with --boot download\)/);
    } finally {
      await new Promise<void>((resolve) => far.close(() => resolve()));
      await pair.release();
    }
  });
});
