/** Naming a wrong baud rate from the bytes a device sends (harness/device/garble.ts). */
import { expect } from 'chai';
import { GarbleWatch } from '../../harness/device/garble.ts';

describe('GarbleWatch', function () {
  it('console text, colours and all, is no fault', function () {
    const watch = new GarbleWatch();
    for (let i = 0; i < 200; i++) watch.feed(Buffer.from(`\x1b[0;32mI (${i}) app: temperature 21.5 °C\x1b[0m\r\n`));
    expect(watch.diagnosis()).to.equal(null);
    expect(watch.unprintable).to.equal(null);
  });

  it('4 KiB without a line break: named, in whatever chunks it came', function () {
    const watch = new GarbleWatch();
    watch.feed(Buffer.from('I (1) app: fine\n'));
    for (let i = 0; i < 5; i++) watch.feed(Buffer.from('U'.repeat(1000)));
    expect(watch.diagnosis()).to.equal('no line break in the last 5 KiB the device sent: wrong baud rate?');
    // A long line alone is no unprintable output, so no note-worthy garble.
    expect(watch.unprintable).to.equal(null);
    watch.feed(Buffer.from('\nI (2) app: fine\n'));
    expect(watch.diagnosis()).to.equal(null);
  });

  it('a block mostly of bytes that are not text: named with its share, until a protocol line clears it', function () {
    const watch = new GarbleWatch({ blockBytes: 1024 });
    const noise = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i % 8 === 0 ? 0x0a : 0xff)));
    watch.feed(noise);
    expect(watch.unprintable).to.equal('88 % of the last 1 KiB the device sent is not text: wrong baud rate?');
    expect(watch.diagnosis()).to.equal(watch.unprintable);
    watch.clear();
    expect(watch.diagnosis()).to.equal(null);
  });

  it('a multi-byte character split across chunks is text, not two bad bytes', function () {
    const watch = new GarbleWatch({ blockBytes: 16 });
    const text = Buffer.from('€€€€€\n'); // 16 bytes
    watch.feed(text.subarray(0, 7));
    watch.feed(text.subarray(7));
    expect(watch.unprintable).to.equal(null);
  });
});
