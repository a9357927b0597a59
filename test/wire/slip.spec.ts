import { expect } from 'chai';
import fc from 'fast-check';
import { slipEncode, SlipDecoder } from '../../harness/wire/slip.ts';

describe('harness/wire/slip', function () {
  it('escapes C0 and DB inside a frame, delimits with C0', function () {
    expect(slipEncode(Buffer.from([0x01, 0xc0, 0x02, 0xdb, 0x03])).toString('hex')).to.equal('c001dbdc02dbdd03c0');
  });

  it('decodes what it encodes, however the bytes are cut into chunks', function () {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (payloads, cuts) => {
        const wire = Buffer.concat(payloads.map((p) => slipEncode(Buffer.from(p))));
        const decoder = new SlipDecoder();
        const frames: Buffer[] = [];
        let at = 0;
        for (let i = 0; at < wire.length; i++) {
          const n = cuts[i % cuts.length]!;
          frames.push(...decoder.push(wire.subarray(at, at + n)));
          at += n;
        }
        expect(frames.map((f) => f.toString('hex'))).to.deep.equal(payloads.map((p) => Buffer.from(p).toString('hex')));
      },
    ));
  });

  it('skips bytes before the first END (console text), and empty frames', function () {
    const d = new SlipDecoder();
    expect(d.push(Buffer.from('rst:0x1 boot\r\n'))).to.deep.equal([]);
    expect(d.push(Buffer.from([0xc0, 0xc0, 0x41, 0xc0]))).to.deep.equal([Buffer.from('A')]);
  });

  it('drops an over-long frame whole, counts it, and decodes the next one', function () {
    const d = new SlipDecoder({ maxFrameBytes: 8 });
    const frames = d.push(Buffer.concat([slipEncode(Buffer.alloc(20, 1)), slipEncode(Buffer.from('ok'))]));
    expect(frames).to.deep.equal([Buffer.from('ok')]);
    expect(d.dropped).to.equal(1);
  });

  it('a bad escape keeps the byte and is counted', function () {
    const d = new SlipDecoder();
    expect(d.push(Buffer.from([0xc0, 0xdb, 0x41, 0xc0]))).to.deep.equal([Buffer.from('A')]);
    expect(d.badEscapes).to.equal(1);
  });
});
