/**
 * Device to host: what the harness makes of each line a device prints, from replies to boot ROM
 * text, and what a device's own encoders produce.
 */
import { expect } from 'chai';
import {
  encodeEvent, encodeReply, errBody, parseDeviceLine, ProtocolError, type DeviceLine,
} from '../../harness/protocol/index.ts';

function garbled(line: DeviceLine): string {
  if (line.kind !== 'garbled') throw new Error(`expected garbled, got ${JSON.stringify(line)}`);
  return line.problem;
}

describe('device lines', () => {
  describe('encodeReply and encodeEvent', () => {
    it('put the JSON body on one line after the id and status', () => {
      expect(encodeReply(7, 'ok', { epoch: 0, synced: false })).to.equal('@hil 7 ok {"epoch":0,"synced":false}');
      expect(encodeReply(8, 'err', errBody('busy', 'tls.connect is running'))).to.equal(
        '@hil 8 err {"code":"busy","message":"tls.connect is running"}');
      expect(encodeEvent('boot', { proto: 1, reason: 'POWERON_RESET' })).to.equal('@hil * boot {"proto":1,"reason":"POWERON_RESET"}');
    });

    it('keep newlines in values out of the line', () => {
      const line = encodeEvent('mqtt.disconnected', { reason: 'broker said:\nbye\r\n' });
      expect(line).to.not.match(/[\r\n]/);
      expect(parseDeviceLine(line)).to.deep.equal({ kind: 'event', name: 'mqtt.disconnected', body: { reason: 'broker said:\nbye\r\n' } });
    });

    it('errBody flattens a message to one line', () => {
      expect(errBody('internal', 'first\n  second ')).to.deep.equal({ code: 'internal', message: 'first second' });
    });

    it('refuse a bad id, status, event name or a body that is not an object', () => {
      expect(() => encodeReply(0, 'ok', {})).to.throw(ProtocolError, /reply id 0/);
      expect(() => encodeReply(1, 'fine' as 'ok', {})).to.throw(ProtocolError, /status 'fine'/);
      expect(() => encodeReply(1, 'ok', [1])).to.throw(ProtocolError, /JSON object/);
      expect(() => encodeEvent('Boot', {})).to.throw(ProtocolError, /event 'Boot'/);
    });
  });

  describe('parseDeviceLine', () => {
    it('reads ok and err replies', () => {
      expect(parseDeviceLine('@hil 42 ok {"free":151234,"min_free":120000,"largest":110592}')).to.deep.equal(
        { kind: 'reply', id: 42, status: 'ok', body: { free: 151234, min_free: 120000, largest: 110592 } });
      expect(parseDeviceLine({ text: '@hil 43 err {"code":"no_slot","message":"slot \'lab_ca\' is empty"}', truncated: false }))
        .to.deep.equal({ kind: 'reply', id: 43, status: 'err', body: { code: 'no_slot', message: "slot 'lab_ca' is empty" } });
      expect(parseDeviceLine('@hil 2147483647 ok {}')).to.deep.include({ kind: 'reply', id: 2147483647 });
    });

    it('reads events', () => {
      expect(parseDeviceLine('@hil * boot {"proto":1,"reason":"POWERON_RESET"}')).to.deep.equal(
        { kind: 'event', name: 'boot', body: { proto: 1, reason: 'POWERON_RESET' } });
      expect(parseDeviceLine('@hil * mqtt.message {"topic":"a/b","qos":0,"payload":"aGk="}')).to.deep.equal(
        { kind: 'event', name: 'mqtt.message', body: { topic: 'a/b', qos: 0, payload: 'aGk=' } });
    });

    it('round-trips what a device encodes', () => {
      const body = { connected: true, tls: null, nested: { list: [1, 'two', null] } };
      expect(parseDeviceLine(encodeReply(5, 'ok', body))).to.deep.equal({ kind: 'reply', id: 5, status: 'ok', body });
    });

    it('keeps console text verbatim: ROM boot text, ESP-IDF logs in every form, panics', () => {
      const console = [
        'ets Jun  8 2016 00:22:57',
        'rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
        'I (28) boot: ESP-IDF v5.5 2nd stage bootloader',
        '\x1b[0;31mE (5123) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700\x1b[0m',
        'I (12:30:14.197) main_task: Calling app_main()',
        'E BOD: Brownout detector was triggered',
        "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
        '',
        '  @hil 1 ok {}',
        'I (900) app: sending @hil 1 ok {}',
      ];
      for (const text of console) expect(parseDeviceLine(text)).to.deep.equal({ kind: 'console', text });
    });

    it('keeps a truncated console line as console text', () => {
      expect(parseDeviceLine({ text: 'I (1) x: aaaa', truncated: true })).to.deep.equal({ kind: 'console', text: 'I (1) x: aaaa' });
    });

    const cases: [string, string, RegExp][] = [
      ['a bad id', '@hil abc ok {}', /id 'abc': expected 1\.\.2147483647, or \* for an event/],
      ['id 0', '@hil 0 ok {}', /id '0'/],
      ['an id over 2^31-1', '@hil 2147483648 ok {}', /id '2147483648'/],
      ['nothing after the prefix', '@hil ', /id ''/],
      ['a bad status', '@hil 3 fine {}', /status 'fine': expected ok or err/],
      ['no body', '@hil 3 ok', /no JSON body after 'ok'/],
      ['a body that is not JSON', '@hil 3 ok {"free":', /body is not JSON/],
      ['an array body', '@hil 3 ok [1,2]', /body is an array, expected a JSON object/],
      ['a string body', '@hil 3 ok "done"', /body is a string/],
      ['a null body', '@hil * boot null', /body is null/],
      ['a bad event name', '@hil * Boot {}', /event name 'Boot'/],
      ['an err reply without a code', '@hil 4 err {"message":"x"}', /err reply without a string code and message/],
    ];
    for (const [what, text, problem] of cases) {
      it(`calls ${what} garbled, keeping the text`, () => {
        const line = parseDeviceLine(text);
        expect(garbled(line)).to.match(problem);
        expect(garbled(line)).to.not.match(/\n/);
        expect(line).to.have.property('text', text);
      });
    }

    // Found by test/faults/fuzz.spec.ts: the problem quoted raw control characters from the line.
    it('names the problem of a garbled line on one printable line', () => {
      expect(garbled(parseDeviceLine('@hil \x1b[2J\r ok {}'))).to.equal("id '\\u001b[2J\\r': expected 1..2147483647, or * for an event");
      expect(garbled(parseDeviceLine('@hil 1 ok \u0000'))).to.match(/^body is not JSON: .*\\u0000/).and.not.match(/[\p{Cc}]/u);
    });

    it('calls a truncated protocol line garbled', () => {
      const text = `@hil 3 ok {"slots":[${'{"slot":"a"},'.repeat(20)}`;
      expect(garbled(parseDeviceLine({ text, truncated: true }))).to.match(/cut at \d+ bytes/);
    });
  });
});
