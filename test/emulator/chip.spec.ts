/**
 * The emulated chip's hardware: the DevKitC auto-reset circuit (checked by what the chip saw on
 * EN and GPIO0), the ROM's banners, the flash that survives resets and the boot from it.
 */
import { expect } from 'chai';
import { Esp32Chip, type TraceEntry } from '../../emulator/chip/esp32.ts';
import { buildAppImage, readAppImage } from '../../harness/wire/image.ts';
import { FACTORY_APP_OFFSET } from '../../emulator/chip/flash.ts';
import { AgentClient } from './agent-client.ts';
import { applySequence, ChipConsole } from './rom-client.ts';
import type { HelloReply } from '../../harness/protocol/index.ts';

const CLASSIC = 'D0|R1|W100|D1|R0|W50|D0';
const HARD = 'R1|W100|R0';
/** esptool's regex for the mode a reset left the chip in. */
const BOOT_MODE = /boot:(0x[0-9a-fA-F]+)([\s\S]*?waiting for download)?/;

/** Pin changes and boot decisions after index `from`, as compact text: "EN=0 GPIO0=0 EN=1 boot:download". */
function seen(trace: TraceEntry[], from: number): string {
  return trace.slice(from).flatMap((e) => {
    if (e.kind === 'pin') return [`${e.pin}=${e.level}`];
    if (e.kind === 'boot') return [`boot:${e.mode}`];
    return [];
  }).join(' ');
}

describe('emulated chip: DevKitC auto-reset circuit', function () {
  let chip: Esp32Chip;
  let out: ChipConsole;

  beforeEach(function () {
    chip = new Esp32Chip();
    out = new ChipConsole(chip);
    chip.powerOn();
  });
  afterEach(async function () {
    await chip.close();
  });

  it('powers on into the app: EN high, GPIO0 high, boot from flash', async function () {
    expect(seen(chip.trace, 0)).to.equal('EN=1 boot:flash');
    await out.waitFor(/hil_agent: test agent ready/);
    expect(out.text).to.match(/rst:0x1 \(POWERON_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\)/);
    expect(chip.state).to.equal('app');
  });

  it('classic sequence, one line per step: download mode, because EN rises after GPIO0 went low', async function () {
    const from = chip.trace.length;
    const printed = out.text.length;
    await applySequence(chip, CLASSIC, 'classic');
    // D1 releases EN while RTS is still asserted; R0 then pulls GPIO0 low; EN crosses its
    // threshold only after the RC delay, with GPIO0 low: the ROM's serial loader.
    expect(seen(chip.trace, from)).to.equal('EN=0 GPIO0=0 EN=1 boot:download GPIO0=1');
    const m = await out.waitFor(BOOT_MODE, 2000, printed);
    expect(m[1]).to.equal('0x3');
    expect(m[2]).to.not.equal(undefined);
    expect(out.text.slice(printed)).to.include('rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\nwaiting for download\n');
    expect(chip.state).to.equal('download');
  });

  it('classic sequence on a board without the EN capacitor: GPIO0 is still high when EN rises, so it boots from flash', async function () {
    const bare = new Esp32Chip({ enDelayMs: 0, index: 2 });
    try {
      bare.powerOn();
      const from = bare.trace.length;
      await applySequence(bare, CLASSIC, 'classic');
      expect(seen(bare.trace, from)).to.equal('EN=0 EN=1 boot:flash GPIO0=0 GPIO0=1');
      expect(bare.state).to.equal('app');
    } finally {
      await bare.close();
    }
  });

  it('unix-tight sequence (both lines per step): download mode, EN and GPIO0 changing in one step', async function () {
    const from = chip.trace.length;
    await applySequence(chip, 'D0|R1|W100|D1|R0|W50|D0|R0', 'tight');
    expect(seen(chip.trace, from)).to.equal('EN=0 GPIO0=0 EN=1 boot:download GPIO0=1');
    const lines = chip.trace.slice(from).filter((e) => e.kind === 'lines');
    expect(lines.map((e) => e.kind === 'lines' && `${+e.dtr}${+e.rts}`)).to.deep.equal(['01', '10', '00']);
    expect(chip.state).to.equal('download');
  });

  it('hard reset R1|W100|R0: EN pulsed with GPIO0 high, a boot from flash', async function () {
    await applySequence(chip, CLASSIC, 'classic');
    const from = chip.trace.length;
    const printed = out.text.length;
    await applySequence(chip, HARD, 'classic');
    await out.waitFor(/hil_agent: test agent ready/, 2000, printed);
    expect(seen(chip.trace, from)).to.equal('EN=0 EN=1 boot:flash');
    expect(out.text.slice(printed).match(BOOT_MODE)![1]).to.equal('0x13');
  });

  it('opening a port (both lines asserted) neither resets nor changes the boot pins', async function () {
    const from = chip.trace.length;
    chip.setLines({ dtr: true, rts: true });
    chip.setLines({ dtr: false, rts: false });
    expect(seen(chip.trace, from)).to.equal('');
    expect(chip.state).to.equal('app');
  });

  it('RTS held: the chip stays in reset, silent, until it is released', async function () {
    await out.waitFor(/hil_agent: test agent ready/);
    chip.setLines({ dtr: false, rts: true });
    expect(chip.pins).to.deep.equal({ en: 0, gpio0: 1 });
    const before = out.text.length;
    chip.input(Buffer.from('@hil 1 hello\n'));
    expect(out.text.length).to.equal(before);
    chip.setLines({ dtr: false, rts: false });
    await out.waitFor(/hil_agent: test agent ready/, 2000, before);
    expect(chip.state).to.equal('app');
  });
});

describe('emulated chip: flash and boot', function () {
  it('the factory image says hilt_test_agent; hello reports it with its ELF SHA-256, and the boot prints its first 9 digits', async function () {
    const chip = new Esp32Chip();
    const out = new ChipConsole(chip);
    try {
      const agent = new AgentClient({ write: (t: string) => chip.input(Buffer.from(t)), on: (_e: 'data', fn: (c: Buffer) => void) => chip.onOutput(fn) });
      chip.powerOn();
      const image = readAppImage(chip.flash.read(FACTORY_APP_OFFSET, 0x10000));
      const sha = image.descriptor!.elfSha256;
      const hello = await agent.ok<HelloReply>('hello');
      expect(hello.fw).to.deep.equal({ project: 'hilt_test_agent', version: '1.0.0', idf: chip.board.config.idfVersion, elf_sha256: sha });
      expect(out.text).to.include(`I (283) app_init: ELF file SHA256:  ${sha.slice(0, 9)}...\n`);
      expect(out.text).to.match(/load:0x3fff0030,len:\d+\n/);
    } finally {
      await chip.close();
    }
  });

  it('the agent\'s own reset (esp_restart): the ROM says SW_CPU_RESET and loads the bootloader in flash', async function () {
    const chip = new Esp32Chip({ index: 3 });
    const out = new ChipConsole(chip);
    try {
      chip.powerOn();
      await out.waitFor(/test agent ready/);
      const printed = out.text.length;
      chip.input(Buffer.from('@hil 1 reset\n'));
      await out.waitFor(/test agent ready/, 2000, printed);
      expect(out.text.slice(printed)).to.match(/rst:0xc \(SW_CPU_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\)\n[\s\S]*load:0x3fff0030,len:\d+\n/);
      expect(chip.boots()).to.have.length(1);
    } finally {
      await chip.close();
    }
  });

  it('an image written into flash survives resets and is what boots: hello reports its descriptor', async function () {
    const chip = new Esp32Chip({ index: 4 });
    const out = new ChipConsole(chip);
    try {
      chip.powerOn();
      const image = buildAppImage({ descriptor: { secureVersion: 0, version: '7.1.2', projectName: 'team_app', time: '10:11:12', date: 'Dec  1 2026', idfVersion: 'v5.4.1', elfSha256: 'c0ffee'.padEnd(64, '1') } });
      chip.flash.erase(FACTORY_APP_OFFSET, image.length);
      chip.flash.write(FACTORY_APP_OFFSET, image);
      for (let i = 0; i < 2; i++) {
        const printed = out.text.length;
        await applySequence(chip, HARD, 'classic');
        await out.waitFor(/Project name:     team_app/, 2000, printed);
      }
      const agent = new AgentClient({ write: (t: string) => chip.input(Buffer.from(t)), on: (_e: 'data', fn: (c: Buffer) => void) => chip.onOutput(fn) });
      const hello = await agent.ok<HelloReply>('hello');
      expect(hello.fw).to.deep.equal({ project: 'team_app', version: '7.1.2', idf: 'v5.4.1', elf_sha256: 'c0ffee'.padEnd(64, '1') });
      expect(out.text).to.include('ELF file SHA256:  c0ffee111...');
      expect(out.text).to.include('Compile time:     Dec  1 2026 10:11:12');
    } finally {
      await chip.close();
    }
  });
});

describe('emulated chip: UART rate', function () {
  it('a host at another baud rate reads noise and is read as noise; at 115200 the agent answers', async function () {
    const chip = new Esp32Chip({ index: 5 });
    const out = new ChipConsole(chip);
    try {
      chip.powerOn();
      await out.waitFor(/test agent ready/);
      chip.setBaudRate(9600);
      const printed = out.text.length;
      chip.input(Buffer.from('@hil 1 hello\n'));
      chip.setBaudRate(115_200);
      chip.input(Buffer.from('\n@hil 2 heap.stats\n'));
      await out.waitFor(/@hil 2 ok/, 2000, printed);
      // The first command was noise to the chip: it never answered it.
      expect(out.text.slice(printed)).to.not.match(/@hil 1 /);
      chip.setBaudRate(921_600);
      const noisy = out.text.length;
      chip.setBaudRate(115_200);
      chip.input(Buffer.from('@hil 3 hello\n'));
      await out.waitFor(/@hil 3 ok/, 2000, noisy);
    } finally {
      await chip.close();
    }
  });

  it('paced (realtime): 11.5 KB at 115200 baud take at least a second on the wire', async function () {
    const chip = new Esp32Chip({ index: 6, pace: true });
    const out = new ChipConsole(chip);
    try {
      chip.powerOn();
      await out.waitFor(/test agent ready/);
      const started = performance.now();
      const printed = out.text.length;
      // An over-long line (11.5 KB) is answered with err too_long once the whole line is in.
      chip.input(Buffer.from(`@hil 1 hello ${'x'.repeat(11_500)}\n`));
      await out.waitFor(/@hil 1 err/, 5000, printed);
      // 10 bits a byte at 115200 baud: a lower bound the emulation must not beat.
      expect(performance.now() - started).to.be.at.least(11_500 * 10 / 115_200 * 1000 * 0.95);
    } finally {
      await chip.close();
    }
  });
});

describe('emulated chip: in process as a stream', function () {
  it('openChipBoard: the agent over a Duplex, the lines on chip.setLines', async function () {
    const { openChipBoard } = await import('../../emulator/index.ts');
    const served = openChipBoard({ index: 11 });
    try {
      const agent = new AgentClient(served.stream);
      expect((await agent.ok<HelloReply>('hello')).fw.project).to.equal('hilt_test_agent');
      await applySequence(served.chip, CLASSIC, 'classic');
      expect(served.chip.state).to.equal('download');
    } finally {
      await served.close();
    }
  });
});
