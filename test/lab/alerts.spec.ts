/** TLS alerts: the tap that reads a device's plaintext alert, and OpenSSL's error codes mapped back to alerts. */
import { expect } from 'chai';
import { AlertTap, HANDSHAKE_FAILURE_RECORD, alertFromOpenSslCode, alertName } from '../../harness/lab/alerts.ts';

const record = (type: number, body: number[]) => Buffer.from([type, 3, 3, body.length >> 8, body.length & 0xff, ...body]);

describe('TLS alerts', function () {
  it('the tap reads a plaintext alert after the device\'s handshake records, even split byte by byte', function () {
    const stream = Buffer.concat([record(22, [16, 0, 0, 3, 1, 2, 3]), record(21, [2, 48])]);
    const tap = new AlertTap();
    for (const byte of stream) tap.feed(Buffer.from([byte]));
    expect(tap.alert).to.deep.equal({ from: 'device', level: 'fatal', number: 48, name: 'unknown_ca' });
  });

  it('a warning alert is kept as a warning', function () {
    const tap = new AlertTap();
    tap.feed(record(21, [1, 112]));
    expect(tap.alert).to.deep.equal({ from: 'device', level: 'warning', number: 112, name: 'unrecognized_name' });
  });

  it('stops at the device\'s ChangeCipherSpec: what follows is encrypted and is not read as an alert', function () {
    const tap = new AlertTap();
    tap.feed(Buffer.concat([record(20, [1]), record(21, [2, 45])]));
    expect(tap.alert).to.equal(null);
  });

  it("maps OpenSSL's alert error codes to the alert, and nothing else", function () {
    expect(alertFromOpenSslCode('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED')).to.deep.equal({ from: 'device', level: 'fatal', number: 45, name: 'certificate_expired' });
    expect(alertFromOpenSslCode('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA')).to.include({ number: 48 });
    expect(alertFromOpenSslCode('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')).to.include({ number: 116 });
    expect(alertFromOpenSslCode('ERR_SSL_TLSV1_UNRECOGNIZED_NAME')).to.include({ number: 112 });
    expect(alertFromOpenSslCode('ERR_SSL_NO_SHARED_CIPHER')).to.equal(null);
    expect(alertFromOpenSslCode('ECONNRESET')).to.equal(null);
    expect(alertFromOpenSslCode(null)).to.equal(null);
  });

  it('the refusal record is a fatal handshake_failure', function () {
    expect([...HANDSHAKE_FAILURE_RECORD]).to.deep.equal([21, 3, 3, 0, 2, 2, 40]);
    expect(alertName(40)).to.equal('handshake_failure');
    expect(alertName(200)).to.equal('alert 200');
  });
});
