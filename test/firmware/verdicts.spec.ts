/**
 * The catalogue's judgements on hand-made endpoint records: each rule of the verdict table, its
 * pass, warning and failure, and the reason naming what the device did.
 */
import { expect } from 'chai';
import type { Attempt, ClientHelloRecord, PacketRecord } from '../../harness/firmware/records.ts';
import {
  judgeBackoff, judgeCipherSuites, judgeDelivery, judgeExpiredSession, judgeHandshake, judgeKeepalive,
  judgePublishRetry, judgeReconnectWait, judgeRefusal, judgeResumedSession, judgeSubscribe, judgeSubscribeRetry, judgeWeakSuites,
  keepaliveDeadline, reconnectIntervals, sessions, suiteClass,
} from '../../harness/firmware/verdicts.ts';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
let nextId = 1;

/** An endpoint attempt starting `atMs` after T0, with packets and an optional close. */
function attempt(atMs: number, fields: Partial<Attempt> & { closeAfterMs?: number; by?: 'device' | 'lab' } = {}): Attempt {
  const { closeAfterMs, by = 'device', ...rest } = fields;
  return {
    id: nextId++, listener: 'endpoint', port: 8883, peer: { address: '127.0.0.1', port: 50000 },
    startedAt: new Date(T0 + atMs).toISOString(), tls: null, mqtt: null, bytesReceived: 0, bytesSent: 0,
    closed: closeAfterMs === undefined ? null : { at: new Date(T0 + atMs + closeAfterMs).toISOString(), afterMs: closeAfterMs, by, reason: 'test' },
    packets: [],
    ...rest,
  };
}

const tlsOk = { outcome: 'ok' as const, reason: null, code: null, protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', clientCertificate: null, handshakeMs: 30 };
const tlsFailed = (reason: string) => ({ ...tlsOk, outcome: 'failed' as const, reason, protocol: null, cipher: null });
const p = (dir: 'in' | 'out', type: string, atMs: number, more: Partial<PacketRecord> = {}): PacketRecord => ({ dir, type, atMs, bytes: 10, ...more });
const session = (extra: PacketRecord[] = [], keepalive = 60) => [
  p('in', 'connect', 5, { clientId: 'dev', keepalive, clean: true }), p('out', 'connack', 6, { returnCode: 0, sessionPresent: false }), ...extra,
];

function hello(names: string[]): ClientHelloRecord {
  return {
    ok: true, error: null, legacyVersion: 'TLS 1.2', supportedVersions: ['TLS 1.3', 'TLS 1.2'],
    cipherSuites: names.map((name, i) => ({ id: name.startsWith('GREASE') ? 0x1a1a : 0x1300 + i, name })),
    sni: 'localhost', groups: ['x25519'], signatureAlgorithms: [], alpn: [], maxFragmentLength: null,
    sessionTicket: false, pskOffered: false, bytes: 517,
  };
}

describe('firmware verdicts', () => {
  describe('cipher suites', () => {
    it('classes suites by key exchange and cipher', () => {
      const cls = (name: string, id = 1) => suiteClass({ id, name });
      expect(cls('TLS_AES_128_GCM_SHA256')).to.equal('recommended');
      expect(cls('TLS_CHACHA20_POLY1305_SHA256')).to.equal('recommended');
      expect(cls('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256')).to.equal('recommended');
      expect(cls('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256')).to.equal('recommended');
      expect(cls('TLS_ECDHE_ECDSA_WITH_AES_128_CCM')).to.equal('recommended');
      expect(cls('TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256')).to.equal('non-recommended');
      expect(cls('TLS_RSA_WITH_AES_128_GCM_SHA256')).to.equal('non-recommended');
      expect(cls('TLS_DHE_RSA_WITH_AES_128_GCM_SHA256')).to.equal('non-recommended');
      expect(cls('TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256')).to.equal('non-recommended');
      expect(cls('TLS_RSA_WITH_NULL_SHA256')).to.equal('forbidden');
      expect(cls('TLS_ECDHE_RSA_WITH_RC4_128_SHA')).to.equal('forbidden');
      expect(cls('TLS_RSA_WITH_3DES_EDE_CBC_SHA')).to.equal('forbidden');
      expect(cls('TLS_RSA_EXPORT_WITH_RC4_40_MD5')).to.equal('forbidden');
      expect(cls('TLS_DH_anon_WITH_AES_128_GCM_SHA256')).to.equal('forbidden');
      expect(cls('TLS_ECDH_anon_WITH_AES_128_CBC_SHA')).to.equal('forbidden');
      expect(cls('TLS_RSA_WITH_DES_CBC_SHA')).to.equal('forbidden');
      expect(cls('TLS_RSA_EXPORT_WITH_DES40_CBC_SHA')).to.equal('forbidden');
      expect(cls('TLS_RSA_EXPORT1024_WITH_RC4_56_SHA')).to.equal('forbidden');
      expect(cls('TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5')).to.equal('forbidden');
      // Whole parts only: a name merely containing the letters is judged on what it is.
      expect(cls('TLS_ECDHE_ECDSA_WITH_DESERT_256_GCM_SHA384')).to.equal('recommended');
      expect(cls('TLS_EMPTY_RENEGOTIATION_INFO_SCSV')).to.equal('signalling');
      expect(cls('GREASE', 0xdada)).to.equal('signalling');
    });

    it('passes AEAD ECDHE only, warns on CBC or static RSA besides, fails on forbidden or no recommended suite', () => {
      expect(judgeCipherSuites(hello(['GREASE', 'TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV'])))
        .to.deep.equal({ verdict: 'pass', reason: 'offers 2 recommended suites and nothing weaker (first: TLS_AES_128_GCM_SHA256)' });
      expect(judgeCipherSuites(hello(['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'TLS_RSA_WITH_AES_128_GCM_SHA256'])))
        .to.deep.equal({ verdict: 'warn', reason: 'offers 2 non-recommended suites (CBC, static RSA/ECDH, DHE, PSK) besides 1 recommended: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, TLS_RSA_WITH_AES_128_GCM_SHA256' });
      expect(judgeCipherSuites(hello(['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'])))
        .to.deep.equal({ verdict: 'fail', reason: 'offers 1 forbidden suite (NULL, RC4, DES/3DES, export or anonymous): TLS_RSA_WITH_3DES_EDE_CBC_SHA' });
      expect(judgeCipherSuites(hello(['TLS_RSA_WITH_AES_128_CBC_SHA'])))
        .to.deep.equal({ verdict: 'fail', reason: 'offers no recommended suite (AEAD with ECDHE, or TLS 1.3) among its 1: TLS_RSA_WITH_AES_128_CBC_SHA' });
      expect(judgeCipherSuites({ ...hello([]), ok: false, error: 'truncated: 40 of 517 bytes' }))
        .to.deep.equal({ verdict: 'fail', reason: "the device's ClientHello could not be read: truncated: 40 of 517 bytes" });
    });
  });

  describe('weak cipher suites (CBC-only server)', () => {
    const aead = 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256';
    const cbc = 'TLS_RSA_WITH_AES_128_CBC_SHA256';
    it('passes a device that offers no CBC suite and so cannot agree with the server', () => {
      const a = attempt(0, { clientHello: hello([aead, 'TLS_AES_128_GCM_SHA256']), tls: tlsFailed('no shared cipher'), closeAfterMs: 20 });
      expect(judgeWeakSuites(a)).to.deep.equal({ verdict: 'pass', reason: 'offers no CBC suite, so the CBC-only server could not agree with it (no shared cipher)' });
    });
    it('warns on a handshake completed on a CBC suite', () => {
      const a = attempt(0, { clientHello: hello([aead, cbc]), tls: { ...tlsOk, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-SHA256' } });
      const j = judgeWeakSuites(a)!;
      expect(j.verdict).to.equal('warn');
      expect(j.reason).to.match(/^negotiated ECDHE-ECDSA-AES128-SHA256 \(TLSv1\.2\) when the server offered only CBC suites/);
    });
    it('does not claim a device that offers CBC refused it when the handshake failed for another reason', () => {
      // Only static-RSA CBC suites against the ECDSA server: the handshake fails, yet CBC is offered.
      const a = attempt(0, { clientHello: hello([aead, cbc, 'TLS_RSA_WITH_AES_256_CBC_SHA']), tls: tlsFailed('no shared cipher'), closeAfterMs: 20 });
      const j = judgeWeakSuites(a)!;
      expect(j.verdict).to.equal('warn');
      expect(j.reason).to.equal('offers 2 CBC suites (TLS_RSA_WITH_AES_128_CBC_SHA256, TLS_RSA_WITH_AES_256_CBC_SHA) though the handshake with the CBC-only server failed (no shared cipher): leave CBC out of the firmware\'s suite list (CONFIG_MBEDTLS_CIPHER_MODE_CBC)');
      const dropped = attempt(0, { clientHello: hello([cbc]), closeAfterMs: 5 });
      expect(judgeWeakSuites(dropped)!.reason).to.match(/^offers 1 CBC suite \(TLS_RSA_WITH_AES_128_CBC_SHA256\) though the handshake with the CBC-only server failed \(test\)/);
    });
    it('waits for the outcome, and fails without a readable ClientHello', () => {
      expect(judgeWeakSuites(attempt(0, { clientHello: hello([cbc]) }))).to.equal(undefined);
      expect(judgeWeakSuites(attempt(0, { closeAfterMs: 5 }))).to.deep.equal({ verdict: 'fail', reason: 'the connection closed before a ClientHello was read (test)' });
      const bad = { ...hello([]), ok: false, error: 'truncated' };
      expect(judgeWeakSuites(attempt(0, { clientHello: bad, tls: tlsFailed('wrong version number'), closeAfterMs: 5 }))!.reason).to.equal("the device's ClientHello could not be read: truncated");
    });
  });

  describe('reconnect timing', () => {
    it('measures each wait from the close of one attempt to the start of the next', () => {
      const a = [attempt(0, { closeAfterMs: 500 }), attempt(1500, { closeAfterMs: 500 }), attempt(4000, { closeAfterMs: 500 }), attempt(8500)];
      expect(reconnectIntervals(a)).to.deep.equal([1000, 2000, 4000]);
    });

    it('measures start to start where the earlier connection was still open', () => {
      expect(reconnectIntervals([attempt(0), attempt(700)])).to.deep.equal([700]);
      expect(reconnectIntervals([attempt(0, { closeAfterMs: 900 }), attempt(700)])).to.deep.equal([700]);
    });

    it('judges the waits by their backoff class', () => {
      const waits = (gaps: number[]) => {
        let t = 0;
        return gaps.map((g) => attempt((t += g + 100) - g - 100, { closeAfterMs: 100 })).concat(attempt(t));
      };
      expect(judgeBackoff(reconnectIntervals(waits([10_000, 10_000, 10_000, 10_000, 10_000]))).reason)
        .to.match(/^constant reconnect interval \(class constant; intervals 10000, 10000, 10000, 10000, 10000 ms; 10000–10000 ms/);
    });

    it('requires a wait of at least 1 s after a successful session', () => {
      expect(judgeReconnectWait(212)).to.deep.equal({ verdict: 'fail', reason: 'reconnected after 212 ms (rule: wait >= 1.0 s after a successful session)' });
      expect(judgeReconnectWait(1500)).to.deep.equal({ verdict: 'pass', reason: 'reconnected after 1.5 s (rule: wait >= 1.0 s after a successful session)' });
      expect(judgeReconnectWait(60, 50).verdict).to.equal('pass');
    });
  });

  describe('TLS', () => {
    it('a completed handshake passes; a warning alert from the device warns; a failure names the reason and the hint', () => {
      expect(judgeHandshake(attempt(0))).to.equal(undefined);
      expect(judgeHandshake(attempt(0, { tls: tlsOk }))).to.deep.equal({ verdict: 'pass', reason: 'handshake completed (TLSv1.3, TLS_AES_128_GCM_SHA256)' });
      expect(judgeHandshake(attempt(0, { tls: tlsOk, alert: { from: 'device', level: 'warning', number: 0, name: 'close_notify' } })))
        .to.deep.include({ verdict: 'warn', reason: 'handshake completed (TLSv1.3, TLS_AES_128_GCM_SHA256), but the device sent a warning alert close_notify (0)' });
      expect(judgeHandshake(attempt(0, { tls: tlsFailed('ECONNRESET'), alert: { from: 'device', level: 'fatal', number: 22, name: 'record_overflow' } }), ': CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN'))
        .to.deep.equal({ verdict: 'fail', reason: 'handshake failed: fatal alert record_overflow (22): CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN' });
      expect(judgeHandshake(attempt(0, { closeAfterMs: 3 }))).to.include({ verdict: 'fail' });
      // What the endpoint did, not a bare "handshake failed".
      expect(judgeHandshake(attempt(0, { tls: { ...tlsFailed('refused'), outcome: 'refused-idle' } }))!.reason)
        .to.equal('the device connected while the endpoint was between scenarios and was turned away with a handshake_failure alert');
      expect(judgeHandshake(attempt(0, { tls: { ...tlsFailed('stall'), outcome: 'stalled' } }))!.reason).to.match(/^the endpoint never answered the device's ClientHello/);
    });

    it('a refused certificate passes with an alert, warns without one where an alert is expected, fails when accepted', () => {
      const fatal = { from: 'device' as const, level: 'fatal' as const, number: 45, name: 'certificate_expired' };
      expect(judgeRefusal(attempt(0, { tls: tlsFailed('alert') }), 'an expired certificate', true)).to.equal(undefined);
      expect(judgeRefusal(attempt(0, { tls: tlsFailed('alert'), alert: fatal, closedHow: 'alert', closeAfterMs: 20 }), 'an expired certificate', true))
        .to.deep.equal({ verdict: 'pass', reason: 'refused an expired certificate with a fatal alert certificate_expired (45)' });
      expect(judgeRefusal(attempt(0, { tls: tlsFailed('ECONNRESET'), closedHow: 'fin', closeAfterMs: 20 }), 'an expired certificate', true))
        .to.deep.include({ verdict: 'warn' }).and.property('reason').that.matches(/^refused an expired certificate, closing with a TCP FIN: it should send a fatal alert/);
      expect(judgeRefusal(attempt(0, { tls: tlsFailed('ECONNRESET'), closedHow: 'rst', closeAfterMs: 20 }), 'a certificate from an untrusted root', false))
        .to.deep.equal({ verdict: 'pass', reason: 'refused a certificate from an untrusted root, closing with a TCP reset' });
      expect(judgeRefusal(attempt(0, { tls: tlsOk, packets: session() }), 'a certificate for another host name', false))
        .to.deep.equal({ verdict: 'fail', reason: 'accepted a certificate for another host name: completed the handshake and sent MQTT CONNECT' });
    });
  });

  describe('MQTT', () => {
    it('publish retry: the same id with DUP passes; a new id, no DUP, or a reconnect fails', () => {
      const pub = (atMs: number, id: number, dup = false) => p('in', 'publish', atMs, { id, qos: 1, dup, topic: 't' });
      expect(judgePublishRetry([attempt(0, { packets: session([pub(10, 1)]) })])).to.equal(undefined);
      expect(judgePublishRetry([attempt(0, { packets: session([pub(10, 1), pub(1010, 1, true)]) })]))
        .to.deep.equal({ verdict: 'pass', reason: 'resent packet id 1 with DUP 1.0 s after the first PUBLISH, on the same connection' });
      expect(judgePublishRetry([attempt(0, { packets: session([pub(10, 1), pub(1010, 2, true)]) })]))
        .to.deep.equal({ verdict: 'fail', reason: 'retried with a new packet id 2 (DUP) instead of 1, 1.0 s after the first PUBLISH' });
      expect(judgePublishRetry([attempt(0, { packets: session([pub(10, 1), pub(1010, 1)]) })])!.reason).to.equal('resent packet id 1 without the DUP flag 1.0 s after the first PUBLISH');
      expect(judgePublishRetry([attempt(0, { packets: session([pub(10, 1), pub(20, 2), pub(30, 3), pub(40, 4)]) })])!.reason).to.equal('sent PUBLISH ids 2, 3, 4 but never resent unacknowledged id 1');
      expect(judgePublishRetry([attempt(0, { packets: session([pub(10, 1)]), closeAfterMs: 2010 }), attempt(3000)]))
        .to.deep.equal({ verdict: 'fail', reason: 'disconnected 2.0 s after the unacknowledged PUBLISH (id 1) instead of resending it and reconnected' });
      expect(judgePublishRetry([attempt(0, { packets: session() })], true)!.reason).to.equal('sent no QoS 1 PUBLISH in time');
    });

    it('subscribe and subscribe retry', () => {
      const sub = (atMs: number, id: number) => p('in', 'subscribe', atMs, { id, topics: ['devices/dev/cmd'] });
      expect(judgeSubscribe([attempt(0, { packets: session([sub(10, 5)]) })])).to.deep.equal({ verdict: 'pass', reason: 'SUBSCRIBE (id 5) to devices/dev/cmd' });
      expect(judgeSubscribe([attempt(0, { packets: session() })], true)!.verdict).to.equal('fail');
      expect(judgeSubscribeRetry([attempt(0, { packets: session([sub(10, 5), sub(1010, 5)]) })])!.verdict).to.equal('pass');
      expect(judgeSubscribeRetry([attempt(0, { packets: session([sub(10, 5), sub(1010, 6)]) })])!.reason).to.equal('resent the SUBSCRIBE with a new packet id 6 instead of 5');
      expect(judgeSubscribeRetry([attempt(0, { packets: session([sub(10, 5)]) })])).to.equal(undefined);
      expect(judgeSubscribeRetry([attempt(0, { packets: session([sub(10, 5)]) })], true)!.reason).to.equal('never resent the unanswered SUBSCRIBE id 5');
    });

    it('delivery: PUBACK with the right id passes; a wrong id, a drop or silence fails', () => {
      const out = p('out', 'publish', 100, { id: 9, qos: 1, topic: 'devices/dev/cmd', bytes: 16_000 });
      expect(judgeDelivery([attempt(0, { packets: session([out, p('in', 'puback', 130, { id: 9 })]) })], 'devices/dev/cmd'))
        .to.deep.equal({ verdict: 'pass', reason: 'PUBACK for packet id 9 (16000 B PUBLISH) 30 ms after it was sent' });
      expect(judgeDelivery([attempt(0, { packets: session([out, p('in', 'puback', 130, { id: 8 })]) })], 'devices/dev/cmd')!.reason).to.equal('acknowledged packet id 8, not 9');
      expect(judgeDelivery([attempt(0, { packets: session([out]), closeAfterMs: 140, closedHow: 'rst' })], 'devices/dev/cmd')!.reason)
        .to.equal('dropped the connection 40 ms after the 16000 B PUBLISH (id 9) without a PUBACK (rst)');
      expect(judgeDelivery([attempt(0, { packets: session([out]) })], 'devices/dev/cmd')).to.equal(undefined);
      expect(judgeDelivery([attempt(0, { packets: session([out]) })], 'devices/dev/cmd', true)!.verdict).to.equal('fail');
    });

    it('keepalive: closing within 1.5 × keepalive of the unanswered PINGREQ passes; staying connected fails', () => {
      const pinged = (close?: number) => attempt(0, { packets: session([p('in', 'pingreq', 10_006)], 10), ...(close ? { closeAfterMs: close } : {}) });
      expect(judgeKeepalive(pinged(20_006), T0 + 20_006)).to.deep.equal({ verdict: 'pass', reason: 'disconnected 10 s after its unanswered PINGREQ (rule: within 1.5 × keepalive 10 s = 15 s)' });
      expect(judgeKeepalive(pinged(), T0 + 20_000)).to.equal(undefined);
      expect(keepaliveDeadline(pinged())).to.equal(T0 + 25_006);
      expect(judgeKeepalive(pinged(), T0 + 26_000)).to.deep.equal({ verdict: 'fail', reason: 'still connected 16 s after its unanswered PINGREQ (rule: disconnect within 1.5 × keepalive 10 s = 15 s)' });
      const silent = attempt(0, { packets: session([p('in', 'publish', 5000, { id: 1, qos: 1 })], 10) });
      expect(judgeKeepalive(silent, T0 + 26_000)!.reason).to.equal('still connected 16 s after its keepalive ran out (it sent no PINGREQ) (rule: disconnect within 1.5 × keepalive 10 s = 15 s)');
      expect(judgeKeepalive(attempt(0, { packets: session([], 0) }), T0)!.reason).to.match(/^connects with keepalive 0/);
    });

    it('persistent session: resuming without SUBSCRIBE and acking the stored message passes', () => {
      const resumed = (more: PacketRecord[]) => attempt(0, {
        packets: [p('in', 'connect', 5, { clean: false, keepalive: 60 }), p('out', 'connack', 6, { returnCode: 0, sessionPresent: true }),
          p('out', 'publish', 7, { id: 3, qos: 1, topic: 'devices/dev/cmd' }), ...more],
      });
      expect(judgeResumedSession(resumed([p('in', 'puback', 20, { id: 3 })]), 'devices/dev/cmd')).to.equal(undefined);
      expect(judgeResumedSession(resumed([p('in', 'puback', 20, { id: 3 }), p('in', 'publish', 500, { id: 1, qos: 1 })]), 'devices/dev/cmd'))
        .to.deep.equal({ verdict: 'pass', reason: 'resumed without subscribing again and acknowledged the stored message (id 3)' });
      expect(judgeResumedSession(resumed([p('in', 'subscribe', 10, { id: 4, topics: ['devices/dev/cmd'] }), p('in', 'puback', 20, { id: 3 })]), 'devices/dev/cmd'))
        .to.deep.equal({ verdict: 'fail', reason: 'subscribed again (id 4, devices/dev/cmd) although the endpoint said session-present 1' });
      expect(judgeResumedSession(resumed([]), 'devices/dev/cmd', true)!.reason).to.equal('never acknowledged the stored message (id 3)');
    });

    it('expired session: subscribing again passes; carrying on without it fails', () => {
      const after = (more: PacketRecord[]) => attempt(0, { packets: session(more) });
      expect(judgeExpiredSession(after([p('in', 'subscribe', 10, { id: 1, topics: ['a'] })]))!.verdict).to.equal('pass');
      expect(judgeExpiredSession(after([p('in', 'publish', 10, { id: 1, qos: 1 })]))).to.equal(undefined);
      expect(judgeExpiredSession(after([p('in', 'publish', 10, { id: 1, qos: 1 }), p('in', 'publish', 20, { id: 2, qos: 1 })])))
        .to.deep.equal({ verdict: 'fail', reason: 'did not subscribe again after session-present 0 (it sent PUBLISH, PUBLISH instead)' });
    });

    it('sessions are the attempts that got CONNACK 0', () => {
      const refused = attempt(0, { packets: [p('in', 'connect', 5), p('out', 'connack', 6, { returnCode: 0, withheld: true })] });
      const good = attempt(10, { packets: session() });
      expect(sessions([refused, good])).to.deep.equal([good]);
    });
  });
});
