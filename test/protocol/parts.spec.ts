/**
 * A PEM bundle bigger than a host line, sent as store.put parts and put back together on the
 * device side, and the ways a transfer goes wrong.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  argBase64, argEnum, argPart, argString, base64Parts, MAX_HOST_LINE, MAX_ID, PartAssembler, parseHostLine,
  ProtocolError, storePutLines,
} from '../../harness/protocol/index.ts';

/** A PEM file of about 3 KB: two certificates' worth of base64 in 64-character lines. */
function pem(bytes = 2200): Buffer {
  const body = randomBytes(bytes).toString('base64').match(/.{1,64}/g)!.join('\n');
  return Buffer.from(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`);
}

function counter(start = 1): () => number {
  let id = start;
  return () => id++;
}

/** What a device does with one store.put line. */
function receive(assembler: PartAssembler, line: string) {
  const parsed = parseHostLine(line);
  if (!parsed?.ok) throw new Error(`line refused: ${JSON.stringify(parsed)}`);
  const { args } = parsed.command;
  const { index, count } = argPart(args);
  return assembler.add(argString(args, 'slot'), argEnum(args, 'kind', ['ca', 'cert', 'key']), index, count, argBase64(args, 'data'));
}

describe('parts', () => {
  describe('base64Parts', () => {
    it('cuts on multiples of 3 bytes, so every part decodes on its own', () => {
      const data = randomBytes(100);
      const parts = base64Parts(data, 42); // 40 characters = 30 bytes per part
      expect(parts.map((p) => p.length)).to.deep.equal([40, 40, 40, 16]);
      expect(Buffer.concat(parts.map((p) => Buffer.from(p, 'base64')))).to.deep.equal(data);
      for (const p of parts) expect(Buffer.from(p, 'base64').toString('base64')).to.equal(p);
    });

    it('gives one part for small data, none for no data, and refuses a size below 4', () => {
      expect(base64Parts(Buffer.from('hi'), 1000)).to.deep.equal(['aGk=']);
      expect(base64Parts(Buffer.alloc(0), 1000)).to.deep.equal([]);
      expect(() => base64Parts(Buffer.from('hi'), 3)).to.throw(RangeError, /at least 4/);
    });
  });

  describe('storePutLines', () => {
    it('sends a 3 KB PEM in lines of at most 1024 bytes that reassemble to the same bytes', () => {
      const data = pem();
      expect(data.length).to.be.within(2900, 3100);
      const lines = storePutLines('lab_ca', 'ca', data, counter(41));
      expect(lines).to.have.length(5); // 723 bytes (964 base64 characters) a line
      lines.forEach((line, i) => {
        expect(Buffer.byteLength(line), `line ${i + 1}`).to.be.at.most(MAX_HOST_LINE);
        expect(line).to.match(new RegExp(`^@hil ${41 + i} store\\.put slot=lab_ca kind=ca data=\\S+ part=${i + 1}/5$`));
      });
      const assembler = new PartAssembler();
      const results = lines.map((line) => receive(assembler, line));
      expect(results.slice(0, -1).map((r) => r.complete)).to.deep.equal([false, false, false, false]);
      const last = results.at(-1)!;
      expect(last).to.include({ complete: true, bytes: data.length });
      expect(last.data).to.deep.equal(data);
    });

    it('fills each line: with the widest id, no line could take one more base64 group', () => {
      const lines = storePutLines('lab_ca', 'ca', pem(), () => MAX_ID);
      for (const line of lines.slice(0, -1)) expect(Buffer.byteLength(line)).to.be.above(MAX_HOST_LINE - 4);
    });

    it('splits the same data the same way whatever ids it gets', () => {
      const data = pem();
      const strip = (lines: string[]) => lines.map((l) => l.replace(/^@hil \d+ /, ''));
      expect(strip(storePutLines('s', 'cert', data, counter(1)))).to.deep.equal(strip(storePutLines('s', 'cert', data, () => MAX_ID)));
    });

    it('sends small data as one part, 1/1', () => {
      expect(storePutLines('k', 'key', Buffer.from('hi'), counter(3))).to.deep.equal(['@hil 3 store.put slot=k kind=key data=aGk= part=1/1']);
    });

    it('keeps lines within the limit when the part count needs more digits', () => {
      const data = randomBytes(90_000); // about 120 parts: part=i/120 is wider than part=1/1
      const lines = storePutLines('big', 'cert', data, counter(1));
      expect(lines.length).to.be.above(99);
      for (const line of lines) expect(Buffer.byteLength(line)).to.be.at.most(MAX_HOST_LINE);
      const assembler = new PartAssembler();
      expect(lines.map((line) => receive(assembler, line)).at(-1)?.data).to.deep.equal(data);
    });

    it('refuses no data, the reserved slot name, and data needing over 1000 parts', () => {
      expect(() => storePutLines('a', 'ca', Buffer.alloc(0), counter())).to.throw(ProtocolError, /no data/);
      expect(() => storePutLines('none', 'ca', Buffer.from('x'), counter())).to.throw(ProtocolError, /'none' is reserved/);
      expect(() => storePutLines('a', 'ca', Buffer.alloc(800_000), counter())).to.throw(ProtocolError, /more than 1000/)
        .with.property('code', 'too_long');
      expect(() => storePutLines('my ca', 'ca', Buffer.from('x'), counter())).to.throw(ProtocolError, /whitespace/);
    });
  });

  describe('PartAssembler', () => {
    const chunk = (s: string) => Buffer.from(s);

    it('refuses a part out of order, and the slot starts over from part 1', () => {
      const a = new PartAssembler();
      expect(a.add('ca', 'ca', 1, 3, chunk('one'))).to.deep.equal({ complete: false, bytes: 3 });
      expect(() => a.add('ca', 'ca', 3, 3, chunk('three'))).to.throw(ProtocolError, /slot 'ca': part 3\/3 out of order, expected part 2\/3/)
        .with.property('code', 'bad_args');
      expect(a.pending).to.deep.equal([]);
      expect(() => a.add('ca', 'ca', 2, 3, chunk('two')), 'the transfer was dropped').to.throw(ProtocolError, /without a transfer in progress/);
      a.add('ca', 'ca', 1, 2, chunk('un'));
      expect(a.add('ca', 'ca', 2, 2, chunk('deux'))).to.deep.equal({ complete: true, bytes: 6, data: chunk('undeux') });
    });

    it('refuses a repeated part', () => {
      const a = new PartAssembler();
      a.add('ca', 'ca', 1, 3, chunk('a'));
      a.add('ca', 'ca', 2, 3, chunk('b'));
      expect(() => a.add('ca', 'ca', 2, 3, chunk('b'))).to.throw(ProtocolError, /out of order, expected part 3\/3/);
    });

    it('refuses a kind or count that changes midway', () => {
      const a = new PartAssembler();
      a.add('x', 'cert', 1, 3, chunk('a'));
      expect(() => a.add('x', 'key', 2, 3, chunk('b'))).to.throw(ProtocolError, /kind changed from cert to key at part 2\/3/);
      a.add('x', 'cert', 1, 3, chunk('a'));
      expect(() => a.add('x', 'cert', 2, 4, chunk('b'))).to.throw(ProtocolError, /part count changed from 3 to 4 at part 2/);
      expect(a.pending).to.deep.equal([]);
    });

    it('restarts a transfer at part 1 and keeps slots apart', () => {
      const a = new PartAssembler();
      a.add('ca', 'ca', 1, 2, chunk('old'));
      a.add('dev', 'cert', 1, 2, chunk('C1'));
      a.add('ca', 'ca', 1, 2, chunk('new'));
      expect(a.add('dev', 'cert', 2, 2, chunk('C2')).data).to.deep.equal(chunk('C1C2'));
      expect(a.add('ca', 'ca', 2, 2, chunk('!')).data).to.deep.equal(chunk('new!'));
    });

    it('refuses an impossible part number, and cancel drops transfers', () => {
      const a = new PartAssembler();
      expect(() => a.add('ca', 'ca', 0, 2, chunk('a'))).to.throw(ProtocolError, /part 0\/2/);
      expect(() => a.add('ca', 'ca', 3, 2, chunk('a'))).to.throw(ProtocolError, /part 3\/2/);
      a.add('ca', 'ca', 1, 2, chunk('a'));
      a.add('dev', 'cert', 1, 2, chunk('a'));
      a.cancel('ca');
      expect(a.pending).to.deep.equal(['dev']);
      a.cancel();
      expect(a.pending).to.deep.equal([]);
    });
  });
});
