/**
 * Every reset sequence hilt plays on a DevKitC, checked by what the board saw on EN and GPIO0:
 * the emulated ESP32 (its auto-reset circuit with the EN capacitor, its ROM) driven by the
 * sequence runner two ways: as a USB bridge drives it (both lines in one call, as serialport's
 * set() does with one ioctl) and through hilt's RFC 2217 server and transport over a real socket
 * (one line per command). The mode the ROM's boot line reports must be the chip's own decision.
 */
import { expect } from 'chai';
import { Esp32Chip, type ChipOptions, type TraceEntry } from '../../emulator/chip/esp32.ts';
import { serveRfc2217 } from '../../emulator/rfc2217.ts';
import type { UartPeer } from '../../emulator/uart.ts';
import { SEQUENCES, enterDownloadMode, hardReset, type SequenceName } from '../../harness/device/reset-sequence.ts';
import { BaseTransport } from '../../harness/transport/base.ts';
import { Rfc2217Transport } from '../../harness/transport/rfc2217.ts';
import type { ModemLines, Transport } from '../../harness/transport/transport.ts';
import { rejection } from '../helpers.ts';

type Boot = Extract<TraceEntry, { kind: 'boot' }>;

/** A UART peer as a USB bridge presents it: bytes both ways, and both lines set in one call. */
class BridgeTransport extends BaseTransport {
  readonly kind = 'memory' as const;
  readonly description = 'emulated DevKitC behind a USB bridge';
  private attached = false;

  constructor(private readonly peer: UartPeer) {
    super(1_000);
    this.capabilities.lineControl = true;
    peer.onOutput((bytes) => { if (this.attached) this.received(bytes); });
  }

  async setSignals(lines: ModemLines): Promise<void> {
    this.peer.setLines(lines);
  }

  protected async doOpen(): Promise<void> {
    this.attached = true;
  }

  protected async doWrite(data: Buffer): Promise<void> {
    this.peer.input(data);
  }

  protected async doClose(): Promise<void> {
    this.attached = false;
  }

  protected openTimeoutMessage(ms: number): string {
    return `${this.description} did not open within ${ms} ms`;
  }
}

interface Rig {
  chip: Esp32Chip;
  transport: Transport;
  close(): Promise<void>;
}

const WAYS: Array<[string, (options?: ChipOptions) => Promise<Rig>]> = [
  ['a USB bridge (both lines in one call)', async (options) => {
    const chip = new Esp32Chip(options);
    chip.powerOn();
    const transport = new BridgeTransport(chip);
    await transport.open();
    return { chip, transport, close: async () => { await transport.close(); await chip.close(); } };
  }],
  ['RFC 2217 (one line per command, over a socket)', async (options) => {
    const chip = new Esp32Chip(options);
    chip.powerOn();
    const server = await serveRfc2217({ peer: chip });
    const transport = new Rfc2217Transport({ host: '127.0.0.1', port: server.port });
    await transport.open();
    return { chip, transport, close: async () => { await transport.close(); await server.close(); await chip.close(); } };
  }],
];

/** The pin changes and boot decisions the chip recorded from `from` on. */
function seenSince(chip: Esp32Chip, from: number): { pins: string; boots: Boot[] } {
  const entries = chip.trace.slice(from);
  const pins = entries.flatMap((e) => (e.kind === 'pin' ? [`${e.pin}=${e.level}`] : e.kind === 'boot' ? [`boot:${e.mode}`] : [])).join(' ');
  return { pins, boots: entries.filter((e): e is Boot => e.kind === 'boot') };
}

const DOWNLOAD: SequenceName[] = ['classic', 'classic-slow', 'unix-tight', 'unix-tight-slow'];

for (const [way, rig] of WAYS) {
  describe(`reset sequences on the emulated DevKitC, through ${way}`, function () {
    let r: Rig;
    beforeEach(async function () { r = await rig(); });
    afterEach(async function () { await r.close(); });

    for (const name of DOWNLOAD) {
      it(`${name}: EN held low, then rising with GPIO0 low: one boot, into download mode`, async function () {
        // From a running app, as on a bench.
        const from = r.chip.trace.length;
        const outcome = await enterDownloadMode(r.transport, [SEQUENCES[name]]);
        const { pins, boots } = seenSince(r.chip, from);
        expect(boots, pins).to.have.length(1);
        expect(boots[0]).to.include({ mode: 'download', gpio0: 0 });
        expect(pins).to.match(/EN=0 (GPIO0=. )*EN=1 boot:download/);
        expect(outcome.boot).to.include({ download: true, bootCode: 3 });
        expect(r.chip.state).to.equal('download');
      });
    }

    for (const name of ['hard', 'hard-usb'] as const) {
      it(`${name}: from download mode, EN pulsed low with GPIO0 high: one boot, from flash`, async function () {
        await enterDownloadMode(r.transport, [SEQUENCES.classic]);
        const from = r.chip.trace.length;
        const outcome = await hardReset(r.transport, SEQUENCES[name]);
        const { pins, boots } = seenSince(r.chip, from);
        expect(boots, pins).to.have.length(1);
        expect(boots[0]).to.include({ mode: 'flash', gpio0: 1 });
        expect(pins).to.match(/^(GPIO0=1 )?EN=0 EN=1 boot:flash$/);
        expect(outcome.boot).to.include({ download: false, bootCode: 0x13 });
      });
    }
  });
}

describe('a DevKitC without the EN capacitor (why esptool has two download sequences)', function () {
  it('through a USB bridge, classic boots from flash (named in the error) and unix-tight reaches download mode', async function () {
    const r = await WAYS[0]![1]({ enDelayMs: 0 });
    try {
      const err = await rejection(enterDownloadMode(r.transport, [SEQUENCES.classic]));
      expect(err.message).to.match(/did not enter download mode after classic \(D0\|R1\|W100\|D1\|R0\|W50\|D0\): rst:0x1 \(POWERON_RESET\),boot:0x13/);
      expect((await enterDownloadMode(r.transport, [SEQUENCES['unix-tight']])).sequence.name).to.equal('unix-tight');
      expect(r.chip.boots().slice(-2).map((b) => b.mode)).to.deep.equal(['flash', 'download']);
    } finally {
      await r.close();
    }
  });

  it('over RFC 2217 neither does: one line per command makes unix-tight pass through both lines asserted', async function () {
    const r = await WAYS[1]![1]({ enDelayMs: 0 });
    try {
      const err = await rejection(enterDownloadMode(r.transport, [SEQUENCES.classic, SEQUENCES['unix-tight']]));
      expect(err.message).to.match(/after classic .*boot:0x13.*; unix-tight .*boot:0x13/);
    } finally {
      await r.close();
    }
  });
});
