/**
 * Test plumbing for the emulated chip: a reset sequence in esptool's notation applied to a
 * UartPeer's lines (a small stand-in for harness/device/reset-sequence.ts, so these tests need
 * only the chip), and a ROM-loader client that speaks SLIP requests to the chip in process.
 */
import { Esp32Chip } from '../../emulator/chip/esp32.ts';
import type { UartPeer } from '../../emulator/uart.ts';
import { decodeResponse, encodeRequest, type RomResponse } from '../../harness/wire/rom.ts';
import { slipEncode, SlipDecoder } from '../../harness/wire/slip.ts';

/**
 * Runs `D0|R1|W100|D1|R0|W50|D0`. `classic`: each D/R step sets one line and keeps the other as
 * it is (one ioctl per line, as esptool's ClassicReset); `tight`: adjacent D and R steps go in
 * one setLines call (UnixTightReset's TIOCMSET).
 */
export async function applySequence(peer: UartPeer, sequence: string, style: 'classic' | 'tight', start = { dtr: false, rts: false }): Promise<void> {
  const lines = { ...start };
  let dirty = false;
  const flush = () => {
    if (dirty) peer.setLines({ ...lines });
    dirty = false;
  };
  for (const step of sequence.split('|')) {
    const code = step[0];
    const arg = Number(step.slice(1));
    if (code === 'W') {
      flush();
      await new Promise((resolve) => setTimeout(resolve, arg));
      continue;
    }
    if (code === 'D') lines.dtr = arg === 1;
    else if (code === 'R') lines.rts = arg === 1;
    else throw new Error(`bad step ${step}`);
    if (style === 'classic') peer.setLines({ ...lines });
    else dirty = true;
  }
  flush();
}

/** Everything the chip prints, as text, and a way to wait for a pattern in it. */
export class ChipConsole {
  text = '';
  private waiters: Array<() => void> = [];

  constructor(chip: UartPeer) {
    chip.onOutput((bytes) => {
      this.text += bytes.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Resolves with the match once the output (from `from`) matches; rejects after `ms`. */
  async waitFor(pattern: RegExp, ms = 5000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.text.slice(from).match(pattern);
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${pattern} in ${ms} ms; the chip printed: ${JSON.stringify(this.text.slice(from).slice(-400))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
}

/** Sends loader requests to a chip and reads its response frames. */
export class RomClient {
  readonly frames: Buffer[] = [];
  private decoder = new SlipDecoder();
  private waiters: Array<() => void> = [];

  constructor(private readonly chip: Esp32Chip) {
    chip.onOutput((bytes) => {
      this.frames.push(...this.decoder.push(bytes));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(op: number, data: Buffer = Buffer.alloc(0), chk = 0): void {
    this.chip.input(slipEncode(encodeRequest(op, data, chk)));
  }

  /**
   * The next frame, bounded. The ROM's banner after a reset reads as a "frame" between the last
   * response's END and the next one's: it is skipped, as esptool flushes it.
   */
  async next(ms = 2000): Promise<RomResponse & { raw: Buffer }> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.frames.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no response frame within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          this.waiters.push(() => { clearTimeout(t); resolve(); });
        });
      }
      const raw = this.frames.shift()!;
      if (/waiting for download/.test(raw.toString('latin1'))) continue;
      const r = decodeResponse(raw);
      return { ...(r ?? { op: -1, value: 0, data: Buffer.alloc(0) }), raw };
    }
  }

  async request(op: number, data: Buffer = Buffer.alloc(0), chk = 0): Promise<RomResponse & { raw: Buffer }> {
    this.send(op, data, chk);
    return this.next();
  }
}

export function le32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return b;
}
