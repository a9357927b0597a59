/** The console window a Device holds in memory (harness/device/window.ts). */
import { expect } from 'chai';
import { LineWindow, WindowError } from '../../harness/device/window.ts';

const line = (text: string) => ({ text });

describe('LineWindow', function () {
  it('keeps the newest lines within its line limit, numbering lines for good', function () {
    const w = new LineWindow({ maxLines: 3 });
    for (let i = 0; i < 10; i++) w.push(line(`l${i}`));
    expect(w.held().map((l) => l.text)).to.deep.equal(['l7', 'l8', 'l9']);
    expect({ first: w.first, next: w.next, dropped: w.dropped }).to.deep.equal({ first: 7, next: 10, dropped: 7 });
    expect(w.at(8)!.text).to.equal('l8');
    expect(w.at(6)).to.equal(undefined);
    expect(w.since(8).map((l) => l.text)).to.deep.equal(['l8', 'l9']);
    expect(w.since(10)).to.deep.equal([]);
  });

  it('keeps within its byte limit, counting UTF-8 bytes, and always the newest line', function () {
    const w = new LineWindow({ maxBytes: 10 });
    w.push(line('aaaa'));
    w.push(line('€€')); // 6 bytes
    expect(w.bytes).to.equal(10);
    w.push(line('b'));
    expect(w.held().map((l) => l.text)).to.deep.equal(['€€', 'b']);
    w.push(line('x'.repeat(50)));
    expect(w.held().map((l) => l.text)).to.deep.equal(['x'.repeat(50)]);
  });

  it('a mark whose lines were dropped: a WindowError naming how many and the limits', function () {
    const w = new LineWindow({ maxLines: 2, maxBytes: 2 * 1024 * 1024 });
    for (let i = 0; i < 5; i++) w.push(line(`l${i}`));
    expect(() => w.since(1)).to.throw(WindowError,
      /^the console lines since mark 1 are no longer all in memory: 2 of them were dropped \(a device keeps its last 2 lines or 2 MiB of console; every line is in the scenario's console log\): take the mark closer to what is looked for$/);
  });

  it('stays correct across its compaction', function () {
    const w = new LineWindow({ maxLines: 10 });
    for (let i = 0; i < 5000; i++) w.push(line(`l${i}`));
    expect(w.held().map((l) => l.text)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `l${4990 + i}`));
    expect(w.since(4995)[0]!.text).to.equal('l4995');
  });

  it('refuses limits below one', function () {
    expect(() => new LineWindow({ maxLines: 0 })).to.throw(RangeError);
  });
});
