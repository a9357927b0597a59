/**
 * Argument decoding as a device does it: exact forms accepted, everything else refused with a
 * message naming the key and the expected form.
 */
import { expect } from 'chai';
import {
  argBase64, argBool, argEnum, argInt, argList, argPart, argString, checkArgKeys, parseHostLine, ProtocolError,
} from '../../harness/protocol/index.ts';

/** The args of a command line, as the device gets them. */
function args(line: string): Record<string, string> {
  const parsed = parseHostLine(`@hil 1 tls.connect ${line}`);
  if (!parsed?.ok) throw new Error(`test line did not parse: ${JSON.stringify(parsed)}`);
  return parsed.command.args;
}

function refused(fn: () => unknown, message: RegExp): void {
  expect(fn).to.throw(ProtocolError, message).with.property('code', 'bad_args');
}

describe('argument decoding', () => {
  it('argString: the value, a default, or a refusal naming the key', () => {
    expect(argString(args('host=127.0.0.1'), 'host')).to.equal('127.0.0.1');
    expect(argString(args('host=a'), 'sni', { default: 'a' })).to.equal('a');
    refused(() => argString(args('host=a'), 'sni'), /^sni: missing, expected sni=<text>$/);
  });

  it('argString does not see inherited properties as arguments', () => {
    refused(() => argString({}, 'constructor'), /constructor: missing/);
  });

  it('argInt: decimal integers only, within range', () => {
    const a = args('port=8883 neg=-5 hex=0x10 exp=1e3 frac=1.5 plus=+1 big=99999999999999999 high=70000');
    expect(argInt(a, 'port', { min: 1, max: 65535 })).to.equal(8883);
    expect(argInt(a, 'neg')).to.equal(-5);
    expect(argInt(a, 'timeout_ms', { default: 0 })).to.equal(0);
    for (const key of ['hex', 'exp', 'frac', 'plus', 'big']) refused(() => argInt(a, key), new RegExp(`^${key}: expected an integer`));
    // Found by test/faults/fuzz.spec.ts: a leading zero was read as decimal, where C's strtol
    // with base 0 reads octal (010 is 8); -0 and 00 are no spellings encodeCommand ever sends.
    const z = args('oct=010 negzero=-0 zeros=00 zero=0');
    for (const key of ['oct', 'negzero', 'zeros']) refused(() => argInt(z, key), new RegExp(`^${key}: expected an integer .*, got '`));
    expect(argInt(z, 'zero')).to.equal(0);
    refused(() => argInt(a, 'high', { min: 1, max: 65535 }), /^high: expected an integer 1\.\.65535, got '70000'$/);
    refused(() => argInt(a, 'missing', { min: 0, max: 10 }), /^missing: missing, expected missing=<an integer 0\.\.10>$/);
  });

  it('argBool: 0 or 1 only', () => {
    const a = args('on=1 off=0 yes=yes two=2');
    expect(argBool(a, 'on')).to.equal(true);
    expect(argBool(a, 'off')).to.equal(false);
    expect(argBool(a, 'skip_cn', false)).to.equal(false);
    refused(() => argBool(a, 'yes'), /^yes: expected 0 or 1, got 'yes'$/);
    refused(() => argBool(a, 'two'), /two: expected 0 or 1/);
    refused(() => argBool(a, 'clean'), /clean: missing, expected clean=0\|1/);
  });

  describe('argBase64', () => {
    it('decodes standard padded base64', () => {
      for (const bytes of [[0xff], [0xfb, 0xff], [0xfb, 0xef, 0xbe], [0, 1, 2, 3, 4]]) {
        const data = Buffer.from(bytes);
        expect(argBase64({ data: data.toString('base64') }, 'data')).to.deep.equal(data);
      }
    });

    // Each of these Buffer.from(..., 'base64') would accept and turn into some bytes.
    const lenient: [string, string][] = [
      ['missing padding', 'aGk'],
      ['the URL alphabet', '-_8='],
      ['a foreign character', 'aG!k'],
      ['a dot in the middle', 'aGk=.aGk='],
      ['padding in the middle', 'aG==aGk='],
      ['too much padding', 'aGk=='],
      ['a length not a multiple of 4', 'aGkYQ'],
      ['data after the padding', 'aGk=aGk='],
    ];
    for (const [what, value] of lenient) {
      it(`refuses ${what} (${value})`, () => {
        expect(Buffer.from(value, 'base64').length, 'Buffer.from accepts it').to.be.above(0);
        refused(() => argBase64({ data: value }, 'data'), /^data: expected standard base64/);
      });
    }

    it('refuses non-zero bits after the last byte', () => {
      // "aGl=" and "aGk=" both decode to "hi"; only the second is what an encoder writes.
      expect(Buffer.from('aGl=', 'base64').toString()).to.equal('hi');
      refused(() => argBase64({ data: 'aGl=' }, 'data'), /^data: base64 ends in non-zero padding bits/);
    });

    it('lets an optional binary argument be left out', () => {
      expect(argBase64({}, 'payload', Buffer.alloc(0))).to.have.length(0);
      refused(() => argBase64({}, 'payload'), /payload: missing, expected payload=<base64>/);
    });
  });

  it('argList: comma-separated, no empty items', () => {
    expect(argList(args('alpn=mqtt,x'), 'alpn')).to.deep.equal(['mqtt', 'x']);
    expect(argList(args('alpn=mqtt'), 'alpn')).to.deep.equal(['mqtt']);
    expect(argList(args('host=a'), 'alpn', [])).to.deep.equal([]);
    refused(() => argList(args('alpn=a,,b'), 'alpn'), /^alpn: expected a comma-separated list without empty items, got 'a,,b'$/);
    refused(() => argList(args('alpn=a,'), 'alpn'), /alpn: expected a comma-separated list/);
  });

  it('argEnum: one of the listed values', () => {
    const kinds = ['ca', 'cert', 'key'] as const;
    expect(argEnum(args('kind=cert'), 'kind', kinds)).to.equal('cert');
    expect(argEnum(args('host=a'), 'tls', ['1.2', '1.3', 'any'], 'any')).to.equal('any');
    refused(() => argEnum(args('kind=pem'), 'kind', kinds), /^kind: expected one of ca\|cert\|key, got 'pem'$/);
    refused(() => argEnum(args('host=a'), 'kind', kinds), /^kind: missing, expected kind=ca\|cert\|key$/);
  });

  it('argPart: i/n with 1 <= i <= n <= 1000, default 1/1', () => {
    expect(argPart(args('part=2/3'))).to.deep.equal({ index: 2, count: 3 });
    expect(argPart(args('part=1000/1000'))).to.deep.equal({ index: 1000, count: 1000 });
    expect(argPart(args('host=a'))).to.deep.equal({ index: 1, count: 1 });
    expect(argPart(args('chunk=1/2'), 'chunk')).to.deep.equal({ index: 1, count: 2 });
    for (const bad of ['0/3', '4/3', '1/1001', '1/0', '1', '1/2/3', '01/2', 'a/b', '-1/2']) {
      refused(() => argPart({ part: bad }), new RegExp(`^part: expected i/n with 1 <= i <= n <= 1000, got '${bad}'$`));
    }
  });

  it('checkArgKeys: refuses a misspelt argument, naming what the command takes', () => {
    checkArgKeys(args('host=a port=1'), 'tls.connect', ['host', 'port', 'skip_cn']);
    refused(() => checkArgKeys(args('host=a skip_cm=1'), 'tls.connect', ['host', 'skip_cn']),
      /^tls.connect: unknown argument 'skip_cm' \(tls.connect takes host, skip_cn\)$/);
    refused(() => checkArgKeys(args('x=1'), 'hello', []), /hello takes no arguments/);
  });
});
