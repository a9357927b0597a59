/**
 * Flashing faults: a board that never enters download mode (with and without modem lines), a
 * build that does not fit its flash. Each is one line with its exit status, and nothing written.
 */
import { expect } from 'chai';
import { Duplex, PassThrough } from 'node:stream';
import { ExitCode, HiltError } from '../../harness/errors.ts';
import { DEFAULT_RESETS, FlashError, flashBuild } from '../../harness/flash/flasher.ts';
import { MemoryTransport } from '../../harness/transport/memory.ts';
import type { ModemLines } from '../../harness/transport/transport.ts';
import { readIdfBuild } from '../../harness/wire/idf-build.ts';
import { writeIdfBuildFixture } from '../esp/idf-build.ts';
import { rejection, tempDir } from '../helpers.ts';

function peer() {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const stream = Duplex.from({ readable: toHost, writable: fromHost });
  stream.on('error', () => undefined);
  const received: Buffer[] = [];
  fromHost.on('data', (chunk: Buffer) => received.push(chunk));
  return { stream, toHost, received };
}

/**
 * A board whose GPIO0 is tied high (BOOT never reaches it): every EN rise boots from flash, as
 * the ROM prints it. It has modem lines, and answers no SLIP at all.
 */
class BootsFromFlash extends MemoryTransport {
  readonly lines: ModemLines[] = [];
  private en = true;
  constructor(private readonly p: ReturnType<typeof peer>) {
    super(p.stream, 'board that boots from flash');
    this.capabilities.lineControl = true;
  }
  async setSignals(l: ModemLines): Promise<void> {
    this.lines.push({ ...l });
    const en = !(l.rts && !l.dtr);
    if (en && !this.en) this.p.toHost.write('ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n');
    this.en = en;
  }
}

/** The SLIP commands the host sent (opcode of each request frame). */
function opcodes(received: Buffer[]): number[] {
  const all = Buffer.concat(received);
  const ops: number[] = [];
  for (let i = 0; i + 2 < all.length; i++) if (all[i] === 0xc0 && all[i + 1] === 0x00) ops.push(all[i + 2]!);
  return ops;
}

describe('faults: flashing', function () {
  this.timeout(30_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('hilt-flash-')));
  afterEach(() => remove());

  it('a board that boots from flash instead of download mode: exit 3, naming the reset tried and the boot mode seen', async () => {
    await writeIdfBuildFixture(dir);
    const p = peer();
    const transport = new BootsFromFlash(p);
    const err = await rejection(flashBuild({ transport, build: readIdfBuild(dir), connectAttempts: 2, resets: { ...DEFAULT_RESETS, download: DEFAULT_RESETS.download.slice(0, 2) } }));
    expect(err).to.be.instanceOf(HiltError);
    expect((err as HiltError).exitCode).to.equal(ExitCode.unreachable);
    expect(err.message).not.to.include('\n');
    // Every sequence tried is named with what the ROM printed after it.
    expect(err.message).to.match(/^board on board that boots from flash did not enter download mode after unix-tight \(U0,0\|U1,1\|U0,1\|W100\|U1,0\|W50\|U0,0\|D0\): rst:0x1 \(POWERON_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\); classic \(D0\|R1\|W100\|D1\|R0\|W50\|D0\): rst:0x1/);
    expect(err.message).to.match(/: hold BOOT \(GPIO0\) while pressing EN/);
    // The reset went through the transport's lines (EN pulsed, GPIO0 held low while EN rose).
    expect(transport.lines).to.deep.include({ dtr: true, rts: false });
    expect(transport.lines).to.deep.include({ dtr: false, rts: true });
    // Not a byte of the loader protocol reached the board: it was left as it was.
    expect(opcodes(p.received)).to.deep.equal([]);
    await transport.close();
  });

  it('no modem lines and a board not in download mode: exit 3, saying how to put it there by hand', async () => {
    await writeIdfBuildFixture(dir);
    const p = peer();
    const transport = new MemoryTransport(p.stream, 'pty board');
    const err = await rejection(flashBuild({ transport, build: readIdfBuild(dir), connectAttempts: 1 }));
    expect(err).to.be.instanceOf(FlashError);
    expect((err as FlashError).exitCode).to.equal(ExitCode.unreachable);
    expect(err.message).to.match(/the board on pty board did not answer the ROM loader without a reset \(the board must already be in download mode\): hold BOOT while pressing EN \(or start the emulator with --boot download\)/);
    expect(new Set(opcodes(p.received))).to.deep.equal(new Set([0x08]));
    await transport.close();
  });

  it('a build larger than its flash: exit 2 before the board is touched', async () => {
    await writeIdfBuildFixture(dir, { flashSize: '64KB' });
    const p = peer();
    const transport = new MemoryTransport(p.stream);
    const err = await rejection(flashBuild({ transport, build: readIdfBuild(dir) }));
    expect(err).to.be.instanceOf(FlashError);
    expect((err as FlashError).exitCode).to.equal(ExitCode.usage);
    expect(err.message).to.match(/"hilt_fixture_app.bin" at 0x10000 ends past the 64KB flash that flasher_args.json gives/);
    expect(transport.isOpen).to.equal(false);
  });
});
