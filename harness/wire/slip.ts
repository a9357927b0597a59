/**
 * SLIP framing (RFC 1055) as the ESP ROM serial loader and esptool use it: a frame is
 * delimited by 0xC0 on both sides; inside, 0xC0 is sent as DB DC and 0xDB as DB DD.
 */

export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

/** One frame: END, the escaped payload, END. */
export function slipEncode(payload: Buffer): Buffer {
  let extra = 0;
  for (const b of payload) if (b === SLIP_END || b === SLIP_ESC) extra++;
  const out = Buffer.alloc(payload.length + extra + 2);
  let o = 0;
  out[o++] = SLIP_END;
  for (const b of payload) {
    if (b === SLIP_END) { out[o++] = SLIP_ESC; out[o++] = SLIP_ESC_END; }
    else if (b === SLIP_ESC) { out[o++] = SLIP_ESC; out[o++] = SLIP_ESC_ESC; }
    else out[o++] = b;
  }
  out[o] = SLIP_END;
  return out;
}

export interface SlipDecoderOptions {
  /** Longest payload kept, in bytes (default 0x4400: a 16 KiB flash block, its header and room). */
  maxFrameBytes?: number;
}

/**
 * Bytes to frames. Bytes outside a frame (console text, line noise) are skipped, as the ROM
 * skips them; an empty frame (two ENDs in a row) is no frame. A frame longer than the bound is
 * dropped whole and counted in `dropped`, so a peer that never sends END costs bounded memory.
 * An escape followed by anything but DC or DD keeps the byte as it is (the ROM is lenient too)
 * and counts in `badEscapes`.
 */
export class SlipDecoder {
  readonly maxFrameBytes: number;
  /** Over-long frames dropped so far. */
  dropped = 0;
  badEscapes = 0;
  private frame: number[] | null = null;
  private escaping = false;
  private overflow = false;

  constructor(options: SlipDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? 0x4400;
  }

  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    for (const b of chunk) {
      if (b === SLIP_END) {
        if (this.frame && this.frame.length > 0 && !this.overflow) frames.push(Buffer.from(this.frame));
        if (this.overflow) this.dropped++;
        // An END both closes a frame and may open the next one.
        this.frame = [];
        this.escaping = false;
        this.overflow = false;
        continue;
      }
      if (this.frame === null) continue;
      let byte = b;
      if (this.escaping) {
        this.escaping = false;
        if (b === SLIP_ESC_END) byte = SLIP_END;
        else if (b === SLIP_ESC_ESC) byte = SLIP_ESC;
        else this.badEscapes++;
      } else if (b === SLIP_ESC) {
        this.escaping = true;
        continue;
      }
      if (this.overflow) continue;
      if (this.frame.length >= this.maxFrameBytes) {
        this.overflow = true;
        this.frame = [];
        continue;
      }
      this.frame.push(byte);
    }
    return frames;
  }

  /** Forgets a partly received frame (a reset, a purge). */
  reset(): void {
    this.frame = null;
    this.escaping = false;
    this.overflow = false;
  }
}
