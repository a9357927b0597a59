/**
 * Bytes to lines, for both ends of the agent protocol: the harness splits what a device prints,
 * a device (the emulator) splits what the host sends. Console text and protocol lines share one
 * stream, so the splitter keeps every line and judges none of them.
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface Line {
  /** The line without its `\n` and without a trailing `\r`. */
  text: string;
  /**
   * The line was longer than the splitter's limit: `text` is its start (at most the limit), and
   * the rest was dropped, up to its newline or a protocol line that began inside it.
   */
  truncated: boolean;
}

export interface LineSplitterOptions {
  /** Longest line kept whole, in bytes (default 4096). */
  maxLineBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
/** Protocol lines start with this (codec.ts's PREFIX; lines.ts is below the codec). */
const PROTOCOL = Buffer.from('@hil ');

/**
 * Writable side: bytes. Readable side (object mode): one `Line` per line.
 *
 * Works on bytes, not decoded text: `\n` never occurs inside a multi-byte UTF-8 sequence, so a
 * character split across chunks is whole again once its line is, and the limit is in the unit the
 * protocol counts (bytes). A runaway line (a device spewing without newlines, a wrong baud rate)
 * costs at most maxLineBytes of memory: it is emitted once, cut, and the rest skipped.
 *
 * Skipped, but not blindly: inside a line that ran over the limit, `@hil ` starts a new line. A
 * reply printed right after such a line with no newline between (garbage at the wrong baud rate,
 * another task's endless output) would otherwise be thrown away with the rest, and its command
 * would wait for ever. Lines within the limit are never split: there `@hil ` counts only at the
 * start, as the protocol says.
 */
export class LineSplitter extends Transform {
  readonly maxLineBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside an over-long line that was already emitted: drop bytes up to the next `\n`. */
  private skipping = false;
  /** The last few skipped bytes, in case `@hil ` straddles two chunks. */
  private skippedTail: Buffer = Buffer.alloc(0);

  constructor(options: LineSplitterOptions = {}) {
    super({ readableObjectMode: true });
    const max = options.maxLineBytes ?? 4096;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxLineBytes must be a positive integer, got ${max}`);
    this.maxLineBytes = max;
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    let start = 0;
    for (let nl = bytes.indexOf(LF, start); nl !== -1; nl = bytes.indexOf(LF, start)) {
      this.append(bytes.subarray(start, nl));
      this.endLine(true);
      start = nl + 1;
    }
    this.append(bytes.subarray(start));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.endLine(false);
    callback();
  }

  private append(piece: Buffer): void {
    if (this.skipping) {
      const seen = Buffer.concat([this.skippedTail, piece]);
      const at = seen.indexOf(PROTOCOL);
      if (at === -1) {
        this.skippedTail = Buffer.from(seen.subarray(Math.max(0, seen.length - (PROTOCOL.length - 1))));
        return;
      }
      this.stopSkipping();
      piece = seen.subarray(at);
    }
    if (piece.length === 0) return;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    // One byte of slack: a line of exactly maxLineBytes may still be followed by its `\r`.
    if (this.pendingBytes > this.maxLineBytes + 1) {
      const bytes = Buffer.concat(this.pending, this.pendingBytes);
      this.reset();
      const at = bytes.indexOf(PROTOCOL, 1);
      this.pushLine(at === -1 ? bytes : bytes.subarray(0, at), true, true);
      if (at !== -1) return this.append(bytes.subarray(at));
      this.skipping = true;
      this.skippedTail = Buffer.from(bytes.subarray(bytes.length - (PROTOCOL.length - 1)));
    }
  }

  private stopSkipping(): void {
    this.skipping = false;
    this.skippedTail = Buffer.alloc(0);
  }

  /** `terminated`: a `\n` ended the line (an unterminated empty remainder at the end is no line). */
  private endLine(terminated: boolean): void {
    if (this.skipping) {
      this.stopSkipping();
      return;
    }
    let bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.reset();
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, -1);
    if (!terminated && bytes.length === 0) return;
    this.pushLine(bytes, bytes.length > this.maxLineBytes, terminated);
  }

  /**
   * `truncated`: the line ran over the limit; it is cut to the limit if longer. `terminated`: a
   * `\n` (or, for a cut line, the cut) ended it, rather than the end of the stream.
   */
  protected pushLine(bytes: Buffer, truncated: boolean, _terminated: boolean): void {
    const line: Line = { text: this.kept(bytes).toString('utf8'), truncated };
    this.push(line);
  }

  /** The part of a line that is kept: all of it, or the limit's worth of whole characters. */
  protected kept(bytes: Buffer): Buffer {
    return bytes.length > this.maxLineBytes ? bytes.subarray(0, utf8Cut(bytes, this.maxLineBytes)) : bytes;
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}

/**
 * Where to cut `bytes` to keep at most `max` of them without splitting a UTF-8 character, so a
 * truncated line ends in the last whole character rather than in U+FFFD. Backs off at most three
 * continuation bytes, so invalid input still cuts near `max`.
 */
function utf8Cut(bytes: Buffer, max: number): number {
  let end = Math.min(max, bytes.length);
  for (let back = 0; back < 3 && end > 0 && end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80; back++) end--;
  return end;
}
