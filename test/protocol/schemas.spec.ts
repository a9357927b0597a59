/**
 * Reply and event shapes: the contract's own examples pass, a missing or mistyped field is named
 * by its path, fields a later version adds are ignored, and another protocol version is refused.
 */
import { expect } from 'chai';
import {
  checkConnectResult, checkErrReply, checkEvent, checkHello, checkReply, parseDeviceLine, SchemaError, UnsupportedProtoError,
} from '../../harness/protocol/index.ts';

/** The connect result example of PROTOCOL.md, as a device would print it. */
const CONTRACT_CONNECT_LINE = '@hil 12 ok ' + JSON.stringify({
  connected: false,
  tls: { version: 'TLSv1.2', cipher: 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', alpn: null,
    peer: { subject: 'CN=lab-broker', issuer: 'CN=Lab Issuing CA', sha256: '...' } },
  error: { esp_err: 32794, esp_err_name: 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED',
    stack_err: 9984, stack_err_name: 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED',
    verify_flags: 8, verify_info: ['The certificate is not correctly signed by the trusted CA'],
    mqtt_error_type: 'TCP_TRANSPORT', connack: null, sock_errno: 0 },
  timing: { dns_ms: 0, tcp_ms: 3, tls_ms: 912, mqtt_ms: null, total_ms: 915, source: 'device' },
  heap: { before: 147968, min: 101234, after: 147968, peak_used: 46734, source: 'device' },
  mqtt: { session_present: false, connack: 0 },
});

function hello(): Record<string, any> {
  return {
    proto: 1,
    agent: { name: 'hilt-agent', version: '1.0.0' },
    fw: { project: 'hilt_agent', version: '1.0.0', idf: 'v5.5', elf_sha256: 'a1b2c3' },
    chip: { model: 'ESP32', revision: 301, cores: 2, mac: '24:0a:c4:00:00:01' },
    mbedtls: {
      version: '3.6.4', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: true,
      ciphersuites: ['TLS1-3-AES-128-GCM-SHA256', 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256'],
    },
    heap: { free: 151234, min_free: 140000, largest: 110592 },
    time: { epoch: 0, synced: false },
  };
}

function connectBody(): Record<string, any> {
  const line = parseDeviceLine(CONTRACT_CONNECT_LINE);
  if (line.kind !== 'reply') throw new Error('the contract example did not parse');
  return structuredClone(line.body);
}

function schemaError(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SchemaError) return err;
    throw err;
  }
  throw new Error('expected a SchemaError');
}

describe('schemas', () => {
  describe('checkHello', () => {
    it('accepts a full hello and returns it typed', () => {
      const h = checkHello(hello());
      expect(h.mbedtls.ciphersuites).to.have.length(2);
      expect(h.fw.elf_sha256).to.equal('a1b2c3');
      expect(h).to.deep.equal(hello());
    });

    it('takes a left-out elf_sha256 (optional in the contract) as null', () => {
      const body = hello();
      delete body.fw.elf_sha256;
      expect(checkHello(body).fw.elf_sha256).to.equal(null);
    });

    it('ignores fields a later version adds', () => {
      const body = hello();
      body.psram = { size: 4194304 };
      body.chip.features = ['wifi', 'bt'];
      const h = checkHello(body);
      expect(h).to.not.have.property('psram');
      expect(h.chip).to.not.have.property('features');
    });

    it('names the path of a missing field', () => {
      const body = hello();
      delete body.mbedtls.tls13;
      const err = schemaError(() => checkHello(body));
      expect(err.path).to.equal('hello.mbedtls.tls13');
      expect(err.message).to.equal('hello.mbedtls.tls13: missing, expected boolean');
    });

    const mistyped: [string, (h: Record<string, any>) => void, string][] = [
      ['ciphersuites not an array', (h) => { h.mbedtls.ciphersuites = 'all'; },
        'hello.mbedtls.ciphersuites: expected array of strings, got string "all"'],
      ['a number among the ciphersuites', (h) => { h.mbedtls.ciphersuites.push(49195); },
        'hello.mbedtls.ciphersuites[2]: expected string, got number 49195'],
      ['a heap size JSON reads as Infinity', (h) => { h.heap.free = Infinity; }, 'hello.heap.free: expected integer, got a number out of range'],
      ['a fractional heap size', (h) => { h.heap.free = 1.5; }, 'hello.heap.free: expected integer, got number 1.5'],
      ['a null chip', (h) => { h.chip = null; }, 'hello.chip: expected object, got null'],
      ['synced as 0', (h) => { h.time.synced = 0; }, 'hello.time.synced: expected boolean, got number 0'],
    ];
    for (const [what, spoil, message] of mistyped) {
      it(`names the path of ${what}`, () => {
        const body = hello();
        spoil(body);
        expect(schemaError(() => checkHello(body)).message).to.equal(message);
      });
    }

    it('refuses a body that is not an object', () => {
      expect(schemaError(() => checkHello([1])).message).to.equal('hello: expected object, got array');
    });

    it('refuses a device of another protocol version, saying which', () => {
      const err = schemaError(() => checkHello({ proto: 2, totally: 'different' }));
      expect(err).to.be.instanceOf(UnsupportedProtoError);
      expect(err.message).to.match(/^hello\.proto: the device speaks agent protocol 2, this hilt speaks 1/);
    });
  });

  describe('checkConnectResult', () => {
    it('accepts the example of the contract', () => {
      const r = checkConnectResult(connectBody());
      expect(r.error?.stack_err).to.equal(9984);
      expect(r.timing.source).to.equal('device');
      expect(r).to.deep.equal(connectBody());
    });

    it('accepts a successful result with null where fields do not apply', () => {
      const body = connectBody();
      Object.assign(body, { connected: true, error: null, mqtt: null });
      Object.assign(body.timing, { mqtt_ms: null });
      body.tls.peer = null;
      expect(checkConnectResult(body)).to.deep.equal(body);
    });

    it('accepts a TCP failure: no TLS info, phases not reached are null', () => {
      const body = connectBody();
      body.tls = null;
      Object.assign(body.timing, { tls_ms: null, source: 'model' });
      Object.assign(body.error, { stack_err: 0, stack_err_name: null, verify_flags: 0, verify_info: [], sock_errno: 111 });
      expect(checkConnectResult(body).tls).to.equal(null);
    });

    it('takes a tls.connect result without mqtt as mqtt null', () => {
      const body = connectBody();
      delete body.mqtt;
      expect(checkConnectResult(body).mqtt).to.equal(null);
    });

    it('names the path of a missing field: null is required, leaving out is not allowed', () => {
      const body = connectBody();
      delete body.error.connack;
      expect(schemaError(() => checkConnectResult(body)).message).to.equal('connect.error.connack: missing, expected integer or null');
      const noTls = connectBody();
      delete noTls.tls;
      expect(schemaError(() => checkConnectResult(noTls)).path).to.equal('connect.tls');
    });

    it('names the path of a mistyped field', () => {
      const body = connectBody();
      body.timing.source = 'board';
      expect(schemaError(() => checkConnectResult(body)).message).to.equal(
        'connect.timing.source: expected one of device|model, got string "board"');
      const badType = connectBody();
      badType.error.mqtt_error_type = 1;
      expect(schemaError(() => checkConnectResult(badType)).path).to.equal('connect.error.mqtt_error_type');
    });

    it('refuses a device that says the host measured its figures', () => {
      const body = connectBody();
      body.heap.source = 'host';
      expect(schemaError(() => checkConnectResult(body)).message).to.equal(
        'connect.heap.source: expected one of device|model, got string "host"');
    });

    describe('the connect task\'s stack (optional)', () => {
      it('accepts a stack figure from the device or the model and returns it', () => {
        for (const source of ['device', 'model']) {
          const body = { ...connectBody(), stack: { size: 8192, peak_used: 5734, source } };
          expect(checkConnectResult(body).stack).to.deep.equal({ size: 8192, peak_used: 5734, source });
        }
      });

      it('leaves stack out of the result when the device left it out: no stand-in', () => {
        const r = checkConnectResult(connectBody(), { elapsedMs: 5 });
        expect(r).to.not.have.property('stack');
      });

      const refusals: Array<[string, unknown, string]> = [
        ['null (a device that cannot measure leaves it out)', null, 'connect.stack: expected object, got null'],
        ['without peak_used', { size: 8192, source: 'device' }, 'connect.stack.peak_used: missing, expected integer'],
        ['with a fractional size', { size: 8192.5, peak_used: 10, source: 'device' }, 'connect.stack.size: expected integer, got number 8192.5'],
        ['from the host', { size: 8192, peak_used: 10, source: 'host' }, 'connect.stack.source: expected one of device|model, got string "host"'],
        ['with more used than there is', { size: 4096, peak_used: 4097, source: 'device' },
          'connect.stack.peak_used: more than size: a task that used more stack than it has overflowed, and does not reply'],
      ];
      for (const [what, stack, message] of refusals) {
        it(`refuses a stack ${what}`, () => {
          expect(schemaError(() => checkConnectResult({ ...connectBody(), stack })).message).to.equal(message);
        });
      }
    });

    describe('timing measured by the host', () => {
      for (const [what, spoil] of [['left out', (b: Record<string, any>) => { delete b.timing; }],
        ['null', (b: Record<string, any>) => { b.timing = null; }]] as const) {
        it(`stands in the host's elapsed time when the device's timing is ${what}`, () => {
          const body = connectBody();
          spoil(body);
          expect(checkConnectResult(body, { elapsedMs: 912.4 }).timing).to.deep.equal(
            { dns_ms: null, tcp_ms: null, tls_ms: null, mqtt_ms: null, total_ms: 912, source: 'host' });
        });
      }

      it("keeps the device's own timing when it sent one", () => {
        expect(checkConnectResult(connectBody(), { elapsedMs: 5 }).timing.total_ms).to.equal(915);
      });

      it('refuses a timing object without total_ms: the host does not patch half a measurement', () => {
        const body = connectBody();
        delete body.timing.total_ms;
        expect(schemaError(() => checkConnectResult(body, { elapsedMs: 5 })).message).to.equal('connect.timing.total_ms: missing, expected number');
      });

      it('names the missing timing when there is no host measure either', () => {
        const body = connectBody();
        delete body.timing;
        expect(schemaError(() => checkConnectResult(body)).path).to.equal('connect.timing');
      });
    });
  });

  describe('checkErrReply', () => {
    it("takes v1's codes and refuses any other", () => {
      expect(checkErrReply({ code: 'busy', message: 'hello is running' })).to.deep.equal({ code: 'busy', message: 'hello is running' });
      expect(schemaError(() => checkErrReply({ code: 'oops', message: 'x' })).message).to.equal(
        'err.code: expected one of bad_args|unknown_command|busy|too_long|no_slot|internal, got string "oops"');
    });
  });

  describe('checkReply and checkEvent', () => {
    it('check the other replies and events by name', () => {
      expect(checkReply('store.list', { slots: [{ slot: 'lab_ca', kind: 'ca', bytes: 1234, sha256: 'ab' }] }).slots[0]?.bytes).to.equal(1234);
      expect(checkReply('tls.close', { extra: 1 })).to.deep.equal({});
      expect(checkReply('hello', hello()).proto).to.equal(1);
      expect(checkEvent('boot', { proto: 1, reason: 'POWERON_RESET' })).to.deep.equal({ proto: 1, reason: 'POWERON_RESET' });
    });

    it('name array elements by index', () => {
      expect(schemaError(() => checkReply('store.list', { slots: [{ slot: 'a', kind: 'ca', bytes: 1, sha256: 'x' }, { slot: 'b' }] })).message)
        .to.equal('store.list.slots[1].kind: missing, expected string');
      expect(schemaError(() => checkReply('mqtt.connect', { connected: 'yes' })).message)
        .to.equal('mqtt.connect.connected: expected boolean, got string "yes"');
      expect(schemaError(() => checkEvent('mqtt.message', { topic: 't', qos: '0', payload: '' })).path).to.equal('mqtt.message.qos');
    });
  });
});
