/**
 * The line splitter against a device's byte stream as it really arrives: cut anywhere, with
 * `\r\n` endings, multi-byte characters and lines that never end. The same guarantees hold for
 * the device console's framer (parser-readline behind a bounding stage), run through every case.
 */
import { expect } from 'chai';
import type { Transform } from 'node:stream';
import { ConsoleFramer } from '../../harness/device/console-lines.ts';
import { LineSplitter, type Line, type LineSplitterOptions } from '../../harness/protocol/index.ts';

const SPLITTERS: Array<[string, (options: LineSplitterOptions) => Transform]> = [
  ['LineSplitter', (o) => new LineSplitter(o)],
  ['ConsoleFramer (parser-readline behind a bound)', (o) => new ConsoleFramer(o)],
];

/** Feeds the chunks through a fresh splitter and collects every line once it has ended. */
async function splitWith(make: (o: LineSplitterOptions) => Transform, chunks: (Buffer | string)[], maxLineBytes?: number): Promise<Line[]> {
  const splitter = make(maxLineBytes === undefined ? {} : { maxLineBytes });
  const lines: Line[] = [];
  splitter.on('data', (line: Line) => lines.push(line));
  const done = new Promise((resolve, reject) => splitter.on('end', resolve).on('error', reject));
  for (const chunk of chunks) splitter.write(chunk);
  splitter.end();
  await done;
  return lines;
}

const whole = (text: string): Line => ({ text, truncated: false });

// ROM text with \r\n, an IDF log line, a protocol reply carrying "é" (2 bytes) and "€" (3 bytes),
// an empty line, an emoji (4 bytes) and a last line without a newline.
const STREAM = Buffer.from(
  'rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n' +
  'I (28) boot: ESP-IDF v5.5 2nd stage bootloader\n' +
  '@hil 1 ok {"name":"café €5"}\r\n' +
  '\n' +
  'tail 😀',
);
const EXPECTED: Line[] = [
  whole('rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)'),
  whole('I (28) boot: ESP-IDF v5.5 2nd stage bootloader'),
  whole('@hil 1 ok {"name":"café €5"}'),
  whole(''),
  whole('tail 😀'),
];

for (const [name, make] of SPLITTERS) describe(name, () => {
  const split = (chunks: (Buffer | string)[], maxLineBytes?: number) => splitWith(make, chunks, maxLineBytes);

  it('splits a stream in one chunk, stripping \\r and keeping the unterminated last line', async () => {
    expect(await split([STREAM])).to.deep.equal(EXPECTED);
  });

  it('gives the same lines whichever byte the stream is cut at', async () => {
    for (let at = 0; at <= STREAM.length; at++) {
      const lines = await split([STREAM.subarray(0, at), STREAM.subarray(at)]);
      expect(lines, `cut at byte ${at}`).to.deep.equal(EXPECTED);
    }
  });

  it('gives the same lines when the stream arrives one byte at a time', async () => {
    const bytes = [...STREAM].map((b) => Buffer.from([b]));
    expect(await split(bytes)).to.deep.equal(EXPECTED);
  });

  it('accepts strings on its writable side', async () => {
    expect(await split(['a\r', '\nb\n'])).to.deep.equal([whole('a'), whole('b')]);
  });

  it('emits an over-long line once, cut to the limit, and drops the rest up to the newline', async () => {
    const lines = await split(['0123456789', 'abcdef\nnext\n'], 8);
    expect(lines).to.deep.equal([{ text: '01234567', truncated: true }, whole('next')]);
  });

  it('a reply glued to the end of an over-long line (no newline between) is a line of its own', async () => {
    const lines = await split(['x'.repeat(40) + '@hil 5 ok {}\n', 'next\n'], 16);
    expect(lines).to.deep.equal([{ text: 'x'.repeat(16), truncated: true }, whole('@hil 5 ok {}'), whole('next')]);
  });

  it('finds the reply in the skipped rest of an over-long line, even split across chunks', async () => {
    const lines = await split(['x'.repeat(40), 'y'.repeat(100) + '@hi', 'l 5 ok {}\n'], 16);
    expect(lines).to.deep.equal([{ text: 'x'.repeat(16), truncated: true }, whole('@hil 5 ok {}')]);
  });

  it('never splits a line within the limit: there @hil counts only at the start', async () => {
    expect(await split(['I (5) app: sent @hil 5 ok {}\n'], 64)).to.deep.equal([whole('I (5) app: sent @hil 5 ok {}')]);
  });

  it('keeps a line of exactly the limit whole, also when \\r\\n ends it', async () => {
    expect(await split(['01234567\r', '\n01234567\n'], 8)).to.deep.equal([whole('01234567'), whole('01234567')]);
    expect(await split(['012345678\n'], 8)).to.deep.equal([{ text: '01234567', truncated: true }]);
  });

  it('never cuts a character in half when truncating', async () => {
    // "€" is bytes 6..8; a cut at 7 would split it.
    const lines = await split(['abcdef€xyz\n'], 7);
    expect(lines).to.deep.equal([{ text: 'abcdef', truncated: true }]);
  });

  it('truncates an endless line at the end of the stream', async () => {
    const lines = await split(['x'.repeat(50)], 16);
    expect(lines).to.deep.equal([{ text: 'x'.repeat(16), truncated: true }]);
  });

  it('does not emit an empty remainder, or a lone \\r, at the end', async () => {
    expect(await split(['a\n'])).to.deep.equal([whole('a')]);
    expect(await split(['a\n\r'])).to.deep.equal([whole('a')]);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => make({ maxLineBytes: 0 })).to.throw(RangeError, /maxLineBytes/);
  });
});
