import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import {
  BRIDGES, SEQUENCES, bridgeFor, enterDownloadMode, hardReset, parseResetSequence, runResetSequence, sequenceFrom,
} from '../../harness/device/reset-sequence.ts';
import { DeviceError } from '../../harness/device/device.ts';
import { UsageError } from '../../harness/errors.ts';
import { TransportError, type ModemLines, type Transport, type TransportCapabilities } from '../../harness/transport/transport.ts';
import { rejection } from '../helpers.ts';

type Event = { set: ModemLines } | { wait: number };

/**
 * A transport that records every setSignals call, in order with the waits between them, and
 * prints what `boot(calls)` says the ROM would print once the sequence is over.
 */
class RecordingTransport extends EventEmitter implements Transport {
  readonly kind = 'memory' as const;
  readonly description = 'recording transport';
  readonly capabilities: TransportCapabilities = { lineControl: true, baudRate: false };
  isOpen = true;
  readonly events: Event[] = [];

  constructor(private readonly respond: (lines: ModemLines, events: Event[]) => string | null = () => null) {
    super();
  }

  async setSignals(lines: ModemLines): Promise<void> {
    this.events.push({ set: { ...lines } });
    const text = this.respond(lines, this.events);
    // As a UART would: the bytes arrive after the call that caused them, not inside it.
    if (text !== null) setImmediate(() => this.emit('data', Buffer.from(text)));
  }

  readonly sleep = async (ms: number) => { this.events.push({ wait: ms }); };
  async open(): Promise<void> {}
  async write(): Promise<void> {}
  async close(): Promise<void> {}
}

const set = (dtr: 0 | 1, rts: 0 | 1): Event => ({ set: { dtr: dtr === 1, rts: rts === 1 } });
const FLASH_BOOT = 'ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nconfigsip: 0\r\n';
const DOWNLOAD_BOOT = 'ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n';

describe('reset sequences', () => {
  describe('parseResetSequence', () => {
    it('reads esptool\'s notation, W in milliseconds', () => {
      expect(parseResetSequence('D0|R1|W100|D1|R0|W50|D0').steps).to.deep.equal([
        { op: 'dtr', asserted: false }, { op: 'rts', asserted: true }, { op: 'wait', ms: 100 },
        { op: 'dtr', asserted: true }, { op: 'rts', asserted: false }, { op: 'wait', ms: 50 }, { op: 'dtr', asserted: false },
      ]);
      expect(parseResetSequence('U1,0|W5').steps).to.deep.equal([{ op: 'both', lines: { dtr: true, rts: false } }, { op: 'wait', ms: 5 }]);
    });

    it('names the bad step and its place', () => {
      const err = (() => { try { parseResetSequence('D0|R1|X1|D0'); } catch (e) { return e as Error; } return null; })();
      expect(err).to.be.instanceOf(UsageError);
      expect(err!.message).to.match(/step 3 "X1" is not D0\/D1/);
      expect(() => parseResetSequence('D0|W0.1|R0')).to.throw(UsageError, /step 2 "W0.1" counts seconds.*W100/);
      expect(() => parseResetSequence('R1|W20000|R0')).to.throw(UsageError, /step 2 "W20000" waits 20000 ms/);
      expect(() => parseResetSequence('W100')).to.throw(UsageError, /sets no line/);
      expect(() => parseResetSequence('')).to.throw(UsageError, /step 1 ""/);
    });

    it('takes a name from SEQUENCES or a custom sequence', () => {
      expect(sequenceFrom('classic-slow', 'download')).to.equal(SEQUENCES['classic-slow']);
      expect(sequenceFrom('R1|W300|R0', 'flash')).to.include({ name: 'custom', text: 'R1|W300|R0', expect: 'flash' });
    });
  });

  describe('runResetSequence (every step through setSignals, in order)', () => {
    it('classic sets one line per step and keeps the other as it was', async () => {
      const t = new RecordingTransport();
      await runResetSequence(t, SEQUENCES.classic, { sleep: t.sleep });
      expect(t.events).to.deep.equal([set(0, 0), set(0, 1), { wait: 100 }, set(1, 1), set(1, 0), { wait: 50 }, set(0, 0)]);
    });

    it('classic-slow differs only in the wait after releasing reset', async () => {
      const t = new RecordingTransport();
      await runResetSequence(t, SEQUENCES['classic-slow'], { sleep: t.sleep });
      expect(t.events).to.deep.equal([set(0, 0), set(0, 1), { wait: 100 }, set(1, 1), set(1, 0), { wait: 550 }, set(0, 0)]);
    });

    it('unix-tight sets both lines per step, never passing through DTR and RTS both asserted after reset', async () => {
      const t = new RecordingTransport();
      await runResetSequence(t, SEQUENCES['unix-tight'], { sleep: t.sleep });
      expect(t.events).to.deep.equal([set(0, 0), set(1, 1), set(0, 1), { wait: 100 }, set(1, 0), { wait: 50 }, set(0, 0), set(0, 0)]);
    });

    it('hard pulses RTS with DTR released (GPIO0 high: boot from flash)', async () => {
      const t = new RecordingTransport();
      await runResetSequence(t, SEQUENCES.hard, { sleep: t.sleep });
      expect(t.events).to.deep.equal([set(0, 1), { wait: 100 }, set(0, 0)]);
    });

    it('usb-jtag goes through (1,1) rather than (0,0) on its way into reset', async () => {
      const t = new RecordingTransport();
      await runResetSequence(t, SEQUENCES['usb-jtag'], { sleep: t.sleep });
      expect(t.events).to.deep.equal([
        set(0, 0), set(0, 0), { wait: 100 }, set(1, 0), set(1, 0), { wait: 100 }, set(1, 1), set(0, 1), set(0, 1), { wait: 100 }, set(0, 1), set(0, 0),
      ]);
    });

    it('holds the lines for at least each W on the real clock', async () => {
      const t = new RecordingTransport();
      const at: number[] = [];
      t.setSignals = async () => { at.push(performance.now()); };
      await runResetSequence(t, parseResetSequence('R1|W40|R0|W30|D1'));
      expect(at).to.have.length(3);
      // Lower bounds only: a busy machine may hold longer, never shorter.
      expect(at[1]! - at[0]!).to.be.at.least(39);
      expect(at[2]! - at[1]!).to.be.at.least(29);
    });

    it('refuses a transport without modem lines (a pty) before touching it', async () => {
      const t = new RecordingTransport();
      t.capabilities.lineControl = false;
      const err = await rejection(runResetSequence(t, SEQUENCES.classic, { sleep: t.sleep }));
      expect(err).to.be.instanceOf(TransportError);
      expect(err.message).to.match(/recording transport has no modem lines.*reset=none/);
      expect(t.events).to.deep.equal([]);
    });

    it('stops between steps when aborted', async () => {
      const t = new RecordingTransport();
      const ac = new AbortController();
      const err = await rejection(runResetSequence(t, SEQUENCES.classic, { signal: ac.signal, sleep: async (ms) => { t.events.push({ wait: ms }); ac.abort(new Error('interrupted')); } }));
      expect(err.message).to.equal('interrupted');
      expect(t.events).to.deep.equal([set(0, 0), set(0, 1), { wait: 100 }]);
    });
  });

  describe('enterDownloadMode / hardReset (read the ROM\'s boot line)', () => {
    it('tries the next sequence when the ROM booted from flash, and says which one worked', async () => {
      let sequencesEnded = 0;
      // The ROM prints once per sequence, at its last step: flash after the first, download after the second.
      const t = new RecordingTransport((_lines, events) => {
        const last = events.length === 8 || events.length === 8 + 7;
        if (!last) return null;
        return ++sequencesEnded === 1 ? FLASH_BOOT : DOWNLOAD_BOOT;
      });
      const outcome = await enterDownloadMode(t, [SEQUENCES['unix-tight'], SEQUENCES.classic], { sleep: t.sleep, bootTimeoutMs: 5_000 });
      expect(outcome.sequence.name).to.equal('classic');
      expect(outcome.boot).to.include({ download: true, bootCode: 3 });
      expect(t.events).to.have.length(15);
    });

    it('names every sequence tried and what the ROM said when the board never enters download mode', async () => {
      const t = new RecordingTransport((lines) => (!lines.dtr && !lines.rts ? FLASH_BOOT : null));
      const err = await rejection(enterDownloadMode(t, [SEQUENCES.classic], { sleep: t.sleep, bootTimeoutMs: 5_000 }));
      expect(err).to.be.instanceOf(DeviceError);
      expect(err.message).to.match(/^board on recording transport did not enter download mode after classic \(D0\|R1\|W100\|D1\|R0\|W50\|D0\): rst:0x1 \(POWERON_RESET\),boot:0x13/);
      expect(err.message).to.match(/hold BOOT/);
      expect(err.message.split('\n')).to.have.length(1);
    });

    it('says no boot line came within the bound', async () => {
      const t = new RecordingTransport();
      const err = await rejection(hardReset(t, SEQUENCES.hard, { sleep: t.sleep, bootTimeoutMs: 30 }));
      expect(err).to.be.instanceOf(DeviceError);
      expect(err.message).to.match(/did not boot from flash after hard \(R1\|W100\|R0\): no ROM boot line within 30 ms/);
    });

    it('a hard reset that lands in download mode is the wrong mode', async () => {
      const t = new RecordingTransport((lines) => (lines.rts ? null : DOWNLOAD_BOOT));
      const err = await rejection(hardReset(t, SEQUENCES.hard, { sleep: t.sleep, bootTimeoutMs: 5_000 }));
      expect(err.message).to.match(/did not boot from flash after hard \(R1\|W100\|R0\): rst:0x1 .*boot:0x3/);
      const ok = new RecordingTransport((lines) => (lines.rts ? null : FLASH_BOOT));
      expect((await hardReset(ok, SEQUENCES.hard, { sleep: ok.sleep, bootTimeoutMs: 5_000 })).boot.download).to.equal(false);
    });

    it('stops waiting when the transport goes away (a USB-Serial/JTAG board re-enumerating)', async () => {
      const t = new RecordingTransport((lines) => {
        if (lines.rts) return null;
        setImmediate(() => { t.isOpen = false; t.emit('close', { expected: false, reason: 'gone' }); });
        return null;
      });
      const err = await rejection(hardReset(t, SEQUENCES.hard, { sleep: t.sleep, bootTimeoutMs: 60_000 }));
      expect(err).to.be.instanceOf(TransportError);
      expect(err.message).to.match(/went away during reset sequence hard.*serial_number/);
    });
  });

  describe('on a bare model of the DevKitC circuit (the emulated chip checks the same: reset-sequence-chip.spec.ts)', () => {
    /**
     * BENCH's table: EN low iff RTS asserted and DTR not; GPIO0 low iff DTR asserted and RTS not.
     * EN rises slowly (its capacitor), so the chip samples GPIO0 once the steps made in the same
     * instant as the rise are done, and before the next wait ends. Prints what the ROM would,
     * for the last rise of EN, once the sequence is over.
     */
    function devkitc(rc: boolean): RecordingTransport {
      const t: RecordingTransport = new RecordingTransport(() => {
        if (scheduled) return null;
        scheduled = true;
        setImmediate(() => {
          let now = 0;
          let en = true;
          let rise: number | null = null;
          let gpio0AtRise = true;
          for (const e of t.events) {
            if ('wait' in e) { now += e.wait; continue; }
            const enNow = !(e.set.rts && !e.set.dtr);
            const gpio0 = !(e.set.dtr && !e.set.rts);
            if (enNow && !en) { rise = now; gpio0AtRise = gpio0; }
            // With the capacitor, later steps of the same instant still count; without it, only the rise's own.
            else if (rc && rise === now) gpio0AtRise = gpio0;
            en = enNow;
          }
          if (rise !== null && en) t.emit('data', Buffer.from(gpio0AtRise ? FLASH_BOOT : DOWNLOAD_BOOT));
        });
        return null;
      });
      let scheduled = false;
      return t;
    }

    for (const name of ['classic', 'classic-slow', 'unix-tight', 'unix-tight-slow'] as const) {
      it(`${name} lands in download mode`, async () => {
        const t = devkitc(true);
        expect((await enterDownloadMode(t, [SEQUENCES[name]], { sleep: t.sleep, bootTimeoutMs: 5_000 })).boot.download).to.equal(true);
      });
    }

    for (const name of ['hard', 'hard-usb'] as const) {
      it(`${name} boots from flash`, async () => {
        const t = devkitc(true);
        expect((await hardReset(t, SEQUENCES[name], { sleep: t.sleep, bootTimeoutMs: 5_000 })).boot.download).to.equal(false);
      });
    }

    it('without the EN capacitor classic would boot from flash, and unix-tight still works (why both exist)', async () => {
      const t = devkitc(false);
      const err = await rejection(enterDownloadMode(t, [SEQUENCES.classic], { sleep: t.sleep, bootTimeoutMs: 5_000 }));
      expect(err.message).to.match(/did not enter download mode after classic .*boot:0x13/);
      const tight = devkitc(false);
      expect((await enterDownloadMode(tight, [SEQUENCES['unix-tight']], { sleep: tight.sleep, bootTimeoutMs: 5_000 })).boot.download).to.equal(true);
    });
  });

  describe('BRIDGES', () => {
    it('maps the common bridges to esptool\'s sequences', () => {
      expect(bridgeFor(0x10c4, 0xea60)?.download).to.deep.equal(['unix-tight', 'classic', 'unix-tight-slow', 'classic-slow']);
      expect(bridgeFor(0x303a, 0x1001)).to.include({ hard: 'hard-usb' });
      expect(bridgeFor(0x303a, 0x1001)?.download).to.deep.equal(['usb-jtag']);
      expect(bridgeFor(0x1234, 0x5678)).to.equal(undefined);
      for (const b of BRIDGES) for (const name of [...b.download, b.hard]) expect(SEQUENCES[name], name).to.not.equal(undefined);
    });
  });
});
