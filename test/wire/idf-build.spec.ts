import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IdfBuildError, mergeFlashImage, readIdfBuild } from '../../harness/wire/idf-build.ts';
import { ExitCode } from '../../harness/errors.ts';
import { flasherArgsJson, writeIdfBuildFixture } from '../esp/idf-build.ts';
import { tempDir } from '../helpers.ts';

describe('wire/idf-build: reading an ESP-IDF build folder', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('hilt-idf-')));
  afterEach(() => remove());

  function refusal(path: string): IdfBuildError {
    try {
      readIdfBuild(path);
    } catch (err) {
      expect(err).to.be.instanceOf(IdfBuildError);
      const e = err as IdfBuildError;
      expect(e.exitCode).to.equal(ExitCode.usage);
      expect(e.message).not.to.include('\n');
      return e;
    }
    throw new Error('expected readIdfBuild to refuse the folder');
  }

  it('reads regions, settings, esptool arguments and the app descriptor', async () => {
    const fx = await writeIdfBuildFixture(dir, { descriptor: { projectName: 'blink', version: 'v0.9' } });
    const build = readIdfBuild(dir);
    expect(build).to.deep.include({
      dir, chip: 'esp32', flashMode: 'dio', flashSize: '2MB', flashFreq: '40m',
      before: 'default_reset', after: 'hard_reset', stub: true,
    });
    expect(build.regions.map((r) => [r.offset, r.path, r.name])).to.deep.equal([
      [0x1000, 'bootloader/bootloader.bin', 'bootloader'],
      [0x8000, 'partition_table/partition-table.bin', 'partition-table'],
      [0x10000, 'blink.bin', 'app'],
    ]);
    expect(build.regions[2]?.bytes.equals(fx.appBytes)).to.equal(true);
    expect(build.app).to.deep.equal({ offset: 0x10000, path: 'blink.bin', descriptor: fx.descriptor });
  });

  it('accepts esptool argument spellings with dashes and a file without "app" or chip', async () => {
    await writeIdfBuildFixture(dir);
    const text = JSON.stringify({
      flash_settings: { flash_mode: 'dio', flash_size: 'detect', flash_freq: '80m' },
      flash_files: { '0x1000': 'bootloader/bootloader.bin', '0x10000': 'hilt_fixture_app.bin', '0x8000': 'partition_table/partition-table.bin' },
      extra_esptool_args: { before: 'default-reset', after: 'no-reset', stub: false },
    });
    await writeFile(join(dir, 'flasher_args.json'), text);
    const build = readIdfBuild(dir);
    expect(build).to.deep.include({ chip: 'esp32', before: 'default_reset', after: 'no_reset', stub: false, flashSize: 'detect' });
    expect(build.app.offset).to.equal(0x10000);
  });

  it('merges the regions into a 0xFF-filled flash image', async () => {
    const fx = await writeIdfBuildFixture(dir);
    const build = readIdfBuild(dir);
    const flash = mergeFlashImage(build);
    expect(flash).to.have.length(2 * 1024 * 1024);
    expect(flash.subarray(0x1000, 0x1000 + fx.bootloader.length).equals(fx.bootloader)).to.equal(true);
    expect(flash.subarray(0x8000, 0x8c00).equals(fx.partitionTable)).to.equal(true);
    expect(flash.subarray(0x10000, 0x10000 + fx.appBytes.length).equals(fx.appBytes)).to.equal(true);
    expect(flash[0]).to.equal(0xff);
    expect(flash[flash.length - 1]).to.equal(0xff);
    expect(mergeFlashImage(build, 4 * 1024 * 1024)).to.have.length(4 * 1024 * 1024);
    expect(() => mergeFlashImage(build, 0x10000)).to.throw(IdfBuildError, /needs \d+ bytes of flash/);
  });

  it('a folder that is not an ESP-IDF build: one line naming flasher_args.json', async () => {
    expect(refusal(dir).message).to.match(/is not an ESP-IDF build: it has no flasher_args.json \(run idf.py build/);
    expect(refusal(join(dir, 'nope')).message).to.match(/does not exist: pass the ESP-IDF build folder/);
  });

  it('a missing file: names the file, its offset and the fix', async () => {
    await writeIdfBuildFixture(dir, { omit: ['bootloader/bootloader.bin'] });
    expect(refusal(dir).message).to.match(/names "bootloader\/bootloader.bin" at 0x1000, but ".*bootloader.bin" cannot be read \(ENOENT\): rebuild with idf.py build/);
  });

  it('malformed flasher_args.json, bad offsets, overlaps', async () => {
    await writeIdfBuildFixture(dir, { flasherArgsText: '{"flash_files": ' });
    expect(refusal(dir).message).to.match(/flasher_args.json" is not valid JSON/);
    await writeFile(join(dir, 'flasher_args.json'), '{"flash_files": {}}');
    expect(refusal(dir).message).to.match(/"flash_files" is missing or empty/);
    await writeFile(join(dir, 'flasher_args.json'), '{"flash_files": {"banana": "hilt_fixture_app.bin"}}');
    expect(refusal(dir).message).to.match(/offset "banana" is not a number/);
    await writeFile(join(dir, 'flasher_args.json'), '{"flash_files": {"0x10000": "hilt_fixture_app.bin", "0x10100": "bootloader/bootloader.bin"}}');
    expect(refusal(dir).message).to.match(/overlaps "bootloader\/bootloader.bin" at 0x10100/);
  });

  it('an app that is no ESP-IDF app, or a damaged one', async () => {
    const fx = await writeIdfBuildFixture(dir);
    await writeFile(fx.appPath, Buffer.alloc(4096, 0xff));
    expect(refusal(dir).message).to.match(/app image ".*hilt_fixture_app.bin" is not an ESP image \(image starts with 0xff/);
    const damaged = Buffer.from(fx.appBytes);
    damaged[0x400] = (damaged[0x400] ?? 0) ^ 1;
    await writeFile(fx.appPath, damaged);
    expect(refusal(dir).message).to.match(/fails its own checksum: the file is damaged/);
  });

  it('a chip mismatch between flasher_args.json and the image', async () => {
    await writeIdfBuildFixture(dir, { chip: 'esp32s3', imageChip: 'esp32' });
    expect(refusal(dir).message).to.match(/extra_esptool_args says chip "esp32s3", but the app image "hilt_fixture_app.bin" is built for esp32/);
  });

  it('encrypted regions are refused rather than flashed in plain text', async () => {
    await writeIdfBuildFixture(dir, { flasherArgsText: flasherArgsJson('hilt_fixture_app.bin').replace('"encrypted" : "false" },\n    "app"', '"encrypted" : "true" },\n    "app"') });
    expect(refusal(dir).message).to.match(/"bootloader" is marked encrypted/);
  });
});
