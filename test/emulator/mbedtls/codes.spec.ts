/** The numbers and strings a failing ESP32 prints, checked against ESP32-FACTS sections 3-5. */
import { expect } from 'chai';
import {
  BADCERT, ESP_ERR, MBEDTLS_ERR, alertForFlags, espErrName, flagNames, mbedtlsErrName, mbedtlsHex, verifyInfo, verifyInfoText,
} from '../../../emulator/mbedtls/codes.ts';

describe('mbedtls codes: esp_err_t', function () {
  const facts: Record<string, number> = {
    ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME: 0x8001,
    ESP_ERR_ESP_TLS_CANNOT_CREATE_SOCKET: 0x8002,
    ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST: 0x8004,
    ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT: 0x8006,
    ESP_ERR_ESP_TLS_TCP_CLOSED_FIN: 0x8008,
    ESP_ERR_MBEDTLS_CERT_PARTLY_OK: 0x8010,
    ESP_ERR_MBEDTLS_SSL_SET_HOSTNAME_FAILED: 0x8012,
    ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED: 0x8015,
    ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED: 0x8016,
    ESP_ERR_MBEDTLS_SSL_SETUP_FAILED: 0x8017,
    ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED: 0x8019,
    ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED: 0x801a,
    ESP_FAIL: -1,
    ESP_ERR_NO_MEM: 0x101,
    ESP_ERR_TIMEOUT: 0x107,
  };

  for (const [name, value] of Object.entries(facts)) {
    it(`${name} is 0x${value.toString(16)} and names back`, function () {
      expect(ESP_ERR[name]).to.equal(value);
      expect(espErrName(value)).to.equal(name);
    });
  }

  it('has no two names for one value', function () {
    const values = Object.values(ESP_ERR);
    expect(new Set(values).size).to.equal(values.length);
  });

  it('names unknown codes by their hex value', function () {
    expect(espErrName(0x80ff)).to.equal('ESP_ERR_0x80FF');
  });
});

describe('mbedtls codes: Mbed TLS errors', function () {
  const facts: Record<string, number> = {
    MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: -0x2700,
    MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: -0x7780,
    MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY: -0x7880,
    MBEDTLS_ERR_SSL_CONN_EOF: -0x7280,
    MBEDTLS_ERR_SSL_ALLOC_FAILED: -0x7f00,
    MBEDTLS_ERR_X509_ALLOC_FAILED: -0x2880,
    MBEDTLS_ERR_SSL_TIMEOUT: -0x6800,
    MBEDTLS_ERR_SSL_WANT_READ: -0x6900,
    MBEDTLS_ERR_SSL_WANT_WRITE: -0x6880,
    MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE: -0x6e00,
    MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION: -0x6e80,
    MBEDTLS_ERR_SSL_BAD_CERTIFICATE: -0x7a00,
    MBEDTLS_ERR_SSL_INVALID_RECORD: -0x7200,
    MBEDTLS_ERR_NET_CONN_RESET: -0x0050,
    MBEDTLS_ERR_NET_RECV_FAILED: -0x004c,
    MBEDTLS_ERR_NET_SEND_FAILED: -0x004e,
    MBEDTLS_ERR_PK_PASSWORD_REQUIRED: -0x3c00,
    MBEDTLS_ERR_PK_PASSWORD_MISMATCH: -0x3b80,
    MBEDTLS_ERR_X509_INVALID_FORMAT: -0x2180,
    MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT: -0x1080,
  };

  for (const [name, value] of Object.entries(facts)) {
    it(`${name} is ${mbedtlsHex(value)}`, function () {
      expect(MBEDTLS_ERR[name]).to.equal(value);
    });
  }

  it('every code is negative and unique', function () {
    const values = Object.values(MBEDTLS_ERR);
    expect(values.every((v) => v < 0)).to.equal(true);
    expect(new Set(values).size).to.equal(values.length);
  });

  it('names a code from the return value or from esp-tls\'s positive stack_err', function () {
    expect(mbedtlsErrName(-0x2700)).to.equal('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED');
    expect(mbedtlsErrName(0x2700)).to.equal('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED');
    expect(mbedtlsErrName(0x7780)).to.equal('MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE');
  });

  it('splits composite X.509 parse errors the way mbedtls_strerror does', function () {
    // MBEDTLS_ERR_X509_INVALID_EXTENSIONS + MBEDTLS_ERR_ASN1_UNEXPECTED_TAG: an unknown critical extension
    expect(mbedtlsErrName(-0x2562)).to.equal('MBEDTLS_ERR_X509_INVALID_EXTENSIONS + MBEDTLS_ERR_ASN1_UNEXPECTED_TAG');
  });

  it('says when it does not know a code', function () {
    expect(mbedtlsErrName(-0x1f00)).to.equal('UNKNOWN_ERROR(-0x1F00)');
    expect(mbedtlsErrName(0)).to.equal('OK');
  });

  it('renders -0x%04X with upper-case digits from either sign', function () {
    expect(mbedtlsHex(-0x2700)).to.equal('-0x2700');
    expect(mbedtlsHex(-0x7f00)).to.equal('-0x7F00');
    expect(mbedtlsHex(0x7a00)).to.equal('-0x7A00');
    expect(mbedtlsHex(-0x50)).to.equal('-0x0050');
  });
});

describe('mbedtls codes: verify flags', function () {
  it('has the values of x509.h', function () {
    expect(BADCERT).to.deep.equal({
      EXPIRED: 0x01, REVOKED: 0x02, CN_MISMATCH: 0x04, NOT_TRUSTED: 0x08, MISSING: 0x40, SKIP_VERIFY: 0x80,
      OTHER: 0x100, FUTURE: 0x200, KEY_USAGE: 0x800, EXT_KEY_USAGE: 0x1000, NS_CERT_TYPE: 0x2000, BAD_MD: 0x4000,
      BAD_PK: 0x8000, BAD_KEY: 0x10000,
    });
  });

  it('prints an expired leaf from an unknown CA (0x09) as the expired line then the not-trusted line', function () {
    expect(verifyInfo(0x09)).to.deep.equal([
      'The certificate validity has expired',
      'The certificate is not correctly signed by the trusted CA',
    ]);
  });

  it('prints lines in the library\'s list order, not bit order, and each flag once', function () {
    expect(verifyInfo(0x10000 | 0x200 | 0x04)).to.deep.equal([
      'The certificate Common Name (CN) does not match with the expected CN',
      'The certificate validity starts in the future',
      'The certificate is signed with an unacceptable key (eg bad curve, RSA too short).',
    ]);
    expect(verifyInfo(0)).to.deep.equal([]);
  });

  it('has the exact strings of ESP32-FACTS section 4', function () {
    const all = Object.values(BADCERT).reduce((a, b) => a | b, 0);
    expect(verifyInfo(all)).to.deep.equal([
      'The certificate validity has expired',
      'The certificate has been revoked (is on a CRL)',
      'The certificate Common Name (CN) does not match with the expected CN',
      'The certificate is not correctly signed by the trusted CA',
      'Certificate was missing',
      'Certificate verification was skipped',
      'Other reason (can be used by verify callback)',
      'The certificate validity starts in the future',
      'Usage does not match the keyUsage extension',
      'Usage does not match the extendedKeyUsage extension',
      'Usage does not match the nsCertType extension',
      'The certificate is signed with an unacceptable hash.',
      'The certificate is signed with an unacceptable PK alg (eg RSA vs ECDSA).',
      'The certificate is signed with an unacceptable key (eg bad curve, RSA too short).',
    ]);
  });

  it('ends with the unknown-reason line for bits no flag owns', function () {
    expect(verifyInfo(0x01 | 0x100000)).to.deep.equal(['The certificate validity has expired', 'Unknown reason (this should not happen)']);
  });

  it('formats the buffer ESP-IDF logs at DEBUG, prefix "  ! " and a newline per flag', function () {
    expect(verifyInfoText(0x09)).to.equal(
      '  ! The certificate validity has expired\n  ! The certificate is not correctly signed by the trusted CA\n');
  });

  it('names flags in the same order', function () {
    expect(flagNames(0x09)).to.deep.equal(['EXPIRED', 'NOT_TRUSTED']);
    expect(flagNames(0x1008)).to.deep.equal(['NOT_TRUSTED', 'EXT_KEY_USAGE']);
    expect(flagNames(0x20)).to.deep.equal(['CRL_EXPIRED']);
  });

  const alerts: Array<[number, string]> = [
    [0x100 | 0x04, 'access_denied'],
    [0x04 | 0x08 | 0x01, 'bad_certificate'],
    [0x800, 'unsupported_certificate'],
    [0x1000 | 0x01, 'unsupported_certificate'],
    [0x8000, 'unsupported_certificate'],
    [0x10000 | 0x08, 'unsupported_certificate'],
    [0x01 | 0x08, 'certificate_expired'],
    [0x02 | 0x08, 'certificate_revoked'],
    [0x08 | 0x200, 'unknown_ca'],
    [0x200, 'certificate_unknown'],
    [0x4000, 'certificate_unknown'],
  ];
  for (const [flags, alert] of alerts) {
    it(`alerts ${alert} for ${flagNames(flags).join('|')} (first rule that matches wins)`, function () {
      expect(alertForFlags(flags)).to.equal(alert);
    });
  }
});
