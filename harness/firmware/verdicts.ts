/**
 * The firmware catalogue's judgements: pure functions from the endpoint's attempt records to a
 * verdict and a one-line reason naming what the device did. Scenarios wait with `ctx.until()` on
 * a judgement that returns undefined while it cannot decide yet; with `final` set (the wait is
 * over) every judgement decides. The rules are the verdict table of docs/firmware-mode.md.
 */
import { printable } from '../errors.ts';
import { classifyBackoff, formatIntervals } from './backoff.ts';
import type { Attempt, ClientHelloRecord, PacketRecord } from './records.ts';

export type Verdict = 'pass' | 'warn' | 'fail';
export interface Judgement {
  verdict: Verdict;
  reason: string;
}

// Reasons quote what the device sent (topics, alert names, suite names): kept to one line.
const pass = (reason: string): Judgement => ({ verdict: 'pass', reason: printable(reason) });
const warn = (reason: string): Judgement => ({ verdict: 'warn', reason: printable(reason) });
const fail = (reason: string): Judgement => ({ verdict: 'fail', reason: printable(reason) });

// --- cipher suites ------------------------------------------------------------------------------

export type SuiteClass = 'recommended' | 'non-recommended' | 'forbidden' | 'signalling';

/** GREASE values (RFC 8701): 0x0A0A, 0x1A1A ... 0xFAFA, offered to keep servers tolerant. */
const isGrease = (id: number) => (id & 0x0f0f) === 0x0a0a && id >> 8 === (id & 0xff);

/** IANA name parts that make a suite forbidden: no encryption, broken ciphers, export grades, anonymous. */
const FORBIDDEN_PARTS = new Set(['NULL', 'RC4', 'RC2', 'DES', '3DES', 'DES40', 'EXPORT', 'EXPORT1024', 'ANON']);

/**
 * A suite by its IANA name. Recommended: AEAD (GCM, CCM, ChaCha20-Poly1305) with an ephemeral
 * elliptic-curve key exchange, and every TLS 1.3 suite (always AEAD, always ephemeral).
 * Forbidden: no encryption or no authentication, broken ciphers (RC4, DES, 3DES), export grades.
 * Everything else (CBC, static RSA or ECDH key exchange, finite-field DHE, PSK, unknown ids) is
 * allowed but not recommended.
 */
export function suiteClass(suite: { id: number; name: string }): SuiteClass {
  const name = suite.name.toUpperCase();
  if (isGrease(suite.id) || name.endsWith('_SCSV')) return 'signalling';
  // By whole name parts, not substrings: "DES" is a part of TLS_RSA_WITH_DES_CBC_SHA, not any text containing it.
  if (name.split('_').some((part) => FORBIDDEN_PARTS.has(part))) return 'forbidden';
  const aead = /_GCM|_CCM|CHACHA20_POLY1305/.test(name);
  if (/^TLS_(AES|CHACHA20)_/.test(name) && aead) return 'recommended';
  if (/^TLS_ECDHE_(ECDSA|RSA)_WITH_/.test(name) && aead) return 'recommended';
  return 'non-recommended';
}

const names = (suites: Array<{ name: string }>, max = 4) =>
  suites.slice(0, max).map((s) => s.name).join(', ') + (suites.length > max ? ` and ${suites.length - max} more` : '');

/** TLS Cipher Suites: what the device offers in its ClientHello. */
export function judgeCipherSuites(hello: ClientHelloRecord): Judgement {
  if (!hello.ok) return fail(`the device's ClientHello could not be read: ${hello.error ?? 'malformed'}`);
  const offered = hello.cipherSuites.filter((s) => suiteClass(s) !== 'signalling');
  const of = (c: SuiteClass) => offered.filter((s) => suiteClass(s) === c);
  const forbidden = of('forbidden');
  const recommended = of('recommended');
  const weak = of('non-recommended');
  if (forbidden.length) return fail(`offers ${forbidden.length} forbidden suite${forbidden.length === 1 ? '' : 's'} (NULL, RC4, DES/3DES, export or anonymous): ${names(forbidden)}`);
  if (!recommended.length) return fail(`offers no recommended suite (AEAD with ECDHE, or TLS 1.3) among its ${offered.length}: ${names(offered)}`);
  if (weak.length) return warn(`offers ${weak.length} non-recommended suite${weak.length === 1 ? '' : 's'} (CBC, static RSA/ECDH, DHE, PSK) besides ${recommended.length} recommended: ${names(weak)}`);
  return pass(`offers ${recommended.length} recommended suite${recommended.length === 1 ? '' : 's'} and nothing weaker (first: ${recommended[0]!.name})`);
}

/**
 * TLS Weak Cipher Suites (hilt), against a server offering only CBC suites over TLS 1.2. Judged
 * from what the device offers: a failed handshake alone does not show it refused CBC (it may
 * offer only suites the server cannot use, or the network failed). Undefined until settled.
 */
export function judgeWeakSuites(a: Attempt): Judgement | undefined {
  const outcome = a.tls?.outcome as string | undefined;
  if (outcome === 'ok' || outcome === 'refused') {
    return warn(`negotiated ${a.tls!.cipher ?? '?'} (${a.tls!.protocol ?? '?'}) when the server offered only CBC suites: leave CBC out of the firmware's suite list (MBEDTLS_CIPHER_MODE_CBC, CONFIG_MBEDTLS_CIPHER_MODE_CBC)`);
  }
  if (!outcome && !a.closed) return undefined;
  const why = alertText(a) ?? a.tls?.reason ?? a.closed?.reason ?? 'no reason recorded';
  const hello = a.clientHello;
  if (!hello) return fail(`the connection closed before a ClientHello was read (${why})`);
  if (!hello.ok) return fail(`the device's ClientHello could not be read: ${hello.error ?? 'malformed'}`);
  const cbc = hello.cipherSuites.filter((s) => suiteClass(s) !== 'signalling' && /_CBC/i.test(s.name));
  if (!cbc.length) return pass(`offers no CBC suite, so the CBC-only server could not agree with it (${why})`);
  return warn(`offers ${cbc.length} CBC suite${cbc.length === 1 ? '' : 's'} (${names(cbc)}) though the handshake with the CBC-only server failed (${why}): leave CBC out of the firmware's suite list (CONFIG_MBEDTLS_CIPHER_MODE_CBC)`);
}

// --- times ----------------------------------------------------------------------------------------

/** When the attempt began (TCP accept), in ms since the epoch. */
export const startMs = (a: Attempt): number => Date.parse(a.startedAt);
/** When the attempt's connection closed, or null while it is open. */
export const closeMs = (a: Attempt): number | null => (a.closed ? startMs(a) + a.closed.afterMs : null);
/** When a packet went by. */
export const packetMs = (a: Attempt, p: PacketRecord): number => startMs(a) + p.atMs;

const seconds = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/**
 * The device's waits between attempts: from the close of one connection to the start of the next
 * (the time the device chose to wait; an attempt's own length is the endpoint's doing). Where a
 * connection was still open when the next began, from start to start.
 */
export function reconnectIntervals(attempts: readonly Attempt[]): number[] {
  const sorted = [...attempts].sort((a, b) => a.id - b.id);
  const out: number[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const start = startMs(sorted[i]!);
    const end = closeMs(prev);
    out.push(Math.max(0, Math.round(end !== null && end <= start ? start - end : start - startMs(prev))));
  }
  return out;
}

/** MQTT Connect Backoff / Reconnect Backoff: jitter passes, strict exponential warns, the rest fails. */
export function judgeBackoff(intervals: readonly number[], hostLagMs = 0): Judgement {
  const r = classifyBackoff(intervals, hostLagMs);
  const lag = hostLagMs > 0 ? `; host lag up to ${Math.round(hostLagMs)} ms` : '';
  const figures = `(class ${r.class}; intervals ${formatIntervals(intervals)}; ${r.detail}${lag})`;
  switch (r.class) {
    case 'exponential-jitter': return pass(`exponential backoff with jitter ${figures}`);
    case 'exponential': return warn(`strictly exponential backoff without jitter ${figures}: devices that fail together retry together`);
    case 'random': return warn(`randomised waits that do not grow ${figures}`);
    case 'linear': return fail(`linear backoff ${figures}: the wait must grow exponentially, with jitter`);
    case 'constant': return fail(`constant reconnect interval ${figures}: the wait must grow exponentially, with jitter`);
    case 'too-few': return fail(`too few attempts to judge ${figures}`);
  }
}

/** MQTT Reconnect After Success: the wait after a session the endpoint closed. */
export function judgeReconnectWait(waitMs: number, minMs = 1000): Judgement {
  const rule = `(rule: wait >= ${seconds(minMs)} after a successful session)`;
  return waitMs >= minMs ? pass(`reconnected after ${seconds(waitMs)} ${rule}`) : fail(`reconnected after ${seconds(waitMs)} ${rule}`);
}

// --- packets --------------------------------------------------------------------------------------

/** The MQTT packets of an attempt going one way, of one type (all of them without a type). */
export function packetsOf(a: Attempt, dir: 'in' | 'out', type?: string): PacketRecord[] {
  return (a.packets ?? []).filter((p) => p.dir === dir && (type === undefined || p.type === type));
}
const packets = packetsOf;

/**
 * The first SUBSCRIBE the broker acknowledged (so the subscription is registered), and a
 * concrete topic for its first filter ('+' and a trailing '#' filled in), or undefined.
 */
export function acknowledgedSubscription(attempts: readonly Attempt[]): { attempt: Attempt; topic: string } | undefined {
  for (const a of attempts) {
    const sub = packets(a, 'in', 'subscribe').find((p) => p.topics?.length);
    if (sub && packets(a, 'out', 'suback').some((p) => p.id === sub.id && !p.withheld)) {
      return { attempt: a, topic: sub.topics![0]!.replace(/\+/g, 'hilt').replace(/#$/, 'hilt') };
    }
  }
  return undefined;
}

// --- TLS ----------------------------------------------------------------------------------------

/** Whether the device sent an MQTT CONNECT on this attempt. */
export const sentConnect = (a: Attempt): boolean => packets(a, 'in', 'connect').length > 0 || a.mqtt !== null;

const alertText = (a: Attempt) => (a.alert ? `${a.alert.level} alert ${a.alert.name} (${a.alert.number})` : null);
const closedText = (a: Attempt) => (a.closedHow === 'alert' ? 'with an alert' : a.closedHow === 'rst' ? 'with a TCP reset' : a.closedHow === 'fin' ? 'with a TCP FIN' : 'without an alert');

/**
 * TLS Connect and TLS Large Server Certificate: the handshake completes. Undefined until the
 * attempt's TLS outcome is known.
 */
export function judgeHandshake(a: Attempt, hint = ''): Judgement | undefined {
  const outcome = a.tls?.outcome as string | undefined;
  if (!outcome) return a.closed ? fail(`the connection closed ${a.closed.afterMs} ms after accept before TLS began (${a.closed.reason})${hint}`) : undefined;
  if (outcome === 'ok') {
    const alert = alertText(a);
    const done = `handshake completed (${a.tls!.protocol ?? '?'}, ${a.tls!.cipher ?? '?'})`;
    return alert && a.alert!.level === 'warning' ? warn(`${done}, but the device sent a ${alert}`) : pass(done);
  }
  if (outcome === 'refused') return fail(`handshake completed but the endpoint refused the device's certificate: ${a.tls!.reason ?? 'no reason'}`);
  // Neither is the device's doing: say what the endpoint did, not a bare "handshake failed".
  if (outcome === 'refused-idle') return fail(`the device connected while the endpoint was between scenarios and was turned away with a handshake_failure alert${hint}`);
  if (outcome === 'stalled') return fail(`the endpoint never answered the device's ClientHello (it was told to stall), so no handshake could complete${hint}`);
  const why = alertText(a) ?? a.tls!.reason ?? 'no reason recorded';
  return fail(`handshake failed: ${why}${hint}`);
}

/**
 * TLS Untrusted / Wrong Host Name / Expired / Not Yet Valid Server Certificate: the device must
 * refuse the endpoint's certificate. With `alertExpected`, a refusal without a TLS alert is a
 * warning (the device should tell the server why). Undefined until the attempt is closed.
 */
export function judgeRefusal(a: Attempt, what: string, alertExpected: boolean): Judgement | undefined {
  const outcome = a.tls?.outcome as string | undefined;
  if (sentConnect(a)) return fail(`accepted ${what}: completed the handshake and sent MQTT CONNECT`);
  if (outcome === 'ok' || outcome === 'refused') return fail(`accepted ${what}: completed the handshake (${a.tls!.protocol ?? '?'})`);
  if (!a.closed) return undefined;
  const alert = alertText(a);
  if (alert && a.alert!.level === 'fatal') return pass(`refused ${what} with a ${alert}`);
  const how = `refused ${what}, closing ${closedText(a)}${alert ? ` (only a ${alert})` : ''}`;
  return alertExpected ? warn(`${how}: it should send a fatal alert (certificate_expired or bad_certificate) so the server can log why`) : pass(how);
}

// --- MQTT ---------------------------------------------------------------------------------------

/** The attempts that reached an MQTT session (CONNACK 0 sent). */
export const sessions = (attempts: readonly Attempt[]): Attempt[] =>
  attempts.filter((a) => a.mqtt?.connack === 0 || packets(a, 'out', 'connack').some((p) => p.returnCode === 0 && !p.withheld));

/** A packet's id as a reason shows it (a malformed packet may have none). */
const idOf = (p: PacketRecord) => (p.id === undefined ? '(none)' : String(p.id));

/** PUBLISH with QoS >= 1 the device sent. */
const devicePublishes = (a: Attempt) => packets(a, 'in', 'publish').filter((p) => (p.qos ?? 0) >= 1);

/**
 * MQTT Publish Retry (no PUBACK): the first QoS 1 PUBLISH the endpoint left unacknowledged must
 * be resent with the same packet id and DUP, on the same connection. Fails on a DUP with another
 * id, a reconnect before the resend, or three more PUBLISHes without the resend.
 */
export function judgePublishRetry(attempts: readonly Attempt[], final = false): Judgement | undefined {
  const a = attempts.find((x) => devicePublishes(x).length > 0);
  if (!a) return final ? fail('sent no QoS 1 PUBLISH in time') : undefined;
  const [first, ...later] = devicePublishes(a);
  const id = first!.id;
  const resend = later.find((p) => p.id === id);
  const after = (p: PacketRecord) => seconds(p.atMs - first!.atMs);
  if (resend) {
    return resend.dup
      ? pass(`resent packet id ${idOf(first!)} with DUP ${after(resend)} after the first PUBLISH, on the same connection`)
      : fail(`resent packet id ${idOf(first!)} without the DUP flag ${after(resend)} after the first PUBLISH`);
  }
  const newId = later.find((p) => p.dup);
  if (newId) return fail(`retried with a new packet id ${idOf(newId)} (DUP) instead of ${idOf(first!)}, ${after(newId)} after the first PUBLISH`);
  if (later.length >= 3) return fail(`sent PUBLISH ids ${later.map(idOf).join(', ')} but never resent unacknowledged id ${idOf(first!)}`);
  if (a.closed) {
    const next = attempts.find((x) => x.id > a.id);
    return fail(`${a.closed.by === 'device' ? 'disconnected' : 'lost the connection'} ${seconds(a.closed.afterMs - first!.atMs)} after the unacknowledged PUBLISH (id ${idOf(first!)}) instead of resending it${next ? ' and reconnected' : ''}`);
  }
  return final ? fail(`never resent unacknowledged PUBLISH id ${idOf(first!)} (${later.length} other PUBLISHes)`) : undefined;
}

/** MQTT Subscribe: a SUBSCRIBE, and its topics. */
export function judgeSubscribe(attempts: readonly Attempt[], final = false): Judgement | undefined {
  for (const a of attempts) {
    const s = packets(a, 'in', 'subscribe')[0];
    if (s) return pass(`SUBSCRIBE (id ${idOf(s)}) to ${(s.topics ?? []).join(', ') || 'its topics'}`);
  }
  return final ? fail('sent no SUBSCRIBE in time') : undefined;
}

/** MQTT Subscribe Retry (no SUBACK): the SUBSCRIBE resent with the same packet id, same connection. */
export function judgeSubscribeRetry(attempts: readonly Attempt[], final = false): Judgement | undefined {
  const a = attempts.find((x) => packets(x, 'in', 'subscribe').length > 0);
  if (!a) return final ? fail('sent no SUBSCRIBE in time') : undefined;
  const [first, ...later] = packets(a, 'in', 'subscribe');
  const again = later.find((p) => p.id === first!.id);
  if (again) return pass(`resent SUBSCRIBE id ${idOf(first!)} ${seconds(again.atMs - first!.atMs)} after the first, on the same connection`);
  if (later.length) return fail(`resent the SUBSCRIBE with a new packet id ${idOf(later[0]!)} instead of ${idOf(first!)}`);
  if (a.closed) return fail(`${a.closed.by === 'device' ? 'disconnected' : 'lost the connection'} ${seconds(a.closed.afterMs - first!.atMs)} after the unanswered SUBSCRIBE (id ${idOf(first!)}) instead of resending it`);
  return final ? fail(`never resent the unanswered SUBSCRIBE id ${idOf(first!)}`) : undefined;
}

/**
 * MQTT QoS 1 Delivery and Large Payload: the device acknowledges the endpoint's QoS 1 PUBLISH on
 * `topic` with a PUBACK of the same packet id (not before the PUBLISH, on the same connection).
 */
export function judgeDelivery(attempts: readonly Attempt[], topic: string, final = false): Judgement | undefined {
  for (const a of attempts) {
    const sent = packets(a, 'out', 'publish').find((p) => p.topic === topic && !p.withheld);
    if (!sent) continue;
    const ack = packets(a, 'in', 'puback').find((p) => p.id === sent.id && p.atMs >= sent.atMs);
    const size = `${sent.bytes} B`;
    if (ack) return pass(`PUBACK for packet id ${idOf(sent)} (${size} PUBLISH) ${seconds(ack.atMs - sent.atMs)} after it was sent`);
    const wrong = packets(a, 'in', 'puback').find((p) => p.atMs >= sent.atMs);
    if (wrong) return fail(`acknowledged packet id ${idOf(wrong)}, not ${idOf(sent)}`);
    if (a.closed) return fail(`${a.closed.by === 'device' ? 'dropped the connection' : 'lost the connection'} ${seconds(a.closed.afterMs - sent.atMs)} after the ${size} PUBLISH (id ${idOf(sent)}) without a PUBACK${a.closedHow ? ` (${a.closedHow})` : ''}`);
    return final ? fail(`no PUBACK for the ${size} PUBLISH (id ${idOf(sent)})`) : undefined;
  }
  return final ? fail(`the endpoint never delivered a PUBLISH on ${topic}`) : undefined;
}

/**
 * MQTT Keepalive (no PINGRESP): the device must close within 1.5 × its keepalive of its first
 * unanswered PINGREQ (or, if it sends none, of the keepalive running out after the CONNACK).
 * `nowMs` is the judging time: once past the deadline with the connection open, it fails.
 */
export function judgeKeepalive(a: Attempt, nowMs: number): Judgement | undefined {
  const keepalive = keepaliveMs(a);
  const deadline = keepaliveDeadline(a);
  if (deadline === null) return fail('connects with keepalive 0: it never checks that the broker is still there');
  const ping = packets(a, 'in', 'pingreq')[0];
  const from = deadline - 1.5 * keepalive;
  const rule = `1.5 × keepalive ${seconds(keepalive)} = ${seconds(1.5 * keepalive)}`;
  const since = ping ? 'its unanswered PINGREQ' : 'its keepalive ran out (it sent no PINGREQ)';
  const closed = closeMs(a);
  if (closed !== null) {
    const after = closed - from;
    if (closed <= deadline) return pass(`disconnected ${seconds(Math.max(0, after))} after ${since} (rule: within ${rule})`);
    return fail(`disconnected only ${seconds(after)} after ${since} (rule: within ${rule})`);
  }
  return nowMs > deadline ? fail(`still connected ${seconds(nowMs - from)} after ${since} (rule: disconnect within ${rule})`) : undefined;
}

const keepaliveMs = (a: Attempt) => (packets(a, 'in', 'connect')[0]?.keepalive ?? a.mqtt?.keepalive ?? 0) * 1000;

/**
 * When (ms since the epoch) the device must have closed: 1.5 × keepalive after its first
 * PINGREQ, or after its keepalive ran out if it sent none. Null with keepalive 0.
 */
export function keepaliveDeadline(a: Attempt): number | null {
  const keepalive = keepaliveMs(a);
  if (keepalive === 0) return null;
  const ping = packets(a, 'in', 'pingreq')[0];
  const connack = packets(a, 'out', 'connack')[0];
  return (ping ? packetMs(a, ping) : startMs(a) + (connack?.atMs ?? 0) + keepalive) + 1.5 * keepalive;
}

/**
 * MQTT Persistent Session, on the attempt that resumed (CONNACK session-present 1): the device
 * must not subscribe again and must acknowledge the message stored while it was away (published
 * on `topic`). Decided once the PUBACK came and the device sent something after it (or `final`).
 */
export function judgeResumedSession(a: Attempt, topic: string, final = false): Judgement | undefined {
  const connack = packets(a, 'out', 'connack')[0];
  if (connack && connack.sessionPresent === false) return fail('the endpoint answered session-present 0: the device did not resume its session (does it connect with clean session 0?)');
  const sub = packets(a, 'in', 'subscribe')[0];
  if (sub) return fail(`subscribed again (id ${idOf(sub)}, ${(sub.topics ?? []).join(', ')}) although the endpoint said session-present 1`);
  const stored = packets(a, 'out', 'publish').find((p) => p.topic === topic);
  const ack = stored && packets(a, 'in', 'puback').find((p) => p.id === stored.id);
  if (ack) {
    const later = (a.packets ?? []).some((p) => p.dir === 'in' && p.atMs > ack.atMs);
    if (later || final) return pass(`resumed without subscribing again and acknowledged the stored message (id ${idOf(stored!)})`);
    return undefined;
  }
  if (a.closed) return fail(stored ? `closed without acknowledging the stored message (id ${idOf(stored)})` : 'closed before the stored message was delivered');
  if (!final) return undefined;
  return fail(stored ? `never acknowledged the stored message (id ${idOf(stored)})` : 'the stored message was never delivered: did the device resume the same client id?');
}

/**
 * MQTT Expired Session, on an attempt after the first session: CONNACK said session-present 0,
 * so the device must subscribe again. Decided by a SUBSCRIBE, or by the device carrying on
 * without one (two PUBLISHes or a PINGREQ), its close, or `final`.
 */
export function judgeExpiredSession(a: Attempt, final = false): Judgement | undefined {
  const sub = packets(a, 'in', 'subscribe')[0];
  if (sub) return pass(`subscribed again (id ${idOf(sub)}, ${(sub.topics ?? []).join(', ')}) after session-present 0`);
  // An application may publish once before it subscribes; a second PUBLISH or a PINGREQ without
  // a SUBSCRIBE means it has settled into its session without one.
  const sent = (a.packets ?? []).filter((p) => p.dir === 'in' && (p.type === 'publish' || p.type === 'pingreq'));
  const settled = sent.length >= 2 || sent.some((p) => p.type === 'pingreq');
  if (settled || a.closed || final) return fail(`did not subscribe again after session-present 0${sent.length ? ` (it sent ${sent.map((p) => p.type.toUpperCase()).join(', ')} instead)` : ''}`);
  return undefined;
}
