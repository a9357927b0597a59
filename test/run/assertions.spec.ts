/** hilt's chai plugin: passes what it should, and fails with the device's own vocabulary. */
import { expect as chaiExpect } from 'chai';
import { expect } from '../../harness/run/assertions.ts';
import type { ConnectResult } from '../../harness/protocol/index.ts';

const timing = { dns_ms: 0, tcp_ms: 1, tls_ms: 900, mqtt_ms: null, total_ms: 901, source: 'model' } as const;
const heap = { before: 147_968, min: 110_000, after: 147_968, peak_used: 37_968, source: 'model' } as const;
const refused = (over: Partial<NonNullable<ConnectResult['error']>> = {}): ConnectResult => ({
  connected: false, tls: null, timing, heap, mqtt: null,
  error: {
    esp_err: 0x801a, esp_err_name: 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED', stack_err: 0x2700,
    stack_err_name: 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', verify_flags: 0x09,
    verify_info: [], mqtt_error_type: null, connack: null, sock_errno: 0, ...over,
  },
});
const connected: ConnectResult = {
  connected: true, error: null, timing, heap, mqtt: { session_present: false, connack: 0 },
  tls: { version: 'TLSv1.2', cipher: 'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384', alpn: null, peer: null },
};

const failsWith = (fn: () => void, message: RegExp) => chaiExpect(fn).to.throw(message);

describe('hilt assertions', function () {
  it('refusedWith matches esp_err, Mbed TLS and esp-mqtt names, and flags exactly or partly', function () {
    expect(refused()).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('EXPIRED', 'NOT_TRUSTED');
    expect(refused()).to.be.refusedWith('ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED').andFlagsIncluding('EXPIRED');
    expect(refused({ esp_err: 0, esp_err_name: 'ESP_OK', stack_err: 0, stack_err_name: null, verify_flags: 0, mqtt_error_type: 'CONNECTION_REFUSED', connack: 5 }))
      .to.be.refusedWith('MQTT_CONNECTION_REFUSED');
    expect(connected).to.be.connected();
  });

  it('says what the device did instead', function () {
    failsWith(() => expect(refused()).to.be.connected(),
      /^expected the device to connect, but it failed: ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED \(-0x2700\), flags 0x9 \(EXPIRED, NOT_TRUSTED\)$/);
    failsWith(() => expect(refused()).to.be.refusedWith('MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE'), /but it failed: ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED/);
    failsWith(() => expect(refused()).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('EXPIRED'),
      /^expected verify flags EXPIRED \(0x1\), got 0x9 \(EXPIRED, NOT_TRUSTED\)$/);
    failsWith(() => expect(refused()).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlagsIncluding('FUTURE'),
      /^expected verify flags to include FUTURE, got 0x9/);
  });

  it('names why a device accepted what it should refuse', function () {
    failsWith(() => expect(connected).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', 'certificate dates are not checked, CONFIG_MBEDTLS_HAVE_TIME_DATE=n'),
      /^expected the device to refuse with MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, but it connected: certificate dates are not checked, CONFIG_MBEDTLS_HAVE_TIME_DATE=n$/);
  });

  it('refuses an unknown flag name instead of passing silently', function () {
    chaiExpect(() => expect(refused()).to.be.refusedWith('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED').andFlags('EXPIRD')).to.throw(/unknown verify flag "EXPIRD"/);
  });

  it('printed() looks at the console since the last connect', function () {
    const ctx = { printedLines: () => ['E (5123) esp-tls-mbedtls: mbedtls_ssl_handshake returned -0x2700'] };
    expect(ctx).to.have.printed(/returned -0x2700$/);
    expect(ctx).not.to.have.printed(/MQTT_EVENT_CONNECTED/);
    failsWith(() => expect(ctx).to.have.printed(/MQTT_EVENT_CONNECTED/), /^expected the device to print \/MQTT_EVENT_CONNECTED\/; it printed:/);
  });
});
