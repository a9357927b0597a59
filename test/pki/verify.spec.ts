/**
 * Every artifact of the lab PKI, checked by a verifier nobody here wrote: `openssl verify` must
 * give exactly the verdict the artifact's purpose claims.
 */
import { expect } from 'chai';
import { type CertArtifact, type Pki } from '../../harness/pki/index.ts';
import { run, withLabPki } from '../helpers.ts';

interface Check {
  trust: string;
  /** Extra openssl verify arguments. */
  args?: string[];
  /** 'OK', or the OpenSSL X509_V_ERR number expected. */
  verdict: 'OK' | number;
}

const SERVER = ['-purpose', 'sslserver', '-verify_hostname', 'localhost'];
const CLIENT = ['-purpose', 'sslclient'];
const ERR = { notYetValid: 9, expired: 10, selfSigned: 18, noLocalIssuer: 20, signatureFailure: 7, purpose: 26, hostname: 62 } as const;

/** What each certificate is for, as openssl sees it. `@nb+1d` in args is notBefore plus a day. */
const CLAIMS: Record<string, Check[]> = {
  'root-current': [{ trust: 'bundle-current', verdict: 'OK' }],
  'root-next': [{ trust: 'bundle-next', verdict: 'OK' }, { trust: 'bundle-current', verdict: ERR.selfSigned }],
  'root-rogue': [{ trust: 'bundle-current', verdict: ERR.selfSigned }],
  'root-lookalike': [{ trust: 'bundle-current', verdict: ERR.selfSigned }],
  'root-rsa': [{ trust: 'bundle-rsa', verdict: 'OK' }],
  'ca-issuing': [{ trust: 'bundle-current', verdict: 'OK' }, { trust: 'bundle-next', verdict: ERR.noLocalIssuer }],
  'server-valid': [
    { trust: 'bundle-current', args: SERVER, verdict: 'OK' },
    { trust: 'bundle-current', args: ['-purpose', 'sslserver', '-verify_ip', '127.0.0.1'], verdict: 'OK' },
    { trust: 'bundle-current', args: ['-purpose', 'sslserver', '-verify_ip', '::1'], verdict: 'OK' },
    { trust: 'bundle-transition', args: SERVER, verdict: 'OK' },
    { trust: 'bundle-next', args: SERVER, verdict: ERR.noLocalIssuer },
  ],
  'server-next': [
    { trust: 'bundle-current', args: SERVER, verdict: ERR.noLocalIssuer },
    { trust: 'bundle-next', args: SERVER, verdict: 'OK' },
    { trust: 'bundle-transition', args: SERVER, verdict: 'OK' },
  ],
  'server-expired': [
    { trust: 'bundle-current', args: SERVER, verdict: ERR.expired },
    { trust: 'bundle-current', args: [...SERVER, '-attime', '@nb+1d'], verdict: 'OK' },
  ],
  'server-not-yet-valid': [
    { trust: 'bundle-current', args: SERVER, verdict: ERR.notYetValid },
    { trust: 'bundle-current', args: [...SERVER, '-attime', '@nb+1d'], verdict: 'OK' },
  ],
  'server-wrong-host': [
    { trust: 'bundle-current', args: SERVER, verdict: ERR.hostname },
    { trust: 'bundle-current', args: ['-purpose', 'sslserver', '-verify_hostname', 'wrong-host.hilt.invalid'], verdict: 'OK' },
  ],
  'server-large': [
    { trust: 'bundle-current', args: SERVER, verdict: 'OK' },
    { trust: 'bundle-transition', args: ['-purpose', 'sslserver', '-verify_ip', '127.0.0.1'], verdict: 'OK' },
  ],
  'server-self-signed': [{ trust: 'bundle-current', args: SERVER, verdict: ERR.selfSigned }],
  'server-rogue': [{ trust: 'bundle-current', args: SERVER, verdict: ERR.noLocalIssuer }],
  'server-lookalike': [{ trust: 'bundle-current', args: SERVER, verdict: ERR.signatureFailure }],
  'server-rsa': [
    { trust: 'bundle-rsa', args: SERVER, verdict: 'OK' },
    { trust: 'bundle-current', args: SERVER, verdict: ERR.noLocalIssuer },
  ],
  'server-wrong-eku': [
    { trust: 'bundle-current', args: SERVER, verdict: ERR.purpose },
    { trust: 'bundle-current', args: CLIENT, verdict: 'OK' },
  ],
  'client-valid': [
    { trust: 'bundle-current', args: CLIENT, verdict: 'OK' },
    { trust: 'bundle-current', args: ['-purpose', 'sslserver'], verdict: ERR.purpose },
  ],
  'client-expired': [
    { trust: 'bundle-current', args: CLIENT, verdict: ERR.expired },
    { trust: 'bundle-current', args: [...CLIENT, '-attime', '@nb+1d'], verdict: 'OK' },
  ],
  'client-rogue': [{ trust: 'bundle-current', args: CLIENT, verdict: ERR.noLocalIssuer }],
};

async function opensslVerify(pki: Pki, name: string, check: Check): Promise<'OK' | number> {
  const artifact = pki.manifest.artifacts.find((a) => a.name === name) as CertArtifact;
  const nb = Math.floor(Date.parse(artifact.notBefore) / 1000);
  const args = (check.args ?? []).map((a) => (a === '@nb+1d' ? String(nb + 86_400) : a));
  const { stdout, stderr } = await run('openssl', [
    'verify', '-CAfile', pki.path(check.trust), '-untrusted', pki.path('ca-issuing'), ...args, pki.path(name),
  ]);
  const out = stdout + stderr;
  if (/: OK$/m.test(out)) return 'OK';
  const error = /^error (\d+) at \d+ depth/m.exec(out);
  if (!error) throw new Error(`unexpected openssl verify output for ${name}: ${out}`);
  return Number(error[1]);
}

describe('lab PKI, judged by openssl verify', function () {
  const lab = withLabPki();
  let pki: Pki;
  before(() => { pki = lab.pki; });

  it('has a claim for every certificate in the manifest', function () {
    const certs = pki.manifest.artifacts.filter((a) => a.kind !== 'bundle').map((a) => a.name);
    expect(certs.sort()).to.deep.equal(Object.keys(CLAIMS).sort());
  });

  for (const [name, checks] of Object.entries(CLAIMS)) {
    for (const check of checks) {
      const how = `${check.trust}${check.args ? ` ${check.args.join(' ')}` : ''}`;
      it(`${name}: ${check.verdict === 'OK' ? 'OK' : `error ${check.verdict}`} (${how})`, async function () {
        expect(await opensslVerify(pki, name, check)).to.equal(check.verdict);
      });
    }
  }

  it('bundles hold the roots their purpose names, in order', function () {
    const subjects = (name: string) => {
      const bundle = pki.manifest.artifacts.find((a) => a.name === name);
      return bundle?.kind === 'bundle' ? bundle.certificates.map((c) => c.name) : [];
    };
    expect(subjects('bundle-current')).to.deep.equal(['root-current']);
    expect(subjects('bundle-next')).to.deep.equal(['root-next']);
    expect(subjects('bundle-transition')).to.deep.equal(['root-current', 'root-next']);
    expect(subjects('bundle-issuing-chain')).to.deep.equal(['ca-issuing', 'root-current']);
    expect(pki.bundle('bundle-transition').match(/BEGIN CERTIFICATE/g)).to.have.length(2);
  });

  it('the look-alike root carries the current root\'s subject with another key', function () {
    const [current, lookalike] = ['root-current', 'root-lookalike'].map(
      (n) => pki.manifest.artifacts.find((a) => a.name === n) as CertArtifact);
    expect(lookalike!.subject).to.equal(current!.subject);
    expect(lookalike!.sha256).to.not.equal(current!.sha256);
  });

  it('uses EC P-256 everywhere but the RSA chain, and SHA-256 signatures always', async function () {
    for (const artifact of pki.manifest.artifacts) {
      if (artifact.kind === 'bundle') continue;
      expect(artifact.keyType, artifact.name).to.equal(/rsa/.test(artifact.name) ? 'RSA-2048' : 'EC P-256');
      const { stdout } = await run('openssl', ['x509', '-noout', '-text', '-in', pki.path(artifact.name)]);
      expect(stdout, artifact.name).to.match(/Signature Algorithm: (ecdsa-with-SHA256|sha256WithRSAEncryption)/);
    }
  });
});
