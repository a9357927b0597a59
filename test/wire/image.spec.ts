import { expect } from 'chai';
import { createHash } from 'node:crypto';
import {
  buildAppImage, buildEspImage, elfShaMatches, encodeAppDescriptor, ImageFormatError, readAppDescriptor, readAppImage,
} from '../../harness/wire/image.ts';
import { encodePartitionTable, readPartitionTable, SINGLE_APP_TABLE } from '../../harness/wire/partition-table.ts';
import { fixtureDescriptor } from '../esp/idf-build.ts';

describe('wire/image: ESP32 app images', () => {
  const descriptor = fixtureDescriptor({ projectName: 'hello_world', version: 'v5.1.2-dirty' });

  it('lays the descriptor out at the offsets esp_app_desc_t gives (0x20 into a normal app image)', () => {
    const image = buildAppImage({ descriptor });
    expect(image.readUInt32LE(0x20)).to.equal(0xabcd5432);
    expect(image.subarray(0x30, 0x30 + 12).toString('latin1')).to.equal('v5.1.2-dirty');
    expect(image.subarray(0x50, 0x50 + 11).toString('latin1')).to.equal('hello_world');
    expect(image.subarray(0x90, 0x90 + 6).toString('latin1')).to.equal('v5.1.2');
    expect(image.subarray(0xb0, 0xd0).toString('hex')).to.equal(descriptor.elfSha256);
    expect(encodeAppDescriptor(descriptor)).to.have.length(256);
  });

  it('round-trips a descriptor and walks the segment headers', () => {
    const image = buildAppImage({ descriptor, payloadBytes: 5000 });
    const read = readAppImage(image);
    expect(read.descriptor).to.deep.equal(descriptor);
    expect(read.chip).to.equal('esp32');
    expect(read.entry).to.equal(0x40081000);
    expect(read.segments).to.have.length(3);
    expect(read.segments[0]).to.deep.include({ loadAddr: 0x3f400020, offset: 0x20, length: 256 + 5000 });
    expect(read.checksumOk).to.equal(true);
    expect(read.hashOk).to.equal(true);
    expect(read.length).to.equal(image.length);
    expect(readAppDescriptor(image)).to.deep.equal(descriptor);
    expect(readAppDescriptor(image.subarray(0x20))).to.deep.equal(descriptor);
  });

  it('puts the checksum (0xEF xor every segment byte) where the length becomes a multiple of 16, then the SHA-256', () => {
    const image = buildEspImage({ segments: [{ loadAddr: 0x40080000, data: Buffer.from([1, 2, 3, 4, 5]) }] });
    // 24 header + 8 segment header + 8 data (padded to 4) = 40; checksum at 47; digest after it.
    expect(image).to.have.length(48 + 32);
    expect(image[47]).to.equal(0xef ^ 1 ^ 2 ^ 3 ^ 4 ^ 5);
    expect(image.subarray(48).equals(createHash('sha256').update(image.subarray(0, 48)).digest())).to.equal(true);
  });

  it('notices a damaged image: checksum and digest', () => {
    const image = buildAppImage({ descriptor });
    const flipped = Buffer.from(image);
    flipped[0x200] = (flipped[0x200] ?? 0) ^ 0xff;
    const read = readAppImage(flipped);
    expect(read.checksumOk).to.equal(false);
    expect(read.hashOk).to.equal(false);
  });

  it('refuses what is not an image, saying why', () => {
    expect(() => readAppImage(Buffer.alloc(64, 0xff))).to.throw(ImageFormatError, /0xff, not the ESP image magic 0xe9/);
    expect(() => readAppImage(Buffer.alloc(10))).to.throw(ImageFormatError, /shorter than the 24-byte header/);
    const truncated = buildAppImage({ descriptor }).subarray(0, 100);
    expect(() => readAppImage(truncated)).to.throw(ImageFormatError, /segment 0 .* runs past the image's end/);
    expect(readAppDescriptor(Buffer.alloc(256))).to.equal(null);
  });

  it('has no descriptor when the first segment does not start with one (a bootloader)', () => {
    const boot = buildEspImage({ segments: [{ loadAddr: 0x3fff0030, data: Buffer.alloc(400, 1) }] });
    expect(readAppImage(boot).descriptor).to.equal(null);
  });

  it('refuses strings longer than their C field', () => {
    expect(() => encodeAppDescriptor({ ...descriptor, projectName: 'x'.repeat(32) })).to.throw(RangeError, /projectName/);
    expect(() => encodeAppDescriptor({ ...descriptor, elfSha256: 'abc' })).to.throw(RangeError, /64 hex/);
  });

  it('matches the ELF SHA-256 prefix ESP-IDF prints at boot', () => {
    const sha = descriptor.elfSha256;
    expect(elfShaMatches(sha, sha)).to.equal(true);
    expect(elfShaMatches(sha, `${sha.slice(0, 16)}...`)).to.equal(true);
    expect(elfShaMatches(sha, sha.slice(0, 16).toUpperCase())).to.equal(true);
    expect(elfShaMatches(sha, 'ffffffffffffffff')).to.equal(false);
    expect(elfShaMatches(sha, sha.slice(0, 4))).to.equal(false);
    expect(elfShaMatches(sha, '')).to.equal(false);
  });
});

describe('wire/partition-table', () => {
  it('writes 0xAA50 entries, the MD5 row and 0xFF to 0xC00, and reads them back', () => {
    const table = encodePartitionTable(SINGLE_APP_TABLE);
    expect(table).to.have.length(0xc00);
    expect([...table.subarray(0, 2)]).to.deep.equal([0xaa, 0x50]);
    expect(table.subarray(12, 15).toString()).to.equal('nvs');
    expect([...table.subarray(96, 98)]).to.deep.equal([0xeb, 0xeb]);
    expect(table.subarray(112, 128).equals(createHash('md5').update(table.subarray(0, 96)).digest())).to.equal(true);
    expect(table[200]).to.equal(0xff);
    expect(readPartitionTable(table)).to.deep.equal(SINGLE_APP_TABLE.map((e) => ({ ...e, flags: 0 })));
  });

  it('refuses a table whose MD5 does not match', () => {
    const table = encodePartitionTable(SINGLE_APP_TABLE);
    table[4] = 0x42;
    expect(readPartitionTable(table)).to.equal(null);
  });
});
