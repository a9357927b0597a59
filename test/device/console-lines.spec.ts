/**
 * The console framer (parser-readline behind a bounding stage): the same lines as LineSplitter for
 * any bytes cut any way, memory bounded however long a line runs, the cut reported, and lines
 * delivered in the turn their last byte arrived.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ConsoleFramer, type LineCut } from '../../harness/device/console-lines.ts';
import { LineSplitter, type Line } from '../../harness/protocol/index.ts';

function linesOf(splitter: LineSplitter | ConsoleFramer, chunks: Uint8Array[]): Promise<Line[]> {
  const lines: Line[] = [];
  splitter.on('data', (line: Line) => lines.push(line));
  const done = new Promise<Line[]>((resolve, reject) => splitter.on('end', () => resolve(lines)).on('error', reject));
  for (const chunk of chunks) splitter.write(Buffer.from(chunk));
  splitter.end();
  return done;
}

describe('console framer', function () {
  it('gives exactly LineSplitter\'s lines for any bytes, cut anywhere', async function () {
    // Bytes that make lines interesting: newlines, \r, the protocol prefix, a split "€", 0xFF.
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom('\n', '\r\n', '\r', '@hil ', '@hi', 'l 1 ok {}\n', '€', '\xe2\x82', 'x'.repeat(30)).map((s) => Buffer.from(s, s.startsWith('\xe2') ? 'latin1' : 'utf8')),
    );
    const stream = fc.tuple(fc.array(piece, { maxLength: 30 }), fc.integer({ min: 1, max: 24 }));
    await fc.assert(fc.asyncProperty(stream, async ([chunks, max]) => {
      const expected = await linesOf(new LineSplitter({ maxLineBytes: max }), chunks);
      const framed = await linesOf(new ConsoleFramer({ maxLineBytes: max }), chunks);
      expect(framed).to.deep.equal(expected);
    }), { seed: 9, numRuns: 400 });
  });

  it('holds at most one bounded line, however long a line runs without a newline', async function () {
    const framer = new ConsoleFramer({ maxLineBytes: 256 });
    const cuts: LineCut[] = [];
    framer.on('cut', (cut: LineCut) => cuts.push(cut));
    const lines: Line[] = [];
    framer.on('data', (line: Line) => lines.push(line));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let most = 0;
    for (let i = 0; i < 64; i++) {
      framer.write(chunk);
      // parser-readline's own buffer is what grew without limit before the bound stood in front.
      most = Math.max(most, framer.readline.buffer.length);
    }
    framer.write('\nafter\n');
    expect(most).to.equal(0);
    expect(lines).to.deep.equal([{ text: 'x'.repeat(256), truncated: true }, { text: 'after', truncated: false }]);
    expect(cuts).to.deep.equal([{ keptBytes: 256 }]);
  });

  it('hands a line on in the same turn its newline was written', async function () {
    const framer = new ConsoleFramer();
    const lines: string[] = [];
    framer.on('data', (line: Line) => lines.push(line.text));
    // Once set up (a turn after construction, as a Device is before its transport opens)...
    await new Promise((resolve) => setImmediate(resolve));
    framer.write('ets Jun  8 2016 00:22:57\r\nrst:0x1');
    expect(lines).to.deep.equal(['ets Jun  8 2016 00:22:57']);
    framer.write(' (POWERON_RESET)\n');
    expect(lines).to.deep.equal(['ets Jun  8 2016 00:22:57', 'rst:0x1 (POWERON_RESET)']);
  });
});
