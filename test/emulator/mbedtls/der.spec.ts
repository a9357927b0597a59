/** The DER reader, judged by `openssl x509 -text` on the lab's real certificates. */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { DerError, nameEquals, nameText, parseCertificate, pemCertificates, type CertificateInfo, type NameAttribute } from '../../../emulator/mbedtls/der.ts';
import type { Pki } from '../../../harness/pki/index.ts';
import { run, withLabPki } from '../../helpers.ts';

const KU_TEXT: Record<string, string> = {
  'Digital Signature': 'digitalSignature', 'Non Repudiation': 'nonRepudiation', 'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment', 'Key Agreement': 'keyAgreement', 'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign', 'Encipher Only': 'encipherOnly', 'Decipher Only': 'decipherOnly',
};
const EKU_TEXT: Record<string, string> = {
  'TLS Web Server Authentication': '1.3.6.1.5.5.7.3.1', 'TLS Web Client Authentication': '1.3.6.1.5.5.7.3.2',
};

/** What openssl says about a certificate, in the shape der.ts reports it. */
interface OpensslView {
  signature: string;
  bits: number;
  curve: string | null;
  basic: { ca: boolean; pathLen: number | null } | null;
  keyUsage: string[] | null;
  eku: string[] | null;
  san: string[] | null;
  serial: string;
  notBefore: number;
  notAfter: number;
}

async function opensslView(file: string): Promise<OpensslView> {
  const { stdout } = await run('openssl', ['x509', '-noout', '-text', '-serial', '-dates', '-in', file]);
  const after = (label: string) => {
    const m = new RegExp(`${label}:(?: critical)? *\\n\\s+(.+)`).exec(stdout);
    return m ? m[1]!.trim() : null;
  };
  const basic = after('X509v3 Basic Constraints');
  const nist = /NIST CURVE: (\S+)/.exec(stdout);
  return {
    signature: /Signature Algorithm: (\S+)/.exec(stdout)![1]!,
    bits: Number(/Public-Key: \((\d+) bit\)/.exec(stdout)![1]),
    curve: nist ? nist[1]! : null,
    basic: basic === null ? null : { ca: basic.startsWith('CA:TRUE'), pathLen: /pathlen:(\d+)/.test(basic) ? Number(/pathlen:(\d+)/.exec(basic)![1]) : null },
    keyUsage: after('X509v3 Key Usage')?.split(', ').map((k) => KU_TEXT[k] ?? k) ?? null,
    eku: after('X509v3 Extended Key Usage')?.split(', ').map((k) => EKU_TEXT[k] ?? k) ?? null,
    san: after('X509v3 Subject Alternative Name')?.split(', ').map((e) => e.replace(/^IP Address:/, 'IP:')) ?? null,
    serial: /^serial=(\w+)$/m.exec(stdout)![1]!.toLowerCase(),
    notBefore: Date.parse(/^notBefore=(.+)$/m.exec(stdout)![1]!),
    notAfter: Date.parse(/^notAfter=(.+)$/m.exec(stdout)![1]!),
  };
}

/** OpenSSL prints IPv6 SANs expanded; der.ts compresses them. */
const expandIp = (san: string) => san === 'IP:::1' ? 'IP:0:0:0:0:0:0:0:1' : san;

function derView(info: CertificateInfo) {
  return {
    signature: info.signatureAlgorithm.name,
    bits: info.publicKey.bits,
    curve: info.publicKey.curve,
    basic: info.basicConstraints,
    keyUsage: info.keyUsage?.names ?? null,
    eku: info.extKeyUsage,
    san: info.subjectAltName?.map((e) => e.type === 'dns' ? `DNS:${e.value}` : e.type === 'ip' ? expandIp(`IP:${e.value}`) : `?${e.type}`) ?? null,
    serial: info.serial.replace(/^00/, ''),
    notBefore: info.notBefore.getTime(),
    notAfter: info.notAfter.getTime(),
  };
}

describe('mbedtls der reader', function () {
  const lab = withLabPki();
  let pki: Pki;
  before(() => { pki = lab.pki; });

  const raw = (name: string) => Buffer.from(new X509Certificate(pki.material(name).cert).raw);

  for (const name of ['root-current', 'ca-issuing', 'server-valid', 'server-rsa', 'server-wrong-eku', 'client-valid', 'root-rsa']) {
    it(`reads ${name} as openssl x509 -text does`, async function () {
      const want = await opensslView(pki.path(name));
      expect(derView(parseCertificate(raw(name)))).to.deep.equal(want);
    });
  }

  it('reads names and keys Node agrees with', function () {
    const x509 = new X509Certificate(pki.material('ca-issuing').cert);
    const info = parseCertificate(Buffer.from(x509.raw));
    expect(nameText(info.subject)).to.equal(x509.subject.split('\n').join(', '));
    expect(nameText(info.issuer)).to.equal(x509.issuer.split('\n').join(', '));
    expect(info.publicKey).to.include({ type: 'ec', bits: 256, curve: 'P-256' });
    expect(info.version).to.equal(3);
    expect(info.keyUsage!.bits).to.equal(0x80 | 0x04 | 0x02); // digitalSignature, keyCertSign, cRLSign as Mbed TLS stores them
    expect(info.extensions.find((e) => e.oid === '2.5.29.19')).to.deep.equal({ oid: '2.5.29.19', critical: true });
  });

  it('keeps the tbsCertificate bytes the signature covers', function () {
    const leaf = new X509Certificate(pki.material('server-valid').cert);
    const info = parseCertificate(Buffer.from(leaf.raw));
    expect(info.tbs[0]).to.equal(0x30);
    expect(Buffer.from(leaf.raw).indexOf(info.tbs)).to.equal(4);
  });

  it('finds every certificate of a PEM bundle, in order', function () {
    const ders = pemCertificates(pki.bundle('bundle-transition'));
    expect(ders).to.have.length(2);
    expect(ders[0]!.equals(raw('root-current'))).to.equal(true);
    expect(ders[1]!.equals(raw('root-next'))).to.equal(true);
  });

  describe('refuses malformed input with a message that says where', function () {
    it('a truncated certificate', function () {
      const der = raw('server-valid');
      expect(() => parseCertificate(der.subarray(0, der.length - 10))).to.throw(DerError, /malformed DER at byte 0: length \d+ runs past the end/);
    });

    it('bytes after the certificate', function () {
      expect(() => parseCertificate(Buffer.concat([raw('server-valid'), Buffer.from([0])]))).to.throw(DerError, /1 bytes after the certificate/);
    });

    it('an indefinite (BER) length', function () {
      const der = Buffer.from(raw('server-valid'));
      der[1] = 0x80;
      expect(() => parseCertificate(der)).to.throw(DerError, /indefinite length/);
    });

    it('something that is not a certificate', function () {
      expect(() => parseCertificate(Buffer.from('hello world'))).to.throw(DerError, /Certificate: expected tag 0x30/);
    });

    it('a signature algorithm that differs inside and outside tbsCertificate', function () {
      const der = Buffer.from(raw('server-valid'));
      const ecdsaSha256 = Buffer.from('2a8648ce3d040302', 'hex');
      der[der.lastIndexOf(ecdsaSha256) + ecdsaSha256.length - 1] = 0x03; // outer one now says SHA-384
      expect(() => parseCertificate(der)).to.throw(DerError, /SIG_MISMATCH/);
    });
  });

  describe('compares names as x509_name_cmp does', function () {
    const attr = (oid: string, tag: number, text: string, merged = false): NameAttribute => ({ oid, tag, value: Buffer.from(text), merged });
    const CN = '2.5.4.3';
    const O = '2.5.4.10';

    it('PrintableString and UTF8String match ignoring ASCII case', function () {
      expect(nameEquals([attr(CN, 0x13, 'hilt Lab Root CA')], [attr(CN, 0x0c, 'HILT lab root ca')])).to.equal(true);
    });

    it('other string types must match tag and bytes exactly', function () {
      expect(nameEquals([attr(CN, 0x16, 'root')], [attr(CN, 0x13, 'root')])).to.equal(false);
      expect(nameEquals([attr(CN, 0x16, 'root')], [attr(CN, 0x16, 'ROOT')])).to.equal(false);
    });

    it('order and RDN structure count', function () {
      expect(nameEquals([attr(CN, 0x13, 'a'), attr(O, 0x13, 'b')], [attr(O, 0x13, 'b'), attr(CN, 0x13, 'a')])).to.equal(false);
      expect(nameEquals([attr(CN, 0x13, 'a', true), attr(O, 0x13, 'b')], [attr(CN, 0x13, 'a'), attr(O, 0x13, 'b')])).to.equal(false);
      expect(nameEquals([attr(CN, 0x13, 'a')], [attr(CN, 0x13, 'a'), attr(O, 0x13, 'b')])).to.equal(false);
    });

    it('the look-alike root carries the current root\'s name exactly', function () {
      const current = parseCertificate(raw('root-current'));
      const lookalike = parseCertificate(raw('root-lookalike'));
      expect(nameEquals(current.subject, lookalike.subject)).to.equal(true);
      expect(current.publicKey).to.deep.equal(lookalike.publicKey); // same kind of key...
      expect(raw('root-current').equals(raw('root-lookalike'))).to.equal(false); // ...but another one
    });
  });
});
