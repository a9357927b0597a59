/**
 * Faults at the emulated chip's serial loader and flash: what a flashing tool gets wrong (a bad
 * checksum, a block with no FLASH_BEGIN, a region past the flash, a command the ROM lacks, line
 * noise, a frame with no end, a reset in the middle of a write) and what a bad flash does to the
 * boot (empty: the ROM's invalid-header loop; no app: the bootloader's errors). Each answer is the
 * status and error code a real ESP32 ROM or esptool's stub gives, and the chip keeps working.
 */
import { expect } from 'chai';
import { Esp32Chip } from '../../emulator/chip/esp32.ts';
import { FACTORY_APP_OFFSET, FLASH_BYTES } from '../../emulator/chip/flash.ts';
import { OP, SYNC_DATA, checksum } from '../../harness/wire/rom.ts';
import { hilt } from '../helpers.ts';
import { applySequence, ChipConsole, le32, RomClient } from '../emulator/rom-client.ts';

const CLASSIC = 'D0|R1|W100|D1|R0|W50|D0';

/** A chip in download mode with a loader client on it. */
async function inDownload(options: ConstructorParameters<typeof Esp32Chip>[0] = {}): Promise<{ chip: Esp32Chip; rom: RomClient; out: ChipConsole }> {
  const chip = new Esp32Chip({ bootDownload: true, ...options });
  const out = new ChipConsole(chip);
  const rom = new RomClient(chip);
  chip.powerOn();
  await out.waitFor(/waiting for download/);
  return { chip, rom, out };
}

function block(seq: number, data: Buffer): { payload: Buffer; chk: number } {
  return { payload: Buffer.concat([le32(data.length, seq, 0, 0), data]), chk: checksum(data) };
}

/** Moves the chip's loader to stub mode the way a tool does: upload something, start it. */
async function startStub(rom: RomClient): Promise<void> {
  expect((await rom.request(OP.MEM_BEGIN, le32(64, 1, 0x1800, 0x40080000))).data.toString('hex')).to.equal('00000000');
  const b = block(0, Buffer.alloc(64, 0x5a));
  await rom.request(OP.MEM_DATA, b.payload, b.chk);
  await rom.request(OP.MEM_END, le32(0, 0x40080000));
  expect((await rom.next()).raw.toString()).to.equal('OHAI');
}

describe('faults: emulated chip serial loader and flash', function () {
  const chips: Esp32Chip[] = [];
  afterEach(async function () {
    await Promise.all(chips.splice(0).map((c) => c.close()));
  });
  async function open(options: ConstructorParameters<typeof Esp32Chip>[0] = {}) {
    const got = await inDownload(options);
    chips.push(got.chip);
    return got;
  }

  it('a FLASH_DATA block with a wrong checksum: ROM status 01 07 (invalid CRC), nothing written; the good block is then taken', async function () {
    const { chip, rom } = await open();
    await rom.request(OP.FLASH_BEGIN, le32(0x1000, 1, 0x1000, 0x200000, 0));
    const data = Buffer.alloc(0x1000, 0x42);
    const b = block(0, data);
    const bad = await rom.request(OP.FLASH_DATA, b.payload, b.chk ^ 0x01);
    expect(bad.op).to.equal(OP.FLASH_DATA);
    expect(bad.data.toString('hex')).to.equal('01070000');
    expect(chip.flash.read(0x200000, 4).toString('hex')).to.equal('ffffffff');
    expect((await rom.request(OP.FLASH_DATA, b.payload, b.chk)).data.toString('hex')).to.equal('00000000');
    expect(chip.flash.read(0x200000, 0x1000).equals(data)).to.equal(true);
  });

  it('the stub answers the same faults with its own two status bytes (C6 00 not in flash mode, C1 00 checksum, FF 00 a command it lacks)', async function () {
    const { rom } = await open({ index: 2 });
    await startStub(rom);
    const b = block(0, Buffer.alloc(16, 1));
    expect((await rom.request(OP.FLASH_DATA, b.payload, b.chk)).data.toString('hex')).to.equal('c600');
    await rom.request(OP.FLASH_BEGIN, le32(16, 1, 0x4000, 0x300000));
    expect((await rom.request(OP.FLASH_DATA, b.payload, b.chk ^ 0xff)).data.toString('hex')).to.equal('c100');
    const lacking = await rom.request(OP.GET_SECURITY_INFO);
    expect(lacking.op).to.equal(OP.GET_SECURITY_INFO);
    expect(lacking.data.toString('hex')).to.equal('ff00');
    // Like the ROM, the stub answers SYNC eight times, with value 0: esptool's sign that a stub runs.
    rom.send(OP.SYNC, SYNC_DATA);
    const replies = [];
    for (let i = 0; i < 8; i++) replies.push(await rom.next());
    expect(replies.map((r) => r.value)).to.deep.equal(Array(8).fill(0));
  });

  it('FLASH_BEGIN past the 4 MB flash: ROM error 0x08, flash untouched', async function () {
    const { chip, rom } = await open({ index: 3 });
    const before = chip.flash.md5(0, FLASH_BYTES).toString('hex');
    const reply = await rom.request(OP.FLASH_BEGIN, le32(0x2000, 2, 0x1000, FLASH_BYTES - 0x1000, 0));
    expect(reply.data.toString('hex')).to.equal('01080000');
    expect(chip.flash.md5(0, FLASH_BYTES).toString('hex')).to.equal(before);
  });

  it('GET_SECURITY_INFO, which the ESP32 ROM lacks: status 01 05 under another opcode, as esptool takes for "unsupported"', async function () {
    const { rom } = await open({ index: 4 });
    const reply = await rom.request(OP.GET_SECURITY_INFO);
    expect(reply.op).to.not.equal(OP.GET_SECURITY_INFO);
    expect(reply.data.subarray(0, 2).toString('hex')).to.equal('0105');
  });

  it('line noise, a terminal typing, and a frame with no end: skipped or dropped (bounded); SYNC is still answered eight times', async function () {
    const { chip, rom } = await open({ index: 5 });
    chip.input(Buffer.from('AT\r\nhello?\r\n'));
    chip.input(Buffer.concat([Buffer.from([0xc0]), Buffer.alloc(0x5000, 0x55)]));
    rom.send(OP.SYNC, SYNC_DATA);
    const replies = [];
    for (let i = 0; i < 8; i++) replies.push(await rom.next());
    expect(replies.map((r) => r.value)).to.deep.equal(Array(8).fill(0x20120707));
  });

  it('a reset in the middle of a stub write: the stub is gone (RAM), the ROM answers again, the flash keeps what was written', async function () {
    const { chip, rom, out } = await open({ index: 6 });
    await startStub(rom);
    await rom.request(OP.FLASH_BEGIN, le32(0x8000, 2, 0x4000, 0x100000));
    const first = block(0, Buffer.alloc(0x4000, 0x24));
    expect((await rom.request(OP.FLASH_DATA, first.payload, first.chk)).data.toString('hex')).to.equal('0000');
    const printed = out.text.length;
    await applySequence(chip, CLASSIC, 'classic');
    await out.waitFor(/waiting for download/, 2000, printed);
    expect(chip.loaderMode).to.equal('rom');
    rom.frames.length = 0;
    const sync = await rom.request(OP.SYNC, SYNC_DATA);
    expect(sync.value).to.equal(0x20120707);
    expect(chip.flash.read(0x100000, 0x4000).equals(Buffer.alloc(0x4000, 0x24))).to.equal(true);
    expect(chip.flash.read(0x104000, 4).toString('hex')).to.equal('ffffffff');
  });

  it('the ROM switched to 921600, then told to run the app (FLASH_END 1): the app\'s console is at 115200 again', async function () {
    const { chip, rom, out } = await open({ index: 10 });
    chip.setBaudRate(115_200);
    await rom.request(OP.CHANGE_BAUDRATE, le32(921_600, 0));
    chip.setBaudRate(921_600);
    expect((await rom.request(OP.READ_REG, le32(0x40001000))).value).to.equal(0x00f01d83);
    await rom.request(OP.FLASH_END, le32(1));
    // The app's first lines went out at 115200 to a host still at 921600: noise, as on a bench.
    chip.setBaudRate(115_200);
    const printed = out.text.length;
    chip.input(Buffer.from('@hil 1 hello\n'));
    await out.waitFor(/@hil 1 ok/, 2000, printed);
    expect(chip.state).to.equal('app');
  });

  it('an erased flash: the ROM repeats "invalid header: 0xffffffff" a bounded number of times, then a classic reset still reaches download mode', async function () {
    const { chip, rom, out } = await open({ index: 7 });
    await startStub(rom);
    expect((await rom.request(OP.ERASE_FLASH)).data.toString('hex')).to.equal('0000');
    const printed = out.text.length;
    await applySequence(chip, 'R1|W100|R0', 'classic');
    await out.waitFor(/(invalid header: 0xffffffff\n){20}/, 5000, printed);
    // Bounded: the emulation stops repeating after 20 (a real chip loops until reset).
    const count = out.text.slice(printed).split('invalid header: 0xffffffff').length - 1;
    expect(count).to.equal(20);
    expect(chip.state).to.equal('no-app');
    const again = out.text.length;
    await applySequence(chip, CLASSIC, 'classic');
    await out.waitFor(/waiting for download/, 2000, again);
  });

  it('no app where the partition table says: the bootloader\'s errors, a few rounds, and no agent', async function () {
    const { chip, rom, out } = await open({ index: 8 });
    await startStub(rom);
    expect((await rom.request(OP.ERASE_REGION, le32(FACTORY_APP_OFFSET, 0x10000))).data.toString('hex')).to.equal('0000');
    const printed = out.text.length;
    await rom.request(OP.FLASH_END, le32(0));
    await out.waitFor(/(No bootable app partitions in the partition table[\s\S]*){3}/, 5000, printed);
    expect(out.text.slice(printed)).to.include('E (40) esp_image: image at 0x10000 has invalid magic byte (nothing flashed here?)');
    expect(out.text.slice(printed)).to.not.include('test agent ready');
    expect(chip.state).to.equal('no-app');
  });

  it('an app image with one byte changed after it was written: the bootloader\'s hash check refuses it, no agent runs', async function () {
    const { chip, out } = await open({ index: 9 });
    // A byte inside the app's DROM payload: segment data, so the checksum byte no longer matches.
    const at = FACTORY_APP_OFFSET + 0x200;
    chip.flash.bytes[at] = chip.flash.bytes[at]! ^ 0x01;
    const printed = out.text.length;
    await applySequence(chip, 'R1|W100|R0', 'classic');
    await out.waitFor(/No bootable app partitions in the partition table/, 2000, printed);
    expect(out.text.slice(printed)).to.match(/E \(\d+\) esp_image: Checksum failed \(image at 0x10000\)/);
    expect(out.text.slice(printed)).to.not.include('test agent ready');
  });

  it('`hilt emulate --rfc2217` on a port that is taken: exit 2, one line naming it', async function () {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const ran = await hilt(['emulate', '--rfc2217', String(port)]);
      expect(ran.code).to.equal(2);
      expect(ran.stderr.trim()).to.equal(`hilt: --rfc2217: cannot listen on 127.0.0.1 port ${port} (EADDRINUSE): choose another port`);
    } finally {
      taken.close();
    }
  });

  it('`hilt emulate --boot` with a mode that is not one, or on stdio: exit 2, one line', async function () {
    const bad = await hilt(['emulate', '--pty', '--boot', 'sideways']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.include('--boot sideways: use flash or download');
    const stdio = await hilt(['emulate', '--boot', 'download']);
    expect(stdio.code).to.equal(2);
    expect(stdio.stderr.trim()).to.match(/^hilt: --boot: a stdio board is the agent alone, with no ROM to boot; use --pty, --tcp or --rfc2217$/);
  });
});
