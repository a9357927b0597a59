/**
 * The firmware verdicts on records nobody should produce but a misbehaving device can: packets
 * in any order with any fields missing, a ClientHello that could not be parsed, connections that
 * close before they start, odd suite names. Every judgement either waits (undefined) or gives a
 * verdict with one printable line; with `final` it always decides. Never a throw, never NaN.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Attempt, ClientHelloRecord, PacketRecord } from '../../harness/firmware/records.ts';
import {
  judgeBackoff, judgeCipherSuites, judgeDelivery, judgeExpiredSession, judgeHandshake, judgeKeepalive, judgePublishRetry,
  judgeRefusal, judgeResumedSession, judgeSubscribe, judgeSubscribeRetry, judgeWeakSuites, reconnectIntervals, type Judgement,
} from '../../harness/firmware/verdicts.ts';

const SEED = 20261201;
const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const TYPES = ['connect', 'connack', 'publish', 'puback', 'subscribe', 'suback', 'pingreq', 'pingresp', 'disconnect', 'unknown'];

const packet: fc.Arbitrary<PacketRecord> = fc.record({
  dir: fc.constantFrom('in' as const, 'out' as const),
  atMs: fc.integer({ min: -5, max: 100_000 }),
  type: fc.constantFrom(...TYPES),
  bytes: fc.nat(200_000),
  id: fc.option(fc.integer({ min: 0, max: 65_535 }), { nil: undefined }),
  qos: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  dup: fc.option(fc.boolean(), { nil: undefined }),
  topic: fc.option(fc.constantFrom('t', 'devices/dev/cmd', ''), { nil: undefined }),
  keepalive: fc.option(fc.integer({ min: 0, max: 65_535 }), { nil: undefined }),
  clean: fc.option(fc.boolean(), { nil: undefined }),
  sessionPresent: fc.option(fc.boolean(), { nil: undefined }),
  returnCode: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  withheld: fc.option(fc.boolean(), { nil: undefined }),
  topics: fc.option(fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), { nil: undefined }),
}, { requiredKeys: ['dir', 'atMs', 'type', 'bytes'] });

const hello: fc.Arbitrary<ClientHelloRecord> = fc.record({
  ok: fc.boolean(),
  error: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
  cipherSuites: fc.array(fc.record({ id: fc.integer({ min: 0, max: 0xffff }), name: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('TLS_AES_128_GCM_SHA256', 'TLS_RSA_WITH_NULL_SHA', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA')) }), { maxLength: 40 }),
}).map((h) => ({ ...h, legacyVersion: null, supportedVersions: [], sni: null, groups: [], signatureAlgorithms: [], alpn: [], maxFragmentLength: null, sessionTicket: false, pskOffered: false, bytes: 0 }));

const attempt: fc.Arbitrary<Attempt> = fc.record({
  id: fc.integer({ min: 1, max: 50 }),
  start: fc.integer({ min: 0, max: 200_000 }),
  close: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
  by: fc.constantFrom('device' as const, 'lab' as const),
  outcome: fc.option(fc.constantFrom('ok', 'failed', 'refused', 'stalled', 'refused-idle'), { nil: null }),
  packets: fc.option(fc.array(packet, { maxLength: 12 }), { nil: undefined }),
  alert: fc.option(fc.record({ from: fc.constant('device' as const), level: fc.constantFrom('warning' as const, 'fatal' as const), number: fc.nat(255), name: fc.string({ maxLength: 12 }) }), { nil: null }),
  closedHow: fc.option(fc.constantFrom('fin' as const, 'rst' as const, 'alert' as const), { nil: null }),
  clientHello: fc.option(hello, { nil: undefined }),
}).map(({ id, start, close, by, outcome, packets, alert, closedHow, clientHello }) => ({
  id, listener: 'endpoint', port: 8883, peer: { address: '127.0.0.1', port: 1 },
  startedAt: new Date(T0 + start).toISOString(),
  tls: outcome === null ? null : { outcome: outcome as 'ok', reason: null, code: null, protocol: null, cipher: null, clientCertificate: null, handshakeMs: null },
  mqtt: null, bytesReceived: 0, bytesSent: 0,
  closed: close === null ? null : { at: new Date(T0 + start + close).toISOString(), afterMs: close, by, reason: 'fuzz' },
  packets, alert, closedHow, ...(clientHello ? { clientHello } : {}),
}));

/** A verdict with one printable line, no NaN or undefined spelled into it. */
function clean(j: Judgement | undefined, mustDecide: boolean): void {
  if (j === undefined) {
    expect(mustDecide, 'a final judgement must decide').to.equal(false);
    return;
  }
  expect(j.verdict).to.be.oneOf(['pass', 'warn', 'fail']);
  expect(j.reason).to.be.a('string').and.not.equal('');
  expect(/[\p{Cc}\u2028\u2029]/u.test(j.reason), JSON.stringify(j.reason)).to.equal(false);
  expect(j.reason).to.not.match(/\bNaN\b|\bundefined\b/);
}

describe('faults: firmware verdicts on odd records', () => {
  it('every attempt judgement waits or decides with one clean line; final always decides', () => {
    fc.assert(fc.property(fc.array(attempt, { maxLength: 6 }), fc.boolean(), (as, final) => {
      clean(judgePublishRetry(as, final), final);
      clean(judgeSubscribe(as, final), final);
      clean(judgeSubscribeRetry(as, final), final);
      clean(judgeDelivery(as, 'devices/dev/cmd', final), final);
      for (const a of as) {
        clean(judgeHandshake(a), false);
        clean(judgeWeakSuites(a), false);
        clean(judgeRefusal(a, 'a rogue certificate', true), false);
        clean(judgeKeepalive(a, T0 + 1e6), false);
        clean(judgeResumedSession(a, 'devices/dev/cmd', final), final);
        clean(judgeExpiredSession(a, final), final);
      }
      const intervals = reconnectIntervals(as);
      expect(intervals.every((x) => Number.isInteger(x) && x >= 0), String(intervals)).to.equal(true);
      clean(judgeBackoff(intervals), true);
    }), { seed: SEED, numRuns: 500 });
  });

  it('a ClientHello of any suites, parsed or not, gets a clean verdict', () => {
    fc.assert(fc.property(hello, (h) => clean(judgeCipherSuites(h), true)), { seed: SEED, numRuns: 500 });
  });
});
