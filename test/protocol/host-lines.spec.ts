/**
 * Host to device: every v1 command encoded by the harness and read back as a device reads it,
 * and every way a device refuses a line.
 */
import { expect } from 'chai';
import {
  COMMANDS, encodeCommand, MAX_HOST_LINE, parseHostLine, ProtocolError,
  type ArgValue, type ParsedHostLine,
} from '../../harness/protocol/index.ts';

interface RoundTrip {
  args: Record<string, ArgValue | undefined | null>;
  /** What the device reads; the encoded line too, when given. */
  wire: Record<string, string>;
  line?: string;
}

const B64 = Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64');

/** One example per v1 command, with the arguments a scenario would really send. */
const EXAMPLES: Record<string, RoundTrip> = {
  hello: { args: {}, wire: {}, line: '@hil 7 hello' },
  reset: { args: {}, wire: {} },
  'time.set': { args: { epoch: 1767225600 }, wire: { epoch: '1767225600' } },
  'time.clear': { args: {}, wire: {} },
  'store.put': {
    args: { slot: 'lab_ca', kind: 'ca', data: B64, part: '1/3' },
    wire: { slot: 'lab_ca', kind: 'ca', data: B64, part: '1/3' },
  },
  'store.del': { args: { slot: 'lab_ca' }, wire: { slot: 'lab_ca' } },
  'store.list': { args: {}, wire: {} },
  'heap.stats': { args: {}, wire: {} },
  'heap.reserve': { args: { bytes: 40960 }, wire: { bytes: '40960' } },
  'heap.release': { args: {}, wire: {} },
  'tls.connect': {
    args: { host: '127.0.0.1', port: 8883, sni: undefined, ca: 'lab_ca', skip_cn: true, alpn: ['mqtt', 'x'], tls: '1.2', timeout_ms: 0, hold_ms: null },
    wire: { host: '127.0.0.1', port: '8883', ca: 'lab_ca', skip_cn: '1', alpn: 'mqtt,x', tls: '1.2', timeout_ms: '0' },
    line: '@hil 7 tls.connect host=127.0.0.1 port=8883 ca=lab_ca skip_cn=1 alpn=mqtt,x tls=1.2 timeout_ms=0',
  },
  'tls.close': { args: {}, wire: {} },
  'mqtt.connect': {
    args: {
      host: 'broker.lab', port: 8884, ca: 'none', cert: 'dev', key: 'dev_key', ciphers: ['TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256'],
      client_id: 'hilt-device-1', keepalive: 120, clean: false, username: 'u', password: Buffer.from('p w').toString('base64'),
    },
    wire: {
      host: 'broker.lab', port: '8884', ca: 'none', cert: 'dev', key: 'dev_key', ciphers: 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256',
      client_id: 'hilt-device-1', keepalive: '120', clean: '0', username: 'u', password: 'cCB3',
    },
  },
  'mqtt.publish': {
    args: { topic: 'devices/hilt-device-1/température', qos: 1, payload: 'aGk=', retain: false },
    wire: { topic: 'devices/hilt-device-1/température', qos: '1', payload: 'aGk=', retain: '0' },
  },
  'mqtt.subscribe': { args: { topic: 'devices/+/cmd', qos: 2 }, wire: { topic: 'devices/+/cmd', qos: '2' } },
  'mqtt.disconnect': { args: {}, wire: {} },
};

function refusal(parsed: ParsedHostLine | null): Extract<ParsedHostLine, { ok: false }> {
  expect(parsed, 'a refusal').to.not.equal(null);
  if (parsed === null || parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed)}`);
  return parsed;
}

describe('host lines', () => {
  it('has an example for exactly the v1 commands', () => {
    expect(Object.keys(EXAMPLES)).to.have.members([...COMMANDS]);
    expect(COMMANDS).to.have.length(16);
  });

  for (const [command, example] of Object.entries(EXAMPLES)) {
    it(`${command}: encodes and parses back to the same command`, () => {
      const line = encodeCommand(7, command, example.args);
      if (example.line) expect(line).to.equal(example.line);
      expect(line).to.not.match(/[\r\n]/);
      const parsed = parseHostLine(line);
      expect(parsed).to.deep.equal({ ok: true, command: { id: 7, command, args: example.wire } });
    });
  }

  it('reads a Line from the splitter the same as a string', () => {
    expect(parseHostLine({ text: '@hil 2147483647 hello', truncated: false })).to.deep.equal(
      { ok: true, command: { id: 2147483647, command: 'hello', args: {} } });
  });

  describe('encodeCommand refuses what no device could read', () => {
    const cases: [string, () => string, 'bad_args' | 'too_long', RegExp][] = [
      ['id 0', () => encodeCommand(0, 'hello'), 'bad_args', /id 0/],
      ['id 2^31', () => encodeCommand(2 ** 31, 'hello'), 'bad_args', /id 2147483648/],
      ['a fractional id', () => encodeCommand(1.5, 'hello'), 'bad_args', /id 1.5/],
      ['an upper-case command', () => encodeCommand(1, 'Hello'), 'bad_args', /command 'Hello'/],
      ['a command with a space', () => encodeCommand(1, 'tls connect'), 'bad_args', /dotted lower-case/],
      ['a bad key', () => encodeCommand(1, 'tls.connect', { 'Host': 'x' }), 'bad_args', /argument 'Host'/],
      ['a key starting with a digit', () => encodeCommand(1, 'tls.connect', { '9port': 1 }), 'bad_args', /argument '9port'/],
      ['an empty value', () => encodeCommand(1, 'store.del', { slot: '' }), 'bad_args', /slot: empty value/],
      ['a value with a space', () => encodeCommand(1, 'store.del', { slot: 'my ca' }), 'bad_args', /slot: value 'my ca' contains whitespace/],
      ['a value with a newline', () => encodeCommand(1, 'store.del', { slot: 'a\n@hil 2 reset' }), 'bad_args', /whitespace/],
      ['an empty list', () => encodeCommand(1, 'tls.connect', { alpn: [] }), 'bad_args', /alpn: empty value/],
      ['a list item with a comma', () => encodeCommand(1, 'tls.connect', { alpn: ['a,b'] }), 'bad_args', /alpn: list item 'a,b'/],
      ['NaN', () => encodeCommand(1, 'time.set', { epoch: NaN }), 'bad_args', /epoch: NaN/],
      ['a number in exponent form', () => encodeCommand(1, 'time.set', { epoch: 1e21 }), 'bad_args', /epoch: 1e\+21/],
      ['a line over 1024 bytes', () => encodeCommand(1, 'store.put', { data: 'A'.repeat(1020) }), 'too_long', /store.put: line is 1042 bytes/],
    ];
    for (const [what, encode, code, message] of cases) {
      it(what, () => {
        expect(encode).to.throw(ProtocolError, message).with.property('code', code);
      });
    }

    it('accepts a line of exactly 1024 bytes', () => {
      const line = encodeCommand(1, 'store.put', { data: 'A'.repeat(1024 - '@hil 1 store.put data='.length) });
      expect(Buffer.byteLength(line)).to.equal(MAX_HOST_LINE);
    });

    it('counts bytes, not characters', () => {
      const topic = 'é'.repeat(505); // 1010 bytes
      expect(() => encodeCommand(1, 'mqtt.subscribe', { topic, qos: 0 })).to.throw(ProtocolError).with.property('code', 'too_long');
    });
  });

  describe('parseHostLine', () => {
    it('ignores lines that are not protocol lines (console input)', () => {
      for (const text of ['', 'help', ' @hil 1 hello', '@hil', '@HIL 1 hello', '@hil1 hello', 'x@hil 1 hello']) {
        expect(parseHostLine(text), JSON.stringify(text)).to.equal(null);
      }
    });

    const cases: [string, string, number | null, string, RegExp][] = [
      ['garbage after the prefix', '@hil ¿qué?', null, 'bad_args', /id '¿qué\?'/],
      ['no id at all', '@hil ', null, 'bad_args', /id ''/],
      ['id 0', '@hil 0 hello', null, 'bad_args', /id '0': expected a decimal integer 1\.\.2147483647/],
      ['id 2^31', '@hil 2147483648 hello', null, 'bad_args', /id '2147483648'/],
      ['id abc', '@hil abc hello', null, 'bad_args', /id 'abc'/],
      ['a negative id', '@hil -1 hello', null, 'bad_args', /id '-1'/],
      ['an id with a leading zero', '@hil 07 hello', null, 'bad_args', /id '07'/],
      ['no command', '@hil 5', 5, 'bad_args', /no command after id 5/],
      ['an unknown command', '@hil 5 tls.conect host=x', 5, 'unknown_command', /unknown command 'tls.conect'/],
      ['an upper-case command', '@hil 5 HELLO', 5, 'unknown_command', /'HELLO'/],
      ['a token without =', '@hil 6 tls.connect host=x port', 6, 'bad_args', /argument 'port': expected key=value/],
      ['an empty key', '@hil 6 tls.connect =x', 6, 'bad_args', /argument '=x': key must be/],
      ['a bad key', '@hil 6 tls.connect Port=1', 6, 'bad_args', /argument 'Port=1': key must be/],
      ['an empty value', '@hil 6 store.del slot=', 6, 'bad_args', /argument 'slot=': empty value/],
      ['a control character in a value', '@hil 6 store.del slot=a\u0007b', 6, 'bad_args', /control character/],
      ['a duplicate key', '@hil 8 tls.connect host=a port=1 host=b', 8, 'bad_args', /argument 'host' given twice/],
      ['a line over 1024 bytes', `@hil 9 store.put data=${'A'.repeat(1010)}`, 9, 'too_long', /line is 1032 bytes, over the 1024-byte limit/],
    ];
    for (const [what, line, id, code, message] of cases) {
      it(`refuses ${what} with ${code}`, () => {
        const r = refusal(parseHostLine(line));
        expect(r.code).to.equal(code);
        expect(r.id).to.equal(id);
        expect(r.message).to.match(message);
        expect(r.message).to.not.match(/\n/);
      });
    }

    it('refuses a truncated line with too_long, keeping the id it can read', () => {
      const r = refusal(parseHostLine({ text: `@hil 12 store.put slot=ca data=${'A'.repeat(990)}`, truncated: true }));
      expect(r).to.include({ code: 'too_long', id: 12 });
      expect(r.message).to.match(/over the 1024-byte limit/);
    });

    it('refuses a truncated line even when what is left is short, and without an id when it has none', () => {
      expect(refusal(parseHostLine({ text: '@hil 3 hel', truncated: true }))).to.include({ code: 'too_long', id: 3 });
      expect(refusal(parseHostLine({ text: '@hil xyz', truncated: true }))).to.include({ code: 'too_long', id: null });
    });

    it('caps a long token in the message', () => {
      const r = refusal(parseHostLine(`@hil 4 ${'x'.repeat(500)}`));
      expect(r.message.length).to.be.below(80);
    });

    // Found by test/faults/fuzz.spec.ts: the refusal quoted the control character it refused,
    // so a reply or a log line carried a raw escape sequence or line break.
    it('shows control characters in a refused value as escapes, so the message stays one printable line', () => {
      const r = refusal(parseHostLine('@hil 5 hello a=\x1b[2J\rb'));
      expect(r.message).to.equal("argument 'a=\\u001b[2J\\rb': value contains a control character");
      expect(refusal(parseHostLine('@hil 5 hello\u2028x=1')).message).to.equal("unknown command 'hello\\u2028x=1'");
    });

    it('gives arguments as a prototype-free map, so __proto__ and constructor are plain keys', () => {
      const parsed = parseHostLine('@hil 1 store.del __proto__=x constructor=y');
      if (!parsed?.ok) throw new Error('expected ok');
      expect(Object.getPrototypeOf(parsed.command.args)).to.equal(null);
      expect(parsed.command.args.__proto__).to.equal('x');
      expect(parsed.command.args.constructor).to.equal('y');
    });
  });
});
