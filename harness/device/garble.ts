/**
 * Telling a wrong baud rate (or a binary dump) from a quiet device: watches the raw bytes a
 * device sends and names what is wrong when they stop looking like console text. A Device puts
 * the diagnosis into the error of a command that got no reply, where "no reply" alone would send
 * the user looking for a dead board.
 */

export interface GarbleLimits {
  /** Bytes without a line break that make a diagnosis (default 4 KiB). */
  noBreakBytes: number;
  /** Bytes judged together for printability (default 4 KiB). */
  blockBytes: number;
}

export const DEFAULT_GARBLE: GarbleLimits = { noBreakBytes: 4096, blockBytes: 4096 };

/** Above this share of unprintable characters a block is not console text (ESP-IDF logs: 0 %). */
const UNPRINTABLE_SHARE = 0.25;

function kib(bytes: number): string {
  return bytes >= 1024 ? `${Math.round(bytes / 1024)} KiB` : `${bytes} bytes`;
}

export class GarbleWatch {
  readonly limits: GarbleLimits;
  private sinceBreak = 0;
  private decoder = new TextDecoder('utf-8');
  private blockBytes = 0;
  private blockChars = 0;
  private blockBad = 0;
  private unprintableNow: string | null = null;

  constructor(limits: Partial<GarbleLimits> = {}) {
    this.limits = { ...DEFAULT_GARBLE, ...limits };
  }

  /** Feeds what the device sent. */
  feed(chunk: Buffer): void {
    const nl = chunk.lastIndexOf(0x0a);
    this.sinceBreak = nl === -1 ? this.sinceBreak + chunk.length : chunk.length - nl - 1;
    for (const char of this.decoder.decode(chunk, { stream: true })) {
      const code = char.codePointAt(0)!;
      this.blockChars++;
      // Replacement characters are bytes that are no UTF-8; controls other than tab, CR, LF and
      // ESC (log colours) never appear in console text.
      if (code === 0xfffd || code === 0x7f || (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d && code !== 0x1b)) this.blockBad++;
    }
    this.blockBytes += chunk.length;
    if (this.blockBytes >= this.limits.blockBytes) {
      const share = this.blockBad / Math.max(1, this.blockChars);
      this.unprintableNow = share > UNPRINTABLE_SHARE
        ? `${Math.round(share * 100)} % of the last ${kib(this.blockBytes)} the device sent is not text: wrong baud rate?`
        : null;
      this.blockBytes = this.blockChars = this.blockBad = 0;
    }
  }

  /** The last block judged was mostly not text: worth a note even if no command fails. */
  get unprintable(): string | null {
    return this.unprintableNow;
  }

  /**
   * What looks wrong with the stream now, or null. A long run without a line break is named
   * only here, for a command that got no reply: a long line alone is no fault.
   */
  diagnosis(): string | null {
    if (this.unprintableNow) return this.unprintableNow;
    if (this.sinceBreak >= this.limits.noBreakBytes) return `no line break in the last ${kib(this.sinceBreak)} the device sent: wrong baud rate?`;
    return null;
  }

  /** The device spoke the protocol: whatever came before was not the line's fault. */
  clear(): void {
    this.unprintableNow = null;
    this.blockBytes = this.blockChars = this.blockBad = 0;
  }
}
