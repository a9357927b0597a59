/** The Telnet / COM-PORT-OPTION codec both hilt's RFC 2217 client and the emulator's server use. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  COM, DO, IAC, MAX_SUBNEGOTIATION, SB, SE, TelnetParser, WILL, baudBytes, comPortCommand, commandName, escapeData,
  negotiation, type TelnetEvent,
} from '../../harness/wire/rfc2217.ts';

/** Feeds `bytes` to a fresh parser in the given chunk sizes (cycled) and returns every event. */
function parse(bytes: Buffer, sizes: number[] = [bytes.length || 1]): { events: TelnetEvent[]; parser: TelnetParser } {
  const parser = new TelnetParser();
  const events: TelnetEvent[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    events.push(...parser.push(bytes.subarray(at, at + size)));
    at += size;
  }
  return { events, parser };
}

function dataOf(events: TelnetEvent[]): Buffer {
  return Buffer.concat(events.flatMap((e) => (e.type === 'data' ? [e.bytes] : [])));
}

describe('wire/rfc2217: the Telnet COM-PORT codec', function () {
  it('doubles 0xFF in data and leaves every other byte alone', function () {
    expect([...escapeData(Buffer.from([0x41, 0xff, 0x00, 0xff, 0xff]))]).to.deep.equal([0x41, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff]);
    const plain = Buffer.from('no escapes here');
    expect(escapeData(plain)).to.equal(plain);
  });

  it('frames a COM-PORT command, doubling 0xFF inside the value', function () {
    expect([...comPortCommand(COM.setBaudRate, baudBytes(115200))]).to.deep.equal([IAC, SB, 44, 1, 0x00, 0x01, 0xc2, 0x00, IAC, SE]);
    // 255 baud has a 0xFF byte in its value: doubled, or the server would see IAC there.
    expect([...comPortCommand(COM.setBaudRate, baudBytes(255))]).to.deep.equal([IAC, SB, 44, 1, 0, 0, 0, 0xff, 0xff, IAC, SE]);
    expect([...negotiation(WILL, 44)]).to.deep.equal([IAC, WILL, 44]);
    expect(commandName(105, Buffer.from([8]))).to.equal('SET-CONTROL (DTR on)');
    expect(commandName(COM.purgeData)).to.equal('PURGE-DATA');
  });

  it('gives back arbitrary data unchanged, however the escaped stream is cut', function () {
    const data = randomBytes(20_000);
    data[0] = 0xff;
    data[data.length - 1] = 0xff;
    const wire = escapeData(data);
    for (const sizes of [[1], [2, 3, 1], [4096], [wire.length]]) {
      const { events } = parse(wire, sizes);
      expect(dataOf(events).equals(data), `chunks of ${sizes.join(',')}`).to.equal(true);
      expect(events.every((e) => e.type === 'data')).to.equal(true);
    }
  });

  it('separates negotiations and subnegotiations from data, byte by byte', function () {
    const wire = Buffer.concat([
      Buffer.from('ab'), negotiation(DO, 44), Buffer.from([0x63, IAC, IAC]),
      comPortCommand(105, [8]), comPortCommand(101, baudBytes(0x0001ffff)), Buffer.from([IAC, 241]), Buffer.from('z'),
    ]);
    const { events } = parse(wire, [1]);
    const kinds = events.filter((e) => e.type !== 'data');
    expect(kinds).to.deep.equal([
      { type: 'negotiation', verb: DO, option: 44 },
      { type: 'subnegotiation', option: 44, payload: Buffer.from([105, 8]) },
      { type: 'subnegotiation', option: 44, payload: Buffer.from([101, 0, 1, 0xff, 0xff]) },
      { type: 'command', code: 241 },
    ]);
    expect(dataOf(events).toString('latin1')).to.equal('abc\xffz');
  });

  it('drops an over-long subnegotiation, counts it, and stays in step', function () {
    const long = Buffer.alloc(MAX_SUBNEGOTIATION + 10, 0x41);
    const wire = Buffer.concat([Buffer.from([IAC, SB, 44]), long, Buffer.from([IAC, SE]), comPortCommand(112, [3]), Buffer.from('ok')]);
    const { events, parser } = parse(wire, [7]);
    expect(parser.dropped).to.equal(1);
    expect(events.filter((e) => e.type === 'subnegotiation')).to.deep.equal([{ type: 'subnegotiation', option: 44, payload: Buffer.from([112, 3]) }]);
    expect(dataOf(events).toString()).to.equal('ok');
  });
});
