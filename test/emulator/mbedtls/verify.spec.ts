/**
 * Certificate verification as an ESP32 (Mbed TLS 3.6) does it, on the real lab PKI and on
 * certificates minted here for the cases the lab does not carry (SHA-1, short RSA, pathLen, ...).
 */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import { flagNames, mbedtlsErrName, mbedtlsHex } from '../../../emulator/mbedtls/codes.ts';
import { pemCertificates } from '../../../emulator/mbedtls/der.ts';
import { checkServerCertUsage, judgeServerCertificate, verifyChain, type JudgeInput } from '../../../emulator/mbedtls/verify.ts';
import type { Pki } from '../../../harness/pki/index.ts';
import { withLabPki } from '../../helpers.ts';

const certs = (pem: string) => pemCertificates(pem).map((der) => new X509Certificate(der));
const hex = (flags: number) => `0x${flags.toString(16)}`;

const VERIFY_FAILED = -0x2700;
const BAD_CERTIFICATE = -0x7a00;
const USAGE_FLAGS = 0x0800 | 0x1000;

/**
 * How mbedtls_ssl_verify_certificate turns flags into a return code: any chain problem is
 * X509_CERT_VERIFY_FAILED; usage (or curve) problems alone are SSL_BAD_CERTIFICATE.
 */
const stackErrFor = (flags: number) => (flags & ~USAGE_FLAGS) !== 0 ? VERIFY_FAILED : flags !== 0 ? BAD_CERTIFICATE : 0;

const SERVERS = [
  'server-valid', 'server-expired', 'server-not-yet-valid', 'server-wrong-host', 'server-self-signed', 'server-rogue',
  'server-lookalike', 'server-wrong-eku', 'server-next', 'server-rsa',
] as const;
const BUNDLES = ['bundle-current', 'bundle-transition', 'bundle-next', 'bundle-rsa'] as const;

/** Flags at the current time, device expecting "localhost". Columns follow BUNDLES. */
const AT_NOW: Record<(typeof SERVERS)[number], [number, number, number, number]> = {
  'server-valid': [0, 0, 0x08, 0x08],
  'server-expired': [0x01, 0x01, 0x09, 0x09],
  'server-not-yet-valid': [0x200, 0x200, 0x208, 0x208],
  'server-wrong-host': [0x04, 0x04, 0x0c, 0x0c],
  'server-self-signed': [0x08, 0x08, 0x08, 0x08],
  'server-rogue': [0x08, 0x08, 0x08, 0x08],
  'server-lookalike': [0x08, 0x08, 0x08, 0x08],
  'server-wrong-eku': [0x1000, 0x1000, 0x1008, 0x1008],
  'server-next': [0x08, 0, 0, 0x08],
  'server-rsa': [0x08, 0x08, 0x08, 0],
};

describe('mbedtls verify: the lab PKI', function () {
  const lab = withLabPki();
  let pki: Pki;
  before(() => { pki = lab.pki; });

  const chainOf = (name: string) => certs(pki.material(name).chain);
  const leafOf = (name: string) => new X509Certificate(pki.material(name).cert);
  const kexFor = (name: string): JudgeInput['kex'] => (name === 'server-rsa' ? 'ECDHE-RSA' : 'ECDHE-ECDSA');
  const judge = (name: string, bundle: string, extra: Partial<JudgeInput> = {}) => judgeServerCertificate({
    chain: chainOf(name), trusted: certs(pki.bundle(bundle)), now: new Date(), expectedName: 'localhost',
    kex: kexFor(name), authmodeRequired: true, ...extra,
  });

  const cases = SERVERS.flatMap((server) => BUNDLES.map((bundle, i) => ({ server, bundle, flags: AT_NOW[server][i]! })));

  describe('now, host name checked', function () {
    for (const { server, bundle, flags } of cases) {
      it(`${server} against ${bundle}: ${hex(flags)} ${flagNames(flags).join('|') || 'accepted'}, ${mbedtlsHex(stackErrFor(flags))}`, function () {
        expect(judge(server, bundle)).to.include({ flags, stackErr: stackErrFor(flags) });
      });
    }
  });

  describe('at 1970 (HAVE_TIME_DATE=y, clock not set): every certificate is in the future', function () {
    for (const { server, bundle, flags } of cases) {
      // Nothing has expired yet in 1970; everything starts later.
      const expected = (flags & ~0x201) | 0x200;
      it(`${server} against ${bundle}: ${hex(expected)}`, function () {
        expect(judge(server, bundle, { now: new Date('1970-01-01T00:00:10Z') })).to.include({ flags: expected, stackErr: VERIFY_FAILED });
      });
    }
  });

  describe('HAVE_TIME_DATE=n: dates are not looked at', function () {
    for (const { server, bundle, flags } of cases) {
      const expected = flags & ~0x201;
      it(`${server} against ${bundle}: ${hex(expected)}`, function () {
        expect(judge(server, bundle, { now: null })).to.include({ flags: expected, stackErr: stackErrFor(expected) });
      });
    }
  });

  describe('skip_common_name: the host name is not looked at', function () {
    for (const { server, bundle, flags } of cases) {
      const expected = flags & ~0x04;
      it(`${server} against ${bundle}: ${hex(expected)}`, function () {
        expect(judge(server, bundle, { expectedName: null })).to.include({ flags: expected, stackErr: stackErrFor(expected) });
      });
    }
  });

  describe('the device results of SCENARIOS.md wave 1', function () {
    it('2: expired server certificate: -0x2700, flags 0x01, alert certificate_expired', function () {
      expect(judge('server-expired', 'bundle-current')).to.deep.equal({ flags: 0x01, stackErr: -0x2700, alert: 'certificate_expired' });
    });

    it('3: not yet valid: -0x2700, flags 0x200 (FUTURE has no alert of its own: certificate_unknown)', function () {
      expect(judge('server-not-yet-valid', 'bundle-current')).to.deep.equal({ flags: 0x200, stackErr: -0x2700, alert: 'certificate_unknown' });
    });

    it('4: device clock not set: a valid chain fails with 0x200', function () {
      const v = judge('server-valid', 'bundle-current', { now: new Date(0) });
      expect(v.flags & 0x200).to.equal(0x200);
      expect(mbedtlsErrName(v.stackErr)).to.equal('MBEDTLS_ERR_X509_CERT_VERIFY_FAILED');
    });

    it('5: wrong CA: -0x2700, flags 0x08, alert unknown_ca', function () {
      expect(judge('server-rogue', 'bundle-current')).to.deep.equal({ flags: 0x08, stackErr: -0x2700, alert: 'unknown_ca' });
    });

    it('6: look-alike root: -0x2700, flags 0x08 (the trusted root has its name but not its signature)', function () {
      expect(judge('server-lookalike', 'bundle-current')).to.deep.equal({ flags: 0x08, stackErr: -0x2700, alert: 'unknown_ca' });
    });

    it('7: wrong host name: -0x2700, flags 0x04, alert bad_certificate; with skip_cn it connects', function () {
      expect(judge('server-wrong-host', 'bundle-current')).to.deep.equal({ flags: 0x04, stackErr: -0x2700, alert: 'bad_certificate' });
      expect(judge('server-wrong-host', 'bundle-current', { expectedName: null })).to.deep.equal({ flags: 0, stackErr: 0, alert: null });
    });

    it('12: CA rotation: the old bundle refuses the next root, the transition bundle accepts both', function () {
      expect(judge('server-next', 'bundle-current').flags).to.equal(0x08);
      expect(judge('server-next', 'bundle-transition').flags).to.equal(0);
      expect(judge('server-valid', 'bundle-transition').flags).to.equal(0);
    });
  });

  describe('chain building', function () {
    const fingerprints = (list: X509Certificate[]) => list.map((c) => c.fingerprint256);
    const verify = (chain: X509Certificate[], bundle: string, expectedName: string | null = 'localhost') =>
      verifyChain({ chain, trusted: certs(pki.bundle(bundle)), now: new Date(), expectedName });

    it('builds leaf, issuing CA, trusted root', function () {
      const result = verify(chainOf('server-valid'), 'bundle-current');
      expect(result.flags).to.equal(0);
      expect(fingerprints(result.path)).to.deep.equal(fingerprints([leafOf('server-valid'), leafOf('ca-issuing'), leafOf('root-current')]));
    });

    it('stops at the leaf when no parent verifies', function () {
      const result = verify(chainOf('server-lookalike'), 'bundle-current');
      expect(fingerprints(result.path)).to.deep.equal(fingerprints([leafOf('server-lookalike')]));
    });

    it('a look-alike root sent by the peer is not trusted either', function () {
      const result = verify([...chainOf('server-lookalike'), leafOf('root-lookalike')], 'bundle-current');
      expect(result.flags).to.equal(0x08);
      expect(fingerprints(result.path)).to.deep.equal(fingerprints([leafOf('server-lookalike'), leafOf('root-lookalike')]));
    });

    it('finds the intermediate wherever it comes later in the list; without it the chain is not trusted', function () {
      expect(verify([leafOf('server-valid'), leafOf('root-rogue'), leafOf('ca-issuing')], 'bundle-current').flags).to.equal(0);
      expect(verify([leafOf('server-valid')], 'bundle-current').flags).to.equal(0x08);
    });

    it('a self-signed leaf that is itself in the CA store is trusted', function () {
      const leaf = leafOf('server-self-signed');
      const result = verifyChain({ chain: [leaf], trusted: [leaf], now: new Date(), expectedName: 'localhost' });
      expect(result).to.deep.include({ flags: 0 });
      expect(result.path).to.have.length(1);
    });

    it('matches IP address SANs against an address (IPv4 and IPv6, any spelling) and names case-insensitively', function () {
      expect(verify(chainOf('server-valid'), 'bundle-current', '127.0.0.1').flags).to.equal(0);
      expect(verify(chainOf('server-valid'), 'bundle-current', '::1').flags).to.equal(0);
      expect(verify(chainOf('server-valid'), 'bundle-current', '0:0:0:0:0:0:0:1').flags).to.equal(0);
      expect(verify(chainOf('server-valid'), 'bundle-current', 'LOCALHOST').flags).to.equal(0);
      expect(verify(chainOf('server-valid'), 'bundle-current', '10.0.0.1').flags).to.equal(0x04);
      expect(verify(chainOf('server-valid'), 'bundle-current', 'localhost.').flags).to.equal(0x04);
    });
  });

  describe('usage extensions (mbedtls_ssl_check_cert_usage)', function () {
    it('ECDHE needs digitalSignature, static RSA keyEncipherment, static ECDH keyAgreement', function () {
      expect(checkServerCertUsage(leafOf('server-valid'), 'ECDHE-ECDSA')).to.equal(0);
      expect(checkServerCertUsage(leafOf('server-rsa'), 'ECDHE-RSA')).to.equal(0);
      expect(checkServerCertUsage(leafOf('server-rsa'), 'RSA')).to.equal(0);
      expect(checkServerCertUsage(leafOf('server-valid'), 'RSA')).to.equal(0x800);
      expect(checkServerCertUsage(leafOf('server-valid'), 'ECDH-ECDSA')).to.equal(0x800);
      expect(checkServerCertUsage(leafOf('server-valid'), null)).to.equal(0); // TLS 1.3: digitalSignature
    });

    it('an extendedKeyUsage without serverAuth is EXT_KEY_USAGE', function () {
      expect(checkServerCertUsage(leafOf('server-wrong-eku'), 'ECDHE-ECDSA')).to.equal(0x1000);
      expect(checkServerCertUsage(leafOf('client-valid'), 'ECDHE-ECDSA')).to.equal(0x1000);
    });

    it('a chain that verifies but a usage that does not is -0x7A00, not -0x2700', function () {
      expect(judge('server-wrong-eku', 'bundle-current')).to.deep.equal({ flags: 0x1000, stackErr: -0x7a00, alert: 'unsupported_certificate' });
      expect(judge('server-valid', 'bundle-current', { kex: 'ECDH-ECDSA' })).to.deep.equal({ flags: 0x800, stackErr: -0x7a00, alert: 'unsupported_certificate' });
    });

    it('in TLS 1.2 an EC leaf on a curve the client does not offer is BAD_KEY, -0x7A00; TLS 1.3 does not check', function () {
      expect(judge('server-valid', 'bundle-current', { groups: ['X25519', 'P-384'] })).to.deep.equal({ flags: 0x10000, stackErr: -0x7a00, alert: 'unsupported_certificate' });
      expect(judge('server-valid', 'bundle-current', { groups: ['X25519', 'P-384'], kex: null })).to.deep.equal({ flags: 0, stackErr: 0, alert: null });
    });
  });

  describe('authentication modes', function () {
    it('optional: failures are reported in the flags, the handshake goes on', function () {
      expect(judge('server-rogue', 'bundle-current', { authmodeRequired: false })).to.deep.equal({ flags: 0x08, stackErr: 0, alert: null });
      expect(judge('server-wrong-eku', 'bundle-current', { authmodeRequired: false })).to.deep.equal({ flags: 0x1000, stackErr: 0, alert: null });
    });

    it('required without any CA: MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED; optional without a CA goes on', function () {
      const none = { trusted: [] as X509Certificate[] };
      expect(judge('server-valid', 'bundle-current', none)).to.deep.equal({ flags: 0x08, stackErr: -0x7680, alert: 'unknown_ca' });
      expect(judge('server-valid', 'bundle-current', { ...none, authmodeRequired: false })).to.deep.equal({ flags: 0x08, stackErr: 0, alert: null });
    });

    it('none (esp-tls with CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY): nothing checked, flags 0', function () {
      expect(judge('server-rogue', 'bundle-current', { authmode: 'none' })).to.deep.equal({ flags: 0, stackErr: 0, alert: null });
    });

    it('required without mbedtls_ssl_set_hostname ever called: -0x5D80 (3.6.3+)', function () {
      expect(judge('server-valid', 'bundle-current', { hostnameSet: false })).to.deep.equal({ flags: 0, stackErr: -0x5d80, alert: null });
      expect(judge('server-valid', 'bundle-current', { hostnameSet: false, authmodeRequired: false }).stackErr).to.equal(0);
    });
  });
});

type Generated = Awaited<ReturnType<typeof generate>>;
type Extensions = NonNullable<NonNullable<Parameters<typeof generate>[1]>['extensions']>;

interface MintOptions {
  issuer?: Generated;
  ca?: boolean;
  pathLen?: number;
  keyUsage?: Record<string, boolean>;
  san?: string[] | null;
  algorithm?: string;
  rsaBits?: number;
  notBefore?: Date;
  notAfter?: Date;
}

const DAY = 86_400_000;

/** A certificate for one case; EC P-256 unless rsaBits is given (issuer and subject key types must match). */
async function mint(cn: string, o: MintOptions = {}): Promise<Generated & { x509: X509Certificate }> {
  const ext: Extensions = [
    { name: 'basicConstraints', cA: o.ca ?? false, critical: true, ...(o.pathLen !== undefined ? { pathLenConstraint: o.pathLen } : {}) },
    { name: 'keyUsage', critical: true, ...(o.keyUsage ?? (o.ca ? { keyCertSign: true, cRLSign: true } : { digitalSignature: true, keyEncipherment: true })) },
  ];
  const san = o.san === undefined ? (o.ca ? null : ['localhost']) : o.san;
  if (san) ext.push({ name: 'subjectAltName', altNames: san.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) });
  const pems = await generate([{ name: 'commonName', value: cn }], {
    ...(o.rsaBits ? { keyType: 'rsa' as const, keySize: o.rsaBits } : { keyType: 'ec' as const, curve: 'P-256' as const }),
    algorithm: o.algorithm ?? 'sha256',
    notBeforeDate: o.notBefore ?? new Date(Date.now() - DAY),
    notAfterDate: o.notAfter ?? new Date(Date.now() + 30 * DAY),
    extensions: ext,
    ...(o.issuer ? { ca: { key: o.issuer.private, cert: o.issuer.cert } } : {}),
  });
  return { ...pems, x509: new X509Certificate(pems.cert) };
}

describe('mbedtls verify: the default profile and chain rules, on minted certificates', function () {
  let root: Awaited<ReturnType<typeof mint>>;
  let rsaRoot: Awaited<ReturnType<typeof mint>>;

  before(async function () {
    root = await mint('Test Root', { ca: true });
    rsaRoot = await mint('Test RSA Root', { ca: true, rsaBits: 2048 });
  });

  const verify = (chain: X509Certificate[], trusted: X509Certificate[], expectedName: string | null = 'localhost', now: Date | null = new Date()) =>
    verifyChain({ chain, trusted, now, expectedName });

  it('a SHA-1 signed leaf is BAD_MD (0x4000): 3.6 allows SHA-256 and up only', async function () {
    const leaf = await mint('localhost', { issuer: rsaRoot, rsaBits: 2048, algorithm: 'sha1' });
    expect(verify([leaf.x509], [rsaRoot.x509]).flags).to.equal(0x4000);
    const v = judgeServerCertificate({ chain: [leaf.x509], trusted: [rsaRoot.x509], now: new Date(), expectedName: 'localhost', kex: 'ECDHE-RSA', authmodeRequired: true });
    expect(v).to.deep.equal({ flags: 0x4000, stackErr: -0x2700, alert: 'certificate_unknown' });
  });

  it('a SHA-1 self-signature on a trusted root is never judged', async function () {
    const sha1Root = await mint('SHA-1 Root', { ca: true, rsaBits: 2048, algorithm: 'sha1' });
    const leaf = await mint('localhost', { issuer: sha1Root, rsaBits: 2048 });
    expect(verify([leaf.x509], [sha1Root.x509]).flags).to.equal(0);
  });

  it('an RSA-1024 leaf key is BAD_KEY (0x10000)', async function () {
    const leaf = await mint('localhost', { issuer: rsaRoot, rsaBits: 1024 });
    expect(verify([leaf.x509], [rsaRoot.x509]).flags).to.equal(0x10000);
  });

  it('an RSA-1024 signer is BAD_KEY on the certificate it signed', async function () {
    const weakRoot = await mint('Weak Root', { ca: true, rsaBits: 1024 });
    const leaf = await mint('localhost', { issuer: weakRoot, rsaBits: 2048 });
    expect(verify([leaf.x509], [weakRoot.x509]).flags).to.equal(0x10000);
  });

  it('an expired trusted root makes the chain EXPIRED, not untrusted', async function () {
    const oldRoot = await mint('Old Root', { ca: true, notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) });
    const leaf = await mint('localhost', { issuer: oldRoot });
    expect(verify([leaf.x509], [oldRoot.x509]).flags).to.equal(0x01);
    expect(verify([leaf.x509], [oldRoot.x509], 'localhost', null).flags).to.equal(0);
  });

  it('pathLenConstraint 0 on the root forbids an intermediate below it', async function () {
    const strictRoot = await mint('Strict Root', { ca: true, pathLen: 0 });
    const inter = await mint('Inter', { ca: true, issuer: strictRoot });
    const leaf = await mint('localhost', { issuer: inter });
    expect(verify([leaf.x509, inter.x509], [strictRoot.x509]).flags).to.equal(0x08);
    const inter2 = await mint('Inter', { ca: true, issuer: root });
    const leaf2 = await mint('localhost', { issuer: inter2 });
    expect(verify([leaf2.x509, inter2.x509], [root.x509]).flags).to.equal(0);
  });

  it('an intermediate that is not a CA, or may not sign certificates, cannot be a parent', async function () {
    const notCa = await mint('Inter', { ca: false, issuer: root, san: null });
    const leaf = await mint('localhost', { issuer: notCa });
    expect(verify([leaf.x509, notCa.x509], [root.x509]).flags).to.equal(0x08);
    const noCertSign = await mint('Inter', { ca: true, issuer: root, keyUsage: { digitalSignature: true } });
    const leaf2 = await mint('localhost', { issuer: noCertSign });
    expect(verify([leaf2.x509, noCertSign.x509], [root.x509]).flags).to.equal(0x08);
  });

  it('a wildcard stands for exactly one leftmost label', async function () {
    const leaf = await mint('wild', { issuer: root, san: ['*.hilt.test'] });
    const flagsFor = (host: string) => verify([leaf.x509], [root.x509], host).flags;
    expect(flagsFor('a.hilt.test')).to.equal(0);
    expect(flagsFor('A.HILT.TEST')).to.equal(0);
    expect(flagsFor('a.b.hilt.test')).to.equal(0x04);
    expect(flagsFor('hilt.test')).to.equal(0x04);
  });

  it('the CN counts only when there is no subjectAltName', async function () {
    const cnOnly = await mint('device.hilt.test', { issuer: root, san: null });
    expect(verify([cnOnly.x509], [root.x509], 'device.hilt.test').flags).to.equal(0);
    expect(verify([cnOnly.x509], [root.x509], 'other.hilt.test').flags).to.equal(0x04);
    const withSan = await mint('device.hilt.test', { issuer: root, san: ['x.hilt.test'] });
    expect(verify([withSan.x509], [root.x509], 'device.hilt.test').flags).to.equal(0x04);
  });

  it('reports every flag at once: expired, wrong host and untrusted is 0x0D', async function () {
    const stranger = await mint('Stranger Root', { ca: true });
    const leaf = await mint('other', { issuer: stranger, san: ['other.hilt.test'], notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    expect(flagNames(verify([leaf.x509], [root.x509]).flags)).to.deep.equal(['EXPIRED', 'CN_MISMATCH', 'NOT_TRUSTED']);
  });

  it('a chain longer than MBEDTLS_X509_MAX_INTERMEDIATE_CA is a fatal error, not a flag', async function () {
    let issuer = root;
    const chain: X509Certificate[] = [];
    for (let i = 0; i < 9; i++) {
      issuer = await mint(`Inter ${i}`, { ca: true, issuer });
      chain.unshift(issuer.x509);
    }
    const leaf = await mint('localhost', { issuer });
    const result = verify([leaf.x509, ...chain], [root.x509]);
    expect(result.error).to.equal(-0x3000);
    expect(result.flags).to.equal(0xffffffff);
    const v = judgeServerCertificate({ chain: [leaf.x509, ...chain], trusted: [root.x509], now: new Date(), expectedName: 'localhost', kex: 'ECDHE-ECDSA', authmodeRequired: false });
    expect(v).to.deep.include({ stackErr: -0x3000, alert: 'access_denied' });
  });
});
