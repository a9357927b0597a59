/**
 * Framing a device's console into lines: @serialport/parser-readline (the product brief's
 * choice, a plain Transform any transport can feed) behind a bounding stage.
 *
 * ReadlineParser alone buffers without limit: a board spewing without newlines (a wrong baud
 * rate, a runaway task) would grow its buffer for ever. So the bytes go first through
 * ConsoleLineBound, which hands on only whole lines of at most maxLineBytes: an over-long line is
 * cut to the limit (on a character boundary), ended there, its rest dropped up to its newline or
 * to a protocol line (`@hil `) that began inside it, and the cut is reported (a 'cut' event, and
 * `truncated` on the line). ReadlineParser then never holds more than one bounded line.
 *
 *   bytes -> ConsoleLineBound -> ReadlineParser -> Line {text, truncated}
 *
 * The guarantees are LineSplitter's (harness/protocol/lines.ts), which the bound is built on;
 * test/device/console-lines.spec.ts holds the framer to every one of them.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { ReadlineParser } from '@serialport/parser-readline';
import { LineSplitter, type Line, type LineSplitterOptions } from '../protocol/lines.ts';

const NEWLINE = Buffer.from('\n');

export interface LineCut {
  /** Bytes of the line that were kept (the rest, up to its end, was dropped). */
  keptBytes: number;
}

/**
 * Bytes in, bytes out (object mode: one Buffer per line, `\n`-terminated unless the stream ended
 * inside a line within the limit; `\r` already stripped). `cuts` says, line by line in order, which were cut.
 */
export class ConsoleLineBound extends LineSplitter {
  /** One entry per line handed on, oldest first: whether it was cut. The framer takes them off. */
  readonly cuts: boolean[] = [];

  protected override pushLine(bytes: Buffer, truncated: boolean, terminated: boolean): void {
    const kept = this.kept(bytes);
    this.cuts.push(truncated);
    if (truncated) this.emit('cut', { keptBytes: kept.length } satisfies LineCut);
    // A cut line is ended by the cut (and may keep no byte at all: a limit inside its first
    // character); only a whole last line without its newline goes on unterminated, never empty.
    this.push(terminated || truncated ? Buffer.concat([kept, NEWLINE]) : Buffer.from(kept));
  }
}

/**
 * Bytes in, `Line` objects out, as LineSplitter; inside, the bound and parser-readline. The
 * stages are joined by 'data' listeners rather than pipe(), so a line reaches the reader in the
 * same turn its last byte was written, as with LineSplitter (a console line must not arrive after
 * the 'close' that followed it on the wire).
 */
export class ConsoleFramer extends Transform {
  readonly bound: ConsoleLineBound;
  readonly readline: ReadlineParser;

  constructor(options: LineSplitterOptions = {}) {
    super({ readableObjectMode: true });
    this.bound = new ConsoleLineBound(options);
    // Buffers out (no encoding): each line is decoded whole below, never a character split off by
    // a stream decoder at the end; the delimiter kept, so an empty line is no empty chunk (dropped).
    this.readline = new ReadlineParser({ delimiter: NEWLINE, includeDelimiter: true, encoding: undefined as unknown as BufferEncoding });
    this.bound.on('cut', (cut: LineCut) => this.emit('cut', cut));
    this.bound.on('data', (bytes: Buffer) => this.readline.write(bytes));
    this.bound.once('end', () => this.readline.end());
    this.readline.on('data', (bytes: Buffer) => this.push(this.lineOf(bytes)));
  }

  get maxLineBytes(): number {
    return this.bound.maxLineBytes;
  }

  private lineOf(bytes: Buffer): Line {
    const truncated = this.bound.cuts.shift() ?? false;
    const text = bytes[bytes.length - 1] === 0x0a ? bytes.subarray(0, -1) : bytes;
    return { text: text.toString('utf8'), truncated };
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, callback: TransformCallback): void {
    this.bound.write(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.readline.once('end', () => callback());
    this.bound.end();
  }
}
