/**
 * A small chai plugin so scenarios read like the catalogue:
 *
 *   expect(result).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('EXPIRED');
 *   expect(result).to.be.connected();
 *   expect(ctx).to.have.printed(/mbedtls_ssl_handshake returned -0x2700/);
 *
 * Failure messages say what the device did instead, in the device's own vocabulary.
 */
import * as chai from 'chai';
import { flagNames, flagsOf, type ConnectResult } from '../protocol/index.ts';
import type { ScenarioContext } from './session.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Chai {
    interface Assertion {
      /** The connect succeeded. */
      connected(): Assertion;
      /**
       * The connect failed with this esp_err name (ESP_ERR_...), Mbed TLS name (MBEDTLS_ERR_...)
       * or esp-mqtt error type (MQTT_CONNECTION_REFUSED, MQTT_TCP_TRANSPORT). `acceptedBecause`
       * names why a device would accept, for the message.
       */
      refusedWith(name: string, acceptedBecause?: string | null): Assertion;
      /** After refusedWith: verify flags exactly these (by name, e.g. 'EXPIRED', 'NOT_TRUSTED'). */
      andFlags(...names: string[]): Assertion;
      /** After refusedWith: verify flags include these. */
      andFlagsIncluding(...names: string[]): Assertion;
      /** The device printed a console line matching this since the last connect began. */
      printed(pattern: RegExp | string): Assertion;
    }
  }
}

/** One line about how a connect ended, for messages. */
export function describeResult(r: ConnectResult): string {
  if (r.connected) return `connected (${r.tls?.version ?? '?'} ${r.tls?.cipher ?? '?'})`;
  const e = r.error!;
  const parts = [e.esp_err_name];
  if (e.stack_err) parts.push(`${e.stack_err_name ?? ''} (-0x${e.stack_err.toString(16).toUpperCase()})`);
  if (e.verify_flags) parts.push(`flags 0x${e.verify_flags.toString(16)} (${flagNames(e.verify_flags).join(', ')})`);
  if (e.mqtt_error_type) parts.push(`MQTT ${e.mqtt_error_type}`);
  if (e.connack !== null) parts.push(`CONNACK ${e.connack}`);
  return `failed: ${parts.join(', ')}`;
}

function resultOf(obj: unknown): ConnectResult {
  const r = obj as ConnectResult;
  if (!r || typeof r !== 'object' || !('connected' in r) || !('timing' in r)) {
    throw new chai.AssertionError(`expected a connect result, got ${JSON.stringify(obj)?.slice(0, 120)}`);
  }
  return r;
}

chai.use((c, utils) => {
  c.Assertion.addMethod('connected', function (this: Chai.AssertionStatic) {
    const r = resultOf(this._obj);
    this.assert(r.connected, `expected the device to connect, but it ${describeResult(r)}`,
      `expected the device not to connect, but it ${describeResult(r)}`, true, r.connected);
  });

  c.Assertion.addMethod('refusedWith', function (this: Chai.AssertionStatic, name: string, acceptedBecause?: string | null) {
    const r = resultOf(this._obj);
    utils.flag(this, 'hiltResult', r);
    if (r.connected) {
      throw new chai.AssertionError(`expected the device to refuse with ${name}, but it connected${acceptedBecause ? `: ${acceptedBecause}` : ''}`);
    }
    const e = r.error!;
    // Three vocabularies: Mbed TLS (stack_err), esp-tls (esp_err), esp-mqtt (MQTT_<error type>).
    const actual = name.startsWith('MBEDTLS_ERR_') ? e.stack_err_name
      : name.startsWith('MQTT_') ? (e.mqtt_error_type ? `MQTT_${e.mqtt_error_type}` : null)
      : e.esp_err_name;
    this.assert(actual === name, `expected the device to refuse with ${name}, but it ${describeResult(r)}`,
      `expected the device not to refuse with ${name}`, name, actual);
  });

  c.Assertion.addMethod('andFlags', function (this: Chai.AssertionStatic, ...names: string[]) {
    const r = utils.flag(this, 'hiltResult') as ConnectResult | undefined ?? resultOf(this._obj);
    const want = flagsOf(...names);
    const got = r.error?.verify_flags ?? 0;
    this.assert(got === want, `expected verify flags ${names.join(' | ')} (0x${want.toString(16)}), got 0x${got.toString(16)} (${flagNames(got).join(', ') || 'none'})`,
      `expected verify flags other than 0x${want.toString(16)}`, want, got);
  });

  c.Assertion.addMethod('andFlagsIncluding', function (this: Chai.AssertionStatic, ...names: string[]) {
    const r = utils.flag(this, 'hiltResult') as ConnectResult | undefined ?? resultOf(this._obj);
    const want = flagsOf(...names);
    const got = r.error?.verify_flags ?? 0;
    this.assert((got & want) === want, `expected verify flags to include ${names.join(' | ')}, got 0x${got.toString(16)} (${flagNames(got).join(', ') || 'none'})`,
      `expected verify flags not to include ${names.join(' | ')}`, want, got);
  });

  c.Assertion.addMethod('printed', function (this: Chai.AssertionStatic, pattern: RegExp | string) {
    const ctx = this._obj as ScenarioContext;
    const lines = ctx.printedLines();
    const found = lines.some((l) => (typeof pattern === 'string' ? l.includes(pattern) : pattern.test(l)));
    this.assert(found, `expected the device to print ${pattern}; it printed:\n  ${lines.slice(-12).join('\n  ')}`,
      `expected the device not to print ${pattern}`, String(pattern), undefined);
  });
});

export const expect = chai.expect;
export { chai };

/** Why a device would accept what a date scenario expects refused, from its hello; null if it checks dates. */
export function datesUnchecked(ctx: ScenarioContext): string | null {
  return ctx.hello.mbedtls.have_time_date ? null
    : 'certificate dates are not checked, CONFIG_MBEDTLS_HAVE_TIME_DATE=n';
}

/**
 * Checks what the device saw when the broker refused its certificate, and says which way it went.
 * Up to TLS 1.2 the device's handshake fails. In TLS 1.3 the client sends its certificate after
 * its own Finished, so the device's handshake succeeds and the refusal reaches it as a close on
 * its first read: that is noted on the scenario, and `'closed'` returned.
 */
export function expectDeviceCertificateRefused(ctx: ScenarioContext, result: ConnectResult): 'handshake' | 'closed' {
  if (ctx.hello.mbedtls.tls13 && result.tls?.version === 'TLSv1.3') {
    ctx.note('TLS 1.3 (CONFIG_MBEDTLS_SSL_PROTO_TLS1_3=y): the device certificate goes out after the handshake completes on the device, so the refusal is ESP_ERR_ESP_TLS_TCP_CLOSED_FIN, not a failed handshake');
    expect(result).to.be.refusedWith('ESP_ERR_ESP_TLS_TCP_CLOSED_FIN');
    expect(result).to.be.refusedWith('MQTT_TCP_TRANSPORT');
    expect(ctx).to.have.printed(/mqtt_client: esp_mqtt_connect: mqtt_message_receive\(\) returned -1$/);
    return 'closed';
  }
  expect(result).to.be.refusedWith('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED');
  expect(ctx).to.have.printed(/esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x[0-9A-F]{4}$/);
  expect(ctx).to.have.printed(/mqtt_client: Error transport connect$/);
  return 'handshake';
}
